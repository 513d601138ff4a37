"""The project's set-up files agree with each other."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {_name(r): r.replace(" ", "") for r in reqs}


def _environment_pip_requirements() -> dict[str, str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    reqs = [line.strip()[2:] for line in lines[start + 1 :] if line.strip().startswith("- ")]
    return {_name(r): r.replace(" ", "") for r in reqs}


def test_environment_yml_names_the_same_packages_as_pyproject():
    assert set(_environment_pip_requirements()) == set(_pyproject_requirements())


def test_environment_yml_uses_the_same_version_bounds_except_the_torch_pin():
    env, pyproject = _environment_pip_requirements(), _pyproject_requirements()
    assert env.pop("torch") == "torch==2.13.0"
    pyproject.pop("torch")
    assert env == pyproject


def test_environment_yml_pins_python_311():
    assert "- python=3.11" in (ROOT / "environment.yml").read_text()


def test_setup_script_pins_the_same_torch_as_environment_yml():
    assert 'TORCH_SPEC="torch==2.13.0"' in (ROOT / "scripts" / "setup_env.sh").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme
    assert re.search(r"^make test$", ci, flags=re.MULTILINE)


def test_env_sh_exports_every_variable_of_project_environment():
    from mote_lib.paths import project_environment

    exported = set(re.findall(r"^export ([A-Z_]+)=", (ROOT / "scripts" / "env.sh").read_text(), flags=re.MULTILINE))
    assert set(project_environment()) <= exported


def test_env_sh_keeps_caches_inside_the_project(tmp_path):
    import subprocess

    script = f'MOTE_CACHE={tmp_path} HOME=/nonexistent bash -c "source {ROOT}/scripts/env.sh; env"'
    env = dict(line.split("=", 1) for line in subprocess.run(script, shell=True, capture_output=True, text=True, check=True).stdout.splitlines() if "=" in line)
    for name in ("HF_HOME", "MTEB_CACHE", "MPLCONFIGDIR", "JUPYTER_DATA_DIR", "IPYTHONDIR"):
        assert env[name].startswith(str(tmp_path)), name
    assert env["HF_HUB_OFFLINE"] == "1"
