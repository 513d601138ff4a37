"""Tests for the Brown corpus parser (data/build/corpora/brown.py) on a two-document fixture."""

import shutil
from pathlib import Path

import pytest
from corpora.brown import detokenize, read_brown

BROWN = Path(__file__).resolve().parents[1] / "fixtures" / "corpora" / "brown"


def test_reads_fixture_documents_exactly():
    assert read_brown(BROWN) == [
        {
            "doc_id": "ca01",
            "genre": "news",
            "paragraphs": [
                'The Fulton County jury said Friday that "no evidence" was found.',
                "It was won by Ivan Allen Jr.",
                "Merger proposed",
                "However, the jury said it doesn't favor (1) the merger; it asked for 1/2 of the funds.",
            ],
        },
        {
            "doc_id": "ck01",
            "genre": "fiction",
            "paragraphs": [
                "Chapter one",
                "\"Take it\", he said. She called it 'the place' -- a ruin!",
                "Why?",
            ],
        },
    ]


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["He", "said", ",", "``", "Go", "!", "''"], 'He said, "Go!"'),
        (["It", "does", "n't", "(", "really", ")", "matter", "."], "It doesn't (really) matter."),
        (["'", "pro", "'", "and", "'", "con", "'"], "'pro' and 'con'"),
        (["first", ";", ";", "second", ":", "third", "?"], "first; second: third?"),
        (["Washington", ",", "D.", "C.", "."], "Washington, D. C."),
        (["a", "--", "b", "&", "c"], "a -- b & c"),
    ],
)
def test_detokenize(tokens, expected):
    assert detokenize(tokens) == expected


def test_token_without_tag_names_file_and_line(tmp_path):
    shutil.copytree(BROWN, tmp_path / "brown")
    (tmp_path / "brown" / "ck01").write_text("\n\tGood/jj words/nns\n\n\tbroken ./.\n")
    with pytest.raises(ValueError, match=r"ck01:4: token 'broken'"):
        read_brown(tmp_path / "brown")


def test_document_missing_from_categories_is_an_error(tmp_path):
    shutil.copytree(BROWN, tmp_path / "brown")
    (tmp_path / "brown" / "cats.txt").write_text("ca01 news\n")
    with pytest.raises(ValueError, match=r"unlisted: \['ck01'\]"):
        read_brown(tmp_path / "brown")


def test_malformed_categories_line_names_file_and_line(tmp_path):
    shutil.copytree(BROWN, tmp_path / "brown")
    (tmp_path / "brown" / "cats.txt").write_text("ca01 news\nck01\n")
    with pytest.raises(ValueError, match=r"cats.txt:2:"):
        read_brown(tmp_path / "brown")
