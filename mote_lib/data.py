"""Load the training hierarchy (task -> dataset -> examples) and the evaluation tasks.

Training files use the format of ``sentence-transformers/embedding-training-data``: a gzipped
JSON-lines file per dataset, each line a JSON list ``[anchor, positive]`` or
``[anchor, positive, negative]``. The folder a file sits in names its task::

    data/train/retrieval/debian_synopsis_description.jsonl.gz
    data/train/classification/wordnet_supersense.jsonl.gz
    data/train/classification/wordnet_supersense.labels.jsonl.gz   # optional, one label per line

Label-based datasets (classification, clustering) keep their labels in a line-aligned sidecar
file, so the example files stay in the upstream format and the real data set drops in unchanged.

Evaluation tasks live in ``data/eval/<TaskName>/`` with a ``task.json`` describing the task type
and one JSON object per line in each data file (see ``EVAL_FILES``).

Example:
    >>> from mote_lib.data import load_training_data, load_eval_task
    >>> train = load_training_data()   # doctest: +SKIP
    >>> sorted(train)                  # doctest: +SKIP
    ['classification', 'clustering', 'retrieval']
    >>> task = load_eval_task("LeeDocumentSTS")
    >>> task.type, sorted(task.splits)
    ('STS', ['test'])
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset

from mote_lib.atomic import atomic_directory, atomic_file
from mote_lib.names import RETRIEVAL_TYPES
from mote_lib.offline import hub_offline
from mote_lib.paths import data_dir

TRAIN_TASKS = ("retrieval", "classification", "clustering")
"""Training tasks. ``retrieval`` trains both search experts: anchor -> ``search_query``,
positive and negative -> ``search_document``."""

EVAL_TYPES = (*RETRIEVAL_TYPES, "Classification", "Clustering", "STS", "PairClassification")

# Which files an evaluation task of each type holds, per split, and the keys of their records.
EVAL_FILES: dict[str, dict[str, tuple[str, ...]]] = {
    "Retrieval": {
        "corpus": ("id", "title", "text"),
        "queries": ("id", "text"),
        "qrels": ("query_id", "corpus_id", "score"),
    },
    "Reranking": {
        "corpus": ("id", "title", "text"),
        "queries": ("id", "text"),
        "qrels": ("query_id", "corpus_id", "score"),
        "top_ranked": ("query_id", "corpus_ids"),
    },
    "Classification": {"train": ("text", "label"), "test": ("text", "label")},
    "Clustering": {"test": ("text", "label")},
    "STS": {"test": ("sentence1", "sentence2", "score")},
    "PairClassification": {"test": ("sentence1", "sentence2", "label")},
}


class DataFormatError(ValueError):
    """A data file breaks the expected format; the message names the file and the line."""


def read_jsonl(path: str | Path) -> list[Any]:
    """Read a JSON-lines file (gzipped if the name ends in ``.gz``), naming file and line on errors."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    records = []
    line_number = 0
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    raise DataFormatError(f"{path}:{line_number}: empty line")
                records.append(json.loads(line))
    except json.JSONDecodeError as err:
        raise DataFormatError(f"{path}:{line_number}: not valid JSON ({err.msg})") from err
    except (OSError, EOFError, UnicodeDecodeError) as err:
        # A truncated or corrupt gzip stream, or bytes that are not UTF-8.
        raise DataFormatError(f"{path}: unreadable after line {line_number} ({type(err).__name__}: {err})") from err
    return records


def read_training_file(path: str | Path) -> list[list[str]]:
    """Read one training dataset: each line ``[anchor, positive]`` or ``[anchor, positive, negative]``.

    Raises:
        DataFormatError: wrong arity, a non-string or an empty text, with file and line.
    """
    examples = read_jsonl(path)
    for line_number, example in enumerate(examples, start=1):
        _check_example(example, path, line_number)
    return examples


def _check_example(example: Any, path: str | Path, line_number: int) -> None:
    where = f"{path}:{line_number}"
    if not isinstance(example, list) or len(example) not in (2, 3):
        shape = f"a list of {len(example)}" if isinstance(example, list) else type(example).__name__
        raise DataFormatError(f"{where}: expected [anchor, positive] or [anchor, positive, negative], got {shape}")
    for position, text in zip(("anchor", "positive", "negative"), example):
        if not isinstance(text, str):
            raise DataFormatError(f"{where}: {position} is {type(text).__name__}, not a string")
        if not text.strip():
            raise DataFormatError(f"{where}: {position} is an empty text")


