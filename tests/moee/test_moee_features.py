"""mote_lib.moee.features: router scores, the last real token, the weights fingerprint, the feature cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mote_lib import moee
from mote_lib.moee.features import weights_fingerprint


def test_router_scores_and_last_real_token():
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    np.testing.assert_allclose(moee.score_router_logits(logits, "softmax").sum(-1), 1.0, atol=1e-6)
    assert torch.equal(moee.score_router_logits(logits, "logits"), logits)
    np.testing.assert_allclose(moee.score_router_logits(logits, "sigmoid"), logits.sigmoid(), atol=1e-7)
    with pytest.raises(ValueError, match="sigmoid"):
        moee.score_router_logits(logits, "gumbel")
    left, right = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]]), torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0]])
    assert moee.last_token_index(left).tolist() == [3, 3] and moee.last_token_index(right).tolist() == [1, 0]


def test_cached_features_compute_each_text_once_and_fingerprints_follow_weights_and_settings(lms, texts, minilm_tokenizer):
    lm = lms["olmoe"]
    calls = []

    class Counting:
        hidden_size, batch_size, moe_layers, num_experts = lm.hidden_size, lm.batch_size, lm.moe_layers, lm.num_experts

        def features(self, batch, task=None):
            calls.append(list(batch))
            return lm.features(batch, task=task)

        def fingerprint(self):
            return lm.fingerprint()

    cached = moee.CachedFeatures(Counting())
    cached.features(texts, task="a"), cached.features(texts[:2] + texts[:2], task="a"), cached.features(texts[:1], task="b")
    assert calls == [texts, texts[:1]], "a (task, text) is computed once"
    assert cached.features([], task="a").rw.shape == (0, lm.moe_layers * lm.num_experts)
    assert cached.fingerprint() == lm.fingerprint() == weights_fingerprint(lm.model, {
        "prompt": lm.prompt, "router_scores": lm.router_scores, "max_length": lm.max_length, "router_source": lm.router_source})
    assert len(lm.fingerprint()) == 16 and lm.model._moee_weights_digest, "the weights are hashed once per model"
    other_seed = moee.tiny_random_moe("olmoe", tokenizer=minilm_tokenizer, seed=1)
    assert len({lm.fingerprint(), lm.with_prompt("prompteol").fingerprint(), other_seed.fingerprint()}) == 3


def test_the_fingerprint_does_not_depend_on_where_the_model_was_installed(lms):
    import copy

    model, moved = (copy.deepcopy(lms["qwen2_moe"].model) for _ in range(2))
    for copied in (model, moved):
        copied.__dict__.pop("_moee_weights_digest", None)  # the digest kept on the model: computed afresh here
    before = weights_fingerprint(model, {"method": "sum"})
    moved.config._name_or_path = "/somewhere/else/site-packages/model"
    moved.config.transformers_version = "0.0.0"
    assert weights_fingerprint(moved, {"method": "sum"}) == before
