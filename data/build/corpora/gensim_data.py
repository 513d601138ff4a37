"""Parse two text data sets shipped in gensim's test data (`gensim/test/test_data/`).

* The Lee et al. (2005) document-similarity set: `lee.cor` (50 short news documents, one per line,
  Latin-1) and `similarities0-1.txt` (mean human similarity of every pair of them).
* A shortened English Wikipedia dump (`enwiki-latest-pages-articles1.xml-p000000010p000030302-
  shortened.bz2`), turned into plain-text sections.

Lee, M. D., Pincombe, B., & Welsh, M. (2005). An empirical evaluation of models of text document
similarity. Proceedings of the 27th Annual Conference of the Cognitive Science Society.
"""

from __future__ import annotations

import bz2
import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

LEE_DOCUMENTS = "lee.cor"
LEE_SIMILARITIES = "similarities0-1.txt"
WIKI_SAMPLE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"

LEAD_SECTION = "Introduction"
MIN_SECTION_WORDS = 20
# Citation and navigation appendices: lists of sources and links rather than prose about the
# subject, often long enough to pass MIN_SECTION_WORDS. Compared case-insensitively.
APPENDIX_SECTIONS = frozenset(
    {
        "see also", "references", "external links", "further reading", "notes", "footnotes",
        "citations", "sources", "bibliography", "selected bibliography", "notes and references",
        "references and notes", "works cited", "reference literature",
    }
)


# --------------------------------------------------------------------------------------------------
# Lee et al. (2005)
# --------------------------------------------------------------------------------------------------


def read_lee(test_data: Path) -> tuple[list[str], list[dict]]:
    """Read the Lee et al. (2005) documents and their human pairwise similarities.

    `similarities0-1.txt` is a whitespace-separated N x N matrix (N = 50) whose row/column k is line k
    (0-based) of `lee.cor`. Only the upper triangle holds data: the diagonal is 1 and the lower
    triangle is 0, which is also how gensim's own test reads it
    (`sim_matrix[np.triu_indices(50, 1)]`, gensim/test/test_lee.py). Each pair (i, j), i < j, is
    therefore `matrix[i][j]`.

    Scale: the mean of the raters' judgements on Lee et al.'s 1 ("highly unrelated") to 5 ("highly
    related") scale, divided by 5, so scores run from 0.2 to 1.0 (fractions such as 0.2222 = 10/9/5
    come from averaging 9 to 11 raters).

    Args:
        test_data: gensim's `test/test_data` folder.

    Returns:
        (documents, pairs): the N documents as clean text (Latin-1 decoded, whitespace runs
        collapsed), and N*(N-1)/2 dicts `{"doc1": i, "doc2": j, "score": float}` with i < j indexing
        `documents`, ordered by (i, j).

    Raises:
        ValueError: If the matrix is not square, does not match the number of documents, is not
            upper-triangular with a unit diagonal, or holds a value outside [0, 1].
    """
    test_data = Path(test_data)
    documents = read_lee_documents(test_data / LEE_DOCUMENTS)
    matrix_path = test_data / LEE_SIMILARITIES
    matrix = read_similarity_matrix(matrix_path)
    if len(matrix) != len(documents):
        raise ValueError(
            f"{matrix_path}: {len(matrix)} rows but {len(documents)} documents in {LEE_DOCUMENTS}"
        )
    check_upper_triangular(matrix, matrix_path)
    size = len(matrix)
    pairs = [
        {"doc1": i, "doc2": j, "score": matrix[i][j]} for i in range(size) for j in range(i + 1, size)
    ]
    return documents, pairs


def read_lee_documents(path: Path) -> list[str]:
    """Read `lee.cor`: one document per line, Latin-1 (it holds a raw 0xA3 pound sign).

    Raises:
        ValueError: On an empty line between documents (it would shift every pair index).
    """
    lines = path.read_bytes().decode("latin-1").split("\n")
    if lines and not lines[-1].strip():
        lines.pop()  # a final newline, if any, ends the last document rather than starting one
    documents = []
    for line_number, line in enumerate(lines, start=1):
        text = " ".join(line.split())
        if not text:
            raise ValueError(f"{path}:{line_number}: empty document line")
        documents.append(text)
    return documents


