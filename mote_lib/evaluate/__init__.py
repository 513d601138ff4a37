"""Evaluate mote_lib models through the ``mteb`` package: task routing, a results store, the paper's tables.

One concept per module:

    routing.py    route_task: the MoTE task (instruction, expert) of each mteb input
    encoder.py    MTEBEncoder, its mteb ModelMeta, weights_hash (a model's identity), training-data declarations
    store.py      the results store under runs/results/: result_key, reading and writing stored results
    rekey.py      the one-time re-key of results stored under the weights hash of before (python -m mote_lib.evaluate.rekey)
    suite.py      evaluate_models, evaluate_encoder: models on a suite, one tidy table
    aggregate.py  the paper's aggregation: scores_by_task, summary_table, type_means, gain_ratios, per_query_scores
    folders.py    model_directory, run_settings: a saved model folder, or a training run holding one
    cli.py        python -m mote_lib.evaluate (arguments checked before mteb and torch load)

Every name is importable from here; those whose module imports pandas, torch or mteb load on first
use (PEP 562), so ``python -m mote_lib.evaluate`` refuses a mistaken command line in a fraction of
a second, and importing this package sets no environment variable and does not import mteb.

Example:
    >>> from mote_lib.evaluate import route_task, summary_table, evaluate_models
    >>> route_task("Retrieval", "document")
    'search_document'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mote_lib.cli import CommandLineError
from mote_lib.evaluate.cli import (
    OUTPUT_FORMATS,
    PROG,
    SUMMARY_LABELS,
    check_output_file,
    check_task_names,
    command_line_parser,
    main,
    model_folders,
    offline_task_names,
    parse_command_line,
    run_command_line,
    write_table,
)
from mote_lib.evaluate.folders import model_directory, run_settings
from mote_lib.evaluate.routing import DEFAULT_OTHER_TASK, route_task
from mote_lib.lazy import lazy_exports
from mote_lib.names import RETRIEVAL_TYPES

if TYPE_CHECKING:
    from mote_lib.evaluate.aggregate import gain_ratios, per_query_scores, scores_by_task, summary_table, type_means
    from mote_lib.evaluate.encoder import (
        INSTALL_FIELDS,
        MTEBEncoder,
        default_training_datasets,
        legacy_weights_hash,
        model_meta,
        shipped_training_overlap,
        weights_hash,
    )
    from mote_lib.evaluate.rekey import rekey_store
    from mote_lib.evaluate.store import EVALUATION_VERSION, default_store, result_key, task_data_hash
    from mote_lib.evaluate.suite import (
        COUNT_COLUMNS,
        ROW_COLUMNS,
        evaluate_encoder,
        evaluate_models,
        package_versions,
        quiet_datasets,
    )

_LAZY_MODULES = {
    "mote_lib.evaluate.encoder": ("INSTALL_FIELDS", "MTEBEncoder", "default_training_datasets", "legacy_weights_hash",
                                  "model_meta", "shipped_training_overlap", "weights_hash"),
    "mote_lib.evaluate.store": ("EVALUATION_VERSION", "default_store", "result_key", "task_data_hash"),
    "mote_lib.evaluate.rekey": ("rekey_store",),
    "mote_lib.evaluate.suite": ("COUNT_COLUMNS", "ROW_COLUMNS", "evaluate_encoder", "evaluate_models", "package_versions",
                                "quiet_datasets"),
    "mote_lib.evaluate.aggregate": ("gain_ratios", "per_query_scores", "scores_by_task", "summary_table", "type_means"),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}

__all__ = [
    "COUNT_COLUMNS",
    "CommandLineError",
    "DEFAULT_OTHER_TASK",
    "EVALUATION_VERSION",
    "INSTALL_FIELDS",
    "MTEBEncoder",
    "OUTPUT_FORMATS",
    "PROG",
    "RETRIEVAL_TYPES",
    "ROW_COLUMNS",
    "SUMMARY_LABELS",
    "check_output_file",
    "check_task_names",
    "command_line_parser",
    "default_store",
    "default_training_datasets",
    "evaluate_encoder",
    "evaluate_models",
    "gain_ratios",
    "legacy_weights_hash",
    "main",
    "model_directory",
    "model_folders",
    "model_meta",
    "offline_task_names",
    "package_versions",
    "parse_command_line",
    "per_query_scores",
    "quiet_datasets",
    "rekey_store",
    "result_key",
    "route_task",
    "run_command_line",
    "run_settings",
    "scores_by_task",
    "shipped_training_overlap",
    "summary_table",
    "task_data_hash",
    "type_means",
    "weights_hash",
    "write_table",
]


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
