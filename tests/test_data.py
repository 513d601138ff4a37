"""mote_lib.data: the training/eval loaders and their input validation, on small files."""

import gzip
import json

import pandas as pd
import pytest

from mote_lib.data import (
    DataFormatError,
    load_eval_task,
    load_training_data,
    read_training_file,
    training_dataset,
)


def write_gz(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for line in lines:
            handle.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


def test_reads_pairs_and_triplets(tmp_path):
    path = write_gz(tmp_path / "d.jsonl.gz", [["q", "doc"], ["q2", "doc2", "neg2"]])
    assert read_training_file(path) == [["q", "doc"], ["q2", "doc2", "neg2"]]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        (["only anchor"], "got a list of 1"),
        (["a", "b", "c", "d"], "got a list of 4"),
        ({"anchor": "a", "positive": "b"}, "got dict"),
        (["a", 3], "positive is int, not a string"),
        (["a", "b", None], "negative is NoneType"),
        (["a", "   "], "positive is an empty text"),
        ('["a", "b"', "not valid JSON"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    path = write_gz(tmp_path / "bad.jsonl.gz", [["fine", "line"], bad_line])
    with pytest.raises(DataFormatError, match=rf"bad\.jsonl\.gz:2: .*{message}"):
        read_training_file(path)


def test_empty_line_is_an_error(tmp_path):
    path = write_gz(tmp_path / "blank.jsonl.gz", [["a", "b"], ""])
    with pytest.raises(DataFormatError, match="blank.jsonl.gz:2: empty line"):
        read_training_file(path)


def test_labels_sidecar_is_line_aligned(tmp_path):
    path = write_gz(tmp_path / "train" / "classification" / "x.jsonl.gz", [["a", "b", "c"], ["d", "e"]])
    write_gz(tmp_path / "train" / "classification" / "x.labels.jsonl.gz", ['"cat"', '"dog"'])  # raw lines: JSON strings
    ds = training_dataset(path)
    assert ds["label"] == ["cat", "dog"]
    assert ds["negative"] == ["c", None]


def test_labels_sidecar_with_wrong_length_is_an_error(tmp_path):
    path = write_gz(tmp_path / "x.jsonl.gz", [["a", "b"], ["c", "d"]])
    write_gz(tmp_path / "x.labels.jsonl.gz", ['"only-one"'])
    with pytest.raises(DataFormatError, match="1 labels for 2 examples"):
        training_dataset(path)


def test_labels_must_be_strings(tmp_path):
    path = write_gz(tmp_path / "x.jsonl.gz", [["a", "b"]])
    write_gz(tmp_path / "x.labels.jsonl.gz", [7])
    with pytest.raises(DataFormatError, match="x.labels.jsonl.gz:1: a label must be a non-empty string"):
        training_dataset(path)


def test_hierarchy_task_dataset_examples(tmp_path):
    write_gz(tmp_path / "train" / "retrieval" / "one.jsonl.gz", [["q", "d"]])
    write_gz(tmp_path / "train" / "clustering" / "two.jsonl.gz", [["a", "b"], ["c", "d"]])
    data = load_training_data(tmp_path)
    assert {task: {name: len(ds) for name, ds in sets.items()} for task, sets in data.items()} == {
        "clustering": {"two": 2},
        "retrieval": {"one": 1},
    }
    assert list(load_training_data(tmp_path, tasks=["retrieval"])) == ["retrieval"]


def test_unknown_task_lists_the_valid_ones(tmp_path):
    write_gz(tmp_path / "train" / "retrieval" / "one.jsonl.gz", [["q", "d"]])
    with pytest.raises(ValueError, match=r"unknown training task\(s\) \['search'\]; valid: \['retrieval', 'classification', 'clustering'\]"):
        load_training_data(tmp_path, tasks=["search"])


def test_unknown_task_folder_is_an_error(tmp_path):
    write_gz(tmp_path / "train" / "summarisation" / "one.jsonl.gz", [["q", "d"]])
    with pytest.raises(DataFormatError, match="unknown training task folder"):
        load_training_data(tmp_path)


def _sts_task(root, records):
    folder = root / "eval" / "TinySTS"
    folder.mkdir(parents=True)
    (folder / "task.json").write_text(json.dumps({"name": "TinySTS", "type": "STS"}))
    write_gz(folder / "test.jsonl.gz", records)


def test_eval_task_loads_and_validates(tmp_path):
    _sts_task(tmp_path, [{"sentence1": "a", "sentence2": "b", "score": 3.5}])
    task = load_eval_task("TinySTS", root=tmp_path)
    assert task.type == "STS"
    assert task.splits["test"]["data"]["score"] == [3.5]


def test_eval_record_missing_key_names_file_and_line(tmp_path):
    _sts_task(tmp_path, [{"sentence1": "a", "sentence2": "b", "score": 1}, {"sentence1": "a", "score": 2}])
    with pytest.raises(DataFormatError, match=r"test.jsonl.gz:2: missing key\(s\) \['sentence2'\]"):
        load_eval_task("TinySTS", root=tmp_path)


def test_eval_record_with_text_score_is_an_error(tmp_path):
    _sts_task(tmp_path, [{"sentence1": "a", "sentence2": "b", "score": "high"}])
    with pytest.raises(DataFormatError, match="test.jsonl.gz:1: score must be a number, got .high."):
        load_eval_task("TinySTS", root=tmp_path)


def test_unknown_eval_task_lists_the_valid_ones(tmp_path):
    _sts_task(tmp_path, [{"sentence1": "a", "sentence2": "b", "score": 1}])
    with pytest.raises(ValueError, match=r"unknown evaluation task 'Nope'; valid: \['TinySTS'\]"):
        load_eval_task("Nope", root=tmp_path)


def test_truncated_gzip_names_the_file(tmp_path):
    path = write_gz(tmp_path / "cut.jsonl.gz", [["a", "b"]] * 200)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataFormatError, match=r"cut\.jsonl\.gz: unreadable after line"):
        read_training_file(path)


def test_bytes_that_are_not_utf8_name_the_file(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes('["caf\xe9", "x"]\n'.encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"latin\.jsonl: unreadable .*UnicodeDecodeError"):
        read_training_file(path)


def test_malformed_task_json_names_the_file(tmp_path):
    folder = tmp_path / "eval" / "Broken"
    folder.mkdir(parents=True)
    (folder / "task.json").write_text('{"name": "Broken",\n "type": }')
    with pytest.raises(DataFormatError, match=r"Broken/task\.json:2: not valid JSON"):
        load_eval_task("Broken", root=tmp_path)


def _retrieval_task(root, qrels, top_ranked=None):
    folder = root / "eval" / "TinyRetrieval"
    folder.mkdir(parents=True)
    task_type = "Reranking" if top_ranked is not None else "Retrieval"
    (folder / "task.json").write_text(json.dumps({"name": "TinyRetrieval", "type": task_type}))
    write_gz(folder / "test.queries.jsonl.gz", [{"id": "q1", "text": "what"}])
    write_gz(folder / "test.corpus.jsonl.gz", [{"id": "d1", "title": "", "text": "this"}, {"id": "d2", "title": "", "text": "that"}])
    write_gz(folder / "test.qrels.jsonl.gz", qrels)
    if top_ranked is not None:
        write_gz(folder / "test.top_ranked.jsonl.gz", top_ranked)


def test_reranking_task_loads_with_its_candidate_lists(tmp_path):
    _retrieval_task(tmp_path, [{"query_id": "q1", "corpus_id": "d1", "score": 1}], [{"query_id": "q1", "corpus_ids": ["d2", "d1"]}])
    parts = load_eval_task("TinyRetrieval", root=tmp_path).splits["test"]
    assert sorted(parts) == ["corpus", "qrels", "queries", "top_ranked"]
    assert parts["top_ranked"]["corpus_ids"] == [["d2", "d1"]]


def test_qrel_pointing_at_a_missing_document_is_an_error(tmp_path):
    _retrieval_task(tmp_path, [{"query_id": "q1", "corpus_id": "d9", "score": 1}])
    with pytest.raises(DataFormatError, match=r"test\.qrels\.jsonl\.gz: document id\(s\) \['d9'\] of query 'q1'"):
        load_eval_task("TinyRetrieval", root=tmp_path)


def test_candidate_list_must_be_a_list_of_ids(tmp_path):
    _retrieval_task(tmp_path, [{"query_id": "q1", "corpus_id": "d1", "score": 1}], [{"query_id": "q1", "corpus_ids": "d1"}])
    with pytest.raises(DataFormatError, match=r"test\.top_ranked\.jsonl\.gz:1: corpus_ids must be a non-empty list of strings"):
        load_eval_task("TinyRetrieval", root=tmp_path)


def test_summary_tables_and_eval_texts(tmp_path):
    from mote_lib.data import eval_table, eval_texts, training_table

    write_gz(tmp_path / "train" / "clustering" / "c.jsonl.gz", [["a", "b", "c"], ["d", "e"]])
    write_gz(tmp_path / "train" / "clustering" / "c.labels.jsonl.gz", ['"x"', '"y"'])
    write_gz(tmp_path / "train" / "retrieval" / "r.jsonl.gz", [["q", "d"]])
    table = training_table(load_training_data(tmp_path))
    assert table.to_dict("records") == [
        {"task": "clustering", "dataset": "c", "examples": 2, "with_hard_negative": 1, "labels": 2},
        {"task": "retrieval", "dataset": "r", "examples": 1, "with_hard_negative": 0, "labels": 0},
    ]
    _retrieval_task(tmp_path, [{"query_id": "q1", "corpus_id": "d1", "score": 1}])
    meta = json.loads((tmp_path / "eval" / "TinyRetrieval" / "task.json").read_text())
    meta.update(main_score="ndcg_at_10", labels="structural", description="tiny")
    (tmp_path / "eval" / "TinyRetrieval" / "task.json").write_text(json.dumps(meta))
    assert eval_table(tmp_path)[["name", "type"]].to_dict("records") == [{"name": "TinyRetrieval", "type": "Retrieval"}]
    assert eval_texts(load_eval_task("TinyRetrieval", tmp_path)) == {"query": ["what"], "document": ["this", "that"]}


def test_write_eval_sample_keeps_every_task_loadable_and_small(small_eval_root):
    from mote_lib.data import list_eval_tasks, load_eval_task

    assert list_eval_tasks(small_eval_root) == list_eval_tasks()
    for name in list_eval_tasks(small_eval_root):
        task = load_eval_task(name, small_eval_root)  # the loader's checks (ids, qrels) pass
        split = task.splits["test"]
        if "queries" in split:
            assert len(split["queries"]) == 12
        else:
            rows = split.get("data", split.get("test"))
            assert 12 <= len(rows) < 200, name
            if "label" in rows.column_names:
                counts = pd.Series(rows["label"]).value_counts()
                assert counts.min() >= 2, name


def test_write_eval_sample_keeps_the_asked_number_of_other_documents(tmp_path):
    from mote_lib.data import load_eval_task, write_eval_sample

    def corpus_and_own(root):
        split = load_eval_task("FaqRetrieval", root).splits["test"]
        own = {row["corpus_id"] for row in split["qrels"]}
        return len(split["corpus"]), len(own)

    few, own_few = corpus_and_own(write_eval_sample(tmp_path / "few", records=5))
    many, own_many = corpus_and_own(write_eval_sample(tmp_path / "many", records=5, other_documents=40))
    assert own_few == own_many and few - own_few == 5 and many - own_many == 40
