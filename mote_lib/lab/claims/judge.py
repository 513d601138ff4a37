"""One claims-table row per endpoint: the estimate, its verdict (``mote_lib.verdicts``), or "not measured".

Each row holds two intervals (docs/preregistration.md, amendment 1, A1): the amended one, which counts
each variance component once and is of record (``effect``, ``ci_low`` ... ``verdict``), and the
registered one beside it (``registered_*``).

The verdict rules are ``mote_lib.verdicts``'s: "directional" claims (the paper gives a number) by
``directional_verdict``, claims of direction only (re-ranking, inter-task similarity, SLR - TLR and
EB - EOB over all datasets) by ``direction_only_verdict``, the clustering equivalence by
``equivalence_verdict`` with its TOST p. The secondary endpoints' p-values are Holm-adjusted
across them (``adjust_secondaries``); p-values of a single seed pair are not reported.
"""

from __future__ import annotations

import math

import numpy as np

from mote_lib import verdicts
from mote_lib.lab.claims.endpoints import DATA_WORDS, EQUIVALENCE_MARGIN, NOT_MEASURED, SECONDARY, Endpoint, paired_for
from mote_lib.lab.claims.inputs import Inputs
from mote_lib.lab.paper import PAPER_NUMBERS, paper_text
from mote_lib.significance import adjust_p_values
from mote_lib.verdicts import CONTRADICTED, SMALLER, SUPPORTED, Estimate, Verdict

COLUMNS = ["claim", "kind", "paper", "paper_key", "ours", "verdict", "reason", "seeds_needed", "n_seeds", "effect",
           "ci_low", "ci_high", "p_value", "p_holm", "not_significant_after_holm", "mde", "test", "data",
           # The registered interval (docs/preregistration.md, amendment 1, A1: both are reported; the amended one is of record).
           "registered_verdict", "registered_ci_low", "registered_ci_high", "registered_p_value", "registered_p_holm",
           "registered_mde"]


def _verdict(endpoint: Endpoint, est: Estimate) -> Verdict:
    number = PAPER_NUMBERS[endpoint.paper_key]
    if endpoint.test == "equivalence":
        return verdicts.equivalence_verdict(est, EQUIVALENCE_MARGIN)
    if endpoint.test == "direction only":
        return verdicts.direction_only_verdict(est, number.direction)
    return verdicts.directional_verdict(est, number.value)


def ours_text(est: Estimate, p_value: float, p_name: str = "p") -> str:
    """The "ours" cell: effect [interval], p, MDE, seeds (no interval with one seed pair)."""
    if not est.seed_variance_estimated:
        return f"{est.effect:+.2f} ({est.n_seeds} seed: no interval)"
    return (f"{est.effect:+.2f} [{est.ci_low:+.2f}, {est.ci_high:+.2f}], {p_name} {p_text(p_value)}, MDE {est.mde:.2f}, "
            f"{est.n_seeds} seeds")


def p_text(p: float) -> str:
    """A p-value to two significant digits, or three near 0.05, so that rounding never crosses the threshold.

    Example:
        >>> p_text(0.0166), p_text(0.0498), p_text(0.0502), p_text(6.2e-06)
        ('0.017', '0.0498', '0.0502', '6.2e-06')
    """
    return f"{p:.3g}" if 0.045 <= p < 0.055 else f"{p:.2g}"


def claim_row(claim: str, kind: str, paper: str, paper_key: str, data: str, **values) -> dict:
    """A row of the claims table: every column of ``COLUMNS``, None where not given."""
    return {**dict.fromkeys(COLUMNS), "claim": claim, "kind": kind, "paper": paper, "paper_key": paper_key, "data": data,
            **values}


def data_text(endpoint: Endpoint) -> str:
    """The "data" cell: which scores, on which datasets, which difference."""
    scope = ", ".join(endpoint.task_types) if endpoint.task_types else "all datasets"
    return f"{DATA_WORDS[endpoint.data]}, {scope}: {endpoint.a} - {endpoint.b}"


