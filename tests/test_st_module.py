"""mote_lib.st_module: a whole MoTE model inside sentence-transformers, routed by task (and by encode_query / encode_document)."""

import numpy as np
import pytest

from mote_lib.model import MoTEConfig, MoTEModel
from mote_lib.st_module import resolve_task, save_as_sentence_transformer

TEXTS = ["how do I list files", "ls lists directory contents in the long format", "x"]
TASKS = ["search_query", "search_document", "classification", "clustering"]


@pytest.fixture
def saved(make_tiny_model, perturb_experts, tmp_path):
    """``saved(variant)``: a tiny model whose experts all differ, and that model saved and loaded by sentence-transformers."""
    from sentence_transformers import SentenceTransformer

    def make(variant: str = "mote"):
        model = perturb_experts(make_tiny_model(variant, max_seq_length=64), scale=0.05, dense=True)
        folder = save_as_sentence_transformer(model, tmp_path / variant)
        return model, SentenceTransformer(str(folder), device="cpu", trust_remote_code=True), folder

    return make


def test_every_task_routes_to_its_instruction_and_experts(saved):
    model, st, folder = saved()
    for task in TASKS:
        np.testing.assert_allclose(st.encode(TEXTS, task=task), model.encode(TEXTS, task=task), atol=1e-5)
    again = MoTEModel.from_pretrained(folder)  # the same folder is a mote_lib model too
    np.testing.assert_allclose(again.encode(TEXTS, task="clustering"), model.encode(TEXTS, task="clustering"), atol=1e-6)


def test_encode_query_and_encode_document_are_the_two_retrieval_tasks(saved):
    model, st, _ = saved()
    queries, documents = model.encode(TEXTS, task="search_query"), model.encode(TEXTS, task="search_document")
    assert np.abs(queries - documents).max() > 1e-3, "the retrieval experts must differ for this test to mean anything"
    np.testing.assert_allclose(st.encode_query(TEXTS), queries, atol=1e-5)
    np.testing.assert_allclose(st.encode_document(TEXTS), documents, atol=1e-5)
    np.testing.assert_allclose(st.encode(TEXTS, task="query"), queries, atol=1e-5)  # what encode_query passes


def test_a_call_without_a_task_or_with_an_unknown_one_lists_the_valid_tasks(saved):
    _, st, _ = saved()
    with pytest.raises(ValueError, match=r"needs a task.*'clustering'.*'query'.*encode_query"):
        st.encode(TEXTS)
    with pytest.raises(ValueError, match=r"unknown task 'summarization'; valid tasks: .*'search_query'"):
        st.encode(TEXTS, task="summarization")
    with pytest.raises(ValueError, match="do not pass a prompt"):
        st.encode(TEXTS, task="clustering", prompt="query: ")


def test_an_em_model_needs_no_task(saved):
    model, st, _ = saved("em")
    np.testing.assert_allclose(st.encode(TEXTS), model.encode(TEXTS), atol=1e-5)
    np.testing.assert_allclose(st.encode_query(TEXTS), model.encode(TEXTS), atol=1e-5)


def test_loading_needs_trust_remote_code(saved):
    from sentence_transformers import SentenceTransformer

    _, _, folder = saved()
    with pytest.raises(ValueError, match="trust_remote_code"):
        SentenceTransformer(str(folder), device="cpu")


def test_a_models_own_task_named_like_an_alias_is_kept():
    config = MoTEConfig(instructions={"query": "q: ", "document": "d: ", "search_query": "sq: "})
    assert resolve_task("query", config) == "query"
    assert resolve_task("document", config) == "document"
    with pytest.raises(ValueError, match="valid tasks"):
        resolve_task("document", MoTEConfig(instructions={"clustering": "c: "}))  # no search_document to alias


def test_bad_inputs_are_refused_before_tokenising_naming_the_type_and_value(saved, monkeypatch):
    model, st, _ = saved()

    def must_not_tokenise(*args, **kwargs):
        raise AssertionError("tokenised before the inputs were checked")

    monkeypatch.setattr(st[0].model, "tokenize", must_not_tokenise)
    with pytest.raises(TypeError, match=r"^an input is NoneType \(None\), expected str"):
        st.encode(["fine", None], task="clustering")
    with pytest.raises(TypeError, match=r"an input is int \(3\), expected str"):
        st.encode_query(["fine", 3])
    with pytest.raises(ValueError, match=r"an input is empty \(''\).*allow_empty=True"):
        st.encode(["fine", ""], task="clustering")
    with pytest.raises(ValueError, match="whitespace only"):
        st.encode_document(["fine", "  "])


def test_empty_texts_embed_as_the_instruction_when_allowed_per_call_or_on_the_module(saved):
    model, st, _ = saved()
    texts = ["fine", "", " "]
    expected = model.encode(texts, task="clustering", allow_empty=True)
    np.testing.assert_allclose(st.encode(texts, task="clustering", allow_empty=True), expected, atol=1e-5)
    st[0].allow_empty = True  # e.g. for mteb, which cannot pass the argument
    np.testing.assert_allclose(st.encode(texts, task="clustering"), expected, atol=1e-5)
    with pytest.raises(ValueError, match="empty"):
        st.encode(texts, task="clustering", allow_empty=False)  # the call's choice wins
