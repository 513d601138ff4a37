"""Tests for the dictd parsers (data/build/corpora/dictd.py).

The FOLDOC fixture (foldoc.index + foldoc.dict.dz) was written with Python's gzip module in the
dictd layout: four bodies, a `00-database-short` metadata entry and an alias index line
("white space") pointing at the same body as "whitespace". Jargon File and Devil's Dictionary
databases are built per test with `write_dictd`.
"""

import gzip
from pathlib import Path

import pytest
from corpora.dictd import (
    DictdFormatError,
    clean_definition,
    decode_dictd_number,
    extract_category,
    is_useful_definition,
    read_devils,
    read_dictd,
    read_foldoc,
    read_index,
    read_jargon,
    split_devils_heading,
)

DICTD = Path(__file__).resolve().parents[1] / "fixtures" / "corpora" / "dictd"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def encode(number: int) -> str:
    digits = B64[number % 64]
    while number >= 64:
        number //= 64
        digits = B64[number % 64] + digits
    return digits


def write_dictd(folder: Path, name: str, entries: list[tuple[str, str]]) -> None:
    """Write NAME.index + NAME.dict.dz holding (index headword, body) entries in order."""
    folder.mkdir(parents=True, exist_ok=True)
    data, lines = b"", []
    for headword, body in entries:
        raw = body.encode("utf-8")
        lines.append(f"{headword}\t{encode(len(data))}\t{encode(len(raw))}\n")
        data += raw
    (folder / f"{name}.index").write_text("".join(lines), encoding="utf-8")
    (folder / f"{name}.dict.dz").write_bytes(gzip.compress(data, mtime=0))


@pytest.mark.parametrize(
    ("digits", "value"),
    [
        ("A", 0), ("B", 1), ("/", 63), ("BA", 64), ("K5", 10 * 64 + 57),
        ("Gb9L", ((6 * 64 + 27) * 64 + 61) * 64 + 11),
    ],
)
def test_decode_dictd_number_most_significant_digit_first(digits, value):
    assert decode_dictd_number(digits) == value


def test_decode_rejects_characters_outside_the_alphabet():
    with pytest.raises(ValueError, match="'=' is not a dictd base64 digit"):
        decode_dictd_number("B=")


def test_read_index_decodes_offsets_and_skips_metadata():
    assert read_index(DICTD / "foldoc.index") == [
        ("actor", 80, 209),
        ("asu", 289, 72),
        ("pl/1", 361, 59),
        ("white space", 420, 190),
        ("whitespace", 420, 190),
    ]


def test_read_dictd_returns_raw_bodies_sorted_with_aliases_kept():
    entries = read_dictd(DICTD / "foldoc.index", DICTD / "foldoc.dict.dz")
    assert [entry["headword"] for entry in entries] == ["actor", "asu", "pl/1", "white space", "whitespace"]
    assert entries[1] == {
        "headword": "asu",
        "body": "ASU\n\n   <body> See {Association for SIMULA\n   Users}.\n\n   (1995-03-29)\n\n",
    }
    assert entries[3]["body"] == entries[4]["body"]
    assert entries[4]["body"].startswith("Whitespace\nwhite space\n\n   <language, humour> An {esoteric")


def test_read_foldoc_exact():
    # ASU is a pure cross-reference and PL/1 has three words: both are dropped.
    assert read_foldoc(DICTD) == [
        {
            "headword": "actor",
            "definition": "1. In object-oriented programming, an object which exists as a concurrent process."
            "\n\n2. In Chorus, the unit of resource allocation.",
            "category": "programming",
        },
        {
            "headword": "Whitespace",
            "definition": "An esoteric programming language whose programs consist only of spaces, tabs and "
            "newlines.\n\nSee also INTERCAL.",
            "category": "language",
        },
    ]


def test_index_past_end_of_data_is_an_error(tmp_path):
    (tmp_path / "foldoc.index").write_text("actor\tBQ\t//\n")
    (tmp_path / "foldoc.dict.dz").write_bytes((DICTD / "foldoc.dict.dz").read_bytes())
    with pytest.raises(DictdFormatError, match=r"entry 'actor' ends at byte 4175, past the 610 bytes"):
        read_dictd(tmp_path / "foldoc.index", tmp_path / "foldoc.dict.dz")


def test_malformed_index_line_names_file_and_line(tmp_path):
    (tmp_path / "x.index").write_text("good\tA\tB\nbroken line without tabs\n")
    with pytest.raises(DictdFormatError, match=r"x\.index:2: expected 3 tab-separated fields"):
        read_index(tmp_path / "x.index")
    (tmp_path / "x.index").write_text("good\tA\tB\nbad\tA\tB!\n")
    with pytest.raises(DictdFormatError, match=r"x\.index:2: '!' is not a dictd base64 digit"):
        read_index(tmp_path / "x.index")


@pytest.mark.parametrize(
    ("body", "headword", "expected"),
    [
        ("foo\n\n   A {bar}  thing\n   of note.\n\n   (1997-12-05)\n\n", "Foo", "A bar thing of note."),
        ("Foo bar baz\n   is kept\n", "foo", "Foo bar baz is kept"),
        ("x\n\n   One.\n  \n   Two {\n   split ref}.\n", "x", "One.\n\nTwo split ref."),
        ("x\n\n   Dated (1997-12-05) in the middle.\n", "x", "Dated (1997-12-05) in the middle."),
        ("x\n", "x", ""),
    ],
)
def test_clean_definition(body, headword, expected):
    assert clean_definition(body, headword) == expected


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ("<language, humour> A daft way.", ("language", "A daft way.")),
        ("<body, publication> <body> (AAP) A group.", ("body", "(AAP) A group.")),
        ("1. <web> One.\n\n2. <storage> Two.\n\n<b>bold</b> stays.",
         ("web", "1. One.\n\n2. Two.\n\n<b>bold</b> stays.")),
        ("<networking< /gayt-dee/ Gate daemon.", ("networking", "/gayt-dee/ Gate daemon.")),
        ("<tool, cryptography} (GPG) A tool.", ("tool", "(GPG) A tool.")),
        ("No category here <web>.", (None, "No category here <web>.")),
    ],
)
def test_extract_category(definition, expected):
    assert extract_category(definition) == expected


