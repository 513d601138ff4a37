"""MoEE: the routing weights of a Mixture-of-Experts language model as a text embedding.

Li & Zhou (ICLR 2025) read a pre-trained MoE language model once per text, with no fine-tuning,
and take two vectors at the **last real token** (left padding):

* **HS**: the last layer's hidden state;
* **RW**: the router's weights over experts at every MoE layer, concatenated over layers
  (softmax of the router logits by default; raw logits or sigmoid on request).

and combine them: **MoEE(concat)** = [HS; RW] compared by cosine, and **MoEE(sum)**, whose
similarity is cos(HS) + alpha * cos(RW).

What this module adds to the recipe (**ours**, each a documented option):

* No per-batch standardisation (the public code's flaw): a text's embedding never depends on its
  batch-mates (tested: one text alone vs in a batch).
* MoEE(sum) is returned as one vector, [HS/|HS| ; sqrt(alpha) RW/|RW|] / sqrt(1 + alpha), whose
  cosine (= dot product: it has unit norm) is exactly (cos(HS) + alpha cos(RW)) / (1 + alpha). So
  every evaluator agrees with the sum similarity, k-means clustering and logistic-regression
  classification included, and ``sum_similarity_from_embeddings`` recovers the unscaled sum.
* ``alpha="auto"``: per task and without labels, alpha = std(cos HS) / std(cos RW) over the pairs
  of the task's texts, so that the two similarities spread equally in the sum (``spread_matched_alpha``).
* The same HS/RW recipe applied to our token-routed MoTE ablation (``MoTERouterFeatures``).

Example:
    >>> from mote_lib.moee import MoEELM, moee_embedding, tiny_random_moe
    >>> lm = tiny_random_moe("olmoe")                    # random weights: shapes, not quality
    >>> features = lm.features(["A man is eating food.", "A man rides a horse."])
    >>> features.hs.shape, features.rw.shape            # hidden 32; 3 MoE layers x 8 experts
    ((2, 32), (2, 24))
    >>> moee_embedding(features, "sum", alpha=1.0).shape
    (2, 56)
"""

from __future__ import annotations

import copy
import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ----------------------------------------------------------------------------- prompts

PROMPTEOL = 'This sentence: "{text}" means in one word: "'

# paper: PromptEOL and eight robustness prompts named after what they ask about. The eight
# templates are ours (the paper's exact wording is not known here), written in PromptEOL form.
PROMPTS: dict[str, str] = {
    "none": "{text}",
    "prompteol": PROMPTEOL,
    "style": 'This sentence: "{text}" in terms of its style means in one word: "',
    "sentiment": 'This sentence: "{text}" in terms of its sentiment means in one word: "',
    "tone": 'This sentence: "{text}" in terms of its tone means in one word: "',
    "intent": 'This sentence: "{text}" in terms of its intent means in one word: "',
    "complexity": 'This sentence: "{text}" in terms of its complexity means in one word: "',
    "subjectivity": 'This sentence: "{text}" in terms of its subjectivity means in one word: "',
    "language_style": 'This sentence: "{text}" in terms of its language style means in one word: "',
    "grammatical_structure": 'This sentence: "{text}" in terms of its grammatical structure means in one word: "',
}
ROBUSTNESS_PROMPTS = tuple(name for name in PROMPTS if name != "none")  # the nine of the analysis


def prompt_template(prompt: str) -> str:
    """The template of a prompt name, or ``prompt`` itself when it is a template holding ``{text}``.

    Example:
        >>> prompt_template("prompteol")
        'This sentence: "{text}" means in one word: "'
        >>> prompt_template("Query: {text}")
        'Query: {text}'
    """
    if prompt in PROMPTS:
        return PROMPTS[prompt]
    if "{text}" in prompt:
        return prompt
    raise ValueError(f"unknown prompt {prompt!r}: give a template containing '{{text}}' or one of {list(PROMPTS)}")


def apply_prompt(texts: list[str], prompt: str = "none") -> list[str]:
    """Put each text into the prompt's template (``str.replace``, so braces in texts are safe).

    Example:
        >>> apply_prompt(["a cat"], "prompteol")
        ['This sentence: "a cat" means in one word: "']
    """
    template = prompt_template(prompt)
    return [template.replace("{text}", text) for text in texts]


# ----------------------------------------------------------------------------- features


@dataclass
class Features:
    """What one forward pass gives per text: HS (n, hidden) and RW (n, layers * experts), float32."""

    hs: np.ndarray
    rw: np.ndarray
    layers: int
    experts: int

    def router_weights_per_layer(self) -> np.ndarray:
        """RW as (n, layers, experts)."""
        return self.rw.reshape(len(self.rw), self.layers, self.experts)


ROUTER_SCORES = ("softmax", "logits", "sigmoid")


