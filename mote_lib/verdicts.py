"""Verdicts on claims "model a beats model b": an effect with an honest interval, its MDE, and a label.

Both models are trained with several seeds and scored per query (or once per dataset, e.g. a
classification accuracy). The pre-registered analysis of one comparison:

* ``pair_scores`` builds the paired table ``seed, dataset, query, a, b`` from a long score table,
  pairing a's i-th smallest seed with b's i-th smallest seed (disjoint seed sets work: an A/A test);
* ``estimate`` turns it into the effect (``a - b``, x100 points, each dataset weighing the same) with
  a t interval whose standard error adds the seed-to-seed and the query-to-query variance, a p-value
  and the minimum detectable effect (MDE, 80% power at 5% two-sided);
* ``directional_verdict`` checks a paper's claimed gain ("supported", "supported, smaller than
  reported", "contradicted", "inconclusive", with the seeds a decision would take),
  ``direction_only_verdict`` a claim that gives a direction but no magnitude, and
  ``equivalence_verdict`` a claim of no difference (TOST: it can fail; ``tost_p_value`` its p);
* ``gain_ratio`` and ``sign_flip_test`` (trained models on one dataset's queries) complete it;
  ``mote_lib.calibration`` measures the false-verdict rate of the whole procedure.

Every difference is ``a - b`` and on the scale of the scores (x100 in this project: a paper's gain
and an equivalence margin must be given on that scale). Decisions use unrounded values; only the
reasons are rounded.

Example:
    >>> import pandas as pd
    >>> rows = [(s, d, q, 50 + q + s, 49 + q + s + (0.1 * s if d == "T1" else 0))
    ...         for s in range(3) for d in ("T1", "T2") for q in range(4)]
    >>> paired = pd.DataFrame(rows, columns=["seed", "dataset", "query", "a", "b"])
    >>> est = estimate(paired)
    >>> round(est.effect, 4), est.n_seeds, est.n_datasets
    (0.95, 3, 2)
    >>> directional_verdict(est, paper_effect=1.5).label
    'supported, smaller than reported'
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

SUPPORTED = "supported"
SMALLER = "supported, smaller than reported"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive"
LABELS = (SUPPORTED, SMALLER, CONTRADICTED, INCONCLUSIVE)
MAX_SEEDS = 1000  # seeds_needed beyond this is "not with seeds": no training budget reaches it


# ----------------------------------------------------------------------------- pairing


def pair_scores(per_query: pd.DataFrame, a: str, b: str, *, model_col: str = "model", score_col: str = "score",
                dataset_col: str = "dataset", query_col: str = "query") -> pd.DataFrame:
    """The paired table of two models: a's i-th smallest seed against b's i-th smallest seed.

    Pairing by rank (not by seed value) lets disjoint seed sets be compared, e.g. IC seeds {0, 1, 2}
    against IC seeds {3, 4, 5} relabelled as a second model (an A/A test). Within a seed pair the
    two runs are inner-joined on (dataset, query); ``estimate`` then checks that every pair covers
    the same units.

    Args:
        per_query: long table with columns ``model_col, seed, dataset_col, score_col`` and, when
            there are several scores per dataset, ``query_col`` (``evaluate.per_query_scores``'
            table works with ``dataset_col="task", query_col="query_id"``).
        a, b: the two models (values of ``model_col``).

    Returns:
        columns ``seed`` (the pair's rank 0..S-1), ``seed_a``, ``seed_b``, ``dataset``, ``query``
        (only when ``query_col`` is a column), ``a``, ``b``.

    Raises:
        ValueError: missing columns or models, a == b, unequal seed counts, duplicate scores, or
            no row left after pairing.

    Example:
        >>> rows = [("ic", s, "T", q, 50.0 + q) for s in (0, 1) for q in range(3)]
        >>> rows += [("ic2", s, "T", q, 49.0 + q) for s in (7, 5) for q in range(3)]
        >>> table = pd.DataFrame(rows, columns=["model", "seed", "dataset", "query", "score"])
        >>> paired = pair_scores(table, "ic", "ic2")
        >>> paired.drop_duplicates("seed")[["seed", "seed_a", "seed_b"]].values.tolist()
        [[0, 0, 5], [1, 1, 7]]
    """
    has_query = query_col in per_query.columns
    needed = [model_col, "seed", dataset_col, score_col] + ([query_col] if has_query else [])
    missing = sorted(set(needed) - set(per_query.columns))
    if missing:
        raise ValueError(f"the score table lacks column(s) {missing}; it needs {needed}")
    if a == b:
        raise ValueError(f"pair two different models; got {a!r} twice (relabel one seed set for an A/A test)")
    keys = [dataset_col] + ([query_col] if has_query else [])
    runs = {}
    for model in (a, b):
        rows = per_query.loc[per_query[model_col] == model, ["seed"] + keys + [score_col]]
        if rows.empty:
            raise ValueError(f"no rows with {model_col}={model!r}; models: {sorted(per_query[model_col].unique())}")
        if rows.duplicated(["seed"] + keys).any():
            raise ValueError(f"model {model!r} has several scores for one (seed, {', '.join(keys)}); "
                             f"{'' if has_query else f'pass the per-query table with a {query_col!r} column, or '}"
                             "deduplicate first")
        runs[model] = rows
    seeds_a, seeds_b = (sorted(runs[m]["seed"].unique().tolist()) for m in (a, b))
    if len(seeds_a) != len(seeds_b):
        raise ValueError(f"seeds are paired by rank, so both models need as many seeds; "
                         f"{a!r} has {len(seeds_a)} {seeds_a}, {b!r} has {len(seeds_b)} {seeds_b}")
    frames = []
    for rank, (seed_a, seed_b) in enumerate(zip(seeds_a, seeds_b)):
        run_a = runs[a].loc[runs[a]["seed"] == seed_a, keys + [score_col]].rename(columns={score_col: "a"})
        run_b = runs[b].loc[runs[b]["seed"] == seed_b, keys + [score_col]].rename(columns={score_col: "b"})
        joined = run_a.merge(run_b, on=keys, how="inner")
        frames.append(joined.assign(seed=rank, seed_a=seed_a, seed_b=seed_b))
    paired = pd.concat(frames, ignore_index=True)
    if paired.empty:
        raise ValueError(f"pairing {a!r} with {b!r} left no rows: their runs share no ({', '.join(keys)})")
    paired = paired.rename(columns={dataset_col: "dataset", query_col: "query"})
    columns = ["seed", "seed_a", "seed_b", "dataset"] + (["query"] if has_query else []) + ["a", "b"]
    return paired[columns]


# ----------------------------------------------------------------------------- the estimate


@dataclass(frozen=True)
class Estimate:
    """One comparison's effect ``a - b`` with its interval, p-value and MDE (see ``estimate``).

    ``se_seed`` is NaN when there is a single seed pair (``seed_variance_estimated`` False); then
    ``se``, ``df``, the interval, p and MDE are query-only and must not be read as a decision.
    ``n_queries`` counts the (dataset, query) units (a dataset without queries counts one);
    ``df_query`` is the query level's degrees of freedom, the sum over datasets of (n_d - 1).
    """

    effect: float
    se: float
    se_seed: float
    se_query: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float
    mde: float
    n_seeds: int
    n_datasets: int
    n_queries: int
    seed_variance_estimated: bool
    df_query: float
    confidence: float = 0.95
    power: float = 0.80

    def as_dict(self) -> dict:
        """The fields as a plain dict (one row of a claims table)."""
        return dataclasses.asdict(self)


VARIANCES = ("amended", "registered")  # estimate's variance: docs/preregistration.md, amendment 1 (A1), and as registered


def estimate(paired: pd.DataFrame, confidence: float = 0.95, power: float = 0.80, variance: str = "amended") -> Estimate:
    """Effect of ``a - b`` over seeds, datasets and queries, with a t interval, p-value and MDE.

    The endpoint θ is the mean over datasets (each weighs the same) of the mean over seeds and
    queries of x = a - b. Its variance has two parts:

    * seed level: E_s, the dataset-weighted mean of x for seed pair s; SE_seed² = var(E_s) / S;
    * query level: per dataset, x̄_{d,i} the seed-mean of x for query i;
      SE_query² = Σ_d var_i(x̄_{d,i}) / n_d / D² (0 for datasets with one score).

    SE² = SE_seed² + SE_query². As registered (``variance="registered"``) the seed-by-query
    interaction is in both parts: var(E_s)/S holds Σ_d σ²_e,d / (S n_d D²) and the seed-averaged
    query means hold it again, so the interval is too wide (1-3% false verdicts at the 5% level in
    null simulations). Amended (``variance="amended"``, the default; the pre-registration's
    amendment 1) each component is counted once: the seed level keeps the seed component alone,
    SE_seed² = max(0, var(E_s)/S - Σ_d MS_e,d / (S n_d D²)), with MS_e,d the interaction mean square
    of dataset d's (seed x query) table; datasets with one score per seed keep all of theirs there.
    The degrees of freedom are those of the seed level, S - 1, whenever it has a variance
    (the query level's Σ_d (n_d - 1) only when it is the sole part). The interval is
    θ ± t(½ + confidence/2, df)·SE, p is two-sided from the same t, and
    MDE = (t(½ + confidence/2, df) + t(power, df))·SE.

    With one seed pair the seed variance cannot be estimated: the estimate is query-only and
    flagged (``seed_variance_estimated=False``); queries are never pooled across seeds to shrink SE.

    Why S - 1 and not Welch-Satterthwaite's df: Satterthwaite's df is itself estimated, and a
    small seed variance drawn by chance shrinks SE and inflates the df together. In simulation
    (``simulate_null_verdicts``, 3 datasets x 200 queries, query sd 15, no true effect) it let 7-9%
    of intervals exclude 0 with 2 seed pairs (12% when seed noise dominates) and up to 7% with 3;
    S - 1 keeps the rate at or below the nominal 5%, at the price of a wider MDE with few seeds.

    Args:
        paired: columns ``seed, dataset, a, b`` and, for per-query scores, ``query`` (see
            ``pair_scores``); every seed pair must cover the same (dataset, query) units once.
        confidence: coverage of the interval (0.95: the MDE is then at 5% two-sided).
        power: power of the MDE.

    Example:
        >>> rows = [(s, "T", q, 50.0 + q + s, 49.0 + q) for s in range(3) for q in range(5)]
        >>> est = estimate(pd.DataFrame(rows, columns=["seed", "dataset", "query", "a", "b"]))
        >>> est.effect, round(est.se_seed, 4), est.se_query, est.df   # x = 1 + s: only seeds vary
        (2.0, 0.5774, 0.0, 2.0)
    """
    if not 0 < confidence < 1 or not 0 < power < 1:
        raise ValueError(f"confidence and power must lie in (0, 1); got {confidence} and {power}")
    if variance not in VARIANCES:
        raise ValueError(f"variance={variance!r}: choose one of {VARIANCES}")
    x, has_query = _differences(paired)
    cells = x.groupby(["seed", "dataset"])["x"].mean().unstack("dataset")  # (S, D): seed pair x dataset
    n_seeds, n_datasets = cells.shape
    per_seed = cells.mean(axis=1).to_numpy()  # E_s: each dataset weighs the same
    effect = float(per_seed.mean())  # balanced design: equals the mean over datasets of seed-query means
    var_query, df_query, n_queries = _query_variance(x, has_query, n_datasets)
    seeded = n_seeds >= 2
    var_seed = float(per_seed.var(ddof=1) / n_seeds) if seeded else math.nan
    if seeded and has_query and variance == "amended":
        var_seed = max(0.0, var_seed - interaction_share(x, n_datasets))
    if not seeded and df_query == 0:
        var_query = math.nan  # one seed and one score per dataset: no variance is estimable at all
    se, df, low, high, p, mde = (float(v) for v in _combine(effect, var_seed if seeded else 0.0, var_query,
                                                             n_seeds - 1, df_query, confidence, power))
    return Estimate(effect=effect, se=se, se_seed=math.sqrt(var_seed), se_query=math.sqrt(var_query), df=df,
                    ci_low=low, ci_high=high, p_value=p, mde=mde, n_seeds=n_seeds, n_datasets=n_datasets,
                    n_queries=n_queries, seed_variance_estimated=seeded, df_query=float(df_query),
                    confidence=confidence, power=power)


def _differences(paired: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Validated ``seed, dataset, query, x`` (x = a - b); a missing query column becomes one unit per dataset."""
    needed = {"seed", "dataset", "a", "b"}
    missing = sorted(needed - set(paired.columns))
    if missing:
        raise ValueError(f"the paired table lacks column(s) {missing}; it needs {sorted(needed)} (and 'query')")
    if paired.empty:
        raise ValueError("the paired table is empty")
    has_query = "query" in paired.columns
    x = pd.DataFrame({"seed": paired["seed"].to_numpy(), "dataset": paired["dataset"].to_numpy(),
                      "query": paired["query"].to_numpy() if has_query else 0,
                      "x": paired["a"].to_numpy(dtype=float) - paired["b"].to_numpy(dtype=float)})
    if not np.isfinite(x["x"]).all():
        raise ValueError("the paired scores contain NaN or infinite values")
    if x.duplicated(["seed", "dataset", "query"]).any():
        raise ValueError("several rows for one (seed, dataset, query)"
                         + ("" if has_query else ": add a 'query' column for per-query scores"))
    # Unbalanced seeds would make θ depend on which runs lost queries: require the same units everywhere.
    coverage = x.groupby(["dataset", "query"], dropna=False)["seed"].nunique()
    n_seeds = x["seed"].nunique()
    if (coverage != n_seeds).any():
        short = coverage[coverage != n_seeds].index[:5].tolist()
        raise ValueError(f"every seed pair must cover the same (dataset, query) units; {int((coverage != n_seeds).sum())} "
                         f"are missing in some pair, e.g. {short}")
    return x, has_query


def interaction_mean_square(cells: np.ndarray) -> np.ndarray:
    """The residual (seed x query) mean square of two-way tables shaped (..., S, n): (S - 1)(n - 1) degrees of freedom.

        >>> float(interaction_mean_square(np.array([[1.0, 3.0], [3.0, 1.0]])))
        4.0
    """
    n_seeds, n_queries = cells.shape[-2:]
    residual = (cells - cells.mean(axis=-1, keepdims=True) - cells.mean(axis=-2, keepdims=True)
                + cells.mean(axis=(-2, -1), keepdims=True))
    return (residual**2).sum(axis=(-2, -1)) / ((n_seeds - 1) * (n_queries - 1))


def interaction_share(x: pd.DataFrame, n_datasets: int) -> float:
    """Σ_d MS_e,d / (S n_d D²): the seed-by-query interaction's part of var(E_s)/S (columns seed, dataset, query, x).

    MS_e,d is the residual mean square of dataset d's two-way (seed x query) table, with
    (S - 1)(n_d - 1) degrees of freedom; a dataset with one query or one seed adds nothing.

    Example:
        >>> x = pd.DataFrame({"seed": [0, 0, 1, 1], "dataset": "T", "query": [0, 1, 0, 1], "x": [1.0, 3.0, 3.0, 1.0]})
        >>> interaction_share(x, n_datasets=1)   # MS_e = 4 over S = 2, n = 2
        1.0
    """
    total = 0.0
    for _, table in x.groupby("dataset", sort=False):
        cells = table.pivot(index="seed", columns="query", values="x").to_numpy(dtype=float)
        n_seeds, n_queries = cells.shape
        if n_seeds < 2 or n_queries < 2:
            continue
        total += float(interaction_mean_square(cells)) / (n_seeds * n_queries)
    return total / n_datasets**2


def _query_variance(x: pd.DataFrame, has_query: bool, n_datasets: int) -> tuple[float, int, int]:
    """SE_query², its degrees of freedom Σ_d (n_d - 1), and the number of (dataset, query) units."""
    query_means = x.groupby(["dataset", "query"], dropna=False)["x"].mean()  # x̄_{d,i}: seed-mean per query
    n_units = int(query_means.size)
    if not has_query:
        return 0.0, 0, n_units
    per_dataset = query_means.groupby(level="dataset").agg(["var", "size"])
    several = per_dataset[per_dataset["size"] >= 2]  # a dataset with one score has no query spread
    var_query = float((several["var"] / several["size"]).sum() / n_datasets**2)
    return var_query, int((several["size"] - 1).sum()), n_units


def _combine(effect, var_seed, var_query, df_seed, df_query, confidence: float, power: float):
    """SE, df, interval, two-sided p and MDE from the two variance parts (arrays welcome).

    Each level gets its own t quantile: the interval's half-width is
    sqrt(t(q, S-1)² SE_seed² + t(q, df_query)² SE_query²), and the MDE likewise with
    t(q) + t(power). p is the level at which that interval just reaches 0 (found by bisection).
    ``df`` reported is the seed level's (S - 1), or the query level's when seeds carry no variance.
    """
    effect, var_seed, var_query, df_seed, df_query = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (effect, var_seed, var_query, df_seed, df_query)))
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(var_seed + var_query)
        df = np.where(var_seed > 0, df_seed, np.where(var_query > 0, df_query, np.where(np.isnan(se), np.nan, np.inf)))
        half = _half_width(var_seed, var_query, df_seed, df_query, 0.5 + confidence / 2)
        mde = np.sqrt(_scaled(var_seed, df_seed, 0.5 + confidence / 2, power)
                      + _scaled(var_query, df_query, 0.5 + confidence / 2, power))
        p = _p_value(effect, var_seed, var_query, df_seed, df_query)
    return se, df, effect - half, effect + half, p, mde


