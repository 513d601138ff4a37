"""The pre-registered endpoints (``docs/preregistration.md``) and the paired table each is judged on.

``ENDPOINTS``: the primary endpoint (MoTE - IC on the retrieval datasets, per query) and the
secondary ones, each a comparison ``a - b`` with a paper number and a kind of test. Two models are
compared on the seeds both have (MoTE seed s against IC seed s); a (dataset, query) unit missing
from some seed pair (a failed evaluation) is left out for every seed and the row says so.

Also the row kinds and verdict labels of the claims table.

Example:
    >>> [endpoint.kind for endpoint in ENDPOINTS][:2], ENDPOINTS[0].a, ENDPOINTS[0].b
    (['primary', 'secondary'], 'mote', 'ic')
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mote_lib import verdicts
from mote_lib.lab.claims.inputs import Inputs, producer
from mote_lib.verdicts import CONTRADICTED, INCONCLUSIVE, SMALLER, SUPPORTED

NOT_MEASURED = "not measured"
BY_CONSTRUCTION = "by construction"
VERDICT_ORDER = (SUPPORTED, SMALLER, CONTRADICTED, INCONCLUSIVE, NOT_MEASURED)
PRIMARY, SECONDARY, AA_CHECK, CONSTRUCTION = "primary", "secondary", "A/A check", "by construction"
EQUIVALENCE_MARGIN = 1.0  # points: the pre-registered margin of "clustering stays near EM"


@dataclass(frozen=True)
class Endpoint:
    """One pre-registered comparison ``a - b`` and how it is judged.

    ``data``: "per_query" (retrieval and re-ranking, per query), "scores" (one score per dataset and
    seed) or "cosines" (each text's mean cosine over the six task pairs, x100). ``test``:
    "directional" (the paper gives a number), "direction only" or "equivalence" (within ±margin).
    """

    claim: str
    kind: str
    a: str
    b: str
    data: str
    task_types: tuple[str, ...] | None
    paper_key: str
    test: str
    paper_note: str = ""


ENDPOINTS = (
    Endpoint("MoTE beats IC on the retrieval datasets (nDCG@10 per query)", PRIMARY, "mote", "ic", "per_query",
             ("Retrieval",), "retrieval_mote_minus_ic", "directional"),
    Endpoint("MoTE beats IC over all datasets", SECONDARY, "mote", "ic", "scores", None,
             "all_mote_minus_ic", "directional"),
    Endpoint("Re-ranking: MoTE below IC (distribution shift)", SECONDARY, "mote", "ic", "per_query", ("Reranking",),
             "reranking_mote_minus_ic", "direction only"),
    Endpoint("Clustering: MoTE stays within ±1.0 of EM", SECONDARY, "mote", "em", "scores", ("Clustering",),
             "clustering_mote_minus_em", "equivalence", paper_note="; equivalence margin ±1.0"),
    Endpoint("Sequence-level routing beats token-level (MoTE - MoTE-TLR, all datasets)", SECONDARY, "mote", "mote-tlr",
             "scores", None, "routing_slr_minus_tlr", "direction only",
             paper_note="; on every task type (retrieval +2.35, STS +1.59; no average given)"),
    Endpoint("TA-CL helps (MoTE - MoTE without TA-CL, all datasets)", SECONDARY, "mote", "mote-no-tacl", "scores", None,
             "tacl_gain", "directional"),
    Endpoint("Experts in every block marginally better (MoTE-EB - MoTE, all datasets)", SECONDARY, "mote-eb", "mote",
             "scores", None, "eb_minus_eob", "direction only"),
    Endpoint("Lower inter-task similarity under MoTE (mean cosine over the six task pairs, x100)", SECONDARY, "mote", "ic",
             "cosines", None, "inter_task_cosine_mote_minus_ic", "direction only"),
)

DATA_WORDS = {"per_query": "per-query scores", "scores": "per-dataset scores", "cosines": "inter-task cosines"}
_NOTEBOOK_TABLE = {"per_query": "per_query", "scores": "offline_suite", "cosines": "inter_task_cosines"}


def comparison_table(endpoint: Endpoint, inputs: Inputs) -> pd.DataFrame:
    """The long table ``pair_scores`` reads for ``endpoint``: model, seed, task, [query_id,] score."""
    if endpoint.data == "cosines":
        # One unit per text: its mean over the six pairs (the pairs of one text are correlated, so
        # treating them as separate datasets would understate the query-level variance).
        per_text = inputs.cosines.groupby(["model", "seed", "text"], as_index=False)["cosine"].mean()
        return per_text.assign(task="inter-task", score=100 * per_text["cosine"]).rename(columns={"text": "query_id"})
    table = inputs.per_query if endpoint.data == "per_query" else inputs.scores
    if endpoint.task_types is not None:
        table = table[table["task_type"].isin(endpoint.task_types)]
    return table


def _shared_seeds(table: pd.DataFrame, a: str, b: str) -> list[int]:
    """Seeds both models have: MoTE seed s is paired with IC seed s (the same TA-CL batch order)."""
    seeds = [set(table.loc[table["model"] == m, "seed"].dropna().astype(int)) for m in (a, b)]
    return sorted(seeds[0] & seeds[1])


def paired_for(endpoint: Endpoint, inputs: Inputs, profile: str) -> tuple[pd.DataFrame | None, str]:
    """(``pair_scores``' table, a note on units left out) or (None, the "not measured: needs ..." text)."""
    table = comparison_table(endpoint, inputs)
    missing = [m for m in (endpoint.a, endpoint.b) if not (table["model"] == m).any()]
    types = f" on {', '.join(endpoint.task_types)}" if endpoint.task_types else ""
    how = producer(inputs, _NOTEBOOK_TABLE[endpoint.data], profile)
    if missing:
        return None, f"not measured: needs {DATA_WORDS[endpoint.data]}{types} of {' and '.join(missing)} ({how})"
    seeds = _shared_seeds(table, endpoint.a, endpoint.b)
    if not seeds:
        return None, f"not measured: needs {endpoint.a} and {endpoint.b} at a common seed ({how})"
    table = table[table["seed"].isin(seeds)]
    query = {"query_col": "query_id"} if "query_id" in table and endpoint.data != "scores" else {"query_col": "no query"}
    try:
        paired = verdicts.pair_scores(table, endpoint.a, endpoint.b, dataset_col="task", **query)
    except ValueError as err:  # e.g. duplicated scores: reported in the row, never a crash
        return None, f"not measured: {err}"
    return balanced(paired)


def balanced(paired: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Only the (dataset, query) units every seed pair has (a failed evaluation leaves a hole), and a note of what went.

    ``estimate`` refuses unbalanced seeds (θ would depend on which runs lost units); leaving the
    unit out for every seed keeps the design balanced, and the note keeps the loss visible.
    """
    units = ["dataset"] + (["query"] if "query" in paired else [])
    coverage = paired.groupby(units)["seed"].transform("nunique")
    complete = coverage == paired["seed"].nunique()
    if complete.all():
        return paired, ""
    dropped = paired.loc[~complete, units].drop_duplicates()
    return paired[complete], f"; left out: {len(dropped)} unit(s) missing from some seed pair, e.g. {dropped.iloc[0].tolist()}"
