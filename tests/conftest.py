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
    from mote_lib.data import write_eval_sample

    return write_eval_sample(tmp_path_factory.mktemp("mini-data") / "root")


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