def read_labels_file(path: str | Path, expected: int) -> list[str]:
    """Read a line-aligned labels sidecar: one JSON string per line, ``expected`` lines."""
    labels = read_jsonl(path)
    for line_number, label in enumerate(labels, start=1):
        if not isinstance(label, str) or not label:
            raise DataFormatError(f"{path}:{line_number}: a label must be a non-empty string, got {label!r}")
    if len(labels) != expected:
        raise DataFormatError(f"{path}: {len(labels)} labels for {expected} examples (must be line-aligned)")
    return labels


def training_dataset(path: str | Path) -> Dataset:
    """One training dataset as a ``datasets.Dataset`` with columns anchor, positive, negative, label.

    ``negative`` is ``None`` where a line has no hard negative; ``label`` is ``None`` unless a
    ``<name>.labels.jsonl.gz`` sidecar sits beside the file.
    """
    path = Path(path)
    examples = read_training_file(path)
    labels_path = path.with_name(path.name.removesuffix(".jsonl.gz") + ".labels.jsonl.gz")
    labels = read_labels_file(labels_path, len(examples)) if labels_path.exists() else [None] * len(examples)
    return Dataset.from_dict(
        {
            "anchor": [e[0] for e in examples],
            "positive": [e[1] for e in examples],
            "negative": [e[2] if len(e) == 3 else None for e in examples],
            "label": labels,
        }
    )


def training_files(root: str | Path | None = None) -> dict[str, dict[str, Path]]:
    """The training files under ``root/train`` (default ``data/``), as task -> dataset -> path."""
    train_root = Path(root or data_dir()) / "train"
    if not train_root.is_dir():
        raise FileNotFoundError(f"no training data folder at {train_root}")
    found: dict[str, dict[str, Path]] = {}
    for task_dir in sorted(p for p in train_root.iterdir() if p.is_dir()):
        if task_dir.name not in TRAIN_TASKS:
            raise DataFormatError(f"{task_dir}: unknown training task folder (valid: {list(TRAIN_TASKS)})")
        files = sorted(p for p in task_dir.glob("*.jsonl.gz") if not p.name.endswith(".labels.jsonl.gz"))
        found[task_dir.name] = {p.name.removesuffix(".jsonl.gz"): p for p in files}
    return found


def load_training_data(
    root: str | Path | None = None, tasks: list[str] | None = None
) -> dict[str, dict[str, Dataset]]:
    """Load the training hierarchy task -> dataset -> ``Dataset``.

    Args:
        root: folder holding ``train/`` (default: the shipped ``data/``).
        tasks: keep only these tasks (default: all found).

    Raises:
        ValueError: a task name that is not one of ``TRAIN_TASKS``.
    """
    files = training_files(root)
    wanted = list(files) if tasks is None else tasks
    unknown = [t for t in wanted if t not in TRAIN_TASKS]
    if unknown:
        raise ValueError(f"unknown training task(s) {unknown}; valid: {list(TRAIN_TASKS)}")
    return {task: {name: training_dataset(path) for name, path in files.get(task, {}).items()} for task in wanted}


@dataclass
class EvalTaskData:
    """One evaluation task as loaded from ``data/eval/<name>/``.

    Attributes:
        name: the task name, e.g. ``"FaqRetrieval"``.
        type: one of ``EVAL_TYPES``.
        metadata: the whole ``task.json`` (description, source, labels, main_score, ...).
        splits: split name -> part name -> ``Dataset``. Retrieval/Reranking: corpus, queries, qrels
            (and top_ranked); Classification: train and test; the other types: one part, ``"data"``.
    """

    name: str
    type: str
    metadata: dict[str, Any]
    splits: dict[str, dict[str, Dataset]] = field(default_factory=dict)


def list_eval_tasks(root: str | Path | None = None) -> list[str]:
    """Names of the evaluation tasks under ``root/eval`` (default ``data/``), sorted."""
    eval_root = Path(root or data_dir()) / "eval"
    return sorted(p.parent.name for p in eval_root.glob("*/task.json"))


