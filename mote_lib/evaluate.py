"""Evaluate mote_lib models through the ``mteb`` package: task routing, a results store, the paper's tables.

mteb tells an encoder what it is embedding (``task_metadata.type``, and ``prompt_type`` for
retrieval queries and documents); ``MTEBEncoder`` turns that into a MoTE task, which picks the
instruction and the expert:

    Retrieval / Reranking, queries     -> search_query
    Retrieval / Reranking, documents   -> search_document
    Classification                     -> classification
    Clustering                         -> clustering
    STS, PairClassification, Summarization, other types -> ``other_task`` (default ``classification``)

(ours: sentence-pair tasks compare two texts of the same kind, as classification inputs are; the
choice is one argument away.) The EM baseline ignores tasks.

Results are stored per (weights hash, evaluation settings, task) under ``runs/results/``: mteb's
own result cache keys on model name and revision only, so a retrained model under the same name
would silently get its predecessor's scores; here changed weights always mean a new evaluation.

Example:
    >>> from mote_lib.evaluate import evaluate_models
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> model = MoTEModel.from_base(MoTEConfig(variant="mote"))
    >>> table = evaluate_models({"mote-untrained": model}, suite="offline", tasks=["LeeDocumentSTS"])
    >>> table[["model", "task", "main_metric"]].values.tolist()
    [['mote-untrained', 'LeeDocumentSTS', 'cosine_spearman']]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import time
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mote_lib import cli
from mote_lib.atomic import atomic_file, write_text_atomic
from mote_lib.cli import DEBUG_VARIABLE, CommandLineError, OneLineParser
from mote_lib.digest import files_digest, json_digest, weights_digest
from mote_lib.names import SUITES, TYPE_TO_TASK
from mote_lib.paths import data_dir, project_environment, runs_dir

if TYPE_CHECKING:
    import pandas as pd

# Offline by default, caches inside the project (as scripts/env.sh), set before mteb is imported:
# the import creates mteb's cache folder, and hub look-ups retry for a minute before failing.
# Variables the user already set (to go online, say) are kept.
for _name, _value in project_environment().items():
    os.environ.setdefault(_name, _value)

RETRIEVAL_TYPES = frozenset({"Retrieval", "Reranking"})
DEFAULT_OTHER_TASK = "classification"
# Bump when the way scores are computed changes, so stored results are not reused across it.
EVALUATION_VERSION = 1

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- command line (checked before mteb and torch load)

PROG = "python -m mote_lib.evaluate"
# The table's file formats, by extension.
OUTPUT_FORMATS = (".csv", ".parquet", ".json")
# The labels --summary reads: the reference, the baseline and the model of the paper's gain ratio.
SUMMARY_LABELS = ("em", "ic", "mote")


def run_command_line(command, argv: list[str] | None = None, prog: str = PROG) -> int:
    """``mote_lib.cli.run_command_line`` under this module's name."""
    return cli.run_command_line(command, argv, prog)


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
                             "and gain ratios of 'mote' over 'ic' (needs models labelled so)")
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
        if _model_config(folder) is None:
            raise CommandLineError(f"--models {spec}: {folder} holds no saved model (config.json, nor model/config.json)")
        models[label] = folder
    return models


def _model_config(folder: str | Path) -> Path | None:
    """The ``config.json`` of a saved model folder or of the ``model/`` in a training run; None if neither."""
    for candidate in (Path(folder) / "model" / "config.json", Path(folder) / "config.json"):
        if candidate.is_file():
            return candidate
    return None


def check_other_task(models: dict[str, str], other_task: str) -> None:
    """Every model knows ``other_task`` (read from its config.json; an unreadable one is reported when it loads)."""
    for label, folder in models.items():
        try:
            tasks = list(json.loads(_model_config(folder).read_text())["mote"]["instructions"])
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


def _check_command_line(argv: list[str]) -> int:
    parse_command_line(argv)
    return 0


if __name__ == "__main__" and run_command_line(_check_command_line) == 2:
    raise SystemExit(2)  # a mistaken command line, refused in a second: mteb and torch are not imported yet

from mteb.models.abs_encoder import AbsEncoder  # noqa: E402

from mote_lib.model import MoTEModel  # noqa: E402

# ----------------------------------------------------------------------------- routing


def route_task(task_type: str, prompt_type: str | None, other_task: str = DEFAULT_OTHER_TASK) -> str:
    """The MoTE task that embeds mteb inputs of ``task_type`` (and ``prompt_type``: query or document)."""
    if task_type in RETRIEVAL_TYPES:
        if prompt_type is None:
            raise ValueError(f"a {task_type} input must say whether it is a query or a document (prompt_type)")
        return "search_query" if str(prompt_type) in ("query", "PromptType.query") else "search_document"
    return TYPE_TO_TASK.get(task_type, other_task)


