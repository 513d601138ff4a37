"""One place that writes figures: PNG (for reading on GitHub) and PDF (for papers) into figures/.

Example:
    >>> import matplotlib.pyplot as plt
    >>> from mote_lib.figures import savefig
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> paths = savefig(fig, "example")  # figures/example.png and figures/example.pdf
"""

from __future__ import annotations

import os
from pathlib import Path

from mote_lib.paths import PROJECT_ROOT


def figures_dir() -> Path:
    """``$MOTE_FIGURES`` if set (tests point it at a temporary folder), else ``<project>/figures``."""
    return Path(os.environ.get("MOTE_FIGURES", PROJECT_ROOT / "figures"))


def savefig(fig, name: str, formats: tuple[str, ...] = ("png", "pdf"), dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``figures/<name>.<format>`` for each format; return the paths.

    Metadata that changes on every run (creation date, software version) is left out, so
    re-running a notebook on the same results rewrites identical files.
    """
    folder = figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = folder / f"{name}.{fmt}"
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata=metadata)
        paths.append(path)
    return paths
