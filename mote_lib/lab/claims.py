"""The claims table: the MoTE paper's claims (``mote_lib.lab.paper``) against our runs, judged as pre-registered.

The endpoints, their order and the verdict rules are those of ``docs/preregistration.md``; the
statistics are ``mote_lib.verdicts``'s (seed pairs by rank, an interval that adds the seed and the
query variance, "supported" / "supported, smaller than reported" / "contradicted" /
"inconclusive"). The pieces:

* ``collect(profile)``: the tidy inputs, from either layout of ``results/<profile>/``: the runner's
  (``runs/<entry>/scores.csv``, ``per_query.csv``, ``inter_task_cosines.csv``; preferred when
  present) or the notebooks' (``offline_suite.csv``, ``per_query.csv``, ``inter_task_cosines.csv``);
* ``ENDPOINTS``: the primary endpoint (MoTE - IC on the retrieval datasets, per query) and the
  secondary ones, each a comparison ``a - b`` with a paper number and a kind of test;
* ``claims_table(profile)``: one row per empirical claim, then the A/A check (IC against IC with
  disjoint seeds: must read "inconclusive") and the claims that hold by construction (never
  counted); a claim whose inputs are missing reads "not measured: needs ...", never an error;
* ``write_claims(profile)``: ``results/<profile>/claims.md``, with the reference rows (the
  untrained base model and EM beside IC and MoTE) and the gain ratios as display only.

Claims of direction only (the paper's notes give no magnitude: re-ranking, inter-task similarity,
SLR - TLR and EB - EOB over all datasets) are judged by the sign of the interval alone: never
"smaller than reported", and when inconclusive the seeds needed are those that would give 80% power
for the effect we observe (None when it is 0), a rough guide rather than a target from the paper.
Other choices: two models are compared on the seeds both have (MoTE seed s against IC seed s); a
(dataset, query) unit missing from some seed pair (a failed evaluation) is left out for every seed
and the row says so; the notebooks' ``inter_task_cosines.csv`` has no seed column and is read as
seed 0 (notebook 03 embeds with the seed-0 runs); p-values of a single seed pair are not reported.

Example (a clear MoTE gain over 3 seeds, nothing else measured):
    >>> import pandas as pd
    >>> rows = [(m, s, "FaqRetrieval", "Retrieval", q, 50.0 + q + (3.0 + 0.1 * s if m == "mote" else 0.0))
    ...         for m in ("mote", "ic") for s in range(3) for q in range(20)]
    >>> per_query = pd.DataFrame(rows, columns=["model", "seed", "task", "task_type", "query_id", "score"])
    >>> scores = per_query.groupby(["model", "seed", "task", "task_type"], as_index=False)["score"].mean()
    >>> inputs = Inputs(layout="given", scores=scores, per_query=per_query)
    >>> row = judge(ENDPOINTS[0], inputs, "cpu")
    >>> row["verdict"], row["ours"]
    ('supported', '+3.10 [+2.85, +3.35], p 0.00035, MDE 0.31, 3 seeds')
    >>> judge(ENDPOINTS[5], inputs, "cpu")["ours"]
    'not measured: needs per-dataset scores of mote-no-tacl (notebook 02_evaluate_mteb, or python -m mote_lib.lab.runner run --profile cpu)'

Reading a profile's results (files, so skipped here):
    >>> from mote_lib.lab.claims import claims_table, write_claims
    >>> table = claims_table("cpu")                         # doctest: +SKIP
    >>> table[["claim", "paper", "ours", "verdict"]]        # doctest: +SKIP
    >>> write_claims("cpu", table)                          # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mote_lib import verdicts
from mote_lib.atomic import write_text_atomic
from mote_lib.lab import experiments, manipulation
from mote_lib.lab.paper import PAPER_NUMBERS, paper_text
from mote_lib.profiles import get_profile
from mote_lib.significance import adjust_p_values
from mote_lib.verdicts import CONTRADICTED, INCONCLUSIVE, SMALLER, SUPPORTED, Estimate, Verdict

NOT_MEASURED = "not measured"
BY_CONSTRUCTION = "by construction"
VERDICT_ORDER = (SUPPORTED, SMALLER, CONTRADICTED, INCONCLUSIVE, NOT_MEASURED)
PRIMARY, SECONDARY, AA_CHECK, CONSTRUCTION = "primary", "secondary", "A/A check", "by construction"
EQUIVALENCE_MARGIN = 1.0  # points: the pre-registered margin of "clustering stays near EM"
BASE = "base"  # the runner's label of the untrained base model
PREREGISTRATION = "docs/preregistration.md"
PAPER_MODULE = "mote_lib/lab/paper.py"
COLUMNS = ["claim", "kind", "paper", "paper_key", "ours", "verdict", "reason", "seeds_needed", "n_seeds", "effect",
           "ci_low", "ci_high", "p_value", "p_holm", "not_significant_after_holm", "mde", "test", "data"]


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Inputs:
    """The tidy tables the claims rest on (``collect``); an empty table means "not measured".

    ``scores``: model, seed, task, task_type, score (one per dataset and seed; mean over splits).
    ``per_query``: model, seed, task, task_type, query_id, score (retrieval and re-ranking).
    ``cosines``: model, seed, text, pair, cosine (each text under two different tasks).
    ``layout``: "runner", "notebooks" or "none" (where they were read: the commands to suggest).
    """

    layout: str
    scores: pd.DataFrame = field(default_factory=lambda: _empty(SCORE_KEYS + ["score"]))
    per_query: pd.DataFrame = field(default_factory=lambda: _empty(QUERY_KEYS + ["score"]))
    cosines: pd.DataFrame = field(default_factory=lambda: _empty(["model", "seed", "text", "pair", "cosine"]))


SCORE_KEYS = ["model", "seed", "task", "task_type"]
QUERY_KEYS = ["model", "seed", "task", "task_type", "query_id"]


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


def collect(profile: str) -> Inputs:
    """The tidy inputs of ``profile``: the runner's layout when ``results/<profile>/runs/*/scores.csv`` exist, else the notebooks'."""
    folder = experiments.results_dir(profile)
    runs = sorted((folder / "runs").glob("*/scores.csv"))
    if runs:
        raw = {name: _concat(sorted((folder / "runs").glob(f"*/{name}.csv")))
               for name in ("scores", "per_query", "inter_task_cosines")}
        layout = "runner"
    else:
        raw = {"scores": _concat([folder / "offline_suite.csv"]), "per_query": _concat([folder / "per_query.csv"]),
               "inter_task_cosines": _concat([folder / "inter_task_cosines.csv"])}
        layout = "notebooks" if raw["scores"] is not None else "none"
    scores = _tidy_scores(raw["scores"])
    return Inputs(layout, scores, _tidy_per_query(raw["per_query"], scores), _tidy_cosines(raw["inter_task_cosines"]))


def _concat(paths: list[Path]) -> pd.DataFrame | None:
    frames = [pd.read_csv(path) for path in paths if path.is_file()]
    return pd.concat(frames, ignore_index=True) if frames else None


def _seeds_as_integers(table: pd.DataFrame) -> pd.DataFrame:
    # The base model has no seed (an empty cell): a nullable integer keeps it apart without turning 0 into 0.0.
    return table.assign(seed=pd.to_numeric(table["seed"], errors="coerce").astype("Int64"))


def _tidy_scores(raw: pd.DataFrame | None) -> pd.DataFrame:
    if raw is None or raw.empty:
        return Inputs("none").scores
    if "error" in raw:
        raw = raw[raw["error"].isna()]  # a failed evaluation has no score to compare
    raw = _seeds_as_integers(raw.dropna(subset=["score"]))
    return raw.groupby(SCORE_KEYS, dropna=False, as_index=False)["score"].mean()  # several splits: their mean


def _tidy_per_query(raw: pd.DataFrame | None, scores: pd.DataFrame) -> pd.DataFrame:
    if raw is None or raw.empty:
        return Inputs("none").per_query
    if "task_type" not in raw:
        raw = raw.merge(scores[["task", "task_type"]].drop_duplicates(), on="task", how="left")
    raw = _seeds_as_integers(raw.dropna(subset=["score"]))
    return raw.groupby(QUERY_KEYS, dropna=False, as_index=False)["score"].mean()


def _tidy_cosines(raw: pd.DataFrame | None) -> pd.DataFrame:
    if raw is None or raw.empty:
        return Inputs("none").cosines
    if "seed" not in raw:  # notebook 03 embeds with each model's seed-0 run (experiments.load_model's default)
        raw = raw.assign(seed=0)
    raw = raw[raw["task_a"] != raw["task_b"]]
    pair = [" / ".join(sorted(tasks)) for tasks in zip(raw["task_a"], raw["task_b"])]
    raw = _seeds_as_integers(raw.assign(pair=pair)).drop_duplicates(["model", "seed", "text", "pair"])
    return raw[["model", "seed", "text", "pair", "cosine"]].reset_index(drop=True)


def producer(inputs: Inputs, notebook_table: str, profile: str) -> str:
    """The command (or notebook) that makes a missing input, for the layout the inputs came from."""
    runner = f"python -m mote_lib.lab.runner run --profile {profile}"
    notebook = f"notebook {experiments.RESULT_PRODUCERS[notebook_table]}"
    return {"runner": runner, "notebooks": notebook}.get(inputs.layout, f"{notebook}, or {runner}")


def seeds_by_model(inputs: Inputs) -> dict[str, list]:
    """The seeds each model has per-dataset scores for (the base model: ``[None]``)."""
    return {model: [None if pd.isna(s) else int(s) for s in sorted(group["seed"].unique(), key=lambda s: -1 if pd.isna(s) else s)]
            for model, group in inputs.scores.groupby("model")}


# ----------------------------------------------------------------------------- endpoints


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

_DATA_WORDS = {"per_query": "per-query scores", "scores": "per-dataset scores", "cosines": "inter-task cosines"}
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
        return None, f"not measured: needs {_DATA_WORDS[endpoint.data]}{types} of {' and '.join(missing)} ({how})"
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


# ----------------------------------------------------------------------------- verdicts


def direction_only_verdict(est: Estimate, direction: int) -> Verdict:
    """A claim that gives a direction but no magnitude: the interval's sign alone decides.

    Never "supported, smaller than reported" (there is nothing to be smaller than). When the
    interval contains 0, ``seeds_needed`` is the number of seed pairs that would give 80% power for
    the effect we observe (None when it is 0 or out of reach): a rough guide, optimistic when the
    observed effect is itself inflated by noise.

    Example:
        >>> est = Estimate(effect=-0.75, se=0.2, se_seed=0.2, se_query=0.0, df=4.0, ci_low=-1.31,
        ...                ci_high=-0.19, p_value=0.02, mde=0.8, n_seeds=5, n_datasets=3, n_queries=3,
        ...                seed_variance_estimated=True, df_query=0.0)
        >>> direction_only_verdict(est, -1).label, direction_only_verdict(est, +1).label
        ('supported', 'contradicted')
    """
    if not est.seed_variance_estimated:
        return Verdict(INCONCLUSIVE, f"{est.n_seeds} seed: no seed-to-seed variance", None)
    interval = f"95% CI [{est.ci_low:+.2f}, {est.ci_high:+.2f}]"
    near, far = sorted((direction * est.ci_low, direction * est.ci_high))
    if near > 0:
        return Verdict(SUPPORTED, f"{interval} excludes 0 in the paper's direction (the paper gives no magnitude)")
    if far < 0:
        return Verdict(CONTRADICTED, f"{interval} excludes 0 against the paper's direction")
    observed = abs(est.effect)
    needed = verdicts.seeds_needed(est, observed) if observed > 0 else None
    if needed:
        target = f"about {needed} seed pairs would give 80% power for the observed |effect| {observed:.2f}"
    elif observed > 0 and _query_only_mde(est) > observed:
        target = f"query noise alone keeps the MDE above the observed |effect| {observed:.2f}: more queries are needed, not seeds"
    else:
        target = f"not even {verdicts.MAX_SEEDS} seed pairs would give 80% power for the observed |effect| {observed:.2f}"
    return Verdict(INCONCLUSIVE, f"{interval} includes 0; the paper gives only a direction: {target}", needed)


def _query_only_mde(est: Estimate) -> float:
    """The MDE with infinitely many seed pairs: what the query sampling alone allows."""
    if est.se_query == 0 or not math.isfinite(est.se_query):
        return 0.0
    quantiles = stats.t.ppf(0.5 + est.confidence / 2, est.df_query) + stats.t.ppf(est.power, est.df_query)
    return float(quantiles * est.se_query)


def tost_p_value(paired: pd.DataFrame, margin: float) -> float:
    """The p-value of the two one-sided tests of |a - b| < margin (the larger of the two), by shifting b.

    ``estimate`` of a - (b ∓ margin) has the same variance and an effect moved by ±margin, so its
    two-sided p halves into the one-sided p of each bound. NaN with one seed pair.
    """
    one_sided = []
    for shift, side in ((-margin, +1), (+margin, -1)):  # H0: effect <= -margin, then H0: effect >= +margin
        est = verdicts.estimate(paired.assign(b=paired["b"] + shift))
        if not est.seed_variance_estimated:
            return math.nan
        beyond = side * est.effect > 0  # on the side that rejects this bound's null
        one_sided.append(est.p_value / 2 if beyond else 1 - est.p_value / 2)
    return max(one_sided)


def _verdict(endpoint: Endpoint, est: Estimate) -> Verdict:
    number = PAPER_NUMBERS[endpoint.paper_key]
    if endpoint.test == "equivalence":
        return verdicts.equivalence_verdict(est, EQUIVALENCE_MARGIN)
    if endpoint.test == "direction only":
        return direction_only_verdict(est, number.direction)
    return verdicts.directional_verdict(est, number.value)


def _ours(est: Estimate, p_value: float, p_name: str = "p") -> str:
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


def _row(claim: str, kind: str, paper: str, paper_key: str, data: str, **values) -> dict:
    return {**dict.fromkeys(COLUMNS), "claim": claim, "kind": kind, "paper": paper, "paper_key": paper_key, "data": data,
            **values}


def _data_text(endpoint: Endpoint) -> str:
    scope = ", ".join(endpoint.task_types) if endpoint.task_types else "all datasets"
    return f"{_DATA_WORDS[endpoint.data]}, {scope}: {endpoint.a} - {endpoint.b}"


def judge(endpoint: Endpoint, inputs: Inputs, profile: str) -> dict:
    """One claims-table row for ``endpoint``: the estimate, its verdict, or "not measured"."""
    paper = paper_text(endpoint.paper_key) + endpoint.paper_note
    base = dict(claim=endpoint.claim, kind=endpoint.kind, paper=paper, paper_key=endpoint.paper_key, data=_data_text(endpoint),
                test=endpoint.test)
    paired, note = paired_for(endpoint, inputs, profile)
    if paired is None:
        return _row(**base, ours=note, verdict=NOT_MEASURED, reason="inputs missing (see ours)")
    try:
        est = verdicts.estimate(paired)
    except ValueError as err:  # e.g. a seed pair that misses some queries
        return _row(**base, ours=f"not measured: {err}", verdict=NOT_MEASURED, reason=str(err))
    verdict = _verdict(endpoint, est)
    # With one seed pair the interval is query-only and must not be read as a decision: no p then.
    p_value = math.nan
    if est.seed_variance_estimated:
        p_value = tost_p_value(paired, EQUIVALENCE_MARGIN) if endpoint.test == "equivalence" else est.p_value
    p_name = "TOST p" if endpoint.test == "equivalence" else "p"
    return _row(**base, ours=_ours(est, p_value, p_name) + note, verdict=verdict.label, reason=verdict.reason,
                seeds_needed=verdict.seeds_needed, n_seeds=est.n_seeds, effect=est.effect, ci_low=est.ci_low,
                ci_high=est.ci_high, p_value=p_value, mde=est.mde)


def adjust_secondaries(rows: list[dict]) -> None:
    """Holm-adjust the secondary endpoints' p-values (the primary is not adjusted), in place."""
    secondary = [row for row in rows if row["kind"] == SECONDARY and np.isfinite(_float(row["p_value"]))]
    if not secondary:
        return
    for row, adjusted in zip(secondary, adjust_p_values([row["p_value"] for row in secondary], "holm")):
        row["p_holm"] = float(adjusted)
        row["ours"] = row["ours"].replace(", MDE", f" (Holm {p_text(adjusted)}), MDE", 1)
        # An equivalence's p is the TOST's: it speaks for "supported" only ("contradicted" is another test).
        decided = row["verdict"] in (SUPPORTED, SMALLER) or (row["verdict"] == CONTRADICTED and row["test"] != "equivalence")
        row["not_significant_after_holm"] = decided and adjusted >= 0.05
        if row["not_significant_after_holm"]:
            row["reason"] += f"; not significant after Holm adjustment (p {p_text(adjusted)})"


