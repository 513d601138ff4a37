"""mote_lib.similarity on tiny encoders (hidden 32, 2 layers): inter-task cosines, layer divergence, expert weights."""

import copy

import numpy as np
import pytest
import torch

from mote_lib.model import MoTEModel
from mote_lib.similarity import (
    expert_similarity_matrix,
    expert_weight_similarity,
    inter_task_cosines,
    inter_task_similarity,
    layerwise_divergence,
    merge_experts,
    paired_cosines,
    task_embeddings,
    text_token_mask,
)

TEXTS = ["a cat sat on the mat", "stocks fell sharply today", "how do I list files", "the river froze early"]
TASKS = ["search_query", "search_document", "classification", "clustering"]


# ----------------------------------------------------------------------------- output embeddings


def test_inter_task_similarity_hand_computed():
    embeddings = {"a": np.array([[1, 0], [0, 1]], "f4"), "b": np.array([[1, 1], [0, 1]], "f4"),
                  "c": np.array([[-1, 0], [1, 0]], "f4")}
    np.testing.assert_allclose(paired_cosines(embeddings, "a", "b"), [2 ** -0.5, 1], rtol=1e-6)
    sim = inter_task_similarity(embeddings)
    assert sim.loc["a", "b"] == pytest.approx((2 ** -0.5 + 1) / 2) and sim.loc["b", "a"] == sim.loc["a", "b"]
    assert sim.loc["a", "c"] == pytest.approx(-0.5) and np.diag(sim.values).tolist() == [1, 1, 1]
    tidy = inter_task_cosines(embeddings)
    assert len(tidy) == 3 * 2 and tidy["pair"].unique().tolist() == ["a / b", "a / c", "b / c"]
    assert tidy.groupby("pair")["cosine"].mean()["a / c"] == pytest.approx(sim.loc["a", "c"])


def test_em_embeds_every_task_alike(make_tiny_model):
    sim = inter_task_similarity(task_embeddings(make_tiny_model("em"), TEXTS))
    np.testing.assert_allclose(sim.values, np.ones((4, 4)), atol=1e-6)


def test_ic_similarity_is_the_mean_cosine_of_encode(make_tiny_model):
    model = make_tiny_model("ic")
    embeddings = task_embeddings(model, TEXTS, tasks=["search_query", "classification"])
    q, c = model.encode(TEXTS, task="search_query"), model.encode(TEXTS, task="classification")
    expected = (q * c).sum(1) / (np.linalg.norm(q, axis=1) * np.linalg.norm(c, axis=1))
    assert inter_task_similarity(embeddings).loc["search_query", "classification"] == pytest.approx(expected.mean(), abs=1e-6)
    assert expected.mean() < 0.9999  # the instruction moved them


def test_mote_equals_ic_at_initialisation_and_parts_when_experts_differ(make_tiny_model, perturb_experts):
    ic, mote = make_tiny_model("ic"), make_tiny_model("mote")
    sim_ic = inter_task_similarity(task_embeddings(ic, TEXTS))
    np.testing.assert_allclose(inter_task_similarity(task_embeddings(mote, TEXTS)).values, sim_ic.values, atol=1e-6)
    sim_mote = inter_task_similarity(task_embeddings(perturb_experts(mote), TEXTS))
    off_diagonal = ~np.eye(4, dtype=bool)
    assert (sim_mote.values[off_diagonal] < sim_ic.values[off_diagonal]).all()


def test_unknown_task_lists_the_valid_ones(make_tiny_model):
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['retrieval'\]; valid tasks"):
        task_embeddings(make_tiny_model("ic"), TEXTS, tasks=["retrieval"])
    with pytest.raises(ValueError, match=r"no embeddings for task 'clustering'; embedded tasks: \['a'\]"):
        paired_cosines({"a": np.ones((1, 2), "f4")}, "a", "clustering")


# ----------------------------------------------------------------------------- layer by layer


def test_text_token_mask_leaves_out_special_and_instruction_tokens(make_tiny_model, minilm_tokenizer):
    model = make_tiny_model("ic")
    batch = model.tokenize(["a cat sat", "x"], ["search_query"] * 2)  # [CLS] search _ query : a cat sat [SEP]
    mask = text_token_mask(model, batch, "search_query")
    assert mask.tolist() == [[False] * 5 + [True] * 3 + [False], [False] * 5 + [True] + [False] * 3]
    assert minilm_tokenizer.convert_ids_to_tokens(batch["input_ids"][0][mask[0]]) == ["a", "cat", "sat"]
    em = make_tiny_model("em")
    assert text_token_mask(em, em.tokenize(["a cat sat"], None), "clustering").tolist() == [[False, True, True, True, False]]


