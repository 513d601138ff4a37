"""The judged claims as a forest plot (``figures/<profile>/claims.png`` and ``.pdf``): effect, 95% interval, the paper's value.

The drawing is ``mote_lib.lab.plots.claims_forest``'s; matplotlib is imported only when a figure is made.

    >>> from mote_lib.lab.claims.figure import write_claims_figure
    >>> write_claims_figure("reference")          # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mote_lib.lab.claims.endpoints import AA_CHECK, EQUIVALENCE_MARGIN, PRIMARY, SECONDARY
from mote_lib.lab.claims.table import claims_table
from mote_lib.lab.paper import PAPER_NUMBERS


def claims_figure(profile: str, table: pd.DataFrame | None = None):
    """The judged claims (primary, secondary, A/A) as a forest plot: effect, 95% interval, the paper's value."""
    from mote_lib.lab import plots

    table = claims_table(profile) if table is None else table
    judged = table[table["kind"].isin([PRIMARY, SECONDARY, AA_CHECK])]
    paper = {key: (number.value if number.unit in ("points", "cosine x100") else None, number.direction)
             for key, number in PAPER_NUMBERS.items()}
    return plots.claims_forest(judged, paper, profile, margin=EQUIVALENCE_MARGIN)


def write_claims_figure(profile: str, table: pd.DataFrame | None = None) -> list[Path]:
    """Save ``claims_figure`` as ``figures/<profile>/claims.png`` and ``.pdf``; the paths written."""
    import matplotlib.pyplot as plt

    from mote_lib.lab.figures import savefig

    fig = claims_figure(profile, table)
    paths = savefig(fig, "claims", profile=profile)
    plt.close(fig)
    return paths