def _float(value) -> float:
    return math.nan if value is None else float(value)


# ----------------------------------------------------------------------------- the A/A check


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
                paper="no difference: must read inconclusive", paper_key="", data=_data_text(primary), test="directional")
    if size < 2:
        text = (f"not yet measurable: needs 4 IC seeds with per-query retrieval scores (has {len(seeds)}: {seeds}; "
                f"{producer(inputs, 'per_query', profile)})")
        return _row(**base, ours=text, verdict=NOT_MEASURED, reason="fewer than 2 IC seeds per half")
    relabelled = pd.concat([table[table["seed"].isin(half)].assign(model=name) for half, name in zip(halves, names)])
    try:
        paired, _ = balanced(verdicts.pair_scores(relabelled, *names, dataset_col="task", query_col="query_id"))
        est = verdicts.estimate(paired)
    except ValueError as err:
        return _row(**base, ours=f"not measured: {err}", verdict=NOT_MEASURED, reason=str(err))
    verdict = verdicts.directional_verdict(est, PAPER_NUMBERS[primary.paper_key].value)
    interval = verdicts.interval_text(est.ci_low, est.ci_high, est.confidence)
    # The primary's wording compares with the paper's effect; two halves of one model's seeds have none.
    reason = (f"{interval} includes 0, as it should for two halves of one model's seeds (with {est.n_seeds} seeds per "
              f"half it would catch only a spurious difference of about {est.mde:.2f} or more)"
              if verdict.label == verdicts.INCONCLUSIVE
              else f"{interval} excludes 0 between two halves of one model's seeds: the intervals are likely too narrow "
                   "(a true A/A excludes 0 about 5% of the time)")
    return _row(**base, ours=_ours(est, est.p_value), verdict=verdict.label, reason=reason,
                seeds_needed=None, n_seeds=est.n_seeds, effect=est.effect, ci_low=est.ci_low,
                ci_high=est.ci_high, p_value=est.p_value, mde=est.mde)


