"""mote_lib.sensitivity on tiny encoders (hidden 32, 2 layers): distances, seeded edits, Jacobian probes."""

import numpy as np
import pytest
import torch

from mote_lib.model import MoTEConfig, MoTEModel
from mote_lib.sensitivity import (
    content_edit_ratio,
    edit_texts,
    instruction_swap_ratio,
    layerwise_lipschitz,
    local_lipschitz,
    mean_token_embedding,
    operator_norm,
)

TEXTS = ["a cat sat on the mat", "stocks fell sharply today", "how do I list files"]


# ----------------------------------------------------------------------------- distances and ratios


def test_instruction_swap_ratio_by_hand(make_tiny_model, minilm_tokenizer):
    model = make_tiny_model("ic")
    table = instruction_swap_ratio(model, TEXTS, "search_query", "classification", batch_size=2)
    words = model.embeddings.word_embeddings.weight.detach()
    for i, text in enumerate(TEXTS):
        ids_a = minilm_tokenizer("search_query: " + text)["input_ids"]
        ids_b = minilm_tokenizer("classification: " + text)["input_ids"]
        input_distance = (words[ids_a].mean(0) - words[ids_b].mean(0)).norm().item()
        output_distance = np.linalg.norm(model.encode(text, task="search_query") - model.encode(text, task="classification"))
        assert table.loc[i, "input_distance"] == pytest.approx(input_distance, rel=1e-5)
        assert table.loc[i, "output_distance"] == pytest.approx(output_distance, rel=1e-5)
        assert table.loc[i, "ratio"] == pytest.approx(output_distance / input_distance, rel=1e-5)


def test_mean_token_embedding_ignores_padding(make_tiny_model):
    model = make_tiny_model("ic")
    together = mean_token_embedding(model, model.tokenize(["x", TEXTS[0]], ["clustering"] * 2))
    alone = mean_token_embedding(model, model.tokenize(["x"], ["clustering"]))
    torch.testing.assert_close(together[0], alone[0])


def test_em_instruction_swap_is_an_error(make_tiny_model):
    # EM prepends no instruction and ignores the task: input and output distances are both 0.
    with pytest.raises(ValueError, match=r"'em' variant ignores the task.*0 / 0"):
        instruction_swap_ratio(make_tiny_model("em"), TEXTS, "search_query", "clustering")
    with pytest.raises(ValueError, match="two different tasks"):
        instruction_swap_ratio(make_tiny_model("ic"), TEXTS, "clustering", "clustering")


def test_seeded_edits_are_deterministic():
    for edit in ("drop_word", "swap_word"):
        first, again, other = (edit_texts(TEXTS, edit, seed=s) for s in (7, 7, 8))
        assert first == again and first != other
    dropped = edit_texts(TEXTS, "drop_word", seed=7)
    swapped = edit_texts(TEXTS, "swap_word", seed=7)
    vocabulary = {w for t in TEXTS for w in t.split()}
    for text, drop, swap in zip(TEXTS, dropped, swapped):
        words = text.split()
        assert len(drop.split()) == len(words) - 1 and all(w in words for w in drop.split())
        changed = [(a, b) for a, b in zip(words, swap.split()) if a != b]
        assert len(changed) == 1 and changed[0][1] in vocabulary


def test_edit_errors():
    with pytest.raises(ValueError, match=r"text 1 \('x'\) has fewer than two words"):
        edit_texts(["a b", "x"], "drop_word")
    with pytest.raises(ValueError, match=r"unknown edit 'shuffle'; valid: \['drop_word', 'swap_word'\]"):
        edit_texts(TEXTS, "shuffle")


@pytest.mark.parametrize("variant, task", [("em", None), ("ic", "clustering")])
def test_content_edit_ratio(make_tiny_model, variant, task):
    model = make_tiny_model(variant)
    table = content_edit_ratio(model, TEXTS, task, edit="swap_word", seed=3)
    assert table["edited"].tolist() == edit_texts(TEXTS, "swap_word", seed=3)
    assert (table["input_distance"] > 0).all() and (table["ratio"] > 0).all() and np.isfinite(table["ratio"]).all()
    expected = np.linalg.norm(model.encode(TEXTS[0], task=task) - model.encode(table.loc[0, "edited"], task=task))
    assert table.loc[0, "output_distance"] == pytest.approx(expected, rel=1e-5)


# ----------------------------------------------------------------------------- Jacobian probes


