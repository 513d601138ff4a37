"""mote_lib.model on tiny encoders (hidden 32, 2 layers): equivalence, routing, gradients, I/O."""

import numpy as np
import pytest
import torch

from mote_lib.model import MoTEConfig, MoTEModel, mean_pool, padding_order

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
    from mote_lib.model import _load_balancing_loss

    probs = torch.tensor([[[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.5, 0.5]]])  # 1 sequence, 4 tokens, 2 experts
    choice = probs.argmax(-1)
    mask = torch.tensor([[1, 1, 1, 0]])  # the last token is padding
    # f = (2/3, 1/3); P = ((0.9+0.8+0.3)/3, (0.1+0.2+0.7)/3) = (2/3, 1/3); loss = 2 * (4/9 + 1/9) = 10/9
    assert _load_balancing_loss(probs, choice, mask, 2).item() == pytest.approx(10 / 9)


def test_unknown_task_lists_the_valid_tasks(make_tiny_model):
    model = make_tiny_model("mote")
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['retrieval'\]; valid tasks: \['search_query', 'search_document', 'classification', 'clustering'\]"):
        model.encode(["x"], task="retrieval")


def test_missing_task_is_an_error_not_a_default(make_tiny_model):
    model = make_tiny_model("mote")
    with pytest.raises(ValueError, match="needs task="):
        model.encode(["x"])
    batch = model.tokenize(["x"], ["clustering"])
    with pytest.raises(ValueError, match="needs the task of every input"):
        model(batch["input_ids"], batch["attention_mask"])


def test_em_ignores_the_task(make_tiny_model):
    model = make_tiny_model("em")
    torch.testing.assert_close(model.encode(TEXTS, task="clustering", convert_to_numpy=False), model.encode(TEXTS, convert_to_numpy=False))


@pytest.mark.parametrize("tasks", ["clustering", TASKS], ids=["one task", "mixed tasks"])
def test_encode_keeps_input_order_across_length_sorted_batches(make_tiny_model, perturb_experts, tasks):
    model = perturb_experts(make_tiny_model("mote"))  # every expert different: a wrong route would show
    together = model.encode(TEXTS, task=tasks, batch_size=2)
    per_text = [tasks] * len(TEXTS) if isinstance(tasks, str) else tasks
    one_by_one = [model.encode(t, task=task)[0] for t, task in zip(TEXTS, per_text)]
    for row, single in zip(together, one_by_one):
        assert row == pytest.approx(single, abs=1e-6)


@pytest.mark.parametrize("family", ["bert", "mpnet"])
@pytest.mark.parametrize("variant", ["mote", "mote-tlr"])
def test_save_and_load_round_trip(tmp_path, make_tiny_model, family, variant):
    # Tasks not in alphabetical order, every expert different: a load that put experts in other
    # slots than they were saved from would route tasks to the wrong weights.
    order = {"search_query": "sq", "classification": "cl", "search_document": "sd", "clustering": "cu"}
    model = make_tiny_model(variant, family=family, task_to_expert=order)
    with torch.no_grad():
        for i, expert in enumerate(model.blocks[1].experts):
            expert.up.weight.add_(0.05 * (i + 1))
    path = model.save_pretrained(tmp_path / "saved")
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in path.iterdir()}
    loaded = MoTEModel.from_pretrained(path)
    assert loaded.config == model.config
    torch.testing.assert_close(loaded.encode(TEXTS, task=TASKS, convert_to_numpy=False), model.encode(TEXTS, task=TASKS, convert_to_numpy=False))
    assert not list(tmp_path.glob("*.tmp-*"))


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


# ----------------------------------------------------------------------------- encode: inputs, truncation, NaN


def test_a_text_that_is_not_a_string_is_named_by_index_and_type(make_tiny_model):
    model = make_tiny_model("mote")
    with pytest.raises(TypeError, match=r"^texts\[3\] is NoneType, expected str$"):
        model.encode(["a", "b", "c", None], task="clustering")
    with pytest.raises(TypeError, match=r"texts\[0\] is float, expected str"):
        model.encode([float("nan")], task="clustering")  # a pandas gap


