"""What a MoEE source gives per text: ``Features`` (HS and RW), how router logits become RW, and a cache.

A *source* is anything with ``features(texts, task=None) -> Features``, ``hidden_size``,
``batch_size`` and ``fingerprint()``: a ``MoEELM`` (``mote_lib.moee.lm``), a
``MoTERouterFeatures`` (``mote_lib.moee.mote_tlr``), or a ``CachedFeatures`` of either.

Example:
    >>> import numpy as np
    >>> features = Features(hs=np.zeros((2, 4)), rw=np.ones((2, 6)), layers=2, experts=3)
    >>> features.router_weights_per_layer().shape                 # (texts, layers, experts)
    (2, 2, 3)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mote_lib.digest import config_identity, json_digest, weights_digest


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
    for OLMoE and Qwen-MoE) or ``sigmoid`` (DeepSeek-V3's own gate scores).

    Example:
        >>> score_router_logits(torch.tensor([0.0, 0.0]), "softmax").tolist()
        [0.5, 0.5]
    """
    if router_scores == "softmax":
        return logits.float().softmax(dim=-1)
    if router_scores == "logits":
        return logits.float()
    if router_scores == "sigmoid":
        return logits.float().sigmoid()
    raise ValueError(f"unknown router_scores {router_scores!r}; valid: {list(ROUTER_SCORES)}")


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of each row's last real token; right for left padding (always the last column) and right padding.

    Example:
        >>> last_token_index(torch.tensor([[0, 1, 1], [1, 1, 0]])).tolist()   # left-, then right-padded
        [2, 1]
    """
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return (attention_mask.long() * positions).argmax(dim=1)


def weights_fingerprint(model: nn.Module, settings: dict) -> str:
    """16 hex digits over ``settings``, the model's config and every tensor's bytes.

    The weights' part (``mote_lib.digest.weights_digest``, headed by the config) is computed once
    per model and kept on it: the weights are frozen here, so a 7B model is hashed once, not once
    per prompt or method.
    """
    weights = getattr(model, "_moee_weights_digest", None)
    if weights is None:
        config = model.config
        # The config without where it was installed (digest.INSTALL_FIELDS): the same weights key the same cache anywhere.
        header = (json.dumps(config_identity(config.to_dict()), sort_keys=True, default=str) if hasattr(config, "to_dict")
                  else json.dumps(str(config)))
        weights = weights_digest(model.state_dict(), header=header, length=64)
        model._moee_weights_digest = weights
    return json_digest({"weights": weights, **settings})


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
