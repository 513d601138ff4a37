"""mote_lib.machine: the one home of the machine and git facts that key every timing record (runner and bench)."""

import json
import re

from mote_lib.machine import commit_label, git_state, machine, machine_kind
from mote_lib.paths import PROJECT_ROOT


def test_the_machine_kind_names_the_gpu_or_the_cpu_and_its_instruction_set():
    runner_record = {"cpu": "AMD EPYC", "cores": 2, "avx2": True, "avx512f": False, "avx512_bf16": False, "gpu": None}
    bench_record = {"cpu": "AMD EPYC", "cores": 2, "flags": {"avx2": True, "avx512f": False, "avx512_bf16": False,
                                                             "amx_bf16": False}, "gpu": None}
    assert machine_kind(runner_record) == machine_kind(bench_record) == "AMD EPYC (AVX2)"
    assert machine_kind({**runner_record, "avx512f": True, "avx512_bf16": True}) == "AMD EPYC (AVX-512 + bf16)"
    assert machine_kind({**runner_record, "gpu": "NVIDIA H100 80GB HBM3"}) == "NVIDIA H100 80GB HBM3"
    assert machine_kind({}) == "unknown (no AVX2)"


def test_the_committed_runs_are_keyed_by_the_kind_the_runner_writes_today():
    # The status estimate reads each finished entry's run.json machine through machine_kind.
    kinds = {machine_kind(json.loads(path.read_text())["machine"])
             for path in (PROJECT_ROOT / "results").glob("*/runs/*/run.json")}
    assert kinds and kinds <= {"AMD EPYC (AVX2)", "AMD EPYC (AVX-512)", "AMD EPYC (AVX-512 + bf16)"}, kinds


def test_this_machine_and_its_kind():
    info = machine()
    assert {"cpu", "cores", "avx2", "avx512f", "avx512_bf16", "gpu"} == set(info)
    assert machine_kind(info) == info["gpu"] or machine_kind(info).startswith(f"{info['cpu']} (")


def test_the_commit_and_its_label():
    state = git_state()
    assert set(state) == {"commit", "dirty"}
    label = commit_label()
    if state["commit"] is None:
        assert label == "unknown"
    else:
        assert re.fullmatch(r"[0-9a-f]{12}(-dirty)?", label) and state["commit"].startswith(label[:12])
        assert label.endswith("-dirty") == state["dirty"]
