"""Atomic writes: a reader, or a process killed mid-save, sees the old file or folder or the new one, never half.

Every save of mote_lib goes through here (models, exports, checkpoints, data samples, tables), so
this module is the one place that names temporary (``.<name>.tmp-<pid>``) and replaced
(``.<name>.old-<pid>``) siblings, and the save-lock ``.<name>.lock`` held for the length of a save.

A process killed mid-save leaves its siblings behind. The next save into the same place removes
them (``remove_stale``): it holds the save-lock, so no live process is saving there, and every
sibling it finds belongs to a dead one. The lock, not the pid in the name, tells live from dead: a
pid can be reused, a lock dies with its process.

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

import fcntl
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY_MARK = ".tmp-"
REPLACED_MARK = ".old-"
LOCK_SUFFIX = ".lock"

# The save-locks this process holds, per thread: a nested save of the same path would wait for
# itself forever (flock locks of two open files conflict even within one process).
_held = threading.local()


def temporary_sibling(path: str | os.PathLike, mark: str = TEMPORARY_MARK) -> Path:
    """The hidden sibling ``.<name><mark><pid>`` of ``path`` (same folder, so a rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}{mark}{os.getpid()}")


def lock_path(path: str | os.PathLike) -> Path:
    """The save-lock file ``.<name>.lock`` beside ``path``."""
    path = Path(path)
    return path.with_name(f".{path.name}{LOCK_SUFFIX}")


@contextmanager
def save_lock(path: str | os.PathLike, blocking: bool = True) -> Iterator[bool]:
    """Hold the exclusive save-lock of ``path``; yields False (holding nothing) if not ``blocking`` and it is taken.

    The lock file is deleted before the lock is released, so no ``.lock`` file outlives a save
    (folder digests list every file); a waiter that then gets the lock of the deleted file sees
    that the path no longer names it and tries again.
    """
    path = Path(path).absolute()
    if not hasattr(_held, "paths"):
        _held.paths = set()
    if path in _held.paths:
        raise RuntimeError(f"{path} is already being saved by this thread: a save of it inside its own save would deadlock")
    fd = _lock(lock_path(path), blocking)
    if fd is None:
        yield False
        return
    _held.paths.add(path)
    try:
        yield True
    finally:
        _held.paths.discard(path)
        lock_path(path).unlink(missing_ok=True)
        os.close(fd)


def _lock(lock: Path, blocking: bool) -> int | None:
    """An open descriptor of ``lock`` holding its exclusive flock; None if not ``blocking`` and it is taken."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        if _names_open_file(lock, fd):
            return fd
        os.close(fd)  # locked a lock file that its holder deleted on the way out: take the current one


def _names_open_file(path: Path, fd: int) -> bool:
    try:
        return os.path.samestat(os.stat(path), os.fstat(fd))
    except FileNotFoundError:
        return False


def remove_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary and replaced siblings of ``path`` left by killed saves; returns what it removed.

    Does nothing while another process is saving ``path`` (its siblings are live). If a save was
    killed between its two renames, ``path`` is missing and its replaced sibling is the last
    complete version: it is renamed back rather than deleted.
    """
    with save_lock(path, blocking=False) as locked:
        return _remove_stale_locked(Path(path)) if locked else []


def _remove_stale_locked(path: Path) -> list[Path]:
    """``remove_stale`` for a caller that holds the save-lock of ``path``."""
    if not path.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(path.name)}({re.escape(TEMPORARY_MARK)}|{re.escape(REPLACED_MARK)})\d+")
    siblings = sorted((p for p in path.parent.iterdir() if pattern.fullmatch(p.name)), key=lambda p: p.lstat().st_mtime)
    replaced = [p for p in siblings if pattern.fullmatch(p.name).group(1) == REPLACED_MARK]
    if replaced and not os.path.lexists(path):
        replaced[-1].rename(path)  # the swap was cut between its renames: put the old version back
        siblings.remove(replaced[-1])
    for sibling in siblings:
        if sibling.is_dir() and not sibling.is_symlink():
            shutil.rmtree(sibling, ignore_errors=True)
        else:
            sibling.unlink(missing_ok=True)
    return siblings


@contextmanager
def atomic_directory(directory: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder; when the block ends without error it replaces ``directory``.

    The swap is two renames (old folder aside, new folder in), so at every moment a complete folder
    sits at ``directory`` or at its replaced sibling; the old one is deleted last. If the block
    raises, the temporary folder is removed and ``directory`` is left as it was. Saves of the same
    ``directory`` by several processes wait for each other (the save-lock).
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with save_lock(directory):
        _remove_stale_locked(directory)
        tmp = temporary_sibling(directory)
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
    with save_lock(path):
        _remove_stale_locked(path)
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
