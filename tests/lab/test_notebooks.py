"""Every numbered notebook runs top to bottom in the tiny profile (smoke sizes, a tiny random encoder), so none can rot."""

import pytest

from mote_lib.lab.notebooks import _cell_sources, notebook_sources, run_notebook


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """One results folder for the whole run: later notebooks read the tables earlier ones wrote."""
    return tmp_path_factory.mktemp("smoke-results")


@pytest.mark.parametrize("source", notebook_sources(), ids=lambda p: p.stem)
def test_notebook_runs_in_the_tiny_profile(source, tmp_path, monkeypatch, smoke_results):
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("MOTE_RESULTS", str(smoke_results))
    committed = source.with_suffix(".ipynb").read_bytes()
    output = tmp_path / source.with_suffix(".ipynb").name
    run_notebook(source, profile="tiny", output=output)
    assert output.exists()
    assert source.with_suffix(".ipynb").read_bytes() == committed, "a test run must not rewrite the committed notebook"


def test_every_notebook_has_a_parameters_cell_and_an_executed_twin_with_the_same_cells():
    import jupytext

    assert notebook_sources(), "no notebooks found"
    for source in notebook_sources():
        cells = jupytext.read(source).cells
        assert any("parameters" in c.metadata.get("tags", []) for c in cells), f"{source.name}: no cell tagged parameters"
        twin = jupytext.read(source.with_suffix(".ipynb"))
        assert _cell_sources(twin) == _cell_sources(jupytext.read(source)), f"{source.name}: .ipynb is stale; run make notebooks"
        assert any(c.get("outputs") for c in twin.cells if c.cell_type == "code"), f"{source.name}: .ipynb is not executed"


def test_wall_times_are_kept_per_notebook(tmp_path, monkeypatch):
    from mote_lib.lab.experiments import read_result
    from mote_lib.lab.notebooks import record_wall_time

    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path))
    record_wall_time("02_evaluate_mteb", 12.5, "smoke")
    record_wall_time("01_train_models", 3.0, "smoke")
    record_wall_time("02_evaluate_mteb", 7.0, "smoke")
    table = read_result("notebook_times", "smoke")
    assert table["notebook"].tolist() == ["01_train_models", "02_evaluate_mteb"]
    assert table["wall_time_s"].tolist() == [3.0, 7.0] and table["machine"].str.startswith(("cpu", "cuda")).all()


def test_the_runner_runs_as_a_module():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "mote_lib.lab.notebooks", "--profile", "smoke", "zz"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "no numbered notebooks found" in done.stdout, done.stderr
