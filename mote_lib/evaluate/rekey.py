"""One-time re-key of the results store, for the weights hash that leaves install paths out.

Before, ``weights_hash`` digested the backbone's config with its ``_name_or_path`` (the absolute
folder the base model was loaded from: a checkout's venv or cache) and ``transformers_version``,
so the same weights hashed differently in another checkout or environment. It now leaves both out
(``mote_lib.evaluate.encoder.INSTALL_FIELDS``), and results stored under the old hash are no
longer found (they would be computed again). For each model given, ``rekey_store`` computes the
old hash (``legacy_weights_hash``: the path its config.json records, the installed transformers version)
and the new one, and renames every stored result of the model keyed by the old one to its new key,
for every offline task of every data root and every route of other task types. Run it once per
results store; a second run finds nothing to move. Results of the real MTEB suites, of a model
saved by another transformers version, or stored under another mteb version are not moved (they
are computed again when asked for).

    python -m mote_lib.evaluate.rekey                         # every runs/models/<run>/model, runs/results
    python -m mote_lib.evaluate.rekey RUN_OR_MODEL_FOLDER ... [--store DIR] [--data-root DIR ...] [--dry-run]

The data roots are, by default, the shipped data and every ``runs/eval-sample-*`` (the profiles'
evaluation samples). An untrained model (``MoTEModel.from_base``, not saved) is re-keyed by passing
the model itself to ``rekey_store`` (its old hash used the base model's current install folder).

Example:
    >>> from mote_lib.evaluate.rekey import main
    >>> main(["no-such-folder"])   # prints "python -m mote_lib.evaluate.rekey: error: ..." on stderr
    2
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from mote_lib.cli import CommandLineError, OneLineParser, run_command_line
from mote_lib.evaluate.folders import model_directory
from mote_lib.evaluate.store import default_store, settings_key
from mote_lib.offline import use_project_environment
from mote_lib.paths import data_dir, runs_dir

PROG = "python -m mote_lib.evaluate.rekey"


def rekey_store(models: Iterable, store: str | Path | None = None, data_roots: Iterable[str | Path] | None = None,
                dry_run: bool = False) -> list[tuple[Path, Path]]:
    """Rename the stored results of ``models`` from their old weights hash's keys to the new one's.

    Args:
        models: ``MoTEModel`` objects, or saved model / training run folders.
        store: the results store (default ``runs/results``).
        data_roots: folders holding an offline suite's ``eval/`` (default ``default_data_roots()``).
        dry_run: only say what would move.

    Returns:
        (old file, new file) of every result moved; a result whose new file exists already is left alone.
    """
    from mote_lib.evaluate.encoder import legacy_weights_hash, weights_hash
    from mote_lib.model import MoTEModel
    from mote_lib.mteb_tasks import offline_tasks

    store = Path(store or default_store())
    roots = default_data_roots() if data_roots is None else list(data_roots)
    tasks = [task for root in roots for task in offline_tasks(root=root) if (store / task.metadata.name).is_dir()]
    moves = []
    for model in models:
        name_or_path = None  # a model in memory: its own (the folder its base model was loaded from)
        if not isinstance(model, MoTEModel):
            folder = model_directory(model)
            model = MoTEModel.from_pretrained(folder)  # which leaves the recorded path out: read it here
            name_or_path = json.loads((folder / "config.json").read_text())["backbone"].get("_name_or_path")
        old, new = legacy_weights_hash(model, name_or_path), weights_hash(model)
        for task in tasks if old != new else ():
            folder = store / task.metadata.name
            for other_task in model.config.tasks:
                source = folder / f"{settings_key(old, other_task, task)}.json"
                target = folder / f"{settings_key(new, other_task, task)}.json"
                if source.is_file() and not target.exists():
                    if not dry_run:
                        source.rename(target)
                    moves.append((source, target))
    return moves


def default_data_roots() -> list[Path]:
    """The shipped data and every profile's evaluation sample under ``runs/`` (``runs/eval-sample-*``)."""
    return [data_dir(), *sorted(p for p in runs_dir().glob("eval-sample-*") if (p / "eval").is_dir())]


def default_model_folders() -> list[Path]:
    """Every training run's saved model under ``runs/models/``."""
    return sorted(p for p in (runs_dir() / "models").glob("*") if (p / "model" / "config.json").is_file())


def main(argv: list[str] | None = None) -> int:
    """``python -m mote_lib.evaluate.rekey``: print each result moved; 0, or 2 for a command-line mistake (one line)."""
    return run_command_line(_main, argv, PROG)


def _main(argv: list[str]) -> int:
    parser = OneLineParser(prog=PROG, description="Re-key the results stored under the weights hash of before "
                                                  "(with install paths) to the current one.")
    parser.add_argument("models", nargs="*", help="saved model folders or training runs (default: every runs/models/<run>)")
    parser.add_argument("--store", help="the results store (default: runs/results)")
    parser.add_argument("--data-root", action="append", help="a folder holding an offline suite's eval/ (repeatable; "
                                                             "default: the shipped data and runs/eval-sample-*)")
    parser.add_argument("--dry-run", action="store_true", help="only print what would move")
    parser.add_argument("--debug", action="store_true", help="full tracebacks of command-line mistakes")
    args = parser.parse_args(argv)
    for folder in args.models:
        if model_directory(folder) is None:
            raise CommandLineError(f"{folder}: holds no saved model (config.json, nor model/config.json)")
    use_project_environment()
    moves = rekey_store(args.models or default_model_folders(), args.store, args.data_root, args.dry_run)
    for source, target in moves:
        print(f"{source} -> {target.name}")
    print(f"{'would move' if args.dry_run else 'moved'} {len(moves)} stored result(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
