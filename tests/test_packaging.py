"""mote-lib as a package: one version, console scripts, no Jupyter in the library, paths outside a checkout.

The slow test builds the wheel, installs it (not editable) into a fresh virtual environment and runs
``mote-train --profile smoke`` and ``mote-evaluate`` from a folder outside the repository.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml

import mote_lib
from mote_lib import paths
from mote_lib.cli import CommandLineError

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
SCRIPTS = PROJECT["scripts"]
JUPYTER_AND_PLOTS = {"jupyterlab", "jupyter", "notebook", "papermill", "nbclient", "nbformat", "jupytext", "ipykernel",
                     "ipywidgets", "matplotlib", "seaborn"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


# ----------------------------------------------------------------------------- one version


def test_the_version_is_written_once_in_the_package():
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "mote_lib.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+)?(\.dev\d+)?", mote_lib.__version__)
    assert mote_lib.__version__ not in (ROOT / "pyproject.toml").read_text()


def test_citation_cites_this_version_and_both_papers():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert citation["title"] == "mote-lab"
    assert str(citation["version"]) == mote_lib.__version__
    assert citation["license"] == PROJECT["license"]
    assert citation["authors"]
    arxiv = {ref["identifiers"][0]["value"] for ref in citation["references"]}
    assert arxiv == {"arXiv:2506.17781", "arXiv:2410.10814"}


# ----------------------------------------------------------------------------- console scripts


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_console_script_resolves_to_a_main_taking_argv(script):
    module_name, _, attribute = SCRIPTS[script].partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    assert callable(command)
    assert list(inspect.signature(command).parameters) == ["argv"]
    assert inspect.signature(command).return_annotation in ("int", int), "main() returns the exit status"


def test_console_scripts_cover_train_evaluate_and_the_lab():
    assert {"mote-train", "mote-evaluate", "mote-lab"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", ["mote-train", "mote-evaluate"])
def test_console_script_help_exits_0(script, capsys):
    module_name, _, attribute = SCRIPTS[script].partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    assert command(["--help"]) == 0
    assert "--output" in capsys.readouterr().out


def test_console_scripts_refuse_a_mistake_before_importing_torch():
    code = ("import sys; from mote_lib.cli import train_command, evaluate_command; "
            "codes = (train_command(['--variant', 'bogus', '--output', 'x']), evaluate_command(['--tasks', 'Nope'])); "
            "print(codes, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "(2, 2) False", done.stderr
    assert "invalid choice: 'bogus'" in done.stderr


# ----------------------------------------------------------------------------- dependencies


def test_the_library_installs_without_jupyter_or_plotting():
    assert not {_name(r) for r in PROJECT["dependencies"]} & JUPYTER_AND_PLOTS


def test_the_dev_extra_holds_the_notebooks_extra():
    extras = PROJECT["optional-dependencies"]
    assert {"jupyterlab", "papermill", "nbclient", "jupytext", "ipykernel", "matplotlib"} <= {_name(r) for r in extras["notebooks"]}
    assert set(extras["notebooks"]) <= set(extras["dev"])
    assert {"pytest", "pytest-timeout", "ruff"} <= {_name(r) for r in extras["dev"]}


def test_constraints_pin_every_requirement_and_the_setup_torch():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version and "+" not in version, f"constraints.txt: {line!r} is not a plain NAME==VERSION pin"
            pins[_name(name)] = version
    assert pins["torch"] == "2.13.0"
    assert 'TORCH_SPEC="torch==2.13.0"' in (ROOT / "scripts" / "setup_env.sh").read_text()
    extras = PROJECT["optional-dependencies"]
    tested = PROJECT["dependencies"] + extras["dev"]
    assert not {_name(r) for r in tested} - set(pins), "a requirement without a tested version in constraints.txt"
    assert "mote-lib" not in pins


def test_setup_installs_dev_with_the_constraints():
    script = (ROOT / "scripts" / "setup_env.sh").read_text()
    assert "want_extras=(dev)" in script
    assert re.search(r'install --no-compile -c "\$CONSTRAINTS" -e "\.\[\$extras_csv\]"', script)
    assert 'CONSTRAINTS="$here/constraints.txt"' in script


def test_make_help_lists_every_target():
    makefile = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY: (.*)$", makefile, flags=re.MULTILINE).group(1).split())
    described = set(re.findall(r"^([a-z][a-z-]*):.*## ", makefile, flags=re.MULTILINE))
    assert phony == described
    assert re.search(r"^\.DEFAULT_GOAL := help$", makefile, flags=re.MULTILINE)


def test_make_test_shares_the_cores_among_workers_a_file_per_worker():
    """Module fixtures (the runner's tiny queue) are built once, and the notebooks run in order on one worker,
    reading the tables the earlier ones wrote; ``TEST_WORKERS=0`` runs the suite in one process."""
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = re.search(r"^test: .*\n\t(.*)$", makefile, flags=re.MULTILINE).group(1)
    assert "-n $(TEST_WORKERS) --maxprocesses 8 --dist loadfile" in test_recipe
    assert any(r.startswith("pytest-xdist") for r in PROJECT["optional-dependencies"]["dev"])


# ----------------------------------------------------------------------------- paths


def test_in_the_checkout_every_folder_is_the_checkouts(monkeypatch, tmp_path):
    for variable in ("MOTE_DATA", "MOTE_RUNS", "MOTE_CACHE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)  # the working directory does not matter in a checkout
    assert paths.CHECKOUT_ROOT == paths.PROJECT_ROOT == paths.project_root() == ROOT
    assert paths.data_dir() == ROOT / "data"
    assert paths.runs_dir() == ROOT / "runs"
    assert paths.cache_dir() == ROOT / ".cache"


def test_a_checkout_is_recognised_by_its_pyproject(tmp_path):
    checkout, site = tmp_path / "checkout", tmp_path / "site-packages"
    for folder in (checkout / "mote_lib", site / "mote_lib"):
        folder.mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "mote-lib"\n')
    assert paths._checkout_root(checkout / "mote_lib") == checkout
    assert paths._checkout_root(site / "mote_lib") is None
    (site / "pyproject.toml").write_text('[project]\nname = "another"\n')
    assert paths._checkout_root(site / "mote_lib") is None


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """As if mote_lib were installed from a wheel and run in ``tmp_path``: no checkout, no MOTE_* variables."""
    monkeypatch.setattr(paths, "CHECKOUT_ROOT", None)
    for variable in ("MOTE_DATA", "MOTE_RUNS", "MOTE_CACHE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_installed_folders_are_the_working_directorys(installed):
    assert paths.project_root() == installed
    assert paths.runs_dir() == installed / "runs"
    assert paths.cache_dir() == installed / ".cache"
    (installed / "data").mkdir()
    assert paths.data_dir() == installed / "data"


def test_installed_data_folder_comes_from_mote_data(installed, monkeypatch):
    monkeypatch.setenv("MOTE_DATA", str(ROOT / "data"))
    assert paths.data_dir() == ROOT / "data"


def test_a_missing_data_folder_is_one_line_that_says_to_set_mote_data(installed):
    with pytest.raises(FileNotFoundError) as error:
        paths.data_dir()
    assert isinstance(error.value, CommandLineError)
    message = str(error.value)
    assert "\n" not in message and str(installed / "data") in message and "MOTE_DATA" in message


def test_mote_data_naming_no_folder_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("MOTE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(paths.DataFolderNotFound, match=r"^MOTE_DATA=.*nowhere: no such folder; point MOTE_DATA at") as error:
        paths.data_dir()
    assert "\n" not in str(error.value)


def test_train_without_data_exits_2_with_the_one_line(installed, capsys):
    from mote_lib import train

    assert train.main(["--profile", "smoke", "--output", str(installed / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "MOTE_DATA" in err
    assert not (installed / "run").exists()


def test_evaluate_without_data_exits_2_with_the_one_line(installed, capsys):
    from mote_lib import evaluate

    (installed / "model").mkdir()
    (installed / "model" / "config.json").write_text("{}")
    assert evaluate.main(["--models", str(installed / "model")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "MOTE_DATA" in err


# ----------------------------------------------------------------------------- the wheel, installed


def _run(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_the_wheel_installed_in_a_fresh_venv_trains_and_evaluates_outside_the_checkout(tmp_path):
    # The wheel, built from a copy of the sources (pip would write build/ and *.egg-info into the checkout);
    # without build isolation, so no download: this environment's setuptools builds it.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (source / name).write_text((ROOT / name).read_text())
    _run(["cp", "-r", ROOT / "mote_lib", source / "mote_lib"])
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
          "-q", "-w", tmp_path / "dist", source], env={**os.environ, "PIP_NO_INDEX": "1"})
    wheel, = (tmp_path / "dist").glob("mote_lib-*.whl")
    assert wheel.name.startswith(f"mote_lib-{mote_lib.__version__}-py3-none-any")

    # A fresh venv that sees this environment's site-packages (torch and the rest, not downloaded again)
    # through a .pth file; only the wheel is installed into it, not editable.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python, bin_dir = venv / "bin" / "python", venv / "bin"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "_mote_test_shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: the checkout's editable mote-lib is visible through the .pth; it is neither
    # uninstalled nor taken for this one.
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "--disable-pip-version-check",
          "-q", wheel])

    # Outside the repository: a folder of its own, caches in it, MOTE_DATA the one thing pointing back.
    work = tmp_path / "work"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MOTE_", "PYTHON")) and key != "VIRTUAL_ENV"}
    env.update(paths.project_environment(work / ".cache"), PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
               OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
    located = _run([python, "-c", "import mote_lib, mote_lib.paths as p; print(mote_lib.__file__); print(p.CHECKOUT_ROOT)"],
                   cwd=work, env=env).stdout.split()
    assert located == [str(site / "mote_lib" / "__init__.py"), "None"]

    # Without MOTE_DATA: one line that says where to point it, exit status 2.
    missing = subprocess.run([bin_dir / "mote-train", "--profile", "smoke", "--output", "run"], cwd=work, env=env,
                             capture_output=True, text=True)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1 and "MOTE_DATA" in missing.stderr

    env["MOTE_DATA"] = str(ROOT / "data")
    _run([bin_dir / "mote-train", "--profile", "smoke", "--output", "run"], cwd=work, env=env)
    assert (work / "run" / "model" / "config.json").is_file()
    _run([bin_dir / "mote-evaluate", "--models", "run", "--tasks", "LeeDocumentSTS", "DebtagsUseClassification",
          "--output", "scores.csv"], cwd=work, env=env)
    import pandas as pd

    scores = pd.read_csv(work / "scores.csv")
    assert sorted(scores["task"]) == ["DebtagsUseClassification", "LeeDocumentSTS"]
    assert scores["error"].isna().all() and scores["score"].between(-100, 100).all()
    _run([bin_dir / "mote-lab", "--help"], cwd=work, env=env)
