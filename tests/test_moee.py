"""MoEE on tiny random MoE LMs of five architectures, the sum-similarity arithmetic, MoTE-TLR routers, the mteb wrapper."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mote_lib import moee
from mote_lib.moee import Features, MoEEEncoder, MoEELM, moee_embedding, tiny_random_moe

# Texts of different lengths, so a batch of them is left-padded.
TEXTS = [
    "A man is eating food.",
    "The quick brown fox jumps over the lazy dog, again and again, until it is tired.",
    "hi",
    "ls lists the contents of a directory",
    "A man is riding a horse.",
]
# MoE layers of each tiny config (3 layers): Qwen2-MoE has layer 1 dense, DeepSeek-V3 layer 0.
MOE_LAYERS = {"olmoe": [0, 1, 2], "qwen2_moe": [0, 2], "qwen3_moe": [0, 1, 2], "mixtral": [0, 1, 2], "deepseek_v3": [1, 2]}


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from mote_lib.base_models import resolve_base_model

    return AutoTokenizer.from_pretrained(resolve_base_model("minilm"))


@pytest.fixture(scope="module")
def lms(tokenizer):
    """One tiny random MoE LM per architecture, built once for the file."""
    return {arch: tiny_random_moe(arch, tokenizer=tokenizer, batch_size=8) for arch in moee.TINY_ARCHITECTURES}


def _reference_alone(lm: MoEELM, text: str) -> tuple[np.ndarray, np.ndarray]:
    """HS and softmax RW of one text run alone (no padding, no mask), straight from transformers' outputs."""
    ids = lm.tokenizer([text], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = lm.model(input_ids=ids, output_router_logits=True, output_hidden_states=True)
    hs = out.hidden_states[-1][0, -1]
    rw = torch.cat([logits[-1].float().softmax(-1) for logits in out.router_logits])
    return hs.numpy(), rw.numpy()


# ----------------------------------------------------------------------------- language models


@pytest.mark.parametrize("arch", moee.TINY_ARCHITECTURES)
def test_hs_and_rw_shapes_skip_dense_layers(lms, arch):
    lm = lms[arch]
    features = lm.features(TEXTS)
    assert [int(name.split(".")[1]) for name, _ in lm.routers] == MOE_LAYERS[arch]
    assert features.hs.shape == (len(TEXTS), 32)
    assert features.rw.shape == (len(TEXTS), len(MOE_LAYERS[arch]) * 8)
    assert features.router_weights_per_layer().shape == (len(TEXTS), len(MOE_LAYERS[arch]), 8)


@pytest.mark.parametrize("arch", moee.TINY_ARCHITECTURES)
def test_last_token_under_left_padding_equals_each_text_alone_unpadded(lms, arch):
    lm = lms[arch]
    batch = lm.tokenizer(TEXTS, padding=True, return_tensors="pt")
    assert (batch["attention_mask"][:, 0] == 0).any(), "the batch must be left-padded for this test to mean anything"
    features = lm.features(TEXTS)
    for i, text in enumerate(TEXTS):
        hs, rw = _reference_alone(lm, text)
        np.testing.assert_allclose(features.hs[i], hs, atol=1e-5)
        np.testing.assert_allclose(features.rw[i], rw, atol=1e-6)


@pytest.mark.parametrize("arch", moee.TINY_ARCHITECTURES)
def test_router_hooks_give_the_models_own_router_logits(lms, arch):
    lm = lms[arch]
    hooked = MoEELM(lm.model, lm.tokenizer, router_source="hooks", router_scores="logits")
    returned = MoEELM(lm.model, lm.tokenizer, router_source="output", router_scores="logits")
    assert lm.router_source == "output"
    assert lm.tokenizer.padding_side == "left" and lm.tokenizer is not hooked.tokenizer
    np.testing.assert_allclose(hooked.features(TEXTS).rw, returned.features(TEXTS).rw, atol=1e-6)


def test_softmax_logits_and_sigmoid_router_scores(lms):
    lm = lms["olmoe"]
    logits = MoEELM(lm.model, lm.tokenizer, router_scores="logits").features(TEXTS).router_weights_per_layer()
    softmax = MoEELM(lm.model, lm.tokenizer, router_scores="softmax").features(TEXTS).router_weights_per_layer()
    sigmoid = MoEELM(lm.model, lm.tokenizer, router_scores="sigmoid").features(TEXTS).router_weights_per_layer()
    np.testing.assert_allclose(softmax, torch.from_numpy(logits).softmax(-1).numpy(), atol=1e-6)
    np.testing.assert_allclose(softmax.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(sigmoid, torch.from_numpy(logits).sigmoid().numpy(), atol=1e-6)
    assert (logits < 0).any(), "raw logits are not probabilities"


def test_a_texts_embedding_does_not_depend_on_its_batch_mates(lms):
    lm = lms["mixtral"]
    together, others = lm.features(TEXTS), lm.features([TEXTS[1], "zzz", TEXTS[3] * 3])
    alone = [lm.features([text]) for text in TEXTS]
    for method in moee.METHODS:
        embedded = moee_embedding(together, method)
        for i, single in enumerate(alone):
            np.testing.assert_allclose(moee_embedding(single, method)[0], embedded[i], atol=1e-5)
        np.testing.assert_allclose(moee_embedding(others, method)[0], embedded[1], atol=1e-5)


def test_prompt_is_applied_and_a_long_text_is_cut_inside_it(lms):
    lm = lms["olmoe"].with_prompt("prompteol")
    long_text = " ".join(["word"] * 400)
    prompted = moee._fit_prompted_texts([long_text, "short"], lm.prompt, lm.tokenizer, max_length=64)
    assert prompted[1] == 'This sentence: "short" means in one word: "'
    assert prompted[0].startswith('This sentence: "word word') and prompted[0].endswith('" means in one word: "')
    assert len(lm.tokenizer(prompted[0])["input_ids"]) <= 64
    assert lm.features([long_text]).hs.shape == (1, 32)
    assert lms["olmoe"].prompt == "{text}", "with_prompt must not change the original"


def test_prompt_templates():
    assert len(moee.ROBUSTNESS_PROMPTS) == 9 and moee.ROBUSTNESS_PROMPTS[0] == "prompteol"
    for name in moee.ROBUSTNESS_PROMPTS:
        template = moee.PROMPTS[name]
        assert template.count("{text}") == 1 and template.startswith('This sentence: "{text}"') and template.endswith('in one word: "')
    assert moee.apply_prompt(["a {b} c"], "Q: {text}") == ["Q: a {b} c"]
    with pytest.raises(ValueError, match="prompteol"):
        moee.prompt_template("promptEOL?")


def test_clear_errors(lms, tokenizer):
    from transformers import AutoModel, LlamaConfig

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


def test_load_a_saved_moe_lm_from_a_folder(lms, tmp_path):
    lm = lms["qwen3_moe"]
    lm.model.save_pretrained(tmp_path)
    lm.tokenizer.save_pretrained(tmp_path)
    loaded = MoEELM.from_pretrained(str(tmp_path), device="cpu", prompt="prompteol")
    assert loaded.model.dtype == torch.float32 and loaded.moe_layers == 3
    np.testing.assert_allclose(loaded.features(TEXTS).rw, lm.with_prompt("prompteol").features(TEXTS).rw, atol=1e-6)


@pytest.mark.skipif(moee.importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes is installed")
def test_four_bit_without_bitsandbytes_says_so():
    with pytest.raises(ImportError, match="pip install bitsandbytes"):
        moee.load_moe_lm("any/model", load_in_4bit=True)


# ----------------------------------------------------------------------------- arithmetic


def test_sum_similarity_on_hand_made_vectors():
    hs1, hs2 = np.array([[1.0, 0.0]]), np.array([[0.0, 3.0]])        # cos 0
    rw1, rw2 = np.array([[2.0, 2.0]]), np.array([[5.0, 0.0]])        # cos 1/sqrt(2)
    assert moee.sum_similarity(hs1, rw1, hs2, rw2, alpha=2.0)[0, 0] == pytest.approx(2 / np.sqrt(2))
    assert moee.sum_similarity(hs1, rw1, hs1 * 7, rw1, alpha=0.5)[0, 0] == pytest.approx(1.5)


@pytest.mark.parametrize("alpha", [0.25, 1.0, 3.0])
def test_sum_vector_cosine_is_the_scaled_sum_similarity(alpha):
    rng = np.random.default_rng(0)
    a = Features(hs=rng.normal(size=(6, 5)) * 40, rw=rng.random((6, 8)), layers=2, experts=4)
    b = Features(hs=rng.normal(size=(4, 5)), rw=rng.random((4, 8)) * 0.1, layers=2, experts=4)
    ea, eb = moee_embedding(a, "sum", alpha), moee_embedding(b, "sum", alpha)
    expected = moee.sum_similarity(a.hs, a.rw, b.hs, b.rw, alpha)
    np.testing.assert_allclose(np.linalg.norm(ea, axis=1), 1.0, atol=1e-6)           # constant norm: dot = cosine
    np.testing.assert_allclose(ea @ eb.T, expected / (1 + alpha), atol=1e-6)
    np.testing.assert_allclose(moee.sum_similarity_from_embeddings(ea, eb, hs_dim=5), expected, atol=1e-5)
    np.testing.assert_allclose(moee.sum_similarity_from_embeddings(ea[:4], eb, hs_dim=5, pairwise=True),
                               np.diag(expected[:4]), atol=1e-5)
    np.testing.assert_allclose(moee.split_sum_embedding(ea, 5)[2], alpha, rtol=1e-5)


def test_sum_vectors_of_different_alphas_are_refused():
    rng = np.random.default_rng(1)
    f = Features(hs=rng.normal(size=(3, 4)), rw=rng.random((3, 6)), layers=1, experts=6)
    with pytest.raises(ValueError, match="different alphas"):
        moee.sum_similarity_from_embeddings(moee_embedding(f, "sum", 1.0), moee_embedding(f, "sum", 2.0), hs_dim=4)


def test_hs_rw_concat_embeddings_are_unit_vectors_of_the_right_parts():
    f = Features(hs=np.array([[3.0, 4.0]]), rw=np.array([[0.0, 2.0, 0.0]]), layers=1, experts=3)
    np.testing.assert_allclose(moee_embedding(f, "hs"), [[0.6, 0.8]])
    np.testing.assert_allclose(moee_embedding(f, "rw"), [[0.0, 1.0, 0.0]])
    np.testing.assert_allclose(moee_embedding(f, "concat"), [[3 / np.sqrt(29), 4 / np.sqrt(29), 0.0, 2 / np.sqrt(29), 0.0]])


def test_spread_matched_alpha_equalises_the_spread_of_the_two_similarities():
    rng = np.random.default_rng(2)
    f = Features(hs=rng.normal(size=(40, 6)), rw=rng.random((40, 10)) + 0.5, layers=2, experts=5)
    alpha = moee.spread_matched_alpha(f)
    pairs = np.triu_indices(40, k=1)
    hs, rw = moee.l2_normalize(f.hs), moee.l2_normalize(f.rw)
    assert (hs @ hs.T)[pairs].std() == pytest.approx(alpha * (rw @ rw.T)[pairs].std())
    assert alpha > 1, "positive router weights are more alike than random hidden states, so alpha must lift them"
    scaled = Features(hs=f.hs * 9, rw=f.rw * 0.01, layers=2, experts=5)
    assert moee.spread_matched_alpha(scaled) == pytest.approx(alpha, rel=1e-5)


# ----------------------------------------------------------------------------- MoTE-TLR


@pytest.fixture(scope="module")
def tlr_model(tokenizer):
    from transformers import BertConfig

    from mote_lib.model import MoTEConfig, MoTEModel

    backbone = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    return MoTEModel.from_backbone_config(MoTEConfig(variant="mote-tlr"), backbone, tokenizer).eval()


def test_mote_tlr_router_features(tlr_model):
    assert tlr_model.tokenizer.padding_side == "right", "MoEELM must not left-pad the tokenizer it was given (shared here)"
    source = moee.MoTERouterFeatures(tlr_model)
    features = source.features(TEXTS, task="search_query")
    assert features.hs.shape == (len(TEXTS), 32) and features.rw.shape == (len(TEXTS), 1 * 4)   # layer 1 of 2
    np.testing.assert_allclose(features.router_weights_per_layer().sum(-1), 1.0, atol=1e-5)   # mean of softmaxes
    # Mean-pooled HS is the MoTE-TLR embedding before normalisation.
    np.testing.assert_allclose(moee.l2_normalize(features.hs), tlr_model.encode(TEXTS, task="search_query"), atol=1e-5)
    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(source.features([text], task="search_query").rw[0], features.rw[i], atol=1e-6)
    other_task = source.features(TEXTS, task="clustering")
    assert not np.allclose(other_task.rw, features.rw), "the instruction enters the routers' input"
    last = moee.MoTERouterFeatures(tlr_model, pooling="last").features(TEXTS, task="search_query")
    assert not np.allclose(last.rw, features.rw)


def test_expert_usage_averages_router_weights_per_task_instruction(tlr_model):
    source = moee.MoTERouterFeatures(tlr_model)
    usage = moee.expert_usage(source, TEXTS, tasks=["search_query", "clustering"])
    assert len(usage) == 2 * 1 * 4 and set(usage.expert) == set(tlr_model.config.experts)
    np.testing.assert_allclose(usage.groupby(["task", "layer"]).weight.sum(), 1.0, atol=1e-5)
    by_hand = source.features(TEXTS, task="clustering").rw.mean(axis=0)
    np.testing.assert_allclose(usage[usage.task == "clustering"].weight, by_hand, atol=1e-6)


def test_mote_router_features_need_a_token_routed_model(tokenizer):
    from transformers import BertConfig

    from mote_lib.model import MoTEConfig, MoTEModel

    backbone = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    model = MoTEModel.from_backbone_config(MoTEConfig(variant="mote"), backbone, tokenizer)
    with pytest.raises(ValueError, match="mote-tlr"):
        moee.MoTERouterFeatures(model)


# ----------------------------------------------------------------------------- mteb


def _tiny_sts_task():
    from datasets import Dataset
    from mteb.abstasks.sts import AbsTaskSTS
    from mteb.abstasks.task_metadata import TaskMetadata

    pairs = [
        ("A man is eating food.", "A man is eating a piece of bread.", 4.0),
        ("A man is eating food.", "A man is riding a horse.", 1.0),
        ("A woman plays the guitar.", "A woman is playing a guitar.", 5.0),
        ("A dog runs in the park.", "The stock market fell today.", 0.0),
        ("ls lists files", "ls shows the contents of a directory", 4.5),
        ("The cat sleeps.", "A cat is sleeping on the sofa.", 4.0),
        ("It is raining.", "The sun is shining brightly.", 1.0),
        ("Children play football.", "Kids are playing soccer.", 4.5),
    ]

    class TinySTS(AbsTaskSTS):
        metadata = TaskMetadata(
            name="MoEETinySTS", description="Eight hand-written sentence pairs (a test fixture).",
            dataset={"path": "local/moee-tiny-sts", "revision": "1"}, type="STS", category="t2t",
            modalities=["text"], eval_splits=["test"], eval_langs=["eng-Latn"], main_score="cosine_spearman",
            date=None, domains=None, task_subtypes=None, license=None, annotations_creators=None,
            dialect=None, sample_creation=None, bibtex_citation="",
        )
        min_score, max_score = 0, 5

        def load_data(self, **kwargs) -> None:
            s1, s2, score = zip(*pairs)
            self.dataset = {"default": {"test": Dataset.from_dict({"sentence1": list(s1), "sentence2": list(s2), "score": list(score)})}}
            self.data_loaded = True

    return TinySTS(), pairs


@pytest.mark.parametrize("alpha", [1.0, "auto"])
def test_mteb_wrapper_scores_a_local_sts_task_with_the_sum_similarity(lms, tmp_path, alpha):
    import mteb
    from scipy.stats import spearmanr

    task, pairs = _tiny_sts_task()
    encoder = MoEEEncoder(lms["qwen2_moe"], method="sum", alpha=alpha, name="test-tiny-moee-sum")
    result = mteb.evaluate(encoder, [task], cache=mteb.ResultCache(tmp_path), overwrite_strategy="always",
                           co2_tracker=False, show_progress_bar=False)
    score = result.task_results[0].get_score()
    # The same number by hand: Spearman of cos(HS) + alpha cos(RW) against the gold scores.
    f1, f2 = lms["qwen2_moe"].features([p[0] for p in pairs]), lms["qwen2_moe"].features([p[1] for p in pairs])
    used_alpha = encoder.alphas["MoEETinySTS"] if alpha == "auto" else alpha
    by_hand = np.diag(moee.sum_similarity(f1.hs, f1.rw, f2.hs, f2.rw, used_alpha))
    assert score == pytest.approx(spearmanr(by_hand, [p[2] for p in pairs]).statistic, abs=1e-6)
    wrapped = encoder.similarity_pairwise(moee_embedding(f1, "sum", used_alpha), moee_embedding(f2, "sum", used_alpha))
    np.testing.assert_allclose(wrapped.numpy(), by_hand, atol=1e-5)


def test_mteb_wrapper_similarity_for_the_cosine_methods(lms):
    encoder = MoEEEncoder(lms["olmoe"], method="concat", name="test-tiny-moee-concat")
    e = moee_embedding(lms["olmoe"].features(TEXTS), "concat")
    np.testing.assert_allclose(encoder.similarity(e, e).numpy(), e @ e.T, atol=1e-6)
    np.testing.assert_allclose(encoder.similarity_pairwise(e, e[::-1]).numpy(), (e * e[::-1]).sum(1), atol=1e-6)
    with pytest.raises(ValueError, match="auto"):
        MoEEEncoder(lms["olmoe"], alpha=-1.0)


def test_cached_features_equal_uncached_and_revisions_track_every_setting(lms, tokenizer):
    lm = lms["olmoe"]
    cached = moee.CachedFeatures(lm)
    first, again = cached.features(TEXTS + TEXTS[:2]), cached.features(TEXTS[::-1])
    assert len(cached.cache) == len(TEXTS)
    np.testing.assert_allclose(first.rw, np.concatenate([lm.features(TEXTS).rw, lm.features(TEXTS[:2]).rw]), atol=1e-6)
    np.testing.assert_allclose(again.hs, first.hs[: len(TEXTS)][::-1], atol=0)
    revision = lambda source, method="sum", alpha=1.0: MoEEEncoder(source, method, alpha).mteb_model_meta.revision
    base = revision(lm)
    assert base == revision(moee.CachedFeatures(lm)) == revision(lm.with_prompt("none"))
    others = [revision(lm.with_prompt("prompteol")), revision(lm, "concat"), revision(lm, "sum", 2.0), revision(lm, "sum", "auto"),
              revision(MoEELM(lm.model, tokenizer, router_scores="logits")), revision(tiny_random_moe("olmoe", tokenizer=tokenizer, seed=1))]
    assert base not in others and len(set(others)) == len(others)


def test_category_table_is_the_mean_of_category_means_and_prompt_spread():
    import pandas as pd

    tasks = [("STS", "a", 10.0), ("STS", "b", 30.0), ("STS", "c", 50.0), ("Clustering", "d", 0.0)]
    rows = []
    for prompt, shift in (("none", 0.0), ("prompteol", 4.0)):
        for kind, task, score in tasks:
            rows.append({"method": "hs", "prompt": prompt, "task_type": kind, "task": task, "score": score + shift})
            rows.append({"method": "rw", "prompt": prompt, "task_type": kind, "task": task, "score": 7.0})
    table = pd.DataFrame(rows).assign(model_label="m", model="x", error=None)
    by_category = moee.category_table(table)
    assert by_category.loc[("m", "none", "hs"), "STS"] == pytest.approx(30.0)
    assert by_category.loc[("m", "none", "hs"), "Avg"] == pytest.approx(15.0)     # (30 + 0) / 2, not (90 / 4)
    assert by_category.loc[("m", "prompteol", "hs"), "Avg"] == pytest.approx(19.0)
    spread = moee.prompt_spread(table)
    assert spread.loc["hs", "range"] == pytest.approx(4.0) and spread.loc["rw", "range"] == 0.0
    assert spread.loc["hs", "prompts"] == 2 and spread.loc["hs", "tasks"] == 4
    with pytest.raises(ValueError, match="failed"):
        moee.category_table(table.assign(error=["boom"] + [None] * (len(table) - 1)))


def test_evaluate_moee_on_an_offline_task(lms, tmp_path):
    from mote_lib.mteb_tasks import offline_tasks

    table = moee.evaluate_moee(lms["deepseek_v3"], offline_tasks(["LeeDocumentSTS"]), label="tiny-deepseek",
                               prompts=["none", "prompteol"], methods=["hs", "sum"], alpha="auto", store=tmp_path)
    assert table["error"].isna().all()
    assert sorted(zip(table.prompt, table.method)) == sorted((p, m) for p in ("none", "prompteol") for m in ("hs", "sum"))
    assert table.score.between(-100, 100).all() and table.score.nunique() > 1
    assert (table[table.method == "sum"].alpha > 0).all() and table[table.method == "hs"].alpha.isna().all()
    with pytest.raises(ValueError, match="takes no prompt"):
        moee._no_prompt(object(), "prompteol")