def _half_width(var_seed, var_query, df_seed, df_query, quantile):
    """sqrt(t(quantile, df_seed)² var_seed + t(quantile, df_query)² var_query); a zero part adds nothing."""
    return np.sqrt(_scaled(var_seed, df_seed, quantile) + _scaled(var_query, df_query, quantile))


def _scaled(var, df, quantile, power=None):
    factor = stats.t.ppf(quantile, df) + (stats.t.ppf(power, df) if power is not None else 0.0)
    return np.where(var > 0, factor**2 * var, np.where(np.isnan(var), np.nan, 0.0))


def _p_value(effect, var_seed, var_query, df_seed, df_query, steps: int = 60):
    """Two-sided p: the alpha whose (1 - alpha) interval has |effect| as its half-width (bisection on log alpha)."""
    low = np.full(effect.shape, -40.0)  # log10 alpha: the interval at alpha = 1e-40 is as wide as it gets here
    high = np.zeros(effect.shape)
    target = np.abs(effect)
    for _ in range(steps):
        middle = (low + high) / 2
        wider = _half_width(var_seed, var_query, df_seed, df_query, 1 - 10**middle / 2) > target
        low, high = np.where(wider, middle, low), np.where(wider, high, middle)
    p = 10 ** ((low + high) / 2)
    se = np.sqrt(var_seed + var_query)
    p = np.where(se == 0, np.where(effect == 0, 1.0, 0.0), p)  # se 0: a non-zero effect is certain
    return np.where(np.isnan(se) | np.isnan(effect), np.nan, np.where(target == 0, 1.0, p))