def load_eval_task(name: str, root: str | Path | None = None) -> EvalTaskData:
    """Load one evaluation task, validating every record.

    Raises:
        ValueError: unknown task name (the message lists the valid ones).
        DataFormatError: a record misses a key or holds a wrong value, with file and line.
    """
    task_dir = Path(root or data_dir()) / "eval" / name
    if not (task_dir / "task.json").is_file():
        raise ValueError(f"unknown evaluation task {name!r}; valid: {list_eval_tasks(root)}")
    try:
        metadata = json.loads((task_dir / "task.json").read_text())
    except json.JSONDecodeError as err:
        raise DataFormatError(f"{task_dir / 'task.json'}:{err.lineno}: not valid JSON ({err.msg})") from err
    task_type = metadata.get("type")
    if task_type not in EVAL_FILES:
        raise DataFormatError(f"{task_dir / 'task.json'}: type {task_type!r} is not one of {list(EVAL_FILES)}")
    task = EvalTaskData(name=name, type=task_type, metadata=metadata)
    for split in metadata.get("eval_splits", ["test"]):
        task.splits[split] = _load_split(task_dir, split, task_type)
        if task_type in RETRIEVAL_TYPES:
            _check_ids(task.splits[split], task_dir, split)
    return task


def _check_ids(parts: dict[str, Dataset], task_dir: Path, split: str) -> None:
    """Every qrel and candidate list must point at a query and documents that exist."""
    queries, corpus = set(parts["queries"]["id"]), set(parts["corpus"]["id"])
    references = [("qrels", q, [d]) for q, d in zip(parts["qrels"]["query_id"], parts["qrels"]["corpus_id"])]
    if "top_ranked" in parts:
        references += [("top_ranked", q, ids) for q, ids in zip(parts["top_ranked"]["query_id"], parts["top_ranked"]["corpus_ids"])]
    for part, query_id, doc_ids in references:
        where = task_dir / f"{split}.{part}.jsonl.gz"
        if query_id not in queries:
            raise DataFormatError(f"{where}: query id {query_id!r} is not in {split}.queries")
        unknown = [d for d in doc_ids if d not in corpus]
        if unknown:
            raise DataFormatError(f"{where}: document id(s) {unknown[:3]} of query {query_id!r} are not in {split}.corpus")


def _load_split(task_dir: Path, split: str, task_type: str) -> dict[str, Dataset]:
    if task_type in RETRIEVAL_TYPES:
        return {
            part: _records_dataset(task_dir / f"{split}.{part}.jsonl.gz", keys)
            for part, keys in EVAL_FILES[task_type].items()
        }
    # Classification keeps its own train split beside the test split (mteb fits a classifier on it).
    parts = EVAL_FILES[task_type]
    loaded = {part: _records_dataset(task_dir / f"{part}.jsonl.gz", keys) for part, keys in parts.items()}
    return loaded if task_type == "Classification" else {"data": loaded["test"]}


def _records_dataset(path: Path, keys: tuple[str, ...]) -> Dataset:
    records = read_jsonl(path)
    for line_number, record in enumerate(records, start=1):
        _check_record(record, keys, path, line_number)
    return Dataset.from_dict({key: [r[key] for r in records] for key in keys})


# What each key of an evaluation record must hold: (check, description for the error message).
_KEY_TYPES = {
    "text": (lambda v: isinstance(v, str) and v.strip(), "a non-empty string"),
    "sentence1": (lambda v: isinstance(v, str) and v.strip(), "a non-empty string"),
    "sentence2": (lambda v: isinstance(v, str) and v.strip(), "a non-empty string"),
    "title": (lambda v: isinstance(v, str), "a string"),
    "id": (lambda v: isinstance(v, str) and v, "a non-empty string"),
    "query_id": (lambda v: isinstance(v, str) and v, "a non-empty string"),
    "corpus_id": (lambda v: isinstance(v, str) and v, "a non-empty string"),
    "corpus_ids": (lambda v: isinstance(v, list) and v and all(isinstance(d, str) for d in v), "a non-empty list of strings"),
    "score": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "label": (lambda v: isinstance(v, (str, int)) and not isinstance(v, bool), "a string or an integer"),
}


