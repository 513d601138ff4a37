"""What ``--models`` and ``evaluate_models`` accept as a model: a saved model folder, or a training run holding one.

A training run (``mote_lib.train``) keeps its model in ``model/`` beside its ``train_config.json``
(seed, profile, ...: copied into the table); a ``save_pretrained`` folder is the model itself.
Standard library only: the command line checks its folders before torch loads. The model in it
is read by ``MoTEModel.from_pretrained(model_directory(folder))``, the one reader of a saved model.

Example:
    >>> from mote_lib.evaluate.folders import model_directory
    >>> model_directory("no-such-folder") is None
    True
"""

from __future__ import annotations

import json
from pathlib import Path


def model_directory(folder: str | Path) -> Path | None:
    """The saved model in ``folder``: its ``model/`` (a training run) or itself (a ``save_pretrained`` folder); None if neither."""
    for candidate in (Path(folder) / "model", Path(folder)):
        if (candidate / "config.json").is_file():
            return candidate
    return None


def run_settings(folder: str | Path) -> dict:
    """What a training run folder says about its model (its ``train_config.json``: seed, profile, ...); {} for a model folder."""
    config = Path(folder) / "train_config.json"
    if model_directory(folder) == Path(folder) / "model" and config.is_file():
        return json.loads(config.read_text())
    return {}