def aa_passed(table: pd.DataFrame) -> bool | None:
    """True when the A/A check read inconclusive, False when it did not, None when it was not measurable."""
    rows = table[table["kind"] == AA_CHECK]
    if rows.empty or rows["verdict"].iloc[0] == NOT_MEASURED:
        return None
    return bool(rows["verdict"].iloc[0] == INCONCLUSIVE)


# ----------------------------------------------------------------------------- by construction


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
        rows.append(_row(claim, CONSTRUCTION, paper_text(key), key, "training_runs.csv / inference_time.csv",
                         ours=ours, verdict=BY_CONSTRUCTION, reason="one expert runs per layer: the dense model's cost"))
    return rows


# ----------------------------------------------------------------------------- the table


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
    """How many empirical claims (primary and secondary) got each verdict, in ``VERDICT_ORDER``."""
    empirical = table[table["kind"].isin([PRIMARY, SECONDARY])]["verdict"]
    return {label: int((empirical == label).sum()) for label in VERDICT_ORDER if (empirical == label).any()}


# ----------------------------------------------------------------------------- reference rows and gains


def dataset_means(inputs: Inputs) -> pd.DataFrame:
    """Per model and dataset, the mean score over seeds (columns: models)."""
    return inputs.scores.pivot_table(index=["task_type", "task"], columns="model", values="score", aggfunc="mean")


