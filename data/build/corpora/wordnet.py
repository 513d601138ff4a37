"""Parse the WordNet 3.0 database files (Debian package `wordnet-base`) into plain synset records.

Only the `data.<pos>` files are read: each line after the license header is one synset,
laid out as described in wndb(5WN):

    offset lex_filenum ss_type w_cnt (word lex_id){w_cnt} p_cnt (ptr){p_cnt} [frames] | gloss

The gloss mixes a definition with double-quoted usage examples; `split_gloss` separates them.
"""

from __future__ import annotations

import re
from pathlib import Path

DATA_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")

# lexnames(5WN) of WordNet 3.0. Debian's wordnet-base does not ship the `lexnames` file, so the
# table from the man page is embedded; a `lexnames` file next to the data files takes precedence.
STANDARD_LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)

SYNSET_TYPES = frozenset("nvasr")
# Syntactic markers WordNet appends to some adjectives: "galore(ip)", "outback(a)", "ready_to_hand(p)".
ADJECTIVE_MARKER = re.compile(r"\((?:a|p|ip)\)$")
# A quote opens an example only at the start of the gloss or right after a separator; quotes in
# running text ('as in the phrase "make strides"') belong to the definition.
EXAMPLE_OPENER = re.compile(r'(?:^|[;:,])\s*"')
# Examples are separated by ';' next to a quote, or by nothing but punctuation between a closing
# and an opening quote ('"deliver an attack", "deliver a blow"'). Splitting there, rather than
# pairing quotes, survives the glosses with a missing or extra quote ('"drop a hint"; drop names"').
EXAMPLE_SEPARATOR = re.compile(r'\s*;\s*(?=")|(?<=")\s*;\s*|(?<=")\s*[,:.]?\s*(?=")')
# A closing quote followed by a dash or a parenthesis starts an attribution: '..."- Shakespeare'.
ATTRIBUTION = re.compile(r'"\s*(?:-|\u2014|\()')


class WordNetFormatError(ValueError):
    """A data line does not follow the wndb(5WN) layout."""


def read_lexnames(dict_dir: Path) -> dict[int, str]:
    """Map lexicographer file numbers to names such as "noun.animal".

    Args:
        dict_dir: Folder holding the WordNet database files.

    Returns:
        The `lexnames` file of `dict_dir` when present, else the standard WordNet 3.0 table.

    Raises:
        WordNetFormatError: A `lexnames` line is not "number name syntactic-category".
    """
    path = dict_dir / "lexnames"
    if not path.exists():
        return dict(enumerate(STANDARD_LEXNAMES))
    names = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or not fields[0].isdigit():
            raise WordNetFormatError(f"{path}:{line_no}: expected 'number name category', got {line!r}")
        names[int(fields[0])] = fields[1]
    return names


def split_gloss(gloss: str) -> tuple[str, list[str]]:
    """Split a WordNet gloss into its definition and its quoted usage examples.

    Args:
        gloss: The text after " | " on a data line.

    Returns:
        (definition, examples): the definition without trailing separators, and the example
        sentences without their quotes, in gloss order.
    """
    gloss = gloss.strip()
    start = _first_example_start(gloss)
    if start is None:
        return _clean_definition(gloss), []
    examples = [_example_text(part) for part in EXAMPLE_SEPARATOR.split(gloss[start:])]
    return _clean_definition(gloss[:start]), [example for example in examples if example]


def _first_example_start(gloss: str) -> int | None:
    """Index of the opening quote of the first example, or None when the gloss has none."""
    for match in EXAMPLE_OPENER.finditer(gloss):
        quote = match.end() - 1
        # Quotes inside parentheses are cited words: '(e.g., "he said ...")' is still definition.
        if gloss.count("(", 0, quote) <= gloss.count(")", 0, quote):
            return quote
    return None


def _clean_definition(text: str) -> str:
    text = text.rstrip(" ;:,")
    # A lone quote closing the definition is a typo in the data ('... are available"').
    if text.endswith('"') and text.count('"') % 2:
        text = text[:-1].rstrip()
    return text


def _example_text(part: str) -> str:
    """The sentence inside one example segment, without quotes or a trailing attribution."""
    text = part.strip().rstrip(";").strip().removeprefix('"')
    attribution = ATTRIBUTION.search(text)
    if attribution:
        text = text[: attribution.start()]
    return text.strip().strip('"').strip()