# ----------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    """A claim's label (one of ``LABELS``), a one-sentence reason, and the seed pairs a decision would take."""

    label: str
    reason: str
    seeds_needed: int | None = None

    def as_dict(self) -> dict:
        """The fields as a plain dict."""
        return dataclasses.asdict(self)


def directional_verdict(est: Estimate, paper_effect: float, max_seeds: int = MAX_SEEDS) -> Verdict:
    """Does the estimate back a paper's directional claim (``a - b`` of ``paper_effect``)?

    The paper's direction is sign(paper_effect). The interval of ``est`` decides:

    * "supported": it excludes 0 on the paper's side; "supported, smaller than reported" when it
      also lies wholly closer to 0 than the paper's effect;
    * "contradicted": it excludes 0 on the opposite side;
    * "inconclusive": it contains 0. ``seeds_needed`` is then the smallest number of seed pairs
      S' >= S whose projected MDE (seed variance SE_seed²·S/S', the current SE_query, t quantiles
      at the projected df) reaches |paper_effect|; S' = S means the current seeds already had 80%
      power for the paper's effect (evidence it is smaller). None when ``max_seeds`` would not do
      (the reason says whether query noise alone is the obstacle) and when there is one seed pair.

    Example:
        >>> est = Estimate(effect=0.75, se=0.2, se_seed=0.2, se_query=0.0, df=4.0, ci_low=0.19,
        ...                ci_high=1.31, p_value=0.02, mde=0.8, n_seeds=5, n_datasets=3, n_queries=3,
        ...                seed_variance_estimated=True, df_query=0.0)
        >>> directional_verdict(est, 0.5)
        Verdict(label='supported', reason="95% CI [+0.19, +1.31] excludes 0 in the paper's direction", seeds_needed=None)
    """
    if not math.isfinite(paper_effect) or paper_effect == 0:
        raise ValueError(f"a directional claim needs a non-zero paper effect; got {paper_effect} "
                         "(use equivalence_verdict for a claim of no difference)")
    if not est.seed_variance_estimated:
        return Verdict(INCONCLUSIVE, f"{est.n_seeds} seed: no seed-to-seed variance", None)
    interval = interval_text(est.ci_low, est.ci_high, est.confidence)
    direction = math.copysign(1.0, paper_effect)
    near, far = sorted((direction * est.ci_low, direction * est.ci_high))  # bounds on the paper's side
    if near > 0:
        if far < abs(paper_effect):
            return Verdict(SMALLER, f"{interval} excludes 0 in the paper's direction but lies below "
                                    f"the paper's {_number(paper_effect)}")
        return Verdict(SUPPORTED, f"{interval} excludes 0 in the paper's direction")
    if far < 0:
        return Verdict(CONTRADICTED, f"{interval} excludes 0 against the paper's direction ({_number(paper_effect)})")
    needed = seeds_needed(est, abs(paper_effect), max_seeds)
    target = f"|effect| {abs(paper_effect):.2f}"
    if needed is None:
        query_only = projected_mde(est, np.array([math.inf]))[0]
        obstacle = (f"query noise alone keeps the MDE at {query_only:.2f}: more queries are needed, not seeds"
                    if query_only > abs(paper_effect) else f"not even {max_seeds} seed pairs would reach it")
        return Verdict(INCONCLUSIVE, f"{interval} includes 0 and the MDE is {est.mde:.2f} vs the paper's "
                                     f"{target}; {obstacle}", None)
    if needed == est.n_seeds:
        return Verdict(INCONCLUSIVE, f"{interval} includes 0 although the MDE {est.mde:.2f} is below the paper's "
                                     f"{target}: the effect is likely smaller than reported", needed)
    return Verdict(INCONCLUSIVE, f"{interval} includes 0 and the MDE is {est.mde:.2f} vs the paper's {target}; "
                                 f"about {needed} seed pairs would give {est.power:.0%} power for it", needed)


