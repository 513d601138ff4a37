"""mote_lib.lab.experiments: the profiles' plans, model labels, cached tables, texts for the analyses."""

import json

import pandas as pd
import pytest

from mote_lib.lab import experiments
from mote_lib.lab.plots import FIGURES
from mote_lib.profiles import PROFILES, get_profile
from mote_lib.train import TrainConfig


def test_labels_map_to_the_training_configs_the_cached_runs_were_made_with():
    assert experiments.train_config("em", "cpu") == TrainConfig.from_profile("cpu", variant="em")
    assert experiments.train_config("mote-eb", "cpu").layers == "every"
    assert experiments.train_config("mote-no-tacl", "cpu").ta_cl is False
    assert experiments.train_config("mote-tlr", "gpu", seed=2).seed == 2
    small = experiments.train_config("ic-2l", "smoke")
    assert (small.variant, small.base_layers) == ("ic", 2)
    with pytest.raises(ValueError, match=r"unknown model label 'moe'; valid: .* or em-<N>l / ic-<N>l / mote-<N>l"):
        experiments.train_config("moe", "cpu")


def test_every_profile_trains_the_main_models_the_ablations_and_the_capacity_sweep():
    for profile in PROFILES:
        labels = experiments.all_models(profile)
        assert len(labels) == len(set(labels))
        assert set(experiments.MAIN_MODELS) | set(experiments.ABLATION_MODELS) <= set(labels)
        for layers in get_profile(profile).capacity_layers:
            assert {f"ic-{layers}l", f"mote-{layers}l"} <= set(labels)


def test_analysis_texts_are_a_fixed_sample_of_distinct_texts():
    texts = experiments.analysis_texts(40)
    assert texts == experiments.analysis_texts(40) and len(set(texts)) == 40
    assert experiments.analysis_texts(40, seed=1) != texts
    assert experiments.analysis_texts(10) == texts[:10]  # round robin over tasks: a prefix of a larger sample
    with pytest.raises(ValueError):  # more distinct texts than the suite holds
        experiments.analysis_texts(10**7)


def test_results_round_trip_and_a_missing_table_names_its_notebook(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path))
    table = pd.DataFrame({"model": ["em", "mote"], "score": [1.5, 2.25]})
    path = experiments.write_result(table, "summary", "smoke")
    assert path == tmp_path / "smoke" / "summary.csv" and not list(path.parent.glob(".*tmp*"))
    pd.testing.assert_frame_equal(experiments.read_result("summary", "smoke"), table)
    with pytest.raises(FileNotFoundError, match=r"run 05_significance_tests with profile='smoke' first"):
        experiments.read_result("significance", "smoke")


def test_every_figure_is_drawn_from_a_table_a_notebook_writes():
    for name, (table, _) in FIGURES.items():
        producer = experiments.RESULT_PRODUCERS[table]
        assert name[:2] == producer[:2], f"{name} is drawn from {table}, which {producer} writes"


def test_small_profiles_evaluate_a_cached_sample_and_gpu_the_shipped_suite(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_RUNS", str(tmp_path))
    assert experiments.eval_data_root("gpu") is None
    root = experiments.eval_data_root("smoke")
    assert root == tmp_path / f"eval-sample-{get_profile('smoke').eval_sample}" and (root / "eval").is_dir()
    stamp = (root / "eval" / "FaqRetrieval" / "test.queries.jsonl.gz").stat().st_mtime_ns
    assert experiments.eval_data_root("smoke") == root
    assert (root / "eval" / "FaqRetrieval" / "test.queries.jsonl.gz").stat().st_mtime_ns == stamp  # not rewritten


def test_training_curves_read_every_runs_log(tmp_path, monkeypatch):
    log = [{"step": s, "task_loss": {"retrieval": 2.0 - s / 10} if s % 2 else {"clustering": 3.0}} for s in range(1, 7)]
    (tmp_path / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    monkeypatch.setattr(experiments, "trained_run_folder", lambda label, profile, seed=0, show_progress=False: tmp_path)
    curves = experiments.training_curves(["mote"], "smoke", window=2)
    retrieval = curves[curves.task == "retrieval"]
    assert retrieval["step"].tolist() == [1, 3, 5]
    assert retrieval["smoothed"].round(6).tolist() == [1.9, 1.8, 1.6]
    assert (curves[curves.task == "clustering"]["smoothed"] == 3.0).all()
