"""mote_lib.lab.runner: the resumable queue of the experiment of record, on a tiny profile."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from mote_lib.cli import CommandLineError
from mote_lib.lab import runner
from mote_lib.lab.runner import Entry, estimate, main, queue
from mote_lib.lab.weight_sketch import sketch_distance
from mote_lib.profiles import PROFILES, Profile

TINY = "tiny-runner"


def tiny_profile(tiny_base, tiny_data) -> Profile:
    return Profile(TINY, train=dict(steps=2, batch_size=4, max_seq_length=32, checkpoint_every=1,
                                    base_model=tiny_base, data_root=tiny_data),
                   seeds=(0,), eval_sample=4, analysis_texts=8)


@pytest.fixture(scope="module")
def finished(tiny_base, tiny_data, tmp_path_factory):
    """The tiny profile's whole queue (base, em, ic, mote) run once: its runs/ and results/ folders."""
    runs, results = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PROFILES, TINY, tiny_profile(tiny_base, tiny_data))
        patch.setenv("MOTE_RUNS", str(runs))
        patch.setenv("MOTE_RESULTS", str(results))
        assert main(["run", "--profile", TINY, "--threads", str(torch.get_num_threads())]) == 0
    return runs, results


@pytest.fixture
def copy_of_finished(finished, tmp_path, monkeypatch, tiny_base, tiny_data):
    """The finished results copied to a fresh folder (the tests change them); the runs and the results store shared."""
    runs, results = finished
    monkeypatch.setitem(PROFILES, TINY, tiny_profile(tiny_base, tiny_data))
    monkeypatch.setenv("MOTE_RUNS", str(runs))
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path / "results"))
    shutil.copytree(results, tmp_path / "results")
    return tmp_path / "results" / TINY / "runs"


def modification_times(folder):
    return {path.relative_to(folder): path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()}


def must_not_train(*args, **kwargs):
    raise AssertionError("a finished run was trained again")


# ----------------------------------------------------------------------------- the queue


def test_the_reference_queue_starts_with_the_base_model_and_ends_with_the_ablations():
    names = [f"{e.profile}/{e.name}" for e in queue("reference")]
    assert names[0] == "reference/base"
    assert names[1:4] == ["reference/ic-s0", "reference/mote-s0", "reference/em-s0"]
    for label in ("ic", "mote", "em"):  # every main model's seed 0 before any seed 1
        assert names.index(f"reference/{label}-s0") < names.index(f"reference/{label}-s1")
    pilot = [i for i, name in enumerate(names) if name.startswith("pilot/")]
    assert [names[i] for i in pilot] == ["pilot/ic-s0", "pilot/mote-s0", "pilot/ic-s1", "pilot/mote-s1"]
    assert min(pilot) > max(names.index("reference/ic-s1"), names.index("reference/mote-s1"))
    ablations = [i for i, e in enumerate(queue("reference")) if e.label in ("mote-tlr", "mote-no-tacl", "mote-eb")]
    assert len(ablations) == 9 and ablations == list(range(len(names) - 9, len(names)))
    assert {"reference/ic-s5", "reference/mote-s5"} <= set(names) and "reference/em-s3" not in names


def test_queue_entries_are_unique_and_other_profiles_run_the_main_models_seed_by_seed():
    for profile in ("reference", "gpu-quick", "cpu"):
        entries = queue(profile)
        assert len({(e.profile, e.name) for e in entries}) == len(entries)
    assert [e.name for e in queue("gpu-quick")] == ["base", *(f"{m}-s{s}" for s in (0, 1, 2) for m in ("em", "ic", "mote"))]


