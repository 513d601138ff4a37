"""The benchmark scripts run (tiny sizes; their timings are not asserted: speed is measured, not tested)."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.integration
def test_encode_benchmark_runs_and_reports_its_three_ratios():
    result = _load("bench_encode").main(["--texts", "8", "--rounds", "1", "--batch-size", "4", "--device", "cpu"])
    assert set(result["ratios"]) == {"mote_one_task / ic", "mote_mixed / ic_mixed", "mote_lib_dense / sentence_transformers"}
    assert all(value > 0 for value in result["ratios"].values())


@pytest.mark.integration
def test_train_step_benchmark_runs_and_reports_its_ratios():
    result = _load("bench_train_step").main(["--steps", "1", "--batch-size", "4", "--max-seq-length", "32", "--device", "cpu",
                                             "--peak-size", "256"])
    assert "step time mote / ic" in result["ratios"] and "mote fp32 achieved / fp32 matmul peak" in result["ratios"]
