"""Calibration of ``mote_lib.verdicts``: how often its intervals exclude 0 when there is no effect.

* ``simulate_null_verdicts``: synthetic per-query differences with a stated seed and query spread;
* ``variance_components``: per dataset, the seed, query and seed-by-query variance components of a
  paired table, from the two-way mean squares (negative components set to 0);
* ``simulate_null_from_components``: null data drawn with given components (e.g. those of the
  committed retrieval results), judged by either of ``estimate``'s variances. The pre-registration's
  amendment 1 requires 3.5-6.5% false verdicts at the 5% level at 3 and at 6 seed pairs
  (``tests/lab/test_calibration.py`` checks it on the committed data).

Example:
    >>> from mote_lib.calibration import simulate_null_from_components
    >>> import pandas as pd
    >>> parts = pd.DataFrame({"dataset": ["T"], "n_queries": [40], "seed": [0.1], "query": [4.0], "interaction": [9.0]})
    >>> 0 <= simulate_null_from_components(parts, n_seeds=3, n_sim=200) <= 0.15
    True
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mote_lib.verdicts import VARIANCES, _combine, _differences, interaction_mean_square


def simulate_null_verdicts(n_sim: int, n_seeds: int, n_datasets: int, n_queries: int, seed_sd: float,
                           query_sd: float, rng_seed: int = 0, *, dataset_sd: float | None = None,
                           query_shared: float = 0.5, confidence: float = 0.95) -> float:
    """Rate of non-inconclusive directional verdicts when the true effect is 0 (should be <= 1 - confidence).

    Each simulation draws paired differences x[s, d, i] = u_s + v_{s,d} + w_{d,i} + e_{s,d,i}:
    a model-level offset per seed pair u ~ N(0, seed_sd), a per-dataset offset per seed pair
    v ~ N(0, dataset_sd; default seed_sd), and query noise of total sd ``query_sd`` whose share
    ``query_shared`` of the variance is the query's own (w, the same for every seed) and the rest
    seed-specific (e). A directional verdict is not inconclusive exactly when the interval excludes
    0, whatever the paper's effect, so the rate is that of intervals excluding 0. Vectorised over
    simulations (in chunks), through the same variance combination as ``estimate``.

    Example:
        >>> rate = simulate_null_verdicts(200, 3, 2, 50, seed_sd=0.8, query_sd=15)
        >>> 0 <= rate <= 0.1
        True
    """
    if n_seeds < 2:
        raise ValueError(f"a verdict needs at least 2 seed pairs; got {n_seeds}")
    if n_sim < 1 or n_datasets < 1 or n_queries < 1:
        raise ValueError("n_sim, n_datasets and n_queries must be positive")
    if not 0 <= query_shared <= 1:
        raise ValueError(f"query_shared must lie in [0, 1]; got {query_shared}")
    rng = np.random.default_rng(rng_seed)
    dataset_sd = seed_sd if dataset_sd is None else dataset_sd
    chunk = max(1, 2_000_000 // (n_seeds * n_datasets * n_queries))  # keeps each draw near 16 MB
    excluded = 0
    for start in range(0, n_sim, chunk):
        m = min(chunk, n_sim - start)
        x = (rng.normal(0, seed_sd, (m, n_seeds, 1, 1)) + rng.normal(0, dataset_sd, (m, n_seeds, n_datasets, 1))
             + rng.normal(0, query_sd * math.sqrt(query_shared), (m, 1, n_datasets, n_queries))
             + rng.normal(0, query_sd * math.sqrt(1 - query_shared), (m, n_seeds, n_datasets, n_queries)))
        _, _, low, high, _, _ = _combine(*_array_moments(x), confidence, 0.8)
        excluded += int(((low > 0) | (high < 0)).sum())
    return excluded / n_sim


def _array_moments(x: np.ndarray):
    """``estimate``'s effect, variance parts and df for balanced differences shaped (..., S, D, n)."""
    n_seeds, n_datasets, n_queries = x.shape[-3:]
    per_seed = x.mean(axis=-1).mean(axis=-1)  # E_s
    query_means = x.mean(axis=-3)  # x̄_{d,i}
    var_seed = per_seed.var(axis=-1, ddof=1) / n_seeds
    if n_queries >= 2:
        var_query = (query_means.var(axis=-1, ddof=1) / n_queries).sum(axis=-1) / n_datasets**2
    else:
        var_query = np.zeros_like(var_seed)
    return per_seed.mean(axis=-1), var_seed, var_query, n_seeds - 1, n_datasets * (n_queries - 1)


