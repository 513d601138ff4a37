"""Parse FAQ documents and documentation sections shipped in Debian packages into plain records.

Sources:
  * python3.11-doc: reStructuredText sources under `usr/share/doc/python3.11/html/_sources`
    (`faq/` gives question/answer pairs, the rest heading/section pairs).
  * debian-faq: the DocBook-generated chunked HTML (`usr/share/doc/debian/FAQ/*.en.html`); it keeps
    the section structure, whereas the shipped plain text wraps long headings over several lines.
  * perl-doc: `perlfaq1.pod` ... `perlfaq9.pod`.

All text is rendered to plain paragraphs: whitespace inside a paragraph is collapsed to single
spaces and paragraphs are joined with a blank line. Code blocks keep their text (collapsed like
any paragraph) unless longer than `MAX_CODE_LINES` lines, which are dropped: they are noise for a
text-embedding corpus.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType

NO_LABELS: Mapping[str, str] = MappingProxyType({})
MAX_CODE_LINES = 25
MIN_SECTION_WORDS = 30
MAX_SECTION_WORDS = 300
PYTHON_DOC_SOURCES = Path("usr/share/doc/python3.11/html/_sources")
DEBIAN_FAQ_HTML = Path("usr/share/doc/debian/FAQ")
PERLFAQ_POD_GLOB = "usr/share/perl/*/pod/perlfaq[1-9].pod"
# faq/ is held out for evaluation; the rest are release notes, legal text or include fragments.
SKIPPED_DOC_PREFIXES = ("faq/", "whatsnew/", "includes/")
SKIPPED_DOC_PAGES = ("license.rst.txt", "copyright.rst.txt")


# --------------------------------------------------------------------------------------------
# Public readers
# --------------------------------------------------------------------------------------------


def read_python_faq(doc_root: Path) -> list[dict]:
    """Question/answer pairs from the Python FAQ (`_sources/faq/*.rst.txt`).

    A section is an entry when its heading contains "?" or when it is a leaf section at the
    page's question level (the heading level most "?" headings use) - that admits a few
    statement-style questions such as "My class defines __del__ but it is not called ...".
    The page title is never an entry. The answer is the section body up to the next heading.
    Cross-references (:ref:`label`) are resolved to the referenced section title across all of
    the docs, as Sphinx renders them.

    Args:
        doc_root: unpacked python3.11-doc package root.

    Returns:
        Records with keys `source` ("python-faq/<page>"), `question`, `answer`, ordered by page
        name then position; entries with an empty answer are skipped.
    """
    pages = _python_doc_pages(doc_root)
    labels = section_labels(pages.values())
    records = []
    for page, sections in pages.items():
        if not page.startswith("faq/"):
            continue
        source = "python-faq/" + page.removeprefix("faq/").removesuffix(".rst.txt")
        for section in _question_sections(sections, labels):
            answer = rst_to_text(section.body, labels)
            records.append({"source": source, "question": section.title, "answer": answer})
    return _unique_entries(records)


def read_debian_faq(root: Path) -> list[dict]:
    """Question/answer pairs from the Debian FAQ's chunked HTML (one file per chapter).

    Every section heading (h2-h5) is a candidate; it is an entry when the heading contains "?".
    Headings that are statements ("dpkg", "Authors", "Hardening the system") are topic sections,
    not questions, and are left out. The leading section number ("3.1.2.") is removed from the
    question. The answer is the text up to the next section heading; chapter footnotes,
    navigation and tables of contents are dropped.

    Args:
        root: unpacked debian-faq package root.

    Returns:
        Records with keys `source` ("debian-faq/<chapter file stem>"), `question`, `answer`,
        ordered by chapter name then position; entries with an empty answer are skipped.
    """
    html_dir = Path(root) / DEBIAN_FAQ_HTML
    chapters = sorted(path for path in html_dir.glob("*.en.html") if path.name != "index.en.html")
    if not chapters:
        raise FileNotFoundError(f"{html_dir}: no chapter *.en.html files")
    records = []
    for path in chapters:
        source = "debian-faq/" + path.name.removesuffix(".en.html")
        for question, answer in docbook_html_sections(path.read_text(encoding="utf-8"), str(path)):
            if "?" in question and answer:
                records.append({"source": source, "question": question, "answer": answer})
    return _unique_entries(records)


def read_perlfaq(root: Path) -> list[dict]:
    """Question/answer pairs from perlfaq1-9: every `=head2` heading is a question.

    The answer runs to the next `=head1`/`=head2`. POD formatting codes are rendered
    (L<perlfunc/open> becomes '"open" in perlfunc', X<> index entries vanish); `=item` texts
    become paragraphs; `=begin`/`=for` blocks are dropped.

    Args:
        root: unpacked perl-doc package root.

    Returns:
        Records with keys `source` ("perlfaq<N>"), `question`, `answer`, ordered by file then
        position; entries with an empty answer are skipped.
    """
    paths = sorted(Path(root).glob(PERLFAQ_POD_GLOB))
    if not paths:
        raise FileNotFoundError(f"{root}: no {PERLFAQ_POD_GLOB}")
    records = []
    for path in paths:
        source = path.name.removesuffix(".pod")
        for question, answer in pod_head2_sections(path.read_text(encoding="utf-8"), str(path)):
            if answer:
                records.append({"source": source, "question": question, "answer": answer})
    return _unique_entries(records)


def read_python_doc_sections(doc_root: Path) -> list[dict]:
    """Heading -> section pairs from the Python docs, outside the FAQ.

    Every `*.rst.txt` under `_sources` is read except `faq/` (held out for evaluation),
    `whatsnew/` (release notes and the changelog), `includes/` (fragments) and the license and
    copyright pages. Each heading of any level gives one pair whose text is the body up to the
    next heading of any level. Bodies under `MIN_SECTION_WORDS` words are dropped (pure
    tables of contents, one-line stubs); longer ones are cut to `MAX_SECTION_WORDS` words, at the
    last sentence end inside the cut when there is one, else at a word boundary. A repeated
    (heading, text) pair is kept once. Cross-references resolve to section titles as in
    `read_python_faq`.

    Args:
        doc_root: unpacked python3.11-doc package root.

    Returns:
        Records with keys `page` (path relative to `_sources`), `heading`, `text`, ordered by
        page then position.
    """
    pages = _python_doc_pages(doc_root)
    labels = section_labels(pages.values())
    records, seen = [], set()
    for page, sections in pages.items():
        if page.startswith(SKIPPED_DOC_PREFIXES) or page in SKIPPED_DOC_PAGES:
            continue
        for section in sections:
            text = rst_to_text(section.body, labels)
            if len(text.split()) < MIN_SECTION_WORDS:
                continue
            text = truncate_words(text, MAX_SECTION_WORDS)
            if (section.title, text) not in seen:
                seen.add((section.title, text))
                records.append({"page": page, "heading": section.title, "text": text})
    return records


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def collapse_whitespace(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return " ".join(text.split())


def truncate_words(text: str, max_words: int) -> str:
    """Cut paragraphs to at most `max_words` words, preferring to end on a sentence.

    Args:
        text: paragraphs joined by "\\n\\n".
        max_words: word budget for the whole text.

    Returns:
        The text unchanged when within budget, else whole paragraphs that fit plus the start of
        the next one cut at its last sentence end (or last word when it has no sentence end).
    """
    kept, budget = [], max_words
    for paragraph in text.split("\n\n"):
        words = paragraph.split()
        if len(words) <= budget:
            kept.append(paragraph)
            budget -= len(words)
            continue
        partial = " ".join(words[:budget])
        sentence_end = max(partial.rfind(end) for end in (". ", "? ", "! "))
        if partial.endswith((".", "?", "!")):
            sentence_end = len(partial) - 1
        if sentence_end > 0:
            partial = partial[: sentence_end + 1]
        elif kept:
            partial = ""  # a dangling fragment adds little once whole paragraphs were kept
        if partial:
            kept.append(partial)
        break
    return "\n\n".join(kept)


def _python_sources(doc_root: Path) -> Path:
    sources = Path(doc_root) / PYTHON_DOC_SOURCES
    if not sources.is_dir():
        raise FileNotFoundError(f"{doc_root}: no {PYTHON_DOC_SOURCES} (is this python3.11-doc?)")
    return sources


def _python_doc_pages(doc_root: Path) -> dict[str, list[RstSection]]:
    """Every `*.rst.txt` page of the Python docs, keyed by path relative to `_sources`, sorted."""
    sources = _python_sources(doc_root)
    return {
        path.relative_to(sources).as_posix(): rst_sections(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(sources.rglob("*.rst.txt"))
    }


def _unique_entries(records: list[dict]) -> list[dict]:
    seen, unique = set(), []
    for record in records:
        key = (record["question"], record["answer"])
        if key not in seen:
            seen.add(key)
            unique.append(record)
    return unique


def _code_paragraph(lines: list[str]) -> list[str]:
    """A code block as at most one collapsed paragraph; too long blocks are dropped."""
    if len([line for line in lines if line.strip()]) > MAX_CODE_LINES:
        return []
    text = collapse_whitespace("\n".join(lines))
    return [text] if text else []


# --------------------------------------------------------------------------------------------
# reStructuredText
# --------------------------------------------------------------------------------------------

_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+\s*$")
_EXPLICIT_MARKUP = re.compile(r"^\s*\.\.(\s|$)")
_DIRECTIVE = re.compile(r"^([A-Za-z0-9][\w.+-]*(?::[\w.+-]+)*)::(?:\s+(.*))?$")
_DIRECTIVE_OPTION = re.compile(r"^:[\w-]+:(\s|$)")
_LIST_ITEM = re.compile(r"^([-*+\u2022]|#\.|\d+[.)]|\(\d+\))(\s|$)")
_LABEL_LINE = re.compile(r"^\.\. _([^:`]+):\s*$")
_HYPERLINK_TARGET = re.compile(r"^\s*\.\. _[^:]*:\s*$")  # label put inside a list item
_CELL_DIRECTIVE = re.compile(r"\.\. [\w:-]+::")  # e.g. ".. c:macro:: NAME" inside a grid-table cell
_TABLE_BORDER = re.compile(r"^\s*[+|]?[-=+| ]*[-=]{3}[-=+| ]*$")

_DROPPED_DIRECTIVES = frozenset(
    "index module currentmodule sectionauthor moduleauthor highlight productionlist toctree "
    "include literalinclude tabularcolumns testsetup testcleanup program contents image figure "
    "raw miscnews limited-api-list audit-event-table".split()
)
_CODE_DIRECTIVES = frozenset("code-block sourcecode code doctest testcode testoutput parsed-literal".split())
_SIGNATURE_DIRECTIVES = frozenset(
    "function method attribute data class exception decorator decoratormethod classmethod "
    "staticmethod abstractmethod coroutinefunction coroutinemethod awaitablefunction "
    "awaitablemethod cmdoption option envvar opcode pdbcommand 2to3fixer describe object "
    "c:function c:member c:type c:var c:macro c:struct".split()
)
# Directives whose argument line is part of the rendered text (a title or the first sentence).
_TITLED_DIRECTIVES = frozenset(
    "note warning important caution tip hint attention danger error seealso topic sidebar "
    "rubric table list-table csv-table glossary epigraph centered admonition".split()
)
_LABELLED_DIRECTIVES = {
    "versionadded": "New in version {0}",
    "versionchanged": "Changed in version {0}",
    "deprecated": "Deprecated since version {0}",
    "deprecated-removed": "Deprecated since version {0}, will be removed in version {1}",
}
_FUNCTION_ROLES = frozenset({"func", "meth", "py:func", "py:meth", "c:func"})


@dataclass
class RstSection:
    """One reST section: plain-text title, nesting level (0 = page title), raw body lines, and the
    reference labels (`.. _name:`) placed just before its heading."""

    title: str
    level: int
    body: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def rst_sections(text: str, origin: str) -> list[RstSection]:
    """Split a reST document into sections at every heading, whatever its level.

    Levels follow docutils: each new adornment style (underline character, with or without
    overline) met in the document opens the next level. Headings are only recognised at column
    0, so adornment-like lines in indented code never count. Text before the first heading
    (labels, `:tocdepth:`) belongs to no section.

    Args:
        text: the whole document.
        origin: file name for error messages.

    Returns:
        Sections in document order.
    """
    lines = text.splitlines()
    styles: dict[tuple[str, bool], int] = {}
    sections: list[RstSection] = []
    index = 0
    while index < len(lines):
        heading = _heading_at(lines, index)
        if heading is None:
            if sections:
                sections[-1].body.append(lines[index])
            index += 1
            continue
        title, style, span = heading
        level = styles.setdefault(style, len(styles))
        plain_title = collapse_whitespace(rst_inline_to_text(title))
        if not plain_title:
            raise ValueError(f"{origin}:{index + 1}: heading with no text")
        sections.append(RstSection(plain_title, level, labels=_labels_before(lines, index)))
        index += span
    return sections


def section_labels(pages) -> dict[str, str]:
    """Map reference labels (lower-cased, as docutils normalises them) to section titles.

    Args:
        pages: iterable of section lists, as returned by `rst_sections`.
    """
    titles = {}
    for sections in pages:
        for section in sections:
            for label in section.labels:
                titles.setdefault(label, section.title)
    return titles


def _labels_before(lines: list[str], index: int) -> list[str]:
    labels = []
    index -= 1
    while index >= 0 and (not lines[index].strip() or _LABEL_LINE.match(lines[index])):
        match = _LABEL_LINE.match(lines[index])
        if match:
            labels.append(collapse_whitespace(match.group(1)).lower())
        index -= 1
    return labels


def _heading_at(lines: list[str], index: int) -> tuple[str, tuple[str, bool], int] | None:
    after_blank = index == 0 or not lines[index - 1].strip()
    if not after_blank:
        return None
    line = lines[index]
    over = _ADORNMENT.match(line)
    if over and index + 2 < len(lines):
        title, under = lines[index + 1], lines[index + 2]
        if title.strip() and not _ADORNMENT.match(title) and under.rstrip() == line.rstrip():
            return title.strip(), (over.group(1), True), 3
    if index + 1 < len(lines) and line.strip() and not line[0].isspace() and not _ADORNMENT.match(line):
        under = _ADORNMENT.match(lines[index + 1])
        if under and len(lines[index + 1].rstrip()) >= len(line.rstrip()) and not _EXPLICIT_MARKUP.match(line):
            return line.strip(), (under.group(1), False), 2
    return None


def _question_sections(sections: list[RstSection], labels: Mapping[str, str]) -> list[RstSection]:
    question_levels = Counter(section.level for section in sections[1:] if "?" in section.title)
    # most_common breaks ties by first appearance, which is the shallower level in practice.
    question_level = question_levels.most_common(1)[0][0] if question_levels else None
    chosen = []
    for position, section in enumerate(sections):
        if position == 0 and section.level == 0:
            continue
        following = sections[position + 1] if position + 1 < len(sections) else None
        is_leaf = following is None or following.level <= section.level
        if "?" in section.title or (section.level == question_level and is_leaf):
            if rst_to_text(section.body, labels):
                chosen.append(section)
    return chosen


def rst_to_text(lines: list[str], labels: Mapping[str, str] = NO_LABELS) -> str:
    """Render reST body lines as plain paragraphs joined by "\\n\\n".

    Args:
        lines: raw body lines.
        labels: reference label -> section title, to render :ref:`label` as Sphinx does.
    """
    return "\n\n".join(_rst_paragraphs(lines, labels))


def _rst_paragraphs(lines: list[str], labels: Mapping[str, str]) -> list[str]:
    paragraphs: list[str] = []
    index = 0
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        indent = _indent(lines[index])
        if _EXPLICIT_MARKUP.match(lines[index]):
            end = _indented_block_end(lines, index + 1, indent)
            paragraphs += _explicit_markup_paragraphs(lines[index:end], labels)
            index = end
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() and not _EXPLICIT_MARKUP.match(lines[end]):
            end += 1
        block = lines[index:end]
        index = end
        if block[0].lstrip().startswith(">>>"):
            paragraphs += _code_paragraph(block)
            continue
        paragraphs += _text_block_paragraphs(block, labels)
        if block[-1].rstrip().endswith("::"):
            index, code = _literal_block(lines, index, _text_indent(block[-1]))
            paragraphs += _code_paragraph(code)
    return paragraphs


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _text_indent(line: str) -> int:
    """Column where a line's text starts, after any list marker (literal blocks nest under it)."""
    marker = _LIST_ITEM.match(line.lstrip())
    return _indent(line) + (len(marker.group(0)) if marker else 0)


