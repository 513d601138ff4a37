"""mote_lib.evaluate: routing through mteb, the results store, failures, aggregation, the CLI."""

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

    from mote_lib.evaluate import _config_dict

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
