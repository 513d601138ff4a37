"""Every numbered notebook runs top to bottom in the tiny profile (smoke sizes, a tiny random encoder), so none can rot,
and its outputs, committed or fresh, hold no warning, traceback or machine path (``scan_outputs``)."""

import json
import os
import re
import subprocess
import sys

import nbformat
import pytest

from mote_lib.lab.notebooks import (
    BATCH_ENV,
    _cell_sources,
    executed_copy,
    main,
    notebook_sources,
    resolve_control_characters,
    run_notebook,
    scan_outputs,
    tidy_notebook,
)


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
    assert scan_outputs(output) == []
    assert not output.with_name(output.stem + ".input.ipynb").exists(), "the converted input is removed"


@pytest.mark.parametrize("source", notebook_sources(), ids=lambda p: p.stem)
def test_committed_outputs_hold_no_warning_traceback_or_machine_path(source):
    problems = scan_outputs(source.with_suffix(".ipynb"))
    assert problems == [], "re-run the notebook (python -m mote_lib.lab.notebooks) after fixing:\n" + "\n".join(problems)


def _stream(text, name="stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def _display(data):
    return nbformat.v4.new_output("display_data", data=data)


def test_the_scan_flags_each_kind_of_problem_once_per_cell_and_nothing_in_clean_outputs():
    v4 = nbformat.v4
    cells = [
        v4.new_markdown_cell("Prose may say /work/main or Warning: it is a source, not an output."),
        v4.new_code_cell("fit()", outputs=[_stream(
            ".../sklearn/metrics/_classification.py:1879: UndefinedMetricWarning: Precision is ill-defined\n"
            "  _warn_prf(average, modifier)\n" * 3, name="stderr")]),
        v4.new_code_cell("log()", outputs=[_stream("WARNING:mteb:3 texts were truncated\n", name="stderr")]),
        v4.new_code_cell("say()", outputs=[_stream("Warning: the cache is old\n")]),
        v4.new_code_cell("1 / 0", outputs=[v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                                          traceback=["Traceback ...", "ZeroDivisionError"])]),
        v4.new_code_cell("task()", outputs=[_stream("Traceback (most recent call last):\n  File x\nValueError: no\n",
                                                    name="stderr")]),
        v4.new_code_cell("where()", outputs=[_display({"text/plain": "PosixPath('/work/main/runs/models/ic')"})]),
        v4.new_code_cell("table()", outputs=[_display({"text/html": "<td>/root/.cache/x</td>", "text/plain": "x"})]),
        v4.new_code_cell("imports()", outputs=[_stream("lib/python3.11/site-packages/tqdm/auto.py:21\n")]),
        v4.new_code_cell("loop()", outputs=[_stream("0123456789\n" * 300)]),
        # clean: a finished text progress bar, a figure (base64 may spell /tmp/), a table, a URL
        v4.new_code_cell("train()", outputs=[
            _stream("train ic: 100%|##########| 300/300 [01:00<00:00, 5.0step/s, loss=0.41]\n", name="stderr"),
            _display({"image/png": "iVBORw0KGgo/tmp/home/AAAA", "text/plain": "<Figure size 900x400 with 1 Axes>"}),
            _display({"text/html": "<table><tr><td>ic</td><td>51.2</td></tr></table>", "text/plain": "ic 51.2"}),
            _stream("see https://example.org/home/tmp/docs for the metric\n")]),
    ]
    notebook = v4.new_notebook(cells=cells, metadata={"papermill": {"input_path": "/tmp/pytest-1/x.input.ipynb",
                                                                    "output_path": "notebooks/x.ipynb"}})
    problems = scan_outputs(notebook, limit=2_000)
    kinds = {re.match(r"notebook: (.+?) \((\w+)\): ", p).groups() for p in problems}
    assert kinds == {("notebook metadata", "path"), ("cell 1", "warning"), ("cell 2", "warning"),
                     ("cell 3", "warning"), ("cell 4", "traceback"), ("cell 5", "traceback"), ("cell 6", "path"),
                     ("cell 7", "path"), ("cell 8", "path"), ("cell 9", "size")}, problems
    assert len(problems) == len(kinds), "one line per kind and cell"
    assert any("UndefinedMetricWarning" in p and "(and 2 more)" in p for p in problems), problems


def test_the_scan_reads_a_saved_notebook_and_knows_this_machines_own_folders(tmp_path):
    import tempfile

    from mote_lib.paths import PROJECT_ROOT

    for folder in (PROJECT_ROOT, sys.prefix, tempfile.gettempdir()):
        cell = nbformat.v4.new_code_cell("x", outputs=[_stream(f"saved to {folder}/x.csv\n")])
        path = tmp_path / "one.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[cell]), str(path))
        assert [re.search(r" \((\w+)\): ", p)[1] for p in scan_outputs(path)] == ["path"], folder


