"""Tests for the gensim test-data parsers (data/build/corpora/gensim_data.py).

Fixtures (tests/fixtures/corpora/gensim): `lee.cor` holds documents 24, 25 and 40 of gensim's
lee.cor (cut short; Latin-1, double spaces and no final newline as in the real file) and
`similarities0-1.txt` the matching 3x3 block of the real matrix. `enwiki-sample.xml` is a hand-made
MediaWiki export; the real sample is bz2-compressed, so the tests compress it under the real name.
"""

import bz2
import shutil
from pathlib import Path

import pytest
from corpora.gensim_data import (
    WIKI_SAMPLE,
    clean_wikitext,
    read_lee,
    read_wiki_dump,
    read_wiki_sample,
)

GENSIM = Path(__file__).resolve().parents[1] / "fixtures" / "corpora" / "gensim"

EXPECTED_WIKI = [
    {
        "article": "Aardvark",
        "section": "Introduction",
        "text": "The aardvark (Orycteropus afer) is a medium-sized, burrowing, nocturnal mammal native to "
        "Africa. It is the only living species of the order Tubulidentata.",
    },
    {
        "article": "Aardvark",
        "section": "Behaviour",
        "text": "The aardvark is mostly nocturnal and feeds on ants and termites.\n"
        "It digs a burrow 2 m deep.\n"
        "It can close its nostrils to keep out dust.\n"
        "Besides insects it eats the aardvark cucumber, which it also helps to spread.",
    },
    {
        "article": "Zebra crossing",
        "section": "Introduction",
        "text": "A zebra crossing is a type of pedestrian crossing used in many places around the world. "
        "Its distinguishing feature is alternating dark and light stripes on the road surface, "
        "from which it derives its name.",
    },
    {
        "article": "Zebra crossing",
        "section": "History",
        "text": "The first crossings were installed in 1951 by the road research laboratory after trials in "
        "towns. They were promoted by the council and by road safety campaigns across the country.",
    },
]


# --- Lee et al. (2005) ------------------------------------------------------------------------------


def test_lee_documents_are_decoded_and_whitespace_normalised():
    documents, _ = read_lee(GENSIM)
    assert len(documents) == 3
    # The real line has two spaces between these sentences.
    assert "overturn her sentence. Obasanjo's comments late Saturday" in documents[0]
    assert documents[0].endswith("despite an international outcry.")
    assert documents[1].startswith("An Islamic high court in northern Nigeria")
    assert "still wearing his \u00a33,000 satelite tracking device." in documents[2]  # 0xA3 in Latin-1


def test_lee_pairs_come_from_the_upper_triangle_in_row_order():
    _, pairs = read_lee(GENSIM)
    assert pairs == [
        {"doc1": 0, "doc2": 1, "score": 1.0},
        {"doc1": 0, "doc2": 2, "score": 0.24},
        {"doc1": 1, "doc2": 2, "score": 0.28},
    ]


def _lee_copy(tmp_path: Path, matrix: str | None = None, documents: bytes | None = None) -> Path:
    folder = tmp_path / "lee"
    shutil.copytree(GENSIM, folder)
    if matrix is not None:
        (folder / "similarities0-1.txt").write_text(matrix)
    if documents is not None:
        (folder / "lee.cor").write_bytes(documents)
    return folder


def test_lee_rejects_a_matrix_with_a_filled_lower_triangle(tmp_path):
    folder = _lee_copy(tmp_path, matrix="1\t1\t0.24\n1\t1\t0.28\n0.24\t0.28\t1\n")
    with pytest.raises(ValueError, match=r"similarities0-1.txt: row 2, column 1 is 1.0: lower triangle"):
        read_lee(folder)


def test_lee_rejects_a_matrix_that_does_not_match_the_documents(tmp_path):
    folder = _lee_copy(tmp_path, matrix="1\t0.5\n0\t1\n")
    with pytest.raises(ValueError, match=r"2 rows but 3 documents"):
        read_lee(folder)


def test_lee_rejects_a_ragged_matrix_row(tmp_path):
    folder = _lee_copy(tmp_path, matrix="1\t1\t0.24\n0\t1\n0\t0\t1\n")
    with pytest.raises(ValueError, match=r"similarities0-1.txt:2: 2 values, expected 3"):
        read_lee(folder)


