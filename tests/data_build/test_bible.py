"""Tests for the Bible helpers (data/build/corpora/bible.py): OSIS cleaning and verse alignment.

The markup samples are shortened copies of verses from the Debian sword-text-kjv (engKJV2006eb)
and sword-text-web (engWEB2015eb) modules. Reading a module needs pysword and a real module, so
`read_bible` itself is exercised only by the data build.
"""

import pytest
from corpora.bible import KJV_BOOKS, aligned_verses, clean_osis, find_sword_root, resolve_module_key

KJV_GEN_1_1 = (
    'In the <w lemma="strong:H7225">beginning</w> <w lemma="strong:H0430">God</w> '
    '<w lemma="strong:H1254">created</w> the <w lemma="strong:H8064">heaven</w> '
    '<w lemma="strong:H0853">and</w> the <w lemma="strong:H0776">earth</w>. '
)
WEB_GEN_1_1 = (
    '<w lemma="strong:H0430">In</w> <w lemma="strong:H0853">the</w> <w lemma="strong:H7225">beginning</w>, '
    '<w lemma="strong:H0430">God</w><note placement="foot"><reference type="annotateRef">1:1 </reference>'
    "The Hebrew word rendered \u201cGod\u201d is \u201c\u05d0\u05b1\u05dc\u05b9\u05d4\u05b4\u0591\u05d9\u05dd\u201d "
    '(Elohim).</note><w lemma="strong:H1254">created</w> <w lemma="strong:H0853">the</w> '
    '<w lemma="strong:H8064">heavens</w> <w lemma="strong:H0430">and</w> <w lemma="strong:H0853">the</w> '
    '<w lemma="strong:H0776">earth</w>. '
)
KJV_PS_3_1 = (
    '<div type="x-milestone" subType="x-preverse" sID="pv2099"/><title canonical="true" type="psalm">A '
    '<w lemma="strong:H4210">Psalm</w> of <w lemma="strong:H1732">David</w>.</title> <lg sID="gen2600"/> '
    '<l level="1" sID="gen2601"/> <div type="x-milestone" subType="x-preverse" eID="pv2099"/>'
    '<divineName><w lemma="strong:H3068">LORD</w></divineName>, how are they <w lemma="strong:H7231">increased'
    '</w> that <w lemma="strong:H6862">trouble</w> me! <l eID="gen2601" level="1"/>'
)
KJV_JOHN_3_16 = (
    '<div sID="gen8359" type="x-p"/> <q marker="" who="Jesus">\u00b6 <w lemma="strong:G1063">For</w> '
    '<w lemma="strong:G2316">God</w> <w lemma="strong:G3779">so</w> <w lemma="strong:G0025">loved</w> '
    '<w lemma="strong:G2889">the world</w>.</q> '
)
KJV_EXOD_6_3 = (
    'but by my <w lemma="strong:H8034">name</w> \\nd <w lemma="strong:H3068">JEHOVAH</w></divineName> was I not'
)
WEB_REV_22_21 = (
    '<w lemma="strong:G3956">The</w> <w lemma="strong:G5485">grace</w> be with all the saints. Amen.  '
    '<chapter eID="Rev.22"/><div eID="gen35836" type="x-p"/> <div canonical="true" eID="gen35575" osisID="Rev" '
    'type="book"/> <div sID="gen35837" type="glossary"/> <title level="1" type="main">World English Bible '
    'Glossary</title> The following words used in the World English Bible &amp; more.'
)
WEB_ROM_16_25 = (
    '<note placement="foot"><reference type="annotateRef">16:25 </reference>TR places Romans 14:24-26 at the '
    'end of Romans.</note>  <chapter eID="Rom.16"/><div eID="gen34813" type="x-p"/>'
)


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        (KJV_GEN_1_1, "In the beginning God created the heaven and the earth."),
        # The footnote sat between two words with no space: the words must not be glued together.
        (WEB_GEN_1_1, "In the beginning, God created the heavens and the earth."),
        # Psalm superscription (a <title>) and line-group milestones are not verse text.
        (KJV_PS_3_1, "LORD, how are they increased that trouble me!"),
        (KJV_JOHN_3_16, "For God so loved the world."),
        # Stray USFM marker in the KJV module.
        (KJV_EXOD_6_3, "but by my name JEHOVAH was I not"),
        # The WEB appends its glossary to the last verse: cut at the end-of-book marker.
        (WEB_REV_22_21, "The grace be with all the saints. Amen."),
        (WEB_ROM_16_25, ""),
        ('word<note n="a">note</note>, next &amp; last', "word, next & last"),
        ('<speaker>Beloved</speaker> <l level="1"/>Let him kiss me', "Let him kiss me"),
        ("<w>LORD</w>\u2019s <transChange type=\"added\">house</transChange>", "LORD\u2019s house"),
    ],
)
def test_clean_osis(markup, text):
    assert clean_osis(markup) == text