def variance_components(paired: pd.DataFrame) -> pd.DataFrame:
    """Per dataset of a paired table (``seed, dataset, query, a, b``): n_queries and the variance components.

    With x = a - b in dataset d's (S x n) table and the two-way mean squares MS_seed (n var of seed
    means), MS_query (S var of query means) and MS_e (the residual): seed = (MS_seed - MS_e)/n,
    query = (MS_query - MS_e)/S, interaction = MS_e, each set to 0 when negative.

    Example:
        >>> rows = [(s, "T", q, float(s + q + (s * q) % 3), 0.0) for s in range(3) for q in range(5)]
        >>> variance_components(pd.DataFrame(rows, columns=["seed", "dataset", "query", "a", "b"])).columns.tolist()
        ['dataset', 'n_queries', 'n_seeds', 'seed', 'query', 'interaction']
    """
    x, _ = _differences(paired)
    rows = []
    for dataset, table in x.groupby("dataset", sort=True):
        cells = table.pivot(index="seed", columns="query", values="x").to_numpy(dtype=float)
        n_seeds, n_queries = cells.shape
        if n_seeds < 2 or n_queries < 2:
            raise ValueError(f"dataset {dataset!r}: variance components need 2 seeds and 2 queries; it has "
                             f"{n_seeds} and {n_queries}")
        ms_e = float(interaction_mean_square(cells))
        ms_seed = n_queries * float(cells.mean(axis=1).var(ddof=1))
        ms_query = n_seeds * float(cells.mean(axis=0).var(ddof=1))
        rows.append({"dataset": dataset, "n_queries": n_queries, "n_seeds": n_seeds,
                     "seed": max(0.0, (ms_seed - ms_e) / n_queries), "query": max(0.0, (ms_query - ms_e) / n_seeds),
                     "interaction": ms_e})
    return pd.DataFrame(rows)


def simulate_null_from_components(components: pd.DataFrame, n_seeds: int, n_sim: int = 2000, rng_seed: int = 0,
                                  variance: str = "amended", confidence: float = 0.95) -> float:
    """Rate of intervals excluding 0 for null data drawn with ``components`` (``variance_components``' columns).

    Dataset d's differences are x[s, i] = a_s + b_i + e_si with variances ``seed``, ``query`` and
    ``interaction`` (independent across datasets), judged through ``estimate``'s variance combination.
    """
    if variance not in VARIANCES:
        raise ValueError(f"variance={variance!r}: choose one of {VARIANCES}")
    if n_seeds < 2 or n_sim < 1:
        raise ValueError(f"need n_seeds >= 2 and n_sim >= 1; got {n_seeds} and {n_sim}")
    rng = np.random.default_rng(rng_seed)
    parts = list(components.itertuples(index=False))
    n_datasets = len(parts)
    total_queries = sum(int(p.n_queries) for p in parts)
    chunk = max(1, 2_000_000 // (n_seeds * total_queries))
    excluded = 0
    for start in range(0, n_sim, chunk):
        m = min(chunk, n_sim - start)
        per_seed = np.zeros((m, n_seeds))
        var_query = np.zeros(m)
        interaction = np.zeros(m)
        for p in parts:
            n = int(p.n_queries)
            x = (rng.normal(0, math.sqrt(p.seed), (m, n_seeds, 1)) + rng.normal(0, math.sqrt(p.query), (m, 1, n))
                 + rng.normal(0, math.sqrt(p.interaction), (m, n_seeds, n)))
            per_seed += x.mean(axis=2) / n_datasets
            query_means = x.mean(axis=1)
            var_query += query_means.var(axis=1, ddof=1) / n / n_datasets**2
            interaction += interaction_mean_square(x) / (n_seeds * n) / n_datasets**2
        var_seed = per_seed.var(axis=1, ddof=1) / n_seeds
        if variance == "amended":
            var_seed = np.maximum(0.0, var_seed - interaction)
        df_query = total_queries - n_datasets
        _, _, low, high, _, _ = _combine(per_seed.mean(axis=1), var_seed, var_query, n_seeds - 1, df_query, confidence, 0.8)
        excluded += int(((low > 0) | (high < 0)).sum())
    return excluded / n_sim
