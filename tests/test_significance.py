"""mote_lib.significance: hand-computed tests, bootstrap coverage, corrections, the evaluation-table helper."""

import math

import numpy as np
import pandas as pd
import pytest

from mote_lib.significance import (
    adjust_p_values,
    bootstrap_by_task,
    compare_models,
    paired_bootstrap,
    paired_t_test,
    paired_tests,
    seed_bootstrap,
    wilcoxon_test,
)

A, B = [2, 4, 6, 8, 10], [1, 2, 3, 4, 5]  # differences 1, 2, 3, 4, 5


def test_paired_t_test_hand_computed():
    # d = 1..5: mean 3, sd sqrt(2.5), t = 3 / (sqrt(2.5) / sqrt(5)) = 3 sqrt(2), df 4. Student's t with
    # 4 df has the closed-form CDF F(t) = 1/2 + (3/8) x (1 - x^2 / 12), x = t / sqrt(1 + t^2 / 4).
    t = 3 * math.sqrt(2)
    x = t / math.sqrt(1 + t * t / 4)
    p = 2 * (1 - (0.5 + 3 / 8 * x * (1 - x * x / 12)))
    result = paired_t_test(A, B)
    assert result["statistic"] == pytest.approx(t)
    assert result["p_value"] == pytest.approx(p, rel=1e-9)
    assert result["n"] == 5 and result["mean_diff"] == 3
    assert result["effect_size"] == pytest.approx(3 / math.sqrt(2.5)) and result["effect_size_name"] == "cohen_dz"


def test_wilcoxon_hand_computed():
    # a wins all 5 pairs: W- = 0, and the exact two-sided p is 2 * P(W- = 0) = 2 / 2**5.
    all_wins = wilcoxon_test(A, B)
    assert (all_wins["statistic"], all_wins["p_value"], all_wins["effect_size"]) == (0, 0.0625, 1.0)
    # d = 1, -2, 3, 4, 5: ranks 1..5, W- = 2, W+ = 13. Subsets of {1..5} with rank sum <= 2: {}, {1}, {2},
    # so p = 2 * 3 / 32; rank-biserial r = (13 - 2) / 15.
    mixed = wilcoxon_test([1, -2, 3, 4, 5], [0, 0, 0, 0, 0])
    assert mixed["statistic"] == 2 and mixed["p_value"] == pytest.approx(6 / 32)
    assert mixed["effect_size"] == pytest.approx(11 / 15) and mixed["effect_size_name"] == "rank_biserial"


def test_a_negative_difference_has_negative_effect_sizes():
    table = paired_tests(B, A)
    assert (table["mean_diff"] == -3).all() and (table["effect_size"] < 0).all()
    assert table["test"].tolist() == ["paired_t", "wilcoxon"]


@pytest.mark.parametrize("test", [paired_t_test, wilcoxon_test])
def test_all_differences_zero_give_p_one(test):
    result = test([0.3, 0.5, 0.7], [0.3, 0.5, 0.7])
    assert (result["statistic"], result["p_value"], result["effect_size"], result["mean_diff"]) == (0, 1, 0, 0)


@pytest.mark.parametrize("test", [paired_t_test, wilcoxon_test])
def test_bad_inputs_are_clear_errors(test):
    with pytest.raises(ValueError, match="needs at least 2 pairs; got 1"):
        test([0.5], [0.4])
    with pytest.raises(ValueError, match=r"equal length; got shapes \(3,\) and \(2,\)"):
        test([0.5, 0.6, 0.7], [0.4, 0.5])
    with pytest.raises(ValueError, match="NaN"):
        test([0.5, float("nan")], [0.4, 0.5])


def test_holm_on_a_known_vector():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(adjust_p_values([0.01, 0.04, 0.03, 0.005], "holm"), [0.03, 0.06, 0.06, 0.02])
    # sorted 0.02, 0.55, 0.6 times 3, 2, 1 = 0.06, 1.1, 0.6 -> running max 0.06, 1.1, 1.1 -> capped at 1
    np.testing.assert_allclose(adjust_p_values([0.6, 0.02, 0.55], "holm"), [1.0, 0.06, 1.0])


def test_benjamini_hochberg_on_a_known_vector():
    # sorted p * m / rank = 0.02, 0.02, 0.04, 0.04; running min from the top keeps them
    np.testing.assert_allclose(adjust_p_values([0.01, 0.04, 0.03, 0.005], "bh"), [0.02, 0.04, 0.04, 0.02])