def _indented_block_end(lines: list[str], start: int, indent: int) -> int:
    """Index just past the lines (blank or indented deeper than `indent`) starting at `start`."""
    end = last_text = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
        if lines[end - 1].strip():
            last_text = end
    return last_text


def _literal_block(lines: list[str], start: int, indent: int) -> tuple[int, list[str]]:
    text_start = start
    while text_start < len(lines) and not lines[text_start].strip():
        text_start += 1
    if text_start == len(lines) or _indent(lines[text_start]) <= indent:
        return start, []  # "::" with no indented block after it: nothing literal
    end = _indented_block_end(lines, text_start, indent)
    return end, lines[text_start:end]


def _text_block_paragraphs(block: list[str], labels: Mapping[str, str]) -> list[str]:
    rows = [_table_row_text(line) for line in block if not _TABLE_BORDER.match(line)]
    paragraphs = []
    for item in _split_list_items(rows):
        item = [row for row in item if not _HYPERLINK_TARGET.match(row)]
        text = collapse_whitespace(rst_inline_to_text(" ".join(item), labels))
        if text == "::":
            continue
        if text.endswith("::"):
            text = text[:-2].rstrip() if text.endswith(" ::") else text[:-1]
        if text:
            paragraphs.append(text)
    return paragraphs


