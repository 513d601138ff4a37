"""Parse Debian's binary package index (bookworm main) into plain package records.

In bookworm the `Packages` file carries only the one-line synopsis of each package; the long
description lives in `i18n/Translation-en`, keyed by (Package, Description-md5). This module joins
the two and renders Debian's description markup as plain text.

Only the `bookworm` *main* suite is read: bookworm-updates and bookworm-security change between
point releases, and ignoring them keeps the records stable for a given point release.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from corpora.fetch import read_apt_list

SUITE_PACKAGES_GLOB = "*_debian_dists_bookworm_main_binary-amd64_Packages*"
SUITE_TRANSLATION_GLOB = "*_debian_dists_bookworm_main_i18n_Translation-en*"
SUITE_RELEASE_GLOB = "*_debian_dists_bookworm_InRelease"

# apt keeps lists compressed as it downloaded them; anything else is a plain deb822 file.
COMPRESSED_SUFFIXES = (".lz4", ".gz", ".xz", ".bz2", ".zst", ".lzma")

_FIELD_LINE = re.compile(r"^([!-9;-~][!-9;-~]*):[ \t]*(.*)$")
_SOURCE_FIELD = re.compile(r"^(\S+)(?:\s+\((\S+)\))?$")


def read_debian_index(lists_dir: Path) -> list[dict]:
    """Read bookworm main's Packages and Translation-en into one record per binary package.

    Args:
        lists_dir: apt lists folder, as returned by `corpora.fetch.apt_lists`. Files may be
            compressed (as apt keeps them) or plain.

    Returns:
        Records sorted by package name, with keys `package`, `source` (source package name,
        version stripped), `version`, `section` (component prefix such as `contrib/` stripped),
        `synopsis`, `description` (long description as plain paragraphs joined by a blank line)
        and `tags` (sorted debtags). Packages whose long description is empty or missing are
        skipped. A package listed more than once (e.g. two kernel versions) keeps the entry with
        the highest Debian version; on equal versions the first one in the file.

    Raises:
        FileNotFoundError: if the lists folder lacks one of the two index files.
        ValueError: if an index file is malformed (the message names the file).
    """
    packages_path = _single_list_file(lists_dir, SUITE_PACKAGES_GLOB)
    translation_path = _single_list_file(lists_dir, SUITE_TRANSLATION_GLOB)
    long_descriptions = _read_translations(translation_path)
    newest = _newest_stanza_per_package(packages_path)
    records = []
    for name in sorted(newest):
        record = _package_record(newest[name], long_descriptions, packages_path)
        if record["description"]:
            records.append(record)
    return records


def index_release_date(lists_dir: Path) -> str:
    """Return the `Date:` field of the bookworm InRelease file, verbatim.

    Args:
        lists_dir: apt lists folder holding `..._dists_bookworm_InRelease`.

    Returns:
        The date as Debian writes it, e.g. "Sat, 10 Jun 2023 08:54:53 UTC".

    Raises:
        FileNotFoundError: if there is no bookworm InRelease file.
        ValueError: if the file has no Date field.
    """
    path = _single_list_file(lists_dir, SUITE_RELEASE_GLOB)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("Date:"):
            return line.partition(":")[2].strip()
    raise ValueError(f"{path}: no Date: field")


def parse_deb822(text: str, origin: str) -> Iterator[dict[str, str]]:
    """Split a deb822 file (Packages, Translation, Release) into stanzas.

    Continuation lines are kept as they are (leading space included) and joined to the field's
    first line with newlines, so multi-line fields can be interpreted by the caller.

    Args:
        text: the whole file.
        origin: file name used in error messages.

    Yields:
        One dict per stanza, field name -> raw value.

    Raises:
        ValueError: on a line that is neither a field nor a continuation.
    """
    stanza: dict[str, str] = {}
    field = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if stanza:
                yield stanza
            stanza, field = {}, None
        elif line[0] in " \t":
            if field is None:
                raise ValueError(f"{origin}:{number}: continuation line outside a field")
            stanza[field] += "\n" + line
        else:
            match = _FIELD_LINE.match(line)
            if match is None:
                raise ValueError(f"{origin}:{number}: malformed field line {line[:60]!r}")
            field = match.group(1)
            stanza[field] = match.group(2)
    if stanza:
        yield stanza


def description_to_text(continuation: str) -> str:
    """Render the long part of a Debian description as plain text.

    Lines of exactly " ." separate paragraphs. Verbatim lines (two leading spaces, often bullet
    lists) are folded into their paragraph too, because records promise single-spaced
    paragraphs; their content is kept word for word.

    Args:
        continuation: the description lines after the synopsis, each with its leading space.

    Returns:
        Paragraphs joined by "\\n\\n", whitespace inside each collapsed; "" if there are none.
    """
    paragraphs, current = [], []
    for line in continuation.splitlines():
        if line.strip() == ".":
            paragraphs.append(current)
            current = []
        else:
            current.append(line)
    paragraphs.append(current)
    collapsed = (" ".join(" ".join(lines).split()) for lines in paragraphs)
    return "\n\n".join(text for text in collapsed if text)


def compare_debian_versions(left: str, right: str) -> int:
    """Compare two Debian version strings the way dpkg does.

    Returns:
        A negative number, zero or a positive number as `left` is lower, equal or higher.
    """
    left_key, right_key = _split_epoch(left), _split_epoch(right)
    if left_key[0] != right_key[0]:
        return left_key[0] - right_key[0]
    for left_part, right_part in zip(left_key[1:], right_key[1:]):
        order = _compare_version_part(left_part, right_part)
        if order:
            return order
    return 0


def read_list_text(path: Path) -> str:
    """Read an apt list file: plain files directly, compressed ones through apt's helper."""
    if path.name.endswith(COMPRESSED_SUFFIXES):
        return read_apt_list(path)
    return path.read_text(encoding="utf-8")


