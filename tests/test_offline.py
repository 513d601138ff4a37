"""mote_lib.offline: no mote_lib module sets an environment variable or imports mteb when imported; one hub-offline check."""

import json
import os
import pkgutil
import subprocess
import sys

import pytest

import mote_lib
from mote_lib.offline import hub_offline, import_mteb, use_project_environment
from mote_lib.paths import project_environment


def every_module() -> list[str]:
    """Every module of mote_lib (``__main__`` modules left out: importing one runs its command)."""
    names = ["mote_lib"] + [m.name for m in pkgutil.walk_packages(mote_lib.__path__, "mote_lib.")]
    return sorted(name for name in names if not name.endswith("__main__"))


# Imports every module given, then reports the project's variables that changed and whether mteb was imported.
PROBE = """
import importlib, json, os, sys
before = dict(os.environ)
for name in sys.argv[1:]:
    importlib.import_module(name)
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print(json.dumps({"changed": changed, "mteb": "mteb" in sys.modules}))
"""


def test_importing_every_mote_lib_module_sets_no_project_variable_and_leaves_mteb_unimported(tmp_path):
    own = set(project_environment())
    env = {k: v for k, v in os.environ.items() if k not in own and not k.startswith("MOTE_")}
    env["HOME"] = str(tmp_path)  # whatever a third-party import writes under ~ stays here
    done = subprocess.run([sys.executable, "-c", PROBE, *every_module()], capture_output=True, text=True, env=env,
                          timeout=300, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert not report["mteb"], "mteb is imported only when needed, through mote_lib.offline.import_mteb"
    ours = [k for k in report["changed"] if k in own or k.startswith("MOTE_")]
    assert ours == [], f"importing mote_lib set {ours}: call mote_lib.offline.use_project_environment() where a command starts"


def test_use_project_environment_sets_only_what_is_missing(monkeypatch):
    for name in project_environment():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # a user going online keeps their choice
    added = use_project_environment()
    assert set(added) == set(project_environment()) - {"HF_HUB_OFFLINE"}
    assert os.environ["HF_HUB_OFFLINE"] == "0" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert use_project_environment() == {}


@pytest.mark.parametrize(("value", "offline"), [("1", True), (" TRUE ", True), ("yes", True), ("on", True),
                                                ("0", False), ("", False), ("false", False), (None, False)])
def test_hub_offline_reads_hf_hub_offline_as_huggingface_hub_does(value, offline, monkeypatch):
    if value is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert hub_offline() is offline


def test_import_mteb_sets_the_environment_first(monkeypatch):
    monkeypatch.delenv("MTEB_CACHE", raising=False)
    assert import_mteb("mteb.models.model_meta").ModelMeta is not None
    assert os.environ["MTEB_CACHE"] == project_environment()["MTEB_CACHE"]