def _check_record(record: Any, keys: tuple[str, ...], path: Path, line_number: int) -> None:
    where = f"{path}:{line_number}"
    if not isinstance(record, dict):
        raise DataFormatError(f"{where}: expected a JSON object with keys {list(keys)}")
    missing = [k for k in keys if k not in record]
    if missing:
        raise DataFormatError(f"{where}: missing key(s) {missing}")
    for key in keys:
        check, expected = _KEY_TYPES[key]
        if not check(record[key]):
            raise DataFormatError(f"{where}: {key} must be {expected}, got {record[key]!r}")


def training_table(training: dict[str, dict[str, Dataset]]):
    """One row per training dataset: task, dataset, examples, hard negatives, distinct labels.

    Args:
        training: the output of ``load_training_data``.

    Returns:
        A ``pandas.DataFrame`` sorted by task and dataset.
    """
    import pandas as pd

    rows = []
    for task, datasets in training.items():
        for name, ds in datasets.items():
            labels = [label for label in ds["label"] if label is not None]
            rows.append({
                "task": task, "dataset": name, "examples": len(ds),
                "with_hard_negative": sum(n is not None for n in ds["negative"]),
                "labels": len(set(labels)) if labels else 0,
            })
    return pd.DataFrame(rows).sort_values(["task", "dataset"], ignore_index=True)


def eval_table(root: str | Path | None = None):
    """One row per evaluation task: name, MTEB type, main score, label provenance, description."""
    import pandas as pd

    rows = []
    for name in list_eval_tasks(root):
        meta = json.loads((Path(root or data_dir()) / "eval" / name / "task.json").read_text())
        rows.append({key: meta[key] for key in ("name", "type", "main_score", "labels", "description")})
    return pd.DataFrame(rows)


def eval_texts(task: EvalTaskData) -> dict[str, list[str]]:
    """Every text an evaluation task embeds, with repeats, by role: query, document or text."""
    roles = {"queries": "query", "corpus": "document"}
    texts: dict[str, list[str]] = {}
    for parts in task.splits.values():
        for part, ds in parts.items():
            for column in ("text", "sentence1", "sentence2"):
                if column in ds.column_names:
                    texts.setdefault(roles.get(part, "text"), []).extend(ds[column])
    return texts


# ----------------------------------------------------------------------------- the real training set

HUB_TRAINING_DATA = "sentence-transformers/embedding-training-data"
# ours: the task each upstream file trains. Retrieval: question/claim -> passage pairs (the anchor
# is embedded as a search query, the rest as documents); classification: symmetric sentence-level
# pairs (paraphrase, entailment, simplification); clustering: topical title/abstract/body pairs.
# Files left out: S2ORC_title_abstract (11 GB); any other file can be added by placing it in
# train/<task>/ by hand.
HUB_FILE_TASKS = {
    "NQ-train_pairs.jsonl.gz": "retrieval",
    "TriviaQA_pairs.jsonl.gz": "retrieval",
    "squad_pairs.jsonl.gz": "retrieval",
    "gooaq_pairs.jsonl.gz": "retrieval",
    "eli5_question_answer.jsonl.gz": "retrieval",
    "fever_train.jsonl.gz": "retrieval",
    "codesearchnet.jsonl.gz": "retrieval",
    "AllNLI.jsonl.gz": "classification",
    "quora_duplicates.jsonl.gz": "classification",
    "SimpleWiki.jsonl.gz": "classification",
    "altlex.jsonl.gz": "classification",
    "sentence-compression.jsonl.gz": "classification",
    "specter_train_triples.jsonl.gz": "clustering",
    "stackexchange_duplicate_questions_body_body.jsonl.gz": "clustering",
    "stackexchange_duplicate_questions_title-body_title-body.jsonl.gz": "clustering",
}


