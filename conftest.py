"""Test set-up for the tests in tests/ and the doctests in mote_lib/ (``--doctest-modules``): offline mode,
caches inside the project, the --run-slow switch, and what docstring examples may assume."""

from __future__ import annotations

import ast
import os

import pytest

from mote_lib.offline import use_project_environment

# Same as scripts/env.sh, for when pytest is started directly rather than through `make test`;
# variables already set (by env.sh, or by a user who wants to go online) are kept.
use_project_environment()


def pytest_configure(config):
    """Under pytest-xdist (``make test``) the cores are shared out among the workers: each worker's torch,
    and the processes it starts (notebook kernels, torchrun), get cores / workers threads. Two workers
    of two threads each on two cores took 843 s instead of about 380 s: their OpenMP threads wait for each other."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        threads = str(max(1, (os.cpu_count() or 1) // int(workers)))
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, threads)
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow (minutes)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _doctest_setting(request, doctest_namespace, tmp_path, monkeypatch):
    """Docstring examples write figures, tables and runs into a temporary folder, never the project's,
    and say ``model`` for a MoTE model on the shipped all-MiniLM-L6-v2, as the module examples build it."""
    if not isinstance(request.node, pytest.DoctestItem):
        return
    for variable in ("MOTE_FIGURES", "MOTE_RESULTS", "MOTE_RUNS"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    if _reads_undefined_model(request.node.dtest.examples):
        doctest_namespace["model"] = _shipped_mote()


def _reads_undefined_model(examples) -> bool:
    """Whether the examples read the name ``model`` without assigning it first."""
    for example in examples:
        try:
            tree = ast.parse(example.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "model":
                return isinstance(node.ctx, ast.Load)
    return False


_MODEL = {}


def _shipped_mote():
    if "mote" not in _MODEL:
        from mote_lib.model import MoTEConfig, MoTEModel

        _MODEL["mote"] = MoTEModel.from_base(MoTEConfig(variant="mote"))
    return _MODEL["mote"]
