"""mote_lib.moee.mote_tlr: HS and RW of our token-routed MoTE ablation, and its expert usage per task."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from mote_lib import moee


@pytest.fixture(scope="module")
def tlr_model(minilm_tokenizer):
    from transformers import BertConfig

    from mote_lib.model import MoTEConfig, MoTEModel

    backbone = BertConfig(vocab_size=len(minilm_tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    return MoTEModel.from_backbone_config(MoTEConfig(variant="mote-tlr"), backbone, minilm_tokenizer).eval()


def test_mote_tlr_router_features(tlr_model, texts):
    assert tlr_model.tokenizer.padding_side == "right", "MoEELM must not left-pad the tokenizer it was given (shared here)"
    source = moee.MoTERouterFeatures(tlr_model)
    features = source.features(texts, task="search_query")
    assert features.hs.shape == (len(texts), 32) and features.rw.shape == (len(texts), 1 * 4)   # layer 1 of 2
    np.testing.assert_allclose(features.router_weights_per_layer().sum(-1), 1.0, atol=1e-5)   # mean of softmaxes
    # Mean-pooled HS is the MoTE-TLR embedding before normalisation.
    np.testing.assert_allclose(moee.l2_normalize(features.hs), tlr_model.encode(texts, task="search_query"), atol=1e-5)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(source.features([text], task="search_query").rw[0], features.rw[i], atol=1e-6)
    other_task = source.features(texts, task="clustering")
    assert not np.allclose(other_task.rw, features.rw), "the instruction enters the routers' input"
    last = moee.MoTERouterFeatures(tlr_model, pooling="last").features(texts, task="search_query")
    assert not np.allclose(last.rw, features.rw)


def test_mote_tlr_features_say_how_many_texts_were_cut(tlr_model, caplog):
    model, limit = copy.deepcopy(tlr_model), 16
    model.config.max_seq_length = limit
    source = moee.MoTERouterFeatures(model)
    with caplog.at_level("WARNING", logger="mote_lib.moee.mote_tlr"):
        source.features(["short", "word " * (limit + 10)], task="search_query")
    assert f"1 of 2 texts were longer than max_seq_length={limit}" in caplog.text


def test_expert_usage_averages_router_weights_per_task_instruction(tlr_model, texts):
    source = moee.MoTERouterFeatures(tlr_model)
    usage = moee.expert_usage(source, texts, tasks=["search_query", "clustering"])
    assert len(usage) == 2 * 1 * 4 and set(usage.expert) == set(tlr_model.config.experts)
    np.testing.assert_allclose(usage.groupby(["task", "layer"]).weight.sum(), 1.0, atol=1e-5)
    by_hand = source.features(texts, task="clustering").rw.mean(axis=0)
    np.testing.assert_allclose(usage[usage.task == "clustering"].weight, by_hand, atol=1e-6)


def test_mote_router_features_need_a_token_routed_model(minilm_tokenizer):
    from transformers import BertConfig

    from mote_lib.model import MoTEConfig, MoTEModel

    backbone = BertConfig(vocab_size=len(minilm_tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    model = MoTEModel.from_backbone_config(MoTEConfig(variant="mote"), backbone, minilm_tokenizer)
    with pytest.raises(ValueError, match="mote-tlr"):
        moee.MoTERouterFeatures(model)
