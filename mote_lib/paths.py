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


OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def project_environment(cache: Path | None = None) -> dict[str, str]:
    """The variables ``scripts/env.sh`` exports: offline mode and every cache inside the project.

    ``tests/conftest.py`` applies them when pytest is started directly, and a test checks that
    ``scripts/env.sh`` sets the same names.
    """
    cache = Path(cache or cache_dir())
    return {
        **{name: "1" for name in OFFLINE_VARIABLES},
        "MOTE_CACHE": str(cache),
        "HF_HOME": str(cache / "huggingface"),
        "MTEB_CACHE": str(cache / "mteb"),
        "MPLCONFIGDIR": str(cache / "matplotlib"),
        "JUPYTER_CONFIG_DIR": str(cache / "jupyter" / "config"),
        "JUPYTER_DATA_DIR": str(cache / "jupyter" / "data"),
        "JUPYTER_RUNTIME_DIR": str(cache / "jupyter" / "runtime"),
        "IPYTHONDIR": str(cache / "ipython"),
        "TOKENIZERS_PARALLELISM": "false",
    }


def runs_dir() -> Path:
    """Trained models, embeddings and results: ``$MOTE_RUNS`` if set, else ``<project>/runs`` (ignored by git)."""
    return Path(os.environ.get("MOTE_RUNS", PROJECT_ROOT / "runs"))
