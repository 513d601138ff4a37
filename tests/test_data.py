"""mote_lib.data: the training/eval loaders and their input validation, on small files."""

import gzip
import json

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
    with pytest.raises(DataFormatError, match="test.jsonl.gz:1: score must be a number"):
        load_eval_task("TinySTS", root=tmp_path)


def test_unknown_eval_task_lists_the_valid_ones(tmp_path):
    _sts_task(tmp_path, [{"sentence1": "a", "sentence2": "b", "score": 1}])
    with pytest.raises(ValueError, match=r"unknown evaluation task 'Nope'; valid: \['TinySTS'\]"):
        load_eval_task("Nope", root=tmp_path)
