"""Atomic writes: a reader, or a process killed mid-save, sees the old file or folder or the new one, never half.

Every save of mote_lib goes through here (models, exports, checkpoints, data samples, tables), so
this module is the one place that names temporary (``.<name>.tmp-<pid>``) and replaced
(``.<name>.old-<pid>``) siblings.

Example:
    >>> import tempfile, pathlib
    >>> from mote_lib.atomic import atomic_directory, write_text_atomic
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_directory(root / "model") as tmp:
    ...     _ = (tmp / "config.json").write_text("{}")
    >>> sorted(p.name for p in root.iterdir())
    ['model']
    >>> write_text_atomic(root / "table.csv", "a,b\\n").read_text()
    'a,b\\n'
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY_MARK = ".tmp-"
REPLACED_MARK = ".old-"


def temporary_sibling(path: str | os.PathLike, mark: str = TEMPORARY_MARK) -> Path:
    """The hidden sibling ``.<name><mark><pid>`` of ``path`` (same folder, so a rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}{mark}{os.getpid()}")


@contextmanager
def atomic_directory(directory: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder; when the block ends without error it replaces ``directory``.

    The swap is two renames (old folder aside, new folder in), so at every moment a complete folder
    sits at ``directory`` or at its replaced sibling; the old one is deleted last. If the block
    raises, the temporary folder is removed and ``directory`` is left as it was.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(directory)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replaced = temporary_sibling(directory, REPLACED_MARK)
    if directory.exists():
        directory.rename(replaced)
    tmp.rename(directory)
    shutil.rmtree(replaced, ignore_errors=True)


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; when the block ends without error it replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (``atomic_file``); returns the path."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)
    return Path(path)