def weights_hash(model: MoTEModel) -> str:
    """A 16-hex-digit digest of the model's configuration and every weight (name, dtype, shape, bytes)."""
    return weights_digest(model.state_dict(), header=json.dumps(_config_dict(model), sort_keys=True))


# MoTEConfig fields added after results were first stored, with the value that keeps the old
# behaviour: left out of the digest at that value, so existing stored results stay valid.
_LATER_CONFIG_DEFAULTS = {"base_layers": None}


def _config_dict(model: MoTEModel) -> dict:
    from dataclasses import asdict

    mote = {k: v for k, v in asdict(model.config).items() if not (k in _LATER_CONFIG_DEFAULTS and v == _LATER_CONFIG_DEFAULTS[k])}
    return {"mote": mote, "backbone": model.backbone_config.to_dict()}


class MTEBEncoder(AbsEncoder):
    """An mteb encoder around any mote_lib model (EM, IC, MoTE, MoTE-TLR), routing each input to its task.

    Embeddings are cached by (task, text) for the encoder's lifetime: mteb's STS and pair
    evaluators embed every pair's texts again (LeeDocumentSTS would embed its 50 documents 2,450
    times), and a text gets the same embedding whenever it is embedded for the same task.

    Args:
        model: the model to evaluate.
        name: the model's label (mteb needs ``org/name``; ``mote-lab/`` is prepended if missing).
        other_task: the MoTE task for STS, PairClassification, Summarization and other types.
        batch_size: texts per forward pass.
        device: where to run (default: where the model is).
        show_progress_bar: a tqdm bar per encode call.
        training_datasets: the mteb tasks whose data the model was trained on, for its mteb ``ModelMeta``;
            ``None`` for unknown; default: ``default_training_datasets(model)``.

    Attributes:
        routes: one entry per ``encode`` call: mteb task name, task type, prompt type, routed task, texts.
    """

    def __init__(self, model: MoTEModel, name: str = "model", other_task: str = DEFAULT_OTHER_TASK, batch_size: int = 32,
                 device: str | None = None, show_progress_bar: bool = False,
                 training_datasets: set[str] | None | str = "default") -> None:
        if other_task not in model.config.tasks:
            raise ValueError(f"unknown other_task {other_task!r}; valid tasks: {model.config.tasks}")
        self.model, self.other_task, self.batch_size = model, other_task, batch_size
        self.device, self.show_progress_bar = device, show_progress_bar
        self.routes: list[dict] = []
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        # For the table's counts: the (task, text) keys each (mteb task, split) embedded, and those truncation cut.
        # Kept apart from the cache, so that a text embedded for an earlier task still counts for a later one.
        self._embedded: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self._cut: set[tuple[str, str]] = set()
        if training_datasets == "default":
            training_datasets = default_training_datasets(model)
        self.mteb_model_meta = model_meta(model, name, training_datasets)

    def encode(self, inputs, *, task_metadata, hf_split: str, hf_subset: str, prompt_type=None, **kwargs) -> np.ndarray:
        texts = [text for batch in inputs for text in batch["text"]]
        task = route_task(task_metadata.type, getattr(prompt_type, "value", prompt_type), self.other_task)
        self.routes.append({"mteb_task": task_metadata.name, "type": task_metadata.type,
                            "prompt_type": getattr(prompt_type, "value", prompt_type), "task": task, "texts": len(texts)})
        missing = list(dict.fromkeys(t for t in texts if (task, t) not in self._cache))
        if missing:
            # Benchmarks may hold empty documents (they embed as the instruction alone); texts longer than
            # max_seq_length are cut, as the suite's settings say, and counted per task in the table.
            def count_cut(rows: list[int]) -> None:
                self._cut.update((task, missing[i]) for i in rows)

            vectors = self.model.encode(missing, task=task, batch_size=self.batch_size, device=self.device,
                                        show_progress_bar=self.show_progress_bar, allow_empty=True,
                                        on_truncation=count_cut)
            self._cache.update({(task, t): v for t, v in zip(missing, vectors)})
        self._embedded.setdefault((task_metadata.name, hf_split), set()).update((task, t) for t in texts)
        dim = self.model.backbone_config.hidden_size
        return np.stack([self._cache[(task, t)] for t in texts]) if texts else np.zeros((0, dim), np.float32)

    def text_counts(self, mteb_task: str, split: str) -> dict[str, int]:
        """What mteb embedded to score a task's split: unique texts, how many truncation cut, how many were empty.

        ``texts`` counts every text mteb asked for (for classification, the training examples of its
        classifier too), once per MoTE task (a text embedded as a query and as a document counts
        twice: its instructions differ); ``truncated`` those longer than ``max_seq_length`` tokens,
        instruction included; ``empty`` those empty or whitespace only (embedded as the instruction alone).
        """
        keys = self._embedded.get((mteb_task, split), set())
        return {"texts": len(keys), "truncated": len(keys & self._cut), "empty": sum(not text.strip() for _, text in keys)}


