"""mote_lib.export and mote_lib.st_module: MoTE in stock sentence-transformers, and model cards."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from mote_lib.export import dense_backbone_for_task, export_task_model, model_card
from mote_lib.st_module import save_as_sentence_transformer

TEXTS = ["how do I list files", "ls lists directory contents in the long format", "x"]
TASKS = ["search_query", "search_document", "classification", "clustering"]


def perturbed(model):
    """Make every expert different, so that a wrong expert (or a missing one) shows in the output."""
    torch.manual_seed(1)
    with torch.no_grad():
        for bank in model.blocks:
            for expert in bank.experts:
                for p in expert.parameters():
                    p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("variant", ["mote", "ic", "em"])
def test_an_exported_task_model_is_the_mote_model_for_that_task(make_tiny_model, tmp_path, variant):
    from sentence_transformers import SentenceTransformer

    model = perturbed(make_tiny_model(variant, max_seq_length=64))
    for task in TASKS if variant == "mote" else TASKS[:1]:
        folder = export_task_model(model, task, tmp_path / task)
        loaded = SentenceTransformer(str(folder), device="cpu")
        np.testing.assert_allclose(loaded.encode(TEXTS), model.encode(TEXTS, task=task), atol=1e-5)
        prompts = json.loads((folder / "config_sentence_transformers.json").read_text())
        if variant == "em":
            assert not prompts.get("default_prompt_name")
        else:
            assert prompts["default_prompt_name"] == task and prompts["prompts"][task] == model.config.instructions[task]
    assert not list(tmp_path.glob("*.tmp-*"))


def test_the_exported_folder_loads_without_mote_lib(make_tiny_model, tmp_path):
    model = perturbed(make_tiny_model("mote", max_seq_length=64))
    folder = export_task_model(model, "search_document", tmp_path / "doc")
    modules = json.loads((folder / "modules.json").read_text())
    assert all(m["type"].startswith("sentence_transformers") for m in modules)
    script = (
        "import sys, json, numpy as np; sys.modules['mote_lib'] = None\n"  # any import of mote_lib now fails
        "from sentence_transformers import SentenceTransformer\n"
        f"m = SentenceTransformer({str(folder)!r}, device='cpu')\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, m.encode({TEXTS!r}))\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), model.encode(TEXTS, task="search_document"), atol=1e-5)


def test_mpnet_models_export_too(minilm_tokenizer):
    from transformers import AutoModel, MPNetConfig

    from mote_lib.model import MoTEConfig, MoTEModel, mean_pool

    torch.manual_seed(0)
    backbone = AutoModel.from_config(MPNetConfig(vocab_size=30527, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                 intermediate_size=64, max_position_embeddings=514), add_pooling_layer=False)
    model = perturbed(MoTEModel(MoTEConfig(variant="mote", max_seq_length=64), backbone, minilm_tokenizer).eval())
    dense = dense_backbone_for_task(model, "clustering")
    batch = model.tokenize(TEXTS, ["clustering"] * len(TEXTS))
    with torch.no_grad():
        expected = mean_pool(dense(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state,
                             batch["attention_mask"])
    np.testing.assert_allclose(expected.numpy(), model.encode(TEXTS, task="clustering"), atol=1e-5)


def test_token_routed_models_and_unknown_tasks_cannot_be_exported(make_tiny_model, tmp_path):
    with pytest.raises(ValueError, match="token-routed"):
        export_task_model(make_tiny_model("mote-tlr"), "clustering", tmp_path / "x")
    with pytest.raises(ValueError, match="valid tasks"):
        export_task_model(make_tiny_model("mote"), "summarization", tmp_path / "x")


def test_a_whole_mote_model_in_sentence_transformers_routes_by_task(make_tiny_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    from mote_lib.model import MoTEModel

    model = perturbed(make_tiny_model("mote", max_seq_length=64))
    folder = save_as_sentence_transformer(model, tmp_path / "st")
    loaded = SentenceTransformer(str(folder), device="cpu", trust_remote_code=True)
    for task in TASKS:
        np.testing.assert_allclose(loaded.encode(TEXTS, task=task), model.encode(TEXTS, task=task), atol=1e-5)
    with pytest.raises(ValueError, match="needs a task"):
        loaded.encode(TEXTS)
    again = MoTEModel.from_pretrained(folder)  # the same folder is a mote_lib model too
    np.testing.assert_allclose(again.encode(TEXTS, task="clustering"), model.encode(TEXTS, task="clustering"), atol=1e-6)


def test_model_cards_describe_the_model_its_training_and_its_scores(make_tiny_model, tmp_path):
    model = make_tiny_model("mote")
    evaluation = pd.DataFrame([{"task": "FaqRetrieval", "task_type": "Retrieval", "main_metric": "ndcg_at_10", "score": 41.234}])
    card = model_card(model, training={"profile": "cpu", "steps": 180, "batch_size": 32, "ta_cl": True}, evaluation=evaluation)
    for expected in ("`mote`", "sequence", "classification, clustering, search_document, search_query",
                     "`'search_query: '`", "| profile | cpu |", "| steps | 180 |", "| FaqRetrieval | Retrieval | ndcg_at_10 | 41.23 |"):
        assert expected in card, expected
    saved = model.save_pretrained(tmp_path / "m")
    assert "Not recorded" in (saved / "README.md").read_text()