def test_layerwise_divergence_pools_the_text_tokens_by_hand(make_tiny_model):
    model = make_tiny_model("ic")
    table = layerwise_divergence(model, TEXTS[:1], "search_query", "classification")
    states = {}
    for task, n in (("search_query", 4), ("classification", 2)):  # instruction lengths
        batch = model.tokenize(TEXTS[:1], [task])
        with torch.no_grad():
            hidden = model(batch["input_ids"], batch["attention_mask"], output_hidden_states=True)["hidden_states"]
        states[task] = [h[0, 1 + n : -1].mean(0) for h in hidden]  # between the instruction and [SEP]
    for layer, (a, b) in enumerate(zip(states["search_query"], states["classification"])):
        assert table.loc[layer, "cosine"] == pytest.approx(torch.cosine_similarity(a, b, dim=0).item(), abs=1e-6)
        assert table.loc[layer, "relative_l2"] == pytest.approx(((a - b).norm() / ((a.norm() + b.norm()) / 2)).item(), rel=1e-5)


def test_layerwise_divergence_starts_equal_for_equal_length_instructions(make_tiny_model):
    # search_query and search_document both take 4 tokens, so the text tokens keep their positions:
    # identical at the embedding layer, apart once attention has seen the instruction.
    table = layerwise_divergence(make_tiny_model("ic"), TEXTS, "search_query", "search_document", batch_size=3)
    assert table["layer"].tolist() == [0, 1, 2]
    assert table.loc[0, "relative_l2"] == 0 and table.loc[0, "cosine"] == pytest.approx(1, abs=1e-6)
    # A random tiny encoder attends almost uniformly, so the change is small, but it is there.
    assert (table.loc[1:, "relative_l2"] > 1e-4).all()


def test_em_layers_do_not_diverge(make_tiny_model):
    table = layerwise_divergence(make_tiny_model("em"), TEXTS, "search_query", "clustering")
    np.testing.assert_allclose(table["cosine"], 1, atol=1e-6)
    np.testing.assert_allclose(table["relative_l2"], 0, atol=1e-6)


def test_mote_experts_move_only_the_layers_they_sit_in(make_tiny_model, perturb_experts):
    ic, mote = make_tiny_model("ic"), perturb_experts(make_tiny_model("mote"))
    pair = ("search_query", "search_document")
    ic_table, mote_table = layerwise_divergence(ic, TEXTS, *pair), layerwise_divergence(mote, TEXTS, *pair)
    np.testing.assert_allclose(mote_table.loc[:1, "cosine"], ic_table.loc[:1, "cosine"], atol=1e-6)  # dense layers 0, 1
    assert mote_table.loc[2, "relative_l2"] > ic_table.loc[2, "relative_l2"]  # layer 2 = output of the MoTE layer


# ----------------------------------------------------------------------------- expert weights


def test_expert_weights_are_copies_at_initialisation(make_tiny_model):
    model = make_tiny_model("mote", layers="every")
    raw = expert_weight_similarity(model, "raw")
    assert len(raw) == 2 * 6 and raw["layer"].unique().tolist() == [0, 1]
    np.testing.assert_allclose(raw["cosine"], 1, rtol=1e-6)
    assert expert_weight_similarity(model, "mean")["cosine"].isna().all()  # no change has no direction


def test_expert_weight_similarity_of_known_updates(make_tiny_model):
    initial = make_tiny_model("mote")
    model = copy.deepcopy(initial)
    bank = model.blocks[1].experts
    direction = {name: torch.randn(p.shape, generator=torch.Generator().manual_seed(3))
                 for name, p in bank[0].named_parameters()}
    updates = {"search_query": 1.0, "search_document": -1.0, "classification": 2.0}  # clustering: none
    with torch.no_grad():
        for expert, factor in updates.items():
            for name, p in bank[model.expert_index[expert]].named_parameters():
                p.add_(factor * direction[name])
    table = expert_weight_similarity(model, "initial", initial=initial).set_index(["expert_a", "expert_b"])["cosine"]

    def cosine(a, b):  # the table holds each unordered pair once
        return table[a, b] if (a, b) in table.index else table[b, a]

    assert cosine("search_query", "search_document") == pytest.approx(-1, abs=1e-6)
    assert cosine("search_query", "classification") == pytest.approx(1, abs=1e-6)
    assert np.isnan(cosine("search_query", "clustering"))
    dense = make_tiny_model("em")  # the same seed: its block is every expert's initial weights
    from_dense = expert_weight_similarity(model, "initial", initial=dense).set_index(["expert_a", "expert_b"])["cosine"]
    np.testing.assert_allclose(from_dense.values, table.values, atol=1e-6)
    matrix = expert_similarity_matrix(expert_weight_similarity(model, "initial", initial=initial))
    assert matrix.shape == (4, 4) and matrix.loc["classification", "search_document"] == pytest.approx(-1, abs=1e-6)
    assert (matrix.values == matrix.values.T)[~np.isnan(matrix.values)].all()