def seeds_needed(est: Estimate, effect: float, max_seeds: int = MAX_SEEDS) -> int | None:
    """Smallest S' in [S, max_seeds] whose projected MDE is at most |effect|; None if none (or one seed).

    Example:
        >>> est = Estimate(effect=0.1, se=0.5, se_seed=0.5, se_query=0.0, df=2.0, ci_low=-2.05,
        ...                ci_high=2.25, p_value=0.86, mde=2.68, n_seeds=3, n_datasets=1, n_queries=1,
        ...                seed_variance_estimated=True, df_query=0.0)
        >>> seeds_needed(est, 1.0)   # S' = 7: (2.447 + 0.906)·0.5·sqrt(3/7) = 1.10; S' = 8: (2.365 + 0.896)·0.306 = 1.00
        8
    """
    if not est.seed_variance_estimated or est.n_seeds > max_seeds:
        return None
    candidates = np.arange(est.n_seeds, max_seeds + 1)
    reached = np.flatnonzero(projected_mde(est, candidates) <= abs(effect))
    return int(candidates[reached[0]]) if reached.size else None


def projected_mde(est: Estimate, n_seeds: np.ndarray) -> np.ndarray:
    """The MDE with ``n_seeds`` seed pairs: per-seed variance and SE_query kept, df recomputed."""
    var_seed = est.se_seed**2 * est.n_seeds / n_seeds
    return _combine(0.0, var_seed, est.se_query**2, n_seeds - 1, est.df_query, est.confidence, est.power)[5]


