"""Command-line mistakes of python -m mote_lib.train and python -m mote_lib.evaluate: one line, exit status 2, in a second.

Each case runs the real command in a subprocess; the mistake must be refused before torch, mteb or
datasets is imported, and leave no folder behind.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from mote_lib import evaluate, train

HEAVY = ("torch", "mteb", "datasets", "transformers")

# Runs a CLI module as __main__ and reports how it exited and which heavy modules it had imported by then.
PROBE = """
import json, runpy, sys
module, argv = sys.argv[1], sys.argv[2:]
sys.argv = [module] + argv
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "heavy": sorted(m for m in HEAVY if m in sys.modules)}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


def run_cli(module, *argv, env=None):
    """(exit status, stderr lines without the probe's, heavy modules imported, seconds) of ``python -m module argv``."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, module, *map(str, argv)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)
    seconds = time.perf_counter() - started
    *lines, probe = done.stderr.strip().splitlines()
    report = json.loads(probe)
    return report["code"], lines, report["heavy"], seconds


@pytest.fixture
def saved_model(make_tiny_model, tmp_path):
    return make_tiny_model("em").save_pretrained(tmp_path / "em-model")


TRAIN_MISTAKES = {
    "unknown variant": (["--variant", "moe"], ["'moe'", "'mote-tlr'"]),
    "bad layers": (["--layers", "1,x"], ["'1,x'", "every_other"]),
    "negative layer": (["--layers", "-1"], ["'-1'", "count from 0"]),
    "unknown profile": (["--profile", "laptop"], ["'laptop'", "'smoke'"]),
    "bad json": (["--temperatures", "[0.05]"], ["'[0.05]'", "JSON object"]),
    "missing data root": (["--data-root", "{tmp}/no-data"], ["no-data", "train/"]),
    "missing base model folder": (["--base-model", "./no-such-model"], ["./no-such-model", "minilm"]),
    "field check": (["--keep-last", "0"], ["keep_last must be at least 1"]),
}


@pytest.mark.parametrize("case", sorted(TRAIN_MISTAKES))
def test_a_train_command_line_mistake_is_one_line_and_exit_2_before_torch_loads(case, tiny_data, tmp_path):
    argv, expected = TRAIN_MISTAKES[case]
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--data-root" not in argv:
        argv += ["--data-root", tiny_data]
    code, lines, heavy, seconds = run_cli("mote_lib.train", "--output", tmp_path / "run", *argv)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("python -m mote_lib.train: error: ")
    assert all(text in lines[0] for text in expected), lines[0]
    assert heavy == [] and seconds < 5
    assert not (tmp_path / "run").exists(), "a failed start must leave no folder behind"


def test_train_layers_outside_a_local_base_model_are_refused_before_loading(tiny_base, tiny_data, tmp_path):
    code, lines, heavy, _ = run_cli("mote_lib.train", "--output", tmp_path / "run", "--base-model", tiny_base,
                                    "--data-root", tiny_data, "--layers", "0,2")
    assert code == 2 and "--layers 0,2: the model's layers are 0..1" in lines[0] and heavy == []


def test_a_new_train_run_into_a_finished_model_is_refused_on_the_command_line(tiny_data, tmp_path):
    (tmp_path / "run" / "model").mkdir(parents=True)
    code, lines, heavy, _ = run_cli("mote_lib.train", "--output", tmp_path / "run", "--data-root", tiny_data)
    assert code == 2 and "already holds a finished model" in lines[0] and "--overwrite" in lines[0] and heavy == []
    code, lines, _, _ = run_cli("mote_lib.train", "--output", tmp_path / "new", "--data-root", tiny_data, "--resume")
    assert code == 2 and "no checkpoint" in lines[0] and not (tmp_path / "new").exists()


def test_debug_or_mote_debug_shows_the_traceback_of_a_mistake(tmp_path):
    for argv, env in ((["--debug"], {}), ([], {"MOTE_DEBUG": "1"})):
        done = subprocess.run([sys.executable, "-m", "mote_lib.train", "--output", str(tmp_path / "run"), "--variant", "moe", *argv],
                              capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
        assert done.returncode == 1 and done.stderr.startswith("Traceback") and "CommandLineError: argument --variant" in done.stderr


def evaluate_mistakes(saved_model, small_eval_root, tmp_path):
    (tmp_path / "taken.csv").write_text("old\n")
    common = ["--data-root", small_eval_root]
    return {
        "missing model folder": (["--models", f"a={tmp_path / 'nope'}", *common], ["nope", "no such folder"]),
        "folder without a model": (["--models", f"a={tmp_path}", *common], ["holds no saved model"]),
        "unknown task": (["--models", saved_model, "--tasks", "NoSuchTask", *common], ["'NoSuchTask'", "LeeDocumentSTS"]),
        "no task given": (["--models", saved_model, "--tasks"], ["--tasks", "at least one"]),
        "unknown suite": (["--models", saved_model, "--suite", "mteb-full"], ["'mteb-full'", "'mteb-lite'"]),
        "missing data root": (["--models", saved_model, "--data-root", tmp_path / "no-data"], ["no-data", "eval/"]),
        "bad output extension": (["--models", saved_model, "--output", tmp_path / "t.xlsx", *common], ["'.xlsx'", "'.parquet'"]),
        "existing output": (["--models", saved_model, "--output", tmp_path / "taken.csv", *common], ["exists", "--overwrite"]),
        "unknown other task": (["--models", saved_model, "--other-task", "summaries", *common], ["summaries", "clustering"]),
        "duplicate label": (["--models", f"m={saved_model}", f"m={saved_model}", *common], ["'m'", "LABEL=FOLDER"]),
        "summary without labels": (["--models", saved_model, "--summary", *common], ["--summary", "'mote'"]),
        "bad batch size": (["--models", saved_model, "--batch-size", "0", *common], ["'0'", "positive"]),
    }


@pytest.mark.parametrize("case", ["missing model folder", "folder without a model", "unknown task", "no task given",
                                  "unknown suite", "missing data root", "bad output extension", "existing output",
                                  "unknown other task", "duplicate label", "summary without labels", "bad batch size"])
def test_an_evaluate_command_line_mistake_is_one_line_and_exit_2_before_mteb_loads(case, saved_model, small_eval_root, tmp_path):
    argv, expected = evaluate_mistakes(saved_model, small_eval_root, tmp_path)[case]
    code, lines, heavy, seconds = run_cli("mote_lib.evaluate", *argv)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("python -m mote_lib.evaluate: error: ")
    assert all(str(text) in lines[0] for text in expected), lines[0]
    assert heavy == [] and seconds < 5
    assert (tmp_path / "taken.csv").read_text() == "old\n" and not (tmp_path / "t.xlsx").exists()


@pytest.mark.parametrize("module", [train, evaluate])
def test_an_unexpected_error_still_shows_its_traceback(module, capsys):
    def broken(argv):
        raise RuntimeError("a bug")

    def mistaken(argv):
        raise module.CommandLineError("--steps 0: give at least one step")

    with pytest.raises(RuntimeError, match="a bug"):
        module.run_command_line(broken, [])
    assert module.run_command_line(mistaken, []) == 2
    assert capsys.readouterr().err == f"{module.PROG}: error: --steps 0: give at least one step\n"
