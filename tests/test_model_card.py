"""mote_lib.model_card: the README written with every saved model, as the Hub and its tools read it."""

import numpy as np
import pandas as pd
from huggingface_hub import ModelCard

from mote_lib import data
from mote_lib.model_card import (
    DOCUMENT_EXAMPLES,
    HUB_TRAINING_DATA,
    QUERY_EXAMPLE,
    model_card,
    training_record,
    usage_snippet,
)


def test_model_cards_describe_the_model_its_training_and_its_scores(make_tiny_model):
    model = make_tiny_model("mote")
    evaluation = pd.DataFrame([
        {"task": "FaqRetrieval", "task_type": "Retrieval", "split": "test", "main_metric": "ndcg_at_10", "score": 41.234, "error": None},
        {"task": "LeeDocumentSTS", "task_type": "STS", "split": None, "main_metric": "cosine_spearman", "score": float("nan"),
         "error": "RuntimeError: out of memory\nmore"},
    ])
    training = training_record({"profile": "cpu", "steps": 180, "batch_size": 32, "ta_cl": True, "bf16": "auto",
                                "temperatures": {"retrieval": 0.03}, "no_ta_cl_temperature": 0.05, "training_data": "auto"},
                               {"bf16": False, "training_data": "shipped", "final_loss": 1.234567})
    card = model_card(model, training=training, evaluation=evaluation)
    for expected in ("`mote`", "sequence", "classification, clustering, search_document, search_query",
                     "`'search_query: '`", "| profile | cpu |", "| steps | 180 |", "| bf16 | False |",  # what happened, not "auto"
                     "| temperatures | retrieval 0.03 |", "| final_loss | 1.235 |", "the corpora shipped with mote-lab",
                     "| FaqRetrieval | Retrieval | test | ndcg_at_10 | 41.23 |",
                     "| LeeDocumentSTS | STS |  | cosine_spearman | failed: RuntimeError: out of memory |"):
        assert expected in card, expected
    assert "no_ta_cl_temperature" not in card  # the ablation's temperature is not the one TA-CL used
    assert "datasets" not in ModelCard(card).data.to_dict()  # the shipped corpora are not on the Hub


def test_a_saved_card_loads_back_with_huggingface_hub_and_holds_the_metadata(make_tiny_model, tmp_path):
    model = make_tiny_model("ic")  # MoTEConfig's base model: the built-in minilm
    saved = model.save_pretrained(tmp_path / "m")
    card = ModelCard.load(saved / "README.md")
    metadata = card.data.to_dict()
    assert metadata["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert metadata["license"] == "apache-2.0"
    assert metadata["library_name"] == "mote-lib"  # a native folder: sentence-transformers cannot load it
    assert metadata["pipeline_tag"] == "sentence-similarity"
    assert {"mote", "mixture-of-task-experts", "mote-variant-ic"} <= set(metadata["tags"])
    assert "sentence-transformers" not in metadata["tags"] and "datasets" not in metadata
    assert "Not recorded with this save" in card.text
    hub_trained = ModelCard(model_card(model, training={"training_data": "hub", "steps": 3}))
    assert hub_trained.data.to_dict()["datasets"] == [HUB_TRAINING_DATA] == [data.HUB_TRAINING_DATA]


def test_the_metadata_says_nothing_it_does_not_know(make_tiny_model, tiny_base):
    # A local base folder without a card: no Hub id, no license; and the card names the folder, not the machine's path.
    card = model_card(make_tiny_model("mote", base_model=tiny_base))
    metadata = ModelCard(card).data.to_dict()
    assert "base_model" not in metadata and "license" not in metadata
    assert tiny_base not in card and "a local folder" in card
    assert "base_model" not in ModelCard(model_card(make_tiny_model("mote", base_model="tiny-random-bert"))).data.to_dict()


def test_a_model_trained_with_the_command_line_has_its_settings_in_its_card(tiny_base, tiny_data, tmp_path, monkeypatch):
    from mote_lib.train import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # training_data auto falls back to the data root, as it says
    argv = ["--profile", "smoke", "--output", str(tmp_path / "run"), "--base-model", tiny_base, "--data-root", tiny_data,
            "--training-data", "auto", "--steps", "2", "--batch-size", "4", "--max-seq-length", "32", "--lr", "0.002",
            "--seed", "7", "--checkpoint-every", "1", "--no-ta-cl"]
    assert main(argv) == 0
    card = ModelCard.load(tmp_path / "run" / "model" / "README.md")
    for expected in ("| profile | smoke |", "| steps | 2 |", "| batch_size | 4 |", "| lr | 0.002 |", "| seed | 7 |",
                     "| max_seq_length | 32 |", "| ta_cl | False |", "| no_ta_cl_temperature | 0.05 |", "| bf16 | False |",
                     "| device | cpu |", "| max_examples_per_dataset | 200 |", "| training_data | a local `data_root` folder |",
                     "| final_loss |"):
        assert expected in card.text, expected
    assert "Not recorded" not in card.text and str(tmp_path) not in card.text
    assert "datasets" not in card.data.to_dict() and card.data.to_dict()["library_name"] == "mote-lib"


def test_the_usage_snippet_of_a_saved_model_runs_as_written(make_tiny_model, tmp_path, capsys):
    model = make_tiny_model("mote", max_seq_length=64)
    folder = model.save_pretrained(tmp_path / "m")
    names = {}
    exec(usage_snippet((folder / "README.md").read_text(), folder), names)
    np.testing.assert_allclose(names["queries"], model.encode([QUERY_EXAMPLE], task="search_query"), atol=1e-6)
    np.testing.assert_allclose(names["documents"], model.encode(DOCUMENT_EXAMPLES, task="search_document"), atol=1e-6)
    assert capsys.readouterr().out.strip()  # it prints the scores