def test_bad_corrections_are_errors():
    with pytest.raises(ValueError, match=r"unknown correction 'bonferroni'; valid: \['holm', 'bh'\]"):
        adjust_p_values([0.1], "bonferroni")
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        adjust_p_values([0.1, 1.2])


def _synthetic_scores(n=400, true_diff=0.03, seed=1):
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.2, 0.9, n)
    return b + true_diff + rng.normal(0, 0.05, n), b


def test_paired_bootstrap_interval_covers_the_true_difference():
    a, b = _synthetic_scores()
    result = paired_bootstrap(a, b, n_resamples=2000, seed=0)
    assert result["ci_low"] < 0.03 < result["ci_high"]
    assert result["ci_low"] > 0 and result["p_value"] == pytest.approx(1 / 2001)  # no resample reaches zero
    assert result["mean_diff"] == pytest.approx(np.mean(a - b)) and result["n"] == 400


def test_paired_bootstrap_is_seeded():
    a, b = _synthetic_scores(n=50, true_diff=0.0)
    first, again, other = (paired_bootstrap(a, b, n_resamples=500, seed=s) for s in (3, 3, 4))
    assert first == again and first["ci_low"] != other["ci_low"]
    assert first["p_value"] > 0.05  # no true difference


def test_paired_bootstrap_of_identical_scores():
    result = paired_bootstrap([0.1, 0.5, 0.9], [0.1, 0.5, 0.9], n_resamples=100)
    assert (result["mean_diff"], result["ci_low"], result["ci_high"], result["p_value"]) == (0, 0, 0, 1)


def test_seed_bootstrap_with_one_seed_is_the_paired_bootstrap():
    a, b = _synthetic_scores(n=60)
    one_seed = seed_bootstrap(a[None], b[None], n_resamples=300, seed=2)
    paired = paired_bootstrap(a, b, n_resamples=300, seed=2)
    for key in ("mean_diff", "ci_low", "ci_high", "p_value"):
        assert one_seed[key] == pytest.approx(paired[key], abs=1e-12)


def test_seed_bootstrap_widens_the_interval_by_the_seed_spread():
    a, b = _synthetic_scores(n=200)
    runs_a = a[None] + np.array([[-0.02], [0.0], [0.02]])  # three training runs, offset by their seed
    across = seed_bootstrap(runs_a, b[None], n_resamples=2000, seed=0)
    within = paired_bootstrap(runs_a.mean(0), b, n_resamples=2000, seed=0)
    assert across["mean_diff"] == pytest.approx(within["mean_diff"])
    assert across["ci_high"] - across["ci_low"] > 1.5 * (within["ci_high"] - within["ci_low"])
    assert (across["n_seeds_a"], across["n_seeds_b"]) == (3, 1)


def test_bootstrap_input_errors():
    with pytest.raises(ValueError, match="same examples; got 3 and 2"):
        seed_bootstrap(np.ones((2, 3)), np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"2-D \(seeds, examples\)"):
        seed_bootstrap(np.ones(3), np.ones((1, 3)))
    with pytest.raises(ValueError, match="confidence must lie in"):
        paired_bootstrap([1, 2, 3], [1, 2, 2], confidence=95)


def evaluation_table():
    """The evaluation module's tidy format: two models, two seeds, five tasks of two types."""
    tasks = {"FaqRetrieval": "Retrieval", "DocRetrieval": "Retrieval", "ManRetrieval": "Retrieval",
             "NewsClassification": "Classification", "TopicClassification": "Classification"}
    base = {"FaqRetrieval": 0.40, "DocRetrieval": 0.50, "ManRetrieval": 0.30, "NewsClassification": 0.70,
            "TopicClassification": 0.60}
    gain = {"FaqRetrieval": 0.05, "DocRetrieval": 0.02, "ManRetrieval": 0.04, "NewsClassification": -0.01,
            "TopicClassification": 0.01}
    rows = []
    for seed, jitter in ((0, -0.01), (1, 0.01)):  # seed jitter averages out
        for task, task_type in tasks.items():
            for model, score in (("ic", base[task]), ("mote", base[task] + gain[task] + jitter)):
                rows.append({"model": model, "variant": model, "seed": seed, "task": task, "task_type": task_type,
                             "split": "test", "main_metric": "ndcg_at_10", "score": score})
    return pd.DataFrame(rows), base, gain


