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

from typing import TYPE_CHECKING

from mote_lib.cli import CommandLineError
from mote_lib.lazy import lazy_exports
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

if TYPE_CHECKING:
    from mote_lib.train.checkpoints import RESUMABLE_CHANGES, restore_checkpoint, save_checkpoint
    from mote_lib.train.data import TrainingData, resolve_data_root
    from mote_lib.train.loop import PHASES, TrainingDiverged, make_optimizer, make_scheduler, train, training_step
    from mote_lib.train.step import batch_shards, contrastive_step, grad_cache_step, shard_batch, shared_loss

# Names that need torch, by module: imported on first use (PEP 562), so that ``import mote_lib.train``
# and a mistaken command line stay fast.
_LAZY_MODULES = {
    "mote_lib.train.loop": ("PHASES", "TrainingDiverged", "make_optimizer", "make_scheduler", "train", "training_step"),
    "mote_lib.train.data": ("TrainingData", "resolve_data_root"),
    "mote_lib.train.step": ("batch_shards", "contrastive_step", "grad_cache_step", "shard_batch", "shared_loss"),
    "mote_lib.train.checkpoints": ("RESUMABLE_CHANGES", "restore_checkpoint", "save_checkpoint"),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}

__all__ = [
    "CommandLineError",
    "EMBED_CHUNK",
    "FIELD_CHOICES",
    "NON_WEIGHT_FIELDS",
    "NOT_ON_COMMAND_LINE",
    "PAPER_TEMPERATURES",
    "PHASES",
    "PROG",
    "RESUMABLE_CHANGES",
    "TASK_ROLES",
    "TRAINING_DATA",
    "TrainConfig",
    "TrainingData",
    "TrainingDiverged",
    "add_config_arguments",
    "batch_shards",
    "check_inputs",
    "check_output_folder",
    "command_line_parser",
    "contrastive_step",
    "field_help",
    "grad_cache_step",
    "main",
    "make_optimizer",
    "make_scheduler",
    "parse_command_line",
    "read_train_log",
    "resolve_data_root",
    "restore_checkpoint",
    "run_command_line",
    "save_checkpoint",
    "shard_batch",
    "shared_loss",
    "train",
    "training_step",
]

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