def test_tidying_keeps_a_progress_bars_last_line_and_drops_papermills_absolute_paths(tmp_path):
    from mote_lib.paths import PROJECT_ROOT

    v4 = nbformat.v4
    bar = ["\rtrain ic:   0%|          | 0/3 [00:00<?, ?step/s]", "\rtrain ic:  67%|######6   | 2/3 [00:01<00:00]",
           "\rtrain ic: 100%|##########| 3/3 [00:01<00:00, 2.0step/s]", "\n"]
    cell = v4.new_code_cell("train()", outputs=[_stream("models:\n"), *[_stream(b, name="stderr") for b in bar],
                                                _display({"text/plain": "table"}), _stream("done\n")])
    path = tmp_path / "run.ipynb"
    nbformat.write(v4.new_notebook(cells=[cell], metadata={"papermill": {
        "input_path": str(tmp_path / "run.input.ipynb"), "output_path": str(PROJECT_ROOT / "notebooks" / "run.ipynb")}}),
        str(path))
    tidy_notebook(path)
    notebook = nbformat.read(str(path), as_version=4)
    outputs = notebook.cells[0].outputs
    assert [(o.output_type, o.get("text")) for o in outputs] == [
        ("stream", "models:\n"), ("stream", "train ic: 100%|##########| 3/3 [00:01<00:00, 2.0step/s]\n"),
        ("display_data", None), ("stream", "done\n")]
    assert notebook.metadata.papermill == {"input_path": "run.input.ipynb", "output_path": "notebooks/run.ipynb"}
    assert scan_outputs(path) == []


def test_carriage_returns_and_backspaces_resolve_as_a_terminal_shows_them():
    assert resolve_control_characters("a\rbb\rc\n") == "c\n"
    assert resolve_control_characters("line\r\nnext") == "line\nnext"  # a Windows line end keeps its line
    assert resolve_control_characters("abc\b\bX") == "aX"
    assert resolve_control_characters("no control characters\n") == "no control characters\n"


def test_the_notebook_setup_gives_text_bars_and_hides_only_the_understood_warnings():
    # In a fresh interpreter: the setup changes process-wide state (warning filters, tqdm.auto).
    script = """
import json, os, sys, warnings
from mote_lib.lab.notebooks import setup_notebook
setup_notebook()
import tqdm.auto, tqdm.notebook, tqdm.std
from sklearn.exceptions import UndefinedMetricWarning
from transformers.utils import logging
with warnings.catch_warnings(record=True) as caught:  # the filters as the setup left them
    for category in (UndefinedMetricWarning, FutureWarning):
        warnings.warn("x", category)
bar = logging.tqdm(range(3), desc="Loading weights")
print(json.dumps({"text_bar": issubclass(tqdm.auto.tqdm, tqdm.std.tqdm) and not issubclass(tqdm.auto.tqdm, tqdm.notebook.tqdm_notebook),
                  "warned": [w.category.__name__ for w in caught], "weights_bar": type(bar).__name__}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, BATCH_ENV: "1"})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result == {"text_bar": True, "warned": ["FutureWarning"], "weights_bar": "EmptyTqdm"}, result


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
    assert table["wall_time_s"].tolist() == [3.0, 7.0]
    assert table["machine"].str.contains(r"^cuda: |\(AVX-512 \+ bf16|AVX-512|AVX2|no AVX2\), \d+ cores$").all()
    assert (table["load_average_1min"] >= 0).all()  # says whether other work shared the cores


def test_the_runner_runs_as_a_module():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "mote_lib.lab.notebooks", "--profile", "smoke", "zz"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "no numbered notebooks found" in done.stdout, done.stderr


def test_only_the_profile_of_record_executes_the_committed_notebooks(monkeypatch, tmp_path):
    """``--profile smoke`` (or any but cpu) writes its executed copies under runs/, never over the committed ones."""
    import mote_lib.lab.notebooks as notebooks

    monkeypatch.setenv("MOTE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(notebooks, "record_wall_time", lambda *args: None)
    calls = []
    monkeypatch.setattr(notebooks, "run_notebook", lambda source, profile, output=None: calls.append((source, profile, output)) or 1.0)
    source = notebook_sources()[0]
    assert executed_copy(source, "cpu") is None
    for profile in ("smoke", "tiny", "gpu", "reference"):
        assert main(["--profile", profile, source.stem[:2]]) == 0
        assert calls.pop() == (source, profile, tmp_path / "runs" / "notebooks" / profile / f"{source.stem}.ipynb")
    assert main(["--profile", "cpu", source.stem[:2]]) == 0
    assert calls.pop() == (source, "cpu", None)