def _table_row_text(line: str) -> str:
    stripped = line.strip()
    if len(stripped) > 1 and stripped.startswith("|") and stripped.endswith("|"):
        cells = (_CELL_DIRECTIVE.sub("", cell).strip() for cell in stripped.strip("|").split("|"))
        return " ".join(cells)
    return line


def _split_list_items(rows: list[str]) -> list[list[str]]:
    """Each list item of a bullet/enumerated list becomes its own paragraph."""
    if not rows or not _LIST_ITEM.match(rows[0].lstrip()):
        return [rows] if rows else []
    base = _indent(rows[0])
    items: list[list[str]] = []
    for row in rows:
        if _indent(row) == base and _LIST_ITEM.match(row.lstrip()):
            items.append([_LIST_ITEM.sub("", row.lstrip(), count=1)])
        else:
            items[-1].append(row)
    return items


def _explicit_markup_paragraphs(block: list[str], labels: Mapping[str, str]) -> list[str]:
    first = block[0].strip()[2:].strip()
    match = _DIRECTIVE.match(first)
    if match is None:
        return []  # comment, hyperlink target, substitution definition or footnote
    name = match.group(1).lower()
    header, content = _directive_parts([match.group(2) or ""] + _dedent(block[1:]))
    if name in _DROPPED_DIRECTIVES:
        return []
    if name in _CODE_DIRECTIVES:
        return _code_paragraph(content)
    if name in _SIGNATURE_DIRECTIVES:
        return [collapse_whitespace(line) for line in header if line.strip()] + _rst_paragraphs(content, labels)
    if name in _LABELLED_DIRECTIVES:
        return _labelled_paragraphs(name, header, content, labels)
    if name == "impl-detail":
        return _prefixed("CPython implementation detail", _rst_paragraphs(header + [""] + content, labels))
    if name == "availability":
        return [f"Availability: {collapse_whitespace(' '.join(header))}."]
    if name == "audit-event":
        return [_audit_event_sentence(header)]
    if name == "rubric" and collapse_whitespace(" ".join(header)).lower() == "footnotes":
        return []
    if name in _TITLED_DIRECTIVES:
        return _rst_paragraphs(header + [""] + content, labels)
    return _rst_paragraphs(content, labels)  # e.g. "only": its argument is a condition, not text


