"""mote_lib.export: MoTE as plain dense sentence-transformers folders, on every path users call them by."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from mote_lib.export import dense_backbone_for_task, export_retrieval_model, export_task_model

TEXTS = ["how do I list files", "ls lists directory contents in the long format", "x"]
TASKS = ["search_query", "search_document", "classification", "clustering"]


@pytest.fixture
def perturbed(perturb_experts):
    """Make every expert different, dense ones too, so that a wrong expert (or a missing one) shows in the output."""
    return lambda model: perturb_experts(model, scale=0.05, dense=True)


@pytest.fixture
def mote(make_tiny_model, perturbed):
    return perturbed(make_tiny_model("mote", max_seq_length=64))


def load(folder):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu")


def every_path(st) -> dict[str, np.ndarray]:
    """The embeddings of TEXTS by each way sentence-transformers users call an embedder."""
    return {"encode": st.encode(TEXTS), "encode_query": st.encode_query(TEXTS), "encode_document": st.encode_document(TEXTS)}


def assert_differs(a, b, what: str):
    assert np.abs(a - b).max() > 1e-3, f"{what}: the test could not tell them apart"


# ----------------------------------------------------------------------------- one task


@pytest.mark.parametrize("variant", ["mote", "ic", "em"])
def test_every_path_of_a_one_task_export_is_the_mote_model_for_that_task(make_tiny_model, perturbed, tmp_path, variant):
    model = perturbed(make_tiny_model(variant, max_seq_length=64))
    for task in TASKS if variant != "em" else TASKS[:1]:
        st = load(export_task_model(model, task, tmp_path / task))
        for path, embeddings in every_path(st).items():
            np.testing.assert_allclose(embeddings, model.encode(TEXTS, task=task), atol=1e-5, err_msg=f"{task}: {path}")
        config = json.loads((tmp_path / task / "config_sentence_transformers.json").read_text())
        if variant == "em":
            assert not config.get("default_prompt_name")
        else:
            instruction = model.config.instructions[task]
            name = {"classification": "Classification", "clustering": "Clustering", "search_query": "query",
                    "search_document": "document"}[task]  # names mteb knows, so it keeps them
            assert config["default_prompt_name"] == name
            assert config["prompts"] == {"query": instruction, "document": instruction, name: instruction}
            assert mteb_prompt_problems(config["prompts"]) is None
    assert not list(tmp_path.glob(".*"))  # no temporary or lock siblings left


def mteb_prompt_problems(prompts: dict[str, str]):
    """What mteb's own check says of the prompt names (None: it keeps them all)."""
    from mteb.models.abs_encoder import AbsEncoder

    _, problems = AbsEncoder.validate_task_to_prompt_name(prompts, raise_for_invalid_keys=False)
    return sorted(problems) or None


def test_no_path_of_a_one_task_export_drops_the_instruction(mote, tmp_path):
    st = load(export_task_model(mote, "clustering", tmp_path / "clustering"))
    without_instruction = st.encode(TEXTS, prompt="")  # the same dense weights, nothing prepended
    for path, embeddings in every_path(st).items():
        assert_differs(embeddings, without_instruction, f"{path} with and without the instruction")


# ----------------------------------------------------------------------------- retrieval


def test_a_retrieval_export_runs_queries_and_documents_through_their_own_expert_and_instruction(mote, tmp_path):
    folder = export_retrieval_model(mote, tmp_path / "retrieval")
    st = load(folder)
    queries, documents = mote.encode(TEXTS, task="search_query"), mote.encode(TEXTS, task="search_document")
    embeddings = every_path(st)
    np.testing.assert_allclose(embeddings["encode_query"], queries, atol=1e-5)
    np.testing.assert_allclose(embeddings["encode_document"], documents, atol=1e-5)
    np.testing.assert_allclose(embeddings["encode"], documents, atol=1e-5)  # a plain encode embeds as a document
    assert_differs(queries, documents, "the two retrieval experts and instructions")
    # Each side keeps its instruction: the same route with an empty prompt gives something else.
    assert_differs(embeddings["encode_query"], st.encode_query(TEXTS, prompt=""), "query with and without instruction")
    assert_differs(embeddings["encode_document"], st.encode_document(TEXTS, prompt=""), "document with and without instruction")
    modules = json.loads((folder / "modules.json").read_text())
    assert modules[0]["type"].endswith(".Router") and all(m["type"].startswith("sentence_transformers") for m in modules)


@pytest.mark.parametrize("variant", ["ic", "em"])
def test_a_retrieval_export_without_experts_needs_no_router(make_tiny_model, perturbed, tmp_path, variant):
    model = perturbed(make_tiny_model(variant, max_seq_length=64))
    folder = export_retrieval_model(model, tmp_path / "retrieval")
    st = load(folder)
    np.testing.assert_allclose(st.encode_query(TEXTS), model.encode(TEXTS, task="search_query"), atol=1e-5)
    np.testing.assert_allclose(st.encode_document(TEXTS), model.encode(TEXTS, task="search_document"), atol=1e-5)
    assert "Router" not in (folder / "modules.json").read_text()


