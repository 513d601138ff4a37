"""Fixtures of the lab's tests: a temporary ``results/`` that the tests fill with the runner's layout.

The tables are constructed (no model is loaded); each test writes the files it needs into
``results/<profile>/<group>/<entry>/`` (``entry_folder``), where ``mote_lib.lab.records`` reads them.
"""

from __future__ import annotations

import pytest

from mote_lib.lab import records


@pytest.fixture
def results(tmp_path, monkeypatch):
    """An empty ``results/`` (``$MOTE_RESULTS``), with ``figures/`` (``$MOTE_FIGURES``) inside it."""
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path))
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path / "figures"))
    return tmp_path


@pytest.fixture
def entry_folder(results):
    """``entry_folder(profile, name, group="runs")``: a runner entry's folder in ``results``, made if missing."""

    def make(profile: str, name: str, group: str = records.RUNS):
        folder = records.entry_dir(profile, name, group)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    return make