def test_an_entry_names_its_folder_and_the_files_it_needs(monkeypatch, tmp_path):
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path))
    assert Entry("pilot", "ic", 1).folder == tmp_path / "pilot" / "runs" / "ic-s1"
    assert Entry("reference", "base").name == "base"
    assert "route_ablation.csv" in runner.expected_files(Entry("reference", "mote-eb", 0))
    assert "route_ablation.csv" not in runner.expected_files(Entry("reference", "mote-tlr", 0))
    assert "inter_task_cosines.csv" not in runner.expected_files(Entry("reference", "em", 0))
    assert runner.expected_files(Entry("reference", "base")) == ["run.json", "scores.csv", "per_query.csv"]


def test_the_base_gap_queue_lives_beside_the_runs_and_keeps_the_reference_cache_keys(monkeypatch, tmp_path):
    from mote_lib.lab.runs import run_dir

    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path))
    entries = queue("base-gap")
    assert [str(e) for e in entries] == ["reference/base_gap/base-ic", "reference/base_gap/ic-retrieval-only-s0",
                                         "reference/base_gap/ic-lr1e-5-s0"]
    assert all(e.folder.parent == tmp_path / "reference" / "base_gap" for e in entries)
    untrained = entries[0]
    assert not untrained.trained and untrained.seed is None and untrained.variant == "ic"
    assert "inter_task_cosines.csv" in runner.expected_files(untrained)
    assert "train_log.csv" not in runner.expected_files(untrained)
    assert entries[1].config().task_weights == {"retrieval": 1.0} and entries[2].config().lr == 1e-5
    # The study's labels are new TrainConfigs: the reference runs' cache keys are untouched.
    reference = {run_dir(e.config()) for e in queue("reference") if e.trained}
    assert not reference & {run_dir(e.config()) for e in entries[1:]}
    assert run_dir(Entry("reference", "ic", 0).config()).name == "ic-reference-s0-e2b6d16ab471"