def test_operator_norm_of_a_linear_map_is_exact():
    generator = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(5, 3, generator=generator, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    a = u @ torch.diag(torch.tensor([3.0, 1.0, 0.5], dtype=torch.float64)) @ v.T  # singular values 3, 1, 0.5
    x = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(operator_norm(lambda x: x @ a.T, x), torch.full((4,), 3.0, dtype=torch.float64))
    # rows are independent: a (batch, tokens, hidden) input is one vector per row
    x3 = torch.randn(2, 1, 3, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(operator_norm(lambda x: x.reshape(2, 3) @ a.T, x3), torch.full((2,), 3.0, dtype=torch.float64))


@pytest.mark.parametrize("variant", ["ic", "mote"])
def test_jvp_matches_finite_differences(make_tiny_model, perturb_experts, variant):
    # float64, eps 1e-4: central differences err by O(eps^2) ~ 1e-8 (times third derivatives of
    # order 1 here) plus round-off ~ 1e-16 / 1e-4; a JVP through the wrong input, or a missing
    # term, would be off by order 1. In float32 round-off alone is ~ 6e-8 / eps.
    model = perturb_experts(make_tiny_model(variant, dtype=torch.float64))  # mote: experts that differ; ic has none
    table = local_lipschitz(model, TEXTS, "search_query", n_directions=3, eps=1e-4, seed=0, n_iterations=10)
    assert (table["finite_difference_error"] < 1e-6).all()
    np.testing.assert_allclose(table["finite_difference_max"], table["directional_max"], rtol=1e-6)
    assert (table["lipschitz"] >= table["directional_max"] * (1 - 1e-9)).all()  # random directions only bound it below
    assert (table["directional_mean"] > 0).all()


def test_lipschitz_is_the_top_singular_value_of_the_full_jacobian(make_tiny_model):
    model = make_tiny_model("ic", dtype=torch.float64)
    text, n = TEXTS[1], 2  # "classification: " is two tokens
    batch = model.tokenize([text], ["classification"])
    ids, mask = batch["input_ids"], batch["attention_mask"]
    words = model.embeddings.word_embeddings(ids).detach()

    def embed(instruction):  # built from the public forward(inputs_embeds=...), independently of the library
        embeds = torch.cat([words[:, :1], instruction.reshape(1, n, -1), words[:, 1 + n :]], dim=1)
        return model(ids, mask, inputs_embeds=embeds)["embedding"][0]

    jacobian = torch.autograd.functional.jacobian(embed, words[0, 1 : 1 + n].reshape(-1))
    top = torch.linalg.svdvals(jacobian)[0].item()
    table = local_lipschitz(model, [text], "classification", n_directions=1, n_iterations=40)
    # Power iteration approaches the top singular value from below, at a rate set by the gap to the
    # second (40 iterations reach 0.07% below here); a wrong quantity, e.g. the Frobenius norm
    # sqrt(sum of squared singular values), would not sit in this band.
    assert top * (1 - 1e-2) <= table.loc[0, "lipschitz"] <= top * (1 + 1e-9)
    assert torch.linalg.matrix_norm(jacobian).item() > top * 1.02


def test_local_lipschitz_is_seeded_and_restores_the_mode(make_tiny_model, perturb_experts):
    model = perturb_experts(make_tiny_model("mote")).train()
    first, again, other = (local_lipschitz(model, TEXTS, "clustering", n_directions=2, seed=s, n_iterations=2,
                                           batch_size=2) for s in (5, 5, 6))
    assert first.equals(again) and not first.equals(other) and first["text"].tolist() == [0, 1, 2]
    assert model.training  # probed in eval mode (no dropout), then put back


def test_layerwise_lipschitz_starts_at_zero(make_tiny_model, perturb_experts):
    # The instruction cannot reach the text tokens at the embedding layer (per-token LayerNorm);
    # attention carries it into the next layers.
    table = layerwise_lipschitz(perturb_experts(make_tiny_model("mote")), TEXTS, "search_document", n_directions=3)
    assert table["layer"].tolist() == [0, 1, 2]
    assert table.loc[0, "directional_mean"] == 0 and table.loc[0, "relative"] == 0
    assert (table.loc[1:, "directional_mean"] > 0).all()
    assert (table["directional_max"] >= table["directional_mean"]).all() and (table["state_norm"] > 0).all()


def test_jacobian_probes_need_instruction_tokens(make_tiny_model):
    with pytest.raises(ValueError, match="'em' variant has no instruction tokens"):
        local_lipschitz(make_tiny_model("em"), TEXTS, "clustering")
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['query'\]"):
        layerwise_lipschitz(make_tiny_model("ic"), TEXTS, "query")


@pytest.mark.integration
def test_minilm_instruction_swap_moves_less_than_it_could():
    """On the real base model: finite differences agree with the JVP in float32, and a swap's ratio is finite."""
    model = MoTEModel.from_base(MoTEConfig(variant="ic"))
    table = local_lipschitz(model, TEXTS[:2], "search_query", n_directions=2, eps=1e-2, n_iterations=10)
    assert (table["finite_difference_error"] < 5e-2).all() and (table["lipschitz"] > 0).all()
    swap = instruction_swap_ratio(model, TEXTS, "search_query", "clustering")
    assert np.isfinite(swap["ratio"]).all() and (swap["ratio"] > 0).all()


def test_the_probes_keep_no_graph_and_restore_requires_grad(make_tiny_model):
    from mote_lib.sensitivity import _instructed_batches, _instruction_function, _probing, operator_norm

    model = make_tiny_model("mote")
    model.blocks[0].experts[0].up.weight.requires_grad_(False)  # a frozen weight stays frozen
    with _probing(model):
        batch = next(_instructed_batches(model, ["how do I list files", "stocks fell"], "clustering", 8))
        fn, x = _instruction_function(model, batch, "clustering", layers=False)
        _, jv = torch.func.jvp(fn, (x,), (torch.ones_like(x),))
        assert jv.grad_fn is None  # with trainable weights it would hold a graph back to them
        assert operator_norm(fn, x, n_iterations=2).shape == (2,)
        assert not any(p.requires_grad for p in model.parameters())
    assert not model.blocks[0].experts[0].up.weight.requires_grad
    assert sum(not p.requires_grad for p in model.parameters()) == 1
