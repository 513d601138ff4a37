"""The results store: one JSON file per (weights, evaluation settings, task) under ``runs/results/``.

mteb's own result cache keys on model name and revision only, so a retrained model under the same
name would silently get its predecessor's scores; here a stored result is found by a digest of all
it depends on (``result_key``: the weights hash, the routing of other task types, the evaluator
settings, the task's data, mteb's version and ``EVALUATION_VERSION``), so changed weights always
mean a new evaluation. A file holds the table's rows, mteb's result, and for retrieval and
reranking each query's score (``per_query_scores``).

Layout: ``<store>/<task name>/<result_key>.json`` (``default_store()``: ``runs/results``, or
``$MOTE_RUNS/results``). Results keyed by the weights hash of before it left install paths out are
found again after ``python -m mote_lib.evaluate.rekey`` (see ``mote_lib.evaluate.rekey``).

Example:
    >>> from mote_lib.evaluate.store import default_store
    >>> default_store().name
    'results'
"""

from __future__ import annotations

import json
from pathlib import Path

from mote_lib.atomic import write_text_atomic
from mote_lib.digest import files_digest, json_digest
from mote_lib.offline import import_mteb
from mote_lib.paths import runs_dir

# Bump when the way scores are computed changes, so stored results are not reused across it.
EVALUATION_VERSION = 1


def default_store() -> Path:
    """Where results are stored unless told otherwise: ``runs/results`` (``$MOTE_RUNS/results``)."""
    return runs_dir() / "results"


def task_data_hash(task) -> str:
    """A digest of a shipped task's files (its metadata ``dataset.path``); ``hub`` for hub tasks."""
    folder = Path(task.metadata.dataset["path"])
    if not folder.is_dir():
        return f"hub:{task.metadata.dataset.get('revision')}"
    return files_digest(folder)


def result_key(encoder, task) -> str:
    """What a stored result depends on: weights, routing, evaluator settings, data, mteb's version."""
    return settings_key(encoder.mteb_model_meta.revision, encoder.other_task, task)


def settings_key(weights: str, other_task: str, task) -> str:
    """``result_key`` of an encoder whose ``revision`` is ``weights`` and whose route of other task types is ``other_task``."""
    settings = {
        "weights": weights, "other_task": other_task, "evaluator": _evaluator_settings(task), "data": task_data_hash(task),
        "mteb": import_mteb().__version__, "evaluation_version": EVALUATION_VERSION,
    }
    return json_digest(settings)


def _evaluator_settings(task) -> dict:
    names = ("samples_per_label", "n_experiments", "max_fraction_of_documents_to_embed", "n_clusters",
             "max_documents_per_cluster", "min_score", "max_score", "k_values", "seed", "keeps_per_query_scores")
    return {n: getattr(task, n) for n in names if hasattr(task, n)}


def result_path(store: Path, encoder, task) -> Path:
    """The file of ``encoder``'s result on ``task`` in ``store`` (it may not exist yet)."""
    return Path(store) / task.metadata.name / f"{result_key(encoder, task)}.json"


def read_rows(path: Path) -> list[dict]:
    """The table rows of a stored result, each with its ``result_file``."""
    return [{**row, "result_file": str(path)} for row in json.loads(Path(path).read_text())["rows"]]


def write_result(path: Path, payload: dict) -> None:
    """Store a task's result atomically: ``rows`` (the table's), ``mteb_result`` and, if kept, ``per_query_scores``."""
    write_text_atomic(path, json.dumps(payload, indent=1, sort_keys=True, default=str) + "\n")