def equivalence_verdict(est: Estimate, margin: float = 1.0) -> Verdict:
    """Is ``a - b`` within ±margin? Two one-sided tests (TOST) at level 1 - confidence (5%).

    * "supported": the (1 - 2·5%) = 90% interval lies inside (-margin, +margin), i.e. both
      one-sided tests reject at 5%;
    * "contradicted": the 95% interval lies wholly outside [-margin, +margin]: the effect is
      significantly larger than the margin, so an equivalence claim can fail;
    * "inconclusive" otherwise (``seeds_needed`` None), and always with one seed pair.

    Example:
        >>> est = Estimate(effect=0.1, se=0.2, se_seed=0.2, se_query=0.0, df=4.0, ci_low=-0.46,
        ...                ci_high=0.66, p_value=0.64, mde=0.8, n_seeds=5, n_datasets=3, n_queries=3,
        ...                seed_variance_estimated=True, df_query=0.0)
        >>> equivalence_verdict(est, margin=1.0).reason
        '90% CI [-0.33, +0.53] lies within ±1.00 (TOST at 5%)'
    """
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be positive; got {margin}")
    if not est.seed_variance_estimated:
        return Verdict(INCONCLUSIVE, f"{est.n_seeds} seed: no seed-to-seed variance", None)
    alpha = 1 - est.confidence
    seeded = est.se_seed**2 if est.seed_variance_estimated else 0.0
    half = float(_half_width(np.float64(seeded), np.float64(est.se_query**2), est.n_seeds - 1, est.df_query, 1 - alpha))
    low, high = est.effect - half, est.effect + half
    narrow = interval_text(low, high, 1 - 2 * alpha)
    wide = interval_text(est.ci_low, est.ci_high, est.confidence)
    if -margin < low and high < margin:
        return Verdict(SUPPORTED, f"{narrow} lies within ±{margin:.2f} (TOST at {alpha:.0%})")
    if est.ci_low > margin or est.ci_high < -margin:
        return Verdict(CONTRADICTED, f"{wide} lies wholly outside ±{margin:.2f}: the difference exceeds the margin")
    return Verdict(INCONCLUSIVE, f"{narrow} is not within ±{margin:.2f} and {wide} overlaps it")


