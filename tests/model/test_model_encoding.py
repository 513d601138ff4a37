"""MoTEModel.encode and mote_lib.model.encoding on tiny encoders: tasks, order, batching, inputs, truncation, NaN."""

import numpy as np
import pytest
import torch

from mote_lib.model import padding_order

TEXTS = ["a cat sat on the mat", "stocks fell sharply today", "how do I list files", "x"]
TASKS = ["search_query", "search_document", "classification", "clustering"]


def test_unknown_task_lists_the_valid_tasks(make_tiny_model):
    model = make_tiny_model("mote")
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['retrieval'\]; valid tasks: \['search_query', 'search_document', 'classification', 'clustering'\]"):
        model.encode(["x"], task="retrieval")


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


def test_encode_query_and_encode_document_are_the_retrieval_tasks(make_tiny_model, perturb_experts):
    model = perturb_experts(make_tiny_model("mote"))
    np.testing.assert_allclose(model.encode_query(TEXTS, batch_size=2), model.encode(TEXTS, task="search_query"), atol=1e-6)
    np.testing.assert_allclose(model.encode_document(TEXTS[0]), model.encode(TEXTS[0], task="search_document"), atol=1e-6)
    assert not np.allclose(model.encode_query(TEXTS), model.encode_document(TEXTS), atol=1e-3)


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


def test_truncation_can_be_an_error_raised_before_any_work(make_tiny_model, monkeypatch):
    model = make_tiny_model("mote", max_seq_length=12)
    monkeypatch.setattr(model, "forward", lambda *a, **k: pytest.fail("a forward pass ran before the error"))
    # few characters, many tokens: only a count of tokens finds it
    many_tokens = "a b c d e f g h i j"
    with pytest.raises(ValueError, match=r"texts\[1\], texts\[2\] are longer than max_seq_length=12 tokens .* on_truncation='warn'"):
        model.encode(["antidisestablishmentarianism", many_tokens, LONG], task="clustering", on_truncation="raise")
    with pytest.raises(ValueError, match=r"on_truncation='loud'; valid: \['warn', 'raise', 'ignore'\]"):
        model.encode(["short"], task="clustering", on_truncation="loud")
