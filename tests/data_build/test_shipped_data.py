"""The committed data/: loads, matches its datasheet, keeps evaluation unseen, fits the budget."""

import json
from itertools import chain
from pathlib import Path

import pytest
from build_data import NearDuplicateIndex, normalise
from datasheet import generated_block, render_tables

from mote_lib.data import EVAL_TYPES, TRAIN_TASKS, eval_texts, list_eval_tasks, load_eval_task, load_training_data
from mote_lib.names import RETRIEVAL_TYPES

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def training():
    return load_training_data(DATA)


@pytest.fixture(scope="module")
def eval_tasks():
    return {name: load_eval_task(name, DATA) for name in list_eval_tasks(DATA)}


def test_training_hierarchy_has_every_task_and_100k_examples(training):
    assert sorted(training) == sorted(TRAIN_TASKS)
    assert all(len(datasets) >= 2 for datasets in training.values())
    assert sum(len(ds) for datasets in training.values() for ds in datasets.values()) >= 100_000


def test_label_based_datasets_have_labels_for_every_example(training):
    for task in ("classification", "clustering"):
        labelled = [name for name, ds in training[task].items() if ds["label"][0] is not None]
        assert labelled, f"{task} has no label-based dataset"
        for name in labelled:
            assert None not in training[task][name]["label"], name


def test_no_source_dominates_training(training):
    sizes = [len(ds) for datasets in training.values() for ds in datasets.values()]
    assert max(sizes) <= 20_000
    assert max(sizes) / sum(sizes) < 0.2


def test_evaluation_suite_covers_every_task_type(eval_tasks):
    assert {task.type for task in eval_tasks.values()} == set(EVAL_TYPES)


@pytest.fixture(scope="module")
def all_eval_texts(eval_tasks):
    return {normalise(t) for task in eval_tasks.values() for t in chain.from_iterable(eval_texts(task).values())}


def _training_texts(training):
    for datasets in training.values():
        for name, ds in datasets.items():
            for column in ("anchor", "positive", "negative"):
                yield name, column, {t for t in ds[column] if t is not None}


def test_no_evaluation_text_occurs_in_training(training, all_eval_texts):
    assert len(all_eval_texts) > 10_000
    for name, column, texts in _training_texts(training):
        leaked = {normalise(t) for t in texts} & all_eval_texts
        assert not leaked, f"{name}.{column} holds {len(leaked)} evaluation texts, e.g. {sorted(leaked)[:2]}"


def test_no_training_text_is_a_near_copy_of_an_evaluation_text(training, all_eval_texts):
    index = NearDuplicateIndex(sorted(all_eval_texts))
    for name, column, texts in _training_texts(training):
        copies = [t for t in texts if index.matches(t)]
        assert not copies, f"{name}.{column} holds {len(copies)} near-copies of evaluation texts, e.g. {copies[:1]}"


def test_retrieval_ids_resolve_and_reranking_lists_hold_the_gold(eval_tasks):
    for task in eval_tasks.values():
        if task.type not in RETRIEVAL_TYPES:
            continue
        parts = task.splits["test"]
        corpus_ids, query_ids = set(parts["corpus"]["id"]), set(parts["queries"]["id"])
        assert set(parts["qrels"]["query_id"]) == query_ids, task.name
        assert set(parts["qrels"]["corpus_id"]) <= corpus_ids, task.name
        if task.type == "Reranking":
            gold = dict(zip(parts["qrels"]["query_id"], parts["qrels"]["corpus_id"]))
            for query_id, candidates in zip(parts["top_ranked"]["query_id"], parts["top_ranked"]["corpus_ids"]):
                assert gold[query_id] in candidates and set(candidates) <= corpus_ids, task.name


def test_datasheet_tables_match_the_files():
    assert generated_block(DATA) == render_tables(DATA), "data/README.md is stale: run data/build/build_data.py"


def test_measured_eval_cost_is_for_the_current_files_and_within_budget():
    cost = json.loads((DATA / "eval_cost.json").read_text())
    assert sorted(cost["tasks"]) == list_eval_tasks(DATA)
    for name, measured in cost["tasks"].items():
        texts = set(chain.from_iterable(eval_texts(load_eval_task(name, DATA)).values()))
        assert measured["unique_texts"] == len(texts), f"{name}: re-run data/build/measure_eval_cost.py"
    assert cost["total_seconds"] <= 300


def test_data_fits_the_40_mb_budget():
    shipped = [p for p in DATA.rglob("*") if p.is_file() and p.relative_to(DATA).parts[0] != "build"]
    assert sum(p.stat().st_size for p in shipped) <= 40 * 1024 * 1024


def test_every_source_package_has_its_license_beside_the_data():
    sources = json.loads((DATA / "sources.json").read_text())["sources"]
    for package, info in sources.items():
        if "LICENSES/" in info["license"]:
            name = info["license"].split("LICENSES/", 1)[1].split(")")[0].split(" ")[0]
            assert (DATA / "LICENSES" / name).is_file(), f"{package}: {name} missing"
    assert "WordNet" in (DATA / "LICENSES" / "wordnet-base.txt").read_text()