def _number(value: float) -> str:
    """Signed, 2 decimals; a non-zero value that would print as ±0.00 keeps 2 significant digits (honest reasons)."""
    return f"{value:+.2f}" if value == 0 or abs(value) >= 0.005 else f"{value:+.2g}"


def interval_text(low: float, high: float, confidence: float) -> str:
    return f"{confidence:.0%} CI [{_number(low)}, {_number(high)}]"


# ----------------------------------------------------------------------------- helpers


def gain_ratio(gain_a: float, gain_b: float) -> float | None:
    """gain_a / gain_b when both gains are positive, else None (the ratio of two losses reads as a gain).

    Example:
        >>> gain_ratio(1.5, 0.5), gain_ratio(-1.0, -2.0), gain_ratio(1.0, 0.0)
        (3.0, None, None)
    """
    if not (math.isfinite(gain_a) and math.isfinite(gain_b)) or gain_a <= 0 or gain_b <= 0:
        return None
    return gain_a / gain_b


def sign_flip_test(differences, n_resamples: int = 10_000, seed: int = 0) -> dict:
    """Paired sign-flip permutation test of mean(d) = 0 (``scipy.stats.permutation_test``, "samples").

    Under the null each difference is as likely to have either sign, so the null distribution of
    the mean comes from flipping signs: all 2^n patterns when 2^n <= ``n_resamples`` (exact),
    else ``n_resamples`` random ones (p then never 0). Meant for the per-query differences of one
    dataset between two fixed trained models: it answers "do these trained models differ on these
    queries" and does not include the training-seed variance (``estimate`` does).

    Returns:
        dict with ``p_value`` (two-sided), ``exact`` and ``n``.

    Example:
        >>> sign_flip_test([1.0, 2.0, 3.0])   # only +++ and --- are as extreme: 2 of 8 patterns
        {'p_value': 0.25, 'exact': True, 'n': 3}
    """
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or d.size < 1:
        raise ValueError(f"differences must be a non-empty 1-D sequence; got shape {d.shape}")
    if not np.isfinite(d).all():
        raise ValueError("differences contain NaN or infinite values")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive; got {n_resamples}")
    # scipy >= 1.15 takes rng=, older releases random_state= (the project allows scipy >= 1.11).
    key = "rng" if "rng" in inspect.signature(stats.permutation_test).parameters else "random_state"
    result = stats.permutation_test((d,), lambda sample, axis: np.mean(sample, axis=axis), permutation_type="samples",
                                    vectorized=True, n_resamples=n_resamples, alternative="two-sided",
                                    **{key: np.random.default_rng(seed)})
    return {"p_value": float(result.pvalue), "exact": bool(2**d.size <= n_resamples), "n": int(d.size)}


