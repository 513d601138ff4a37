"""The claims table: the MoTE paper's claims (``mote_lib.lab.paper``) against our runs, judged as pre-registered.

The endpoints, their order and the verdict rules are those of ``docs/preregistration.md``; the
statistics are ``mote_lib.verdicts``'s (seed pairs by rank, an interval that adds the seed and the
query variance, "supported" / "supported, smaller than reported" / "contradicted" /
"inconclusive"). One concept per module:

* ``inputs``: ``collect(profile)``, the tidy inputs, from either layout of ``results/<profile>/``: the
  runner's (``runs/<entry>/scores.csv``, ``per_query.csv``, ``inter_task_cosines.csv``, read through
  ``mote_lib.lab.records``; preferred when present) or the notebooks' (``offline_suite.csv``,
  ``per_query.csv``, ``inter_task_cosines.csv``);
* ``endpoints``: ``ENDPOINTS``, the primary endpoint (MoTE - IC on the retrieval datasets, per
  query) and the secondary ones, each a comparison ``a - b`` with a paper number and a kind of test,
  and the paired table each is judged on;
* ``judge``: one row per endpoint (its estimate and verdict), the Holm adjustment of the secondaries;
* ``aa``: the A/A check (IC against IC with disjoint seeds: must read "inconclusive");
* ``table``: ``claims_table(profile)``, one row per empirical claim, then the A/A check and the claims
  that hold by construction (never counted); a claim whose inputs are missing reads "not measured:
  needs ...", never an error;
* ``reference``: the reference rows (the untrained base model and EM beside IC and MoTE) and the gain
  ratios, display only;
* ``markdown``: ``write_claims(profile)``, ``results/<profile>/claims.md``;
* ``figure``: ``write_claims_figure(profile)``, the forest plot.

Claims of direction only (the paper's notes give no magnitude: re-ranking, inter-task similarity,
SLR - TLR and EB - EOB over all datasets) are judged by the sign of the interval alone
(``mote_lib.verdicts.direction_only_verdict``): never "smaller than reported", and when inconclusive
the seeds needed are those that would give 80% power for the effect we observe (None when it is 0),
a rough guide rather than a target from the paper. Other choices: two models are compared on the
seeds both have (MoTE seed s against IC seed s); a (dataset, query) unit missing from some seed pair
(a failed evaluation) is left out for every seed and the row says so; the notebooks'
``inter_task_cosines.csv`` has no seed column and is read as seed 0 (notebook 03 embeds with the
seed-0 runs); p-values of a single seed pair are not reported.

Example (a clear MoTE gain over 3 seeds, nothing else measured):
    >>> import pandas as pd
    >>> rows = [(m, s, "FaqRetrieval", "Retrieval", q, 50.0 + q + (3.0 + 0.1 * s if m == "mote" else 0.0))
    ...         for m in ("mote", "ic") for s in range(3) for q in range(20)]
    >>> per_query = pd.DataFrame(rows, columns=["model", "seed", "task", "task_type", "query_id", "score"])
    >>> scores = per_query.groupby(["model", "seed", "task", "task_type"], as_index=False)["score"].mean()
    >>> inputs = Inputs(layout="given", scores=scores, per_query=per_query)
    >>> row = judge(ENDPOINTS[0], inputs, "cpu")
    >>> row["verdict"], row["ours"]
    ('supported', '+3.10 [+2.85, +3.35], p 0.00035, MDE 0.31, 3 seeds; registered [+2.85, +3.35], MDE 0.31')
    >>> judge(ENDPOINTS[5], inputs, "cpu")["ours"]
    'not measured: needs per-dataset scores of mote-no-tacl (notebook 02_evaluate_mteb, or python -m mote_lib.lab.runner run --profile cpu)'

Reading a profile's results (files, so skipped here):
    >>> from mote_lib.lab.claims import claims_table, write_claims
    >>> table = claims_table("cpu")                         # doctest: +SKIP
    >>> table[["claim", "paper", "ours", "verdict"]]        # doctest: +SKIP
    >>> write_claims("cpu", table)                          # doctest: +SKIP
"""

from __future__ import annotations

from mote_lib.lab.claims.aa import aa_check, aa_passed, aa_sentence
from mote_lib.lab.claims.endpoints import (
    AA_CHECK,
    BY_CONSTRUCTION,
    CONSTRUCTION,
    DATA_WORDS,
    ENDPOINTS,
    EQUIVALENCE_MARGIN,
    NOT_MEASURED,
    PRIMARY,
    SECONDARY,
    VERDICT_ORDER,
    Endpoint,
    balanced,
    comparison_table,
    paired_for,
)
from mote_lib.lab.claims.figure import claims_figure, write_claims_figure
from mote_lib.lab.claims.inputs import QUERY_KEYS, SCORE_KEYS, Inputs, collect, producer, seeds_by_model
from mote_lib.lab.claims.judge import COLUMNS, adjust_secondaries, claim_row, data_text, judge, ours_text, p_text
from mote_lib.lab.claims.markdown import (
    PAPER_MODULE,
    PREREGISTRATION,
    caveat_lines,
    header_lines,
    markdown_lines,
    write_claims,
)
from mote_lib.lab.claims.reference import (
    BASE,
    below_base_sentences,
    dataset_averages,
    dataset_means,
    gain_ratio_lines,
    per_type_rows,
    reference_rows,
)
from mote_lib.lab.claims.table import claims_from, claims_table, construction_rows, inputs_have_verdicts, verdict_counts
from mote_lib.verdicts import (
    CONTRADICTED,
    INCONCLUSIVE,
    SMALLER,
    SUPPORTED,
    Estimate,
    Verdict,
    direction_only_verdict,
    tost_p_value,
)

__all__ = [
    "AA_CHECK", "BASE", "BY_CONSTRUCTION", "COLUMNS", "CONSTRUCTION", "CONTRADICTED", "DATA_WORDS", "ENDPOINTS",
    "EQUIVALENCE_MARGIN", "INCONCLUSIVE", "NOT_MEASURED", "PAPER_MODULE", "PREREGISTRATION", "PRIMARY", "QUERY_KEYS",
    "SCORE_KEYS", "SECONDARY", "SMALLER", "SUPPORTED", "VERDICT_ORDER", "Endpoint", "Estimate", "Inputs", "Verdict",
    "aa_check", "aa_passed", "aa_sentence", "adjust_secondaries", "balanced", "below_base_sentences", "caveat_lines",
    "claim_row", "claims_figure", "claims_from", "claims_table", "collect", "comparison_table", "construction_rows",
    "data_text", "dataset_averages", "dataset_means", "direction_only_verdict", "gain_ratio_lines", "header_lines",
    "inputs_have_verdicts", "judge", "markdown_lines", "ours_text", "p_text", "paired_for", "per_type_rows", "producer",
    "reference_rows", "seeds_by_model", "tost_p_value", "verdict_counts", "write_claims", "write_claims_figure",
]
