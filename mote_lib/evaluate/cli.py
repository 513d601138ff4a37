"""``python -m mote_lib.evaluate``: evaluate saved models with mteb; print and save a tidy table.

Every argument is checked (standard library only) before mteb or torch is imported, so a mistake
costs a fraction of a second: one line on stderr and exit status 2 (``mote_lib.cli``). Then the
project's environment is set (``mote_lib.offline``: offline mode, caches inside the project) and
the models are evaluated (``mote_lib.evaluate.suite``).

    python -m mote_lib.evaluate --models em=runs/models/em-cpu-... mote=runs/models/mote-cpu-... --output results.csv

Example:
    >>> from mote_lib.evaluate.cli import main
    >>> main(["--models", "no-such-folder"])   # prints "python -m mote_lib.evaluate: error: ..." on stderr
    2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mote_lib import cli
from mote_lib.atomic import atomic_file, write_text_atomic
from mote_lib.cli import DEBUG_VARIABLE, CommandLineError, OneLineParser
from mote_lib.evaluate.folders import model_directory
from mote_lib.evaluate.routing import DEFAULT_OTHER_TASK
from mote_lib.names import SUITES
from mote_lib.offline import use_project_environment
from mote_lib.paths import data_dir

if TYPE_CHECKING:
    import pandas as pd

PROG = "python -m mote_lib.evaluate"
# The table's file formats, by extension.
OUTPUT_FORMATS = (".csv", ".parquet", ".json")
# The labels --summary reads: the reference, the baseline and the model of the paper's gain ratio.
SUMMARY_LABELS = ("em", "ic", "mote")


def run_command_line(command, argv: list[str] | None = None, prog: str = PROG) -> int:
    """``mote_lib.cli.run_command_line`` under this command's name."""
    return cli.run_command_line(command, argv, prog)


def main(argv: list[str] | None = None) -> int:
    """``python -m mote_lib.evaluate``: 0 when every model and task scored, 1 when some failed (their rows
    hold the error, and the table is written anyway), 2 for a command-line mistake (one line)."""
    return run_command_line(_main, argv)


def _main(argv: list[str]) -> int:
    args = parse_command_line(argv)  # a mistake stops here, before mteb and torch are imported
    use_project_environment()

    from mote_lib.evaluate.aggregate import gain_ratios, summary_table
    from mote_lib.evaluate.suite import evaluate_models

    if args.suite != "offline":  # the real suites' names come from mteb
        from mote_lib.mteb_tasks import mteb_tasks

        check_task_names(args.tasks, [t.metadata.name for t in mteb_tasks(args.suite)], args.suite)
    table = evaluate_models(args.models, args.suite, args.tasks, other_task=args.other_task, batch_size=args.batch_size,
                            device=args.device, data_root=args.data_root, keep_going=True)
    print(table[["model", "variant", "task", "task_type", "main_metric", "score", "eval_seconds", "error"]].to_string())
    print("\nevaluation seconds per model:", table.groupby("model")["eval_seconds"].sum().round(1).to_dict())
    if args.output:
        write_table(table, Path(args.output))
    failed = table[table["error"].notna()]
    if args.summary and failed.empty:
        print("\n" + summary_table(table).round(2).to_string())
        # gain(mote) / gain(ic) only where both gains are positive, else NaN (mote_lib.verdicts.gain_ratio)
        print("\n" + json.dumps(gain_ratios(table), indent=2))
    if failed.empty:
        return 0
    where = f"; the table ({args.output}) holds their errors" if args.output else ""
    print(f"{PROG}: {len(failed)} of {len(table)} results failed ({', '.join(sorted(set(failed['model'])))})"
          f"{where}{'; --summary skipped' if args.summary else ''}", file=sys.stderr)
    return 1


# ----------------------------------------------------------------------------- the arguments, checked


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return value


def command_line_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description="Evaluate saved mote_lib models with mteb; print and save a tidy table.")
    parser.add_argument("--models", nargs="+", required=True,
                        help="saved model folders or training runs; LABEL=FOLDER to name one")
    parser.add_argument("--suite", default="offline", choices=SUITES)
    parser.add_argument("--tasks", nargs="+", help="only these tasks of the suite")
    parser.add_argument("--data-root", help="the folder holding the offline suite's eval/ (default: MOTE_DATA or data/)")
    parser.add_argument("--other-task", default=DEFAULT_OTHER_TASK, help="MoTE task for STS and pair classification")
    parser.add_argument("--batch-size", type=_positive_int, default=32)
    parser.add_argument("--device")
    parser.add_argument("--output", help=f"write the table here; the extension picks the format ({', '.join(OUTPUT_FORMATS)})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    parser.add_argument("--summary", action="store_true",
                        help="also print the paper's table: means per task type, gains over the model labelled 'em', "
                             "and the gain ratios of 'mote' over 'ic' (NaN unless both gains are positive; "
                             "needs models labelled so)")
    parser.add_argument("--debug", action="store_true", help=f"full tracebacks of command-line mistakes (or {DEBUG_VARIABLE}=1)")
    return parser


