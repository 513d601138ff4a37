"""The runner's results layout, read in one place: ``results/<profile>/<group>/<entry>/``.

The runner (``mote_lib.lab.runner``) writes one folder per entry of its queue: the runs of the
experiment of record under ``results/<profile>/runs/`` (``base``, ``em-s0``, ``mote-s1``, ...) and
the base-gap study's beside them, under ``results/<profile>/base_gap/``. Each folder holds
``run.json`` (what ran), the result tables (``scores.csv``, ``per_query.csv``, ...) and, written
last, ``done.json``. Every report that reads them (claims, manipulation checks, sizing, status,
base gap) goes through this module:

* ``entry_dir(profile, name, group)``: where an entry's folder is (whether or not it exists yet);
* ``entry_paths(profile, file, label=...)``: one file of every entry that has it, in entry order;
* ``read_tables(profile, file, label=...)``: those files as one concatenated table;
* ``read_entry_table``, ``run_records``, ``finished_records``: one entry's table, the ``run.json``
  of every entry, the (``run.json``, ``done.json``) of every finished one.

``results/`` is ``$MOTE_RESULTS`` when set (``mote_lib.lab.experiments.results_dir``).

Example:
    >>> from mote_lib.lab.records import BASE_GAP, entry_dir, seed_of
    >>> entry_dir("reference", "ic-s1").parts[-3:]
    ('reference', 'runs', 'ic-s1')
    >>> entry_dir("reference", "base-ic", BASE_GAP).parts[-2], seed_of("mote-tlr-s12")
    ('base_gap', 12)
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mote_lib.lab.experiments import results_dir

RUNS = "runs"  # the experiment of record's entries (the pre-registered claims read these)
BASE_GAP = "base_gap"  # the base-gap study's entries: beside the runs, never in the claims
RUN_RECORD = "run.json"
DONE = "done.json"


def group_dir(profile: str, group: str = RUNS) -> Path:
    """``results/<profile>/<group>/``: the folder of a group's entries."""
    return results_dir(profile) / group


def entry_dir(profile: str, name: str, group: str = RUNS) -> Path:
    """``results/<profile>/<group>/<name>/``: one entry's folder."""
    return group_dir(profile, group) / name


def seed_of(name: str) -> int:
    """The seed in a trained entry's name ``<label>-s<seed>``."""
    return int(name.rsplit("-s", 1)[1])


def entry_paths(profile: str, file: str, *, label: str | None = None, group: str = RUNS) -> list[Path]:
    """``file`` of every entry that has it, in entry-name order; with ``label``, only that label's
    trained entries (``<label>-s<seed>``), in seed order."""
    folder = group_dir(profile, group)
    if label is None:
        return sorted(folder.glob(f"*/{file}"))
    return sorted(folder.glob(f"{label}-s*/{file}"), key=lambda path: seed_of(path.parent.name))


def read_tables(profile: str, file: str, *, label: str | None = None, group: str = RUNS) -> pd.DataFrame | None:
    """The csv ``file`` of every entry that has it (``entry_paths``), concatenated; None when no entry has it."""
    frames = [pd.read_csv(path) for path in entry_paths(profile, file, label=label, group=group)]
    return pd.concat(frames, ignore_index=True) if frames else None


def read_entry_table(profile: str, name: str, file: str, group: str = RUNS) -> pd.DataFrame | None:
    """One entry's csv ``file``; None when it is not there."""
    path = entry_dir(profile, name, group) / file
    return pd.read_csv(path) if path.is_file() else None


def read_json(folder: Path, file: str) -> dict:
    """An entry's ``run.json`` or ``done.json``."""
    return json.loads((folder / file).read_text())


def run_records(profile: str, group: str = RUNS) -> list[dict]:
    """The ``run.json`` of every entry that has one (finished or not), in entry order."""
    return [read_json(path.parent, RUN_RECORD) for path in entry_paths(profile, RUN_RECORD, group=group)]


def finished_records(profile: str, group: str = RUNS) -> list[tuple[dict, dict]]:
    """(``run.json``, ``done.json``) of every entry that has its ``done.json``, in entry order."""
    return [(read_json(path.parent, RUN_RECORD), read_json(path.parent, DONE))
            for path in entry_paths(profile, DONE, group=group)]