def test_expert_weight_similarity_errors(make_tiny_model):
    with pytest.raises(ValueError, match="'ic' model has no layer with several experts"):
        expert_weight_similarity(make_tiny_model("ic"))
    with pytest.raises(ValueError, match="needs the initial model"):
        expert_weight_similarity(make_tiny_model("mote"), "initial")


def test_merging_identical_experts_changes_nothing(make_tiny_model):
    model = make_tiny_model("mote")
    merged = merge_experts(model, ["search_document", "clustering"])
    assert merged.config.experts == ["classification", "search_document+clustering", "search_query"]
    merged_slot = merged.expert_index["search_document+clustering"]
    assert len(merged.blocks[1].experts) == 3
    assert merged.expert_ids(["search_document", "clustering"]).tolist() == [merged_slot, merged_slot]
    for task in TASKS:
        np.testing.assert_allclose(merged.encode(TEXTS, task=task), model.encode(TEXTS, task=task), atol=1e-6)
    wave = merge_experts(model, model.config.experts, into="wave")
    assert wave.config.experts == ["wave"] and [len(b.experts) for b in wave.blocks] == [1, 1]
    np.testing.assert_allclose(wave.encode(TEXTS, task="clustering"), model.encode(TEXTS, task="clustering"), atol=1e-6)


def test_merging_averages_the_weights_and_routes_the_tasks_to_the_average(make_tiny_model, perturb_experts):
    model = perturb_experts(make_tiny_model("mote"))
    before = copy.deepcopy(model.state_dict())
    merged = merge_experts(model, ["search_query", "clustering"], into="sq_cl")
    experts, slot = model.blocks[1].experts, model.expert_index
    average = (experts[slot["search_query"]].up.weight + experts[slot["clustering"]].up.weight) / 2
    torch.testing.assert_close(merged.blocks[1].experts[merged.expert_index["sq_cl"]].up.weight, average)
    torch.testing.assert_close(merged.blocks[1].experts[merged.expert_index["classification"]].up.weight,
                               experts[slot["classification"]].up.weight)
    torch.testing.assert_close(merged.blocks[0].experts[0].up.weight, model.blocks[0].experts[0].up.weight)
    # The same as giving both experts the average weights in place:
    by_hand = copy.deepcopy(model)
    bank = by_hand.blocks[1].experts
    with torch.no_grad():
        for p_query, p_cluster in zip(bank[slot["search_query"]].parameters(), bank[slot["clustering"]].parameters()):
            p_query.copy_((p_query + p_cluster) / 2), p_cluster.copy_(p_query)
    for task in TASKS:
        np.testing.assert_allclose(merged.encode(TEXTS, task=task), by_hand.encode(TEXTS, task=task), atol=1e-6)
    assert not np.allclose(merged.encode(TEXTS, task="clustering"), model.encode(TEXTS, task="clustering"), atol=1e-4)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the original is untouched


def test_a_merged_model_saves_and_loads(make_tiny_model, perturb_experts, tmp_path):
    merged = merge_experts(perturb_experts(make_tiny_model("mote")), ["search_query", "clustering"], into="sq_cl")
    loaded = MoTEModel.from_pretrained(merged.save_pretrained(tmp_path / "merged"))
    for task in TASKS:
        np.testing.assert_allclose(loaded.encode(TEXTS, task=task), merged.encode(TEXTS, task=task), atol=1e-6)


def test_merge_experts_errors(make_tiny_model):
    model = make_tiny_model("mote")
    with pytest.raises(ValueError, match=r"unknown expert\(s\) \['search'\]; valid experts"):
        merge_experts(model, ["search", "clustering"])
    with pytest.raises(ValueError, match="at least two different experts"):
        merge_experts(model, ["clustering", "clustering"])
    with pytest.raises(ValueError, match="into='classification' is the name of an expert that is not merged"):
        merge_experts(model, ["search_query", "clustering"], into="classification")
    with pytest.raises(ValueError, match="needs a sequence-routed 'mote' model; got variant 'mote-tlr'"):
        merge_experts(make_tiny_model("mote-tlr"), ["search_query", "clustering"])
