"""mote_lib.lab.claims: pre-registered verdicts from constructed result tables, in both layouts, missing inputs reported.

The tables are synthetic (no model is loaded): per-query scores for retrieval and re-ranking,
per-dataset scores for every task type, inter-task cosines, with chosen model offsets, seed noise
and query noise, written into a temporary ``MOTE_RESULTS`` as the runner (layout A) or the
notebooks (layout B) would.
"""

import numpy as np
import pandas as pd
import pytest

from mote_lib.lab import claims, status
from mote_lib.lab.claims import (
    AA_CHECK,
    BY_CONSTRUCTION,
    CONSTRUCTION,
    ENDPOINTS,
    NOT_MEASURED,
    PRIMARY,
    SECONDARY,
    claims_table,
    collect,
    gain_ratio_lines,
    write_claims,
)
from mote_lib.lab.paper import PAPER_NUMBERS
from mote_lib.names import RETRIEVAL_TYPES
from mote_lib.significance import adjust_p_values
from mote_lib.verdicts import CONTRADICTED, INCONCLUSIVE, SMALLER, SUPPORTED

PROFILE = "smoke"
MAIN_MODELS = ("em", "ic", "mote")
ALL_MODELS = (*MAIN_MODELS, "mote-tlr", "mote-no-tacl", "mote-eb")
DATASETS = (("FaqRetrieval", "Retrieval"), ("DebianPackageRetrieval", "Retrieval"), ("WikipediaSectionRetrieval", "Retrieval"),
            ("FaqReranking", "Reranking"), ("BrownGenreClustering", "Clustering"), ("FoldocCategoryClustering", "Clustering"),
            ("LeeDocumentSTS", "STS"), ("BrownGenreClassification", "Classification"))
PER_QUERY_TYPES = RETRIEVAL_TYPES
TASKS = ("classification", "clustering", "search_query", "search_document")
N_QUERIES = 20


# ----------------------------------------------------------------------------- constructed tables


def synthetic(offsets=None, models=MAIN_MODELS, seeds=(0, 1, 2), seed_sd=0.2, query_sd=4.0, cosine_offsets=None,
              seed_offsets=None, rng_seed=0):
    """(scores, per_query, cosines) of ``models`` at ``seeds``.

    ``offsets``: model -> points added to every score, or model -> {task_type: points}.
    ``seed_offsets``: (model, seed) -> points (an A/A test's broken seed). The query's difficulty
    is shared by every model, so paired differences carry only the noise drawn per run.
    """
    rng = np.random.default_rng(rng_seed)
    offsets, cosine_offsets, seed_offsets = offsets or {}, cosine_offsets or {}, seed_offsets or {}
    difficulty = {task: rng.uniform(40, 80, N_QUERIES) for task, _ in DATASETS}
    score_rows, query_rows, cosine_rows = [], [], []
    for model in models:
        for seed in seeds:
            run_shift = rng.normal(0, seed_sd) + seed_offsets.get((model, seed), 0.0)
            for task, task_type in DATASETS:
                offset = offsets.get(model, 0.0)
                offset = offset.get(task_type, 0.0) if isinstance(offset, dict) else offset
                values = difficulty[task] + offset + run_shift + rng.normal(0, seed_sd) + rng.normal(0, query_sd, N_QUERIES)
                if task_type in PER_QUERY_TYPES:
                    query_rows += [(model, seed, task, task_type, f"q{i}", v) for i, v in enumerate(values)]
                score_rows.append((model, seed, task, task_type, float(values.mean())))
            if model in ("ic", "mote"):
                for text in range(16):
                    for i, task_a in enumerate(TASKS):
                        for task_b in TASKS[i + 1:]:
                            cosine = 0.9 + cosine_offsets.get(model, 0.0) + rng.normal(0, 0.01)
                            cosine_rows.append((model, seed, text, task_a, task_b, cosine))
    return (pd.DataFrame(score_rows, columns=["model", "seed", "task", "task_type", "score"]),
            pd.DataFrame(query_rows, columns=["model", "seed", "task", "task_type", "query_id", "score"]),
            pd.DataFrame(cosine_rows, columns=["model", "seed", "text", "task_a", "task_b", "cosine"]))