def model_meta(model: MoTEModel, name: str, training_datasets: set[str] | None):
    """mteb's ``ModelMeta`` of ``model``: what mteb's results and caches record about the model evaluated.

    ``revision`` is the weights hash (a retrained model is another revision); parameters total and
    active for one input (one expert per layer); ``max_tokens`` the instruction included; ``license``
    and ``adapted_from`` those of the base model (``mote_lib.base_models``).
    """
    from mteb.models.model_meta import ModelMeta

    from mote_lib.base_models import base_model_hub_id, base_model_license

    counts = model.parameter_counts()
    return ModelMeta(
        loader=None, name=name if "/" in name else f"mote-lab/{name}", revision=weights_hash(model),
        release_date=None, languages=["eng-Latn"], n_parameters=counts["total"],
        n_active_parameters_override=counts["active"], memory_usage_mb=None,
        max_tokens=model.config.max_seq_length, embed_dim=model.backbone_config.hidden_size,
        license=_mteb_license(base_model_license(model.config.base_model)), open_weights=True, public_training_code=None,
        public_training_data=None, framework=["PyTorch"], similarity_fn_name="cosine",
        use_instructions=model.config.uses_instructions, training_datasets=training_datasets,
        adapted_from=base_model_hub_id(model.config.base_model),
    )


def _mteb_license(license: str | None) -> str | None:
    """``license`` if mteb knows it, else ``None``: ModelMeta refuses a name outside its list (a folder's card may hold any)."""
    from typing import get_args

    from mteb.types import Licenses

    return license if license in get_args(Licenses) else None


def default_training_datasets(model: MoTEModel) -> set[str] | None:
    """The mteb tasks whose data may be in ``model``'s weights; ``None`` when unknown.

    mteb's ``training_datasets`` names mteb tasks (it marks which results are not zero-shot), so
    this is: the base model's own (mteb's record of it: MSMARCO, NQ, ... for all-MiniLM-L6-v2 and
    all-mpnet-base-v2; none for tiny-random-bert; unknown for another base), plus the offline tasks
    drawn from a source the shipped training corpora also use (``shipped_training_overlap``). The
    shipped corpora themselves are no mteb task. An upper bound: a model not fine-tuned on the
    shipped data did not see the latter (pass ``MTEBEncoder(training_datasets=...)`` to say so).
    """
    import mteb

    from mote_lib.base_models import TINY_RANDOM_BERT, base_model_hub_id

    if model.config.base_model == TINY_RANDOM_BERT:
        base: set[str] | None = set()
    else:
        hub_id = base_model_hub_id(model.config.base_model)
        try:  # mteb's own registry, shipped with the package: no hub look-up
            base = set(mteb.get_model_meta(hub_id).training_datasets or ()) if hub_id else None
        except (KeyError, ValueError):
            base = None
    return None if base is None else base | shipped_training_overlap()


