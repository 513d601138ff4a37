"""Tests for the FAQ and doc-section parsers (data/build/corpora/faq.py) on small fixtures."""

from pathlib import Path

import pytest
from corpora import faq
from corpora.faq import (
    pod_inline_to_text,
    read_debian_faq,
    read_perlfaq,
    read_python_doc_sections,
    read_python_faq,
    rst_inline_to_text,
    truncate_words,
)

FAQ = Path(__file__).resolve().parents[1] / "fixtures" / "corpora" / "faq"
PYTHON_DOC = FAQ / "python3.11-doc"


def test_python_faq_entries_exactly():
    # Category headings ("General Questions") and the page title are not entries; the
    # statement-style leaf heading is; the empty answer and the duplicate are skipped; the
    # 26-line code block is dropped; :ref:`tut-lists` resolves to a title from another page.
    assert read_python_faq(PYTHON_DOC) == [
        {
            "source": "python-faq/programming",
            "question": "How do I find the length of a list?",
            "answer": (
                "Use the built-in len() function, or see Lists in the tutorial. Sequences also support "
                "len(seq); see PEP 8 and the wiki.\n\n"
                "For example:\n\n"
                ">>> len([1, 2, 3]) 3\n\n"
                "New in version 3.2: The strict flag."
            ),
        },
        {
            "source": "python-faq/programming",
            "question": "Why is my list empty?",
            "answer": (
                "Lists start empty:\n\ncall append() to add items;\n\nor use a list display, such as [1].\n\n"
                "Copying with a[:] keeps the original."
            ),
        },
        {
            "source": "python-faq/programming",
            "question": "My class defines __del__ but it is not called",
            "answer": "The del statement does not call __del__() directly.",
        },
        {"source": "python-faq/programming", "question": "Is this a duplicate?", "answer": "Yes."},
    ]


def test_python_doc_sections_skip_faq_whatsnew_and_short_bodies():
    records = read_python_doc_sections(PYTHON_DOC)
    assert [(record["page"], record["heading"]) for record in records] == [
        ("library/demo.rst.txt", "demo --- Demonstration module"),
        ("tutorial/introduction.rst.txt", "An Informal Introduction to Python"),
        ("tutorial/introduction.rst.txt", "Lists"),
    ]
    assert records[0]["text"] == (
        "Source code: Lib/demo.py\n\n"
        "spam(count, *, eggs=None)\n\n"
        "spam(text)\n\n"
        "Return count spam, optionally with eggs. See ham() and demo.Tin.\n\n"
        "Raises an auditing event demo.spam with arguments count.\n\n"
        "Changed in version 3.10: Accepts eggs.\n\n"
        "Deprecated since version 3.11, will be removed in version 3.13."
    )
    assert records[2]["text"].endswith("all have the same type.\n\n>>> squares = [1, 4, 9, 16, 25]")


def test_python_doc_sections_are_capped_at_a_sentence_or_word(monkeypatch):
    monkeypatch.setattr(faq, "MAX_SECTION_WORDS", 20)
    by_heading = {record["heading"]: record["text"] for record in read_python_doc_sections(PYTHON_DOC)}
    assert by_heading["Lists"] == (
        "Python knows a number of compound data types, used to group together other values."
    )
    assert by_heading["An Informal Introduction to Python"] == (
        "In the following examples, input and output are distinguished by the presence or "
        "absence of prompts (>>> and ...): to"
    )  # no sentence end within the first 20 words: cut at the word boundary


def test_truncate_words_keeps_whole_paragraphs_first():
    text = "One two three.\n\nFour five. Six seven eight nine."
    assert truncate_words(text, 10) == text
    assert truncate_words(text, 6) == "One two three.\n\nFour five."
    assert truncate_words(text, 4) == "One two three."  # a fragment without a sentence end is dropped


def test_debian_faq_entries_exactly():
    # "dpkg" is a statement heading; 8.2 has no text of its own; index, navigation, table of
    # contents, chapter introduction, footnote marks and footnotes never reach an answer.
    assert read_debian_faq(FAQ / "debian-faq") == [
        {
            "source": "debian-faq/pkgtools",
            "question": "What programs does Debian provide for managing its packages?",
            "answer": (
                "There are multiple tools that are used to manage Debian packages. For example:\n\n"
                "dpkg -i package.deb dpkg -r package"
            ),
        },
        {
            "source": "debian-faq/pkgtools",
            "question": "How do I list installed packages & their versions?",
            "answer": "Run dpkg -l, or\n\nuse aptitude.",
        },
    ]


def test_perlfaq_entries_exactly():
    assert read_perlfaq(FAQ / "perl-doc") == [
        {
            "source": "perlfaq1",
            "question": "What is Perl?",
            "answer": (
                "Perl is a high-level language by Larry Wall; see perlintro and the docs.\n\n"
                'print "Hello, world!\\n"; exit 0;'
            ),
        },
        {
            "source": "perlfaq1",
            "question": "How do I compare $a <=> $b values?",
            "answer": (
                'Use <=> for numbers and cmp for strings (see "Equality Operators" in perlop). '
                "Write E<lt>, > or \u00e9.\n\n"
                "First item with /etc/passwd.\n\n"
                "Second item."
            ),
        },
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (":func:`~os.path.join` and :meth:`str.split`", "join() and str.split()"),
        (":class:`dict <collections.abc.Mapping>`", "dict"),
        (":rfc:`2822#section-3.3` and :pep:`8`", "RFC 2822 and PEP 8"),
        ("``*args`` and *emphasis* and **strong**", "*args and emphasis and strong"),
        ("`Python <https://python.org>`_ and `interpreted`", "Python and interpreted"),
        ("a footnote [#]_ and an escaped \\*star\\*", "a footnote and an escaped *star*"),
        ("f(*args, **kwargs)", "f(*args, **kwargs)"),
    ],
)
def test_rst_inline_markup_is_stripped(source, expected):
    assert rst_inline_to_text(source) == expected


def test_rst_ref_uses_known_label_titles():
    assert rst_inline_to_text("see :ref:`Tut-Lists`", {"tut-lists": "Lists"}) == "see Lists"
    assert rst_inline_to_text("see :ref:`unknown-label`") == "see unknown-label"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("L<perlfunc/open> and L<perlvar/\"$_\">", '"open" in perlfunc and "$_" in perlvar'),
        ("L<text|perlop> and L<https://cpan.org>", "text and https://cpan.org"),
        ("C<<< $x->{y} >>> and C<$x-E<gt>y>", "$x->{y} and $x->y"),
        ("B<bold I<nested>> X<index> E<0x41>E<65>", "bold nested AA"),
    ],
)
def test_pod_formatting_codes(source, expected):
    assert pod_inline_to_text(source, "demo.pod") == expected


def test_pod_errors_name_the_file():
    with pytest.raises(ValueError, match="demo.pod: unterminated"):
        pod_inline_to_text("C<never closed", "demo.pod")
    with pytest.raises(ValueError, match="demo.pod: unknown POD entity"):
        pod_inline_to_text("E<nosuchentity>", "demo.pod")


def test_missing_package_contents_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_python_faq(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_debian_faq(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_perlfaq(tmp_path)
