"""Models on an evaluation suite: ``evaluate_models`` (several models, one tidy table) and ``evaluate_encoder`` (one).

Each (model, task) is scored by mteb through an ``MTEBEncoder`` (``mote_lib.evaluate.encoder``),
or read back from the results store (``mote_lib.evaluate.store``). A task that fails, or a model
that cannot be loaded, becomes rows holding its error; the table's columns and their order are
the same whether results are computed or read from the store.

Example:
    >>> from mote_lib.evaluate.suite import evaluate_models
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> model = MoTEModel.from_base(MoTEConfig(variant="mote"))
    >>> table = evaluate_models({"mote-untrained": model}, suite="offline", tasks=["LeeDocumentSTS"])
    >>> table[["model", "task", "main_metric"]].values.tolist()
    [['mote-untrained', 'LeeDocumentSTS', 'cosine_spearman']]
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mote_lib.evaluate.folders import model_directory, run_settings
from mote_lib.evaluate.routing import DEFAULT_OTHER_TASK
from mote_lib.evaluate.store import default_store, read_rows, result_path, write_result
from mote_lib.offline import import_mteb

if TYPE_CHECKING:
    import pandas as pd

    from mote_lib.evaluate.encoder import MTEBEncoder

logger = logging.getLogger(__name__)

# One model's rows, in this order whether they were just computed or read back from the store
# (stored rows are JSON objects with sorted keys); ``result_file`` is None for a failure.
# ``COUNT_COLUMNS``: the unique texts a task's split embedded, how many were cut to max_seq_length and
# how many were empty (``MTEBEncoder.text_counts``); missing (<NA>) for a failure, and for results
# stored before they were counted (their scores are still valid: the counts change no score).
COUNT_COLUMNS = ("texts", "truncated", "empty")
ROW_COLUMNS = ("task", "task_type", "split", "main_metric", "score", "eval_seconds", "error", "result_file",
               *COUNT_COLUMNS)


# ----------------------------------------------------------------------------- many models


def evaluate_models(models: dict, suite: str = "offline", tasks: list[str] | None = None, *,
                    other_task: str = DEFAULT_OTHER_TASK, batch_size: int = 32, device: str | None = None,
                    store: str | Path | None = None, data_root: str | Path | None = None,
                    show_progress: bool = True, keep_going: bool = False) -> pd.DataFrame:
    """Evaluate several models on a suite; one tidy table.

    Args:
        models: label -> a ``MoTEModel`` or a saved model / training run folder.
        suite: ``offline`` (the shipped data), ``mteb-lite`` or ``mteb-en`` (real MTEB; needs the hub).
        tasks: only these task names of the suite.
        data_root: where the offline suite's ``eval/`` lives (default ``data/``; e.g. a
            ``write_eval_sample`` folder for smoke runs).
        keep_going: a model that cannot be loaded or evaluated is reported on stderr and gets one
            row per task with its ``error`` (as a failed task does), and the other models still run;
            off, its error is raised.

    Returns:
        Columns: model, variant, seed, task, task_type, split, main_metric, score (x100),
        eval_seconds, error, result_file, texts, truncated, empty (``COUNT_COLUMNS``), weights_hash,
        profile, versions; the same order whether results are computed or read from the store.
    """
    import pandas as pd

    from mote_lib.model import MoTEModel
    from mote_lib.mteb_tasks import mteb_tasks

    selected = mteb_tasks(suite, root=data_root)
    if tasks is not None:
        names = [t.metadata.name for t in selected]
        unknown = [t for t in tasks if t not in names]
        if unknown:
            raise ValueError(f"task(s) {unknown} are not in suite {suite!r}; valid: {names}")
        selected = [t for t in selected if t.metadata.name in tasks]
    tables = []
    for label, model in models.items():
        try:
            tables.append(_evaluate_model(label, model, selected, other_task, batch_size, device, store, show_progress))
        except Exception as err:
            if not keep_going:
                raise
            print(f"[evaluate] model {label} failed:\n{traceback.format_exc()}", file=sys.stderr)
            variant = model.config.variant if isinstance(model, MoTEModel) else ""
            tables.append(_model_table([_failure_row(task, err) for task in selected], label, variant, None, None, ""))
    return pd.concat(tables, ignore_index=True)


def _evaluate_model(label: str, model, selected: list, other_task: str, batch_size: int, device: str | None,
                    store: str | Path | None, show_progress: bool) -> pd.DataFrame:
    """One model (a ``MoTEModel``, or a saved model or training run folder: its seed and profile go into the table)."""
    from mote_lib.evaluate.encoder import MTEBEncoder
    from mote_lib.model import MoTEModel

    info = {}
    if not isinstance(model, MoTEModel):
        folder, model_dir = model, model_directory(model)
        if model_dir is None:
            raise FileNotFoundError(f"{folder} holds no saved model (no config.json, nor model/config.json)")
        model, info = MoTEModel.from_pretrained(model_dir), run_settings(folder)
    encoder = MTEBEncoder(model, name=label, other_task=other_task, batch_size=batch_size, device=device)
    return evaluate_encoder(encoder, selected, label=label, variant=model.config.variant, seed=info.get("seed"),
                            profile=info.get("profile", ""), store=store, show_progress=show_progress)


# ----------------------------------------------------------------------------- one model on a suite


def evaluate_encoder(encoder: MTEBEncoder, tasks: list, *, label: str, variant: str = "", seed: int | None = None,
                     profile: str = "", store: str | Path | None = None, show_progress: bool = True) -> pd.DataFrame:
    """Evaluate one encoder on mteb tasks; one row per (task, split), reusing stored results.

    A task that fails is reported on stderr with its traceback and appears in the table with its
    ``error``; the other tasks still run.

    Args:
        encoder: an ``MTEBEncoder`` (or any mteb encoder with a ``mteb_model_meta`` and ``other_task``).
        tasks: mteb task objects (see ``mote_lib.mteb_tasks``).
        label, variant, seed, profile: copied into the table.
        store: the results folder (default ``runs/results``); ``None`` in the table means not stored.
        show_progress: a bar over tasks.
    """
    mteb = import_mteb()
    store = Path(store or default_store())
    rows = []
    progress = tasks
    if show_progress:
        from tqdm.auto import tqdm

        progress = tqdm(tasks, desc=f"mteb {label}", unit="task")
    for task in progress:
        rows.extend(_evaluate_task(encoder, task, store, mteb))
    return _model_table(rows, label, variant, seed, encoder.mteb_model_meta.revision, profile)


def _evaluate_task(encoder, task, store: Path, mteb) -> list[dict]:
    from sklearn.exceptions import UndefinedMetricWarning

    name, kind = task.metadata.name, task.metadata.type
    path = result_path(store, encoder, task)
    if path.is_file():
        return read_rows(path)
    started = time.perf_counter()
    try:
        with quiet_datasets(), warnings.catch_warnings():
            # mteb's classification scores report precision for every label; a label the classifier never
            # predicts on a small test set makes sklearn warn (that label's precision counts as 0, as
            # intended) once per label and draw: dozens of lines that change no score.
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            result = mteb.evaluate(encoder, task, cache=None, overwrite_strategy="always", co2_tracker=False,
                                   raise_error=True, show_progress_bar=False,
                                   encode_kwargs={"batch_size": encoder.batch_size, "show_progress_bar": False})
    except Exception as err:  # reported, kept in the table, and the suite goes on
        print(f"[evaluate] {name} failed for {encoder.mteb_model_meta.name}:\n{traceback.format_exc()}", file=sys.stderr)
        return [_failure_row(task, err, round(time.perf_counter() - started, 1))]
    seconds = round(time.perf_counter() - started, 1)
    task_result = result.task_results[0]
    rows = [{"task": name, "task_type": kind, "split": split, "main_metric": task.metadata.main_score,
             # x100, the scale of MTEB tables and of the paper's gains
             "score": 100 * float(task_result.get_score(splits=[split])), "eval_seconds": seconds, "error": None,
             **_text_counts(encoder, name, split)}
            for split in task_result.scores]
    for row in rows:  # through logging, not warnings: a notebook shows it only if asked (the table has the counts)
        if row.get("truncated"):
            logger.info(f"{name} ({row['split']}): {row['truncated']} of {row['texts']} texts were cut to max_seq_length "
                        f"tokens for {encoder.mteb_model_meta.name}")
    payload = {"rows": rows, "mteb_result": task_result.to_dict()}
    if getattr(task, "keeps_per_query_scores", False):
        payload["per_query_scores"] = task.per_query_scores
    write_result(path, payload)
    return [{**row, "result_file": str(path)} for row in rows]


@contextmanager
def quiet_datasets():
    """Hide the ``datasets`` progress bars inside the block, then restore their previous state.

    mteb prepares each retrieval corpus with ``datasets.map``, whose bar would add lines per task
    to every notebook's output even when mteb's own bars are off.
    """
    import datasets

    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if enabled:
            datasets.enable_progress_bars()


# ----------------------------------------------------------------------------- rows and tables


def _text_counts(encoder, name: str, split: str) -> dict:
    """``COUNT_COLUMNS`` of a task's split, from an ``MTEBEncoder``; empty for an encoder that does not count."""
    counts = getattr(encoder, "text_counts", None)
    return counts(name, split) if counts is not None else {}