def write_runner_layout(root, tables, base_score=None):
    """Layout A: ``results/<profile>/runs/<label>-s<seed>/{scores,per_query,inter_task_cosines}.csv``."""
    scores, per_query, cosines = tables
    runs = root / PROFILE / "runs"
    for (model, seed), group in scores.groupby(["model", "seed"]):
        folder = runs / f"{model}-s{seed}"
        folder.mkdir(parents=True)
        group.assign(entry=folder.name, split="test", error=None).to_csv(folder / "scores.csv", index=False)
        per_query[(per_query.model == model) & (per_query.seed == seed)].assign(split="test").to_csv(
            folder / "per_query.csv", index=False)
        mine = cosines[(cosines.model == model) & (cosines.seed == seed)]
        if not mine.empty:
            mine.to_csv(folder / "inter_task_cosines.csv", index=False)
    if base_score is not None:  # the untrained base model: no seed
        (runs / "base").mkdir(parents=True)
        base = pd.DataFrame([("base", None, task, task_type, base_score, None) for task, task_type in DATASETS],
                            columns=["model", "seed", "task", "task_type", "score", "error"])
        base.to_csv(runs / "base" / "scores.csv", index=False)


def write_notebook_layout(root, tables):
    """Layout B: ``offline_suite.csv``, ``per_query.csv``, ``inter_task_cosines.csv`` (seed-0 cosines, no seed column)."""
    scores, per_query, cosines = tables
    folder = root / PROFILE
    folder.mkdir(parents=True)
    scores.assign(variant=scores.model, split="test", error=None).to_csv(folder / "offline_suite.csv", index=False)
    per_query.assign(split="test").to_csv(folder / "per_query.csv", index=False)
    seed0 = cosines[cosines.seed == 0].drop(columns="seed")
    seed0.assign(pair=seed0.task_a + " / " + seed0.task_b).to_csv(folder / "inter_task_cosines.csv", index=False)


def by_claim(table):
    return table.set_index("claim")


PRIMARY_CLAIM = ENDPOINTS[0].claim
CLAIM = {endpoint.paper_key: endpoint.claim for endpoint in ENDPOINTS}


# ----------------------------------------------------------------------------- the primary endpoint


def test_a_clear_positive_primary_effect_over_three_seeds_is_supported(results):
    write_runner_layout(results, synthetic({"mote": 3.0}))
    row = by_claim(claims_table(PROFILE)).loc[PRIMARY_CLAIM]
    assert row.kind == PRIMARY and row.verdict == SUPPORTED, row.reason
    assert row.n_seeds == 3 and row.ci_low > 0 and "3 seeds" in row.ours
    assert row.paper.startswith("+1.94") and row.paper_key == "retrieval_mote_minus_ic"
    assert pd.isna(row.p_holm), "the primary endpoint is not adjusted"


def test_a_clear_negative_primary_effect_is_contradicted(results):
    write_notebook_layout(results, synthetic({"mote": -3.0}))
    assert by_claim(claims_table(PROFILE)).loc[PRIMARY_CLAIM, "verdict"] == CONTRADICTED


def test_a_small_positive_effect_is_supported_but_smaller_than_reported(results):
    write_runner_layout(results, synthetic({"mote": 0.8}, seed_sd=0.05, query_sd=0.5))
    assert by_claim(claims_table(PROFILE)).loc[PRIMARY_CLAIM, "verdict"] == SMALLER


def test_noise_is_inconclusive_and_names_the_seeds_needed(results):
    write_runner_layout(results, synthetic({}, seed_sd=1.5, query_sd=2.0, rng_seed=3))
    row = by_claim(claims_table(PROFILE)).loc[PRIMARY_CLAIM]
    assert row.verdict == INCONCLUSIVE, row.reason
    assert row.seeds_needed > 3 and "seed pairs would give 80% power" in row.reason


def test_one_seed_is_inconclusive_everywhere(results):
    write_runner_layout(results, synthetic({"mote": 5.0, "mote-tlr": -5.0, "em": 5.0}, ALL_MODELS, seeds=(0,)))
    table = claims_table(PROFILE)
    empirical = table[table.kind.isin([PRIMARY, SECONDARY])]
    assert (empirical.verdict == INCONCLUSIVE).all(), empirical[["claim", "verdict"]]
    assert empirical.reason.str.contains("no seed-to-seed variance").all()
    assert empirical.p_value.isna().all(), "a query-only p-value must not be read as a decision"


# ----------------------------------------------------------------------------- the secondary endpoints


def test_the_clustering_equivalence_can_fail(results):
    write_runner_layout(results, synthetic({"mote": {"Clustering": 3.0}}, seed_sd=0.1))
    row = by_claim(claims_table(PROFILE)).loc[CLAIM["clustering_mote_minus_em"]]
    assert row.verdict == CONTRADICTED and "outside ±1.00" in row.reason


