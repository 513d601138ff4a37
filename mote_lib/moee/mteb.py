"""MoEE in mteb: ``MoEEEncoder`` (one source, one method), ``evaluate_moee`` (every prompt and method), ``paper_tasks``.

This is the only MoEE module that uses mteb, imported on first use through ``mote_lib.offline.import_mteb``
(which sets the offline mode and the in-project caches first): ``MoEEEncoder``, whose base is mteb's
``AbsEncoder``, is made then. MoTE's own evaluation (``mote_lib.evaluate``) provides the task routing
and the results store.

Example:
    >>> from mote_lib.moee import tiny_random_moe
    >>> from mote_lib.mteb_tasks import offline_tasks
    >>> table = evaluate_moee(tiny_random_moe(), offline_tasks(["LeeDocumentSTS"]), label="tiny",
    ...                       methods=["hs", "sum"])                                 # doctest: +SKIP
    >>> table[["prompt", "method", "task"]].values.tolist()                          # doctest: +SKIP
    [['none', 'hs', 'LeeDocumentSTS'], ['none', 'sum', 'LeeDocumentSTS']]
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from mote_lib.evaluate.routing import route_task
from mote_lib.evaluate.suite import evaluate_encoder
from mote_lib.moee.embeddings import METHODS, embedding_similarity, moee_embedding, spread_matched_alpha
from mote_lib.moee.features import CachedFeatures, Features
from mote_lib.moee.lm import MoEELM
from mote_lib.moee.tables import PAPER_TASKS
from mote_lib.offline import import_mteb, mteb_subclass


class _MoEEEncoder:
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
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; valid: {list(METHODS)}")
        if alpha != "auto" and not (isinstance(alpha, (int, float)) and alpha > 0):
            raise ValueError(f"alpha must be a positive number or 'auto', got {alpha!r}")
        self.model, self.method, self.alpha, self.other_task = source, method, alpha, other_task
        self.batch_size = source.batch_size
        self.alphas: dict[str, float] = {}  # task name -> alpha used
        key = f"{source.fingerprint()}|{method}|{alpha if method == 'sum' else '-'}"
        self.mteb_model_meta = import_mteb("mteb.models.model_meta").ModelMeta(
            loader=None, name=name if "/" in name else f"mote-lab/{name}",
            revision=hashlib.sha256(key.encode()).hexdigest()[:16], release_date=None, languages=None,
            n_parameters=None, memory_usage_mb=None, max_tokens=None, embed_dim=None, license=None,
            open_weights=None, public_training_code=None, public_training_data=None, framework=["PyTorch"],
            similarity_fn_name="cosine", use_instructions=False, training_datasets=None,
        )

    def encode(self, inputs, *, task_metadata, hf_split: str, hf_subset: str, prompt_type=None, **kwargs) -> np.ndarray:
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
        return torch.from_numpy(embedding_similarity(embeddings1, embeddings2, self.method, self.model.hidden_size))

    def similarity_pairwise(self, embeddings1, embeddings2) -> torch.Tensor:
        return torch.from_numpy(embedding_similarity(embeddings1, embeddings2, self.method, self.model.hidden_size, pairwise=True))


def moee_encoder_class() -> type:
    """``MoEEEncoder``: ``_MoEEEncoder`` on mteb's ``AbsEncoder``, made (and mteb imported) on first use."""
    return mteb_subclass(_MoEEEncoder, "mteb.models.abs_encoder.AbsEncoder", "MoEEEncoder")


def __getattr__(name: str):  # PEP 562: ``from mote_lib.moee.mteb import MoEEEncoder``
    if name == "MoEEEncoder":
        return moee_encoder_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def paper_tasks() -> list:
    """The paper's 19 MTEB tasks (``PAPER_TASKS``) as mteb task objects (metadata needs no network; their data does)."""
    return list(import_mteb().get_tasks(tasks=[name for names in PAPER_TASKS.values() for name in names]))


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

    tables = []
    for prompt in prompts:
        prompted = source.with_prompt(prompt) if isinstance(source, MoEELM) else _no_prompt(source, prompt)
        # One forward pass per text for all methods (and, given a CachedFeatures, across calls).
        shared = prompted if isinstance(prompted, CachedFeatures) else CachedFeatures(prompted)
        for method in methods:
            encoder = moee_encoder_class()(shared, method=method, alpha=alpha, name=f"{label}-{prompt}-{method}")
            table = evaluate_encoder(encoder, tasks, label=f"{label}/{prompt}/{method}", profile=profile,
                                     store=store, show_progress=show_progress)
            tables.append(table.assign(model_label=label, prompt=prompt, method=method,
                                       alpha=[_alpha_used(encoder, task) for task in table.task]))
    return pd.concat(tables, ignore_index=True)


def _alpha_used(encoder: _MoEEEncoder, task: str) -> float:
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
