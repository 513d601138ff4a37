"""Parse dictd databases (FOLDOC, the Jargon File, The Devil's Dictionary) into definition records.

A dictd database is two files (dictfmt(1)):

* `NAME.index`: one line per headword, `headword TAB offset TAB length`, where offset and length
  are written in dictd's base64 digits (A-Z a-z 0-9 + /, most significant digit first);
* `NAME.dict.dz`: the concatenated entry bodies, gzip-compressed with random-access extras that
  the standard gzip reader ignores.

Several index lines may point at the same body (FOLDOC lists every alias of a term), so the
per-dictionary readers take the headword from the body and drop exact duplicates.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

DICTD_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
DIGIT_VALUE = {digit: value for value, digit in enumerate(DICTD_DIGITS)}

# dictfmt writes metadata as "00-database-info" etc.; older dictionaries squeeze out the dashes.
METADATA_HEADWORD = re.compile(r"00-?database")
CROSS_REF = re.compile(r"\{([^{}]*)\}")
# FOLDOC closes entries with the date of the last edit: "(1997-12-05)".
DATE_STAMP = re.compile(r"\s*\(\d{4}-\d{2}-\d{2}\)\s*$")
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# "<language, humour> Text", possibly after a sense number: "1. <programming> Text". A few FOLDOC
# tags close with a typo ("<networking<", "<tool, cryptography}"); they are accepted too.
CATEGORY_TAG = r"<[A-Za-z][\w ,.'/&+\-]*[>}<]"
CATEGORY_TAGS = re.compile(rf"^(?P<sense>\d+\.\s+)?(?P<tags>(?:{CATEGORY_TAG}\s*)+)")
# A definition that only points elsewhere: one sentence, "See SIMULA.", "See also foo, bar." or
# FOLDOC's disambiguation stubs "Do you mean foo or bar?".
PURE_CROSS_REF = re.compile(r"(?:see|do you mean)\b(?:(?![.!?]\s)[^\n])*", re.IGNORECASE)
MIN_DEFINITION_WORDS = 5

DEVILS_POS = r"(?:[a-z]{1,5}\.){1,3}(?:\s*(?:and|or)\s*(?:[a-z]{1,5}\.){1,3})?"
# Bierce's entries open with the headword in capitals and a part of speech: "YOUTH, n.  The ...",
# "BABE or BABY, n.", "TZETZE (or TSETSE) FLY, n.", "LL.D.  Letters ...", "CUI BONO?  [Latin]".
# Words of the heading are joined by single spaces: two spaces or a line break end it.
DEVILS_WORD = r"[A-Z][A-Z'.\-]*(?![A-Za-z])"
DEVILS_HEADING = re.compile(
    rf"^(?P<head>{DEVILS_WORD}(?:(?: |, ?)(?:or |\(or )?{DEVILS_WORD}\)?)*\??)"
    rf"(?:,? ?(?P<pos>{DEVILS_POS})(?=\s))?"
)
DEVILS_ITALICS = re.compile(r"\b_([^_]+)_\b")


class DictdFormatError(ValueError):
    """An index line or an entry body does not follow the dictd layout."""


def decode_dictd_number(digits: str) -> int:
    """Decode a dictd base64 number ("B" = 1, "BA" = 64, "Gb9L" = 1687371).

    Raises:
        ValueError: `digits` is empty or holds a character outside the dictd alphabet.
    """
    if not digits:
        raise ValueError("empty dictd number")
    value = 0
    for digit in digits:
        if digit not in DIGIT_VALUE:
            raise ValueError(f"{digit!r} is not a dictd base64 digit in {digits!r}")
        value = value * 64 + DIGIT_VALUE[digit]
    return value


def read_index(index_path: Path) -> list[tuple[str, int, int]]:
    """Read a dictd `.index` file as (headword, offset, length) triples, metadata entries skipped.

    Raises:
        DictdFormatError: A line is not "headword TAB offset TAB length".
    """
    entries = []
    lines = Path(index_path).read_text(encoding="utf-8").splitlines()
    for line_no, line in enumerate(lines, start=1):
        fields = line.split("\t")
        if len(fields) != 3:
            raise DictdFormatError(f"{index_path}:{line_no}: expected 3 tab-separated fields, got {line!r}")
        headword, offset, length = fields
        if METADATA_HEADWORD.match(headword):
            continue
        try:
            entries.append((headword, decode_dictd_number(offset), decode_dictd_number(length)))
        except ValueError as error:
            raise DictdFormatError(f"{index_path}:{line_no}: {error}") from error
    return entries


def read_dictd(index_path: Path, dict_path: Path) -> list[dict]:
    """Read every entry of a dictd database.

    Args:
        index_path: The `.index` file.
        dict_path: The `.dict.dz` (or gzip-compatible `.dict.gz`) file.

    Returns:
        One dict per index line, with keys `headword` (as in the index) and `body` (the raw entry
        text), sorted by headword and then by offset. A headword listed several times gives
        several entries; the `00-database-*` metadata entries are left out.

    Raises:
        DictdFormatError: The index is malformed or points past the end of the data.
    """
    with gzip.open(dict_path, "rb") as compressed:
        data = compressed.read()
    entries = []
    for headword, offset, length in sorted(read_index(index_path), key=lambda entry: entry[:2]):
        if offset + length > len(data):
            raise DictdFormatError(
                f"{index_path}: entry {headword!r} ends at byte {offset + length}, "
                f"past the {len(data)} bytes of {dict_path}"
            )
        try:
            body = data[offset : offset + length].decode("utf-8")
        except UnicodeDecodeError as error:
            raise DictdFormatError(f"{index_path}: entry {headword!r} is not UTF-8: {error}") from error
        entries.append({"headword": headword, "body": body})
    return entries


def clean_definition(body: str, headword: str) -> str:
    """Turn a raw dictd entry body into plain definition text.

    Drops a first line that only repeats the headword, keeps the text of `{cross references}`,
    removes a closing FOLDOC date stamp "(1997-12-05)", collapses whitespace inside paragraphs
    and joins paragraphs with a blank line ("\\n\\n").

    Args:
        body: Entry text as stored in the `.dict` file.
        headword: The entry's headword.

    Returns:
        The cleaned definition; "" when nothing is left.
    """
    lines = body.strip("\n").split("\n")
    if lines and lines[0].strip().casefold() == headword.strip().casefold():
        lines = lines[1:]
    text = CROSS_REF.sub(lambda match: match.group(1).strip(), "\n".join(lines))
    text = DATE_STAMP.sub("", text)
    paragraphs = (" ".join(paragraph.split()) for paragraph in PARAGRAPH_BREAK.split(text))
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def is_useful_definition(definition: str) -> bool:
    """False for definitions under five words and for pure cross-references ("See X.")."""
    return len(definition.split()) >= MIN_DEFINITION_WORDS and not PURE_CROSS_REF.fullmatch(definition)


def split_heading(body: str) -> tuple[list[str], str]:
    """Split a FOLDOC or Jargon File body into its heading lines and the text after them.

    Both dictionaries open an entry with the headword (FOLDOC adds one line per alias, the Jargon
    File a pronunciation and part-of-speech line) and a blank line before the definition.
    """
    heading, _, text = body.strip("\n").partition("\n\n")
    lines = [line.strip() for line in heading.split("\n")]
    if not lines[0]:
        raise DictdFormatError(f"entry without a headword line: {body[:60]!r}")
    return lines, text


def extract_category(definition: str) -> tuple[str | None, str]:
    """Take FOLDOC's leading `<category>` tags off a cleaned definition.

    Args:
        definition: Cleaned FOLDOC text, such as "<language, humour> A daft way ...".

    Returns:
        (category, text): the first category of the first tag ("language"), or None when the
        definition does not open with a tag; and the text with the tags removed from the start of
        the definition and of each numbered sense ("1. <programming> In ..." -> "1. In ...").
    """
    match = CATEGORY_TAGS.match(definition)
    category = re.split(r"[,>}<]", match.group("tags")[1:])[0].strip() if match else None
    first, *others = definition.split("\n\n")
    paragraphs = [_strip_tags(first), *(_strip_sense_tags(paragraph) for paragraph in others)]
    return category or None, "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def _strip_tags(paragraph: str) -> str:
    match = CATEGORY_TAGS.match(paragraph)
    if not match:
        return paragraph
    return ((match.group("sense") or "") + paragraph[match.end() :]).strip()


def _strip_sense_tags(paragraph: str) -> str:
    # Past the first paragraph, tags go only next to a sense number ("2. <web>", "<web> 2."):
    # other paragraphs may quote HTML or BNF ("<b>bold</b>", "<postal-address> ::=").
    match = CATEGORY_TAGS.match(paragraph)
    if match and (match.group("sense") or re.match(r"\d+\.\s", paragraph[match.end() :])):
        return _strip_tags(paragraph)
    return paragraph


def find_dictd_files(root: Path, name: str) -> tuple[Path, Path]:
    """Locate `NAME.index` and `NAME.dict.dz` under an unpacked package root.

    Raises:
        FileNotFoundError: The package does not hold exactly one pair of files.
    """
    found = []
    for index_path in sorted(Path(root).rglob(f"{name}.index")):
        dict_path = index_path.with_name(f"{name}.dict.dz")
        if dict_path.exists():
            found.append((index_path, dict_path))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one {name}.index + {name}.dict.dz under {root}, found {len(found)}")
    return found[0]


def _read_records(root: Path, name: str, parse_body: Callable[[str], dict]) -> list[dict]:
    """Parse every body of dictionary NAME, keep useful definitions, drop repeats, sort by headword.

    Repeats come from several index lines pointing at one body (aliases) or from bodies stored
    twice; records are unique on (headword, definition).
    """
    index_path, dict_path = find_dictd_files(root, name)
    unique = {}
    for entry in read_dictd(index_path, dict_path):
        try:
            record = parse_body(entry["body"])
        except DictdFormatError as error:
            raise DictdFormatError(f"{index_path}: entry {entry['headword']!r}: {error}") from error
        if is_useful_definition(record["definition"]):
            unique[record["headword"], record["definition"]] = record
    return sorted(unique.values(), key=lambda r: (r["headword"].casefold(), r["headword"], r["definition"]))


def read_foldoc(root: Path) -> list[dict]:
    """Read FOLDOC (package `dict-foldoc`) as headword, definition and category records.

    Args:
        root: The unpacked package root (the folder holding `usr/`).

    Returns:
        Dicts with `headword` (the body's own spelling, e.g. "Association for SIMULA Users",
        not the lower-cased index key), `definition` and `category` (first category of the
        leading `<...>` tag, or None), sorted by headword. Aliases pointing at one body give one
        record; short and pure cross-reference definitions are dropped.
    """
    return _read_records(root, "foldoc", _parse_foldoc_body)


def _parse_foldoc_body(body: str) -> dict:
    heading, text = split_heading(body)
    category, definition = extract_category(clean_definition(text, heading[0]))
    return {"headword": heading[0], "definition": definition, "category": category}


def read_jargon(root: Path) -> list[dict]:
    """Read the Jargon File (package `dict-jargon`) as headword and definition records.

    The pronunciation and part-of-speech line under the headword is dropped; the bracketed usage
    notes ("[Usenet; common]") are part of the definition.

    Args:
        root: The unpacked package root.

    Returns:
        Dicts with `headword` (as spelt in the body) and `definition`, sorted by headword.
    """
    return _read_records(root, "jargon", _parse_jargon_body)


def _parse_jargon_body(body: str) -> dict:
    heading, text = split_heading(body)
    return {"headword": heading[0], "definition": clean_definition(text, heading[0])}


def split_devils_heading(body: str) -> tuple[str, str]:
    """Split a Devil's Dictionary body into its headword and definition text.

    "YOUTH, n.  The Period of Possibility ..." -> ("YOUTH", "The Period of Possibility ...").
    Letter entries run the headword into the text ("J is a consonant ..."); they keep it.
    """
    body = body.strip("\n")
    match = DEVILS_HEADING.match(body)
    if not match:
        raise DictdFormatError(f"Devil's Dictionary entry without a capitalised headword: {body[:60]!r}")
    head, rest = match.group("head"), body[match.end() :]
    if not match.group("pos") and re.match(r",?[ \t]?[a-z(]", rest):
        return head, body
    # "ABRACADABRA." ends with a full stop that is not part of the word; "LL.D." keeps its own.
    if head.endswith(".") and head.count(".") == 1:
        head = head[:-1]
    return head, rest.lstrip(" \t.,")


def read_devils(root: Path) -> list[dict]:
    """Read Bierce's Devil's Dictionary (package `dict-devil`) as headword and definition records.

    Args:
        root: The unpacked package root.

    Returns:
        Dicts with `headword` (upper case, as printed: "YOUTH") and `definition` (part of
        speech removed, `_italics_` markers removed), sorted by headword. The index keys are not
        used as headwords: they are stripped of punctuation and one of them is wrong ("laurel"
        points at LAUREATE).
    """
    return _read_records(root, "devil", _parse_devils_body)


def _parse_devils_body(body: str) -> dict:
    headword, text = split_devils_heading(body)
    return {"headword": headword, "definition": clean_definition(DEVILS_ITALICS.sub(r"\1", text), headword)}