def _single_list_file(lists_dir: Path, pattern: str) -> Path:
    # `partial/` holds interrupted downloads; only complete files at the top level count.
    found = sorted(path for path in Path(lists_dir).glob(pattern) if path.is_file())
    if not found:
        raise FileNotFoundError(f"{lists_dir}: no file matches {pattern}")
    if len(found) > 1:
        raise ValueError(f"{lists_dir}: several files match {pattern}: {[p.name for p in found]}")
    return found[0]


def _read_translations(path: Path) -> dict[tuple[str, str], str]:
    descriptions = {}
    for stanza in parse_deb822(read_list_text(path), str(path)):
        if "Package" not in stanza or "Description-md5" not in stanza or "Description-en" not in stanza:
            raise ValueError(f"{path}: stanza without Package/Description-md5/Description-en: {stanza}")
        long_part = stanza["Description-en"].partition("\n")[2]
        key = (stanza["Package"], stanza["Description-md5"])
        descriptions.setdefault(key, description_to_text(long_part))
    return descriptions


def _newest_stanza_per_package(path: Path) -> dict[str, dict[str, str]]:
    newest: dict[str, dict[str, str]] = {}
    for stanza in parse_deb822(read_list_text(path), str(path)):
        for field in ("Package", "Version", "Description"):
            if field not in stanza:
                raise ValueError(f"{path}: stanza without {field}: {stanza.get('Package', '?')}")
        kept = newest.get(stanza["Package"])
        if kept is None or compare_debian_versions(stanza["Version"], kept["Version"]) > 0:
            newest[stanza["Package"]] = stanza
    return newest


def _package_record(stanza: dict[str, str], long_descriptions: dict, origin: Path) -> dict:
    synopsis, _, long_part = stanza["Description"].partition("\n")
    # Packages rarely carries the long text itself; Translation-en is the normal home for it.
    description = description_to_text(long_part) or long_descriptions.get(
        (stanza["Package"], stanza.get("Description-md5", "")), ""
    )
    return {
        "package": stanza["Package"],
        "source": _source_name(stanza, origin),
        "version": stanza["Version"],
        "section": stanza.get("Section", "").rpartition("/")[2],
        "synopsis": synopsis.strip(),
        "description": description,
        "tags": sorted({tag.strip() for tag in stanza.get("Tag", "").split(",") if tag.strip()}),
    }


def _source_name(stanza: dict[str, str], origin: Path) -> str:
    source = stanza.get("Source", stanza["Package"]).strip()
    match = _SOURCE_FIELD.match(source)
    if match is None:
        raise ValueError(f"{origin}: package {stanza['Package']}: malformed Source {source!r}")
    return match.group(1)


def _split_epoch(version: str) -> tuple[int, str, str]:
    epoch, colon, rest = version.partition(":")
    if not colon:
        epoch, rest = "0", version
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    return int(epoch), upstream, revision


def _compare_version_part(left: str, right: str) -> int:
    # dpkg alternates non-digit and digit runs; '~' sorts before everything, even the end.
    while left or right:
        left_text, left = _leading(left, digits=False)
        right_text, right = _leading(right, digits=False)
        order = _compare_non_digits(left_text, right_text)
        if order:
            return order
        left_number, left = _leading(left, digits=True)
        right_number, right = _leading(right, digits=True)
        order = int(left_number or 0) - int(right_number or 0)
        if order:
            return order
    return 0


def _leading(text: str, digits: bool) -> tuple[str, str]:
    end = 0
    while end < len(text) and text[end].isdigit() == digits:
        end += 1
    return text[:end], text[end:]


def _compare_non_digits(left: str, right: str) -> int:
    for index in range(max(len(left), len(right))):
        order = _char_order(left[index : index + 1]) - _char_order(right[index : index + 1])
        if order:
            return order
    return 0


def _char_order(char: str) -> int:
    if char == "~":
        return -1
    if not char:
        return 0
    if char.isalpha():
        return ord(char)
    return ord(char) + 256
