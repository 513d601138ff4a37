"""Where mote_lib keeps things: the project root, its shipped data and its caches."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent


def cache_dir() -> Path:
    """The project's cache folder: ``$MOTE_CACHE`` if set, else ``<project>/.cache``.

    Everything mote_lib downloads or unpacks goes here (never into ``~``), so that deleting one
    folder resets the project.
    """
    return Path(os.environ.get("MOTE_CACHE", PROJECT_ROOT / ".cache"))


def data_dir() -> Path:
    """The shipped corpora: ``$MOTE_DATA`` if set, else ``<project>/data``."""
    return Path(os.environ.get("MOTE_DATA", PROJECT_ROOT / "data"))
