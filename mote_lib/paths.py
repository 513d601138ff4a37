"""Where mote_lib keeps things: the project root, its shipped data and its caches.

In a checkout of mote-lab (this package beside the project's ``pyproject.toml``: ``make setup`` or
``pip install -e .``) every folder is the checkout's, as it always was: ``data/``, ``runs/``,
``results/``, ``figures/`` and ``.cache/``. Installed from a wheel, the package sits in
site-packages, so the folders are the working directory's instead. Each can be pointed elsewhere:

    MOTE_DATA     the shipped corpora: the data/ folder of a mote-lab checkout (the wheel does not hold them)
    MOTE_RUNS     trained models and the evaluation cache      (default <root>/runs)
    MOTE_RESULTS  tables, per profile                          (<root>/results, read by mote_lib.lab.experiments)
    MOTE_FIGURES  figures                                      (<root>/figures, read by mote_lib.lab.figures)
    MOTE_CACHE    everything downloaded or unpacked            (<root>/.cache)

Example:
    >>> from mote_lib.paths import CHECKOUT_ROOT, data_dir, project_root
    >>> project_root() == CHECKOUT_ROOT, (data_dir() / "eval").is_dir()   # in the checkout
    (True, True)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mote_lib.cli import CommandLineError

PACKAGE_ROOT = Path(__file__).resolve().parent


def _checkout_root(package_root: Path = PACKAGE_ROOT) -> Path | None:
    """The mote-lab checkout holding ``package_root``: its parent when that holds mote-lib's pyproject.toml."""
    try:
        text = (package_root.parent / "pyproject.toml").read_text()
    except OSError:
        return None
    return package_root.parent if re.search(r'^name\s*=\s*"mote-lib"', text, flags=re.MULTILINE) else None


# The checkout this package was loaded from; None when it was installed (from a wheel, into site-packages).
CHECKOUT_ROOT = _checkout_root()


def project_root() -> Path:
    """The checkout holding this package; for an installed package, the working directory (at the call)."""
    return CHECKOUT_ROOT or Path.cwd()


# The root at import (the name other modules import): the checkout, or the working directory of an installed package.
PROJECT_ROOT = project_root()


def cache_dir() -> Path:
    """The project's cache folder: ``$MOTE_CACHE`` if set, else ``<project>/.cache``.

    Everything mote_lib downloads or unpacks goes here (never into ``~``), so that deleting one
    folder resets the project.
    """
    return Path(os.environ.get("MOTE_CACHE", project_root() / ".cache"))


class DataFolderNotFound(CommandLineError, FileNotFoundError):
    """The shipped corpora are not where ``data_dir`` looks; the message (one line) says where to point ``MOTE_DATA``.

    A ``CommandLineError``, so ``mote-train`` and ``mote-evaluate`` report it in one line with exit status 2.
    """


def data_dir() -> Path:
    """The shipped corpora: ``$MOTE_DATA`` if set, else ``<project>/data``.

    Raises:
        DataFolderNotFound: the folder does not exist (e.g. an installed package run outside a checkout).
    """
    if "MOTE_DATA" in os.environ:
        folder = Path(os.environ["MOTE_DATA"]).expanduser()
        if not folder.is_dir():
            raise DataFolderNotFound(f"MOTE_DATA={os.environ['MOTE_DATA']}: no such folder; point MOTE_DATA at the "
                                     "data/ folder of a mote-lab checkout")
        return folder
    folder = project_root() / "data"
    if not folder.is_dir():
        why = "the installed package does not ship the corpora" if CHECKOUT_ROOT is None else "the checkout lacks it (git checkout -- data)"
        raise DataFolderNotFound(f"no data folder at {folder}: {why}; set MOTE_DATA to the data/ folder of a mote-lab "
                                 "checkout (e.g. export MOTE_DATA=~/mote-lab/data)")
    return folder


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
    return Path(os.environ.get("MOTE_RUNS", project_root() / "runs"))