def test_an_unknown_profile_exits_2_with_one_line_naming_the_valid_ones(capsys):
    for command in ("plan", "run", "status"):
        assert main([command, "--profile", "nope"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "unknown profile 'nope'" in err and "'reference'" in err
        assert "or a queue: [" in err and all(f"'{name}'" in err for name in runner.QUEUES)


# Runs the runner's command line as __main__; reports its exit status and the heavy modules it had imported.
PROBE = """
import json, runpy, sys
sys.argv = ["mote_lib.lab.runner", *sys.argv[1:]]
try:
    runpy.run_module("mote_lib.lab.runner", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as stop:
    code = stop.code
heavy = sorted(m for m in ("torch", "mteb", "pandas", "transformers", "datasets") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


@pytest.mark.parametrize("argv, expected", [
    (["run", "--profile", "nope"], "unknown profile 'nope'"),
    (["run", "--only", "0"], "--only must be at least 1, got 0"),
    (["run", "--threads", "0"], "--threads must be at least 1, got 0"),
    (["status", "--queue", "nope"], "argument --queue: invalid choice: 'nope'"),
    (["plan", "--threads", "2"], "unrecognized arguments: --threads 2"),
    (["build"], "invalid choice: 'build'"),
])
def test_a_command_line_mistake_is_one_line_and_exit_2_before_torch_loads(argv, expected):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    *lines, probe = done.stderr.strip().splitlines()
    report = json.loads(probe)
    assert report == {"code": 2, "heavy": []}, (report, lines)
    assert len(lines) == 1 and lines[0].startswith("python -m mote_lib.lab.runner: error: ") and expected in lines[0], lines


def test_an_unknown_label_in_a_queue_names_the_valid_ones(monkeypatch):
    monkeypatch.setitem(runner.QUEUES, "smoke", (("smoke", ("moe",), (0,)),))
    with pytest.raises(CommandLineError, match=r"unknown model label 'moe' in the queue; valid: \[") as error:
        queue("smoke")
    assert all(f"'{label}'" in str(error.value) for label in ("base", "em", "ic", "mote"))


def test_status_before_anything_ran_uses_the_stated_priors(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path))
    assert main(["status", "--profile", "reference"]) == 0
    out = capsys.readouterr().out
    assert "0 of 29 runs done, 29 left (next: reference/base)" in out
    assert "s/step (prior" in out and "x 1500 s (prior" in out


def test_status_gives_the_time_left_from_the_fastest_entry_to_the_mean(monkeypatch, tmp_path, capsys):
    """Sharing the cores only slows a run down: the fastest finished entry says what idle cores give."""
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path))
    monkeypatch.setattr(estimate, "machine", lambda: {"cpu": "Test CPU", "avx2": True})
    finished = ("reference/ic-s0", "reference/mote-s0", "reference/em-s0")
    monkeypatch.setattr(estimate, "is_finished", lambda entry: str(entry) in finished)
    # em-s0 ran on the other kind: the same CPU name with AVX-512, several times faster; it must not count
    for name, train_seconds, evaluation, avx512 in (("ic-s0", 360.0, 200.0, False), ("mote-s0", 1080.0, 600.0, False),
                                                    ("em-s0", 90.0, 50.0, True)):
        folder = tmp_path / "reference" / "runs" / name
        folder.mkdir(parents=True)
        machine = {"cpu": "Test CPU", "avx2": True, "avx512f": avx512}
        (folder / "run.json").write_text(json.dumps({"machine": machine, "threads": 2, "steps": 180,
                                                     "train_seconds": train_seconds}))
        (folder / "done.json").write_text(json.dumps({"seconds": {"scores.csv": evaluation}}))
    rates = runner.measured_rates(queue("reference"), "Test CPU (AVX2)", 2)
    assert rates["step"].seconds == pytest.approx(4.0) and rates["step"].fastest == pytest.approx(2.0)
    assert rates["evaluation"].seconds == pytest.approx(400.0) and rates["evaluation"].fastest == pytest.approx(200.0)
    assert rates["route_ablation"].fastest is None  # none measured: the prior
    assert main(["status", "--profile", "reference"]) == 0
    out = capsys.readouterr().out
    assert "3 of 29 runs done" in out and "time left: about " in out and "at the fastest finished entry's rates" in out
    assert "x 4.0 s/step (fastest 2.0) (measured on Test CPU (AVX2), 2 threads, 360 steps)" in out


def test_a_machine_kind_with_no_finished_entry_borrows_the_other_kinds_rates_and_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path))
    monkeypatch.setattr(estimate, "is_finished", lambda entry: str(entry) == "reference/ic-s0")
    folder = tmp_path / "reference" / "runs" / "ic-s0"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"machine": {"cpu": "Test CPU", "avx2": True}, "threads": 2, "steps": 180,
                                                 "train_seconds": 540.0}))
    (folder / "done.json").write_text(json.dumps({"seconds": {"scores.csv": 300.0}}))
    rates = runner.measured_rates(queue("reference"), "Test CPU (AVX-512 + bf16)", 2)
    assert rates["step"].seconds == pytest.approx(3.0) and rates["evaluation"].seconds == pytest.approx(300.0)
    assert rates["step"].source == ("measured on another machine kind (Test CPU (AVX2)), 2 threads; "
                                    "none on Test CPU (AVX-512 + bf16) yet, 180 steps")
    assert runner.measured_rates(queue("reference"), "Test CPU (AVX2)", 1)["step"].source.startswith("prior")  # threads differ


# ----------------------------------------------------------------------------- running it


def test_a_run_writes_every_file_of_every_entry_then_done_json(finished):
    _, results = finished
    folder = results / TINY / "runs"
    assert sorted(p.name for p in folder.iterdir()) == ["base", "em-s0", "ic-s0", "mote-s0"]
    for name, expected in {"base": runner.expected_files(Entry(TINY, "base")),
                           "mote-s0": ["run.json", "scores.csv", "per_query.csv", "train_log.csv", "expert_movement.csv",
                                       "weight_sketch.npz", "inter_task_cosines.csv", "route_ablation.csv"]}.items():
        assert sorted(p.name for p in (folder / name).iterdir()) == sorted([*expected, "done.json"])
    assert not (folder / "ic-s0" / "route_ablation.csv").exists() and (folder / "ic-s0" / "inter_task_cosines.csv").exists()

    record = json.loads((folder / "mote-s0" / "run.json").read_text())
    assert record["steps"] == 2 and record["train_config"]["variant"] == "mote" and len(record["weights_hash"]) == 16
    assert {"cpu", "cores", "avx2", "avx512f", "avx512_bf16"} <= set(record["machine"]) and "commit" in record["git"]
    done = json.loads((folder / "mote-s0" / "done.json").read_text())
    assert done["load_average_1min"] >= 0 and done["threads"] >= 1  # a contended timing says so

    scores = pd.read_csv(folder / "mote-s0" / "scores.csv")
    assert "result_file" not in scores and len(scores) == 12 and scores["error"].isna().all()
    assert {"entry", "seed", "profile", "commit", "cpu", "threads"} <= set(scores)
    assert set(scores["entry"]) == {"mote-s0"} and set(scores["profile"]) == {TINY}
    assert set(pd.read_csv(folder / "base" / "scores.csv")["variant"]) == {"em"}
    assert set(pd.read_csv(folder / "ic-s0" / "per_query.csv")["task_type"]) == {"Retrieval", "Reranking"}

    log = pd.read_csv(folder / "ic-s0" / "train_log.csv")
    assert list(log["step"]) == [1, 2] or list(log["step"]) == [0, 1]
    assert list(log.columns[7:13]) == ["step", "task", "loss", "lr", "grad_norm", "tokens_per_s"]


def test_expert_movement_compares_each_expert_with_its_initial_weights(finished):
    folder = finished[1] / TINY / "runs"
    movement = pd.read_csv(folder / "mote-s0" / "expert_movement.csv", keep_default_na=False)
    change = movement[movement["measure"] == "relative_change"]
    assert set(change[change["layer"] == 1]["expert_a"]) == {"classification", "clustering", "search_document", "search_query"}
    assert set(change[change["layer"] == 0]["expert_a"]) == {"dense"}
    # Two small steps: the shared block moved a little, and only the experts of the tasks sampled.
    assert (change["value"] < 0.1).all() and (change[change["layer"] == 0]["value"] > 0).all()
    assert (change[change["layer"] == 1]["value"] > 0).any()
    distance = movement[movement["measure"] == "relative_distance"]
    assert len(distance) == 6 and set(distance["layer"]) == {1}  # 4 experts: 6 pairs, in the MoTE layer only
    dense = pd.read_csv(folder / "ic-s0" / "expert_movement.csv", keep_default_na=False)
    assert set(dense["expert_a"]) == {"dense"} and len(dense) == 2


def test_the_weight_sketch_estimates_distances_between_runs(finished):
    folder = finished[1] / TINY / "runs"
    ic, em = (np.load(folder / name / "weight_sketch.npz") for name in ("ic-s0", "em-s0"))
    assert ic["sketch"].dtype == np.float32 and ic["sketch"].shape == (2, int(ic["buckets"]))
    assert list(ic["expert"]) == ["dense", "dense"] and str(ic["entry"]) == f"{TINY}/ic-s0"
    assert np.linalg.norm(ic["sketch"], axis=1) == pytest.approx(ic["change_norm"], rel=0.02)
    assert sketch_distance(ic["sketch"][1], em["sketch"][1]) > 0


def test_route_ablation_scores_retrieval_with_the_right_no_and_the_wrong_query_expert(finished):
    table = pd.read_csv(finished[1] / TINY / "runs" / "mote-s0" / "route_ablation.csv")
    assert set(table["routing"]) == {"right", "none", "wrong"}
    assert set(table["task_type"]) == {"Retrieval", "Reranking"} and table["error"].isna().all()
    assert table.groupby("routing")["task"].nunique().nunique() == 1


def test_a_second_run_does_nothing(copy_of_finished, monkeypatch, capsys):
    before = modification_times(copy_of_finished)
    monkeypatch.setattr("mote_lib.train.train", must_not_train)
    monkeypatch.setattr("mote_lib.evaluate.evaluate_models", must_not_train)
    assert main(["run", "--profile", TINY, "--threads", str(torch.get_num_threads())]) == 0
    assert "all 4 entries of the tiny-runner queue are done" in capsys.readouterr().out
    assert modification_times(copy_of_finished) == before


def test_a_deleted_result_file_is_recomputed_alone(copy_of_finished, monkeypatch, capsys):
    scores = copy_of_finished / "ic-s0" / "scores.csv"
    content = scores.read_text()
    scores.unlink()
    before = modification_times(copy_of_finished)
    monkeypatch.setattr("mote_lib.train.train", must_not_train)
    assert main(["run", "--profile", TINY, "--threads", str(torch.get_num_threads())]) == 0
    out = capsys.readouterr().out
    assert f"{TINY}/ic-s0 scores.csv:" in out and "per_query.csv:" not in out
    after = modification_times(copy_of_finished)
    changed = {str(path) for path in after if after[path] != before.get(path)}
    assert changed == {"ic-s0/scores.csv", "ic-s0/done.json"}
    assert scores.read_text() == content  # the stored evaluation, same weights


def test_an_interrupted_entry_resumes_where_it_stopped(copy_of_finished, monkeypatch, capsys):
    mote = copy_of_finished / "mote-s0"
    run_json = (mote / "run.json").read_text()
    for name in ("done.json", "inter_task_cosines.csv", "route_ablation.csv"):
        (mote / name).unlink()
    assert "partial, missing inter_task_cosines.csv, route_ablation.csv, done.json" in "\n".join(runner.plan(TINY))
    monkeypatch.setattr("mote_lib.train.train", must_not_train)
    assert main(["run", "--profile", TINY, "--only", "1", "--threads", str(torch.get_num_threads())]) == 0
    out = capsys.readouterr().out
    assert "inter_task_cosines.csv:" in out and "route_ablation.csv:" in out and "scores.csv:" not in out
    assert (mote / "run.json").read_text() == run_json
    assert runner.is_finished(Entry(TINY, "mote", 0))
    assert set(json.loads((mote / "done.json").read_text())["seconds"]) >= {"inter_task_cosines.csv", "route_ablation.csv"}


def test_the_mechanism_stage_writes_its_files_beside_the_registered_ones(copy_of_finished, monkeypatch):
    registered = modification_times(copy_of_finished)
    monkeypatch.setattr("mote_lib.train.train", must_not_train)
    for label in ("ic", "mote"):
        runner.run_entry(Entry(TINY, label, 0, stage="mechanism"))
    after = modification_times(copy_of_finished)
    assert all(after[path] == stamp for path, stamp in registered.items())  # nothing registered rewritten
    mote, ic = copy_of_finished / "mote-s0", copy_of_finished / "ic-s0"
    assert runner.is_finished(Entry(TINY, "mote", 0, stage="mechanism")) and (ic / "mechanism_done.json").is_file()
    assert not (ic / "swap_matrix.csv").exists()
    check = json.loads((mote / "weights_check.json").read_text())
    assert check["within_tolerance"] and check["sketch_gap"] < 1e-6 and check["machine_kind"]
    swaps = pd.read_csv(mote / "swap_matrix.csv")
    assert set(swaps["route"]) == {"search_query", "search_document", "classification", "clustering", "sts_pair"}
    experts = {"classification", "clustering", "search_document", "search_query", "none"}
    assert swaps.groupby("route")["expert"].apply(set).eq(experts).all() and swaps["error"].isna().all()
    routed = swaps[swaps["routed"]]
    assert (routed["route"].map(lambda r: {"sts_pair": "classification"}.get(r, r)) == routed["expert"]).all()
    assert set(pd.read_csv(mote / "swap_per_query.csv")["task_type"]) == {"Retrieval", "Reranking"}
    merges = pd.read_csv(mote / "expert_merges.csv")
    assert set(merges["edit"]) == {"routed", "wave", "merge search_document+clustering", "merge search_query+search_document"}
    assert merges.groupby("edit")["task"].nunique().nunique() == 1  # every edit on the whole suite
    cosines, ratios = pd.read_csv(mote / "layer_cosines.csv"), pd.read_csv(ic / "sensitivity.csv")
    assert len(cosines.groupby(["task_a", "task_b"])) == 6 and set(ratios["probe"]) == {"swap", "edit"}
    from mote_lib.lab import mechanism_claims

    tables = mechanism_claims.paired_tables(TINY)  # every claim's inputs read; one seed gives no interval yet
    assert all(isinstance(t, pd.DataFrame) and not t.empty for t in tables.values())
    assert (mechanism_claims.mechanism_claims(TINY)["verdict"] == "not measured").all()
    assert any(line.startswith("## The mechanism") for line in mechanism_claims.lines(TINY))


def test_weights_beyond_the_tolerance_are_recorded_and_rescored_as_amendment_1_says(copy_of_finished):
    folder = copy_of_finished / "ic-s0"
    sketch = dict(np.load(folder / "weight_sketch.npz"))
    sketch["sketch"] = sketch["sketch"] * 1.01
    with open(folder / "weight_sketch.npz", "wb") as handle:
        np.savez_compressed(handle, **sketch)
    runner.run_entry(Entry(TINY, "ic", 0, stage="mechanism"))
    check = json.loads((folder / "weights_check.json").read_text())
    assert not check["within_tolerance"] and check["sketch_gap"] > check["sketch_tolerance"]
    rescored, committed = pd.read_csv(folder / "rescore.csv"), pd.read_csv(folder / "scores.csv")
    assert set(rescored["task"]) == set(committed["task"]) and (folder / "rescore_per_query.csv").is_file()


def test_the_capacity_queue_runs_both_depth_arms_seed_by_seed_then_the_mpnet_pair_and_reuses_the_6_layer_runs():
    entries = queue("capacity")
    names = [e.name for e in entries]
    assert names[:2] == ["base-2l", "base-4l"] and names[-3:] == ["base-mpnet", "ic-mpnet-s0", "mote-mpnet-s0"]
    assert names[2:6] == ["ic-2l-s0", "mote-2l-s0", "ic-4l-s0", "mote-4l-s0"] and len(names) == 2 + 24 + 3
    assert all(e.group == "capacity" and e.profile == "reference" for e in entries)
    assert not any(e.label in ("ic", "mote") for e in entries)  # the 6-layer arm is the reference runs
    base = next(e for e in entries if e.name == "base-2l")
    assert not base.trained and base.variant == "em" and base.config().base_layers == 2
    assert runner.expected_files(base) == ["run.json", "scores.csv", "per_query.csv"]
    mote = next(e for e in entries if e.name == "mote-4l-s3")
    assert mote.config().base_layers == 4 and mote.variant == "mote" and "route_ablation.csv" in runner.expected_files(mote)
    assert next(e for e in entries if e.name == "mote-mpnet-s0").config().base_model == "mpnet"


def test_a_queue_with_nothing_finished_borrows_the_reference_rates_and_says_so(monkeypatch, tmp_path, capsys):
    lines = estimate.status("capacity")
    assert lines[0].startswith("capacity: 0 of 29 runs done")
    if any("measured" in line for line in estimate.status("reference")[2:]):  # the committed reference entries
        assert all("from the reference queue" in line for line in lines[2:])


def test_the_mechanism_queue_covers_ic_and_mote_seeds_0_to_5_of_the_reference():
    entries = queue("mechanism")
    assert {(e.label, e.seed) for e in entries} == {(m, s) for m in ("ic", "mote") for s in range(6)}
    assert all(e.profile == "reference" and e.stage == "mechanism" and e.group == "runs" for e in entries)


def test_results_of_other_weights_are_never_mixed_into_an_entry(copy_of_finished):
    record = copy_of_finished / "em-s0" / "run.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "weights_hash": "0" * 16}))
    (copy_of_finished / "em-s0" / "scores.csv").unlink()
    with pytest.raises(runner.WeightsChanged, match="move that folder aside"):
        runner.run(TINY, threads=torch.get_num_threads())


def test_an_interrupted_training_is_resumed_by_the_next_run(tiny_base, tiny_data, tmp_path, monkeypatch):
    monkeypatch.setitem(PROFILES, TINY, tiny_profile(tiny_base, tiny_data))
    monkeypatch.setenv("MOTE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path / "results"))
    from mote_lib import train as train_module

    calls, real_train = [], train_module.train

    def killed_before_the_final_save(config, output, resume=False, **kwargs):
        calls.append(resume)
        real_train(config, output, resume=resume, **kwargs)
        if len(calls) == 1:  # the machine vanished after the last checkpoint, before the model was saved
            (output / "summary.json").unlink()
            shutil.rmtree(output / "model")
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "train", killed_before_the_final_save)
    for name in ("scores.csv", "per_query.csv"):
        monkeypatch.setitem(runner.STEPS, name, lambda work, path: path.write_text("x"))
    entry = Entry(TINY, "em", 0)
    with pytest.raises(KeyboardInterrupt):
        runner.run_entry(entry)
    assert not (entry.folder / "run.json").exists()
    runner.run_entry(entry)
    assert calls == [False, True] and runner.is_finished(entry)


def test_plan_and_status_report_what_is_done_and_a_measured_estimate(copy_of_finished, monkeypatch, capsys):
    shutil.rmtree(copy_of_finished / "mote-s0")
    lines = runner.plan(TINY)
    assert [line.split()[-1] for line in lines[:3]] == ["done"] * 3 and "to do, weights cached" in lines[3]
    assert main(["status", "--profile", TINY, "--threads", str(torch.get_num_threads())]) == 0
    out = capsys.readouterr().out
    assert "3 of 4 runs done, 1 left (next: tiny-runner/mote-s0)" in out
    assert "2 training steps x" in out and "measured on" in out and "(prior" not in out.split("route ablations")[0]


def test_the_gpu_quick_plan_runs_end_to_end_on_cpu_with_tiny_sizes(tiny_base, tiny_data, tmp_path, monkeypatch):
    """The gpu-quick profile's queue and its bf16 autocast, at tiny sizes on the CPU: what a lent GPU would run."""
    import dataclasses

    quick = PROFILES["gpu-quick"]
    tiny = dict(steps=2, batch_size=4, max_seq_length=32, checkpoint_every=1, base_model=tiny_base, data_root=tiny_data,
                bf16="on", device="cpu")
    monkeypatch.setitem(PROFILES, "gpu-quick", dataclasses.replace(quick, train={**quick.train, **tiny}, eval_sample=4,
                                                                   analysis_texts=8))
    monkeypatch.setenv("MOTE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path / "results"))
    assert main(["run", "--profile", "gpu-quick", "--threads", str(torch.get_num_threads()), "--only", "2"]) == 0
    folder = tmp_path / "results" / "gpu-quick" / "runs"
    assert sorted(p.name for p in folder.iterdir()) == ["base", "em-s0"]
    record = json.loads((folder / "em-s0" / "run.json").read_text())
    assert record["train_config"]["bf16"] == "on" and record["train_config"]["profile"] == "gpu-quick"
    assert record["train_config"]["batch_size"] == 4 and quick.train["batch_size"] == 128  # the real plan is untouched
    assert np.isfinite(pd.read_csv(folder / "em-s0" / "scores.csv")["score"]).all()
