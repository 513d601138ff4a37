"""Tests for the WordNet parser (data/build/corpora/wordnet.py) on lines copied from WordNet 3.0."""

import shutil
from pathlib import Path

import pytest
from corpora.wordnet import WordNetFormatError, clean_lemma, read_lexnames, read_wordnet, split_gloss

WORDNET = Path(__file__).resolve().parents[1] / "fixtures" / "corpora" / "wordnet"


@pytest.fixture(scope="module")
def synsets():
    return {record["synset_id"]: record for record in read_wordnet(WORDNET)}


def test_reads_every_synset_sorted_and_skips_license_header():
    ids = [record["synset_id"] for record in read_wordnet(WORDNET)]
    assert ids == [
        "a00001740", "a00003553", "a00014358", "a00020103",
        "n00001740", "n00196485", "n01219722", "n02084071", "n04203889", "n07138736", "n08145553",
        "r00001740", "r00189615",
        "v00001740", "v00941464", "v01378141",
    ]


def test_noun_record_exact(synsets):
    assert synsets["n02084071"] == {
        "synset_id": "n02084071",
        "pos": "n",
        "lexname": "noun.animal",
        "lemmas": ["dog", "domestic dog", "Canis familiaris"],
        "gloss": "a member of the genus Canis (probably descended from the common wolf) that has been "
        "domesticated by man since prehistoric times; occurs in many breeds",
        "examples": ["the dog barked all night"],
    }


def test_verb_record_with_frames_exact(synsets):
    assert synsets["v00001740"] == {
        "synset_id": "v00001740",
        "pos": "v",
        "lexname": "verb.body",
        "lemmas": ["breathe", "take a breath", "respire", "suspire"],
        "gloss": "draw air into, and expel out of, the lungs",
        "examples": ["I can breathe better when the air is clean", "The patient is respiring"],
    }


def test_head_adjective_keeps_parenthesised_note_in_gloss(synsets):
    assert synsets["a00001740"] == {
        "synset_id": "a00001740",
        "pos": "a",
        "lexname": "adj.all",
        "lemmas": ["able"],
        "gloss": "(usually followed by `to') having the necessary means or skill or know-how or authority "
        "to do something",
        "examples": [
            "able to swim",
            "she was able to program her computer",
            "we were at last able to buy a car",
            "able to get a grant for the project",
        ],
    }


def test_satellites_use_letter_a_but_keep_pos_s_and_lose_markers(synsets):
    assert synsets["a00003553"]["pos"] == "s"
    assert synsets["a00003553"]["lemmas"] == ["emergent", "emerging"]
    assert synsets["a00014358"]["lemmas"] == ["abounding", "galore"]  # galore(ip)
    assert synsets["a00020103"] == {
        "synset_id": "a00020103",
        "pos": "s",
        "lexname": "adj.all",
        "lemmas": ["outback", "remote"],  # outback(a)
        "gloss": "inaccessible and sparsely populated",  # trailing ";" stripped
        "examples": [],
    }


def test_adverb_example_attribution_is_dropped(synsets):
    assert synsets["r00189615"]["lexname"] == "adv.all"
    assert synsets["r00189615"]["gloss"] == "in a nimble or agile manner; with quickness and lightness and ease"
    assert synsets["r00189615"]["examples"] == ["nimbly scaling an iron gate", "leaped agilely from roof to roof"]
    assert synsets["r00001740"]["lemmas"] == ["a cappella"]


@pytest.mark.parametrize(
    ("synset_id", "gloss", "examples"),
    [
        # Example introduced by a colon instead of a semicolon.
        ("n00196485", "the act of putting one thing or person in the place of another",
         ["he sent Smith in for Jones but the substitution came too late to help"]),
        # A quoted phrase in running text belongs to the definition; a trailing ";" is dropped.
        ("n01219722", 'promise of reward as in "carrot and stick"',
         ["used the carrot of subsidized housing for the workers to get their vote"]),
        # Quotes inside parentheses are cited words, not examples.
        ("n07138736", "a report of the exact words used in a discourse (e.g., \"he said `I am a fool'\")", []),
        # A stray closing quote in the source is removed from the definition.
        ("n08145553", "a local branch where postal services are available", []),
        # A missing opening quote ("drop names") still gives a second example.
        ("v00941464", "utter with seeming casualness", ["drop a hint", "drop names"]),
        ("v01378141", 'spread by scattering ("straw" is archaic)', ["strew toys all over the carpet"]),
        # A missing separator between two examples cannot be recovered: kept as one example.
        ("n04203889", "the commodities purchased from stores",
         ["she loaded her shopping into the car\"women carrying home shopping didn't give me a second glance"]),
    ],
)
def test_gloss_split_on_irregular_source_lines(synsets, synset_id, gloss, examples):
    assert (synsets[synset_id]["gloss"], synsets[synset_id]["examples"]) == (gloss, examples)


@pytest.mark.parametrize(
    ("gloss", "expected"),
    [
        ("a definition only  ", ("a definition only", [])),
        ('def; "one"; "two"', ("def", ["one", "two"])),
        ('def; "one", "two"', ("def", ["one", "two"])),
        ('def; "quoted"- Mark Twain; "next"', ("def", ["quoted", "next"])),
        ('def; "a fact" (Santayana)', ("def", ["a fact"])),
        ('def; "unterminated example', ("def", ["unterminated example"])),
        ('"only an example"', ("", ["only an example"])),
    ],
)
def test_split_gloss(gloss, expected):
    assert split_gloss(gloss) == expected


@pytest.mark.parametrize(
    ("word", "lemma"),
    [("domestic_dog", "domestic dog"), ("galore(ip)", "galore"), ("outback(a)", "outback"),
     ("ready_to_hand(p)", "ready to hand"), ("Canis_familiaris", "Canis familiaris"), ("(a)priori", "(a)priori")],
)
def test_clean_lemma(word, lemma):
    assert clean_lemma(word) == lemma


def test_standard_lexnames_when_file_absent():
    lexnames = read_lexnames(WORDNET)
    assert len(lexnames) == 45
    assert (lexnames[0], lexnames[3], lexnames[5], lexnames[29], lexnames[44]) == (
        "adj.all", "noun.Tops", "noun.animal", "verb.body", "adj.ppl")


def test_lexnames_file_takes_precedence(tmp_path):
    shutil.copytree(WORDNET, tmp_path / "wn")
    table = "".join(f"{number:02d}\tcustom.{number}\t1\n" for number in range(45))
    (tmp_path / "wn" / "lexnames").write_text(table)
    records = {record["synset_id"]: record for record in read_wordnet(tmp_path / "wn")}
    assert records["n02084071"]["lexname"] == "custom.5"


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("00001740 02 r 01 a_cappella 0 000 without a gloss separator\n", r"data\.adv:3: no ' \| ' gloss separator"),
        ("00001740 02 r 09 a_cappella 0 000 | without musical accompaniment\n", r"data\.adv:3: fewer words than the word count 9"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    shutil.copytree(WORDNET, tmp_path / "wn")
    path = tmp_path / "wn" / "data.adv"
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = bad_line
    path.write_text("".join(lines))
    with pytest.raises(WordNetFormatError, match=message):
        read_wordnet(tmp_path / "wn")