def shipped_training_overlap(root: str | Path | None = None) -> set[str]:
    """The offline tasks built from a source (a package) that a shipped training corpus also uses.

    Their texts are held out from training by whole units (package, word, headword, book: see
    data/README.md), but the source is the same: they are in-domain rather than zero-shot.
    Read from ``sources.json`` (the training corpora's sources) and ``eval/*/task.json``.
    """
    try:
        root = Path(root) if root else data_dir()
        corpora = json.loads((root / "sources.json").read_text())["train"].values()
        trained = {part for corpus in corpora for part in corpus["source"].split("; ")}
        tasks = {path.parent.name: json.loads(path.read_text()) for path in (root / "eval").glob("*/task.json")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()  # no shipped data here (an install without data/): nothing to add
    return {name for name, task in tasks.items() if trained & set(str(task.get("source", "")).split("; "))}


# ----------------------------------------------------------------------------- one model on a suite


def task_data_hash(task) -> str:
    """A digest of a shipped task's files (its metadata ``dataset.path``); ``hub`` for hub tasks."""
    folder = Path(task.metadata.dataset["path"])
    if not folder.is_dir():
        return f"hub:{task.metadata.dataset.get('revision')}"
    return files_digest(folder)


def result_key(encoder: MTEBEncoder, task) -> str:
    """What a stored result depends on: weights, routing, evaluator settings, data, mteb's version."""
    import mteb

    settings = {
        "weights": encoder.mteb_model_meta.revision, "other_task": encoder.other_task,
        "evaluator": _evaluator_settings(task), "data": task_data_hash(task), "mteb": mteb.__version__,
        "evaluation_version": EVALUATION_VERSION,
    }
    return json_digest(settings)


def _evaluator_settings(task) -> dict:
    names = ("samples_per_label", "n_experiments", "max_fraction_of_documents_to_embed", "n_clusters",
             "max_documents_per_cluster", "min_score", "max_score", "k_values", "seed", "keeps_per_query_scores")
    return {n: getattr(task, n) for n in names if hasattr(task, n)}


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
    import mteb

    store = Path(store or runs_dir() / "results")
    rows = []
    progress = tasks
    if show_progress:
        from tqdm.auto import tqdm

        progress = tqdm(tasks, desc=f"mteb {label}", unit="task")
    for task in progress:
        rows.extend(_evaluate_task(encoder, task, store, mteb))
    return _model_table(rows, label, variant, seed, encoder.mteb_model_meta.revision, profile)


# One model's rows, in this order whether they were just computed or read back from the store
# (stored rows are JSON objects with sorted keys); ``result_file`` is None for a failure.
# ``COUNT_COLUMNS``: the unique texts a task's split embedded, how many were cut to max_seq_length and
# how many were empty (``MTEBEncoder.text_counts``); missing (<NA>) for a failure, and for results
# stored before they were counted (their scores are still valid: the counts change no score).
COUNT_COLUMNS = ("texts", "truncated", "empty")
ROW_COLUMNS = ("task", "task_type", "split", "main_metric", "score", "eval_seconds", "error", "result_file",
               *COUNT_COLUMNS)


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


def _evaluate_task(encoder, task, store: Path, mteb) -> list[dict]:
    from sklearn.exceptions import UndefinedMetricWarning

    name, kind = task.metadata.name, task.metadata.type
    path = store / name / f"{result_key(encoder, task)}.json"
    if path.is_file():
        return [{**row, "result_file": str(path)} for row in json.loads(path.read_text())["rows"]]
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
    _write_json_atomic(path, payload)
    return [{**row, "result_file": str(path)} for row in rows]


def _text_counts(encoder, name: str, split: str) -> dict:
    """``COUNT_COLUMNS`` of a task's split, from an ``MTEBEncoder``; empty for an encoder that does not count."""
    counts = getattr(encoder, "text_counts", None)
    return counts(name, split) if counts is not None else {}


def _failure_row(task, err: BaseException, seconds: float = 0.0) -> dict:
    """The row of a task that failed (or of a model that could not be evaluated): no score, the error."""
    return {"task": task.metadata.name, "task_type": task.metadata.type, "split": None,
            "main_metric": task.metadata.main_score, "score": np.nan, "eval_seconds": seconds,
            "error": f"{type(err).__name__}: {err}", "result_file": None}


def package_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("mote-lib", "mteb", "torch", "transformers", "sentence-transformers")}


def _write_json_atomic(path: Path, payload) -> None:
    write_text_atomic(path, json.dumps(payload, indent=1, sort_keys=True, default=str) + "\n")


# ----------------------------------------------------------------------------- many models


def load_model_folder(folder: str | Path) -> tuple[MoTEModel, dict]:
    """A saved model (``model/`` folder or a training run holding one) and what the run says about it."""
    folder = Path(folder)
    model_dir = folder / "model" if (folder / "model" / "config.json").is_file() else folder
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{folder} holds no saved model (no config.json, nor model/config.json)")
    info = {}
    run_config = model_dir.parent / "train_config.json"
    if model_dir != folder and run_config.is_file():
        info = json.loads(run_config.read_text())
    return MoTEModel.from_pretrained(model_dir), info


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
    info = {}
    if not isinstance(model, MoTEModel):
        model, info = load_model_folder(model)
    encoder = MTEBEncoder(model, name=label, other_task=other_task, batch_size=batch_size, device=device)
    return evaluate_encoder(encoder, selected, label=label, variant=model.config.variant, seed=info.get("seed"),
                            profile=info.get("profile", ""), store=store, show_progress=show_progress)


