"""The benchmark runs (``--quick``: the tiny random BERT, seconds) and records what issue 17 asks of it.

Timings are never asserted: speed is measured (bench/), not tested.
"""

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
TARGETS = {"training_share_of_fp32_peak", "evaluation_over_floor", "mote_over_ic_step_time", "encode_over_sentence_transformers"}
RECORDED = {"target", "figure", "status", "command", "commit", "cpu", "flags", "threads", "machine_kind"}


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def suite():
    return _load("bench_suite")


@pytest.fixture(scope="module")
def quick_run(suite, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    history = folder / "RESULTS.md"
    history.write_text("# Benchmark results\n\n## an earlier reading\n\nkept\n\n## GPU\n\nnone yet\n")
    result = suite.main(["--quick", "--threads", "1", "--replay", "--embed-chunks", "2", "--fast-dropout", "--output", str(folder / "results.json"), "--history", str(history)])
    return result, folder


def test_quick_run_measures_every_part_and_gives_every_target_a_verdict(quick_run):
    result, _ = quick_run
    assert set(result["targets"]) == TARGETS
    for key, verdict in result["targets"].items():
        assert RECORDED <= set(verdict), key
        assert verdict["figure"] > 0
        assert verdict["status"] == "met" or verdict["status"].startswith("not met: "), verdict["status"]
    assert result["peak"]["fp32_gflops"] > 0 and result["machine"]["threads"] == 1
    assert set(result["training"]["variants"]) == {"em", "ic", "mote", "mote_chunk2", "em_fast_dropout", "ic_fast_dropout",
                                                   "mote_fast_dropout", "mote_chunk2_fast_dropout", "em_cpu_training",
                                                   "ic_cpu_training", "mote_cpu_training"}
    training = result["targets"]["training_share_of_fp32_peak"]
    assert set(training["per_variant"]) == set(result["training"]["variants"])
    assert training["worst_variant"].endswith("_cpu_training")  # judged on the cpu profile's setting
    assert "fast_dropout=True, embed_chunk=8" in training["measured_with"] and "with the default" in training["measured_with"]
    assert training["status"] == "met" or "with fast dropout" in training["status"]
    assert all(v["flop_count_matches_trainer_tokens"] for v in result["training"]["variants"].values())
    assert result["training"]["mote_profile"]["top_ops"] and result["training"]["mote_cpu_training_profile"]["top_ops"]
    evaluation = result["evaluation"]
    assert evaluation["encode_calls"] > 0 and evaluation["floor_texts"] > 0
    assert len(evaluation["floors_s"]) == evaluation["rounds"] + 1  # every evaluation between two floors
    assert evaluation["replay_of_evaluation_calls_s"] > 0
    assert set(result["encode"]["ratios"]) == {"mote_lib_em / sentence_transformers", "mote_one_task / ic_one_task",
                                               "mote_mixed / ic_mixed", "forward, same batches: mote_lib / transformers"}
    padding = result["encode"]["padding_share"]  # ours sorts by tokens: never more padding than by characters
    assert 0 <= padding["mote_lib (tokens)"] <= padding["sentence_transformers (characters)"] < 1


def test_quick_run_writes_the_json_and_appends_to_the_history(quick_run):
    result, folder = quick_run
    written = json.loads((folder / "results.json").read_text())
    assert set(written["targets"]) == TARGETS
    assert written["command"].startswith("python bench/bench_suite.py --quick")
    assert "replayed outside mteb" in written["targets"]["evaluation_over_floor"]["status"] or \
        written["targets"]["evaluation_over_floor"]["status"] == "met"
    machine = result["machine"]
    assert list(written["by_machine_kind"]) == [f"{machine['kind']}, {machine['cores']} cores, 1 threads"]
    history = (folder / "RESULTS.md").read_text()
    assert "## an earlier reading\n\nkept" in history
    assert history.index("`python bench/bench_suite.py --quick") < history.index("## GPU")  # the GPU section stays last
    assert "floors in turn with the evaluations" in history and "replayed outside mteb" in history


def _result(suite, share=0.6, ratio=1.0, evaluation=1.05, encode=1.02):
    machine = {"cpu": "Test CPU", "flags": dict.fromkeys(suite.CPU_FLAGS, False), "threads": 2, "cores": 2, "kind": "Test CPU (AVX2)",
               "idle_at_start": True}
    split = {"forward": 1.0, "backward": 2.0, "optimizer": 0.5}
    variant = {"share_of_fp32_peak": share, "useful_gflops": 60.0, "computed_gflops": 70.0, "padding_share": 0.1,
               "median_step_s": 3.5, "split_s": split, "parameters": {"total": 22_000_000, "active": 22_000_000}}
    return {
        "command": "python bench/bench_suite.py", "commit": "abc", "date": "2026-12-03", "machine": machine,
        "peak": {"fp32_gflops": 100.0, "model_shapes_gflops": {"a": 80.0, "b": 90.0}},
        "training": {"variants": {"em": variant, "ic": variant, "mote": dict(variant, share_of_fp32_peak=share - 0.01)},
                     "mote_over_ic_step_time": ratio, "timed_steps": 5,
                     "mote_profile": {"matmul_share": 0.7, "top_ops": [{"op": "aten::mm", "share": 0.6}]}},
        "evaluation": {"evaluation_over_floor": evaluation, "variant": "mote", "tasks": ["T"], "evaluation_s": 10.0 * evaluation,
                       "floor_s": 10.0, "floor_texts": 100, "floor_texts_by_route": {"classification": 100},
                       "seconds_inside_encode": 9.0, "seconds_outside_encode": 10.0 * evaluation - 9.0, "encode_calls": 3,
                       "texts_embedded_by_evaluation": 120},
        "encode": {"ratios": {"mote_lib_em / sentence_transformers": encode}, "texts": 256, "batch_size": 32, "rounds": 3,
                   "texts_per_s": {"mote_lib_em": 51.0 * encode, "sentence_transformers": 51.0}},
    }


def test_the_bench_names_the_machine_as_the_runner_does(suite, quick_run):
    """One machine kind (mote_lib.machine.machine_kind) keys the runner's estimate and the bench's records;
    the records add the cores, as bench/results.json and bench/RESULTS.md always did."""
    from mote_lib.machine import machine, machine_kind

    result, folder = quick_run
    kind = result["machine"]["kind"]
    assert kind == machine_kind({**machine(), "gpu": None}) and kind == machine_kind(result["machine"] | {"gpu": None})
    assert result["targets"]["encode_over_sentence_transformers"]["machine_kind"] == kind
    heading = f"· CPU: {kind}, {result['machine']['cores']} cores, 1 threads, torch"
    assert heading in (folder / "RESULTS.md").read_text()
    committed = json.loads((BENCH / "results.json").read_text())  # written before the one kind: the same keys
    assert all(key.startswith(f"{committed['machine']['kind']}") for key in committed["by_machine_kind"])
    assert f"{machine_kind(committed['machine'])}, {committed['machine']['cores']} cores" == committed["machine"]["kind"]


def test_targets_met_say_met(suite):
    targets = suite.judge_targets(_result(suite))
    assert {key: v["status"] for key, v in targets.items()} == dict.fromkeys(TARGETS, "met")
    assert targets["training_share_of_fp32_peak"]["worst_variant"] == "mote"
    assert "the cpu profile's was not timed" in targets["training_share_of_fp32_peak"]["measured_with"]


def test_the_training_target_is_judged_on_the_cpu_profiles_setting_with_the_default_beside_it(suite):
    result = _result(suite, share=0.45)
    variants = result["training"]["variants"]
    variants.update({f"{v}_cpu_training": dict(variants[v], share_of_fp32_peak=0.56 + i / 100) for i, v in enumerate(variants)})
    target = suite.judge_targets(result)["training_share_of_fp32_peak"]
    assert (target["status"], target["figure"], target["worst_variant"]) == ("met", 0.56, "em_cpu_training")
    assert "the worst, EM (cpu profile's setting), reaches 0.56" in target["measured_with"]
    assert "the worst, MoTE, reaches 0.44" in target["measured_with"]
    assert "judged on EM, IC and MoTE with the cpu profile's training setting" in suite.history_section(
        dict(result, targets=suite.judge_targets(result), wall_s=60.0, training=None, evaluation=None, encode=None,
             machine=dict(result["machine"], torch="2", load_average_at_start=0.1),
             peak=dict(result["peak"], start_gflops=99.0, end_gflops=100.0, size=2048)))


def test_a_missed_target_says_what_was_measured(suite):
    targets = suite.judge_targets(_result(suite, share=0.4, ratio=1.2, evaluation=1.3, encode=0.9))
    assert all(v["status"].startswith("not met: ") for v in targets.values())
    assert "aten::mm 60%" in targets["training_share_of_fp32_peak"]["status"]
    assert "1.200x IC's" in targets["mote_over_ic_step_time"]["status"]
    assert "outside it" in targets["evaluation_over_floor"]["status"]
    assert "sentence-transformers" in targets["encode_over_sentence_transformers"]["status"]


def test_a_part_left_out_is_not_measured(suite):
    result = _result(suite)
    del result["evaluation"]
    assert suite.judge_targets(result)["evaluation_over_floor"]["status"] == "not measured"


def test_results_keep_the_other_machine_kinds_latest_verdicts(suite, tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"by_machine_kind": {"Other CPU (AVX-512), 2 cores, 2 threads": {"targets": {}}}}))
    result = _result(suite)
    result["targets"] = suite.judge_targets(result)
    suite.write_results(path, result)
    assert set(json.loads(path.read_text())["by_machine_kind"]) == {"Other CPU (AVX-512), 2 cores, 2 threads",
                                                                    "Test CPU (AVX2), 2 cores, 2 threads"}


