"""Dropout with cheaper random masks, for training on CPU (``TrainConfig.fast_dropout``).

PyTorch's CPU dropout draws one random number per element, on one thread (``bernoulli_``): in a
training step of 32 x 128 tokens with 2 threads it takes about 14% of the step, most of it for the
attention probabilities (batch x heads x length x length per layer). Here each 64-bit random word
gives four 16-bit draws, so a mask costs a quarter of the generator calls; an element is kept when
its draw is at or above ``round(p * 65536)`` of the 65,536 levels, which makes the drop rate
``round(p * 65536) / 65536`` (0.1000061 for p = 0.1). Kept elements are scaled by one over the
share kept, as torch's dropout does.

The masks differ from torch's (other random numbers), so a run trained with fast dropout is another
run: it gets its own cache key. The cpu profile trains with it (``profiles.CPU_TRAINING``); the
pre-registered reference profile keeps torch's dropout. The draws come from
the same default generator, so a seeded run is reproducible and a resumed run (which restores the
generator's state) continues as if uninterrupted.

Example:
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> kept = keep_mask((1000, 1000), 0.1, torch.device("cpu"))
    >>> round(1 - kept.float().mean().item(), 3)
    0.1
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

LEVELS = 1 << 16  # the resolution of one draw
ATTENTION = "mote_fast_dropout"  # the attention implementation registered with transformers
FAST = "_mote_fast_dropout"  # marks a patched module's forward


def keep_mask(shape: tuple[int, ...], p: float, device: torch.device) -> torch.Tensor:
    """A boolean mask of ``shape``: True with probability ``1 - round(p * 65536) / 65536``."""
    n = math.prod(shape)
    # random_ with from = int64's lowest and no upper bound fills every one of the 64 bits.
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(1 << 63), None)
    threshold = -(LEVELS // 2) + round(p * LEVELS)  # an int16 draw is uniform on [-32768, 32767]
    return words.view(torch.int16)[:n].reshape(shape) >= threshold


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``torch.nn.functional.dropout`` with masks from ``keep_mask``.

    Kept elements are scaled by ``1 / (1 - rate)`` with the rate the mask really drops at, a Python
    number, so that under bf16 autocast the scale is not itself rounded to bf16; autograd keeps
    the boolean mask only.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    rate = round(p * LEVELS) / LEVELS
    return x.masked_fill(~keep_mask(tuple(x.shape), p, x.device), 0.0) * (1.0 / (1.0 - rate))


def attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
              attention_mask: torch.Tensor | None, scaling: float | None = None, dropout_p: float = 0.0,
              **kwargs) -> tuple[torch.Tensor, None]:
    """Scaled dot-product attention with ``dropout`` on its probabilities (transformers' interface).

    Without dropout (evaluation) it is transformers' SDPA function itself, so the outputs are the
    same as the default implementation's. ``attention_mask`` is SDPA's (boolean, True = attend, or
    additive); queries and keys are (batch, heads, length, head size); the output is (batch,
    length, heads, head size), as transformers expects.
    """
    dropout_p = kwargs.pop("dropout", dropout_p)  # transformers passes it as ``dropout``
    if dropout_p > 0.0 and (kwargs.get("is_causal") or getattr(module, "is_causal", False)
                            or key.shape[1] != query.shape[1]):
        raise NotImplementedError("fast dropout's attention is bidirectional with one key/value head per query "
                                  "head (BERT-family encoders); train this model without fast_dropout")
    if dropout_p == 0.0:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=0.0, **kwargs)
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(-2, -1)) * scaling
    if attention_mask is not None:
        scores = (scores.masked_fill(~attention_mask, float("-inf")) if attention_mask.dtype == torch.bool
                  else scores + attention_mask)
    probabilities = dropout(scores.softmax(dim=-1), dropout_p)
    return torch.matmul(probabilities, value).transpose(1, 2).contiguous(), None


def _register_attention() -> None:
    """Make ``ATTENTION`` a transformers attention implementation (its masks: SDPA's)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION, attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)


@contextmanager
def fast_dropout(model: nn.Module) -> Iterator[nn.Module]:
    """Inside the block, every dropout of ``model`` draws its masks with ``keep_mask``.

    That is every ``nn.Dropout`` module (embeddings, attention output, the experts; MPNet's
    attention probabilities) and, for a BERT-family backbone on SDPA attention, the dropout on the
    attention probabilities, which transformers applies inside SDPA. On leaving, the model is as
    before (its modules' own ``forward`` and its attention implementation), so it saves and
    evaluates as any other.

    Example:
        >>> from mote_lib.model import MoTEConfig, MoTEModel
        >>> model = MoTEModel.from_base(MoTEConfig(variant="em", base_model="tiny-random-bert")).train()
        >>> batch = model.tokenize(["two texts", "of different lengths"], None)
        >>> with fast_dropout(model):
        ...     embeddings = model(batch["input_ids"], batch["attention_mask"])["embedding"]
        >>> tuple(embeddings.shape), model.backbone_config._attn_implementation
        ((2, 32), 'sdpa')
    """
    if any(p.is_cuda for p in model.parameters()):
        warnings.warn("fast_dropout is for training on CPU: on CUDA torch's dropout is already parallel, and "
                      "fast dropout's attention gives up SDPA's fused kernels", stacklevel=3)
    # Modules and configs a block around this one already switched are left to it (nesting is harmless).
    patched = {m: vars(m).get("forward") for m in model.modules()
               if isinstance(m, nn.Dropout) and m.p > 0.0 and not hasattr(vars(m).get("forward"), FAST)}
    configs = [c for c in _backbone_configs(model) if c._attn_implementation == "sdpa"]
    if configs:
        _register_attention()
    try:
        for module in patched:
            module.forward = _dropout_forward(module)  # an instance attribute shadows the class's forward
        for config in configs:
            config._attn_implementation = ATTENTION
        yield model
    finally:
        for module, before in patched.items():
            if before is None:
                vars(module).pop("forward", None)
            else:
                module.forward = before
        for config in configs:
            config._attn_implementation = "sdpa"


def _dropout_forward(module: nn.Dropout):
    def forward(x: torch.Tensor) -> torch.Tensor:
        return dropout(x, module.p, module.training)
    setattr(forward, FAST, True)
    return forward


def _backbone_configs(model: nn.Module) -> list:
    """The distinct transformers configs the model's modules read their attention implementation from."""
    seen: dict[int, object] = {}
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "_attn_implementation"):
            seen.setdefault(id(config), config)
    backbone = getattr(model, "backbone_config", None)
    if backbone is not None and hasattr(backbone, "_attn_implementation"):
        seen.setdefault(id(backbone), backbone)
    return list(seen.values())