def _failure_row(task, err: BaseException, seconds: float = 0.0) -> dict:
    """The row of a task that failed (or of a model that could not be evaluated): no score, the error."""
    return {"task": task.metadata.name, "task_type": task.metadata.type, "split": None,
            "main_metric": task.metadata.main_score, "score": np.nan, "eval_seconds": seconds,
            "error": f"{type(err).__name__}: {err}", "result_file": None}


def _model_table(rows: list[dict], label: str, variant: str, seed: int | None, weights: str | None,
                 profile: str) -> pd.DataFrame:
    """The table of one model: model, variant, seed, ``ROW_COLUMNS``, weights_hash, profile, versions."""
    import pandas as pd

    table = pd.DataFrame([[row.get(c) for c in ROW_COLUMNS] for row in rows], columns=list(ROW_COLUMNS))
    for column in COUNT_COLUMNS:  # whole numbers even where some are missing
        table[column] = pd.array(pd.to_numeric(table[column]), dtype="Int64")
    table.insert(0, "model", label)
    table.insert(1, "variant", variant)
    table.insert(2, "seed", seed)
    table["weights_hash"] = weights
    table["profile"] = profile
    table["versions"] = json.dumps(package_versions(), sort_keys=True)
    return table


def package_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("mote-lib", "mteb", "torch", "transformers", "sentence-transformers")}