def test_compare_models_pairs_seed_averaged_task_scores():
    table, base, gain = evaluation_table()
    result = compare_models(table, "mote", "ic")
    tasks = sorted(base)
    expected = paired_tests([base[t] + gain[t] for t in tasks], [base[t] for t in tasks])
    assert result["test"].tolist() == ["paired_t", "wilcoxon"] and (result["group"] == "all").all()
    np.testing.assert_allclose(result["p_value"], expected["p_value"])
    np.testing.assert_allclose(result["statistic"], expected["statistic"])
    assert result["mean_diff"].tolist() == pytest.approx([np.mean(list(gain.values()))] * 2)
    assert (result["n"] == 5).all() and (result["p_adjusted"] == result["p_value"]).all()


def test_compare_models_by_task_type_and_within_task_type():
    table, base, gain = evaluation_table()
    by_type = compare_models(table, "mote", "ic", by="task_type", column="variant")
    # per type: Retrieval gain (0.05 + 0.02 + 0.04) / 3, Classification 0; two pairs
    assert (by_type["n"] == 2).all()
    assert by_type["mean_diff"].iloc[0] == pytest.approx((0.11 / 3 + 0.0) / 2)
    within = compare_models(table, "mote", "ic", within="task_type", correction="holm")
    assert within["group"].tolist() == ["Classification", "Classification", "Retrieval", "Retrieval"]
    for test in ("paired_t", "wilcoxon"):
        rows = within[within["test"] == test]
        np.testing.assert_allclose(rows["p_adjusted"], adjust_p_values(rows["p_value"], "holm"))


def test_compare_models_errors_name_the_problem():
    table, _, _ = evaluation_table()
    with pytest.raises(ValueError, match=r"no rows with model='moe'; the table has \['ic', 'mote'\]"):
        compare_models(table, "moe", "ic")
    with pytest.raises(ValueError, match=r"missing for 'mote': \['FaqRetrieval'\]"):
        compare_models(table[~((table.model == "mote") & (table.task == "FaqRetrieval"))], "mote", "ic")
    two_splits = pd.concat([table, table.assign(split="dev")])
    with pytest.raises(ValueError, match="several splits"):
        compare_models(two_splits, "mote", "ic")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['task_type'\]"):
        compare_models(table.drop(columns="task_type"), "mote", "ic")
    with pytest.raises(ValueError, match="at least 2 pairs; got 1"):  # one type left: one pair
        compare_models(table[table.task_type == "Retrieval"], "mote", "ic", by="task_type")


def test_bootstrap_by_task_pairs_examples_by_id_and_adjusts_over_tasks():
    rng = np.random.default_rng(1)
    rows = []
    for task, shift in (("T1", 0.2), ("T2", 0.0)):
        base = rng.uniform(0, 1, 60)
        for model, seed_shifts in (("a", (0.0, 0.01)), ("b", (0.0,))):
            for seed, extra in enumerate(seed_shifts):
                scores = base + extra + (shift if model == "a" else 0)
                rows += [(model, seed, task, "Retrieval", f"q{i}", s) for i, s in enumerate(scores)]
    table = pd.DataFrame(rows, columns=["model", "seed", "task", "task_type", "query_id", "score"])
    shuffled = table.sample(frac=1, random_state=0)  # pairing must follow query_id, not row order
    result = bootstrap_by_task(shuffled, "a", "b", n_resamples=2000).set_index("task")
    assert result.loc["T1", "mean_diff"] == pytest.approx(0.205, abs=1e-9)
    assert result.loc["T1", "p_value"] < 0.01 and result.loc["T2", "p_value"] > 0.05
    assert result["n_seeds_a"].tolist() == [2, 2] and result["n_seeds_b"].tolist() == [1, 1]
    np.testing.assert_allclose(result["p_adjusted"], adjust_p_values(result["p_value"], "holm"))
    with pytest.raises(ValueError, match="model 'c' is not in the table"):
        bootstrap_by_task(table, "a", "c")
    with pytest.raises(ValueError, match="not all scored on the same examples"):
        bootstrap_by_task(table.drop(index=0), "a", "b")
