"""The paper's aggregation of an evaluation table: means per task type, gains over EM, the gain ratio.

Gains are computed per dataset (model - reference), then averaged per task type and over all
datasets, as the paper does. The gain ratio has the pre-registered meaning of
``mote_lib.verdicts.gain_ratio``: gain(model) / gain(baseline) only when both gains are positive
(a ratio of two losses would read as a gain); otherwise there is no ratio, shown as NaN.

Example:
    >>> import pandas as pd
    >>> from mote_lib.evaluate.aggregate import gain_ratios
    >>> rows = [("em", 40.0), ("ic", 42.0), ("mote", 45.0)]
    >>> table = pd.DataFrame([{"model": m, "task": "R1", "task_type": "Retrieval", "score": s, "error": None} for m, s in rows])
    >>> gain_ratios(table)["retrieval"]
    {'gain_mote': 5.0, 'gain_ic': 2.0, 'ratio': 2.5}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mote_lib.names import RETRIEVAL_TYPES
from mote_lib.verdicts import gain_ratio

if TYPE_CHECKING:
    import pandas as pd


def per_query_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Each query's main score (x100) behind the retrieval and reranking rows of ``table``.

    They are pytrec_eval's per-query values that mteb averages into the task's score (kept by the
    shipped tasks, see ``mote_lib.mteb_tasks``); the paired bootstrap over queries resamples them.

    Returns:
        Columns model, seed, task, task_type, split, query_id, score; empty for tables without such rows.
    """
    import pandas as pd

    frames = []
    for row in table[table["error"].isna()].itertuples():
        if row.task_type not in RETRIEVAL_TYPES or not isinstance(getattr(row, "result_file", None), str):
            continue
        stored = json.loads(Path(row.result_file).read_text()).get("per_query_scores", {}).get(row.split)
        if stored is None:
            raise ValueError(f"{row.result_file} holds no per-query scores for split {row.split!r}"
                             " (a hub task, or a result stored before they were kept)")
        frames.append(pd.DataFrame({"model": row.model, "seed": row.seed, "task": row.task, "task_type": row.task_type, "split": row.split,
                                    "query_id": list(stored), "score": 100 * np.array(list(stored.values()), dtype=float)}))
    columns = ["model", "seed", "task", "task_type", "split", "query_id", "score"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def scores_by_task(table: pd.DataFrame) -> pd.DataFrame:
    """Per-dataset scores: one row per (task_type, task), one column per model (mean over splits and seeds)."""
    ok = table[table["error"].isna()]
    return ok.pivot_table(index=["task_type", "task"], columns="model", values="score", aggfunc="mean")


def summary_table(table: pd.DataFrame, reference: str = "em") -> pd.DataFrame:
    """The paper's main table: mean score per task type and over all datasets, and gains over ``reference``.

    Gains are computed per dataset (model - reference), then averaged per type and overall, as the
    paper does. Rows: models, then ``gain <model>`` for every other model.
    """
    import pandas as pd

    per_task = scores_by_task(table)
    if reference not in per_task.columns:
        raise ValueError(f"reference model {reference!r} is not in the table; models: {list(per_task.columns)}")
    means = type_means(per_task)
    gains = type_means(per_task.drop(columns=reference).sub(per_task[reference], axis=0))
    gains.index = [f"gain {m}" for m in gains.index]
    return pd.concat([means, gains])


def type_means(per_task: pd.DataFrame) -> pd.DataFrame:
    """Models x (task types, then ``average (all datasets)``) from a ``scores_by_task`` table (or its differences)."""
    by_type = per_task.groupby(level="task_type").mean().T
    by_type["average (all datasets)"] = per_task.mean().values
    return by_type


def gain_ratios(table: pd.DataFrame, model: str = "mote", baseline: str = "ic", reference: str = "em") -> dict:
    """The paper's headline: gain(model) / gain(baseline) over ``reference``, for retrieval and overall.

    The paper reports 5.21 / 3.27 = 1.59 (retrieval) and 2.60 / 1.81 = 1.43 (all datasets). The
    ratio is ``mote_lib.verdicts.gain_ratio``'s, as pre-registered: only when both gains are
    positive; otherwise (a loss, no gain, a missing score) ``ratio`` is NaN and the two gains say why.

    Returns:
        ``{"retrieval": ..., "overall": ...}`` (a scope without scores is left out), each
        ``{"gain_<model>": float, "gain_<baseline>": float, "ratio": float}``.
    """
    summary = summary_table(table, reference)
    out = {}
    for column, key in (("Retrieval", "retrieval"), ("average (all datasets)", "overall")):
        if column not in summary.columns:
            continue
        gain_model, gain_base = float(summary.loc[f"gain {model}", column]), float(summary.loc[f"gain {baseline}", column])
        ratio = gain_ratio(gain_model, gain_base)
        out[key] = {f"gain_{model}": gain_model, f"gain_{baseline}": gain_base,
                    "ratio": float("nan") if ratio is None else ratio}
    return out
