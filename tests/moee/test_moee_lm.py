"""MoEELM (mote_lib.moee.lm) on tiny random MoE LMs of five architectures: HS and RW at the last real token."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from mote_lib import moee
from mote_lib.moee import MoEELM, moee_embedding
from mote_lib.moee.lm import _fit_prompted_texts

# MoE layers of each tiny config (3 layers): Qwen2-MoE has layer 1 dense, DeepSeek-V3 layer 0.
MOE_LAYERS = {"olmoe": [0, 1, 2], "qwen2_moe": [0, 2], "qwen3_moe": [0, 1, 2], "mixtral": [0, 1, 2], "deepseek_v3": [1, 2]}


def _reference_alone(lm: MoEELM, text: str) -> tuple[np.ndarray, np.ndarray]:
    """HS and softmax RW of one text run alone (no padding, no mask), straight from transformers' outputs."""
    ids = lm.tokenizer([text], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = lm.model(input_ids=ids, output_router_logits=True, output_hidden_states=True)
    hs = out.hidden_states[-1][0, -1]
    rw = torch.cat([logits[-1].float().softmax(-1) for logits in out.router_logits])
    return hs.numpy(), rw.numpy()


@pytest.mark.parametrize("arch", moee.TINY_ARCHITECTURES)
def test_hs_and_rw_shapes_skip_dense_layers(lms, texts, arch):
    lm = lms[arch]
    features = lm.features(texts)
    assert [int(name.split(".")[1]) for name, _ in lm.routers] == MOE_LAYERS[arch]
    assert features.hs.shape == (len(texts), 32)
    assert features.rw.shape == (len(texts), len(MOE_LAYERS[arch]) * 8)
    assert features.router_weights_per_layer().shape == (len(texts), len(MOE_LAYERS[arch]), 8)


@pytest.mark.parametrize("arch", moee.TINY_ARCHITECTURES)
def test_last_token_under_left_padding_equals_each_text_alone_unpadded(lms, texts, arch):
    lm = lms[arch]
    batch = lm.tokenizer(texts, padding=True, return_tensors="pt")
    assert (batch["attention_mask"][:, 0] == 0).any(), "the batch must be left-padded for this test to mean anything"
    features = lm.features(texts)
    for i, text in enumerate(texts):
        hs, rw = _reference_alone(lm, text)
        np.testing.assert_allclose(features.hs[i], hs, atol=1e-5)
        np.testing.assert_allclose(features.rw[i], rw, atol=1e-6)


@pytest.mark.parametrize("arch", moee.TINY_ARCHITECTURES)
def test_router_hooks_give_the_models_own_router_logits(lms, texts, arch):
    lm = lms[arch]
    hooked = MoEELM(lm.model, lm.tokenizer, router_source="hooks", router_scores="logits")
    returned = MoEELM(lm.model, lm.tokenizer, router_source="output", router_scores="logits")
    assert lm.router_source == "output"
    assert lm.tokenizer.padding_side == "left" and lm.tokenizer is not hooked.tokenizer
    np.testing.assert_allclose(hooked.features(texts).rw, returned.features(texts).rw, atol=1e-6)


def test_softmax_logits_and_sigmoid_router_scores(lms, texts):
    lm = lms["olmoe"]
    logits = MoEELM(lm.model, lm.tokenizer, router_scores="logits").features(texts).router_weights_per_layer()
    softmax = MoEELM(lm.model, lm.tokenizer, router_scores="softmax").features(texts).router_weights_per_layer()
    sigmoid = MoEELM(lm.model, lm.tokenizer, router_scores="sigmoid").features(texts).router_weights_per_layer()
    np.testing.assert_allclose(softmax, torch.from_numpy(logits).softmax(-1).numpy(), atol=1e-6)
    np.testing.assert_allclose(softmax.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(sigmoid, torch.from_numpy(logits).sigmoid().numpy(), atol=1e-6)
    assert (logits < 0).any(), "raw logits are not probabilities"


def test_a_texts_embedding_does_not_depend_on_its_batch_mates(lms, texts):
    lm = lms["mixtral"]
    together, others = lm.features(texts), lm.features([texts[1], "zzz", texts[3] * 3])
    alone = [lm.features([text]) for text in texts]
    for method in moee.METHODS:
        embedded = moee_embedding(together, method)
        for i, single in enumerate(alone):
            np.testing.assert_allclose(moee_embedding(single, method)[0], embedded[i], atol=1e-5)
        np.testing.assert_allclose(moee_embedding(others, method)[0], embedded[1], atol=1e-5)


def test_prompt_is_applied_and_a_long_text_is_cut_inside_it(lms, caplog):
    lm = lms["olmoe"].with_prompt("prompteol")
    long_text = " ".join(["word"] * 400)
    with caplog.at_level("WARNING", logger="mote_lib.moee.lm"):
        prompted, lengths = _fit_prompted_texts([long_text, "short"], lm.prompt, lm.tokenizer, max_length=64)
    assert "1 of 2 texts were longer than max_length=64 tokens with the prompt and were cut" in caplog.text
    assert prompted[1] == 'This sentence: "short" means in one word: "'
    assert prompted[0].startswith('This sentence: "word word') and prompted[0].endswith('" means in one word: "')
    assert len(lm.tokenizer(prompted[0])["input_ids"]) <= 64 and lengths[0] == 64 > lengths[1]
    assert lm.features([long_text]).hs.shape == (1, 32)
    assert lms["olmoe"].prompt == "{text}", "with_prompt must not change the original"


def test_clear_errors(lms, minilm_tokenizer):
    from transformers import AutoModel, LlamaConfig

    tokenizer = minilm_tokenizer
    dense = AutoModel.from_config(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                              num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2))
    with pytest.raises(ValueError, match="no MoE layers"):
        MoEELM(dense, tokenizer)
    with pytest.raises(ValueError, match="softmax"):
        MoEELM(lms["olmoe"].model, tokenizer, router_scores="probabilities")
    with pytest.raises(ValueError, match="hooks"):
        MoEELM(lms["olmoe"].model, tokenizer, router_source="hook")
    with pytest.raises(ValueError, match="concat"):
        moee_embedding(lms["olmoe"].features(["a"]), "mean")
    with pytest.raises(ValueError, match="mixtral"):
        moee.tiny_moe_config("switch", vocab_size=10)


def test_load_a_saved_moe_lm_from_a_folder(lms, texts, tmp_path):
    lm = lms["qwen3_moe"]
    lm.model.save_pretrained(tmp_path)
    lm.tokenizer.save_pretrained(tmp_path)
    loaded = MoEELM.from_pretrained(str(tmp_path), device="cpu", prompt="prompteol")
    assert loaded.model.dtype == torch.float32 and loaded.moe_layers == 3
    np.testing.assert_allclose(loaded.features(texts).rw, lm.with_prompt("prompteol").features(texts).rw, atol=1e-6)


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes is installed")
def test_four_bit_without_bitsandbytes_says_so():
    with pytest.raises(ImportError, match="pip install bitsandbytes"):
        moee.load_moe_lm("any/model", load_in_4bit=True)
