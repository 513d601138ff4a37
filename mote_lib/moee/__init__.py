"""MoEE: the routing weights of a Mixture-of-Experts language model as a text embedding.

Li & Zhou (ICLR 2025) read a pre-trained MoE language model once per text, with no fine-tuning,
and take at the last real token its hidden state (**HS**) and every MoE layer's router weights
(**RW**); **MoEE(concat)** compares [HS; RW] by cosine, **MoEE(sum)** by cos(HS) + alpha cos(RW).

One concept per module, every public name re-exported here:

* ``prompts``: PromptEOL and the robustness prompts;
* ``features``: ``Features`` (HS, RW), router scores, ``CachedFeatures``;
* ``lm``: ``MoEELM``, a Hugging Face MoE language model read as an embedding model;
* ``tiny``: tiny random MoE models of five architectures (tests, offline notebook);
* ``mote_tlr``: the same recipe on our token-routed MoTE ablation (``MoTERouterFeatures``);
* ``embeddings``: one unit vector per text and method, the sum similarity, ``alpha="auto"``;
* ``tables``: the paper's tasks and reported numbers, ``category_table``, ``prompt_spread``;
* ``mteb``: ``MoEEEncoder``, ``evaluate_moee``, ``paper_tasks``: the only module that imports
  mteb, loaded on first use of one of its names, so ``import mote_lib.moee`` stays light.

Example:
    >>> from mote_lib.moee import moee_embedding, tiny_random_moe
    >>> lm = tiny_random_moe("olmoe")                    # random weights: shapes, not quality
    >>> features = lm.features(["A man is eating food.", "A man rides a horse."])
    >>> features.hs.shape, features.rw.shape            # hidden 32; 3 MoE layers x 8 experts
    ((2, 32), (2, 24))
    >>> moee_embedding(features, "sum", alpha=1.0).shape
    (2, 56)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mote_lib.moee.embeddings import (
    METHODS,
    embedding_similarity,
    l2_normalize,
    moee_embedding,
    split_sum_embedding,
    spread_matched_alpha,
    sum_similarity,
    sum_similarity_from_embeddings,
)
from mote_lib.moee.features import ROUTER_SCORES, CachedFeatures, Features, last_token_index, score_router_logits
from mote_lib.moee.lm import ROUTER_SOURCES, MoEELM, RouterHooks, default_device, default_dtype, find_routers, load_moe_lm
from mote_lib.moee.mote_tlr import MOTE_POOLINGS, MoTERouterFeatures, expert_usage
from mote_lib.moee.prompts import PROMPTEOL, PROMPTS, ROBUSTNESS_PROMPTS, apply_prompt, prompt_template
from mote_lib.moee.tables import (
    METHOD_LABELS,
    PAPER_PROMPTEOL_AVG,
    PAPER_TASKS,
    category_table,
    paper_reference_table,
    prompt_spread,
)
from mote_lib.moee.tiny import TINY_ARCHITECTURES, tiny_moe_config, tiny_random_moe

if TYPE_CHECKING:
    from mote_lib.moee.mteb import MoEEEncoder, evaluate_moee, paper_tasks

# Names whose module imports mteb (seconds, and mteb's cache set-up): imported on first access (PEP 562).
_LAZY = {"MoEEEncoder": "mote_lib.moee.mteb", "evaluate_moee": "mote_lib.moee.mteb", "paper_tasks": "mote_lib.moee.mteb"}

__all__ = [
    "CachedFeatures",
    "Features",
    "METHODS",
    "METHOD_LABELS",
    "MOTE_POOLINGS",
    "MoEEEncoder",
    "MoEELM",
    "MoTERouterFeatures",
    "PAPER_PROMPTEOL_AVG",
    "PAPER_TASKS",
    "PROMPTEOL",
    "PROMPTS",
    "ROBUSTNESS_PROMPTS",
    "ROUTER_SCORES",
    "ROUTER_SOURCES",
    "RouterHooks",
    "TINY_ARCHITECTURES",
    "apply_prompt",
    "category_table",
    "default_device",
    "default_dtype",
    "embedding_similarity",
    "evaluate_moee",
    "expert_usage",
    "find_routers",
    "l2_normalize",
    "last_token_index",
    "load_moe_lm",
    "moee_embedding",
    "paper_reference_table",
    "paper_tasks",
    "prompt_spread",
    "prompt_template",
    "score_router_logits",
    "split_sum_embedding",
    "spread_matched_alpha",
    "sum_similarity",
    "sum_similarity_from_embeddings",
    "tiny_moe_config",
    "tiny_random_moe",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
