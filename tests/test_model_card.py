"""mote_lib.model_card: the README written with every saved model."""

import pandas as pd

from mote_lib.model_card import model_card


def test_model_cards_describe_the_model_its_training_and_its_scores(make_tiny_model, tmp_path):
    model = make_tiny_model("mote")
    evaluation = pd.DataFrame([{"task": "FaqRetrieval", "task_type": "Retrieval", "main_metric": "ndcg_at_10", "score": 41.234}])
    card = model_card(model, training={"profile": "cpu", "steps": 180, "batch_size": 32, "ta_cl": True}, evaluation=evaluation)
    for expected in ("`mote`", "sequence", "classification, clustering, search_document, search_query",
                     "`'search_query: '`", "| profile | cpu |", "| steps | 180 |", "| FaqRetrieval | Retrieval | ndcg_at_10 | 41.23 |"):
        assert expected in card, expected
    saved = model.save_pretrained(tmp_path / "m")
    assert "Not recorded" in (saved / "README.md").read_text()
