"""mote_lib.lab.claims: verdicts computed from the stored result tables, missing tables reported."""

import pandas as pd
import pytest

from mote_lib.lab import experiments
from mote_lib.lab.claims import CLAIMS, NOT_MEASURED, NOT_REPRODUCED, REPRODUCED, claims_table, write_claims
from mote_lib.profiles import get_profile


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path))
    summary = pd.DataFrame([("gain mote", "Retrieval", 5.0), ("gain ic", "Retrieval", 2.0),
                            ("gain mote", "average (all datasets)", -0.5), ("gain ic", "average (all datasets)", 1.0),
                            ("gain mote", "Clustering", -0.2), ("gain mote", "Reranking", 1.0),
                            ("gain ic", "Reranking", 0.5)], columns=["model", "task_type", "score"])
    experiments.write_result(summary, "summary", "smoke")
    similarity = pd.DataFrame([(m, a, b, c) for m, c in (("ic", 0.95), ("mote", 0.90))
                               for a, b in (("clustering", "search_query"), ("search_query", "clustering"))],
                              columns=["model", "task_a", "task_b", "cosine"])
    experiments.write_result(similarity, "inter_task_similarity", "smoke")
    return tmp_path


def test_verdicts_follow_the_criteria_and_missing_tables_are_not_measured(results):
    table = claims_table("smoke").set_index("claim")
    verdict = table["verdict"]
    assert verdict["Retrieval: MoTE's gain over EM / IC's gain"] == REPRODUCED
    assert table.loc["Retrieval: MoTE's gain over EM / IC's gain", "ours"] == "+5.00 / +2.00 = 2.50"
    assert verdict["All datasets: MoTE's gain over EM / IC's gain"] == NOT_REPRODUCED
    assert verdict["Clustering stays near EM"] == REPRODUCED
    assert verdict["Re-ranking: MoTE below IC (distribution shift)"] == NOT_REPRODUCED
    assert verdict["Lower inter-task similarity under MoTE"] == REPRODUCED
    assert verdict["MoTE beats IC significantly"] == NOT_MEASURED
    assert "run 05_significance_tests" in table.loc["MoTE beats IC significantly", "ours"]
    assert len(table) == len(CLAIMS)


def test_write_claims_writes_a_markdown_table(results):
    path = write_claims("smoke")
    text = path.read_text()
    assert path == results / "smoke" / "claims.md"
    assert text.count("\n| ") == len(CLAIMS) + 1 and "claims reproduced" in text
    assert f"{get_profile('smoke').eval_sample} records per task" in text and "steps of" in text
    assert str(results) not in text, "a missing table is named relative to results/, not by this machine's path"
