"""mote_lib.export and mote_lib.st_module: MoTE in stock sentence-transformers."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from mote_lib.export import dense_backbone_for_task, export_task_model
from mote_lib.st_module import save_as_sentence_transformer

TEXTS = ["how do I list files", "ls lists directory contents in the long format", "x"]
TASKS = ["search_query", "search_document", "classification", "clustering"]


@pytest.fixture
def perturbed(perturb_experts):
    """Make every expert different, dense ones too, so that a wrong expert (or a missing one) shows in the output."""
    return lambda model: perturb_experts(model, scale=0.05, dense=True)


@pytest.mark.parametrize("variant", ["mote", "ic", "em"])
def test_an_exported_task_model_is_the_mote_model_for_that_task(make_tiny_model, perturbed, tmp_path, variant):
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


def test_the_exported_folder_loads_without_mote_lib(make_tiny_model, perturbed, tmp_path):
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
    with pytest.raises(ValueError, match="valid tasks"):
        export_task_model(make_tiny_model("mote"), "summarization", tmp_path / "x")


def test_a_whole_mote_model_in_sentence_transformers_routes_by_task(make_tiny_model, perturbed, tmp_path):
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
