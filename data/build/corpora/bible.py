"""Read SWORD Bible modules (Debian `sword-text-kjv`, `sword-text-web`) and align them verse by verse.

pysword reads the compressed module; its own tag cleaner is not used because it glues words
together where a footnote sat between them ("God<note>..</note>created" -> "Godcreated") and keeps
stray USFM markers. `clean_osis` removes the OSIS markup instead. pysword is imported only by
`read_bible`, so the pure functions work without it (it is in the `build-data` extra only).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

# Book names as pysword spells them (pysword.canons.canons["kjv"]), in canonical order.
KJV_BOOKS = (
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth",
    "I Samuel", "II Samuel", "I Kings", "II Kings", "I Chronicles", "II Chronicles", "Ezra",
    "Nehemiah", "Esther", "Job", "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon", "Isaiah",
    "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel", "Amos", "Obadiah", "Jonah",
    "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah", "Malachi",
    "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "I Corinthians", "II Corinthians",
    "Galatians", "Ephesians", "Philippians", "Colossians", "I Thessalonians", "II Thessalonians",
    "I Timothy", "II Timothy", "Titus", "Philemon", "Hebrews", "James", "I Peter", "II Peter",
    "I John", "II John", "III John", "Jude", "Revelation of John",
)
BOOK_INDEX = {book: index for index, book in enumerate(KJV_BOOKS)}

# The end of a book; modules append material after the last verse (the WEB puts its whole
# glossary into Revelation 22:21).
BOOK_END = re.compile(r'<div\b(?=[^>]*\beID=)(?=[^>]*\btype="book")[^>]*/>')
# Elements whose content is not verse text: footnotes, headings (psalm superscriptions, Pauline
# subscriptions), speaker labels in the Song of Solomon.
NON_TEXT_ELEMENTS = ("note", "title", "speaker")
NON_TEXT = [
    re.compile(rf"<{name}\b[^>]*/>|<{name}\b[^>]*>.*?</{name}>", re.DOTALL) for name in NON_TEXT_ELEMENTS
]
# Inline elements sit inside words ("<w>LORD</w>'s"): they go without leaving a space. Every
# other tag (<l>, <lb>, <div>, <chapter>...) marks a break and becomes a space.
INLINE_TAG = re.compile(
    r"</?(?:w|transChange|divineName|q|seg|foreign|hi|name|reference|catchWord|rdg|rdgGroup|"
    r"inscription|mentioned|abbr|a|salute|signed|closer)\b[^>]*>"
)
ANY_TAG = re.compile(r"<[^>]*>")
# USFM character markers left in the KJV module text: "by my name \nd JEHOVAH".
USFM_MARKER = re.compile(r"\\\+?[a-z]+\d*\*?")
SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:!?])")


def clean_osis(markup: str) -> str:
    """Turn the OSIS markup of one verse into plain text.

    Removes Strong's numbers and other attributes with their tags, drops footnotes, headings
    and anything after a book-end marker, removes pilcrows and stray USFM markers, unescapes
    entities and normalises whitespace.

    Args:
        markup: Raw verse text as stored in the module.

    Returns:
        The verse text; "" for a verse that holds only markup or notes.
    """
    book_end = BOOK_END.search(markup)
    text = markup[: book_end.start()] if book_end else markup
    for element in NON_TEXT:
        text = element.sub(" ", text)
    text = ANY_TAG.sub(" ", INLINE_TAG.sub("", text))
    text = USFM_MARKER.sub(" ", html.unescape(text)).replace("\u00b6", " ")
    # A removed footnote between a word and its punctuation leaves "word ,".
    return SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(text.split()))


def find_sword_root(root: Path) -> Path:
    """Find the SWORD data folder (the one holding `mods.d/`) under an unpacked package.

    Raises:
        FileNotFoundError: No `mods.d` folder, or more than one.
    """
    root = Path(root)
    if (root / "mods.d").is_dir():
        return root
    found = sorted(path.parent for path in root.rglob("mods.d") if path.is_dir())
    if len(found) != 1:
        raise FileNotFoundError(f"expected one SWORD mods.d folder under {root}, found {len(found)}")
    return found[0]


def resolve_module_key(modules: dict[str, dict], module_name: str, where: Path) -> str:
    """Match a name such as "KJV" to a module's conf section ("engKJV2006eb") or Abbreviation.

    Raises:
        KeyError: No module, or more than one, answers to the name.
    """
    if module_name in modules:
        return module_name
    wanted = module_name.casefold()
    matches = [key for key, conf in modules.items() if conf.get("abbreviation", "").casefold() == wanted]
    if len(matches) != 1:
        raise KeyError(f"{where}: {len(matches)} modules named {module_name!r}; modules there: {sorted(modules)}")
    return matches[0]


def read_bible(module_root: Path, module_name: str) -> dict[tuple[str, int, int], str]:
    """Read every verse of a SWORD Bible module as plain text.

    Args:
        module_root: The unpacked package root, or its SWORD folder (`usr/share/sword`).
        module_name: The conf section name or the Abbreviation, e.g. "KJV" or "WEB".

    Returns:
        {(book, chapter, verse): text} in the module's own versification, book names as pysword
        spells them ("I Samuel", "Revelation of John"). Verses with no text are left out.

    Raises:
        FileNotFoundError: No SWORD folder under `module_root`.
        KeyError: The module is not there.
        ValueError: pysword returns fewer or more verses than the versification has.
    """
    from pysword.modules import SwordModules  # only the data build installs pysword

    sword_root = find_sword_root(module_root)
    modules = SwordModules(str(sword_root))
    key = resolve_module_key(modules.parse_modules(), module_name, sword_root)
    bible = modules.get_bible_from_module(key)
    verses = {}
    for books in bible.get_structure().get_books().values():
        for book in books:
            texts = list(bible.get_iter(books=book.name, clean=False))
            if len(texts) != sum(book.chapter_lengths):
                raise ValueError(
                    f"{sword_root} {key}: {book.name} has {len(texts)} verses, "
                    f"its versification {sum(book.chapter_lengths)}"
                )
            references = (
                (book.name, chapter, verse)
                for chapter, length in enumerate(book.chapter_lengths, start=1)
                for verse in range(1, length + 1)
            )
            for reference, markup in zip(references, texts):
                text = clean_osis(markup)
                if text:
                    verses[reference] = text
    return verses


def aligned_verses(kjv: dict[tuple[str, int, int], str], web: dict[tuple[str, int, int], str]) -> list[dict]:
    """Pair the verses that both translations have, in canonical order.

    Args:
        kjv: {(book, chapter, verse): text} of the King James Version.
        web: The same for the World English Bible.

    Returns:
        Dicts with `book`, `chapter`, `verse`, `kjv`, `web` and `book_index` (0 = Genesis,
        65 = Revelation), for references present in both with non-empty text, sorted by
        (book_index, chapter, verse).

    Raises:
        ValueError: A shared reference names a book outside the 66-book canon.
    """
    pairs = []
    for reference in kjv.keys() & web.keys():
        kjv_text, web_text = kjv[reference].strip(), web[reference].strip()
        if not (kjv_text and web_text):
            continue
        book, chapter, verse = reference
        if book not in BOOK_INDEX:
            raise ValueError(f"unknown book {book!r} in reference {reference}; expected pysword's KJV names")
        pairs.append(
            {"book": book, "chapter": chapter, "verse": verse, "kjv": kjv_text, "web": web_text,
             "book_index": BOOK_INDEX[book]}
        )
    pairs.sort(key=lambda pair: (pair["book_index"], pair["chapter"], pair["verse"]))
    return pairs