# ----------------------------------------------------------------------------- model cards


def test_the_usage_snippets_of_the_export_cards_run_as_written(mote, tmp_path, capsys):
    from mote_lib.model_card import DOCUMENT_EXAMPLES, QUERY_EXAMPLE, usage_snippet

    texts = [QUERY_EXAMPLE, *DOCUMENT_EXAMPLES]
    one_task, retrieval = export_task_model(mote, "clustering", tmp_path / "one"), export_retrieval_model(mote, tmp_path / "both")
    names = run_snippet(usage_snippet((one_task / "README.md").read_text(), one_task))
    np.testing.assert_allclose(names["embeddings"], mote.encode(texts, task="clustering"), atol=1e-5)
    names = run_snippet(usage_snippet((retrieval / "README.md").read_text(), retrieval))
    np.testing.assert_allclose(names["queries"], mote.encode([QUERY_EXAMPLE], task="search_query"), atol=1e-5)
    np.testing.assert_allclose(names["documents"], mote.encode(DOCUMENT_EXAMPLES, task="search_document"), atol=1e-5)
    assert "tensor" in capsys.readouterr().out  # both print their similarities


def run_snippet(code: str) -> dict:
    """Run a card's snippet as a user would paste it; return the names it defined."""
    names = {}
    exec(compile(code, "<model card>", "exec"), names)
    return names


def test_export_cards_say_what_the_folder_computes_and_load_back_with_their_metadata(mote, tmp_path):
    from huggingface_hub import ModelCard

    training = {"steps": 180, "lr": 5e-05, "seed": 1, "training_data": "hub"}
    one_task = ModelCard.load(export_task_model(mote, "clustering", tmp_path / "one", training=training) / "README.md")
    retrieval = ModelCard.load(export_retrieval_model(mote, tmp_path / "both") / "README.md")
    for card in (one_task, retrieval):
        metadata = card.data.to_dict()
        assert metadata["library_name"] == "sentence-transformers" and metadata["pipeline_tag"] == "sentence-similarity"
        assert {"sentence-transformers", "mote"} <= set(metadata["tags"])
    # One task: its instruction is the default prompt, under the mteb task type's name; the run's settings carried over.
    assert "| `Clustering` | `'clustering: '` | yes |" in one_task.text and "| steps | 180 |" in one_task.text
    assert one_task.data.to_dict()["datasets"] == ["sentence-transformers/embedding-training-data"]
    query = ModelCard.load(export_task_model(mote, "search_query", tmp_path / "query") / "README.md")
    assert ("Its instruction `'search_query: '` is the default prompt, saved under the prompt names `query`, `document`, "
            "so `encode`, `encode(prompt_name='query')`") in query.text
    # Retrieval: each call names its own encoder and prompt; the pitfall of a plain encode is spelled out.
    for expected in ("`encode_query` runs the `search_query` encoder", "`encode_document` the `search_document` encoder",
                     "`encode_query` prepends the `query` prompt `'search_query: '`", "a plain `encode(texts)` embeds as a document",
                     "two dense encoders, one per side", "model.encode_query(", "model.encode_document("):
        assert expected.lower() in retrieval.text.lower(), expected
    assert "datasets" not in retrieval.data.to_dict()  # no training record given: nothing claimed


def test_a_retrieval_card_without_a_router_says_one_encoder_serves_both(make_tiny_model, tmp_path):
    folder = export_retrieval_model(make_tiny_model("em", max_seq_length=64), tmp_path / "em")
    text = (folder / "README.md").read_text()
    for expected in ("One dense encoder serves both sides", "prepends no instruction", "give the same embeddings",
                     "None: this model prepends no instruction."):
        assert expected in text, expected
    assert "Router" not in text


# ----------------------------------------------------------------------------- the folders need nothing but sentence-transformers