def test_the_clustering_equivalence_holds_for_a_tiny_difference(results):
    write_runner_layout(results, synthetic({}, seed_sd=0.05, query_sd=0.5))
    row = by_claim(claims_table(PROFILE)).loc[CLAIM["clustering_mote_minus_em"]]
    assert row.verdict == SUPPORTED and row.p_value < 0.05 and "TOST p" in row.ours  # the 90% CI inside ±1: both tests reject


def test_direction_only_claims_are_never_smaller_than_reported(results):
    tables = synthetic({"mote": {"Reranking": -1.5}}, seed_sd=0.05, query_sd=0.5, cosine_offsets={"mote": -0.05})
    write_runner_layout(results, tables)
    table = by_claim(claims_table(PROFILE))
    for key in ("reranking_mote_minus_ic", "inter_task_cosine_mote_minus_ic"):
        assert PAPER_NUMBERS[key].direction_only
        assert table.loc[CLAIM[key], "verdict"] == SUPPORTED, table.loc[CLAIM[key], "reason"]
        assert table.loc[CLAIM[key], "paper"].startswith("negative (direction only)")


def test_ablations_are_judged_against_the_papers_direction_and_number(results):
    write_runner_layout(results, synthetic({"mote": 2.0, "mote-tlr": 0.0, "mote-no-tacl": 3.0, "mote-eb": 2.0, "ic": 2.0,
                                            "em": 2.0}, ALL_MODELS, seed_sd=0.05, query_sd=0.5))
    table = by_claim(claims_table(PROFILE))
    assert table.loc[CLAIM["routing_slr_minus_tlr"], "verdict"] == SUPPORTED  # +2, direction only
    assert table.loc[CLAIM["tacl_gain"], "verdict"] == CONTRADICTED  # -1 against the paper's +0.41
    eb = table.loc[CLAIM["eb_minus_eob"]]  # no true difference, direction only: the seeds target the observed effect
    assert eb.verdict == INCONCLUSIVE and "the paper gives only a direction" in eb.reason


def test_secondary_p_values_are_holm_adjusted_across_the_secondaries_only(results):
    write_runner_layout(results, synthetic({"mote": 1.0}, ALL_MODELS, seed_sd=0.5))
    table = claims_table(PROFILE)
    secondary = table[(table.kind == SECONDARY) & table.p_value.notna()]
    assert len(secondary) == len(ENDPOINTS) - 1
    assert np.allclose(secondary.p_holm, adjust_p_values(secondary.p_value.tolist(), "holm"))
    assert table.loc[table.kind == PRIMARY, "p_holm"].isna().all()
    assert secondary.ours.str.contains("Holm").all()


# ----------------------------------------------------------------------------- the A/A check


def test_the_aa_check_reads_inconclusive_on_exchangeable_ic_seeds(results):
    write_runner_layout(results, synthetic({"mote": 3.0}, seeds=range(6), seed_sd=0.5))
    table = claims_table(PROFILE)
    row = table[table.kind == AA_CHECK].iloc[0]
    assert row.claim.startswith("A/A: ic seeds {0, 2, 4} against ic seeds {1, 3, 5}")
    assert row.verdict == INCONCLUSIVE and row.n_seeds == 3
    assert "as it should for two halves of one model's seeds" in row.reason and "paper" not in row.reason
    assert "A/A check passed" in write_claims(PROFILE, table).read_text()


def test_the_header_warns_when_the_aa_check_is_not_inconclusive(results):
    broken = {("ic", seed): 4.0 for seed in (0, 2, 4)}  # even IC seeds differ: the halves are not exchangeable
    write_runner_layout(results, synthetic({}, seeds=range(6), seed_sd=0.1, seed_offsets=broken))
    text = write_claims(PROFILE).read_text()
    assert "Warning: the A/A check failed" in text and "not to be trusted" in text
    assert "the intervals are likely too narrow" in text


def test_the_aa_check_needs_two_ic_seeds_per_half(results):
    write_runner_layout(results, synthetic({}, seeds=(0, 1, 2)))
    row = claims_table(PROFILE).query("kind == @AA_CHECK").iloc[0]
    assert row.verdict == NOT_MEASURED and row.ours.startswith("not yet measurable: needs 4 IC seeds")


# ----------------------------------------------------------------------------- construction, reference, gains