def read_similarity_matrix(path: Path) -> list[list[float]]:
    """Read a whitespace-separated square matrix of floats.

    Raises:
        ValueError: On a non-numeric cell or a row whose length differs from the row count.
    """
    lines = path.read_text(encoding="ascii").splitlines()
    rows = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    matrix = []
    for line_number, line in rows:
        cells = line.split()
        if len(cells) != len(rows):
            raise ValueError(f"{path}:{line_number}: {len(cells)} values, expected {len(rows)} (square)")
        try:
            matrix.append([float(cell) for cell in cells])
        except ValueError as error:
            raise ValueError(f"{path}:{line_number}: non-numeric value ({error})") from error
    return matrix


def check_upper_triangular(matrix: list[list[float]], path: Path) -> None:
    """Check the layout `read_lee` relies on: 1 on the diagonal, 0 below it, [0, 1] above it.

    Raises:
        ValueError: Naming the first offending cell (1-based row and column).
    """
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if j < i:
                problem = value != 0.0 and "lower triangle should be 0"
            elif j == i:
                problem = value != 1.0 and "diagonal should be 1"
            else:
                problem = not 0.0 <= value <= 1.0 and "score outside [0, 1]"
            if problem:
                raise ValueError(f"{path}: row {i + 1}, column {j + 1} is {value}: {problem}")


# --------------------------------------------------------------------------------------------------
# Wikipedia sample
# --------------------------------------------------------------------------------------------------

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_REF = re.compile(r"<ref\b[^>]*/>|<ref\b[^>]*>.*?</ref\s*>", re.DOTALL | re.IGNORECASE)
# Elements whose content is not prose (formulas, code, image lists): dropped with their content.
_DROPPED_ELEMENT = re.compile(
    r"<(math|gallery|source|syntaxhighlight|timeline|imagemap|score|hiero|chem|references)\b[^>]*"
    r"(?:/>|>.*?</\1\s*>)",
    re.DOTALL | re.IGNORECASE,
)
_HEADING = re.compile(r"^(={1,6})[ \t]*([^=\s].*?)[ \t]*\1[ \t]*$", re.MULTILINE)
_LINK_BRACKETS = re.compile(r"\[\[|\]\]")
# The label may not hold brackets, so a link inside a file caption is matched on its own; a label
# that held a wikilink ("[http://x talk at [[Berkeley]]]") matches after wikilinks are replaced.
_EXTERNAL_LINK = re.compile(r"\[(?:(?:https?:|ftp:)?//|mailto:)[^\s\[\]]*(?:\s+([^\[\]]*))?\]")
_HIDDEN_NAMESPACES = frozenset({"file", "image", "category", "media"})
_INNERMOST_TEMPLATE = re.compile(r"\{\{([^{}]*)\}\}")
# A template parameter ("{{{1}}}"); removed first, or its inner "{{1}}" would leave "{}" behind.
_TEMPLATE_PARAMETER = re.compile(r"\{\{\{[^{}]*\}\}\}")
# "|" that separates template parameters, not one inside a [[target|label]] link.
_TEMPLATE_PIPE = re.compile(r"\|(?![^\[]*\]\])")
_NAMED_PARAMETER = re.compile(r"^\s*[\w -]+\s*=")
_CONVERT_RANGE_WORDS = frozenset({"to", "-", "–", "and", "or", "by", "x", "+/-"})
# Inline templates that stand for text ({{convert|5|km}}, {{lang|fr|mot}}); any other template is
# dropped. Without these, sentences lose words ("At {{convert|..}}, Angola is" -> "At, Angola is").
_SYMBOL_TEMPLATES = {
    "'s": "'s", "'": "'", "=": "=", "!": "|", "nbsp": " ", "ndash": "–", "mdash": "—", "snd": " – ",
}
_LAST_PARAMETER_TEMPLATES = frozenset(
    {"lang", "transl", "script", "nowrap", "small", "big", "nobold", "noitalic"}
)
_BOLD_ITALIC = re.compile(r"'{2,}")
_LINE_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_LIST_MARKER = re.compile(r"^[*#:;]+\s*")
_HORIZONTAL_RULE = re.compile(r"^-{4,}\s*$")
# Separators left around removed templates: "({{IPA|..}}, {{respell|..}}; from Greek)".
_EMPTY_BRACKETS = re.compile(r"\(\s*(?:[,;:]\s*)*\)")
# Only before punctuation that ends a word, so " .NET" keeps its space.
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:!?)])(?=\s|$)")
_PUNCTUATION_AFTER_OPEN = re.compile(r"\(\s*(?:[,;:]\s*)*")
_PUNCTUATION_BEFORE_CLOSE = re.compile(r"\s*(?:[,;:]\s*)+\)")
# Left at the start of a line when it began with a removed template ("{{As of|2015}}, the ...").
_LEADING_PUNCTUATION = re.compile(r"^(?:[,;:]+|\.(?=\s))\s*")