def test_empty_texts_are_an_error_unless_allowed(make_tiny_model):
    model = make_tiny_model("mote")
    with pytest.raises(ValueError, match=r"texts\[1\] is empty: .* pass allow_empty=True"):
        model.encode(["a", ""], task="clustering")
    with pytest.raises(ValueError, match=r"texts\[0\] is whitespace only"):
        model.encode([" \n"], task="clustering")
    assert model.encode(["a", ""], task="clustering", allow_empty=True).shape == (2, 32)
    assert model.encode([], task="clustering").shape == (0, 32)  # an empty shard of a sharded encode


def test_non_finite_embeddings_name_their_texts(make_tiny_model):
    model = make_tiny_model("em")
    cat = model.tokenizer.convert_tokens_to_ids("cat")
    with torch.no_grad():
        model.embeddings.word_embeddings.weight[cat] = float("inf")  # only texts with "cat" break
    texts = ["a dog", "the cat", "x", "a cat and a cat"]
    with pytest.raises(FloatingPointError, match=r"embeddings of texts\[1\], texts\[3\] hold NaN or inf \(2 of 4\)"):
        model.encode(texts)


LONG = "word " * 30  # 30 tokens and more: over the 12-token limit below


def test_truncation_is_logged_once_per_call_with_the_count(make_tiny_model, caplog):
    model = make_tiny_model("mote", max_seq_length=12)
    with caplog.at_level("WARNING", logger="mote_lib.model"):
        model.encode([LONG, "short", LONG, LONG], task="clustering", batch_size=1)
    (record,) = caplog.records
    assert "3 of 4 texts were longer than max_seq_length=12 tokens (instruction included) and were cut" in record.message
    caplog.clear()
    with caplog.at_level("WARNING", logger="mote_lib.model"):
        model.encode([LONG], task="clustering", on_truncation="ignore")
        model.encode(["short"], task="clustering")
    assert not caplog.records


def test_the_instruction_counts_towards_the_limit(make_tiny_model, caplog):
    model = make_tiny_model("mote", max_seq_length=12)
    # [CLS] + 8 words + [SEP] = 10 tokens: fits alone, not after "clustering: " (3 tokens)
    text = "one two three four five six seven eight"
    with caplog.at_level("WARNING", logger="mote_lib.model"):
        make_tiny_model("em", max_seq_length=10).encode([text])
        assert not caplog.records  # exactly the limit is not a cut
        model.encode([text], task="clustering")
    assert "1 of 1 texts" in caplog.text


def test_unpadded_tokens_are_the_padded_batch_and_name_what_was_cut(make_tiny_model):
    model = make_tiny_model("mote", max_seq_length=12)
    texts, tasks = ["short", LONG, "one two three four five six seven eight"], ["clustering", "search_query", "clustering"]
    ids, cut = model.tokenize_unpadded(texts, tasks)
    assert cut == [1, 2] and [len(row) for row in ids] == [len(model.tokenizer("clustering: short")["input_ids"]), 12, 12]
    input_ids, attention_mask = model.pad_batch(ids)
    batch = model.tokenize(texts, tasks)
    torch.testing.assert_close(input_ids, batch["input_ids"])
    torch.testing.assert_close(attention_mask, batch["attention_mask"])
    for tokenize in (model.tokenize_unpadded, model.tokenize):
        with pytest.raises(ValueError, match="2 tasks for 3 texts: give one task per text"):
            tokenize(texts, tasks[:2])


def test_a_slow_tokenizer_reports_the_same_cut_texts(make_tiny_model, tmp_path):
    from transformers import BertTokenizer

    model = make_tiny_model("mote", max_seq_length=12)
    model.tokenizer.save_pretrained(tmp_path)
    model.tokenizer = BertTokenizer.from_pretrained(tmp_path)
    texts, tasks = ["short", LONG, "one two three four five six seven eight"], ["clustering"] * 3
    assert model.tokenize_unpadded(texts, tasks)[1] == [1, 2]


def test_encode_batches_longest_first_by_token_count(make_tiny_model, monkeypatch):
    model = make_tiny_model("mote")
    lengths_seen = []
    forward = model.forward

    def recording_forward(ids, mask, experts=None, **kwargs):
        lengths_seen.extend(mask.sum(1).tolist())
        return forward(ids, mask, experts, **kwargs)

    monkeypatch.setattr(model, "forward", recording_forward)
    # characters and tokens disagree: "antidisestablishmentarianism" is the longest text, not in tokens
    texts = ["a b c d e f g h i j", "antidisestablishmentarianism", "a b", "a b c d"]
    model.encode(texts, task=["clustering", "search_query"] * 2, batch_size=2)
    assert lengths_seen == sorted(lengths_seen, reverse=True)


