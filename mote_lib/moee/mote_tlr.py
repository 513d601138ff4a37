"""Beyond the paper: the MoEE recipe applied to our token-routed MoTE ablation (MoTE-TLR).

MoTE-TLR (``mote_lib.model``, variant ``mote-tlr``) routes every token to its experts with a
learned router, trained with a load-balancing loss. ``MoTERouterFeatures`` reads its HS and RW as
``MoEELM`` does a MoE language model's, so the same embeddings, mteb wrapper and tables apply;
``expert_usage`` shows what the routers do with each task instruction.

Example:
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> from mote_lib.moee.mote_tlr import expert_usage
    >>> source = MoTERouterFeatures(MoTEModel.from_base(MoTEConfig(variant="mote-tlr")))
    >>> usage = expert_usage(source, ["ls lists files"], tasks=["search_query"])
    >>> len(usage), round(float(usage.weight.sum()), 4)                   # 3 MoTE layers x 4 experts
    (12, 3.0)
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from mote_lib.model import mean_pool, padding_order
from mote_lib.moee.features import Features, last_token_index, score_router_logits, weights_fingerprint

logger = logging.getLogger(__name__)

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
        return weights_fingerprint(self.model, {"pooling": self.pooling, "router_scores": self.router_scores,
                                                "max_seq_length": self.model.config.max_seq_length})

    def features(self, texts: list[str], task: str | None = None) -> Features:
        if task is None:
            raise ValueError(f"MoTE-TLR needs a task for its instruction; valid: {self.model.config.tasks}")
        ids, cut = self.model.tokenize_unpadded(texts, [task] * len(texts))
        if cut:  # cut, as encode cuts them, but never silently
            logger.warning("MoTE-TLR features: %d of %d texts were longer than max_seq_length=%d tokens (instruction "
                           "included) and were cut", len(cut), len(texts), self.model.config.max_seq_length)
        order = padding_order([len(row) for row in ids])
        hs = np.empty((len(texts), self.hidden_size), dtype=np.float32)
        rw = np.empty((len(texts), self.moe_layers * self.num_experts), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            hs[rows], rw[rows] = self._forward(*self.model.pad_batch([ids[i] for i in rows]))
        return Features(hs=hs, rw=rw, layers=self.moe_layers, experts=self.num_experts)

    @torch.inference_mode()
    def _forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        device = next(self.model.parameters()).device
        ids, mask = input_ids.to(device), attention_mask.to(device)
        out = self.model(ids, mask, output_hidden_states=True)
        scores = torch.cat([score_router_logits(logits, self.router_scores) for logits in self.model.router_logits()], dim=-1)
        hs, rw = self._pool(out["hidden_states"][-1].float(), mask), self._pool(scores, mask)
        return hs.cpu().numpy(), rw.cpu().numpy()

    def _pool(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "last":
            return values[torch.arange(len(values), device=values.device), last_token_index(mask)]
        return mean_pool(values, mask, normalize=False)


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
