"""Significance tests for comparing two models' scores: paired tests, paired bootstraps, corrections.

Three questions, three tools:

* is model ``a`` better than model ``b`` over a benchmark's datasets? Paired tests over the
  datasets (``paired_t_test``, ``wilcoxon_test``; ``compare_models`` runs both from the evaluation
  table);
* is it better on one dataset? A paired bootstrap over that dataset's per-example scores
  (``paired_bootstrap``), or over examples and training seeds together (``seed_bootstrap``);
* many comparisons at once? Adjust their p-values (``adjust_p_values``: Holm-Bonferroni, or
  Benjamini-Hochberg through ``scipy.stats.false_discovery_control``).

Every difference is ``a - b``: positive means ``a`` scores higher. Every test is two-sided.

Example:
    >>> from mote_lib.significance import paired_t_test
    >>> result = paired_t_test([0.61, 0.72, 0.55, 0.80], [0.58, 0.70, 0.49, 0.74])
    >>> round(result["mean_diff"], 4), result["n"]
    (0.0425, 4)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

MIN_PAIRS = 2  # a paired test needs a spread of differences: one pair has none
CORRECTIONS = ("holm", "bh")


# ----------------------------------------------------------------------------- paired tests over datasets


def paired_t_test(scores_a, scores_b) -> dict:
    """Paired t-test of ``a - b`` (``scipy.stats.ttest_rel``), with Cohen's d_z as effect size.

    d_z = mean(d) / sd(d) (sample sd, ddof=1), the paired-design effect size. When every
    difference is zero the test has nothing to test: statistic 0, p-value 1, d_z 0 (scipy would
    answer NaN). Differences that are all equal and non-zero give scipy's infinite statistic and p 0.

    Args:
        scores_a: one score per dataset (or unit) for model a.
        scores_b: the same units' scores for model b, in the same order.

    Returns:
        dict with ``test``, ``statistic``, ``p_value``, ``n``, ``mean_diff``, ``effect_size``,
        ``effect_size_name`` (``"cohen_dz"``).

    Example:
        >>> r = paired_t_test([2, 4, 6, 8, 10], [1, 2, 3, 4, 5])   # d = 1..5: t = 3 / (sqrt(2.5) / sqrt(5))
        >>> round(r["statistic"], 4), round(r["p_value"], 4)
        (4.2426, 0.0132)
    """
    diff = _differences(scores_a, scores_b)
    result = {"test": "paired_t", "n": diff.size, "mean_diff": float(diff.mean()), "effect_size_name": "cohen_dz"}
    if not diff.any():
        return result | {"statistic": 0.0, "p_value": 1.0, "effect_size": 0.0}
    sd = diff.std(ddof=1)
    test = stats.ttest_rel(np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float))
    effect = float(diff.mean() / sd) if sd > 0 else float(np.sign(diff.mean()) * np.inf)
    return result | {"statistic": float(test.statistic), "p_value": float(test.pvalue), "effect_size": effect}


def wilcoxon_test(scores_a, scores_b) -> dict:
    """Wilcoxon signed-rank test of ``a - b`` (``scipy.stats.wilcoxon``), with the rank-biserial correlation.

    Zero differences are dropped before ranking (scipy's default ``zero_method="wilcox"``); scipy
    picks the exact null distribution for small samples without ties and the normal approximation
    otherwise (``method="auto"``). The statistic is scipy's: the smaller of the positive and negative
    rank sums. Rank-biserial r = (W+ - W-) / (W+ + W-), over the non-zero differences: +1 when ``a``
    wins every pair, -1 when ``b`` does. When every difference is zero: statistic 0, p 1, r 0.

    Returns:
        dict with ``test``, ``statistic``, ``p_value``, ``n`` (pairs), ``n_nonzero``, ``mean_diff``,
        ``effect_size``, ``effect_size_name`` (``"rank_biserial"``).

    Example:
        >>> r = wilcoxon_test([2, 4, 6, 8, 10], [1, 2, 3, 4, 5])   # a wins all 5: p = 2 / 2**5
        >>> r["p_value"], r["effect_size"]
        (0.0625, 1.0)
    """
    diff = _differences(scores_a, scores_b)
    nonzero = diff[diff != 0]
    result = {"test": "wilcoxon", "n": diff.size, "n_nonzero": nonzero.size, "mean_diff": float(diff.mean()),
              "effect_size_name": "rank_biserial"}
    if nonzero.size == 0:
        return result | {"statistic": 0.0, "p_value": 1.0, "effect_size": 0.0}
    ranks = stats.rankdata(np.abs(nonzero))
    plus, minus = ranks[nonzero > 0].sum(), ranks[nonzero < 0].sum()
    # Passing the differences (not a and b) avoids round-off splitting ties (scipy's own advice).
    test = stats.wilcoxon(diff)
    return result | {"statistic": float(test.statistic), "p_value": float(test.pvalue),
                     "effect_size": float((plus - minus) / (plus + minus))}


def paired_tests(scores_a, scores_b) -> pd.DataFrame:
    """Both paired tests (t-test and Wilcoxon) as a two-row table; columns as in ``paired_t_test``."""
    return pd.DataFrame([paired_t_test(scores_a, scores_b), wilcoxon_test(scores_a, scores_b)])


def _differences(scores_a, scores_b) -> np.ndarray:
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"paired scores must be two 1-D sequences of equal length; got shapes {a.shape} and {b.shape}")
    if a.size < MIN_PAIRS:
        raise ValueError(f"a paired test needs at least {MIN_PAIRS} pairs; got {a.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("paired scores contain NaN or infinite values")
    return a - b


# ----------------------------------------------------------------------------- paired bootstrap within a dataset


def paired_bootstrap(scores_a, scores_b, n_resamples: int = 10_000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Paired bootstrap of the mean per-example difference ``a - b`` on one dataset.

    Each resample draws the examples with replacement (the same draw for both models, so the
    pairing is kept) and takes the mean difference. The confidence interval is the percentile
    interval of the resampled means. The two-sided p-value (ours: the shift method) asks how often
    a resampled mean, re-centred on zero (the null of no difference), lies at least as far from
    zero as the observed mean: p = (1 + #{|m* - m| >= |m|}) / (1 + n_resamples), never 0.

    Args:
        scores_a: per-example scores of model a (e.g. each query's nDCG@10).
        scores_b: the same examples' scores for model b.
        n_resamples: bootstrap resamples.
        seed: seed of the resampling (same seed, same answer).
        confidence: coverage of the interval.

    Returns:
        dict with ``mean_diff``, ``ci_low``, ``ci_high``, ``p_value``, ``n``, ``n_resamples``, ``confidence``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> b = rng.normal(0.5, 0.1, 200)
        >>> r = paired_bootstrap(b + 0.05, b, n_resamples=1000)
        >>> round(r["mean_diff"], 6), r["p_value"] < 0.01
        (0.05, True)
    """
    diff = _differences(scores_a, scores_b)
    result = seed_bootstrap(diff[None, :], np.zeros((1, diff.size)), n_resamples, seed, confidence)
    return {key: value for key, value in result.items() if key not in ("n_seeds_a", "n_seeds_b")}


def seed_bootstrap(scores_a, scores_b, n_resamples: int = 10_000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Two-level bootstrap of ``a - b`` over examples and training seeds of one dataset.

    ``scores_a`` is (seeds of a, examples), ``scores_b`` (seeds of b, examples): the same examples
    in the same order, each row one training run. The statistic is the difference of the
    seed-averaged mean scores. Each resample (ours) draws the examples with replacement (one draw
    for both models: they are scored on the same examples) and, independently, the seeds of each
    model with replacement (the runs of a and b are independent, so no seed pairing is assumed).
    The interval then covers both the test set's and the training seeds' variation. Interval and
    p-value as in ``paired_bootstrap``; with one seed per model it is ``paired_bootstrap``.

    Returns:
        dict with ``mean_diff``, ``ci_low``, ``ci_high``, ``p_value``, ``n`` (examples),
        ``n_seeds_a``, ``n_seeds_b``, ``n_resamples``, ``confidence``.

    Example:
        >>> import numpy as np
        >>> a = np.array([[0.7, 0.8, 0.6], [0.72, 0.79, 0.61]])   # 2 seeds, 3 examples
        >>> b = np.array([[0.6, 0.7, 0.6]])
        >>> round(seed_bootstrap(a, b, n_resamples=500)["mean_diff"], 4)
        0.07
    """
    a, b = _seed_matrix(scores_a, "scores_a"), _seed_matrix(scores_b, "scores_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"both models must be scored on the same examples; got {a.shape[1]} and {b.shape[1]}")
    if a.shape[1] < MIN_PAIRS:
        raise ValueError(f"a bootstrap needs at least {MIN_PAIRS} examples; got {a.shape[1]}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive; got {n_resamples}")
    observed = float(a.mean() - b.mean())
    resampled = _resampled_differences(a, b, n_resamples, np.random.default_rng(seed))
    alpha = 1 - confidence
    low, high = np.quantile(resampled, [alpha / 2, 1 - alpha / 2])
    extreme = np.abs(resampled - observed) >= abs(observed)
    return {"mean_diff": observed, "ci_low": float(low), "ci_high": float(high),
            "p_value": float((1 + extreme.sum()) / (1 + n_resamples)), "n": a.shape[1],
            "n_seeds_a": a.shape[0], "n_seeds_b": b.shape[0], "n_resamples": n_resamples, "confidence": confidence}


def _seed_matrix(scores, name: str) -> np.ndarray:
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be 2-D (seeds, examples); got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return matrix


def _resampled_differences(a: np.ndarray, b: np.ndarray, n_resamples: int, rng: np.random.Generator,
                           chunk: int = 1000) -> np.ndarray:
    """Seed-averaged mean difference for each resample, in chunks so memory stays (chunk x examples)."""
    n = a.shape[1]
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        # Example counts per resample: a draw with replacement is a multinomial of n over n examples.
        weights = rng.multinomial(n, np.full(n, 1 / n), size=size) / n          # (size, examples)
        seeds_a = rng.multinomial(a.shape[0], np.full(a.shape[0], 1 / a.shape[0]), size=size) / a.shape[0]
        seeds_b = rng.multinomial(b.shape[0], np.full(b.shape[0], 1 / b.shape[0]), size=size) / b.shape[0]
        mean_a = ((weights @ a.T) * seeds_a).sum(1)  # per-seed resampled means, averaged over resampled seeds
        mean_b = ((weights @ b.T) * seeds_b).sum(1)
        out[start : start + size] = mean_a - mean_b
    return out


# ----------------------------------------------------------------------------- multiple comparisons


def adjust_p_values(p_values, method: str = "holm") -> np.ndarray:
    """Adjust p-values for multiple comparisons, in the input order.

    ``holm``: Holm-Bonferroni step-down (controls the family-wise error rate; implemented here:
    the i-th smallest p is multiplied by (m - i + 1), made non-decreasing, capped at 1).
    ``bh``: Benjamini-Hochberg (controls the false discovery rate; ``scipy.stats.false_discovery_control``).

    Example:
        >>> adjust_p_values([0.01, 0.04, 0.03, 0.005], "holm").round(4).tolist()
        [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"p_values must be a non-empty 1-D sequence; got shape {p.shape}")
    if not ((p >= 0) & (p <= 1)).all():
        raise ValueError(f"p-values must lie in [0, 1]; got {p.tolist()}")
    if method == "bh":
        return np.asarray(stats.false_discovery_control(p, method="bh"))
    if method != "holm":
        raise ValueError(f"unknown correction {method!r}; valid: {list(CORRECTIONS)}")
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (p.size - np.arange(p.size)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


# ----------------------------------------------------------------------------- from the evaluation table


def compare_models(table: pd.DataFrame, a: str, b: str, by: str = "task", column: str = "model",
                   within: str | None = None, correction: str = "holm") -> pd.DataFrame:
    """Compare two models of an evaluation table with both paired tests.

    The table is the evaluation module's tidy format: one row per (model, variant, seed, task,
    split) with columns ``model, variant, seed, task, task_type, split, main_metric, score``.
    Scores are averaged over seeds per task; ``by="task"`` pairs the two models' task scores (one
    pair per dataset), ``by="task_type"`` first averages the tasks of each type (one pair per type).

    Args:
        table: the evaluation table.
        a, b: the two models, values of ``column``.
        by: the unit of pairing, ``"task"`` or ``"task_type"``.
        column: the column naming models (``"model"`` or ``"variant"``).
        within: ``None`` for one comparison over all units, or ``"task_type"`` for one comparison
            per task type (of its tasks; needs ``by="task"``) whose p-values are then adjusted.
        correction: ``"holm"`` or ``"bh"``, over the groups of ``within`` for each test.

    Returns:
        one row per (group, test): ``a, b, by, group, test, n, mean_a, mean_b, mean_diff,
        statistic, p_value, p_adjusted, effect_size, effect_size_name``; ``group`` is ``"all"``
        without ``within``, where ``p_adjusted`` equals ``p_value``.

    Example:
        >>> import pandas as pd
        >>> rows = [("ic", 0, t, "Retrieval", s) for t, s in zip("pqrs", (0.40, 0.52, 0.31, 0.66))]
        >>> rows += [("mote", 0, t, "Retrieval", s) for t, s in zip("pqrs", (0.45, 0.55, 0.36, 0.67))]
        >>> table = pd.DataFrame(rows, columns=["model", "seed", "task", "task_type", "score"])
        >>> compare_models(table, "mote", "ic")[["test", "n", "mean_diff"]].round(3).values.tolist()
        [['paired_t', 4, 0.035], ['wilcoxon', 4, 0.035]]
    """
    if by not in ("task", "task_type"):
        raise ValueError(f"unknown by={by!r}; valid: ['task', 'task_type']")
    if within not in (None, "task_type"):
        raise ValueError(f"unknown within={within!r}; valid: [None, 'task_type']")
    if within is not None and by != "task":
        raise ValueError("within='task_type' compares the tasks of each type: it needs by='task'")
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; valid: {list(CORRECTIONS)}")
    if a == b:
        raise ValueError(f"compare two different models; got {a!r} twice")
    paired = _paired_task_scores(table, a, b, column)
    groups = [("all", paired)] if within is None else list(paired.groupby("task_type", sort=True))
    rows = []
    for group, units in groups:
        if by == "task_type":
            units = units.groupby("task_type")[["a", "b"]].mean()
        for test in (paired_t_test(units["a"], units["b"]), wilcoxon_test(units["a"], units["b"])):
            rows.append({"a": a, "b": b, "by": by, "group": group, "mean_a": float(units["a"].mean()),
                         "mean_b": float(units["b"].mean()), **test})
    result = pd.DataFrame(rows)
    result["p_adjusted"] = result["p_value"]
    if within is not None:
        for _test, index in result.groupby("test").groups.items():
            result.loc[index, "p_adjusted"] = adjust_p_values(result.loc[index, "p_value"], correction)
    columns = ["a", "b", "by", "group", "test", "n", "mean_a", "mean_b", "mean_diff", "statistic", "p_value",
               "p_adjusted", "effect_size", "effect_size_name"]
    return result[columns]


def _paired_task_scores(table: pd.DataFrame, a: str, b: str, column: str) -> pd.DataFrame:
    """One row per task scored for both models: ``task, task_type, a, b`` (seed-averaged scores)."""
    needed = {column, "seed", "task", "task_type", "score"}
    missing = sorted(needed - set(table.columns))
    if missing:
        raise ValueError(f"the table lacks column(s) {missing}; it needs {sorted(needed)}")
    known = sorted(table[column].unique())
    for name in (a, b):
        if name not in known:
            raise ValueError(f"no rows with {column}={name!r}; the table has {known}")
    rows = table[table[column].isin([a, b])]
    if "split" in rows.columns:
        splits = rows.groupby([column, "task"])["split"].nunique()
        several = sorted(set(splits[splits > 1].index.get_level_values("task")))
        if several:
            raise ValueError(f"task(s) {several} have scores on several splits; keep one split per task first")
    per_task = rows.groupby([column, "task", "task_type"])["score"].mean().unstack(column)
    only = {name: sorted(per_task.index[per_task[name].isna()].get_level_values("task")) for name in (a, b)}
    if only[a] or only[b]:
        raise ValueError(f"tasks must be scored for both models; missing for {a!r}: {only[a]}, for {b!r}: {only[b]}")
    return per_task.rename(columns={a: "a", b: "b"})[["a", "b"]].reset_index()


def bootstrap_by_task(per_example: pd.DataFrame, a: str, b: str, n_resamples: int = 10_000, seed: int = 0,
                      correction: str = "holm", column: str = "model") -> pd.DataFrame:
    """``seed_bootstrap`` of ``a - b`` on every dataset of a per-example table, p-values adjusted over datasets.

    Args:
        per_example: one row per (model, seed, task, example) with columns ``model, seed, task,
            query_id, score`` (``evaluate.per_query_scores``' format; ``task_type`` is kept if present).
        a, b: the two models (values of ``column``).
        correction: ``"holm"`` or ``"bh"`` over the datasets.

    Returns:
        one row per task: ``task, task_type, a, b, n, n_seeds_a, n_seeds_b, mean_diff, ci_low,
        ci_high, p_value, p_adjusted``.

    Example:
        >>> rows = [(m, 0, "T", q, s + (0.1 if m == "a" else 0)) for m in "ab" for q, s in enumerate([0.2, 0.5, 0.4, 0.9])]
        >>> table = pd.DataFrame(rows, columns=["model", "seed", "task", "query_id", "score"])
        >>> round(float(bootstrap_by_task(table, "a", "b", n_resamples=200).loc[0, "mean_diff"]), 6)
        0.1
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; valid: {list(CORRECTIONS)}")
    for model in (a, b):
        if model not in set(per_example[column]):
            raise ValueError(f"model {model!r} is not in the table; models: {sorted(set(per_example[column]))}")
    rows = []
    for task, scores in per_example[per_example[column].isin([a, b])].groupby("task", sort=True):
        matrix = scores.pivot_table(index=[column, "seed"], columns="query_id", values="score")
        if matrix.isna().any().any():
            raise ValueError(f"task {task!r}: the models' runs are not all scored on the same examples")
        result = seed_bootstrap(matrix.loc[a].to_numpy(), matrix.loc[b].to_numpy(), n_resamples, seed)
        task_type = scores["task_type"].iloc[0] if "task_type" in scores else None
        rows.append({"task": task, "task_type": task_type, "a": a, "b": b, **result})
    table = pd.DataFrame(rows)
    table["p_adjusted"] = adjust_p_values(table["p_value"], correction)
    columns = ["task", "task_type", "a", "b", "n", "n_seeds_a", "n_seeds_b", "mean_diff", "ci_low", "ci_high",
               "p_value", "p_adjusted"]
    return table[columns]
