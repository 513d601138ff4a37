"""Every numbered notebook runs top to bottom in the smoke profile, so none can rot."""

import pytest

from mote_lib.notebooks import _cell_sources, notebook_sources, run_notebook


@pytest.mark.parametrize("source", notebook_sources(), ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_profile(source, tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path / "figures"))
    committed = source.with_suffix(".ipynb").read_bytes()
    output = tmp_path / source.with_suffix(".ipynb").name
    run_notebook(source, profile="smoke", output=output)
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