def test_padding_order_is_longest_first_and_keeps_ties_in_input_order():
    assert padding_order([3, 8, 8, 5]) == [1, 2, 3, 0]


def test_truncation_can_be_an_error_raised_before_any_work(make_tiny_model, monkeypatch):
    model = make_tiny_model("mote", max_seq_length=12)
    monkeypatch.setattr(model, "forward", lambda *a, **k: pytest.fail("a forward pass ran before the error"))
    # few characters, many tokens: only a count of tokens finds it
    many_tokens = "a b c d e f g h i j"
    with pytest.raises(ValueError, match=r"texts\[1\], texts\[2\] are longer than max_seq_length=12 tokens .* on_truncation='warn'"):
        model.encode(["antidisestablishmentarianism", many_tokens, LONG], task="clustering", on_truncation="raise")
    with pytest.raises(ValueError, match=r"on_truncation='loud'; valid: \['warn', 'raise', 'ignore'\]"):
        model.encode(["short"], task="clustering", on_truncation="loud")


# ----------------------------------------------------------------------------- saving


def test_saved_tokenizer_files_carry_the_models_one_truncation_length(tmp_path, make_tiny_model):
    """Before: tokenizer_config.json said 512, tokenizer.json 128, or the length of the last call."""
    import json

    model = make_tiny_model("mote", max_seq_length=40)
    first = model.save_pretrained(tmp_path / "first")
    model.tokenize(["some text"], ["clustering"], max_length=16)  # as training does, at a shorter length
    second = model.save_pretrained(tmp_path / "second")
    for folder in (first, second):
        assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 40
        saved = json.loads((folder / "tokenizer.json").read_text())
        assert saved["truncation"]["max_length"] == 40 and saved["padding"] is None
    assert (first / "tokenizer.json").read_bytes() == (second / "tokenizer.json").read_bytes()
    assert model.tokenizer.model_max_length == 512  # the model's own tokenizer is left as it was


def test_save_replaces_a_folder_that_holds_something_only_with_overwrite(tmp_path, make_tiny_model):
    first, second = make_tiny_model("em", seed=0), make_tiny_model("em", seed=1)
    (tmp_path / "empty").mkdir()
    first.save_pretrained(tmp_path / "empty")  # an empty folder counts as new
    with pytest.raises(FileExistsError, match=r"empty already holds a mote_lib model: pass overwrite=True to replace it"):
        second.save_pretrained(tmp_path / "empty")
    np.testing.assert_array_equal(MoTEModel.from_pretrained(tmp_path / "empty").encode(TEXTS), first.encode(TEXTS))
    second.save_pretrained(tmp_path / "empty", overwrite=True)
    np.testing.assert_array_equal(MoTEModel.from_pretrained(tmp_path / "empty").encode(TEXTS), second.encode(TEXTS))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"notes already holds 1 other entries \(todo.txt\): pass overwrite=True"):
        first.save_pretrained(tmp_path / "notes")


def test_a_model_with_nan_weights_is_not_saved_over_a_good_one(tmp_path, make_tiny_model):
    model = make_tiny_model("em")
    folder = model.save_pretrained(tmp_path / "m")
    with torch.no_grad():
        model.blocks[0].experts[0].up.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or inf in blocks.0.experts.0.up.weight; not saved"):
        model.save_pretrained(folder, overwrite=True)
    MoTEModel.from_pretrained(folder)


# ----------------------------------------------------------------------------- loading: checks


def test_the_weights_digest_is_recorded_and_checked(tmp_path, make_tiny_model):
    import hashlib
    import json

    folder = make_tiny_model("mote").save_pretrained(tmp_path / "m")
    recorded = json.loads((folder / "config.json").read_text())["weights_sha256"]
    assert recorded == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


