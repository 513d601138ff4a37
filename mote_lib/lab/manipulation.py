"""Manipulation checks (docs/preregistration.md, checks 3 and 4): did the experts become task experts?

Before a MoTE-vs-IC difference can be read as the effect of task experts, the experts must differ:

* **Separation** (check 3): per MoTE layer, how far its experts moved apart (||W_a - W_b|| / ||W0||,
  mean over expert pairs and MoTE seeds, from ``expert_movement.csv``), against how far the same
  layer's MLP of two IC seeds lies apart (the distance of their changes from the common start,
  estimated from the count sketches in ``weight_sketch.npz``, over ||W0||). Two IC seeds differ only
  by their batch order and dropout: if the experts of one run differ less than that, the experts
  are no more different than noise makes two runs, and MoTE-vs-IC differences are uninformative.
* **Route ablation** (check 4): MoTE's retrieval and re-ranking with the right query expert, with
  the query expert reset to its initial weights ("none"), and with the clustering expert ("wrong"),
  from ``route_ablation.csv``. If right equals wrong, the experts are not task-specific.

Both are descriptive and printed into ``claims.md`` (``lines``); neither is a verdict on the paper. The
check of record since amendment 1 (A3) is ``mote_lib.lab.expert_identity``'s matched yardstick
(``identity``), shown beside the registered one.

Example:
    >>> from mote_lib.lab.manipulation import lines
    >>> isinstance(lines("reference"), list)
    True
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from mote_lib.lab import expert_identity, records
from mote_lib.lab.weight_sketch import sketch_distance

ROUTINGS = ("right", "none", "wrong")


def expert_distances(profile: str) -> pd.DataFrame:
    """Per MoTE layer: the mean relative distance between its experts, over expert pairs and seeds (columns layer, value, seeds)."""
    table = records.read_tables(profile, "expert_movement.csv", label="mote")
    if table is None:
        return pd.DataFrame(columns=["layer", "value", "seeds"])
    table = table[(table["measure"] == "relative_distance") & table["mote_layer"]]
    return table.groupby("layer").agg(value=("value", "mean"), seeds=("seed", "nunique")).reset_index()


def ic_seed_distances(profile: str) -> pd.DataFrame:
    """Per layer: the relative distance between two IC seeds' MLP blocks, mean over seed pairs (columns layer, value, pairs)."""
    sketches = [np.load(path) for path in records.entry_paths(profile, "weight_sketch.npz", label="ic")]
    rows = []
    for a, b in combinations(sketches, 2):
        for i, layer in enumerate(a["layer"]):
            # Both runs start from the same base weights, so W_a - W_b is the difference of their changes.
            rows.append({"layer": int(layer), "value": sketch_distance(a["sketch"][i], b["sketch"][i]) / float(a["initial_norm"][i])})
    if not rows:
        return pd.DataFrame(columns=["layer", "value", "pairs"])
    return pd.DataFrame(rows).groupby("layer").agg(value=("value", "mean"), pairs=("value", "size")).reset_index()


def separation(profile: str) -> pd.DataFrame:
    """Per MoTE layer: expert distance, IC seed distance and their ratio (empty until both exist)."""
    experts, seeds = expert_distances(profile), ic_seed_distances(profile)
    if experts.empty or seeds.empty:
        return pd.DataFrame(columns=["layer", "expert_distance", "ic_seed_distance", "ratio"])
    table = experts.rename(columns={"value": "expert_distance"})[["layer", "expert_distance"]].merge(
        seeds.rename(columns={"value": "ic_seed_distance"})[["layer", "ic_seed_distance"]], on="layer")
    return table.assign(ratio=table["expert_distance"] / table["ic_seed_distance"])


def separation_sentence(table: pd.DataFrame) -> str:
    """The pre-registered reading of the separation table."""
    if table.empty:
        return "Not yet measurable: needs a MoTE run and two IC seeds."
    if (table["ratio"] < 1).all():
        return ("**The experts differ from each other less than two IC seeds differ, in every MoTE layer**: "
                "by the pre-registered rule, MoTE-vs-IC differences are uninformative about task experts.")
    if (table["ratio"] >= 1).all():
        return "The experts differ from each other more than two IC seeds differ, in every MoTE layer."
    return (f"The experts differ more than two IC seeds in {int((table['ratio'] >= 1).sum())} of {len(table)} "
            "MoTE layers, and less in the others.")


def route_ablation(profile: str) -> pd.DataFrame:
    """Per MoTE seed and task type: the mean score over datasets under each routing, and right minus the others."""
    table = records.read_tables(profile, "route_ablation.csv", label="mote")
    if table is None:
        return pd.DataFrame(columns=["seed", "task_type", *ROUTINGS, "right - none", "right - wrong"])
    if "error" in table:
        table = table[table["error"].isna()]
    means = table.groupby(["seed", "task_type", "routing"])["score"].mean().unstack("routing").reset_index()
    return means.assign(**{"right - none": means["right"] - means["none"], "right - wrong": means["right"] - means["wrong"]})


