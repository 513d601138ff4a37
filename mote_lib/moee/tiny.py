"""Tiny randomly initialised MoE language models of five architectures (tests and the offline notebook).

Hidden size 32, 3 layers, 8 experts (top-2), the vocabulary of the shipped all-MiniLM-L6-v2
tokenizer: built in a second, no download. Their numbers measure nothing (the weights are random);
they show shapes, padding and routing code paths, dense layers included.

Example:
    >>> from mote_lib.moee.tiny import tiny_moe_config
    >>> config = tiny_moe_config("deepseek_v3", vocab_size=100)
    >>> config.hidden_size, config.num_hidden_layers, config.first_k_dense_replace
    (32, 3, 1)
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mote_lib.moee.lm import MoEELM

TINY_ARCHITECTURES = ("olmoe", "qwen2_moe", "qwen3_moe", "mixtral", "deepseek_v3")


def tiny_moe_config(architecture: str, vocab_size: int, **overrides):
    """A transformers config of a tiny random MoE LM: hidden 32, 3 layers, 8 experts (top-2).

    Qwen2-MoE gets layer 1 dense (``mlp_only_layers=[1]``) and DeepSeek-V3 its first layer dense
    (``first_k_dense_replace=1``), so partially-MoE models are covered; the others have 3 MoE layers.
    """
    import transformers as tf

    common = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                  num_experts_per_tok=2, pad_token_id=0, bos_token_id=None, eos_token_id=None)
    builders: dict[str, Callable] = {
        "olmoe": lambda: tf.OlmoeConfig(**common, num_experts=8),
        "qwen2_moe": lambda: tf.Qwen2MoeConfig(**common, num_experts=8, moe_intermediate_size=16,
                                               shared_expert_intermediate_size=32, mlp_only_layers=[1]),
        "qwen3_moe": lambda: tf.Qwen3MoeConfig(**common, num_experts=8, moe_intermediate_size=16, head_dim=8),
        "mixtral": lambda: tf.MixtralConfig(**common, num_local_experts=8),
        # Multi-head latent attention needs as many key/value heads as query heads.
        "deepseek_v3": lambda: tf.DeepseekV3Config(**{**common, "num_key_value_heads": 4}, n_routed_experts=8,
                                                   moe_intermediate_size=16, first_k_dense_replace=1, n_group=1,
                                                   topk_group=1, kv_lora_rank=16, q_lora_rank=16,
                                                   qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=8),
    }
    if architecture not in builders:
        raise ValueError(f"unknown architecture {architecture!r}; valid: {list(builders)}")
    config = builders[architecture]()
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


def tiny_random_moe(architecture: str = "olmoe", *, tokenizer=None, seed: int = 0, **options) -> MoEELM:
    """A tiny randomly initialised MoE LM as a ``MoEELM`` (tests and the offline notebook).

    Its numbers measure nothing: the weights are random. The tokenizer defaults to the shipped
    all-MiniLM-L6-v2 one (WordPiece, 30,522 tokens; no MoE LM tokenizer ships on a registry).
    """
    from transformers import AutoModel, AutoTokenizer

    from mote_lib.base_models import resolve_base_model

    tokenizer = tokenizer or AutoTokenizer.from_pretrained(resolve_base_model("minilm"))
    torch.manual_seed(seed)
    model = AutoModel.from_config(tiny_moe_config(architecture, vocab_size=len(tokenizer)), dtype=torch.float32)
    return MoEELM(model, tokenizer, **options)