def test_a_partial_run_keeps_the_kinds_earlier_verdicts_of_the_parts_it_left_out(suite, tmp_path):
    path = tmp_path / "results.json"
    full = _result(suite)
    full["targets"] = suite.judge_targets(full)
    suite.write_results(path, full)
    partial = _result(suite, evaluation=1.2)
    del partial["training"]
    partial["commit"] = "def"
    partial["targets"] = suite.judge_targets(partial)
    suite.write_results(path, partial)
    kept = json.loads(path.read_text())["by_machine_kind"]["Test CPU (AVX2), 2 cores, 2 threads"]["targets"]
    assert kept["training_share_of_fp32_peak"]["commit"] == "abc"  # the earlier run's, with its own commit
    assert kept["training_share_of_fp32_peak"]["status"] == "met"
    assert kept["evaluation_over_floor"]["commit"] == "def" and kept["evaluation_over_floor"]["status"].startswith("not met")


# ----------------------------------------------------------------------------- bench_gpu.py (one prepared GPU call)


def test_the_gpu_report_rebuilds_from_the_committed_device_runs_and_sizes_the_gpu_quick_profile(tmp_path):
    import shutil

    from mote_lib.profiles import PROFILES

    gpu = _load("bench_gpu")
    stored = Path(__file__).resolve().parents[1] / "results" / "gpu-quick"
    for path in stored.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    text = gpu.report(tmp_path).read_text()
    assert text == (stored / "README.md").read_text(), "results/gpu-quick/README.md is stale: python bench/bench_gpu.py --report results/gpu-quick"
    assert "| resume identical with deterministic | yes |" in text and "H200" in text
    # The profile is what the slowest machine measured fits.
    assert PROFILES["gpu-quick"].train["steps"] == gpu.fitted_steps(stored)
    assert "**Steps that fit** (90% of the 600 s window" in text and f"**{gpu.fitted_steps(stored)}**" in text
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit, match="no bench_gpu.*json in"):
        gpu.report(empty)


@pytest.mark.slow
def test_the_gpu_run_goes_through_on_a_cpu_at_tiny_sizes(tmp_path):
    gpu = _load("bench_gpu")
    gpu.prepare(tmp_path)
    result = gpu.main(["--run", str(tmp_path), "--device", "cpu", "--quick", "--output", str(tmp_path / "bench_gpu.json")])
    assert all(check["passed"] for check in result["cuda_paths"].values()), result["cuda_paths"]
    assert set(result["training"]["variants"]) == {f"{v}_{p}" for v in ("em", "ic", "mote") for p in ("bf16", "fp32")}
    assert result["projection"]["entries"] == 10 and result["projection"]["total_s"] > 0