def route_sentence(table: pd.DataFrame) -> str:
    retrieval = table[table["task_type"] == "Retrieval"]
    if retrieval.empty:
        return "Not yet measurable: needs a finished MoTE run."
    gaps = retrieval["right - wrong"]
    spread = f"{gaps.iloc[0]:+.2f}" if len(gaps) == 1 else f"{gaps.min():+.2f} to {gaps.max():+.2f}"
    where = "in the one MoTE seed so far" if len(gaps) == 1 else f"in each of {len(gaps)} MoTE seeds"
    if (gaps > 0).all():
        return (f"Retrieval is better with the right query expert than with the clustering expert {where} "
                f"(right - wrong {spread}): the query expert is task-specific to that extent.")
    return (f"Right and wrong query experts are not consistently apart on retrieval ({len(gaps)} seed(s); right - "
            f"wrong {spread}): the experts are not shown to be task-specific.")


def identity(profile: str) -> dict | None:
    """The matched-yardstick check of record (amendment 1, A3; ``expert_identity.check``), None before 2 MoTE seeds."""
    return expert_identity.check(profile)


def identity_sentence(result: dict) -> str:
    """The amended check's reading, in one sentence."""
    numbers = (f"two experts of one seed lie {result['distance_ratio']:.2f} times as far apart as one expert in two "
               f"seeds (permutation p {result['p_distance']:.2g}), and one expert's update in two seeds is more alike "
               f"than two experts' by a cosine of {result['direction_contrast']:+.2f} (p {result['p_direction']:.2g}), "
               f"over {result['n_seeds']} MoTE seeds and {result['n_layers']} MoTE layers")
    label = {expert_identity.PASSED: "passed", expert_identity.FAILED: "failed",
             expert_identity.INCONCLUSIVE: "inconclusive"}[result["verdict"]]
    reading = {expert_identity.PASSED: "the experts learned reproducible, task-specific weights",
               expert_identity.FAILED: "the experts are not shown to be task-specific by their weights",
               expert_identity.INCONCLUSIVE: "the data cannot tell"}[result["verdict"]]
    return f"**Manipulation check by weights (amendment 1, A3, of record): {label}.** {numbers[0].upper()}{numbers[1:]}: {reading}."


def identity_lines(profile: str) -> list[str]:
    """claims.md's section on the amended check by weights, with the per-layer values and the cosine table."""
    result = identity(profile)
    if result is None:
        return []
    out = ["**Matched yardstick (amendment 1, A3; of record).** The yardstick is the same expert in another MoTE seed "
           f"(count sketches of the scored weights; {result['n_permutations']:,} permutations of each seed's expert labels):", "",
           identity_sentence(result), "", "| MoTE layer | distance ratio | direction contrast |", "|---:|---:|---:|"]
    out += [f"| {int(r.layer)} | {r.distance_ratio:.2f} | {r.direction_contrast:+.2f} |" for r in result["per_layer"].itertuples()]
    cosines = result["cosines"]
    out += ["", "Mean cosine between one expert's update (row) and an expert's update in another MoTE seed (column):", "",
            "| expert | " + " | ".join(cosines.columns) + " |", "|---|" + "---:|" * len(cosines.columns)]
    out += [f"| {name} | " + " | ".join(f"{v:+.3f}" for v in row) + " |" for name, row in cosines.iterrows()]
    return out + [""]


def lines(profile: str) -> list[str]:
    """The "Manipulation checks" section of ``claims.md`` (none for a profile the runner has not run:
    the notebooks keep no weight sketches or route ablations)."""
    if not records.group_dir(profile).is_dir():
        return []
    sep = separation(profile)
    out = ["## Manipulation checks (descriptive, pre-registered checks 3 and 4)", "",
           "**Separation of the experts.** Per MoTE layer, ||W_a - W_b|| / ||W0|| between its experts (mean over "
           "expert pairs and MoTE seeds) against the same layer's distance between two IC seeds (count-sketch "
           "estimate, about 1% error):", ""]
    if not sep.empty:
        out += ["| layer | between experts | between IC seeds | ratio |", "|---:|---:|---:|---:|"]
        out += [f"| {int(r.layer)} | {r.expert_distance:.4f} | {r.ic_seed_distance:.4f} | {r.ratio:.2f} |" for r in sep.itertuples()]
        out.append("")
    out += [separation_sentence(sep), "",
            "Context (the rule was fixed before any result): an expert is updated only on its own task's steps "
            "(a retrieval step updates the query and document experts, about half of all steps; classification "
            "and clustering about a quarter each), while IC's MLP is updated on every step.", ""]
    out += identity_lines(profile)
    ablation = route_ablation(profile)
    out += ["**Route ablation.** MoTE scored with the right query expert, the query expert reset to its initial "
            "weights (none) and the clustering expert (wrong); mean over datasets:", ""]
    if not ablation.empty:
        out += ["| seed | task type | right | none | wrong | right - none | right - wrong |", "|---:|---|---:|---:|---:|---:|---:|"]
        out += [f"| {int(r[0])} | {r[1]} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:+.2f} | {r[6]:+.2f} |"
                for r in ablation[["seed", "task_type", *ROUTINGS, "right - none", "right - wrong"]].itertuples(index=False)]
        out.append("")
    out += [route_sentence(ablation), ""]
    return out