def score_router_logits(logits: torch.Tensor, router_scores: str = "softmax") -> torch.Tensor:
    """Turn router logits (..., experts) into RW: ``softmax`` (paper), ``logits`` (the public code
    for OLMoE and Qwen-MoE) or ``sigmoid`` (DeepSeek-V3's own gate scores)."""
    if router_scores == "softmax":
        return logits.float().softmax(dim=-1)
    if router_scores == "logits":
        return logits.float()
    if router_scores == "sigmoid":
        return logits.float().sigmoid()
    raise ValueError(f"unknown router_scores {router_scores!r}; valid: {list(ROUTER_SCORES)}")


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of each row's last real token; right for left padding (always the last column) and right padding."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return (attention_mask.long() * positions).argmax(dim=1)


# ----------------------------------------------------------------------------- MoE language models


def find_routers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The router (gate) of every MoE layer, in layer order.

    A router is a module named ``gate`` holding a (experts, hidden) ``weight``, experts > 1: the
    ``mlp.gate`` of OLMoE, Qwen2/3-MoE, Mixtral and DeepSeek-V3 (and ``block_sparse_moe.gate`` of
    older Mixtral code). Dense layers have no such module (their ``gate_proj`` is another name), and
    Qwen2-MoE's one-output ``shared_expert_gate`` is neither named so nor wide enough.
    """
    hidden = model.config.hidden_size
    routers = []
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if name.rsplit(".", 1)[-1] == "gate" and isinstance(weight, torch.Tensor) and weight.dim() == 2:
            if weight.shape[1] == hidden and weight.shape[0] > 1:
                routers.append((name, module))
    return routers


class RouterHooks:
    """Capture every router's logits with forward hooks, for models that do not return them.

    The hook records the router's *input* and computes ``input @ weight.T (+ bias)`` in float32:
    every supported router is such a linear map, and this works whatever the module returns
    (DeepSeek-MoE's remote code, for one, returns the chosen experts, not the logits).
    """

    def __init__(self, routers: list[tuple[str, nn.Module]]) -> None:
        self.routers = routers
        self.logits: list[torch.Tensor] = []
        self._handles = []

    def _hook(self, module: nn.Module, args: tuple, output) -> None:
        bias = getattr(module, "bias", None)
        self.logits.append(F.linear(args[0].float(), module.weight.float(), None if bias is None else bias.float()))

    def __enter__(self) -> RouterHooks:
        self.logits = []
        self._handles = [module.register_forward_hook(self._hook) for _, module in self.routers]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str | torch.device) -> torch.dtype:
    """bf16 on a GPU (the paper's models fit one), float32 on CPU."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def load_moe_lm(name_or_path: str, *, dtype: torch.dtype | None = None, device: str | None = None,
                load_in_4bit: bool = False, trust_remote_code: bool = False):
    """Load a Hugging Face MoE language model (local folder or hub id) without its LM head, and its tokenizer.

    Args:
        name_or_path: e.g. ``allenai/OLMoE-1B-7B-0924``, ``Qwen/Qwen1.5-MoE-A2.7B`` or a folder.
        dtype: default bf16 on CUDA, float32 on CPU.
        device: default ``cuda`` when available, else ``cpu``.
        load_in_4bit: 4-bit weights through bitsandbytes (CUDA only); an error if it is not installed.
        trust_remote_code: for models whose code lives in their hub repository (e.g. DeepSeekMoE-16B).

    Returns:
        ``(model, tokenizer)``: the base model (``AutoModel``: hidden states, no vocabulary
        projection, so a batch costs no (batch, seq, vocab) logits), in eval mode.
    """
    from transformers import AutoModel, AutoTokenizer

    device = device or default_device()
    dtype = dtype or default_dtype(device)
    kwargs = {"dtype": dtype, "trust_remote_code": trust_remote_code}
    if load_in_4bit:
        kwargs.update(_four_bit_kwargs(device, dtype))
    model = AutoModel.from_pretrained(name_or_path, **kwargs)
    if not load_in_4bit:
        model = model.to(device)
    return model.eval(), AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)


def _four_bit_kwargs(device: str, dtype: torch.dtype) -> dict:
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ImportError("load_in_4bit=True needs bitsandbytes, which is not installed: pip install bitsandbytes (CUDA only)")
    if torch.device(device).type != "cuda":
        raise ValueError(f"load_in_4bit=True needs a CUDA device; got device={device!r}")
    from transformers import BitsAndBytesConfig

    return {"quantization_config": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype), "device_map": device}


ROUTER_SOURCES = ("auto", "output", "hooks")


