"""The mechanism's claims (pre-registration, amendment 1, A4 and A5), judged from the runner's mechanism files.

Inputs: per seed, the files ``mote_lib.lab.runner.mechanism`` writes beside the registered ones in
``results/<profile>/runs/<entry>/``. Each claim is one row with its statistic, 95% interval (the
amended variance of record, the registered one beside it where it differs), and verdict:

* **swap** (A4): routed minus swapped, pooled over every off-diagonal (route, expert) cell and its
  datasets, each (cell, dataset) weighing the same, per query where scored per query; seeds and
  queries as the primary. Supported when the interval lies above 0.
* **(i) leverage**: log(median swap ratio / median edit ratio), MoTE minus IC, seed-paired; > 0.
* **(ii) divergence**: the fall of the mean inter-task cosine from the first to the last MoTE layer,
  MoTE minus IC, seed-paired; > 0.
* **(iii) WAVE**: WAVE's dataset average over the routed model's; supported when the interval's lower
  end is at least 0.95, contradicted when its upper end is below.
* **(iv) merges**: merging search_document + clustering minus merging search_query + search_document,
  over the 12 datasets, per query where scored per query; > 0.

(i), (ii) and (iv) are Holm-adjusted among themselves. Where inputs are missing the row says which.

Example:
    >>> rows = leverage_table(pd.DataFrame({"model": ["mote"] * 2 + ["ic"] * 2, "seed": [0, 0, 0, 0],
    ...     "probe": ["swap", "edit"] * 2, "detail": ["a / b", "drop_word"] * 2, "ratio": [4.0, 1.0, 2.0, 1.0]}))
    >>> round(float(rows["a"].iloc[0] - rows["b"].iloc[0]), 4)   # log 4 - log 2
    0.6931
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mote_lib import verdicts
from mote_lib.lab import records
from mote_lib.names import RETRIEVAL_TYPES
from mote_lib.significance import adjust_p_values

WAVE_THRESHOLD = 0.95
N_SEEDS = 6
COLUMNS = ["claim", "prediction", "n_seeds", "effect", "ci_low", "ci_high", "p_value", "p_holm", "verdict",
           "registered_ci_low", "registered_ci_high", "registered_verdict", "note"]


def _read(profile: str, file: str, label: str | None) -> pd.DataFrame | None:
    return records.read_tables(profile, file, label=label)


# ----------------------------------------------------------------------------- paired tables (seed, dataset, [query,] a, b)


def swap_table(per_query: pd.DataFrame, per_dataset: pd.DataFrame) -> pd.DataFrame:
    """Routed (a) against swapped (b) per seed, (route, expert, task) unit and query; the "none" column left out."""
    frames = []
    for table, query in ((per_query, "query_id"), (per_dataset[~per_dataset["task_type"].isin(RETRIEVAL_TYPES)], None)):
        table = table.assign(query=table[query].astype(str) if query else "")
        routed = table[table["routed"]].drop(columns=["expert", "routed"]).rename(columns={"score": "a"})
        swapped = table[~table["routed"] & (table["expert"] != "none")].rename(columns={"score": "b"})
        merged = swapped.merge(routed[["seed", "route", "task", "query", "a"]], on=["seed", "route", "task", "query"])
        frames.append(merged.assign(dataset=merged["route"] + " | " + merged["expert"] + " | " + merged["task"]))
    return pd.concat(frames, ignore_index=True)[["seed", "dataset", "query", "a", "b"]]


def leverage_table(sensitivity: pd.DataFrame) -> pd.DataFrame:
    """Per seed: log L for MoTE (a) and IC (b), L = mean over swaps of the median ratio / mean over edits of it."""
    medians = sensitivity.groupby(["model", "seed", "probe", "detail"])["ratio"].median().reset_index()
    means = medians.groupby(["model", "seed", "probe"])["ratio"].mean().unstack("probe")
    log_l = np.log(means["swap"] / means["edit"]).unstack("model")
    log_l = log_l.dropna(subset=[c for c in ("mote", "ic") if c in log_l])
    return pd.DataFrame({"seed": log_l.index, "dataset": "leverage", "a": log_l["mote"].to_numpy(), "b": log_l["ic"].to_numpy()})


def divergence_table(cosines: pd.DataFrame, mote_layers: list[int]) -> pd.DataFrame:
    """Per seed: the fall of the mean inter-task cosine from after the first MoTE block to after the last one,
    MoTE (a) and IC (b). ``layer`` in the table counts the embedding output as 0, so block i's output is i + 1."""
    first, last = min(mote_layers) + 1, max(mote_layers) + 1
    mean = cosines.groupby(["model", "seed", "layer"])["cosine"].mean()
    fall = (mean.xs(first, level="layer") - mean.xs(last, level="layer")).unstack("model").dropna()
    return pd.DataFrame({"seed": fall.index, "dataset": "divergence", "a": fall["mote"].to_numpy(), "b": fall["ic"].to_numpy()})