# ----------------------------------------------------------------------------- the paper's aggregation


def per_query_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Each query's main score (x100) behind the retrieval and reranking rows of ``table``.

    They are pytrec_eval's per-query values that mteb averages into the task's score (kept by the
    shipped tasks, see ``mote_lib.mteb_tasks``); the paired bootstrap over queries resamples them.

    Returns:
        Columns model, seed, task, task_type, split, query_id, score; empty for tables without such rows.
    """
    import pandas as pd

    frames = []
    for row in table[table["error"].isna()].itertuples():
        if row.task_type not in ("Retrieval", "Reranking") or not isinstance(getattr(row, "result_file", None), str):
            continue
        stored = json.loads(Path(row.result_file).read_text()).get("per_query_scores", {}).get(row.split)
        if stored is None:
            raise ValueError(f"{row.result_file} holds no per-query scores for split {row.split!r}"
                             " (a hub task, or a result stored before they were kept)")
        frames.append(pd.DataFrame({"model": row.model, "seed": row.seed, "task": row.task, "task_type": row.task_type, "split": row.split,
                                    "query_id": list(stored), "score": 100 * np.array(list(stored.values()), dtype=float)}))
    columns = ["model", "seed", "task", "task_type", "split", "query_id", "score"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def scores_by_task(table: pd.DataFrame) -> pd.DataFrame:
    """Per-dataset scores: one row per (task_type, task), one column per model (mean over splits and seeds)."""
    ok = table[table["error"].isna()]
    return ok.pivot_table(index=["task_type", "task"], columns="model", values="score", aggfunc="mean")


def summary_table(table: pd.DataFrame, reference: str = "em") -> pd.DataFrame:
    """The paper's main table: mean score per task type and over all datasets, and gains over ``reference``.

    Gains are computed per dataset (model - reference), then averaged per type and overall, as the
    paper does. Rows: models, then ``gain <model>`` for every other model.
    """
    import pandas as pd

    per_task = scores_by_task(table)
    if reference not in per_task.columns:
        raise ValueError(f"reference model {reference!r} is not in the table; models: {list(per_task.columns)}")
    means = type_means(per_task)
    gains = type_means(per_task.drop(columns=reference).sub(per_task[reference], axis=0))
    gains.index = [f"gain {m}" for m in gains.index]
    return pd.concat([means, gains])


def type_means(per_task: pd.DataFrame) -> pd.DataFrame:
    """Models x (task types, then ``average (all datasets)``) from a ``scores_by_task`` table (or its differences)."""
    by_type = per_task.groupby(level="task_type").mean().T
    by_type["average (all datasets)"] = per_task.mean().values
    return by_type


def gain_ratios(table: pd.DataFrame, model: str = "mote", baseline: str = "ic", reference: str = "em") -> dict:
    """The paper's headline: gain(model) / gain(baseline) over ``reference``, for retrieval and overall.

    The paper reports 5.21 / 3.27 = 1.59 (retrieval) and 2.60 / 1.81 = 1.43 (all datasets). A ratio
    is ``nan`` when the baseline's gain is zero; a negative ratio means the gains have opposite signs.
    """
    summary = summary_table(table, reference)
    out = {}
    for column, key in (("Retrieval", "retrieval"), ("average (all datasets)", "overall")):
        if column not in summary.columns:
            continue
        gain_model, gain_base = summary.loc[f"gain {model}", column], summary.loc[f"gain {baseline}", column]
        out[key] = {f"gain_{model}": gain_model, f"gain_{baseline}": gain_base,
                    "ratio": gain_model / gain_base if gain_base != 0 else float("nan")}
    return out


# ----------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """``python -m mote_lib.evaluate``: 0 when every model and task scored, 1 when some failed (their rows
    hold the error, and the table is written anyway), 2 for a command-line mistake (one line)."""
    return run_command_line(_main, argv)


def _main(argv: list[str]) -> int:
    args = parse_command_line(argv)
    if args.suite != "offline":  # the real suites' names come from mteb (imported by now)
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
        print("\n" + json.dumps(gain_ratios(table), indent=2, default=float))
    if failed.empty:
        return 0
    where = f"; the table ({args.output}) holds their errors" if args.output else ""
    print(f"{PROG}: {len(failed)} of {len(table)} results failed ({', '.join(sorted(set(failed['model'])))})"
          f"{where}{'; --summary skipped' if args.summary else ''}", file=sys.stderr)
    return 1


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


if __name__ == "__main__":
    raise SystemExit(main())
