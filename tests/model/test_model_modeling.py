"""mote_lib.model.modeling on tiny encoders (hidden 32, 2 layers): equivalence with the dense model, routing, gradients."""

import numpy as np
import pytest
import torch

from mote_lib.model import MoTEConfig, MoTEModel, mean_pool
from mote_lib.model.modeling import _load_balancing_loss

TEXTS = ["a cat sat on the mat", "stocks fell sharply today", "how do I list files", "x"]
TASKS = ["search_query", "search_document", "classification", "clustering"]


def dense_embedding(backbone, tokenizer, texts):
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = backbone(**batch).last_hidden_state
    return mean_pool(hidden, batch["attention_mask"])


@pytest.mark.parametrize("family", ["bert", "mpnet"])
@pytest.mark.parametrize("variant", ["em", "ic", "mote", "mote-tlr"])
def test_every_variant_at_initialisation_equals_the_dense_model(family, variant, make_tiny_model, make_tiny_backbone,
                                                              minilm_tokenizer):
    model, backbone = make_tiny_model(variant, family=family), make_tiny_backbone(family)
    for task in TASKS:
        prefixed = [model.config.instructions[task] + t if variant != "em" else t for t in TEXTS]
        expected = dense_embedding(backbone, minilm_tokenizer, prefixed)
        got = model.encode(TEXTS, task=task, convert_to_numpy=False)
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("family", ["bert", "mpnet"])
def test_dropout_sits_where_the_dense_model_has_it(family, make_tiny_model, make_tiny_backbone, minilm_tokenizer):
    """In training mode, with the same seed, MoTE draws the same dropout masks as transformers' own forward."""
    model, backbone = make_tiny_model("mote", family=family), make_tiny_backbone(family)
    model.train(), backbone.train()
    batch = minilm_tokenizer([model.config.instructions["clustering"] + t for t in TEXTS], padding=True, return_tensors="pt")
    torch.manual_seed(5)
    expected = mean_pool(backbone(**batch).last_hidden_state, batch["attention_mask"])
    torch.manual_seed(5)
    got = model(batch["input_ids"], batch["attention_mask"], model.expert_ids(["clustering"] * 4))["embedding"]
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


def test_expert_ids_must_match_the_batch(make_tiny_model):
    model = make_tiny_model("mote")
    batch = model.tokenize(TEXTS, ["clustering"] * 4)
    with pytest.raises(ValueError, match=r"expert_ids has shape \(2,\); expected one id per input, \(4,\)"):
        model(batch["input_ids"], batch["attention_mask"], torch.tensor([0, 1]))


