"""mote_lib.mteb_tasks: the shipped suite as mteb tasks of their real types; the real MTEB lists offline."""

import pytest

from mote_lib.data import list_eval_tasks, load_eval_task
from mote_lib.mteb_tasks import EVALUATOR_SETTINGS, MTEB_LITE, mteb_tasks, offline_tasks

EXPECTED_BASES = {
    "Retrieval": "AbsTaskRetrieval", "Reranking": "AbsTaskRetrieval", "Classification": "AbsTaskClassification",
    "Clustering": "AbsTaskClustering", "STS": "AbsTaskSTS", "PairClassification": "AbsTaskPairClassification",
}


def test_every_shipped_task_is_an_mteb_task_of_its_type():
    tasks = offline_tasks()
    assert [t.metadata.name for t in tasks] == list_eval_tasks()
    for task in tasks:
        shipped = load_eval_task(task.metadata.name)
        assert task.metadata.type == shipped.type
        assert task.metadata.main_score == shipped.metadata["main_score"]
        assert EXPECTED_BASES[shipped.type] in [base.__name__ for base in type(task).__mro__]


def test_unknown_task_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid: .*FaqRetrieval"):
        offline_tasks(["FaqRetreival"])
    with pytest.raises(ValueError, match="valid: .*mteb-lite"):
        mteb_tasks("mteb-english")


def test_loaded_data_has_the_shapes_mteb_expects():
    by_name = {t.metadata.name: t for t in offline_tasks()}
    faq, rerank = by_name["FaqRetrieval"], by_name["DebianPackageReranking"]
    for task in (faq, rerank):
        task.load_data()
    split = faq.dataset["default"]["test"]
    assert split["top_ranked"] is None and len(split["queries"]) == 607
    assert set(split["corpus"].column_names) == {"id", "title", "text"}
    assert all(isinstance(d, dict) and all(v == 1 for v in d.values()) for d in split["relevant_docs"].values())
    candidates = rerank.dataset["default"]["test"]["top_ranked"]
    assert len(candidates) == 150 and all(len(c) == 20 for c in candidates.values())

    clustering = by_name["BrownGenreClustering"]
    clustering.load_data()
    assert clustering.dataset["test"].column_names == ["sentences", "labels"]
    assert clustering.max_fraction_of_documents_to_embed is None
    assert clustering.max_documents_per_cluster == len(clustering.dataset["test"]) == 1000

    classification = by_name["DebtagsUseClassification"]
    classification.load_data()
    assert set(classification.dataset) == {"train", "test"}
    assert classification.samples_per_label == EVALUATOR_SETTINGS["Classification"]["samples_per_label"]

    pairs, sts = by_name["WordSenseDefinitionPairs"], by_name["LeeDocumentSTS"]
    pairs.load_data(), sts.load_data()
    assert set(pairs.dataset["test"]["labels"]) == {0, 1}
    assert (sts.min_score, sts.max_score) == (0, 1)
    assert 0 <= min(sts.dataset["test"]["score"]) and max(sts.dataset["test"]["score"]) <= 1


def test_real_mteb_suites_resolve_without_network(no_network):
    english = mteb_tasks("mteb-en")
    assert len(english) == 56
    assert {t.metadata.type for t in english} == {
        "Classification", "Clustering", "PairClassification", "Reranking", "Retrieval", "STS", "Summarization"}
    lite = mteb_tasks("mteb-lite")
    assert sorted(t.metadata.name for t in lite) == sorted(MTEB_LITE)
    assert {t.metadata.name for t in lite} <= {t.metadata.name for t in english}
