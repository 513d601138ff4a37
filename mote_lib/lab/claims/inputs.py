"""The claims' tidy inputs, from either layout of ``results/<profile>/``: the runner's or the notebooks'.

The runner's layout (``runs/<entry>/scores.csv``, ``per_query.csv``, ``inter_task_cosines.csv``,
read through ``mote_lib.lab.records``) is preferred when present; else the notebooks' tables
(``offline_suite.csv``, ``per_query.csv``, ``inter_task_cosines.csv``). The notebooks'
``inter_task_cosines.csv`` has no seed column and is read as seed 0 (notebook 03 embeds with the
seed-0 runs).

Example:
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"model": ["base", "ic"], "seed": [None, 0], "task": "T", "task_type": "STS", "score": 1.0})
    >>> seeds_by_model(Inputs("given", scores=scores))
    {'base': [None], 'ic': [0]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mote_lib.lab import experiments, records

SCORE_KEYS = ["model", "seed", "task", "task_type"]
QUERY_KEYS = ["model", "seed", "task", "task_type", "query_id"]
RUNNER_TABLES = ("scores", "per_query", "inter_task_cosines")


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


@dataclass(frozen=True)
class Inputs:
    """The tidy tables the claims rest on (``collect``); an empty table means "not measured".

    ``scores``: model, seed, task, task_type, score (one per dataset and seed; mean over splits).
    ``per_query``: model, seed, task, task_type, query_id, score (retrieval and re-ranking).
    ``cosines``: model, seed, text, pair, cosine (each text under two different tasks).
    ``layout``: "runner", "notebooks" or "none" (where they were read: the commands to suggest).
    """

    layout: str
    scores: pd.DataFrame = field(default_factory=lambda: _empty(SCORE_KEYS + ["score"]))
    per_query: pd.DataFrame = field(default_factory=lambda: _empty(QUERY_KEYS + ["score"]))
    cosines: pd.DataFrame = field(default_factory=lambda: _empty(["model", "seed", "text", "pair", "cosine"]))


def collect(profile: str) -> Inputs:
    """The tidy inputs of ``profile``: the runner's layout when ``results/<profile>/runs/*/scores.csv`` exist, else the notebooks'."""
    if records.entry_paths(profile, "scores.csv"):
        raw = {name: records.read_tables(profile, f"{name}.csv") for name in RUNNER_TABLES}
        layout = "runner"
    else:
        folder = experiments.results_dir(profile)
        raw = {"scores": _read(folder / "offline_suite.csv"), "per_query": _read(folder / "per_query.csv"),
               "inter_task_cosines": _read(folder / "inter_task_cosines.csv")}
        layout = "notebooks" if raw["scores"] is not None else "none"
    scores = _tidy_scores(raw["scores"])
    return Inputs(layout, scores, _tidy_per_query(raw["per_query"], scores), _tidy_cosines(raw["inter_task_cosines"]))


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None


def _seeds_as_integers(table: pd.DataFrame) -> pd.DataFrame:
    # The base model has no seed (an empty cell): a nullable integer keeps it apart without turning 0 into 0.0.
    return table.assign(seed=pd.to_numeric(table["seed"], errors="coerce").astype("Int64"))


def _tidy_scores(raw: pd.DataFrame | None) -> pd.DataFrame:
    if raw is None or raw.empty:
        return Inputs("none").scores
    if "error" in raw:
        raw = raw[raw["error"].isna()]  # a failed evaluation has no score to compare
    raw = _seeds_as_integers(raw.dropna(subset=["score"]))
    return raw.groupby(SCORE_KEYS, dropna=False, as_index=False)["score"].mean()  # several splits: their mean


def _tidy_per_query(raw: pd.DataFrame | None, scores: pd.DataFrame) -> pd.DataFrame:
    if raw is None or raw.empty:
        return Inputs("none").per_query
    if "task_type" not in raw:
        raw = raw.merge(scores[["task", "task_type"]].drop_duplicates(), on="task", how="left")
    raw = _seeds_as_integers(raw.dropna(subset=["score"]))
    return raw.groupby(QUERY_KEYS, dropna=False, as_index=False)["score"].mean()


def _tidy_cosines(raw: pd.DataFrame | None) -> pd.DataFrame:
    if raw is None or raw.empty:
        return Inputs("none").cosines
    if "seed" not in raw:  # notebook 03 embeds with each model's seed-0 run (experiments.load_model's default)
        raw = raw.assign(seed=0)
    raw = raw[raw["task_a"] != raw["task_b"]]
    pair = [" / ".join(sorted(tasks)) for tasks in zip(raw["task_a"], raw["task_b"])]
    raw = _seeds_as_integers(raw.assign(pair=pair)).drop_duplicates(["model", "seed", "text", "pair"])
    return raw[["model", "seed", "text", "pair", "cosine"]].reset_index(drop=True)


def producer(inputs: Inputs, notebook_table: str, profile: str) -> str:
    """The command (or notebook) that makes a missing input, for the layout the inputs came from."""
    runner = f"python -m mote_lib.lab.runner run --profile {profile}"
    notebook = f"notebook {experiments.RESULT_PRODUCERS[notebook_table]}"
    return {"runner": runner, "notebooks": notebook}.get(inputs.layout, f"{notebook}, or {runner}")


def seeds_by_model(inputs: Inputs) -> dict[str, list]:
    """The seeds each model has per-dataset scores for (the base model: ``[None]``)."""
    return {model: [None if pd.isna(s) else int(s) for s in sorted(group["seed"].unique(), key=lambda s: -1 if pd.isna(s) else s)]
            for model, group in inputs.scores.groupby("model")}