def test_mixed_task_batch_equals_each_row_alone(make_tiny_model):
    model = make_tiny_model("mote")
    with torch.no_grad():  # make the experts differ, so a wrong route would show
        for bank in model.blocks:
            for i, expert in enumerate(bank.experts):
                expert.up.weight.add_(0.05 * i)
    mixed = model.encode(TEXTS, task=TASKS, convert_to_numpy=False)
    alone = torch.cat([model.encode([t], task=k, convert_to_numpy=False) for t, k in zip(TEXTS, TASKS)])
    torch.testing.assert_close(mixed, alone, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(mixed[0], model.encode(TEXTS[0], task="clustering", convert_to_numpy=False)[0])


def _count_expert_calls(model):
    calls = []
    for layer, bank in enumerate(model.blocks):
        for index, expert in enumerate(bank.experts):
            expert.register_forward_hook(lambda m, i, o, key=(layer, index): calls.append((key, i[0].shape[0])))
    return calls


def test_a_one_task_batch_runs_exactly_one_expert_per_layer(make_tiny_model):
    model = make_tiny_model("mote")
    calls = _count_expert_calls(model)
    model.encode(TEXTS, task="classification")
    # layer 0 dense; layer 1 (EOB) the classification expert
    assert calls == [((0, 0), 4), ((1, model.expert_index["classification"]), 4)]


def test_a_mixed_batch_sends_each_row_to_its_expert_once(make_tiny_model):
    model = make_tiny_model("mote")
    calls = _count_expert_calls(model)
    model.encode(TEXTS[:3], task=["clustering", "search_query", "clustering"])
    index = model.expert_index
    assert sorted(calls) == sorted([((0, 0), 3), ((1, index["search_query"]), 1), ((1, index["clustering"]), 2)])


def test_gradients_reach_only_the_routed_expert_and_shared_weights(make_tiny_model):
    model = make_tiny_model("mote")
    model.train()
    batch = model.tokenize(TEXTS, ["search_document"] * 4)
    out = model(batch["input_ids"], batch["attention_mask"], model.expert_ids(["search_document"] * 4))
    out["embedding"].sum().backward()
    mote_bank = model.blocks[1]
    for index, expert in enumerate(mote_bank.experts):
        grads = [p.grad for p in expert.parameters()]
        if index == model.expert_index["search_document"]:
            assert all(g is not None and g.abs().sum() > 0 for g in grads)
        else:
            assert all(g is None for g in grads), f"expert {index} got a gradient"
    assert model.attention[1].attention.query.weight.grad.abs().sum() > 0
    assert model.blocks[0].experts[0].up.weight.grad.abs().sum() > 0


def _expert_size(model):
    return sum(p.numel() for p in model.blocks[0].experts[0].parameters())


def test_every_block_vs_every_other_block_parameter_counts(make_tiny_model):
    em = make_tiny_model("em")
    eob = make_tiny_model("mote", layers="every_other")
    eb = make_tiny_model("mote", layers="every")
    base, per_expert = em.parameter_counts()["total"], _expert_size(em)
    assert eob.parameter_counts()["total"] == base + 3 * per_expert  # one MoTE layer, 3 extra experts
    assert eb.parameter_counts()["total"] == base + 2 * 3 * per_expert
    assert [len(b.experts) for b in eob.blocks] == [1, 4] and [len(b.experts) for b in eb.blocks] == [4, 4]


def test_active_parameters_equal_for_em_ic_and_mote(make_tiny_model):
    counts = {v: make_tiny_model(v).parameter_counts() for v in ("em", "ic", "mote")}
    assert counts["em"]["active"] == counts["ic"]["active"] == counts["mote"]["active"] == counts["em"]["total"]
    assert counts["mote"]["total"] > counts["mote"]["active"]


def test_shared_experts_map_several_tasks_to_one(make_tiny_model):
    mapping = {"search_query": "search", "search_document": "search", "classification": "cls", "clustering": "cls"}
    model = make_tiny_model("mote", task_to_expert=mapping)
    assert model.config.experts == ["cls", "search"] and len(model.blocks[1].experts) == 2  # sorted names
    assert model.expert_ids(TASKS).tolist() == [1, 1, 0, 0]


def test_token_routing_exposes_router_logits_and_a_load_balancing_loss(make_tiny_model):
    model = make_tiny_model("mote-tlr")
    batch = model.tokenize(TEXTS, ["clustering"] * 4)
    out = model(batch["input_ids"], batch["attention_mask"])
    (logits,) = model.router_logits()
    assert logits.shape == (4, batch["input_ids"].shape[1], 4)
    assert out["aux_loss"].ndim == 0 and torch.isfinite(out["aux_loss"]) and out["aux_loss"] > 0
    out["embedding"].sum().backward()  # the router learns through the gate
    assert model.blocks[1].router.weight.grad.abs().sum() > 0


def test_load_balancing_loss_hand_computed():
    probs = torch.tensor([[[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.5, 0.5]]])  # 1 sequence, 4 tokens, 2 experts
    choice = probs.argmax(-1)
    mask = torch.tensor([[1, 1, 1, 0]])  # the last token is padding
    # f = (2/3, 1/3); P = ((0.9+0.8+0.3)/3, (0.1+0.2+0.7)/3) = (2/3, 1/3); loss = 2 * (4/9 + 1/9) = 10/9
    assert _load_balancing_loss(probs, choice, mask, 2).item() == pytest.approx(10 / 9)


def test_missing_task_is_an_error_not_a_default(make_tiny_model):
    model = make_tiny_model("mote")
    with pytest.raises(ValueError, match="needs task="):
        model.encode(["x"])
    batch = model.tokenize(["x"], ["clustering"])
    with pytest.raises(ValueError, match="needs the task of every input"):
        model(batch["input_ids"], batch["attention_mask"])


def test_unknown_variant_and_bad_layers_are_errors():
    with pytest.raises(ValueError, match="unknown variant 'moe'"):
        MoTEConfig(variant="moe")
    with pytest.raises(ValueError, match=r"layer indices \[7\] are outside 0..1"):
        MoTEConfig(layers=[1, 7]).mote_layers(2)
    with pytest.raises(ValueError, match=r"no expert for task\(s\) \['clustering'\]"):
        MoTEConfig(task_to_expert={"search_query": "a", "search_document": "a", "classification": "b"})


@pytest.mark.integration
def test_mote_from_minilm_equals_sentence_transformers_at_initialisation():
    from sentence_transformers import SentenceTransformer

    from mote_lib.base_models import resolve_base_model

    model = MoTEModel.from_base(MoTEConfig(variant="mote"))
    reference = SentenceTransformer(str(resolve_base_model("minilm")), device="cpu")
    for task in TASKS:
        expected = reference.encode([model.config.instructions[task] + t for t in TEXTS], convert_to_tensor=True)
        torch.testing.assert_close(model.encode(TEXTS, task=task, convert_to_numpy=False), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("family", ["bert", "mpnet"])
def test_inputs_embeds_replace_the_word_embedding_lookup(family, make_tiny_model):
    model = make_tiny_model("mote", family=family)
    batch = model.tokenize(TEXTS, TASKS)  # padded rows: MPNet's positions still come from input_ids
    ids, mask, experts = batch["input_ids"], batch["attention_mask"], model.expert_ids(TASKS)
    words = model.embeddings.word_embeddings(ids).detach()
    with torch.no_grad():
        looked_up = model(ids, mask, experts)["embedding"]
        injected = model(ids, mask, experts, inputs_embeds=words)["embedding"]
        # a random nudge: a constant shift of every coordinate would vanish in the embedding LayerNorm
        nudged = model(ids, mask, experts, inputs_embeds=words + 0.1 * torch.randn(words.shape))["embedding"]
    torch.testing.assert_close(injected, looked_up)
    assert not torch.allclose(nudged, looked_up)


def test_base_layers_keeps_the_first_layers_of_the_pretrained_model(tiny_base, tmp_path):
    from transformers import AutoModel

    model = MoTEModel.from_base(MoTEConfig(base_model=tiny_base, variant="em", base_layers=1))
    assert len(model.blocks) == 1 and model.backbone_config.num_hidden_layers == 1
    reference = AutoModel.from_pretrained(tiny_base).eval()
    batch = model.tokenize(TEXTS, None)
    with torch.no_grad():
        after_first_layer = reference(**batch, output_hidden_states=True).hidden_states[1]
    expected = mean_pool(after_first_layer, batch["attention_mask"])
    torch.testing.assert_close(model.encode(TEXTS, convert_to_numpy=False), expected, atol=1e-5, rtol=1e-4)
    loaded = MoTEModel.from_pretrained(model.save_pretrained(tmp_path / "one-layer"))
    assert len(loaded.blocks) == 1
    np.testing.assert_allclose(loaded.encode(TEXTS), model.encode(TEXTS), atol=1e-6)
    with pytest.raises(ValueError, match=r"base_layers=3: the base model has 2 layers; choose 1..2"):
        MoTEModel.from_base(MoTEConfig(base_model=tiny_base, base_layers=3))
