"""One place that writes figures: PNG (for reading on GitHub) and PDF (for papers) into figures/.

Example:
    >>> import matplotlib.pyplot as plt
    >>> from mote_lib.lab.figures import savefig
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> paths = savefig(fig, "example")  # figures/example.png and figures/example.pdf
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib as mpl

from mote_lib.paths import PROJECT_ROOT
from mote_lib.profiles import MAIN_PROFILE

# Fonts embedded as TrueType (42), not Type 3 (matplotlib's default): journals and arXiv reject
# Type 3 fonts, and TrueType text stays selectable and searchable in the PDF.
TRUETYPE_FONTS = {"pdf.fonttype": 42, "ps.fonttype": 42}


def figures_dir(profile: str | None = None) -> Path:
    """``$MOTE_FIGURES`` if set (tests point it at a temporary folder), else ``<project>/figures``.

    Figures of a profile other than ``cpu`` go to a subfolder named after it (``figures/gpu``,
    ``figures/smoke``), so a smoke run never overwrites the figures the README shows.
    """
    root = Path(os.environ.get("MOTE_FIGURES", PROJECT_ROOT / "figures"))
    return root if profile in (None, MAIN_PROFILE) else root / profile


def savefig(fig, name: str, formats: tuple[str, ...] = ("png", "pdf"), dpi: int = 150,
            profile: str | None = None) -> list[Path]:
    """Save ``fig`` as ``figures/<name>.<format>`` (``figures/<profile>/...`` off cpu) for each format.

    Metadata that changes on every run (creation date, software version) is left out, so
    re-running a notebook on the same results rewrites identical files. PDFs embed TrueType fonts.
    """
    folder = figures_dir(profile)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = folder / f"{name}.{fmt}"
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        with mpl.rc_context(TRUETYPE_FONTS):  # read when the file is written, so set here for every figure
            fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata=metadata)
        paths.append(path)
    return paths
