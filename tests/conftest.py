"""Shared fixtures of the tests: the tiny models, tiny data, the network guard (set-up: ../conftest.py)."""

from __future__ import annotations

import gzip
import json

import pytest

# ----------------------------------------------------------------------------- shared fixtures

# The one tiny encoder of the tests: MiniLM's shape cut down to hidden 32, 2 layers (layer 1 holds the
# experts), MiniLM's vocabulary. MPNet: the same, with MPNet's vocabulary and its positions offset by the
# padding index (512 + 2, as in mpnet-base).
TINY_BACKBONE = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=512)
TINY_MPNET = {**TINY_BACKBONE, "vocab_size": 30527, "max_position_embeddings": 514}


def tiny_backbone_config(family: str = "bert", **overrides):
    """The transformers config of the tiny ``family`` ("bert" or "mpnet") encoder, with ``overrides``."""
    from transformers import BertConfig, MPNetConfig

    config_class, settings = {"bert": (BertConfig, TINY_BACKBONE), "mpnet": (MPNetConfig, TINY_MPNET)}[family]
    return config_class(**{**settings, **overrides})


@pytest.fixture(scope="session")
def minilm_tokenizer():
    """The shipped all-MiniLM-L6-v2 tokenizer (tiny models reuse its vocabulary)."""
    from transformers import AutoTokenizer

    from mote_lib.base_models import resolve_base_model

    return AutoTokenizer.from_pretrained(resolve_base_model("minilm"))


@pytest.fixture(scope="session")
def make_tiny_backbone():
    """``make_tiny_backbone(family="bert", seed=0)``: the random transformers encoder a tiny model starts from.

    The same ``family`` and ``seed`` give the same weights as ``make_tiny_model``'s: the dense reference.
    """
    import torch
    from transformers import AutoModel

    def make(family: str = "bert", seed: int = 0):
        torch.manual_seed(seed)
        return AutoModel.from_config(tiny_backbone_config(family), add_pooling_layer=False).eval()

    return make


@pytest.fixture(scope="session")
def make_tiny_model(make_tiny_backbone, minilm_tokenizer):
    """``make_tiny_model(variant="mote", seed=0, family="bert", dtype=None, **config)``: a random tiny MoTEModel.

    ``config`` goes to ``MoTEConfig``; ``dtype`` converts the weights (float32 otherwise); eval mode.
    """
    from mote_lib.model import MoTEConfig, MoTEModel

    def make(variant: str = "mote", seed: int = 0, *, family: str = "bert", dtype=None, **config) -> MoTEModel:
        model = MoTEModel(MoTEConfig(variant=variant, **config), make_tiny_backbone(family, seed), minilm_tokenizer)
        return model.eval() if dtype is None else model.eval().to(dtype)

    return make


@pytest.fixture(scope="session")
def perturb_experts():
    """``perturb_experts(model, scale=0.3, seed=1, dense=False)``: give every expert its own random change.

    In place (the model is returned too), so that a wrong or missing expert shows in the output. Only
    the experts of MoTE layers, unless ``dense``: then the one expert of each dense layer as well.
    """
    import torch

    def perturb(model, scale: float = 0.3, seed: int = 1, dense: bool = False):
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for bank in model.blocks:
                if dense or len(bank.experts) > 1:
                    for expert in bank.experts:
                        for p in expert.parameters():
                            p.add_(scale * torch.randn(p.shape, generator=generator, dtype=p.dtype))
        return model

    return perturb


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
def make_tiny_base(tmp_path_factory, minilm_tokenizer):
    """``make_tiny_base(**overrides)``: a folder holding a random tiny BERT and MiniLM's tokenizer: a local base model.

    Seed 0, ``TINY_BACKBONE`` with ``overrides`` (e.g. dropout); saved with its pooler, as
    ``MoTEModel.from_base`` loads one.
    """
    import torch
    from transformers import BertModel

    def make(**overrides) -> str:
        folder = tmp_path_factory.mktemp("tiny-bert")
        torch.manual_seed(0)
        BertModel(tiny_backbone_config("bert", **overrides)).save_pretrained(folder)
        minilm_tokenizer.save_pretrained(folder)
        return str(folder)

    return make


@pytest.fixture(scope="session")
def tiny_base(make_tiny_base):
    """``make_tiny_base()``: the tiny BERT as a base-model folder (dropout 0.1, as BERT's default)."""
    return make_tiny_base()


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