@pytest.mark.parametrize(
    ("definition", "useful"),
    [
        ("Four words only here.", False),
        ("See Association for SIMULA Users.", False),
        ("See also foo, bar, baz and quux.", False),
        ("Do you mean HTTP or HTML?", False),
        ("See SIMULA. Address: Royal Institute of Technology.", True),
        ("See SIMULA\n\nAddress: Royal Institute of Technology", True),
        ("Seeing is believing, said the five words.", True),
    ],
)
def test_filtering_rules(definition, useful):
    assert is_useful_definition(definition) is useful


def test_read_jargon_drops_pronunciation_line_and_cross_references(tmp_path):
    write_dictd(
        tmp_path / "usr" / "share" / "dictd",
        "jargon",
        [
            ("00-database-short", "00-database-short\n     Jargon File (fixture)\n\n"),
            ("gray hat", "gray hat\n\n\n    See {black hat}.\n\n"),
            ("op", "OP\n //\n\n    [Usenet; common] Abbreviation for \u201coriginal poster\u201d, the originator of a\n"
                   "    particular thread.\n\n"),
            ("op", "op\n /op/, n.\n\n    1. In England and Ireland, common verbal abbreviation for\n"
                   "    \u2018operator\u2019.\n\n    2. See {op-code}.\n\n"),
        ],
    )
    # Same headword up to case: sorted case-insensitively, then upper case first.
    assert read_jargon(tmp_path) == [
        {"headword": "OP", "definition": "[Usenet; common] Abbreviation for \u201coriginal poster\u201d, "
                                         "the originator of a particular thread."},
        {"headword": "op", "definition": "1. In England and Ireland, common verbal abbreviation for "
                                         "\u2018operator\u2019.\n\n2. See op-code."},
    ]


def test_read_devils_takes_headword_from_body_and_drops_repeats(tmp_path):
    precedent = "PRECEDENT, n.  In Law, a previous decision, rule or practice.\n\n"
    write_dictd(
        tmp_path / "usr" / "share" / "dictd",
        "devil",
        [
            ("00databaseshort", "The Devil's Dictionary\n\n"),
            ("laurel", "LAUREATE, adj.  Crowned with leaves of the laurel.  In England the\nPoet Laureate.\n\n"),
            ("precedent", precedent),
            ("precedent", precedent),
            ("reason", "REASON, n.  Propensitate of prejudice.\n\n"),
            ("j", "J is a consonant in English, but some nations use it as a vowel.\n\n"),
            ("lld", "LL.D.  Letters indicating the degree _Legumptionorum Doctor_, one\nlearned in laws.\n\n"),
        ],
    )
    assert read_devils(tmp_path) == [
        {"headword": "J", "definition": "J is a consonant in English, but some nations use it as a vowel."},
        {"headword": "LAUREATE", "definition": "Crowned with leaves of the laurel. In England the Poet Laureate."},
        {"headword": "LL.D.",
         "definition": "Letters indicating the degree Legumptionorum Doctor, one learned in laws."},
        {"headword": "PRECEDENT", "definition": "In Law, a previous decision, rule or practice."},
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("YOUTH, n.  The Period of Possibility.", ("YOUTH", "The Period of Possibility.")),
        ("EDUCATION, n. That which discloses.", ("EDUCATION", "That which discloses.")),
        ("IMPOSTOR n.  A rival aspirant.", ("IMPOSTOR", "A rival aspirant.")),
        ("INFERIAE,n.  [Latin]  Sacrifices.", ("INFERIAE", "[Latin]  Sacrifices.")),
        ("BABE or BABY, n.  A misshapen creature.", ("BABE or BABY", "A misshapen creature.")),
        ("TZETZE (or TSETSE) FLY, n.  An insect.", ("TZETZE (or TSETSE) FLY", "An insect.")),
        ("CONFIDANT, CONFIDANTE, n.  One entrusted.", ("CONFIDANT, CONFIDANTE", "One entrusted.")),
        ("ABRACADABRA.\n\n    By Abracadabra we signify", ("ABRACADABRA", "\n\n    By Abracadabra we signify")),
        ("CUI BONO?  [Latin]  What good?", ("CUI BONO?", "[Latin]  What good?")),
        ("T, the twentieth letter.", ("T", "T, the twentieth letter.")),
        ("W (double U) has a name.", ("W", "W (double U) has a name.")),
    ],
)
def test_split_devils_heading(body, expected):
    assert split_devils_heading(body) == expected


def test_devils_body_without_capitalised_headword_is_an_error():
    with pytest.raises(DictdFormatError, match="without a capitalised headword"):
        split_devils_heading("lower-case start of an entry")


def test_reader_errors_name_the_index_file_and_entry(tmp_path):
    write_dictd(tmp_path, "devil", [("oops", "lower-case start of an entry\n\n")])
    with pytest.raises(DictdFormatError, match=r"devil\.index: entry 'oops': Devil's Dictionary entry without"):
        read_devils(tmp_path)
    write_dictd(tmp_path, "jargon", [("blank", "\n\n\n")])
    with pytest.raises(DictdFormatError, match=r"jargon\.index: entry 'blank': entry without a headword line"):
        read_jargon(tmp_path)