def wave_table(merges: pd.DataFrame) -> pd.DataFrame:
    """Per seed: WAVE's dataset average over the routed model's (a), against 0 (b), on the same datasets."""
    means = merges[merges["error"].isna()].groupby(["seed", "edit", "task"])["score"].mean().groupby(["seed", "edit"]).mean()
    share = (means.xs("wave", level="edit") / means.xs("routed", level="edit")).dropna()
    return pd.DataFrame({"seed": share.index, "dataset": "wave", "a": share.to_numpy(), "b": 0.0})


def merge_table(per_query: pd.DataFrame, per_dataset: pd.DataFrame) -> pd.DataFrame:
    """Per seed, dataset and query: merging document + clustering (a) against query + document (b)."""
    a, b = "merge search_document+clustering", "merge search_query+search_document"
    others = per_dataset[~per_dataset["task_type"].isin(RETRIEVAL_TYPES)].assign(query_id="")
    table = pd.concat([per_query, others[per_query.columns.intersection(others.columns)]], ignore_index=True)
    wide = table[table["edit"].isin((a, b))].pivot_table(index=["seed", "task", "query_id"], columns="edit", values="score")
    wide = wide.dropna().reset_index()
    return pd.DataFrame({"seed": wide["seed"], "dataset": wide["task"], "query": wide["query_id"].astype(str),
                         "a": wide[a], "b": wide[b]})


# ----------------------------------------------------------------------------- judging


def _directional(paired: pd.DataFrame, null: float = 0.0, threshold: float | None = None) -> dict:
    """Effect, both intervals and the verdict: above ``null`` (or, with ``threshold``, the lower end at least it)."""
    est, registered = (verdicts.estimate(paired, variance=v) for v in ("amended", "registered"))

    def label(e: verdicts.Estimate) -> str:
        if not e.seed_variance_estimated:
            return verdicts.INCONCLUSIVE
        if threshold is not None:
            return verdicts.SUPPORTED if e.ci_low >= threshold else (verdicts.CONTRADICTED if e.ci_high < threshold
                                                                     else verdicts.INCONCLUSIVE)
        return verdicts.SUPPORTED if e.ci_low > null else (verdicts.CONTRADICTED if e.ci_high < null else verdicts.INCONCLUSIVE)

    return {"n_seeds": est.n_seeds, "effect": est.effect, "ci_low": est.ci_low, "ci_high": est.ci_high,
            "p_value": est.p_value if threshold is None and est.seed_variance_estimated else math.nan,
            "verdict": label(est), "registered_ci_low": registered.ci_low, "registered_ci_high": registered.ci_high,
            "registered_verdict": label(registered)}


CLAIMS = (("swap", "routed minus swapped > 0 (A4, pooled over cells)"),
          ("(i) leverage", "log(swap / edit ratio), MoTE - IC > 0"),
          ("(ii) divergence", "fall of the inter-task cosine, first to last MoTE layer, MoTE - IC > 0"),
          ("(iii) WAVE", f"WAVE / MoTE dataset average: lower end >= {WAVE_THRESHOLD}"),
          ("(iv) merges", "merge(document, clustering) - merge(query, document) > 0"))


def paired_tables(profile: str) -> dict[str, pd.DataFrame | str]:
    """Each claim's paired table, or a string saying which inputs are missing."""
    from mote_lib.lab.expert_identity import sketched_changes

    out: dict[str, pd.DataFrame | str] = {}
    swap_q, swap_d = _read(profile, "swap_per_query.csv", "mote"), _read(profile, "swap_matrix.csv", "mote")
    out["swap"] = swap_table(swap_q, swap_d) if swap_q is not None and swap_d is not None else "needs swap_matrix.csv"
    sens = [t for t in (_read(profile, "sensitivity.csv", m) for m in ("mote", "ic")) if t is not None]
    out["(i) leverage"] = leverage_table(pd.concat(sens)) if len(sens) == 2 else "needs sensitivity.csv of MoTE and IC"
    cos = [t for t in (_read(profile, "layer_cosines.csv", m) for m in ("mote", "ic")) if t is not None]
    layers = sketched_changes(profile)[3]
    out["(ii) divergence"] = (divergence_table(pd.concat(cos), layers) if len(cos) == 2 and layers
                              else "needs layer_cosines.csv of MoTE and IC")
    merges_d, merges_q = _read(profile, "expert_merges.csv", "mote"), _read(profile, "merge_per_query.csv", "mote")
    out["(iii) WAVE"] = wave_table(merges_d) if merges_d is not None else "needs expert_merges.csv"
    out["(iv) merges"] = merge_table(merges_q, merges_d) if merges_q is not None and merges_d is not None else "needs expert_merges.csv"
    return out