def test_lee_rejects_an_empty_document_line(tmp_path):
    folder = _lee_copy(tmp_path, documents=b"first doc\n\nthird doc\n")
    with pytest.raises(ValueError, match=r"lee.cor:2: empty document line"):
        read_lee(folder)


# --- Wikipedia sample -------------------------------------------------------------------------------


def test_wiki_sample_reads_the_bz2_dump_under_its_real_name(tmp_path):
    (tmp_path / WIKI_SAMPLE).write_bytes(bz2.compress((GENSIM / "enwiki-sample.xml").read_bytes()))
    assert read_wiki_sample(tmp_path) == EXPECTED_WIKI


def test_wiki_dump_skips_redirects_other_namespaces_appendices_and_short_sections():
    records = read_wiki_dump(GENSIM / "enwiki-sample.xml")
    assert records == EXPECTED_WIKI
    kept = {(record["article"], record["section"]) for record in records}
    assert not any(article in ("Zebra", "Wikipedia:Sandbox") for article, _ in kept)
    assert ("Aardvark", "Trivia") not in kept  # 5 words
    assert ("Aardvark", "External links") not in kept  # 26 words, but an appendix


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("a {{outer|x={{inner|y}}}} b", "a b"),
        ("At {{convert|1,246,700|km2|sqmi}}, it {{citation needed|date=May 2015}}", "At 1,246,700 km2, it"),
        ("{{convert|400|to|670|mm|1|abbr=on}} {{as of|2014|lc=y}}", "400 to 670 mm as of 2014"),
        ("{{lang|es|[[La Voz]]}}, {{lang-ar|{{big|x}}}}, {{frac|3|1|2}}", "La Voz, x, 3 1/2"),
        ("Bob{{'s}} cat{{nbsp}}and {{IPAc-en|ˈ|æ}}dog {{{1}}}", "Bob's cat and dog"),
        ("[[Paris]] and [[Lyon|the city of Lyon]] and [[ant]]s", "Paris and the city of Lyon and ants"),
        ("x [[File:A.jpg|thumb|A [[cat]] [left]]] y [[Category:Cats]]", "x y"),
        ("[[Image:B.png|right|Bicyclo[1.1.0]butane]]z", "z"),
        ("fact.<ref name=a>{{cite web|url=x}}</ref> Next<ref name=a /> one.", "fact. Next one."),
        ("pre\n{| class=t\n|-\n|\n{| nested\n| x\n|}\n| 1\n|}\npost", "pre\npost"),
        ("'''bold''' and ''italic'' and '''''both'''''", "bold and italic and both"),
        ("[http://x.org the site] and [http://y.org] and [//z.org z]", "the site and and z"),
        ("a<br />b <small>c</small> d&amp;e &nbsp;f", "a b c d&e f"),
        ("* one\n# two\n: three\n----\n\n  four  ", "one\ntwo\nthree\nfour"),
        ("Anarchy ({{IPA|x}}; from Greek) is <!-- note --> old __TOC__", "Anarchy (from Greek) is old"),
        ("Albania ({{IPAc-en|æ}}, {{respell|a}}; {{lang-sq|Shqipëri}}) or ({{IPA|x}}, )",
         "Albania (Shqipëri) or"),
        ("the Republic ({{lang-sq|Republika}}; {{IPA-sq|ɾɛ}}) is", "the Republic (Republika) is"),
        ("see <math>x^2</math> here", "see here"),
    ],
)
def test_clean_wikitext(markup, expected):
    assert clean_wikitext(markup) == expected


def test_unbalanced_template_names_file_and_article(tmp_path):
    broken = (GENSIM / "enwiki-sample.xml").read_text().replace("{{convert|2|m|ft}}", "{{convert|2|m|ft")
    (tmp_path / "broken.xml").write_text(broken)
    with pytest.raises(ValueError, match=r"broken.xml: article 'Aardvark': unclosed"):
        read_wiki_dump(tmp_path / "broken.xml")


def test_malformed_xml_names_file_and_line(tmp_path):
    (tmp_path / "bad.xml").write_text("<mediawiki>\n  <page>\n    <title>X</tit>\n")
    with pytest.raises(ValueError, match=r"bad.xml:3: malformed XML"):
        read_wiki_dump(tmp_path / "bad.xml")
