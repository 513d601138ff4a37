"""The claims table: the judged endpoints, the A/A check, and the claims that hold by construction.

``claims_table(profile)`` has one row per empirical claim (primary, then secondaries), then the A/A
check and the claims that hold by construction (listed apart, never counted). A claim whose inputs
are missing reads "not measured: needs ...", never an error.

Example:
    >>> import pandas as pd
    >>> verdict_counts(pd.DataFrame({"kind": ["primary", "secondary", "A/A check"],
    ...                              "verdict": ["supported", "inconclusive", "inconclusive"]}))
    {'supported': 1, 'inconclusive': 1}
"""

from __future__ import annotations

import pandas as pd

from mote_lib.lab import experiments
from mote_lib.lab.claims.aa import aa_check
from mote_lib.lab.claims.endpoints import BY_CONSTRUCTION, CONSTRUCTION, ENDPOINTS, PRIMARY, SECONDARY, VERDICT_ORDER
from mote_lib.lab.claims.inputs import Inputs, collect
from mote_lib.lab.claims.judge import COLUMNS, adjust_secondaries, claim_row, judge
from mote_lib.lab.paper import paper_text
from mote_lib.verdicts import CONTRADICTED, SMALLER, SUPPORTED


def _optional_result(name: str, profile: str) -> pd.DataFrame | None:
    path = experiments.results_dir(profile) / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


def _active_parameters(profile: str) -> str:
    runs = _optional_result("training_runs", profile)
    if runs is None or not {"model", "active_parameters"} <= set(runs.columns):
        return BY_CONSTRUCTION
    active = runs.drop_duplicates("model").set_index("model")
    shown = [m for m in experiments.MAIN_MODELS if m in active.index]
    if not shown:
        return BY_CONSTRUCTION
    text = " / ".join(f"{m.upper() if m != 'mote' else 'MoTE'} {int(active.loc[m, 'active_parameters']):,}" for m in shown)
    if "mote" in active.index and "total_parameters" in active:
        text += f" active (MoTE {int(active.loc['mote', 'total_parameters']):,} in all)"
    return f"measured: {text}"


def _inference_time(profile: str) -> str:
    timing = _optional_result("inference_time", profile)
    if timing is None or not {"mote", "ic"} <= set(timing.get("model", [])):
        return BY_CONSTRUCTION
    seconds = timing.set_index("model")["seconds"]
    texts = f"{int(timing['texts'].iloc[0])} texts, " if "texts" in timing else ""
    return f"measured: MoTE / IC embedding time {seconds['mote'] / seconds['ic']:.3f} ({texts}side by side, best of 3)"


def construction_rows(profile: str) -> list[dict]:
    """Claims that hold by the architecture's construction: listed apart, never counted with the empirical ones."""
    rows = []
    for claim, key, measure in (("No extra active parameters", "equal_active_parameters", _active_parameters),
                                ("No extra inference time", "equal_inference_time", _inference_time)):
        ours = measure(profile)
        rows.append(claim_row(claim, CONSTRUCTION, paper_text(key), key, "training_runs.csv / inference_time.csv",
                              ours=ours, verdict=BY_CONSTRUCTION, reason="one expert runs per layer: the dense model's cost"))
    return rows


def claims_from(inputs: Inputs, profile: str) -> pd.DataFrame:
    """The claims table of already collected inputs (see ``claims_table``)."""
    rows = [judge(endpoint, inputs, profile) for endpoint in ENDPOINTS]
    adjust_secondaries(rows)
    rows += [aa_check(inputs, profile), *construction_rows(profile)]
    return pd.DataFrame(rows, columns=COLUMNS)


def claims_table(profile: str) -> pd.DataFrame:
    """One row per claim: the primary endpoint, the secondaries, the A/A check, the claims that hold by construction.

    Columns: ``claim, kind, paper, paper_key, ours, verdict, reason, seeds_needed, n_seeds, effect,
    ci_low, ci_high, p_value, p_holm, mde, data`` (``kind``: primary, secondary, A/A check, by
    construction; ``paper_key``: the ``mote_lib.lab.paper.PAPER_NUMBERS`` entry).
    """
    return claims_from(collect(profile), profile)


def verdict_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many empirical claims (primary and secondary) got each verdict, in ``VERDICT_ORDER``; a secondary whose
    interval decides but whose Holm-adjusted p does not counts as "<verdict> before Holm adjustment, not after"
    (amendment 1, A2), listed after the verdicts that hold after adjustment."""
    empirical = table[table["kind"].isin([PRIMARY, SECONDARY])]
    unadjusted = empirical.get("not_significant_after_holm", pd.Series(False, index=empirical.index)).fillna(False).astype(bool)
    labels = empirical["verdict"].where(~unadjusted, empirical["verdict"] + HOLM_SUFFIX)
    order = [*VERDICT_ORDER, *(label + HOLM_SUFFIX for label in VERDICT_ORDER)]
    return {label: int((labels == label).sum()) for label in order if (labels == label).any()}


HOLM_SUFFIX = " before Holm adjustment, not after"


def inputs_have_verdicts(table: pd.DataFrame) -> bool:
    """Whether any empirical claim got a decision (supported or contradicted)."""
    decided = table[table["kind"].isin([PRIMARY, SECONDARY])]["verdict"]
    return bool(decided.isin([SUPPORTED, SMALLER, CONTRADICTED]).any())