def mechanism_claims(profile: str = "reference") -> pd.DataFrame:
    """One row per claim of ``CLAIMS``: statistic, intervals, verdict (or what is missing)."""
    rows = []
    for (claim, prediction), paired in zip(CLAIMS, paired_tables(profile).values(), strict=True):
        row = dict.fromkeys(COLUMNS) | {"claim": claim, "prediction": prediction}
        if isinstance(paired, str) or paired.empty or paired["seed"].nunique() < 2:
            seeds = 0 if isinstance(paired, str) else paired["seed"].nunique()
            row |= {"verdict": "not measured", "n_seeds": seeds,
                    "note": paired if isinstance(paired, str) else f"{seeds} seed(s): an interval needs 2"}
        else:
            row |= _directional(paired, threshold=WAVE_THRESHOLD if claim == "(iii) WAVE" else None)
            row["note"] = "" if row["n_seeds"] >= N_SEEDS else f"{row['n_seeds']} of {N_SEEDS} seeds so far"
        rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    family = table["claim"].isin(["(i) leverage", "(ii) divergence", "(iv) merges"]) & table["p_value"].notna()
    if family.any():
        table.loc[family, "p_holm"] = adjust_p_values(table.loc[family, "p_value"].astype(float).tolist(), "holm")
    return table


def weights_lines(profile: str = "reference") -> list[str]:
    """The weights analysed against the scored ones (A6): the tolerance check and the re-scored suite beside the committed one."""
    checks = [records.read_json(path.parent, path.name) for path in records.entry_paths(profile, "weights_check.json")]
    if not checks:
        return []
    within = sum(bool(c["within_tolerance"]) for c in checks)
    worst = max(checks, key=lambda c: c["sketch_gap"])
    out = [f"Weights analysed (A6): {within} of {len(checks)} entries within the tolerance (sketch entries within "
           f"{worst['sketch_tolerance']:g} of the committed sketch's largest entry, change norms within "
           f"{worst['norm_tolerance']:g}); the largest sketch gap {worst['sketch_gap']:.2g} ({worst['entry']}), the largest "
           f"change-norm gap {max(c['norm_gap'] for c in checks):.2g}."]
    rescored, committed = _read(profile, "rescore.csv", None), records.read_tables(profile, "scores.csv")
    if rescored is not None and committed is not None:
        keys = ["entry", "task", "split"]
        both = rescored.merge(committed[[*keys, "score"]], on=keys, suffixes=("_rescored", "_committed"))
        gap = (both["score_rescored"] - both["score_committed"]).abs()
        if len(gap):
            top = both.loc[gap.idxmax()]
            out.append(f"Re-scored on the whole suite with those weights ({both['entry'].nunique()} entries, {len(both)} "
                       f"scores): mean |re-scored - committed| {gap.mean():.3f} points, largest {gap.max():.2f} "
                       f"({top['entry']}, {top['task']}); the committed scores stay of record for the registered claims.")
    return out + [""]


def lines(profile: str = "reference") -> list[str]:
    """claims.md's mechanism section (nothing before the first mechanism file exists)."""
    if not records.entry_paths(profile, "weights_check.json"):
        return []
    table = mechanism_claims(profile)
    out = ["## The mechanism (amendment 1, A4-A5; 95% intervals over seeds, amended variance, registered beside)", "",
           *weights_lines(profile),
           "| claim | prediction | seeds | ours | registered | verdict |", "|---|---|---:|---|---|---|"]
    for r in table.itertuples():
        if r.verdict == "not measured":
            out.append(f"| {r.claim} | {r.prediction} | {r.n_seeds} | {r.note} | | not measured |")
            continue
        holm = f", Holm p {r.p_holm:.2g}" if pd.notna(r.p_holm) else ""
        ours = f"{r.effect:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]{holm}" + (f" ({r.note})" if r.note else "")
        verdict = r.verdict if r.registered_verdict == r.verdict else f"{r.verdict} (registered interval: {r.registered_verdict})"
        out.append(f"| {r.claim} | {r.prediction} | {r.n_seeds} | {ours} | [{r.registered_ci_low:+.3f}, "
                   f"{r.registered_ci_high:+.3f}] | {verdict} |")
    return out + [""]
