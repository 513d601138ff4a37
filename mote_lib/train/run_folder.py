"""A run's folder: what it holds, the one reader of its step log, and the check before a run starts in it.

    train_config.json            the run's ``TrainConfig``
    train_log.jsonl              one JSON line per step (``read_train_log``)
    checkpoints/step-NNNNNN/     the newest ``keep_last`` checkpoints (``mote_lib.train.checkpoints``)
    model/                       the final model (``MoTEModel.save_pretrained``), with its card
    summary.json                 written last: the run finished

Standard library only (the command line checks the output folder before torch loads).

Example:
    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "train_log.jsonl"
    >>> _ = log.write_text('{"step": 1, "loss": 2.5}\\n{"step": 2, "lo')   # the process died mid-line
    >>> read_train_log(log.parent)
    [{'step': 1, 'loss': 2.5}]
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mote_lib.atomic import write_text_atomic

LOG_NAME = "train_log.jsonl"


def read_train_log(folder_or_path: str | os.PathLike, missing_ok: bool = False) -> list[dict]:
    """The step log's entries, one dict per step, from a run folder or its ``train_log.jsonl``.

    A last line cut short (the process was killed while writing it) is left out; blank lines are
    skipped. Any other line that is not JSON is an error: only the last line can be cut off.

    Raises:
        FileNotFoundError: there is no log (unless ``missing_ok``: then no entries).
        ValueError: a line other than the last is not JSON.
    """
    path = Path(folder_or_path)
    if path.is_dir():
        path = path / LOG_NAME
    if missing_ok and not path.exists():
        return []
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    entries = []
    for number, line in enumerate(lines, 1):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number < len(lines):
                raise ValueError(f"{path} line {number} is not JSON ({err.msg}); only the last line can be cut off") from None
    return entries


def truncate_train_log(path: Path, step: int) -> None:
    """Keep the log entries up to the checkpoint's step (steps after it are trained again)."""
    kept = [entry for entry in read_train_log(path, missing_ok=True) if entry["step"] <= step]
    write_text_atomic(path, "".join(json.dumps(entry) + "\n" for entry in kept))  # the log survives a kill here


def write_json(path: Path, payload) -> None:
    """``payload`` as indented JSON with sorted keys, written atomically."""
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def check_output_folder(output: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a run that would silently replace another's work, or resume from nothing.

    An empty or missing folder is new. A new run (no ``resume``) in a folder holding checkpoints or a
    finished ``model/`` needs ``overwrite``; ``resume`` needs a checkpoint.

    Raises:
        FileExistsError: checkpoints or a model would be deleted without ``overwrite``.
        FileNotFoundError: ``resume`` without a checkpoint.
    """
    existing = sorted((output / "checkpoints").glob("step-*"))
    if resume:
        if not existing:
            raise FileNotFoundError(f"--resume: no checkpoint in {output / 'checkpoints'}; start the run without --resume")
        return
    if overwrite:
        return
    if existing:
        raise FileExistsError(f"{output} already holds checkpoints ({existing[-1].name}); continue it with "
                              "resume=True (--resume) or start afresh with overwrite=True (--overwrite)")
    if (output / "model").exists():
        raise FileExistsError(f"{output} already holds a finished model ({output / 'model'}); start afresh with "
                              "overwrite=True (--overwrite) or choose another output folder")