def read_wiki_sample(test_data: Path) -> list[dict]:
    """Read gensim's shortened English Wikipedia dump as plain-text sections.

    See `read_wiki_dump` for the record layout and the rules.

    Args:
        test_data: gensim's `test/test_data` folder (holding `WIKI_SAMPLE`).
    """
    return read_wiki_dump(Path(test_data) / WIKI_SAMPLE)


def read_wiki_dump(path: Path) -> list[dict]:
    """Split every article of a MediaWiki XML dump (.xml or .xml.bz2) into cleaned sections.

    Sections are level-2 (`== Heading ==`) sections; deeper subsections are folded into their
    level-2 section with the subheading line dropped. The text before the first heading is named
    `LEAD_SECTION` ("Introduction"), so section names never repeat the article title. Text is
    plain: one paragraph or list item per line (joined with "\\n"), wiki markup removed (see
    `clean_wikitext`).

    Skipped: redirects and pages outside the main namespace (ns 0); sections whose cleaned text
    has fewer than `MIN_SECTION_WORDS` words; and appendix sections (`APPENDIX_SECTIONS`: "See
    also", "References", "External links", "Further reading", "Bibliography", ...) whatever their
    length, since many are long link or source lists.

    Args:
        path: The dump; a name ending in ".bz2" is decompressed on the fly.

    Returns:
        Dicts `{"article": title, "section": heading, "text": plain text}`, sorted by article title,
        then by section order within the article.

    Raises:
        ValueError: If the XML is malformed, a page lacks a title or text, or an article's markup
            has unbalanced `{{`/`}}`; the message names the file (and the line or article).
    """
    records = []
    for title, markup in sorted(read_articles(path)):
        try:
            sections = split_sections(markup)
        except ValueError as error:
            raise ValueError(f"{path}: article {title!r}: {error}") from error
        records.extend(
            {"article": title, "section": heading, "text": text}
            for heading, text in sections
            if _is_kept_section(heading, text)
        )
    return records


def _is_kept_section(heading: str, text: str) -> bool:
    return heading.lower() not in APPENDIX_SECTIONS and len(text.split()) >= MIN_SECTION_WORDS


def read_articles(path: Path) -> list[tuple[str, str]]:
    """Return (title, wikitext) of every main-namespace, non-redirect page of a dump."""
    opener = bz2.open if str(path).endswith(".bz2") else open
    with opener(path, "rb") as stream:
        try:
            root = ET.parse(stream).getroot()
        except ET.ParseError as error:
            line, column = error.position
            raise ValueError(f"{path}:{line}: malformed XML at column {column} ({error})") from error
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    articles = []
    for number, page in enumerate(root.iter(f"{namespace}page"), start=1):
        title = page.findtext(f"{namespace}title")
        markup = page.findtext(f"{namespace}revision/{namespace}text")
        if title is None or markup is None:
            raise ValueError(f"{path}: page #{number} ({title!r}) has no <title> or no <revision><text>")
        if _is_article(page, namespace, markup):
            articles.append((title, markup))
    return articles


def _is_article(page: ET.Element, namespace: str, markup: str) -> bool:
    """True for a main-namespace page that is not a redirect."""
    has_redirect_tag = page.find(f"{namespace}redirect") is not None
    is_redirect = has_redirect_tag or markup.lstrip().upper().startswith("#REDIRECT")
    return page.findtext(f"{namespace}ns", "0").strip() == "0" and not is_redirect