def reference_rows(inputs: Inputs) -> pd.DataFrame:
    """The base model and EM beside IC and MoTE: averages over all and over the retrieval datasets, gains over EM."""
    means = dataset_means(inputs)
    shown = [m for m in (BASE, "em", "ic", "mote") if m in means.columns]
    rows = []
    for model in shown:
        row = {"model": model, "seeds": ", ".join("-" if s is None else str(s) for s in seeds_by_model(inputs)[model]),
               "average (all datasets)": means[model].mean(),
               "average (retrieval)": means[model].xs("Retrieval", level="task_type").mean()
               if "Retrieval" in means.index.get_level_values(0) else math.nan}
        if "em" in means.columns and model != "em":
            gains = means[model] - means["em"]
            row["gain over EM (all)"] = gains.mean()
            row["gain over EM (retrieval)"] = (gains.xs("Retrieval", level="task_type").mean()
                                               if "Retrieval" in means.index.get_level_values(0) else math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def dataset_averages(inputs: Inputs) -> pd.Series:
    """Each model's mean over the datasets the untrained base was scored on; empty without it.

    A model missing any of those datasets is left out, so every average covers the same datasets.
    """
    means = dataset_means(inputs)
    if BASE not in means.columns:
        return pd.Series(dtype=float)
    common = means.dropna(subset=[BASE])
    return common.loc[:, common.notna().all()].mean()


def below_base_sentences(inputs: Inputs) -> list[str]:
    """A plain sentence for each fine-tuned model whose dataset average is below the untrained base model's."""
    averages = dataset_averages(inputs)
    if averages.empty:
        return []
    base = averages[BASE]
    return [f"- {model} averages {average:.2f} over the datasets, below the untrained base model's {base:.2f}: "
            "its fine-tuning lost ground on this suite."
            for model, average in averages.drop(BASE).items() if average < base]


def gain_ratio_lines(inputs: Inputs) -> list[str]:
    """MoTE's gain over EM divided by IC's, shown only when both gains are positive (display, never a verdict)."""
    means = dataset_means(inputs)
    if not {"em", "ic", "mote"} <= set(means.columns):
        return ["Gain ratios: not measured (needs EM, IC and MoTE scores)."]
    lines = []
    for scope, key, level in (("Retrieval", "retrieval_gain_ratio", "Retrieval"), ("All datasets", "all_gain_ratio", None)):
        rows = means if level is None else means[means.index.get_level_values(0) == level]
        if rows.empty:
            continue
        mote, ic = ((rows[m] - rows["em"]).mean() for m in ("mote", "ic"))
        ratio = verdicts.gain_ratio(mote, ic)
        paper = f"the paper's ratio: {PAPER_NUMBERS[key].value:g}"
        shown = (f"ratio {ratio:.2f}" if ratio is not None
                 else "no ratio, as a gain is not positive (a ratio of losses would read as a gain)")
        lines.append(f"- {scope}: MoTE's gain over EM {mote:+.2f}, IC's {ic:+.2f}; {shown} ({paper}).")
    return lines


def per_type_rows(inputs: Inputs, profile: str) -> pd.DataFrame:
    """MoTE - IC per task type on per-dataset scores: descriptive (the paper states only retrieval's and re-ranking's sign)."""
    rows = []
    for task_type in sorted(inputs.scores["task_type"].dropna().unique()):
        endpoint = Endpoint(task_type, "descriptive", "mote", "ic", "scores", (task_type,), "", "")
        paired, _ = paired_for(endpoint, inputs, profile)
        try:
            est = verdicts.estimate(paired) if paired is not None else None
        except ValueError:
            est = None
        if est is None:  # shown only where measured: the judged claims above say what is missing
            continue
        rows.append({"task type": task_type, "datasets": est.n_datasets, "MoTE - IC": _ours(est, est.p_value)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- markdown


def _markdown(table: pd.DataFrame, columns: list[str]) -> list[str]:
    def cell(value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        return f"{value:.2f}" if isinstance(value, float) else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for _, row in table.iterrows()]


def _claim_lines(table: pd.DataFrame) -> list[str]:
    # The reasons already say how many seed pairs a decision would take.
    shown = table.assign(paper=[f"{p} [`{k}`]" if k else p for p, k in zip(table["paper"], table["paper_key"])])
    return _markdown(shown.rename(columns={"reason": "why"}), ["claim", "paper", "ours", "verdict", "why"])


def _evaluation_scope(profile: str) -> str:
    sample = get_profile(profile).eval_sample
    return "the offline suite, every record" if sample is None else f"the offline suite, {sample} records per task"


def _training_scope(profile: str) -> str:
    sizes = get_profile(profile).train
    if not {"steps", "batch_size", "max_seq_length"} <= set(sizes):  # a default: ask the TrainConfig (imports torch)
        config = experiments.train_config("mote", profile)
        sizes = {"steps": config.steps, "batch_size": config.batch_size, "max_seq_length": config.max_seq_length}
    return f"{sizes['steps']} steps of {sizes['batch_size']} pairs, at most {sizes['max_seq_length']} tokens"


def aa_sentence(table: pd.DataFrame) -> str:
    passed = aa_passed(table)
    if passed is None:
        return "A/A check (IC against IC, disjoint seeds): not yet measurable, so the machinery is not yet checked on these runs."
    if passed:
        return "A/A check passed: IC against IC with disjoint seeds reads inconclusive, as it must."
    label = table.loc[table["kind"] == AA_CHECK, "verdict"].iloc[0]
    return (f"**Warning: the A/A check failed.** IC against IC with disjoint seeds reads \"{label}\" where it must read "
            "inconclusive: the intervals are too narrow, and the verdicts below are not to be trusted until that is fixed.")


def header_lines(profile: str, inputs: Inputs, table: pd.DataFrame) -> list[str]:
    source = {"runner": f"`results/{profile}/runs/*/` (the runner's layout)",
              "notebooks": f"`results/{profile}/` (the notebooks' tables)"}.get(inputs.layout, f"`results/{profile}/` (no scores yet)")
    seeds = "; ".join(f"{m}: {'untrained' if s == [None] else s}" for m, s in seeds_by_model(inputs).items()) or "none"
    counts = verdict_counts(table)
    n_empirical = int(table["kind"].isin([PRIMARY, SECONDARY]).sum())
    return [f"# Claims of the MoTE paper, checked with the `{profile}` profile", "",
            f"Generated by `mote_lib.lab.claims.write_claims` from {source}. Endpoints and verdict rules: "
            f"[{PREREGISTRATION}](../../{PREREGISTRATION}); the paper's numbers and their sources: "
            f"[{PAPER_MODULE}](../../{PAPER_MODULE}).", "",
            f"- Seeds per model: {seeds}.",
            f"- Evaluation: {_evaluation_scope(profile)}; training: {_training_scope(profile)}.",
            f"- {n_empirical} empirical claims: " + ", ".join(f"{n} {label}" for label, n in counts.items()) + ".",
            f"- {aa_sentence(table)}", *caveat_lines(profile, table), ""]


def caveat_lines(profile: str, table: pd.DataFrame) -> list[str]:
    """What the pre-registration says must qualify the verdicts: an A/A check not yet passed, experts
    that moved apart less than two IC seeds."""
    lines = []
    if aa_passed(table) is None and inputs_have_verdicts(table):
        lines.append("- **Provisional.** The pre-registration requires the A/A check to pass before a verdict is "
                     "published; until it is measurable, every verdict here is provisional.")
    separation = manipulation.separation(profile)
    if not separation.empty and (separation["ratio"] < 1).all():
        lines.append("- **Manipulation check failed.** In every MoTE layer the experts differ from each other less "
                     "than two IC seeds' MLPs differ (ratios "
                     f"{separation['ratio'].min():.2f}-{separation['ratio'].max():.2f}); by the pre-registered rule, "
                     "MoTE-vs-IC differences are uninformative about task experts: a MoTE advantage here is not "
                     "evidence that task specialisation caused it.")
    return lines


def inputs_have_verdicts(table: pd.DataFrame) -> bool:
    """Whether any empirical claim got a decision (supported or contradicted)."""
    decided = table[table["kind"].isin([PRIMARY, SECONDARY])]["verdict"]
    return bool(decided.isin([SUPPORTED, SMALLER, CONTRADICTED]).any())


def _reference_lines(inputs: Inputs) -> list[str]:
    reference = reference_rows(inputs)
    if reference.empty:
        return ["No per-dataset scores yet."]
    for column in [c for c in reference.columns if c.startswith("gain")]:  # signed: a gain can be a loss
        reference[column] = [f"{v:+.2f}" if pd.notna(v) else "" for v in reference[column]]
    below = below_base_sentences(inputs)
    return [*_markdown(reference, list(reference.columns)), *([""] + below if below else [])]


def write_claims(profile: str, table: pd.DataFrame | None = None) -> Path:
    """Write ``results/<profile>/claims.md`` (atomically) from ``claims_table``; return its path."""
    inputs = collect(profile)
    table = claims_from(inputs, profile) if table is None else table
    lines = header_lines(profile, inputs, table)
    for title, kinds in (("Primary endpoint (not adjusted)", [PRIMARY]),
                         ("Secondary endpoints (p Holm-adjusted across them)", [SECONDARY]),
                         ("A/A check: IC against IC with disjoint seeds", [AA_CHECK])):
        lines += [f"## {title}", "", *_claim_lines(table[table["kind"].isin(kinds)]), ""]
    per_type = per_type_rows(inputs, profile)
    if not per_type.empty:
        lines += ["## MoTE - IC per task type (descriptive, not judged)", "", *_markdown(per_type, list(per_type.columns)), ""]
    lines += manipulation.lines(profile)
    lines += ["## Reference rows (never tested against the paper)", "", *_reference_lines(inputs), ""]
    lines += ["Gain ratios (display only, never a verdict):", "", *gain_ratio_lines(inputs), ""]
    construction = table[table["kind"] == CONSTRUCTION]
    lines += ["## Claims that hold by construction (not counted above)", "", *_markdown(construction, ["claim", "paper", "ours"])]
    return write_text_atomic(experiments.results_dir(profile) / "claims.md", "\n".join(lines) + "\n")


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
