"""Shared test set-up: offline mode, caches inside the project, the --run-slow switch."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from mote_lib.paths import project_environment

# Same as scripts/env.sh, for when pytest is started directly rather than through `make test`;
# variables already set (by env.sh, or by a user who wants to go online) are kept.
for name, value in project_environment().items():
    os.environ.setdefault(name, value)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow (minutes)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# ----------------------------------------------------------------------------- shared fixtures

TINY_BACKBONE = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=512)


@pytest.fixture(scope="session")
def minilm_tokenizer():
    """The shipped all-MiniLM-L6-v2 tokenizer (tiny models reuse its vocabulary)."""
    from transformers import AutoTokenizer

    from mote_lib.base_models import resolve_base_model

    return AutoTokenizer.from_pretrained(resolve_base_model("minilm"))


@pytest.fixture
def make_tiny_model(minilm_tokenizer):
    """``make_tiny_model(variant="mote", seed=0, **config)``: a random BERT MoTEModel, hidden 32, 2 layers."""
    import torch
    from transformers import AutoModel, BertConfig

    from mote_lib.model import MoTEConfig, MoTEModel

    def make(variant: str = "mote", seed: int = 0, **overrides) -> MoTEModel:
        torch.manual_seed(seed)
        backbone = AutoModel.from_config(BertConfig(**TINY_BACKBONE), add_pooling_layer=False)
        return MoTEModel(MoTEConfig(variant=variant, **overrides), backbone, minilm_tokenizer).eval()

    return make


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="session")
def small_eval_root(tmp_path_factory):
    """A data root whose eval/ holds every shipped evaluation task cut to a few dozen records.

    Same files, formats and task types as data/eval/, small enough for a tiny model to run the whole
    suite through mteb in seconds.
    """
    return write_mini_suite(tmp_path_factory.mktemp("mini-data"))


def write_mini_suite(root, records: int = 12, seed: int = 0):
    """Copy data/eval/ into ``root/eval`` keeping ``records`` queries / texts / pairs per task.

    Retrieval keeps the chosen queries, their qrels and candidates, and as many other documents as
    queries (so there is something to rank against); classification keeps every label in its train split.
    """
    import random
    import shutil
    from pathlib import Path

    from mote_lib.data import list_eval_tasks
    from mote_lib.paths import data_dir

    def read(path):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    write = write_jsonl_gz
    rng = random.Random(seed)
    for name in list_eval_tasks():
        source, target = Path(data_dir()) / "eval" / name, Path(root) / "eval" / name
        target.mkdir(parents=True)
        shutil.copy(source / "task.json", target / "task.json")
        if (source / "test.queries.jsonl.gz").exists():
            queries = rng.sample(read(source / "test.queries.jsonl.gz"), records)
            keep = {q["id"] for q in queries}
            qrels = [r for r in read(source / "test.qrels.jsonl.gz") if r["query_id"] in keep]
            docs = {r["corpus_id"] for r in qrels}
            if (source / "test.top_ranked.jsonl.gz").exists():
                ranked = [r for r in read(source / "test.top_ranked.jsonl.gz") if r["query_id"] in keep]
                write(target / "test.top_ranked.jsonl.gz", ranked)
                docs |= {d for r in ranked for d in r["corpus_ids"]}
            corpus = read(source / "test.corpus.jsonl.gz")
            others = [d for d in corpus if d["id"] not in docs][:records]
            write(target / "test.corpus.jsonl.gz", [d for d in corpus if d["id"] in docs] + others)
            write(target / "test.queries.jsonl.gz", queries)
            write(target / "test.qrels.jsonl.gz", qrels)
            continue
        for split in ("train", "test"):
            if (source / f"{split}.jsonl.gz").exists():
                rows = read(source / f"{split}.jsonl.gz")
                write(target / f"{split}.jsonl.gz", _sample_with_every_label(rows, records, rng))
    return Path(root)


def _sample_with_every_label(rows, k, rng):
    """``k`` rows (more if needed) such that each label, if rows have one, appears at least twice."""
    if "label" not in rows[0]:
        return rng.sample(rows, k)
    by_label = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    chosen = [r for group in by_label.values() for r in group[:2]]
    rest = [r for r in rows if r not in chosen]
    return chosen + rng.sample(rest, max(0, k - len(chosen)))


# ----------------------------------------------------------------------------- training fixtures


def write_jsonl_gz(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(line) + "\n" for line in lines)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A tiny random BERT (hidden 32, 2 layers) saved with MiniLM's tokenizer: a local base model."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from mote_lib.base_models import resolve_base_model

    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                         max_position_embeddings=128)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_base_model("minilm")).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    words = "red green blue amber violet cyan olive coral ivory slate".split()
    write_jsonl_gz(root / "train" / "retrieval" / "a.jsonl.gz", [[f"what is {w}", f"{w} is a colour of {i}", f"not {w} at all"] for i, w in enumerate(words * 3)])
    write_jsonl_gz(root / "train" / "retrieval" / "b.jsonl.gz", [[f"find {w}", f"a page about {w}"] for w in words])
    write_jsonl_gz(root / "train" / "classification" / "c.jsonl.gz", [[f"{w} one", f"{w} two", f"other {i}"] for i, w in enumerate(words * 2)])
    write_jsonl_gz(root / "train" / "classification" / "c.labels.jsonl.gz", [w[0] for w in words * 2])
    write_jsonl_gz(root / "train" / "clustering" / "d.jsonl.gz", [[f"group {w}", f"cluster {w}"] for w in words])
    write_jsonl_gz(root / "train" / "clustering" / "d.labels.jsonl.gz", [w[:2] for w in words])
    return str(root)
