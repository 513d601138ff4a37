"""mote_lib.verdicts: constructed effects, hand-computed intervals, TOST, pairing, sign flips, null calibration."""

import doctest
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mote_lib.calibration as calibration
import mote_lib.verdicts as verdicts
from mote_lib.calibration import simulate_null_verdicts
from mote_lib.verdicts import (
    Estimate,
    Verdict,
    directional_verdict,
    equivalence_verdict,
    estimate,
    gain_ratio,
    pair_scores,
    seeds_needed,
    sign_flip_test,
)


def paired_from(x: np.ndarray) -> pd.DataFrame:
    """A paired table whose differences a - b are x[seed, dataset, query] (scores on the x100 scale)."""
    n_seeds, n_datasets, n_queries = x.shape
    seed, dataset, query = (grid.ravel() for grid in np.meshgrid(*map(np.arange, x.shape), indexing="ij"))
    base = 40 + 30 * np.sin(np.arange(x.size))  # any per-row level: only differences matter
    return pd.DataFrame({"seed": seed, "dataset": [f"T{d}" for d in dataset], "query": query,
                         "a": base + x.ravel(), "b": base})


def differences(effect: float, n_seeds: int = 5, n_datasets: int = 3, n_queries: int = 60, seed_sd: float = 0.2,
                query_sd: float = 1.0, rng_seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(rng_seed)
    return (effect + seed_sd * rng.standard_normal((n_seeds, 1, 1))
            + query_sd * rng.standard_normal((n_seeds, n_datasets, n_queries)))


def make_estimate(effect: float, se: float, df: float = 4.0) -> Estimate:
    """An estimate with a seed-only SE (no data needed), its interval and MDE as ``estimate`` computes them.

    The seed level's df is S - 1, so ``df`` sets the number of seed pairs (a million for df = inf).
    """
    n_seeds = int(df) + 1 if math.isfinite(df) else 1_000_000
    se_, df_, low, high, p, mde = (float(v) for v in verdicts._combine(effect, se**2, 0.0, df, 0.0, 0.95, 0.8))
    return Estimate(effect=effect, se=se_, se_seed=se, se_query=0.0, df=df_, ci_low=low, ci_high=high, p_value=p,
                    mde=mde, n_seeds=n_seeds, n_datasets=1, n_queries=1, seed_variance_estimated=True, df_query=0.0)


# ----------------------------------------------------------------------------- directional verdicts


def test_a_clear_positive_effect_is_supported():
    est = estimate(paired_from(differences(2.0)))
    verdict = directional_verdict(est, paper_effect=1.5)
    assert est.ci_low > 0 and est.ci_high > 1.5
    assert verdict.label == "supported" and verdict.seeds_needed is None
    assert verdict.reason == f"95% CI [{est.ci_low:+.2f}, {est.ci_high:+.2f}] excludes 0 in the paper's direction"


def test_a_clear_positive_effect_wholly_below_the_papers_is_supported_smaller_than_reported():
    est = estimate(paired_from(differences(0.5)))
    verdict = directional_verdict(est, paper_effect=3.0)
    assert 0 < est.ci_low and est.ci_high < 3.0
    assert verdict.label == "supported, smaller than reported"
    assert "lies below the paper's +3.00" in verdict.reason


def test_a_clear_negative_effect_is_contradicted_and_a_negative_claim_is_supported():
    est = estimate(paired_from(differences(-1.0)))
    assert directional_verdict(est, paper_effect=1.0).label == "contradicted"
    assert "against the paper's direction (+1.00)" in directional_verdict(est, paper_effect=1.0).reason
    # The paper's direction is its sign: a claimed loss of -0.8 is backed by this interval.
    assert directional_verdict(est, paper_effect=-0.8).label == "supported"
    assert directional_verdict(est, paper_effect=-5.0).label == "supported, smaller than reported"


def test_pure_noise_is_inconclusive_with_seeds_needed_an_int():
    est = estimate(paired_from(differences(0.0, n_seeds=3, seed_sd=1.0, query_sd=5.0, rng_seed=3)))
    verdict = directional_verdict(est, paper_effect=1.0)
    assert est.ci_low < 0 < est.ci_high and est.mde > 1.0
    assert verdict.label == "inconclusive" and isinstance(verdict.seeds_needed, int)
    needed = verdict.seeds_needed
    assert needed > est.n_seeds
    # It is the smallest seed count whose projected MDE reaches the paper's effect.
    projected = verdicts.projected_mde(est, np.array([needed - 1, needed]))
    assert projected[0] > 1.0 >= projected[1]
    assert f"about {needed} seed pairs" in verdict.reason


def test_an_inconclusive_result_already_powered_for_the_papers_effect_needs_no_more_seeds():
    est = make_estimate(effect=0.3, se=0.2, df=9.0)  # CI contains 0, MDE ~0.6 < 2
    verdict = directional_verdict(est, paper_effect=2.0)
    assert verdict.label == "inconclusive" and verdict.seeds_needed == 10
    assert "likely smaller than reported" in verdict.reason


def test_when_query_noise_alone_exceeds_the_papers_effect_no_seed_count_is_given():
    est = Estimate(effect=0.2, se=1.0, se_seed=0.3, se_query=math.sqrt(1 - 0.09), df=30.0, ci_low=-1.8, ci_high=2.2,
                   p_value=0.84, mde=2.8, n_seeds=3, n_datasets=1, n_queries=50, seed_variance_estimated=True,
                   df_query=49.0)
    verdict = directional_verdict(est, paper_effect=1.0)
    assert verdict.label == "inconclusive" and verdict.seeds_needed is None
    assert "more queries are needed, not seeds" in verdict.reason


def test_one_seed_is_inconclusive_without_seed_variance():
    est = estimate(paired_from(differences(3.0, n_seeds=1)))
    assert est.seed_variance_estimated is False and est.n_seeds == 1 and math.isnan(est.se_seed)
    # Still reported: the effect and a query-only interval (never queries pooled across seeds).
    assert est.se == pytest.approx(est.se_query) and est.ci_low > 0
    for verdict in (directional_verdict(est, 3.0), equivalence_verdict(est, 10.0)):
        assert verdict == Verdict("inconclusive", "1 seed: no seed-to-seed variance", None)


def test_one_seed_without_queries_estimates_no_variance_at_all():
    paired = pd.DataFrame({"seed": [0, 0], "dataset": ["T0", "T1"], "a": [51.0, 62.0], "b": [50.0, 60.0]})
    est = estimate(paired)
    assert est.effect == 1.5 and math.isnan(est.se) and math.isnan(est.ci_low)
    assert directional_verdict(est, 1.0).label == "inconclusive"


def test_the_interval_widens_when_seeds_disagree():
    noise = np.random.default_rng(1).standard_normal((4, 3, 40))
    offsets = np.array([-1.0, -0.3, 0.4, 0.9])[:, None, None]
    tight, wide = (estimate(paired_from(1.0 + spread * offsets + noise)) for spread in (0.1, 2.0))
    assert wide.se_query == pytest.approx(tight.se_query)  # offsets are constant per seed: same query spread
    assert wide.se_seed > tight.se_seed and wide.se > tight.se and wide.mde > tight.mde
    assert wide.ci_high - wide.ci_low > tight.ci_high - tight.ci_low


# ----------------------------------------------------------------------------- the estimate by hand


def test_the_mde_equals_t975_plus_t80_times_se_by_hand():
    # One dataset, one score per seed pair: x = 1, 2, 3. SE = sd / sqrt(3) = 1 / sqrt(3), df = 2.
    paired = pd.DataFrame({"seed": [0, 1, 2], "dataset": "T", "a": [51.0, 52.0, 53.0], "b": [50.0, 50.0, 50.0]})
    est = estimate(paired)
    # Student's t with 2 df has closed forms: quantile t_p = (2p - 1) / sqrt(2p(1 - p)), p = 1 - t / sqrt(2 + t²).
    t975, t80 = (0.95 / math.sqrt(2 * 0.975 * 0.025), 0.6 / math.sqrt(2 * 0.8 * 0.2))
    se = 1 / math.sqrt(3)
    assert (est.effect, est.df, est.se_query) == (2.0, 2.0, 0.0)
    assert est.se == pytest.approx(se) and est.se_seed == pytest.approx(se)
    assert est.mde == pytest.approx((t975 + t80) * se)
    assert (est.ci_low, est.ci_high) == (pytest.approx(2 - t975 * se), pytest.approx(2 + t975 * se))
    t = 2 / se
    assert est.p_value == pytest.approx(1 - t / math.sqrt(2 + t * t))


def test_seed_and_query_levels_each_get_their_own_t_quantile_by_hand():
    # 2 seed pairs, 1 dataset, 3 queries: x = [1, 2, 3] and [3, 4, 5].
    # E_s = 2, 4: SE_seed² = 2 / 2 = 1 (df 1). Query seed-means 2, 3, 4: SE_query² = 1 / 3 (df 2).
    est = estimate(paired_from(np.array([[[1.0, 2.0, 3.0]], [[3.0, 4.0, 5.0]]])))
    assert est.effect == pytest.approx(3.0)
    assert est.se_seed == pytest.approx(1.0) and est.se_query == pytest.approx(math.sqrt(1 / 3))
    assert est.se == pytest.approx(math.sqrt(4 / 3))
    assert est.df == 1 and est.df_query == 2 and est.n_queries == 3 and est.n_datasets == 1
    t = stats.t.ppf
    half = math.sqrt(t(0.975, 1) ** 2 * 1 + t(0.975, 2) ** 2 / 3)
    assert (est.ci_low, est.ci_high) == (pytest.approx(3 - half), pytest.approx(3 + half))
    mde = math.sqrt((t(0.975, 1) + t(0.8, 1)) ** 2 * 1 + (t(0.975, 2) + t(0.8, 2)) ** 2 / 3)
    assert est.mde == pytest.approx(mde)
    # p is the level whose interval just reaches 0.
    level = 1 - est.p_value / 2
    assert math.sqrt(t(level, 1) ** 2 + t(level, 2) ** 2 / 3) == pytest.approx(3.0, rel=1e-6)


def test_each_dataset_weighs_the_same():
    big = pd.DataFrame({"seed": np.repeat([0, 1], 100), "dataset": "big", "query": np.tile(np.arange(100), 2),
                        "a": 51.0, "b": 50.0})
    small = pd.DataFrame({"seed": [0, 0, 1, 1], "dataset": "small", "query": [0, 1, 0, 1], "a": 53.0, "b": 50.0})
    assert estimate(pd.concat([big, small])).effect == pytest.approx(2.0)  # not (100 + 6) / 102


def test_datasets_without_queries_have_no_query_variance():
    rng = np.random.default_rng(2)
    paired = pd.DataFrame({"seed": np.repeat(np.arange(4), 3), "dataset": np.tile(["A", "B", "C"], 4),
                           "a": 70 + rng.normal(0, 1, 12), "b": 69.0})
    est = estimate(paired)
    assert est.se_query == 0 and est.df_query == 0 and est.df == 3 and est.n_queries == 3
    per_seed = (paired["a"] - paired["b"]).to_numpy().reshape(4, 3).mean(axis=1)
    assert est.se == pytest.approx(per_seed.std(ddof=1) / 2)


def test_unbalanced_or_duplicated_tables_are_rejected():
    paired = paired_from(differences(1.0, n_seeds=3, n_queries=5))
    with pytest.raises(ValueError, match="same \\(dataset, query\\) units"):
        estimate(paired.iloc[1:])
    with pytest.raises(ValueError, match="several rows"):
        estimate(pd.concat([paired, paired.iloc[:1]]))
    with pytest.raises(ValueError, match="NaN"):
        estimate(paired.assign(a=np.where(paired.index == 0, np.nan, paired["a"])))


# ----------------------------------------------------------------------------- unrounded decisions


def test_decisions_use_unrounded_values():
    est = make_estimate(effect=0.5, se=0.1, df=math.inf)  # the interval's low bound lands at 0.004
    est = Estimate(**{**est.as_dict(), "ci_low": 0.004})
    verdict = directional_verdict(est, paper_effect=0.5)
    assert verdict.label == "supported"  # 0.004 rounds to 0.00 yet excludes 0
    assert verdict.reason.startswith("95% CI [+0.004, ")  # and the reason does not print +0.00
    below = Estimate(**{**est.as_dict(), "ci_low": -0.004})
    assert directional_verdict(below, paper_effect=0.5).label == "inconclusive"
    # Equivalence: a 90% upper bound of 0.996 (prints 1.00) is still within a margin of 1.
    z95 = 1.6448536269514722
    tost = make_estimate(effect=0.996 - 0.1 * z95, se=0.1, df=math.inf)
    assert equivalence_verdict(tost, margin=1.0).label == "supported"
    assert equivalence_verdict(tost, margin=0.997).label == "supported"
    assert equivalence_verdict(tost, margin=0.995).label == "inconclusive"


def test_a_directional_claim_needs_a_nonzero_paper_effect():
    with pytest.raises(ValueError, match="equivalence_verdict"):
        directional_verdict(make_estimate(0.1, 0.1), paper_effect=0.0)


# ----------------------------------------------------------------------------- equivalence


def test_the_equivalence_claim_passes_for_a_tiny_effect_with_small_se():
    est = estimate(paired_from(differences(0.1, seed_sd=0.05, query_sd=0.5)))
    verdict = equivalence_verdict(est, margin=1.0)
    assert verdict.label == "supported" and verdict.reason.startswith("90% CI [")
    assert verdict.reason.endswith("lies within ±1.00 (TOST at 5%)")


def test_the_equivalence_claim_is_inconclusive_when_noisy():
    est = estimate(paired_from(differences(0.1, n_seeds=3, seed_sd=1.5, query_sd=5.0)))
    assert equivalence_verdict(est, margin=1.0).label == "inconclusive"


def test_the_equivalence_claim_is_contradicted_for_an_effect_of_three_with_small_se():
    est = estimate(paired_from(differences(3.0, seed_sd=0.1, query_sd=0.5)))
    verdict = equivalence_verdict(est, margin=1.0)
    assert verdict.label == "contradicted" and "wholly outside ±1.00" in verdict.reason
    assert equivalence_verdict(make_estimate(-3.0, 0.2), margin=1.0).label == "contradicted"


def test_the_tost_interval_is_the_90_percent_one():
    est = make_estimate(effect=0.2, se=0.3, df=6.0)
    _, high90 = 0.2 - 1.9431802803927818 * 0.3, 0.2 + 1.9431802803927818 * 0.3  # t(0.95, 6) = 1.9432
    assert equivalence_verdict(est, margin=high90 + 1e-9).label == "supported"
    assert equivalence_verdict(est, margin=high90 - 1e-9).label == "inconclusive"


# ----------------------------------------------------------------------------- gain ratio, sign flips


def test_negative_gains_give_no_ratio_and_positive_ones_do():
    assert gain_ratio(1.5, 0.5) == 3.0
    assert gain_ratio(-1.0, -2.0) is None  # two losses would print as a ratio of 0.5
    assert gain_ratio(1.0, -2.0) is None and gain_ratio(-1.0, 2.0) is None and gain_ratio(1.0, 0.0) is None
    assert gain_ratio(float("nan"), 1.0) is None


def test_sign_flip_test_is_exact_for_small_n_and_matches_all_8_patterns():
    d = np.array([1.0, -2.0, 3.0])
    means = [np.mean(d * signs) for signs in itertools.product([1, -1], repeat=3)]
    by_hand = sum(abs(m) >= abs(d.mean()) - 1e-12 for m in means) / 8  # 6 of 8 patterns
    result = sign_flip_test(d)
    assert result == {"p_value": pytest.approx(by_hand), "exact": True, "n": 3}
    assert by_hand == 0.75
    assert sign_flip_test([1.0, 2.0, 3.0])["p_value"] == pytest.approx(0.25)
    assert sign_flip_test([0.0, 0.0])["p_value"] == 1.0


def test_sign_flip_test_samples_patterns_for_large_n():
    d = np.random.default_rng(0).normal(0.5, 1.0, 40)
    result = sign_flip_test(d, n_resamples=2000, seed=1)
    assert result["exact"] is False and result["n"] == 40 and 0 < result["p_value"] < 0.05
    assert sign_flip_test(d, n_resamples=2000, seed=1) == result  # same seed, same answer
    assert sign_flip_test(d[:10], n_resamples=1024)["exact"] is True  # 2**10 patterns


# ----------------------------------------------------------------------------- pairing


def long_table(model: str, seeds, shift: float, queries=range(4)) -> list:
    return [(model, s, d, q, 50.0 + shift + q + 0.1 * s) for s in seeds for d in ("T0", "T1") for q in queries]


def test_pair_scores_pairs_disjoint_seed_sets_by_rank():
    rows = long_table("ic", [2, 0, 1], 0.0) + long_table("ic_b", [5, 3, 4], -1.0)
    table = pd.DataFrame(rows, columns=["model", "seed", "dataset", "query", "score"])
    paired = pair_scores(table, "ic", "ic_b")
    pairs = paired.drop_duplicates("seed")[["seed", "seed_a", "seed_b"]].values.tolist()
    assert pairs == [[0, 0, 3], [1, 1, 4], [2, 2, 5]]
    assert list(paired.columns) == ["seed", "seed_a", "seed_b", "dataset", "query", "a", "b"]
    assert len(paired) == 3 * 2 * 4
    # x = 1 - 0.3 for every row (b's seeds are 3 above a's): an exact, query-free effect.
    assert np.allclose(paired["a"] - paired["b"], 0.7)
    assert estimate(paired).effect == pytest.approx(0.7)


def test_pair_scores_errors_clearly_on_unequal_seed_counts_and_empty_pairings():
    rows = long_table("mote", [0, 1, 2], 1.0) + long_table("ic", [0, 1], 0.0)
    table = pd.DataFrame(rows, columns=["model", "seed", "dataset", "query", "score"])
    with pytest.raises(ValueError, match="'mote' has 3 \\[0, 1, 2\\], 'ic' has 2 \\[0, 1\\]"):
        pair_scores(table, "mote", "ic")
    disjoint = pd.DataFrame(long_table("mote", [0], 1.0, range(3)) + long_table("ic", [0], 0.0, range(3, 6)),
                            columns=["model", "seed", "dataset", "query", "score"])
    with pytest.raises(ValueError, match="left no rows"):
        pair_scores(disjoint, "mote", "ic")
    with pytest.raises(ValueError, match="no rows with model='moee'"):
        pair_scores(table, "mote", "moee")
    with pytest.raises(ValueError, match="two different models"):
        pair_scores(table, "ic", "ic")


def test_pair_scores_takes_other_column_names_and_tables_without_queries():
    table = pd.DataFrame({"variant": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "task": "Banking77",
                          "accuracy": [80.0, 81.0, 79.0, 79.5]})
    paired = pair_scores(table, "a", "b", model_col="variant", score_col="accuracy", dataset_col="task")
    assert list(paired.columns) == ["seed", "seed_a", "seed_b", "dataset", "a", "b"]
    assert (paired["a"] - paired["b"]).tolist() == [1.0, 1.5]
    with pytest.raises(ValueError, match="several scores"):
        pair_scores(pd.concat([table, table]), "a", "b", model_col="variant", score_col="accuracy", dataset_col="task")


# ----------------------------------------------------------------------------- null calibration


@pytest.mark.parametrize("n_seeds", [3, 5])
def test_the_null_false_verdict_rate_is_at_most_7_percent(n_seeds):
    rate = simulate_null_verdicts(2000, n_seeds, n_datasets=3, n_queries=200, seed_sd=0.8, query_sd=15, rng_seed=n_seeds)
    assert 0.01 <= rate <= 0.07  # and not absurdly conservative either


def test_the_simulation_uses_the_same_moments_as_estimate():
    x = differences(0.0, n_seeds=3, n_datasets=2, n_queries=7, seed_sd=0.5, query_sd=2.0, rng_seed=4)
    effect, var_seed, var_query, df_seed, df_query = calibration._array_moments(x)
    est = estimate(paired_from(x), variance="registered")  # calibration._array_moments is the registered variance
    assert est.effect == pytest.approx(effect) and est.se_seed == pytest.approx(math.sqrt(var_seed))
    assert est.se_query == pytest.approx(math.sqrt(var_query)) and est.df_query == df_query and df_seed == 2


def test_the_module_examples_run():
    failures, tried = doctest.testmod(verdicts, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0


def test_seeds_needed_is_none_with_one_seed():
    est = estimate(paired_from(differences(0.0, n_seeds=1)))
    assert seeds_needed(est, 1.0) is None