def test_a_folder_saved_without_a_digest_loads_with_a_one_line_warning(tmp_path, make_tiny_model, caplog):
    import json

    folder = make_tiny_model("mote").save_pretrained(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    del config["weights_sha256"]
    (folder / "config.json").write_text(json.dumps(config))
    with caplog.at_level("WARNING", logger="mote_lib.model"):
        MoTEModel.from_pretrained(folder)
    (record,) = caplog.records
    assert "unverified weights" in record.message and "\n" not in record.message


def rewrite_weights(folder, change) -> None:
    """Apply ``change`` to the saved tensors and record the new file's digest, as a consistent (but wrong) save would."""
    import json

    from safetensors.torch import load_file, save_file

    from mote_lib.model import file_sha256

    state = load_file(str(folder / "model.safetensors"))
    change(state)
    save_file(state, str(folder / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    config["weights_sha256"] = file_sha256(folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(config))


def test_non_finite_saved_weights_are_named(tmp_path, make_tiny_model):
    from mote_lib.model import ModelFolderError

    folder = make_tiny_model("em").save_pretrained(tmp_path / "m")
    rewrite_weights(folder, lambda state: state["blocks.1.experts.0.down.weight"].fill_(float("inf")))
    with pytest.raises(ModelFolderError, match=r"model.safetensors: NaN or inf in blocks.1.experts.0.down.weight: the file is damaged"):
        MoTEModel.from_pretrained(folder)


def test_weights_of_another_variant_say_what_was_expected_and_found(tmp_path, make_tiny_model):
    import json

    from mote_lib.model import ModelFolderError

    folder = make_tiny_model("mote").save_pretrained(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["mote"]["variant"] = "ic"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match=r"config.json says variant 'ic' \(dense, 2 layers\), but the weights hold "
                                               r"4 experts in layers \[1\] of 2: the folder mixes two models' files"):
        MoTEModel.from_pretrained(folder)
    config["mote"]["variant"] = "mote"
    (folder / "config.json").write_text(json.dumps(config))

    def damage(state):
        del state["embeddings.LayerNorm.bias"]
        state["embeddings.word_embeddings.weight"] = state["embeddings.word_embeddings.weight"][:100].clone()

    rewrite_weights(folder, damage)
    with pytest.raises(ModelFolderError, match=r"^\S+ does not match config.json: 1 tensors of another shape "
                                               r"\(embeddings.word_embeddings.weight: expected \(30522, 32\), found \(100, 32\)\); "
                                               r"1 missing \(embeddings.LayerNorm.bias\): the folder mixes"):
        MoTEModel.from_pretrained(folder)


def test_a_hugging_face_folder_says_how_to_build_a_model_from_it(tiny_base):
    from mote_lib.model import ModelFolderError

    with pytest.raises(ModelFolderError, match=r"holds no mote_lib model \(config.json has no 'mote' section\): it holds a "
                                               r"Hugging Face BertModel folder: build a model from it with "
                                               r"MoTEModel.from_base\(MoTEConfig\(base_model='.*'\)\)$"):
        MoTEModel.from_pretrained(tiny_base)


def test_folders_that_hold_no_model_say_what_they_hold(tmp_path, make_tiny_model):
    from mote_lib.model import ModelFolderError

    make_tiny_model("em").save_pretrained(tmp_path / "run" / "model")
    with pytest.raises(ModelFolderError, match=r"no config.json\): it holds a training run: its model is in .*run/model$"):
        MoTEModel.from_pretrained(tmp_path / "run")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFolderError, match=r"it holds nothing \(an empty folder\)"):
        MoTEModel.from_pretrained(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        MoTEModel.from_pretrained(tmp_path / "absent")
    (tmp_path / "run" / "model").rename(tmp_path / "run" / ".model.old-4242")  # a save killed between its renames
    with pytest.raises(FileNotFoundError, match=r"its previous version is at .*\.model\.old-4242 .*remove_stale"):
        MoTEModel.from_pretrained(tmp_path / "run" / "model")


def test_a_missing_tokenizer_has_its_own_error(tmp_path, make_tiny_model):
    from mote_lib.model import ModelFolderError

    folder = make_tiny_model("em").save_pretrained(tmp_path / "m")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    with pytest.raises(ModelFolderError, match=r"m: no tokenizer \(tokenizer.json, tokenizer_config.json\): the folder is incomplete"):
        MoTEModel.from_pretrained(folder)


def test_encode_query_and_encode_document_are_the_retrieval_tasks(make_tiny_model, perturb_experts):
    model = perturb_experts(make_tiny_model("mote"))
    np.testing.assert_allclose(model.encode_query(TEXTS, batch_size=2), model.encode(TEXTS, task="search_query"), atol=1e-6)
    np.testing.assert_allclose(model.encode_document(TEXTS[0]), model.encode(TEXTS[0], task="search_document"), atol=1e-6)
    assert not np.allclose(model.encode_query(TEXTS), model.encode_document(TEXTS), atol=1e-3)
