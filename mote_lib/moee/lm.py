"""A pre-trained Mixture-of-Experts language model read as an embedding model (``MoEELM``).

Li & Zhou (ICLR 2025) read a MoE language model once per text, with no fine-tuning, and take two
vectors at the **last real token** (left padding):

* **HS**: the last layer's hidden state;
* **RW**: the router's weights over experts at every MoE layer, concatenated over layers
  (softmax of the router logits by default; raw logits or sigmoid on request).

Routers are found by name and shape (``find_routers``), and their logits are read from the model's
output or, for models that do not return them, from forward hooks (``RouterHooks``). A text's
HS and RW never depend on its batch-mates: positions count real tokens only.

Example:
    >>> from mote_lib.moee import tiny_random_moe
    >>> lm = tiny_random_moe("olmoe")                    # random weights: shapes, not quality
    >>> features = lm.features(["A man is eating food.", "A man rides a horse."])
    >>> features.hs.shape, features.rw.shape            # hidden 32; 3 MoE layers x 8 experts
    ((2, 32), (2, 24))
"""

from __future__ import annotations

import copy
import importlib.util
import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mote_lib.model import padding_order
from mote_lib.moee.features import Features, last_token_index, score_router_logits, weights_fingerprint
from mote_lib.moee.prompts import prompt_template

logger = logging.getLogger(__name__)


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
        batch_size: texts per forward pass (texts are sorted by token count first, so batches pad little).
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
        return weights_fingerprint(self.model, settings)

    def with_prompt(self, prompt: str) -> MoEELM:
        """The same model (shared, not copied) with another prompt."""
        other = copy.copy(self)
        other.prompt = prompt_template(prompt)
        return other

    def features(self, texts: list[str], task: str | None = None) -> Features:
        """HS and RW of every text, in input order. ``task`` is ignored: the LM has one prompt for all."""
        prompted, lengths = _fit_prompted_texts(list(texts), self.prompt, self.tokenizer, self.max_length)
        order = padding_order(lengths)
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


def _left_padding(tokenizer):
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.unk_token
    if tokenizer.pad_token is None:
        raise ValueError("the tokenizer has no pad, EOS or UNK token to pad with")
    return tokenizer


def _fit_prompted_texts(texts: list[str], template: str, tokenizer, max_length: int) -> tuple[list[str], list[int]]:
    """Apply the template, first cutting any text whose prompted form would exceed ``max_length`` tokens.

    Returns the prompted texts and their token counts (for batching by length; the prompt's tokens
    are counted apart from the text's, so a count may differ by a token from the prompted text's).
    """
    overhead = len(tokenizer(template.replace("{text}", ""))["input_ids"])
    budget = max_length - overhead
    if budget < 1:
        raise ValueError(f"the prompt alone takes {overhead} tokens; max_length={max_length} leaves no room for the text")
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    fitted = [tokenizer.decode(t[:budget]) if len(t) > budget else text for text, t in zip(texts, ids)]
    cut = sum(len(t) > budget for t in ids)
    if cut:  # cut inside the prompt, but never silently
        logger.warning("MoEE: %d of %d texts were longer than max_length=%d tokens with the prompt and were cut "
                       "(their prompt kept); raise max_length to embed them whole", cut, len(texts), max_length)
    return [template.replace("{text}", text) for text in fitted], [overhead + min(len(t), budget) for t in ids]