def test_claims_that_hold_by_construction_are_listed_apart_and_not_counted(results):
    write_notebook_layout(results, synthetic({"mote": 3.0}))
    runs = pd.DataFrame({"model": ["em", "ic", "mote"], "active_parameters": [100] * 3, "total_parameters": [100, 100, 150]})
    runs.to_csv(results / PROFILE / "training_runs.csv", index=False)
    table = claims_table(PROFILE)
    built = table[table.kind == CONSTRUCTION].set_index("claim")
    assert (built.verdict == BY_CONSTRUCTION).all() and len(built) == 2
    assert built.loc["No extra active parameters", "ours"].startswith("measured: EM 100 / IC 100 / MoTE 100")
    assert built.loc["No extra inference time", "ours"] == BY_CONSTRUCTION  # no inference_time.csv
    assert BY_CONSTRUCTION not in claims.verdict_counts(table)
    text = write_claims(PROFILE, table).read_text()
    assert f"{len(ENDPOINTS)} empirical claims:" in text
    assert text.index("## Claims that hold by construction") > text.index("## Secondary endpoints")


def test_negative_gains_print_no_ratio(results):
    write_runner_layout(results, synthetic({"ic": -1.0, "mote": -2.0}, seed_sd=0.05))
    lines = gain_ratio_lines(collect(PROFILE))
    assert len(lines) == 2 and all("no ratio" in line for line in lines)


def test_positive_gains_print_their_ratio_beside_the_papers(results):
    write_runner_layout(results, synthetic({"ic": 2.0, "mote": 4.0}, seed_sd=0.01, query_sd=0.1))
    retrieval = gain_ratio_lines(collect(PROFILE))[0]
    assert "ratio 2.0" in retrieval and "the paper's ratio: 1.59" in retrieval


def test_reference_rows_show_the_base_model_and_say_when_a_fine_tuned_model_is_below_it(results):
    write_runner_layout(results, synthetic({"em": -30.0}), base_score=60.0)
    reference = claims.reference_rows(collect(PROFILE)).set_index("model")
    assert list(reference.index) == ["base", "em", "ic", "mote"]
    assert reference.loc["base", "seeds"] == "-"
    text = write_claims(PROFILE).read_text()
    assert "em averages" in text and "below the untrained base model's 60.00" in text
    assert "ic averages" not in text


def test_every_fine_tuned_model_ablations_included_is_set_against_the_base(results):
    write_runner_layout(results, synthetic({"mote-eb": -30.0}, models=ALL_MODELS, seeds=(0,)), base_score=45.0)
    averages = claims.dataset_averages(collect(PROFILE))
    assert set(averages.index) == {"base", *ALL_MODELS} and averages["base"] == pytest.approx(45.0)
    assert [line.split()[1] for line in claims.below_base_sentences(collect(PROFILE))] == ["mote-eb"]
    sentence = status._base_sentence(collect(PROFILE))
    assert "mote-eb" in sentence and "mote-tlr" in sentence and "1 of 6 fine-tuned models score below it" in sentence


# ----------------------------------------------------------------------------- inputs and the markdown


def test_both_layouts_give_the_same_verdicts_and_effects(tmp_path, monkeypatch):
    tables = synthetic({"mote": 1.5}, seed_sd=0.5)
    outcomes = []
    for layout, write in (("a", write_runner_layout), ("b", write_notebook_layout)):
        monkeypatch.setenv("MOTE_RESULTS", str(tmp_path / layout))
        write(tmp_path / layout, tables)
        table = claims_table(PROFILE)
        outcomes.append(table[table.kind.isin([PRIMARY, SECONDARY]) & (table.data.str.startswith("per-"))])
    assert outcomes[0][["claim", "verdict"]].equals(outcomes[1][["claim", "verdict"]])
    assert np.allclose(outcomes[0].effect, outcomes[1].effect, equal_nan=True)


def test_rows_with_an_error_are_skipped_and_a_lost_unit_is_left_out_for_every_seed(results):
    write_runner_layout(results, synthetic({"mote": 3.0}))
    path = results / PROFILE / "runs" / "mote-s1" / "scores.csv"
    scores = pd.read_csv(path).astype({"error": object})
    scores.loc[scores.task == "LeeDocumentSTS", ["score", "error"]] = [np.nan, "boom"]
    scores.to_csv(path, index=False)
    assert not collect(PROFILE).scores.query("model == 'mote' and seed == 1").task.eq("LeeDocumentSTS").any()
    row = by_claim(claims_table(PROFILE)).loc[CLAIM["all_mote_minus_ic"]]
    assert row.verdict == SUPPORTED and "left out: 1 unit(s)" in row.ours


def test_missing_tables_give_not_measured_rows_and_never_crash(results):
    table = claims_table(PROFILE)
    empirical = table[table.kind.isin([PRIMARY, SECONDARY])]
    assert (empirical.verdict == NOT_MEASURED).all()
    assert empirical.ours.str.startswith("not measured: needs").all()
    assert "notebook 02_evaluate_mteb" in empirical.ours.iloc[0]
    assert "No per-dataset scores yet." in write_claims(PROFILE, table).read_text()