def test_aligned_verses_keeps_shared_non_empty_verses_in_canonical_order():
    # (book, chapter, verse): KJV text, WEB text; None where that version lacks the verse.
    verses = {
        ("Revelation of John", 22, 21): ("The grace of our Lord Jesus Christ be with you all. Amen.",
                                         "The grace of the Lord Jesus Christ be with all the saints. Amen."),
        ("Genesis", 1, 2): ("And the earth was without form, and void.", "The earth was formless and empty."),
        ("Genesis", 1, 1): ("In the beginning God created the heaven and the earth.",
                            " In the beginning, God created the heavens and the earth. "),
        ("Genesis", 10, 1): ("Now these are the generations of the sons of Noah.",
                             "This is the history of the generations of the sons of Noah."),
        ("Genesis", 2, 1): ("Thus the heavens and the earth were finished.",
                            "The heavens, the earth, and all their vast array were finished."),
        ("Romans", 16, 25): ("Now to him that is of power to stablish you.", ""),  # empty in the WEB
        ("Acts", 8, 37): ("And Philip said, If thou believest.", None),  # only in the KJV
        ("Tobit", 1, 1): (None, "The book of the words of Tobit."),  # only in the WEB
        ("Matthew", 1, 1): ("   ", "The book of the genealogy of Jesus Christ."),  # blank in the KJV
    }
    kjv = {key: texts[0] for key, texts in verses.items() if texts[0] is not None}
    web = {key: texts[1] for key, texts in verses.items() if texts[1] is not None}
    pairs = aligned_verses(kjv, web)
    assert [(p["book"], p["chapter"], p["verse"], p["book_index"]) for p in pairs] == [
        ("Genesis", 1, 1, 0),
        ("Genesis", 1, 2, 0),
        ("Genesis", 2, 1, 0),
        ("Genesis", 10, 1, 0),  # numeric, not string, order of chapters
        ("Revelation of John", 22, 21, 65),
    ]
    assert pairs[0] == {
        "book": "Genesis", "chapter": 1, "verse": 1, "book_index": 0,
        "kjv": "In the beginning God created the heaven and the earth.",
        "web": "In the beginning, God created the heavens and the earth.",
    }


def test_aligned_verses_rejects_unknown_book_names():
    with pytest.raises(ValueError, match="unknown book 'Revelation'"):
        aligned_verses({("Revelation", 1, 1): "a"}, {("Revelation", 1, 1): "b"})


def test_canon_matches_pysword():
    canons = pytest.importorskip("pysword.canons").canons
    assert KJV_BOOKS == tuple(book[0] for book in canons["kjv"]["ot"] + canons["kjv"]["nt"])
    assert len(KJV_BOOKS) == 66


def test_resolve_module_key_by_section_or_abbreviation(tmp_path):
    modules = {"engKJV2006eb": {"abbreviation": "KJV"}, "engWEB2015eb": {"abbreviation": "WEB"}}
    assert resolve_module_key(modules, "KJV", tmp_path) == "engKJV2006eb"
    assert resolve_module_key(modules, "web", tmp_path) == "engWEB2015eb"
    assert resolve_module_key(modules, "engWEB2015eb", tmp_path) == "engWEB2015eb"
    with pytest.raises(KeyError, match="0 modules named 'ASV'"):
        resolve_module_key(modules, "ASV", tmp_path)


def test_find_sword_root(tmp_path):
    (tmp_path / "usr" / "share" / "sword" / "mods.d").mkdir(parents=True)
    assert find_sword_root(tmp_path) == tmp_path / "usr" / "share" / "sword"
    assert find_sword_root(tmp_path / "usr" / "share" / "sword") == tmp_path / "usr" / "share" / "sword"
    with pytest.raises(FileNotFoundError, match="found 0"):
        find_sword_root(tmp_path / "usr" / "share" / "sword" / "mods.d")
