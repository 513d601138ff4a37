"""The TA-CL trainer: contrastive fine-tuning of EM, IC and MoTE models, resumable and profiled.

    python -m mote_lib.train --variant mote --profile cpu --output runs/mote-cpu
    python -m mote_lib.train --variant mote --profile cpu --output runs/mote-cpu --resume   # after an interruption
    torchrun --nproc_per_node 8 -m mote_lib.train --variant mote --profile gpu --output runs/mote-gpu   # data parallel

Each step samples a task, builds a batch from it (``mote_lib.sampler``), embeds anchors and
documents with the task's instruction and expert, and minimises InfoNCE (``mote_lib.losses``) with
the task's temperature. Retrieval rows put ``search_query`` on the anchor and ``search_document``
on the positive and hard negative, so both retrieval experts train.

The output folder holds ``train_config.json``, ``train_log.jsonl`` (one line per step: loss,
per-task loss, learning rate, tokens/s), ``checkpoints/step-NNNNNN/`` (the last ``keep_last``,
written atomically) and, at the end, ``model/`` (``MoTEModel.save_pretrained``) and ``summary.json``.

Under torchrun (``mote_lib.distributed``) every rank draws the same global batch of ``batch_size``
and embeds its shard; the loss sees the whole batch's negatives (``gather_negatives``); rank 0
alone writes the folder.

Example:
    >>> from mote_lib.train import TrainConfig, train
    >>> result = train(TrainConfig.from_profile("smoke", variant="mote"), "runs/example")  # doctest: +SKIP
"""

# One concept per module (the command line imports only the first four; torch loads with the rest):
#   config.py       TrainConfig, the task roles and temperatures, NON_WEIGHT_FIELDS (the cache key's exclusions)
#   cli.py          python -m mote_lib.train: options from TrainConfig's fields, checked before torch loads
#   run_folder.py   what a run's folder holds, read_train_log (the one reader of train_log.jsonl), check_output_folder
#   __main__.py     runs cli.main
#   data.py         TrainingData: rows and batches with roles, labels and temperatures; resolve_data_root
#   step.py         the loss of one batch: contrastive_step, grad_cache_step, sharding over ranks, chunked embedding
#   loop.py         train, training_step (one optimisation step, with a timing hook), make_optimizer, make_scheduler
#   checkpoints.py  save_checkpoint, restore_checkpoint, RESUMABLE_CHANGES

from __future__ import annotations

import importlib

from mote_lib.cli import CommandLineError
from mote_lib.train.cli import (
    FIELD_CHOICES,
    NOT_ON_COMMAND_LINE,
    PROG,
    add_config_arguments,
    check_inputs,
    command_line_parser,
    field_help,
    main,
    parse_command_line,
    run_command_line,
)
from mote_lib.train.config import EMBED_CHUNK, NON_WEIGHT_FIELDS, PAPER_TEMPERATURES, TASK_ROLES, TRAINING_DATA, TrainConfig
from mote_lib.train.run_folder import check_output_folder, read_train_log

# Names that need torch, each with its module: imported when first used (PEP 562), so that
# ``import mote_lib.train`` and a mistaken command line stay fast.
_LAZY = {
    "train": "loop", "training_step": "loop", "TrainingDiverged": "loop", "make_optimizer": "loop",
    "make_scheduler": "loop", "PHASES": "loop",
    "TrainingData": "data", "resolve_data_root": "data",
    "contrastive_step": "step", "grad_cache_step": "step", "batch_shards": "step", "shard_batch": "step",
    "shared_loss": "step",
    "RESUMABLE_CHANGES": "checkpoints", "save_checkpoint": "checkpoints", "restore_checkpoint": "checkpoints",
}

__all__ = [
    "EMBED_CHUNK", "FIELD_CHOICES", "NON_WEIGHT_FIELDS", "NOT_ON_COMMAND_LINE", "PAPER_TEMPERATURES", "PROG", "TASK_ROLES",
    "TRAINING_DATA", "CommandLineError", "TrainConfig", "add_config_arguments", "check_inputs", "check_output_folder",
    "command_line_parser", "field_help", "main", "parse_command_line", "read_train_log", "run_command_line", *_LAZY,
]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
