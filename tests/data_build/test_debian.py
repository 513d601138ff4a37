"""Tests for the Debian index parser (data/build/corpora/debian.py) on plain-text list fixtures."""

import shutil
from pathlib import Path

import pytest
from corpora.debian import (
    compare_debian_versions,
    description_to_text,
    index_release_date,
    parse_deb822,
    read_debian_index,
)

LISTS = Path(__file__).resolve().parents[1] / "fixtures" / "corpora" / "debian" / "lists"
PACKAGES = "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"


def test_reads_bookworm_main_records_exactly():
    # emptydesc is skipped (no long description); bookworm-updates is ignored; the wrapped Tag
    # field is joined; the long text is looked up by Description-md5, not by package name alone.
    assert read_debian_index(LISTS) == [
        {
            "package": "fortune-mod",
            "source": "fortune-mod",
            "version": "1:1.99.1-7.3",
            "section": "games",
            "synopsis": "provides fortune cookies on demand",
            "description": (
                "The fortune program displays a random message from a database of quotations.\n\n"
                "Options: -a choose from all lists -o offensive only\n\n"
                ".fortune files hold the cookies; see strfile(1)."
            ),
            "tags": ["game::toys", "interface::commandline", "role::program", "use::entertaining"],
        },
        {
            "package": "libfoo-doc",
            "source": "foo",
            "version": "2.1-3+b1",
            "section": "doc",
            "synopsis": "documentation for libfoo",
            "description": "This package contains the HTML manual of libfoo.",
            "tags": ["devel::doc", "role::documentation"],
        },
        {
            "package": "linux-doc",
            "source": "linux",
            "version": "6.1.176-1",
            "section": "doc",
            "synopsis": "Linux kernel specific documentation (meta-package)",
            "description": "This package depends on the package containing the documentation for the latest Linux kernel.",
            "tags": [],
        },
    ]


def test_duplicate_package_keeps_highest_debian_version_not_last_or_string_max():
    by_name = {record["package"]: record for record in read_debian_index(LISTS)}
    assert by_name["linux-doc"]["version"] == "6.1.176-1"  # "6.1.99-1" is later and sorts higher as text


def test_release_date_comes_from_bookworm_not_updates():
    assert index_release_date(LISTS) == "Sat, 10 Feb 2024 09:46:43 UTC"


def test_description_paragraphs_and_verbatim_lines():
    long_part = " First  line\n continues.\n .\n   verbatim   keeps words\n .\n .\n .dotted text is text"
    assert description_to_text(long_part) == "First line continues.\n\nverbatim keeps words\n\n.dotted text is text"
    assert description_to_text("") == ""


@pytest.mark.parametrize(
    ("left", "right", "sign"),
    [
        ("1.0", "1.0", 0),
        ("1.0~rc1", "1.0", -1),
        ("1:0.1", "2.0", 1),
        ("1.0-1", "1.0-1+deb12u1", -1),
        ("6.1.99-1", "6.1.176-1", -1),
        ("1.0a", "1.0", 1),
        ("1.0", "1.0.0", -1),
        ("2.30-1", "2.3-1", 1),
    ],
)
def test_compare_debian_versions_matches_dpkg(left, right, sign):
    result = compare_debian_versions(left, right)
    assert (result > 0) - (result < 0) == sign


def test_parse_deb822_keeps_continuations_and_names_file_on_error():
    stanzas = list(parse_deb822("A: 1\nB: x,\n y\n\nA: 2\n", "demo"))
    assert stanzas == [{"A": "1", "B": "x,\n y"}, {"A": "2"}]
    with pytest.raises(ValueError, match="demo:2: malformed field line"):
        list(parse_deb822("A: 1\nno colon here\n", "demo"))
    with pytest.raises(ValueError, match="demo:1: continuation line outside a field"):
        list(parse_deb822(" stray\n", "demo"))


def test_missing_or_ambiguous_index_files_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file matches"):
        read_debian_index(tmp_path)
    for path in LISTS.iterdir():
        shutil.copy(path, tmp_path / path.name)
    shutil.copy(LISTS / PACKAGES, tmp_path / (PACKAGES + ".lz4"))
    with pytest.raises(ValueError, match="several files match"):
        read_debian_index(tmp_path)
