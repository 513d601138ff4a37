"""Trained models cached by configuration: train once, reuse everywhere (notebooks, CLI, tests).

A run lives in ``runs/models/<variant>-<profile>-s<seed>-<hash>/``, where ``hash`` is a digest of
every ``TrainConfig`` field that changes the trained weights. Asking for the same configuration
again returns the finished run; an interrupted one is resumed from its newest checkpoint.

Example:
    >>> from mote_lib.lab.runs import run_dir, trained_model
    >>> from mote_lib.train import TrainConfig
    >>> config = TrainConfig.from_profile("smoke", variant="mote")
    >>> run_dir(config).name.startswith("mote-smoke-s0-")   # where the run lives
    True
    >>> folder = trained_model(config)   # trains once, then returns the cached run  # doctest: +SKIP
"""

from __future__ import annotations

import fcntl
from dataclasses import MISSING, asdict, fields
from pathlib import Path

from mote_lib.digest import json_digest
from mote_lib.paths import runs_dir
from mote_lib.train.config import NON_WEIGHT_FIELDS  # the fields that do not change the weights: left out of the key


def config_hash(config) -> str:
    """A 12-hex-digit digest of the fields of ``config`` that determine the trained weights.

    Only fields that differ from the dataclass defaults enter the digest, so adding a new option
    whose default keeps the old behaviour leaves every existing run's key (and cache) valid.
    """
    defaults = {f.name: _default(f) for f in fields(config)}
    settings = {k: v for k, v in asdict(config).items() if k not in NON_WEIGHT_FIELDS and v != defaults[k]}
    return json_digest(settings, length=12)


def _default(f):
    return f.default_factory() if f.default_factory is not MISSING else f.default


def run_dir(config, root: str | Path | None = None) -> Path:
    """Where the run of ``config`` lives (whether or not it exists yet)."""
    name = f"{config.variant}-{config.profile}-s{config.seed}-{config_hash(config)}"
    return Path(root or runs_dir()) / "models" / name


def trained_model(config, root: str | Path | None = None, show_progress: bool = True) -> Path:
    """The folder of the finished model trained with ``config``: trained now if it is not there yet.

    Returns:
        The run folder; the model is in its ``model/`` subfolder, the training log and summary beside it.
    """
    from mote_lib.train import train

    folder = run_dir(config, root)
    folder.mkdir(parents=True, exist_ok=True)
    # One trainer per run folder: a second process asking for the same run waits, then reuses it.
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _finished(folder):
            resume = any((folder / "checkpoints").glob("step-*"))
            train(config, folder, resume=resume, show_progress=show_progress)  # its model card holds the run's settings
    return folder


def _finished(folder: Path) -> bool:
    return (folder / "summary.json").is_file() and (folder / "model" / "model.safetensors").is_file()