# ----------------------------------------------------------------------------- claims of direction only, equivalence p


def direction_only_verdict(est: Estimate, direction: int) -> Verdict:
    """A claim that gives a direction but no magnitude: the interval's sign alone decides.

    Never "supported, smaller than reported" (there is nothing to be smaller than). When the
    interval contains 0, ``seeds_needed`` is the number of seed pairs that would give 80% power for
    the effect we observe (None when it is 0 or out of reach): a rough guide, optimistic when the
    observed effect is itself inflated by noise.

    Example:
        >>> est = Estimate(effect=-0.75, se=0.2, se_seed=0.2, se_query=0.0, df=4.0, ci_low=-1.31,
        ...                ci_high=-0.19, p_value=0.02, mde=0.8, n_seeds=5, n_datasets=3, n_queries=3,
        ...                seed_variance_estimated=True, df_query=0.0)
        >>> direction_only_verdict(est, -1).label, direction_only_verdict(est, +1).label
        ('supported', 'contradicted')
    """
    if not est.seed_variance_estimated:
        return Verdict(INCONCLUSIVE, f"{est.n_seeds} seed: no seed-to-seed variance", None)
    interval = f"95% CI [{est.ci_low:+.2f}, {est.ci_high:+.2f}]"
    near, far = sorted((direction * est.ci_low, direction * est.ci_high))
    if near > 0:
        return Verdict(SUPPORTED, f"{interval} excludes 0 in the paper's direction (the paper gives no magnitude)")
    if far < 0:
        return Verdict(CONTRADICTED, f"{interval} excludes 0 against the paper's direction")
    observed = abs(est.effect)
    needed = seeds_needed(est, observed) if observed > 0 else None
    if needed:
        target = f"about {needed} seed pairs would give 80% power for the observed |effect| {observed:.2f}"
    elif observed > 0 and query_only_mde(est) > observed:
        target = f"query noise alone keeps the MDE above the observed |effect| {observed:.2f}: more queries are needed, not seeds"
    else:
        target = f"not even {MAX_SEEDS} seed pairs would give 80% power for the observed |effect| {observed:.2f}"
    return Verdict(INCONCLUSIVE, f"{interval} includes 0; the paper gives only a direction: {target}", needed)


def query_only_mde(est: Estimate) -> float:
    """The MDE with infinitely many seed pairs: what the query sampling alone allows."""
    if est.se_query == 0 or not math.isfinite(est.se_query):
        return 0.0
    quantiles = stats.t.ppf(0.5 + est.confidence / 2, est.df_query) + stats.t.ppf(est.power, est.df_query)
    return float(quantiles * est.se_query)


def tost_p_value(paired: pd.DataFrame, margin: float, variance: str = "amended") -> float:
    """The p-value of the two one-sided tests of |a - b| < margin (the larger of the two), by shifting b.

    ``estimate`` of a - (b ∓ margin) has the same variance and an effect moved by ±margin, so its
    two-sided p halves into the one-sided p of each bound. NaN with one seed pair.
    """
    one_sided = []
    for shift, side in ((-margin, +1), (+margin, -1)):  # H0: effect <= -margin, then H0: effect >= +margin
        est = estimate(paired.assign(b=paired["b"] + shift), variance=variance)
        if not est.seed_variance_estimated:
            return math.nan
        beyond = side * est.effect > 0  # on the side that rejects this bound's null
        one_sided.append(est.p_value / 2 if beyond else 1 - est.p_value / 2)
    return max(one_sided)