def test_the_exported_folders_load_without_mote_lib(mote, tmp_path):
    one_task = export_task_model(mote, "search_document", tmp_path / "doc")
    retrieval = export_retrieval_model(mote, tmp_path / "retrieval")
    modules = json.loads((one_task / "modules.json").read_text())
    assert all(m["type"].startswith("sentence_transformers") for m in modules)
    script = (
        "import sys, numpy as np; sys.modules['mote_lib'] = None\n"  # any import of mote_lib now fails
        "from sentence_transformers import SentenceTransformer\n"
        f"texts = {TEXTS!r}\n"
        f"one, both = (SentenceTransformer(f, device='cpu') for f in ({str(one_task)!r}, {str(retrieval)!r}))\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, np.stack([one.encode(texts), both.encode_query(texts), both.encode_document(texts)]))\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    one, query, document = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(one, mote.encode(TEXTS, task="search_document"), atol=1e-5)
    np.testing.assert_allclose(query, mote.encode(TEXTS, task="search_query"), atol=1e-5)
    np.testing.assert_allclose(document, mote.encode(TEXTS, task="search_document"), atol=1e-5)


# ----------------------------------------------------------------------------- mteb


EXPORTS_FOR_MTEB = {  # an offline task, the export mteb gets, and whether mteb calls encode_query / encode_document
    "FaqRetrieval": (export_retrieval_model, True),
    # mote_lib embeds STS for other_task, "classification" by default
    "LeeDocumentSTS": (lambda model, folder: export_task_model(model, "classification", folder), False),
}


@pytest.mark.parametrize("name", EXPORTS_FOR_MTEB)
def test_mteb_scores_an_export_as_mote_lib_scores_the_model(mote, small_eval_root, tmp_path, name):
    """The same task, data and evaluator settings as ``evaluate_models``; only the encoder differs."""
    from mote_lib.evaluate import evaluate_models

    export, asymmetric = EXPORTS_FOR_MTEB[name]
    through_mote_lib = evaluate_models({"mote": mote}, tasks=[name], data_root=small_eval_root, store=tmp_path / "results",
                                       show_progress=False)
    st = load(export(mote, tmp_path / "export"))
    calls = spy_on(st, ["encode_query", "encode_document"])
    through_mteb = mteb_scores(st, name, small_eval_root)
    assert [bool(n) for n in calls.values()] == [asymmetric] * 2, calls  # queries and documents by their own calls, or plain encode
    for row in through_mote_lib.itertuples():
        assert row.error is None
        assert through_mteb[row.split] == pytest.approx(row.score, abs=1e-6)
    # The comparison can see a lost instruction: without the prompts the score moves.
    st.prompts, st.default_prompt_name = {"query": "", "document": ""}, None
    assert mteb_scores(st, name, small_eval_root) != through_mteb


def mteb_scores(st, task_name: str, root) -> dict[str, float]:
    """Scores x100 per split of ``st`` on an offline task, by mteb run as ``mote_lib.evaluate`` runs it offline."""
    import mteb

    from mote_lib.evaluate import quiet_datasets
    from mote_lib.mteb_tasks import offline_tasks

    with quiet_datasets():  # no result cache, always run
        result = mteb.evaluate(st, offline_tasks([task_name], root=root), cache=None, overwrite_strategy="always",
                               co2_tracker=False, raise_error=True, show_progress_bar=False,
                               encode_kwargs={"batch_size": 32, "show_progress_bar": False})
    task_result = result.task_results[0]
    return {split: 100 * task_result.get_score(splits=[split]) for split in task_result.scores}


def spy_on(obj, methods: list[str]) -> dict[str, int]:
    """Count the calls of ``obj``'s ``methods`` (still called through) in the returned dict."""
    calls = dict.fromkeys(methods, 0)

    def counted(name, method):
        def call(*args, **kwargs):
            calls[name] += 1
            return method(*args, **kwargs)
        return call

    for name in methods:
        setattr(obj, name, counted(name, getattr(obj, name)))
    return calls


# ----------------------------------------------------------------------------- the dense model, and what cannot be exported


def test_mpnet_models_export_too(make_tiny_model, perturbed):
    from mote_lib.model import mean_pool

    model = perturbed(make_tiny_model("mote", family="mpnet", max_seq_length=64))
    dense = dense_backbone_for_task(model, "clustering")
    batch = model.tokenize(TEXTS, ["clustering"] * len(TEXTS))
    with torch.no_grad():
        expected = mean_pool(dense(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state,
                             batch["attention_mask"])
    np.testing.assert_allclose(expected.numpy(), model.encode(TEXTS, task="clustering"), atol=1e-5)


def test_token_routed_models_and_unknown_tasks_cannot_be_exported(make_tiny_model, tmp_path):
    with pytest.raises(ValueError, match="token-routed"):
        export_task_model(make_tiny_model("mote-tlr"), "clustering", tmp_path / "x")
    with pytest.raises(ValueError, match="token-routed"):
        export_retrieval_model(make_tiny_model("mote-tlr"), tmp_path / "x")
    with pytest.raises(ValueError, match="valid tasks"):
        export_task_model(make_tiny_model("mote"), "summarization", tmp_path / "x")
    with pytest.raises(ValueError, match="export_retrieval_model"):
        export_task_model(make_tiny_model("mote"), "retrieval", tmp_path / "x")
    with pytest.raises(ValueError, match="valid tasks"):
        export_retrieval_model(make_tiny_model("mote"), tmp_path / "x", query_task="query")
    assert not (tmp_path / "x").exists()