def split_sections(markup: str) -> list[tuple[str, str]]:
    """Split wikitext into (heading, cleaned text) per level-2 section, lead section first.

    Raises:
        ValueError: If the markup has unbalanced template braces.
    """
    markup = _COMMENT.sub("", markup)
    sections = []
    heading, start = LEAD_SECTION, 0
    for match in _HEADING.finditer(markup):
        if len(match.group(1)) != 2:
            continue
        sections.append((heading, markup[start : match.start()]))
        heading, start = clean_wikitext(match.group(2)), match.end()
    sections.append((heading, markup[start:]))
    return [(heading, clean_wikitext(_drop_subheadings(body))) for heading, body in sections]


def _drop_subheadings(markup: str) -> str:
    return _HEADING.sub("", markup)


def clean_wikitext(markup: str) -> str:
    """Turn a piece of wikitext into plain text.

    Removed with their content: comments, `<ref>` footnotes, `<math>`/`<gallery>`-like elements,
    templates `{{...}}` (nested; inline text templates such as `{{convert|5|mi|km}}` -> "5 mi" or
    `{{lang|fr|mot}}` -> "mot" are rendered instead, see `render_template`), tables `{| ... |}`
    (nested), `[[File:..]]`, `[[Image:..]]`, `[[Category:..]]`, bare external links `[http://x]`,
    magic words (`__TOC__`). Unwrapped (text kept): `[[target|label]]` -> label, `[[target]]` ->
    target, `[http://x label]` -> label, bold/italic quotes, other HTML tags, list markers. HTML
    entities are decoded; separators stranded by removed templates ("(, ; x)") are dropped. Each
    remaining non-empty line is whitespace-normalised; lines are joined with "\\n".

    Raises:
        ValueError: If `{{` and `}}` do not balance.
    """
    text = _COMMENT.sub("", markup)
    text = _REF.sub("", text)
    text = _DROPPED_ELEMENT.sub("", text)
    text = strip_templates(text)
    text = strip_tables(text)
    text = replace_external_links(text)
    text = replace_wikilinks(text)
    text = replace_external_links(text)
    text = _BOLD_ITALIC.sub("", text)
    text = _LINE_BREAK_TAG.sub(" ", text)
    text = _HTML_TAG.sub("", text)
    text = _MAGIC_WORD.sub("", text)
    text = html.unescape(text)
    lines = (_tidy_line(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def strip_templates(text: str) -> str:
    """Render inline text templates (see `render_template`) and remove all other `{{...}}`.

    Raises:
        ValueError: On a `}}` without a matching `{{`, or a `{{` never closed.
    """
    while True:
        rendered = _TEMPLATE_PARAMETER.sub("", text)
        rendered = _INNERMOST_TEMPLATE.sub(lambda match: render_template(match.group(1)), rendered)
        if rendered == text:
            # Templates still here hold single braces ("{{math|{x}}}") the regex cannot match;
            # the depth scanner removes them whole.
            return remove_templates(rendered)
        text = rendered


def render_template(inner: str) -> str:
    """Text a template stands for, given what is between its braces; "" for non-text templates.

    Rendered: `convert`/`cvt` (value and unit as written: "5 mi", "400 to 670 mm"), `lang`,
    `lang-xx`, `transl`, `nowrap`, `small` and similar wrappers (their text), `as of` ("As of 2015"),
    `frac` ("3 1/2") and symbol templates (`'s`, `nbsp`, `ndash`, ...).
    """
    name, *parameters = _TEMPLATE_PIPE.split(inner)
    name = " ".join(name.replace("_", " ").split()).lower()
    positional = [value.strip() for value in parameters if not _NAMED_PARAMETER.match(value)]
    if name in _SYMBOL_TEMPLATES:
        return _SYMBOL_TEMPLATES[name]
    if not positional:
        return ""
    if name in ("convert", "cvt"):
        return _render_convert(positional)
    if name in _LAST_PARAMETER_TEMPLATES or name.startswith("lang-"):
        return positional[-1]
    if name == "as of":
        lowercase = any(value.replace(" ", "") == "lc=y" for value in parameters)
        return f"{'as' if lowercase else 'As'} of {positional[0]}"
    if name == "frac":
        return " ".join(positional[:-2] + ["/".join(positional[-2:])])
    return ""


def _render_convert(positional: list[str]) -> str:
    """"5 mi" for {{convert|5|mi|km}}, "400 to 670 mm" for {{convert|400|to|670|mm}}."""
    if len(positional) >= 4 and positional[1] in _CONVERT_RANGE_WORDS:
        return " ".join(positional[:4])
    return " ".join(positional[:2])


def remove_templates(text: str) -> str:
    """Remove `{{...}}` templates, including nested ones, with a brace-depth scanner.

    Raises:
        ValueError: On a `}}` without a matching `{{`, or a `{{` never closed.
    """
    kept: list[str] = []
    depth, position, outer_start = 0, 0, 0
    for match in re.finditer(r"\{\{|\}\}", text):
        if match.group() == "{{":
            if depth == 0:
                kept.append(text[position : match.start()])
                outer_start = match.start()
            depth += 1
        else:
            if depth == 0:
                raise ValueError(f"unmatched '}}}}' near {text[max(0, match.start() - 40) : match.end()]!r}")
            depth -= 1
            if depth == 0:
                position = match.end()
    if depth:
        raise ValueError(f"unclosed '{{{{' near {text[outer_start : outer_start + 60]!r}")
    kept.append(text[position:])
    return "".join(kept)


def strip_tables(text: str) -> str:
    """Remove `{| ... |}` tables (nested), which open and close at the start of a line."""
    kept, depth = [], 0
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("{|"):
            depth += 1
        elif depth and stripped.startswith("|}"):
            depth -= 1
        elif depth == 0:
            kept.append(line)
    return "\n".join(kept)


def replace_external_links(text: str) -> str:
    """Replace `[http://x label]` by its label and drop bare `[http://x]`."""
    return _EXTERNAL_LINK.sub(lambda match: match.group(1) or "", text)


def replace_wikilinks(text: str) -> str:
    """Replace `[[...]]` links by their visible text, nested ones first.

    A bracket scanner rather than a regex, because file captions hold both links and single
    brackets ("Bicyclo[1.1.0]butane", "in London [above]]]"). Stray `[[` or `]]` (broken markup) are
    dropped and their text kept.
    """
    open_links: list[list[str]] = [[]]  # text pieces of each link being read, outermost first
    position = 0
    while match := _LINK_BRACKETS.search(text, position):
        start = match.start()
        read_so_far = [*open_links[-1], text[position:start]]
        if match.group() == "]]" and text.startswith("]", start + 2) and _has_open_bracket(read_so_far):
            start += 1  # "[above]]]": the first "]" closes the single bracket, not the link
        open_links[-1].append(text[position:start])
        position = start + 2
        if match.group() == "[[":
            open_links.append([])
        elif len(open_links) > 1:
            inner = "".join(open_links.pop())
            open_links[-1].append(_link_text(inner))
    open_links[-1].append(text[position:])
    return "".join(piece for pieces in open_links for piece in pieces)


def _has_open_bracket(pieces: list[str]) -> bool:
    text = "".join(pieces)
    return text.count("[") > text.count("]")


def _link_text(inner: str) -> str:
    """Visible text of a link whose inside (between the brackets) is `inner`."""
    target, pipe, label = inner.partition("|")
    prefix, colon, _ = target.partition(":")
    if colon and prefix.strip().lower() in _HIDDEN_NAMESPACES:
        return ""
    if pipe and label.strip():
        return label.split("|")[-1]
    return target.lstrip(":")  # a leading colon makes e.g. [[:Category:X]] a visible link


def _tidy_line(line: str) -> str:
    """Strip list markers and rules, normalise spaces, and mend gaps left by removed markup."""
    if _HORIZONTAL_RULE.match(line):
        return ""
    line = _LIST_MARKER.sub("", line.strip())
    line = _EMPTY_BRACKETS.sub("", line)
    line = _PUNCTUATION_AFTER_OPEN.sub("(", line)
    line = _PUNCTUATION_BEFORE_CLOSE.sub(")", line)
    line = " ".join(line.split())
    line = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", line)
    return _LEADING_PUNCTUATION.sub("", line)