def judge(endpoint: Endpoint, inputs: Inputs, profile: str) -> dict:
    """One claims-table row for ``endpoint``: the estimate, its verdict, or "not measured"."""
    paper = paper_text(endpoint.paper_key) + endpoint.paper_note
    base = dict(claim=endpoint.claim, kind=endpoint.kind, paper=paper, paper_key=endpoint.paper_key, data=data_text(endpoint),
                test=endpoint.test)
    paired, note = paired_for(endpoint, inputs, profile)
    if paired is None:
        return claim_row(**base, ours=note, verdict=NOT_MEASURED, reason="inputs missing (see ours)")
    try:
        est, registered = (verdicts.estimate(paired, variance=v) for v in ("amended", "registered"))
    except ValueError as err:  # e.g. a seed pair that misses some queries
        return claim_row(**base, ours=f"not measured: {err}", verdict=NOT_MEASURED, reason=str(err))
    verdict, registered_verdict = _verdict(endpoint, est), _verdict(endpoint, registered)
    p_value, registered_p = _p_value(endpoint, paired, est, "amended"), _p_value(endpoint, paired, registered, "registered")
    p_name = "TOST p" if endpoint.test == "equivalence" else "p"
    ours = ours_text(est, p_value, p_name)
    if registered.seed_variance_estimated:
        ours += f"; registered [{registered.ci_low:+.2f}, {registered.ci_high:+.2f}], MDE {registered.mde:.2f}"
    reason = verdict.reason
    if verdict.label == SMALLER:  # amendment 1, A2: magnitudes from two benchmarks
        reason += "; the paper's number is on MTEB, ours on the offline suite: different benchmarks"
    return claim_row(**base, ours=ours + note, verdict=verdict.label, reason=reason,
                     seeds_needed=verdict.seeds_needed, n_seeds=est.n_seeds, effect=est.effect, ci_low=est.ci_low,
                     ci_high=est.ci_high, p_value=p_value, mde=est.mde, registered_verdict=registered_verdict.label,
                     registered_ci_low=registered.ci_low, registered_ci_high=registered.ci_high,
                     registered_p_value=registered_p, registered_mde=registered.mde)


def _p_value(endpoint: Endpoint, paired, est: Estimate, variance: str) -> float:
    # With one seed pair the interval is query-only and must not be read as a decision: no p then.
    if not est.seed_variance_estimated:
        return math.nan
    return verdicts.tost_p_value(paired, EQUIVALENCE_MARGIN, variance) if endpoint.test == "equivalence" else est.p_value


def adjust_secondaries(rows: list[dict]) -> None:
    """Holm-adjust the secondary endpoints' p-values (the primary is not adjusted), in place."""
    secondary = [row for row in rows if row["kind"] == SECONDARY and np.isfinite(_float(row["p_value"]))]
    if not secondary:
        return
    registered = [_float(row["registered_p_value"]) for row in secondary]
    if all(np.isfinite(registered)):
        for row, adjusted in zip(secondary, adjust_p_values(registered, "holm"), strict=True):
            row["registered_p_holm"] = float(adjusted)
            row["ours"] = row["ours"].replace("; registered [", "; registered (Holm " + p_text(adjusted) + ") [", 1)
    for row, adjusted in zip(secondary, adjust_p_values([row["p_value"] for row in secondary], "holm")):
        row["p_holm"] = float(adjusted)
        row["ours"] = row["ours"].replace(", MDE", f" (Holm {p_text(adjusted)}), MDE", 1)
        # An equivalence's p is the TOST's: it speaks for "supported" only ("contradicted" is another test).
        decided = row["verdict"] in (SUPPORTED, SMALLER) or (row["verdict"] == CONTRADICTED and row["test"] != "equivalence")
        row["not_significant_after_holm"] = decided and adjusted >= 0.05
        if row["not_significant_after_holm"]:
            row["reason"] += f"; not significant after Holm adjustment (p {p_text(adjusted)})"
        elif decided and _float(row.get("registered_p_holm")) >= 0.05:
            row["reason"] += (f"; significant after Holm adjustment with the amended interval (p {p_text(adjusted)}), "
                              f"not with the registered one (p {p_text(row['registered_p_holm'])})")


def _float(value) -> float:
    return math.nan if value is None else float(value)
