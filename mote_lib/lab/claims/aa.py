"""The A/A check: IC against IC with disjoint seeds, through the primary endpoint's machinery.

It must read "inconclusive": IC's seeds are exchangeable, so anything else means the intervals
are too narrow, and the verdicts are not to be trusted until that is fixed.

Example:
    >>> import pandas as pd
    >>> aa_passed(pd.DataFrame({"kind": ["A/A check"], "verdict": ["inconclusive"]}))
    True
"""

from __future__ import annotations

import pandas as pd

from mote_lib import verdicts
from mote_lib.lab.claims.endpoints import AA_CHECK, ENDPOINTS, NOT_MEASURED, balanced, comparison_table
from mote_lib.lab.claims.inputs import Inputs, producer
from mote_lib.lab.claims.judge import claim_row, data_text, ours_text
from mote_lib.lab.paper import PAPER_NUMBERS
from mote_lib.verdicts import INCONCLUSIVE


def aa_check(inputs: Inputs, profile: str) -> dict:
    """IC against IC with disjoint seeds (alternating halves), through the primary endpoint's machinery.

    It must read "inconclusive": IC's seeds are exchangeable, so anything else means the interval
    is too narrow. Needs 2 seeds per half (4 IC seeds); an odd last seed is left out (pairs by rank).
    """
    primary = ENDPOINTS[0]
    table = comparison_table(primary, inputs)
    table = table[table["model"] == "ic"]
    seeds = sorted(table["seed"].dropna().astype(int).unique().tolist())
    halves = seeds[0::2], seeds[1::2]
    size = min(len(half) for half in halves)
    halves = tuple(half[:size] for half in halves)
    names = [f"ic seeds {{{', '.join(map(str, half))}}}" for half in halves] if size else ["ic (even seeds)", "ic (odd seeds)"]
    base = dict(claim=f"A/A: {names[0]} against {names[1]} (retrieval, per query)", kind=AA_CHECK,
                paper="no difference: must read inconclusive", paper_key="", data=data_text(primary), test="directional")
    if size < 2:
        text = (f"not yet measurable: needs 4 IC seeds with per-query retrieval scores (has {len(seeds)}: {seeds}; "
                f"{producer(inputs, 'per_query', profile)})")
        return claim_row(**base, ours=text, verdict=NOT_MEASURED, reason="fewer than 2 IC seeds per half")
    relabelled = pd.concat([table[table["seed"].isin(half)].assign(model=name) for half, name in zip(halves, names)])
    try:
        paired, _ = balanced(verdicts.pair_scores(relabelled, *names, dataset_col="task", query_col="query_id"))
        est, registered = (verdicts.estimate(paired, variance=v) for v in ("amended", "registered"))
    except ValueError as err:
        return claim_row(**base, ours=f"not measured: {err}", verdict=NOT_MEASURED, reason=str(err))
    verdict = verdicts.directional_verdict(est, PAPER_NUMBERS[primary.paper_key].value)
    interval = verdicts.interval_text(est.ci_low, est.ci_high, est.confidence)
    # The primary's wording compares with the paper's effect; two halves of one model's seeds have none.
    reason = (f"{interval} includes 0, as it should for two halves of one model's seeds (with {est.n_seeds} seeds per "
              f"half it would catch only a spurious difference of about {est.mde:.2f} or more)"
              if verdict.label == INCONCLUSIVE
              else f"{interval} excludes 0 between two halves of one model's seeds: the intervals are likely too narrow "
                   "(a true A/A excludes 0 about 5% of the time)")
    registered_verdict = verdicts.directional_verdict(registered, PAPER_NUMBERS[primary.paper_key].value)
    ours = (ours_text(est, est.p_value)
            + f"; registered [{registered.ci_low:+.2f}, {registered.ci_high:+.2f}], MDE {registered.mde:.2f}")
    return claim_row(**base, ours=ours, verdict=verdict.label, reason=reason,
                     seeds_needed=None, n_seeds=est.n_seeds, effect=est.effect, ci_low=est.ci_low,
                     ci_high=est.ci_high, p_value=est.p_value, mde=est.mde, registered_verdict=registered_verdict.label,
                     registered_ci_low=registered.ci_low, registered_ci_high=registered.ci_high,
                     registered_p_value=registered.p_value, registered_mde=registered.mde)


def aa_passed(table: pd.DataFrame) -> bool | None:
    """True when the A/A check read inconclusive, False when it did not, None when it was not measurable."""
    rows = table[table["kind"] == AA_CHECK]
    if rows.empty or rows["verdict"].iloc[0] == NOT_MEASURED:
        return None
    return bool(rows["verdict"].iloc[0] == INCONCLUSIVE)


def aa_sentence(table: pd.DataFrame) -> str:
    """What the A/A check says about the verdicts, in one sentence (claims.md's header, README's Status)."""
    passed = aa_passed(table)
    if passed is None:
        return "A/A check (IC against IC, disjoint seeds): not yet measurable, so the machinery is not yet checked on these runs."
    if passed:
        return "A/A check passed: IC against IC with disjoint seeds reads inconclusive, as it must."
    label = table.loc[table["kind"] == AA_CHECK, "verdict"].iloc[0]
    return (f"**Warning: the A/A check failed.** IC against IC with disjoint seeds reads \"{label}\" where it must read "
            "inconclusive: the intervals are too narrow, and the verdicts below are not to be trusted until that is fixed.")