def download_hub_training_data(target: str | Path, files: dict[str, str] | None = None) -> Path:
    """Fetch the real training set into ``target/train/<task>/`` (needs the Hub; about 1.3 GB).

    Args:
        target: the folder to use as ``data_root`` for training.
        files: upstream file name -> training task (default ``HUB_FILE_TASKS``).

    Returns:
        ``target``, ready for ``load_training_data(target)``.

    Raises:
        RuntimeError: the Hub is switched off (``HF_HUB_OFFLINE=1``) or cannot be reached.
    """
    import shutil

    from huggingface_hub import hf_hub_download

    if hub_offline():
        raise RuntimeError(f"{HUB_TRAINING_DATA} needs the Hugging Face Hub, but HF_HUB_OFFLINE=1; "
                           "unset it (with network) or train on the shipped data (data_root=None)")
    target = Path(target)
    for name, task in (files or HUB_FILE_TASKS).items():
        if task not in TRAIN_TASKS:
            raise ValueError(f"{name}: unknown task {task!r}; valid: {list(TRAIN_TASKS)}")
        destination = target / "train" / task / name
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        cached = hf_hub_download(HUB_TRAINING_DATA, filename=name, repo_type="dataset")
        with atomic_file(destination) as tmp:
            shutil.copyfile(cached, tmp)
    return target


# ----------------------------------------------------------------------------- a small sample of the suite


def write_eval_sample(root: str | Path, records: int = 12, seed: int = 0, source_root: str | Path | None = None,
                      other_documents: int | None = None) -> Path:
    """Copy the evaluation suite into ``root/eval``, keeping ``records`` queries / texts / pairs per task.

    For smoke runs and tests: the same files, formats and task types, small enough for the whole
    suite to run through mteb in seconds. Retrieval keeps the chosen queries, their qrels and
    candidates, and ``other_documents`` further documents to rank against (default: as many as
    queries; more make retrieval harder, closer to the whole corpus);
    classification and clustering keep every label at least twice. Written under a temporary
    name and renamed, so an interrupted write leaves no half sample.

    Returns:
        ``root`` (pass it as a data root, e.g. ``offline_tasks(root=root)``).
    """
    import random

    root, source_root = Path(root), Path(source_root or data_dir())
    rng = random.Random(seed)
    with atomic_directory(root) as tmp:
        for name in list_eval_tasks(source_root):
            _sample_task(source_root / "eval" / name, tmp / "eval" / name, records, rng, other_documents)
    return root


def _sample_task(source: Path, target: Path, records: int, rng, other_documents: int | None) -> None:
    import shutil

    target.mkdir(parents=True)
    shutil.copy(source / "task.json", target / "task.json")
    if (source / "test.queries.jsonl.gz").exists():
        _sample_retrieval_task(source, target, records, rng, records if other_documents is None else other_documents)
        return
    for split in ("train", "test"):
        if (source / f"{split}.jsonl.gz").exists():
            rows = read_jsonl(source / f"{split}.jsonl.gz")
            _write_jsonl_gz(target / f"{split}.jsonl.gz", _sample_with_every_label(rows, records, rng))


def _sample_retrieval_task(source: Path, target: Path, records: int, rng, other_documents: int) -> None:
    queries = rng.sample(read_jsonl(source / "test.queries.jsonl.gz"), records)
    keep = {q["id"] for q in queries}
    qrels = [r for r in read_jsonl(source / "test.qrels.jsonl.gz") if r["query_id"] in keep]
    docs = {r["corpus_id"] for r in qrels}
    if (source / "test.top_ranked.jsonl.gz").exists():
        ranked = [r for r in read_jsonl(source / "test.top_ranked.jsonl.gz") if r["query_id"] in keep]
        _write_jsonl_gz(target / "test.top_ranked.jsonl.gz", ranked)
        docs |= {d for r in ranked for d in r["corpus_ids"]}
    corpus = read_jsonl(source / "test.corpus.jsonl.gz")
    others = [d for d in corpus if d["id"] not in docs][:other_documents]
    _write_jsonl_gz(target / "test.corpus.jsonl.gz", [d for d in corpus if d["id"] in docs] + others)
    _write_jsonl_gz(target / "test.queries.jsonl.gz", queries)
    _write_jsonl_gz(target / "test.qrels.jsonl.gz", qrels)


def _sample_with_every_label(rows: list[dict], k: int, rng) -> list[dict]:
    """``k`` rows (more if needed) such that each label, if rows have one, appears at least twice."""
    if "label" not in rows[0]:
        return rng.sample(rows, k)
    by_label: dict[str, list[dict]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    chosen = [r for group in by_label.values() for r in group[:2]]
    rest = [r for r in rows if r not in chosen]
    return chosen + rng.sample(rest, max(0, k - len(chosen)))


def _write_jsonl_gz(path: Path, records: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in records)