def _dedent(lines: list[str]) -> list[str]:
    depth = min((_indent(line) for line in lines if line.strip()), default=0)
    return [line[depth:] for line in lines]


def _directive_parts(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split a directive into argument lines (options removed) and content lines."""
    blank = next((index for index, line in enumerate(lines) if not line.strip()), len(lines))
    header, content = lines[:blank], lines[blank + 1 :]
    option_start = next(
        (index for index, line in enumerate(header) if index > 0 and _DIRECTIVE_OPTION.match(line.strip())),
        len(header),
    )
    return header[:option_start], content


def _labelled_paragraphs(
    name: str, header: list[str], content: list[str], labels: Mapping[str, str]
) -> list[str]:
    words = " ".join(header).split()
    versions = 2 if name == "deprecated-removed" else 1
    label = _LABELLED_DIRECTIVES[name].format(*(words[:versions] + ["?"] * versions))
    remainder = " ".join(words[versions:])
    return _prefixed(label, _rst_paragraphs([remainder, ""] + content, labels)) or [label + "."]


def _prefixed(label: str, paragraphs: list[str]) -> list[str]:
    if not paragraphs:
        return []
    return [f"{label}: {paragraphs[0]}"] + paragraphs[1:]


def _audit_event_sentence(header: list[str]) -> str:
    words = " ".join(header).split()
    event = words[0] if words else "?"
    arguments = ", ".join(arg for arg in (words[1] if len(words) > 1 else "").split(",") if arg)
    if arguments:
        return f"Raises an auditing event {event} with arguments {arguments}."
    return f"Raises an auditing event {event} with no arguments."


# Inline markup -------------------------------------------------------------------------------

_LITERAL = re.compile(r"``(.+?)``")
_ROLE = re.compile(r":([A-Za-z][\w.+-]*(?::[\w.+-]+)*):`((?:[^`\\]|\\.)+)`")
_REFERENCE = re.compile(r"`((?:[^`\\]|\\.)+?)`(?:__?)?")
_EXPLICIT_TITLE = re.compile(r"^(.*?)\s*<([^<>]*)>$", re.S)
_STRONG = re.compile(r"(?<![\w*\\])\*\*(?=\S)(.+?)(?<=[^\s\\])\*\*(?![\w*])")
_EMPHASIS = re.compile(r"(?<![\w*\\])\*(?=[^\s*])(.+?)(?<=[^\s\\*])\*(?![\w*])")
_FOOTNOTE_REFERENCE = re.compile(r"\s?\[(?:#[\w-]*|\d+|\*)\]_")
_SUBSTITUTION = re.compile(r"\|([\w][\w .-]*?)\|(?:__?)?(?!\w)")
_ESCAPE = re.compile(r"\\(.)", re.S)
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")


def rst_inline_to_text(text: str, labels: Mapping[str, str] = NO_LABELS) -> str:
    """Strip reST/Sphinx inline markup, keeping the text a reader would see.

    ``code`` and roles keep their content (:func:`~os.path.join` -> "join()", :pep:`8` ->
    "PEP 8", `title <url>`_ -> "title"); *emphasis* and **strong** lose their stars; footnote
    references vanish; backslash escapes are resolved outside literals. :ref:`label` becomes
    the title `labels` gives for it, or the label itself when unknown.
    """
    protected: list[str] = []

    def protect(rendered: str) -> str:
        protected.append(rendered)
        return f"\x00{len(protected) - 1}\x00"

    text = text.replace("\\ ", "")  # escaped space: joins markup to the next word, adds nothing
    text = _LITERAL.sub(lambda match: protect(match.group(1)), text)
    text = _ROLE.sub(lambda match: protect(_render_role(match.group(1), _ESCAPE.sub(r"\1", match.group(2)), labels)), text)
    text = _REFERENCE.sub(lambda match: protect(_reference_text(_ESCAPE.sub(r"\1", match.group(1)))), text)
    text = _FOOTNOTE_REFERENCE.sub("", text)
    text = _STRONG.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    text = _SUBSTITUTION.sub(r"\1", text)
    text = _ESCAPE.sub(r"\1", text)
    return _PLACEHOLDER.sub(lambda match: protected[int(match.group(1))], text)


def _reference_text(content: str) -> str:
    match = _EXPLICIT_TITLE.match(content)
    return match.group(1) if match and match.group(1) else content


def _render_role(role: str, content: str, labels: Mapping[str, str]) -> str:
    role = role.lower()
    explicit = _EXPLICIT_TITLE.match(content)
    if explicit and explicit.group(1):
        return explicit.group(1)
    if role == "ref":
        return labels.get(collapse_whitespace(content).lower(), content)
    if role in ("pep", "rfc"):
        return f"{role.upper()} {content.split('#')[0]}"
    target = content.lstrip("!")
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    if role in _FUNCTION_ROLES and not target.endswith(")"):
        target += "()"
    return target


# --------------------------------------------------------------------------------------------
# DocBook HTML (Debian FAQ)
# --------------------------------------------------------------------------------------------

_SECTION_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.\s+")


def docbook_html_sections(page: str, origin: str) -> list[tuple[str, str]]:
    """(heading, text) for every section heading (h2-h5 titles) of a DocBook XSL HTML page.

    Args:
        page: the HTML text.
        origin: file name for error messages.

    Returns:
        Headings without their section number, and the plain text up to the next heading.
    """
    parser = _DocBookSectionParser(origin)
    parser.feed(page)
    parser.close()
    return parser.finish()


class _DocBookSectionParser(HTMLParser):
    """Collects section titles and the paragraphs that follow them, skipping page furniture."""

    SKIPPED_CLASSES = frozenset({"navheader", "navfooter", "toc", "footnotes"})
    SKIPPED_TAGS = frozenset({"head", "style", "script", "sup"})  # <sup> holds footnote marks
    VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"})
    BLOCK_TAGS = frozenset(
        {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "pre", "table", "tr", "td", "th", "blockquote", "h1"}
    )
    HEADING_TAGS = frozenset({"h2", "h3", "h4", "h5"})

    def __init__(self, origin: str) -> None:
        super().__init__(convert_charrefs=True)
        self.origin = origin
        self.open_tags: list[str] = []
        self.skip_until_depth: int | None = None
        self.title_parts: list[str] | None = None
        self.sections: list[tuple[str, list[str]]] = []
        self.buffer: list[str] = []
        self.pre_depth: int | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.VOID_TAGS:
            return
        self.open_tags.append(tag)
        if self.skip_until_depth is not None:
            return
        classes = set((dict(attrs).get("class") or "").split())
        if tag in self.SKIPPED_TAGS or (tag == "div" and classes & self.SKIPPED_CLASSES):
            self.skip_until_depth = len(self.open_tags)
        elif tag in self.HEADING_TAGS and "title" in classes:
            self._flush_paragraph()
            self.title_parts = []
        elif tag in self.BLOCK_TAGS:
            self._flush_paragraph()
            if tag == "pre":
                self.pre_depth = len(self.open_tags)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID_TAGS:
            return
        if not self.open_tags or self.open_tags[-1] != tag:
            raise ValueError(f"{self.origin}:{self.getpos()[0]}: unexpected </{tag}>")
        depth = len(self.open_tags)
        self.open_tags.pop()
        if self.skip_until_depth is not None:
            if depth == self.skip_until_depth:
                self.skip_until_depth = None
            return
        if tag in self.HEADING_TAGS and self.title_parts is not None:
            title = _SECTION_NUMBER.sub("", collapse_whitespace("".join(self.title_parts)))
            self.sections.append((title, []))
            self.title_parts = None
        elif tag in self.BLOCK_TAGS:
            self._flush_paragraph(code=depth == self.pre_depth)
            if depth == self.pre_depth:
                self.pre_depth = None

    def handle_data(self, data: str) -> None:
        if self.skip_until_depth is not None:
            return
        if self.title_parts is not None:
            self.title_parts.append(data)
        else:
            self.buffer.append(data)

    def _flush_paragraph(self, code: bool = False) -> None:
        text = "".join(self.buffer)
        self.buffer = []
        if not self.sections:
            return  # chapter introduction: it belongs to no question
        paragraphs = _code_paragraph(text.splitlines()) if code else [collapse_whitespace(text)]
        self.sections[-1][1].extend(paragraph for paragraph in paragraphs if paragraph)

    def finish(self) -> list[tuple[str, str]]:
        """Return the sections collected so far as (title, text)."""
        self._flush_paragraph()
        if self.open_tags:
            raise ValueError(f"{self.origin}: unclosed tags at end of file: {self.open_tags}")
        return [(title, "\n\n".join(paragraphs)) for title, paragraphs in self.sections]


# --------------------------------------------------------------------------------------------
# POD (perlfaq)
# --------------------------------------------------------------------------------------------

_POD_COMMAND = re.compile(r"^(=[A-Za-z]\w*)\s*(.*)$", re.S)
_POD_CODE_START = re.compile(r"([A-Z])(<+)")
_POD_ITEM_BULLET = re.compile(r"^(\*|\d+\.?)\s*")
_POD_ENTITIES = {"lt": "<", "gt": ">", "verbar": "|", "sol": "/"}


def pod_head2_sections(text: str, origin: str) -> list[tuple[str, str]]:
    """(heading, plain text) for every `=head2` of a POD document.

    Args:
        text: the POD source.
        origin: file name for error messages.

    Returns:
        Headings rendered to plain text and their answers, in document order.
    """
    sections: list[tuple[str, list[str]]] = []
    in_section = skipping_region = False
    code: list[str] = []
    for block in re.split(r"\n(?:[ \t]*\n)+", text.replace("\r\n", "\n")):
        if not block.strip():
            continue
        command, argument = _pod_command(block)
        if skipping_region:
            skipping_region = command != "=end"
            continue
        if block[0].isspace():  # verbatim paragraph; consecutive ones form one code block
            code += [""] + block.split("\n")
            continue
        if in_section:
            sections[-1][1].extend(_code_paragraph(code))
        code = []
        if command == "=begin":
            skipping_region = True
        elif command in ("=head1", "=head2"):
            in_section = command == "=head2"
            if in_section:
                sections.append((pod_inline_to_text(argument, origin), []))
        elif in_section and command in ("=item", "=head3", "=head4", ""):
            paragraph = pod_inline_to_text(argument, origin)
            if command == "=item":
                paragraph = _POD_ITEM_BULLET.sub("", paragraph)
            if paragraph:
                sections[-1][1].append(paragraph)
        # =over, =back, =for, =pod, =cut, =encoding carry no answer text
    if in_section:
        sections[-1][1].extend(_code_paragraph(code))
    return [(title, "\n\n".join(paragraphs)) for title, paragraphs in sections]


def _pod_command(block: str) -> tuple[str, str]:
    """Split a POD paragraph into (command, argument); ordinary text has command ""."""
    match = _POD_COMMAND.match(block)
    return (match.group(1), match.group(2)) if match else ("", block)


def pod_inline_to_text(text: str, origin: str) -> str:
    """Render POD formatting codes (B<>, C<< >>, L<>, E<>, ...) to plain, collapsed text."""
    rendered, end = _render_pod_codes(collapse_whitespace(text), 0, None, origin)
    return collapse_whitespace(rendered)


def _render_pod_codes(text: str, start: int, closer: str | None, origin: str) -> tuple[str, int]:
    out: list[str] = []
    index = start
    while index < len(text):
        if closer and text.startswith(closer, index):
            return "".join(out), index + len(closer)
        match = _POD_CODE_START.match(text, index)
        if match is None:
            out.append(text[index])
            index += 1
            continue
        brackets = len(match.group(2))
        if brackets == 1:
            inner, index = _render_pod_codes(text, match.end(), ">", origin)
        else:
            # C<< x >> form: the content is delimited by whitespace plus the same number of '>'.
            inner, index = _render_pod_codes(text, match.end(), " " + ">" * brackets, origin)
            inner = inner.strip()
        out.append(_apply_pod_code(match.group(1), inner, origin))
    if closer:
        raise ValueError(f"{origin}: unterminated POD formatting code near {text[start - 2 : start + 40]!r}")
    return "".join(out), index


def _apply_pod_code(letter: str, inner: str, origin: str) -> str:
    if letter in "XZ":
        return ""
    if letter == "E":
        return _pod_entity(inner, origin)
    if letter == "L":
        return _pod_link_text(inner)
    return inner  # I, B, C, F, S and unknown letters: keep the text


def _pod_entity(name: str, origin: str) -> str:
    if name in _POD_ENTITIES:
        return _POD_ENTITIES[name]
    if name.isdigit():
        return chr(int(name))
    if name.lower().startswith("0x"):
        return chr(int(name, 16))
    decoded = html.unescape(f"&{name};")
    if decoded == f"&{name};":
        raise ValueError(f"{origin}: unknown POD entity E<{name}>")
    return decoded


def _pod_link_text(inner: str) -> str:
    text, bar, target = inner.partition("|")
    if bar:
        return text
    if "://" in inner or inner.startswith("mailto:"):
        return inner
    name, slash, section = inner.partition("/")
    if not slash:
        return inner.strip('"')
    section = section.strip('"')
    return f'"{section}" in {name}' if name else f'"{section}"'