def clean_lemma(word: str) -> str:
    """Turn a data-file word into a readable lemma: "ready_to_hand(p)" -> "ready to hand"."""
    return ADJECTIVE_MARKER.sub("", word).replace("_", " ")


def parse_data_line(line: str, lexnames: dict[int, str], where: str) -> dict:
    """Parse one synset line of a `data.<pos>` file.

    Args:
        line: The line without its newline.
        lexnames: Lexicographer file number -> name, from `read_lexnames`.
        where: "file:line" used in error messages.

    Returns:
        The synset record (see `read_wordnet`).

    Raises:
        WordNetFormatError: The line does not follow the wndb(5WN) layout.
    """
    head, separator, gloss = line.partition(" | ")
    if not separator:
        raise WordNetFormatError(f"{where}: no ' | ' gloss separator")
    fields = head.split()
    if len(fields) < 4:
        raise WordNetFormatError(f"{where}: too few fields before the gloss")
    offset, lex_filenum, pos, word_count_hex = fields[:4]
    if len(offset) != 8 or not offset.isdigit():
        raise WordNetFormatError(f"{where}: bad synset offset {offset!r}")
    if pos not in SYNSET_TYPES:
        raise WordNetFormatError(f"{where}: unknown synset type {pos!r}")
    if not lex_filenum.isdigit() or int(lex_filenum) not in lexnames:
        raise WordNetFormatError(f"{where}: unknown lexicographer file number {lex_filenum!r}")
    word_count = _parse_int(word_count_hex, 16, where, "word count")
    words = fields[4 : 4 + 2 * word_count : 2]
    pointer_count_at = 4 + 2 * word_count
    if len(fields) <= pointer_count_at or len(words) != word_count:
        raise WordNetFormatError(f"{where}: fewer words than the word count {word_count}")
    pointer_count = _parse_int(fields[pointer_count_at], 10, where, "pointer count")
    if len(fields) < pointer_count_at + 1 + 4 * pointer_count:
        raise WordNetFormatError(f"{where}: fewer pointers than the pointer count {pointer_count}")
    definition, examples = split_gloss(gloss)
    return {
        # Satellites ('s') share the adjective letter, as in WordNet's own sense keys and NLTK ids.
        "synset_id": ("a" if pos == "s" else pos) + offset,
        "pos": pos,
        "lexname": lexnames[int(lex_filenum)],
        "lemmas": [clean_lemma(word) for word in words],
        "gloss": definition,
        "examples": examples,
    }


def _parse_int(text: str, base: int, where: str, what: str) -> int:
    if not re.fullmatch(r"[0-9a-fA-F]+" if base == 16 else r"[0-9]+", text):
        raise WordNetFormatError(f"{where}: bad {what} {text!r}")
    return int(text, base)


def read_data_file(path: Path, lexnames: dict[int, str]) -> list[dict]:
    """Parse every synset line of one `data.<pos>` file, skipping the license header.

    Raises:
        WordNetFormatError: A line does not follow the wndb(5WN) layout.
    """
    records = []
    with path.open(encoding="utf-8") as lines:
        for line_no, line in enumerate(lines, start=1):
            # The license header lines start with two spaces; synset lines with the offset.
            if line.startswith("  ") or not line.strip():
                continue
            records.append(parse_data_line(line.rstrip("\n"), lexnames, f"{path}:{line_no}"))
    return records


def read_wordnet(dict_dir: Path) -> list[dict]:
    """Read all noun, verb, adjective and adverb synsets of a WordNet database folder.

    Args:
        dict_dir: Folder with `data.noun`, `data.verb`, `data.adj`, `data.adv` (and optionally
            `lexnames`), e.g. `usr/share/wordnet` of the unpacked `wordnet-base` package.

    Returns:
        One dict per synset, sorted by `synset_id`, with keys `synset_id` ("n02084071"),
        `pos` (n, v, a, s or r), `lexname` ("noun.animal"), `lemmas` (spaces instead of
        underscores, adjective markers removed, WordNet order), `gloss` (the definition part)
        and `examples` (the quoted usage examples, quotes removed).

    Raises:
        FileNotFoundError: A data file is missing.
        WordNetFormatError: A line does not follow the wndb(5WN) layout.
    """
    dict_dir = Path(dict_dir)
    lexnames = read_lexnames(dict_dir)
    records = []
    for name in DATA_FILES:
        records.extend(read_data_file(dict_dir / name, lexnames))
    records.sort(key=lambda record: record["synset_id"])
    return records