def test_a_missing_ablation_names_the_runner_command_in_the_runner_layout(results):
    write_runner_layout(results, synthetic({"mote": 3.0}))
    row = by_claim(claims_table(PROFILE)).loc[CLAIM["tacl_gain"]]
    assert row.verdict == NOT_MEASURED
    assert row.ours == f"not measured: needs per-dataset scores of mote-no-tacl (python -m mote_lib.lab.runner run --profile {PROFILE})"


def test_the_markdown_header_links_the_preregistration_and_paper_module_never_shared(results):
    write_runner_layout(results, synthetic({"mote": 3.0}))
    path = write_claims(PROFILE)
    text = path.read_text()
    assert path == results / PROFILE / "claims.md"
    assert "[docs/preregistration.md](../../docs/preregistration.md)" in text
    assert "[mote_lib/lab/paper.py](../../mote_lib/lab/paper.py)" in text
    assert "../shared" not in text and "PAPER_NOTES" not in text
    assert str(results) not in text, "paths are relative to the repository, never this machine's"
    assert "em: [0, 1, 2]" in text and "6 records per task" in text and "steps of" in text
    assert "## Primary endpoint" in text and text.count("\n| MoTE beats IC") == 2  # the primary and all datasets


def test_the_table_keeps_the_columns_notebook_09_reads(results):
    table = claims_table(PROFILE)
    assert {"claim", "paper", "ours", "verdict"} <= set(table.columns)
    assert table.verdict.value_counts().sum() == len(table)


def test_caveats_mark_verdicts_provisional_before_the_aa_check_and_name_a_failed_manipulation_check(results, monkeypatch):
    from mote_lib.lab import manipulation

    decided = pd.DataFrame({"kind": [claims.PRIMARY, claims.AA_CHECK], "verdict": [claims.SUPPORTED, claims.NOT_MEASURED]})
    monkeypatch.setattr(manipulation, "separation", lambda profile: pd.DataFrame({"ratio": [0.8, 0.9]}))
    text = "\n".join(claims.caveat_lines("reference", decided))
    assert "**Provisional.**" in text and "registered rule: failed" in text and "ratios 0.80-0.90" in text
    passed = decided.assign(verdict=[claims.SUPPORTED, claims.INCONCLUSIVE])
    monkeypatch.setattr(manipulation, "separation", lambda profile: pd.DataFrame({"ratio": [1.2, 0.9]}))
    assert claims.caveat_lines("reference", passed) == []


def test_the_matched_yardstick_check_of_record_stands_beside_a_failed_registered_check(results, monkeypatch):
    from mote_lib.lab import manipulation

    decided = pd.DataFrame({"kind": [claims.PRIMARY, claims.AA_CHECK], "verdict": [claims.SUPPORTED, claims.INCONCLUSIVE]})
    monkeypatch.setattr(manipulation, "separation", lambda profile: pd.DataFrame({"ratio": [0.8, 0.9]}))
    monkeypatch.setattr(manipulation, "identity", lambda profile: {
        "verdict": "passed", "distance_ratio": 1.2, "direction_contrast": 0.3, "p_distance": 1e-4, "p_direction": 1e-4,
        "n_seeds": 6, "n_layers": 3})
    text = "\n".join(claims.caveat_lines("reference", decided))
    assert "registered rule: failed" in text and "(amendment 1, A3, of record): passed" in text
    assert "not evidence that task specialisation caused it" not in text


def test_counts_follow_the_holm_adjustment():
    table = pd.DataFrame({"kind": [claims.PRIMARY, claims.SECONDARY, claims.SECONDARY],
                          "verdict": [claims.SUPPORTED, claims.CONTRADICTED, claims.CONTRADICTED],
                          "not_significant_after_holm": [None, True, False]})
    assert claims.verdict_counts(table) == {"supported": 1, "contradicted": 1,
                                            "contradicted before Holm adjustment, not after": 1}


def test_every_judged_row_carries_the_registered_interval_beside_the_amended_one():
    table = claims.claims_table("reference")  # the committed results
    if table["ci_low"].isna().all():
        pytest.skip("needs the committed results/reference")
    judged = table[table["kind"].isin([claims.PRIMARY, claims.SECONDARY, claims.AA_CHECK]) & table["ci_low"].notna()]
    for row in judged.itertuples():
        assert row.registered_verdict in claims.VERDICT_ORDER and "registered" in row.ours
        # the amended interval counts the interaction once: never wider than the registered one
        assert row.ci_high - row.ci_low <= row.registered_ci_high - row.registered_ci_low + 1e-9