def parse_command_line(argv: list[str]) -> argparse.Namespace:
    """The parsed command line with ``models`` as label -> folder, every input checked; nothing heavy is loaded.

    Raises:
        CommandLineError: a bad value, a missing folder, an unknown task, or an output that would be overwritten.
    """
    args = command_line_parser().parse_args(argv)
    args.models = model_folders(args.models)
    check_other_task(args.models, args.other_task)
    if args.suite == "offline":
        check_task_names(args.tasks, offline_task_names(args.data_root), args.suite)
    if args.summary and not set(SUMMARY_LABELS) <= set(args.models):
        raise CommandLineError(f"--summary needs models labelled {list(SUMMARY_LABELS)}; got {list(args.models)} "
                               "(label them with LABEL=FOLDER)")
    if args.output:
        check_output_file(Path(args.output), args.overwrite)
    return args


def model_folders(specs: list[str]) -> dict[str, str]:
    """``LABEL=FOLDER`` (or ``FOLDER``, labelled by its name) -> label -> folder; each must hold a saved model."""
    models: dict[str, str] = {}
    for spec in specs:
        label, _, folder = spec.rpartition("=")
        label = label or Path(folder).name
        if label in models:
            raise CommandLineError(f"--models: two models are labelled {label!r}; name them with LABEL=FOLDER")
        if not Path(folder).is_dir():
            raise CommandLineError(f"--models {spec}: no such folder {folder}")
        if model_directory(folder) is None:
            raise CommandLineError(f"--models {spec}: {folder} holds no saved model (config.json, nor model/config.json)")
        models[label] = folder
    return models


def check_other_task(models: dict[str, str], other_task: str) -> None:
    """Every model knows ``other_task`` (read from its config.json; an unreadable one is reported when it loads)."""
    for label, folder in models.items():
        try:
            tasks = list(json.loads((model_directory(folder) / "config.json").read_text())["mote"]["instructions"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if other_task not in tasks:
            raise CommandLineError(f"--other-task {other_task}: model {label!r} has no such task; valid: {tasks}")


def offline_task_names(data_root: str | None) -> list[str]:
    """The offline suite's task names under ``data_root`` (as ``mote_lib.data.list_eval_tasks``, without importing datasets)."""
    root = Path(data_root) if data_root else data_dir()
    option = "--data-root" if data_root else "the shipped data (MOTE_DATA or data/)"
    names = sorted(p.parent.name for p in (root / "eval").glob("*/task.json"))
    if not names:
        raise CommandLineError(f"{option}: {root} holds no eval/<task>/task.json; give a folder holding the suite's eval/")
    return names


def check_task_names(tasks: list[str] | None, valid: list[str], suite: str) -> None:
    unknown = [t for t in tasks or [] if t not in valid]
    if unknown:
        raise CommandLineError(f"--tasks: {unknown} not in suite {suite!r}; valid: {valid}")


def check_output_file(output: Path, overwrite: bool) -> None:
    """The table's format is known from the extension (and can be written); an existing file needs ``overwrite``."""
    if output.suffix not in OUTPUT_FORMATS:
        raise CommandLineError(f"--output {output}: unknown extension {output.suffix or '(none)'!r}; valid: {list(OUTPUT_FORMATS)}")
    if output.suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise CommandLineError(f"--output {output}: writing .parquet needs pyarrow (pip install pyarrow); or use .csv or .json")
    if output.is_dir():
        raise CommandLineError(f"--output {output} is a folder; give a file name ending in one of {list(OUTPUT_FORMATS)}")
    if output.exists() and not overwrite:
        raise CommandLineError(f"--output {output} exists; replace it with --overwrite or choose another name")


def write_table(table: pd.DataFrame, output: Path) -> Path:
    """Write ``table`` atomically in the format of ``output``'s extension (``OUTPUT_FORMATS``)."""
    if output.suffix == ".csv":
        return write_text_atomic(output, table.to_csv(index=False))
    if output.suffix == ".json":
        return write_text_atomic(output, table.to_json(orient="records", indent=1))
    if output.suffix == ".parquet":
        with atomic_file(output) as tmp:
            table.to_parquet(tmp, index=False)
        return output
    raise ValueError(f"unknown table format {output.suffix!r}; valid: {list(OUTPUT_FORMATS)}")