class MoEELM:
    """A MoE language model read as an embedding model: HS and RW at the last real token.

    Args:
        model: a transformers MoE model (a ``*ForCausalLM`` or its base model; only the base runs).
        tokenizer: its tokenizer; a copy is kept, padded on the left, with EOS (or UNK) as pad token
            if it has none (the caller's tokenizer is left as it is).
        prompt: a name in ``PROMPTS`` or a template with ``{text}`` (default ``"none"``).
        router_scores: ``softmax`` (default, paper), ``logits`` or ``sigmoid``.
        router_source: ``output`` reads ``router_logits`` from the model's output
            (``output_router_logits=True``); ``hooks`` computes them from forward hooks on the gates;
            ``auto`` (default) takes ``output`` when the model's config has ``output_router_logits``.
        batch_size: texts per forward pass (texts are sorted by length first, so batches pad little).
        max_length: tokens per input, prompt included; a longer text is cut inside the prompt (so
            PromptEOL's closing ``means in one word: "`` is kept).

    Example:
        >>> from mote_lib.moee import tiny_random_moe
        >>> lm = tiny_random_moe("qwen2_moe")           # layer 1 dense: 2 MoE layers of 3
        >>> lm.moe_layers, lm.num_experts
        (2, 8)
    """

    def __init__(self, model: nn.Module, tokenizer, *, prompt: str = "none", router_scores: str = "softmax",
                 router_source: str = "auto", batch_size: int = 16, max_length: int = 512) -> None:
        if router_source not in ROUTER_SOURCES:
            raise ValueError(f"unknown router_source {router_source!r}; valid: {list(ROUTER_SOURCES)}")
        score_router_logits(torch.zeros(1), router_scores)  # fail now on an unknown name
        self.model = model.base_model.eval()
        self.routers = find_routers(self.model)
        if not self.routers:
            raise ValueError(f"{type(model).__name__} has no MoE layers: no module named 'gate' with an (experts, hidden) weight")
        self.num_experts = int(self.routers[0][1].weight.shape[0])
        self.tokenizer = _left_padding(copy.deepcopy(tokenizer))
        self.prompt, self.router_scores, self.batch_size, self.max_length = prompt_template(prompt), router_scores, batch_size, max_length
        if router_source == "auto":
            router_source = "output" if hasattr(self.model.config, "output_router_logits") else "hooks"
        self.router_source = router_source

    @classmethod
    def from_pretrained(cls, name_or_path: str, *, dtype: torch.dtype | None = None, device: str | None = None,
                        load_in_4bit: bool = False, trust_remote_code: bool = False, **options) -> MoEELM:
        """``load_moe_lm`` then ``MoEELM(model, tokenizer, **options)``."""
        model, tokenizer = load_moe_lm(name_or_path, dtype=dtype, device=device, load_in_4bit=load_in_4bit,
                                       trust_remote_code=trust_remote_code)
        return cls(model, tokenizer, **options)

    @property
    def moe_layers(self) -> int:
        return len(self.routers)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def fingerprint(self) -> str:
        """A digest of the weights and every setting that changes HS or RW (results are stored under it)."""
        settings = {"prompt": self.prompt, "router_scores": self.router_scores, "max_length": self.max_length,
                    "router_source": self.router_source}
        return _digest(self.model, settings)

    def with_prompt(self, prompt: str) -> MoEELM:
        """The same model (shared, not copied) with another prompt."""
        other = copy.copy(self)
        other.prompt = prompt_template(prompt)
        return other

    def features(self, texts: list[str], task: str | None = None) -> Features:
        """HS and RW of every text, in input order. ``task`` is ignored: the LM has one prompt for all."""
        prompted = _fit_prompted_texts(list(texts), self.prompt, self.tokenizer, self.max_length)
        order = sorted(range(len(prompted)), key=lambda i: -len(prompted[i]))
        hs = np.empty((len(texts), self.hidden_size), dtype=np.float32)
        rw = np.empty((len(texts), self.moe_layers * self.num_experts), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch_hs, batch_rw = self._forward([prompted[i] for i in rows])
            hs[rows], rw[rows] = batch_hs, batch_rw
        return Features(hs=hs, rw=rw, layers=self.moe_layers, experts=self.num_experts)

    @torch.inference_mode()
    def _forward(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        batch = self.tokenizer(texts, padding=True, return_tensors="pt").to(self.device)
        mask = batch["attention_mask"]
        # Positions count real tokens only (as generate() does with left padding), so a text gets
        # the same positions alone and in a batch.
        position_ids = (mask.long().cumsum(-1) - 1).clamp(min=0)
        inputs = dict(input_ids=batch["input_ids"], attention_mask=mask, position_ids=position_ids, use_cache=False)
        if self.router_source == "output":
            out = self.model(**inputs, output_router_logits=True)
            logits = out.router_logits
            if logits is None or len(logits) != self.moe_layers:
                raise RuntimeError(f"{type(self.model).__name__} returned {0 if logits is None else len(logits)} router "
                                   f"logits for {self.moe_layers} MoE layers: use router_source='hooks'")
        else:
            with RouterHooks(self.routers) as hooks:
                out = self.model(**inputs)
            logits = hooks.logits
        rows, last = torch.arange(mask.shape[0], device=mask.device), last_token_index(mask)
        hs = out.last_hidden_state[rows, last].float()
        # Router logits come flattened over (batch, seq) per layer, padding included: unflatten first.
        per_layer = [layer.reshape(mask.shape[0], mask.shape[1], -1)[rows, last] for layer in logits]
        rw = score_router_logits(torch.cat(per_layer, dim=-1).reshape(len(rows), len(per_layer), -1), self.router_scores)
        return hs.cpu().numpy(), rw.reshape(len(rows), -1).cpu().numpy()


def _digest(model: nn.Module, settings: dict) -> str:
    """16 hex digits of sha256 over the settings, the model's config and every tensor's bytes (computed once per model)."""
    import hashlib
    import json

    weights = getattr(model, "_moee_weights_digest", None)
    if weights is None:
        digest = hashlib.sha256(model.config.to_json_string().encode() if hasattr(model.config, "to_json_string")
                                else json.dumps(str(model.config)).encode())
        for name, tensor in sorted(model.state_dict().items()):
            tensor = tensor.detach().contiguous().cpu()
            digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        weights = digest.hexdigest()
        model._moee_weights_digest = weights  # weights are frozen here: hash a 7B model once, not per prompt
    return hashlib.sha256(json.dumps({"weights": weights, **settings}, sort_keys=True).encode()).hexdigest()[:16]


def _left_padding(tokenizer):
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.unk_token
    if tokenizer.pad_token is None:
        raise ValueError("the tokenizer has no pad, EOS or UNK token to pad with")
    return tokenizer


def _fit_prompted_texts(texts: list[str], template: str, tokenizer, max_length: int) -> list[str]:
    """Apply the template, first cutting any text whose prompted form would exceed ``max_length`` tokens."""
    overhead = len(tokenizer(template.replace("{text}", ""))["input_ids"])
    budget = max_length - overhead
    if budget < 1:
        raise ValueError(f"the prompt alone takes {overhead} tokens; max_length={max_length} leaves no room for the text")
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    fitted = [tokenizer.decode(t[:budget]) if len(t) > budget else text for text, t in zip(texts, ids)]
    return [template.replace("{text}", text) for text in fitted]


# ----------------------------------------------------------------------------- tiny random models

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


# ----------------------------------------------------------------------------- MoTE-TLR routers


MOTE_POOLINGS = ("mean", "last")


class MoTERouterFeatures:
    """Beyond the paper: HS and RW of our token-routed MoTE ablation (``MoTEModel`` variant ``mote-tlr``).

    HS = the last layer's token vectors and RW = each MoTE layer's router scores over its experts,
    concatenated over layers, both pooled over a text's tokens.

    **ours**: ``pooling="mean"`` (default) averages over real tokens. MoTE is a bidirectional
    encoder, so its last token (``[SEP]``) holds no summary of the text the way a causal LM's last
    token does, and mean pooling is how the encoder's own embedding is made (so HS here is the
    MoTE-TLR embedding before normalisation). ``pooling="last"`` takes the last real token instead.

    The MoTE task (hence the instruction) comes from ``task``; in mteb, ``mote_lib.evaluate.route_task``
    picks it from the task type, as for every MoTE model.

    Example:
        >>> from mote_lib.model import MoTEConfig, MoTEModel
        >>> source = MoTERouterFeatures(MoTEModel.from_base(MoTEConfig(variant="mote-tlr")))
        >>> source.features(["ls lists files"], task="search_query").rw.shape   # 3 MoTE layers x 4 experts
        (1, 12)
    """

    def __init__(self, model, *, pooling: str = "mean", router_scores: str = "softmax", batch_size: int = 32) -> None:
        if model.config.routing != "token":
            raise ValueError(f"a {model.config.variant!r} model has no token routers; MoTERouterFeatures needs variant 'mote-tlr'")
        if pooling not in MOTE_POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; valid: {list(MOTE_POOLINGS)}")
        score_router_logits(torch.zeros(1), router_scores)
        self.model, self.pooling, self.router_scores, self.batch_size = model.eval(), pooling, router_scores, batch_size
        self.moe_layers = sum(block.router is not None for block in model.blocks)
        self.num_experts = len(model.config.experts)
        self.hidden_size = int(model.backbone_config.hidden_size)

    def fingerprint(self) -> str:
        """A digest of the weights and the settings (pooling, router scores), as ``MoEELM.fingerprint``."""
        return _digest(self.model, {"pooling": self.pooling, "router_scores": self.router_scores,
                                    "max_seq_length": self.model.config.max_seq_length})

    def features(self, texts: list[str], task: str | None = None) -> Features:
        if task is None:
            raise ValueError(f"MoTE-TLR needs a task for its instruction; valid: {self.model.config.tasks}")
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        hs = np.empty((len(texts), self.hidden_size), dtype=np.float32)
        rw = np.empty((len(texts), self.moe_layers * self.num_experts), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            hs[rows], rw[rows] = self._forward([texts[i] for i in rows], task)
        return Features(hs=hs, rw=rw, layers=self.moe_layers, experts=self.num_experts)

    @torch.inference_mode()
    def _forward(self, texts: list[str], task: str) -> tuple[np.ndarray, np.ndarray]:
        device = next(self.model.parameters()).device
        batch = self.model.tokenize(texts, [task] * len(texts))
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        out = self.model(ids, mask, output_hidden_states=True)
        scores = torch.cat([score_router_logits(logits, self.router_scores) for logits in self.model.router_logits()], dim=-1)
        hs, rw = self._pool(out["hidden_states"][-1].float(), mask), self._pool(scores, mask)
        return hs.cpu().numpy(), rw.cpu().numpy()

    def _pool(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "last":
            return values[torch.arange(len(values), device=values.device), last_token_index(mask)]
        weights = mask.unsqueeze(-1).to(values.dtype)
        return (values * weights).sum(1) / weights.sum(1).clamp(min=1)


# ----------------------------------------------------------------------------- embeddings and similarity

METHODS = ("hs", "rw", "concat", "sum")


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("a zero vector has no direction: cannot normalise it")
    return x / norms


def moee_embedding(features: Features, method: str = "sum", alpha: float = 1.0) -> np.ndarray:
    """One unit-norm vector per text for ``method``; its cosine is the method's similarity.

    * ``hs``, ``rw``: HS or RW, normalised;
    * ``concat``: [HS; RW] as they are, normalised (paper's MoEE(concat); with no per-batch
      standardisation the larger of the two norms, usually HS's, dominates);
    * ``sum``: [HS/|HS| ; sqrt(alpha) RW/|RW|] / sqrt(1 + alpha), whose cosine is
      (cos HS + alpha cos RW) / (1 + alpha): the sum similarity up to the constant 1 + alpha.

    Example:
        >>> import numpy as np
        >>> f = Features(hs=np.array([[3.0, 4.0]]), rw=np.array([[1.0, 0.0]]), layers=1, experts=2)
        >>> moee_embedding(f, "sum", alpha=3.0).round(3).tolist()   # [0.6, 0.8] / 2, sqrt(3) * [1, 0] / 2
        [[0.3, 0.4, 0.866, 0.0]]
    """
    if method == "hs":
        return l2_normalize(features.hs)
    if method == "rw":
        return l2_normalize(features.rw)
    if method == "concat":
        return l2_normalize(np.concatenate([features.hs, features.rw], axis=1))
    if method == "sum":
        if not alpha > 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        parts = [l2_normalize(features.hs), math.sqrt(alpha) * l2_normalize(features.rw)]
        return (np.concatenate(parts, axis=1) / math.sqrt(1 + alpha)).astype(np.float32)
    raise ValueError(f"unknown method {method!r}; valid: {list(METHODS)}")


def sum_similarity(hs1: np.ndarray, rw1: np.ndarray, hs2: np.ndarray, rw2: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """MoEE(sum) similarity matrix: cos(HS) + alpha * cos(RW), (n1, n2).

    Example:
        >>> import numpy as np
        >>> float(sum_similarity(np.array([[1.0, 0]]), np.array([[1.0, 1]]), np.array([[1.0, 1]]), np.array([[1.0, 1]]), 2.0)[0, 0])
        2.7071067811865475
    """
    return l2_normalize(hs1) @ l2_normalize(hs2).T + alpha * (l2_normalize(rw1) @ l2_normalize(rw2).T)


def split_sum_embedding(embeddings: np.ndarray, hs_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undo ``moee_embedding(..., "sum", alpha)``: (HS direction, RW direction, alpha per row).

    alpha is read back as |RW part|^2 / |HS part|^2, so the vectors describe themselves.
    """
    hs, rw = embeddings[:, :hs_dim], embeddings[:, hs_dim:]
    alpha = (np.linalg.norm(rw, axis=1) / np.linalg.norm(hs, axis=1)) ** 2
    return l2_normalize(hs), l2_normalize(rw), alpha


def sum_similarity_from_embeddings(e1, e2, hs_dim: int, pairwise: bool = False) -> np.ndarray:
    """cos(HS) + alpha cos(RW) from two sets of MoEE(sum) vectors (matrix, or per pair if ``pairwise``)."""
    h1, r1, a1 = split_sum_embedding(_as_numpy(e1), hs_dim)
    h2, r2, a2 = split_sum_embedding(_as_numpy(e2), hs_dim)
    alpha = float(np.median(a1))
    if not (np.allclose(a1, alpha, rtol=1e-3) and np.allclose(a2, alpha, rtol=1e-3)):
        raise ValueError("these MoEE(sum) vectors were made with different alphas: their similarities do not compare")
    if pairwise:
        return (h1 * h2).sum(1) + alpha * (r1 * r2).sum(1)
    return h1 @ h2.T + alpha * (r1 @ r2.T)


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def spread_matched_alpha(features: Features, max_texts: int = 512) -> float:
    """**ours**: a label-free alpha for a task: std(cos HS) / std(cos RW) over pairs of its texts.

    Scaling cos(RW) by this ratio gives the two terms of the sum the same spread over the task's
    text pairs, so neither similarity drowns the other whatever the models' scales. It uses the
    first ``max_texts`` texts, so it costs one (n, n) product and no labels.
    """
    n = min(len(features.hs), max_texts)
    if n < 3:
        raise ValueError(f"spread_matched_alpha needs at least 3 texts, got {n}")
    pairs = np.triu_indices(n, k=1)
    hs, rw = l2_normalize(features.hs[:n]), l2_normalize(features.rw[:n])
    spread_hs, spread_rw = (hs @ hs.T)[pairs].std(), (rw @ rw.T)[pairs].std()
    if spread_rw == 0:
        raise ValueError("cos(RW) is the same for every pair of these texts: alpha cannot be matched")
    return float(spread_hs / spread_rw)


# ----------------------------------------------------------------------------- mteb


class CachedFeatures:
    """A feature source that computes each (task, text) once: exact, since a text's features do not
    depend on its batch-mates. mteb's STS and pair evaluators embed each pair's texts again, and
    the four methods of one model and prompt share the same features.

    Example:
        >>> from mote_lib.moee import CachedFeatures, tiny_random_moe
        >>> source = CachedFeatures(tiny_random_moe())
        >>> source.features(["a", "b", "a"]).hs.shape, len(source.cache)
        ((3, 32), 2)
    """

    def __init__(self, source) -> None:
        self.source, self.cache = source, {}
        self.hidden_size, self.batch_size = source.hidden_size, source.batch_size
        self.layers, self.experts = source.moe_layers, source.num_experts

    def fingerprint(self) -> str:
        return self.source.fingerprint()

    def features(self, texts: list[str], task: str | None = None) -> Features:
        missing = list(dict.fromkeys(t for t in texts if (task, t) not in self.cache))
        if missing:
            new = self.source.features(missing, task=task)
            self.cache.update({(task, t): (h, r) for t, h, r in zip(missing, new.hs, new.rw)})
        rows = [self.cache[(task, t)] for t in texts]
        hs = np.stack([h for h, _ in rows]) if rows else np.zeros((0, self.hidden_size), np.float32)
        rw = np.stack([r for _, r in rows]) if rows else np.zeros((0, self.layers * self.experts), np.float32)
        return Features(hs=hs, rw=rw, layers=self.layers, experts=self.experts)


def _abs_encoder():
    from mote_lib import evaluate  # noqa: F401  (sets the offline, in-project caches before mteb is imported)
    from mteb.models.abs_encoder import AbsEncoder

    return AbsEncoder


class MoEEEncoder(_abs_encoder()):
    """An mteb encoder over a ``MoEELM`` or ``MoTERouterFeatures`` (or a ``CachedFeatures`` of one), for one method.

    Every method returns unit-norm vectors whose cosine is the method's similarity (see
    ``moee_embedding``), so mteb's cosine-based scores (STS Spearman, pair classification, k-means
    clustering, classification) agree with ``similarity``/``similarity_pairwise``, which for
    ``sum`` return cos(HS) + alpha cos(RW) itself.

    Args:
        source: anything with ``features(texts, task=...) -> Features``, ``hidden_size``,
            ``batch_size`` and ``fingerprint()``.
        method: ``hs``, ``rw``, ``concat`` or ``sum``.
        alpha: a number (default 1.0, as the public code) or ``"auto"`` (``spread_matched_alpha``,
            computed on the texts of a task's first ``encode`` call, then kept for the task, so that
            queries and documents of a retrieval task share it).
        name: the mteb model name (``mote-lab/`` is prepended when it has no "/").
        other_task: the MoTE task of STS, pair classification and summarization inputs (MoTE-TLR
            only; see ``mote_lib.evaluate.route_task``; a language model ignores tasks).

    The mteb ``revision`` is a digest of the source's weights and settings, the method and alpha,
    so stored results (``mote_lib.evaluate``) are never reused across a change.

    Example:
        >>> from mote_lib.moee import MoEEEncoder, tiny_random_moe
        >>> encoder = MoEEEncoder(tiny_random_moe(), method="sum", name="tiny-moee-sum")
        >>> encoder.mteb_model_meta.name
        'mote-lab/tiny-moee-sum'
    """

    def __init__(self, source, method: str = "sum", alpha: float | str = 1.0, name: str = "moee",
                 other_task: str = "classification") -> None:
        import hashlib

        from mteb.models.model_meta import ModelMeta

        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; valid: {list(METHODS)}")
        if alpha != "auto" and not (isinstance(alpha, (int, float)) and alpha > 0):
            raise ValueError(f"alpha must be a positive number or 'auto', got {alpha!r}")
        self.model, self.method, self.alpha, self.other_task = source, method, alpha, other_task
        self.batch_size = source.batch_size
        self.alphas: dict[str, float] = {}  # task name -> alpha used
        key = f"{source.fingerprint()}|{method}|{alpha if method == 'sum' else '-'}"
        self.mteb_model_meta = ModelMeta(
            loader=None, name=name if "/" in name else f"mote-lab/{name}",
            revision=hashlib.sha256(key.encode()).hexdigest()[:16], release_date=None, languages=None,
            n_parameters=None, memory_usage_mb=None, max_tokens=None, embed_dim=None, license=None,
            open_weights=None, public_training_code=None, public_training_data=None, framework=["PyTorch"],
            similarity_fn_name="cosine", use_instructions=False, training_datasets=None,
        )

    def encode(self, inputs, *, task_metadata, hf_split: str, hf_subset: str, prompt_type=None, **kwargs) -> np.ndarray:
        from mote_lib.evaluate import route_task

        texts = [text for batch in inputs for text in batch["text"]]
        task = route_task(task_metadata.type, getattr(prompt_type, "value", prompt_type), self.other_task)
        features = self.model.features(texts, task=task)
        return moee_embedding(features, self.method, self.task_alpha(task_metadata.name, features))

    def task_alpha(self, task_name: str, features: Features) -> float:
        """The alpha of a task: the fixed one, or (``"auto"``) the one matched on its first texts."""
        if self.alpha != "auto":
            return float(self.alpha)
        if task_name not in self.alphas:
            self.alphas[task_name] = spread_matched_alpha(features)
        return self.alphas[task_name]

    def similarity(self, embeddings1, embeddings2) -> torch.Tensor:
        if self.method == "sum":
            return torch.from_numpy(sum_similarity_from_embeddings(embeddings1, embeddings2, self.model.hidden_size))
        return torch.from_numpy(l2_normalize(_as_numpy(embeddings1)) @ l2_normalize(_as_numpy(embeddings2)).T)

    def similarity_pairwise(self, embeddings1, embeddings2) -> torch.Tensor:
        if self.method == "sum":
            return torch.from_numpy(sum_similarity_from_embeddings(embeddings1, embeddings2, self.model.hidden_size, pairwise=True))
        return torch.from_numpy((l2_normalize(_as_numpy(embeddings1)) * l2_normalize(_as_numpy(embeddings2))).sum(1))


# ----------------------------------------------------------------------------- experiments and tables

# paper: the 19 MTEB datasets of the MoEE evaluation, by category.
PAPER_TASKS: dict[str, list[str]] = {
    "Classification": ["TweetSentimentExtractionClassification", "EmotionClassification", "ToxicConversationsClassification"],
    "Clustering": ["TwentyNewsgroupsClustering", "MedrxivClusteringS2S"],
    "PairClassification": ["TwitterURLCorpus", "TwitterSemEval2015"],
    "Reranking": ["AskUbuntuDupQuestions", "SciDocsRR", "StackOverflowDupQuestions"],
    "STS": ["STS12", "STS13", "STS14", "STS15", "STS16", "BIOSSES", "SICK-R", "STSBenchmark"],
    "Summarization": ["SummEval"],
}
# paper (Tables 3/4, PromptEOL, Avg over the 6 categories): the only reported numbers known here.
PAPER_PROMPTEOL_AVG = {
    "DeepSeekMoE-16B": {"hs": 42.30, "sum": 53.28},
    "Qwen1.5-MoE-A2.7B": {"hs": 51.67, "sum": 55.04},
    "OLMoE-1B-7B": {"hs": 53.72, "sum": 55.16},
}
METHOD_LABELS = {"hs": "HS", "rw": "RW", "concat": "MoEE (concat)", "sum": "MoEE (sum)"}


def paper_tasks() -> list:
    """The paper's 19 MTEB tasks as mteb task objects (metadata needs no network; their data does)."""
    import mteb

    return list(mteb.get_tasks(tasks=[name for names in PAPER_TASKS.values() for name in names]))


def evaluate_moee(source, tasks: list, *, label: str, prompts: list[str] = ("none",), methods: list[str] = METHODS,
                  alpha: float | str = 1.0, profile: str = "", store=None, show_progress: bool = False):
    """Score every (prompt, method) of one model on mteb tasks; one tidy table with ``prompt`` and ``method`` columns.

    Args:
        source: a ``MoEELM`` (its prompt is replaced by each of ``prompts``), or a ``MoTERouterFeatures``
            or ``CachedFeatures`` (which take no prompt: ``prompts=("none",)``; MoTE's task instructions
            apply; a ``CachedFeatures`` is reused, so a second call embeds nothing again).
        tasks: mteb task objects (``mote_lib.mteb_tasks.offline_tasks`` or ``paper_tasks()``).
        label: the model's name in the table; each (prompt, method) is evaluated as ``label/prompt/method``.
        alpha: MoEE(sum)'s alpha (a number or ``"auto"``).
        store: where results are kept (``mote_lib.evaluate``; default ``runs/results``).

    Returns:
        ``mote_lib.evaluate.evaluate_encoder``'s columns (model, task, task_type, main_metric, score x100,
        error, ...) plus model_label, prompt, method, alpha (the sum's alpha; NaN for other methods,
        and for an ``"auto"`` score read back from the results store, which keeps scores only).
    """
    import pandas as pd

    from mote_lib.evaluate import evaluate_encoder

    tables = []
    for prompt in prompts:
        prompted = source.with_prompt(prompt) if isinstance(source, MoEELM) else _no_prompt(source, prompt)
        # One forward pass per text for all methods (and, given a CachedFeatures, across calls).
        shared = prompted if isinstance(prompted, CachedFeatures) else CachedFeatures(prompted)
        for method in methods:
            encoder = MoEEEncoder(shared, method=method, alpha=alpha, name=f"{label}-{prompt}-{method}")
            table = evaluate_encoder(encoder, tasks, label=f"{label}/{prompt}/{method}", profile=profile,
                                     store=store, show_progress=show_progress)
            tables.append(table.assign(model_label=label, prompt=prompt, method=method,
                                       alpha=[_alpha_used(encoder, task) for task in table.task]))
    return pd.concat(tables, ignore_index=True)


def _alpha_used(encoder: MoEEEncoder, task: str) -> float:
    """The sum's alpha for a task: the fixed one; the matched one ("auto") when this call computed it;
    NaN otherwise (not the sum, or an "auto" score read back from the results store)."""
    if encoder.method != "sum":
        return np.nan
    if encoder.alpha != "auto":
        return float(encoder.alpha)
    return encoder.alphas.get(task, np.nan)


def _no_prompt(source, prompt: str):
    if prompt != "none":
        raise ValueError(f"{type(source).__name__} takes no prompt (got {prompt!r}): pass prompts=('none',)")
    return source


def category_table(table):
    """The paper's aggregation: mean per category (task type), then Avg = mean of the categories.

    Rows: (model_label, prompt, method); columns: the categories present, then ``Avg``. Failed tasks
    (``error`` set) raise: an average over a silently shorter list would not compare.
    """
    failed = table[table["error"].notna()]
    if len(failed):
        raise ValueError(f"{len(failed)} task(s) failed: {failed[['model', 'task', 'error']].values.tolist()}")
    per_task = table.groupby(["model_label", "prompt", "method", "task_type", "task"], sort=False)["score"].mean()
    per_category = per_task.groupby(level=["model_label", "prompt", "method", "task_type"], sort=False).mean().unstack("task_type")
    per_category["Avg"] = per_category.mean(axis=1)
    return per_category


def paper_reference_table():
    """The paper's reported PromptEOL averages (not our results), as a table beside ours."""
    import pandas as pd

    rows = [{"model": model, "method": METHOD_LABELS[m], "paper Avg (reported)": score}
            for model, scores in PAPER_PROMPTEOL_AVG.items() for m, score in scores.items()]
    return pd.DataFrame(rows).pivot(index="model", columns="method", values="paper Avg (reported)")


def prompt_spread(table):
    """Prompt robustness: per task and method, the spread of scores across prompts; then the mean per method.

    Returns:
        Rows = methods; columns ``std`` (standard deviation across prompts, averaged over tasks),
        ``range`` (max - min across prompts, averaged over tasks), ``prompts`` and ``tasks`` counted.
        The paper's claim: RW's spread is smaller than HS's.
    """
    per_task = table.groupby(["method", "task", "prompt"])["score"].mean().groupby(level=["method", "task"])
    spread = per_task.agg(std="std", range=lambda s: s.max() - s.min(), prompts="count")
    out = spread.groupby(level="method").agg(std=("std", "mean"), range=("range", "mean"), prompts=("prompts", "min"),
                                             tasks=("std", "count"))
    return out.reindex([m for m in METHODS if m in out.index])


def expert_usage(source: MoTERouterFeatures, texts: list[str], tasks: list[str] | None = None):
    """What MoTE-TLR's routers do with each task instruction: mean router weight per (task, layer, expert).

    Args:
        source: a ``MoTERouterFeatures`` (mean-pooled RW: each text's average routing over its tokens).
        texts: the texts to route, each embedded once per task.
        tasks: the MoTE tasks (default: all of the model's).

    Returns:
        Columns task, layer (the MoTE layer's index among MoTE layers), expert (its name), weight
        (mean over texts; the weights of a layer sum to 1 under softmax).
    """
    import pandas as pd

    config = source.model.config
    rows = []
    for task in tasks or config.tasks:
        mean = source.features(texts, task=task).router_weights_per_layer().mean(axis=0)
        rows += [{"task": task, "layer": layer, "expert": config.experts[e], "weight": float(mean[layer, e])}
                 for layer in range(mean.shape[0]) for e in range(mean.shape[1])]
    return pd.DataFrame(rows)
