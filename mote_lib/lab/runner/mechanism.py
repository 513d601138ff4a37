"""The mechanism entries of the runner (pre-registration, amendment 1): per reference seed, from the scored weights.

``python -m mote_lib.lab.runner run --queue mechanism`` (``make mechanism``) works through IC and MoTE
seeds 0-5 of the reference profile and writes, beside each entry's registered files in
``results/reference/runs/<entry>/``:

    weights_check.json   the weights analysed against the committed ``weight_sketch.npz`` (A6): every
                         sketch entry within 1e-4 of the committed one (relative to its largest entry),
                         every change norm within 1e-5 relative; machine, threads, commit, both hashes
    rescore.csv          the whole suite scored again with the weights analysed (A6: reported beside the
                         committed scores, which stay of record for the registered claims)
    rescore_per_query.csv  the same, per query
    layer_cosines.csv    per task pair and layer, the mean cosine between one text's pooled hidden
                         states under the two tasks (``similarity.layerwise_divergence``; claim ii)
    sensitivity.csv      per text, instruction-swap and content-edit distance ratios
                         (``mote_lib.sensitivity``, notebook 04's swaps, edits and texts; claim i)
    swap_matrix.csv      MoTE only: every route scored with every expert, and with the initial one (A4)
    swap_per_query.csv   MoTE only: the same, per query for retrieval and re-ranking
    expert_merges.csv    MoTE only: the whole suite routed, WAVE (all experts averaged, claim iii) and
                         two merges (search_document + clustering, search_query + search_document; iv)
    merge_per_query.csv  MoTE only: the same, per query
    mechanism_done.json  written last

Routed and edited scores come from the same weights in the same run (the routed rows are the
whole suite re-scored), so a rebuild's float noise cannot enter a difference. Every row carries the
runner's tags (model, entry, seed, profile, commit, cpu, machine kind, threads).

Example:
    >>> [route.name for route in ROUTES]
    ['search_query', 'search_document', 'classification', 'clustering', 'sts_pair']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

from mote_lib.atomic import write_text_atomic
from mote_lib.lab.experiments import analysis_texts, eval_data_root
from mote_lib.lab.runner.outputs import write_csv
from mote_lib.machine import commit_label, machine, machine_kind
from mote_lib.names import RETRIEVAL_TYPES
from mote_lib.profiles import get_profile

if TYPE_CHECKING:
    from mote_lib.lab.runner.work import EntryWork

SKETCH_TOLERANCE = 1e-4  # of the committed sketch's largest absolute entry (A6)
NORM_TOLERANCE = 1e-5  # relative, per change norm (A6)
TASKS = ("classification", "clustering", "search_document", "search_query")
SWAPS = (("search_query", "search_document"), ("classification", "clustering"), ("search_document", "clustering"))
EDITS = ("drop_word", "swap_word")
NONE = "none"  # the swap matrix's column of the initial (pre-trained) expert
SCORE_COLUMNS = ["task", "task_type", "split", "score", "error"]
MERGES = {"routed": (), "wave": TASKS, "merge search_document+clustering": ("search_document", "clustering"),
          "merge search_query+search_document": ("search_query", "search_document")}


@dataclass(frozen=True)
class Route:
    """A row of the swap matrix: the MoTE task whose expert is swapped, and the task types it embeds."""

    name: str
    task: str
    task_types: tuple[str, ...]


ROUTES = (Route("search_query", "search_query", RETRIEVAL_TYPES), Route("search_document", "search_document", RETRIEVAL_TYPES),
          Route("classification", "classification", ("Classification",)), Route("clustering", "clustering", ("Clustering",)),
          # STS and pair classification take mote_lib.evaluate's other task (classification's expert and instruction).
          Route("sts_pair", "classification", ("STS", "PairClassification")))


def mechanism_files(variant: str) -> list[str]:
    """The files of a mechanism entry, in the order they are made (the done marker aside).

        >>> mechanism_files("ic")
        ['weights_check.json', 'rescore.csv', 'rescore_per_query.csv', 'layer_cosines.csv', 'sensitivity.csv']
    """
    files = ["weights_check.json", "rescore.csv", "rescore_per_query.csv", "layer_cosines.csv", "sensitivity.csv"]
    if variant == "mote":
        files += ["swap_matrix.csv", "swap_per_query.csv", "expert_merges.csv", "merge_per_query.csv"]
    return files


# ----------------------------------------------------------------------------- A6: the weights analysed


def weights_check(work: EntryWork) -> dict:
    """The analysed weights' sketches and change norms against the committed ``weight_sketch.npz``."""
    import numpy as np

    from mote_lib.evaluate import weights_hash
    from mote_lib.lab.weight_sketch import count_sketch

    committed = np.load(work.entry.folder / "weight_sketch.npz")
    changes = {(c["layer"], c["expert"]): c["change"] for c in work.changes}
    sketch_gap, norm_gap = 0.0, 0.0
    for i, (layer, expert) in enumerate(zip(committed["layer"], committed["expert"], strict=True)):
        change = changes[(int(layer), str(expert))].numpy()
        scale = float(np.abs(committed["sketch"][i]).max()) or 1.0
        sketch_gap = max(sketch_gap, float(np.abs(count_sketch(change) - committed["sketch"][i]).max()) / scale)
        norm_gap = max(norm_gap, abs(float(np.linalg.norm(change)) - float(committed["change_norm"][i]))
                       / max(float(committed["change_norm"][i]), 1e-30))
    recorded = json.loads((work.entry.folder / "run.json").read_text())
    return {"entry": str(work.entry), "sketch_gap": sketch_gap, "norm_gap": norm_gap,
            "sketch_tolerance": SKETCH_TOLERANCE, "norm_tolerance": NORM_TOLERANCE,
            "within_tolerance": sketch_gap <= SKETCH_TOLERANCE and norm_gap <= NORM_TOLERANCE,
            "weights_hash": weights_hash(work.model), "recorded_weights_hash": recorded["weights_hash"],
            "recorded_commit": recorded["git"]["commit"], "recorded_machine": recorded["machine"],
            "machine": machine(), "machine_kind": machine_kind(machine()), "commit": commit_label()}


def write_weights_check(work: EntryWork, path: Path) -> None:
    """``weights_check.json``, within the tolerance or not: A6 has weights beyond it re-scored (``rescore.csv``,
    written for every entry) and both scores reported, and the analyses go on from the weights analysed."""
    write_text_atomic(path, json.dumps(weights_check(work), indent=1, sort_keys=True) + "\n")


def write_rescore(work: EntryWork, path: Path) -> None:
    write_csv(path, work.tagged(work.evaluation[SCORE_COLUMNS]))


def write_rescore_per_query(work: EntryWork, path: Path) -> None:
    from mote_lib.evaluate import per_query_scores

    write_csv(path, work.tagged(per_query_scores(work.evaluation)[["task", "task_type", "split", "query_id", "score"]]))


# ----------------------------------------------------------------------------- claims i and ii: probes


def probe_texts(profile: str) -> list[str]:
    """Notebook 03's texts (the profile's analysis texts)."""
    return analysis_texts(get_profile(profile).analysis_texts)


def write_layer_cosines(work: EntryWork, path: Path) -> None:
    import pandas as pd

    from mote_lib.similarity import layerwise_divergence

    texts = probe_texts(work.entry.profile)
    frames = [layerwise_divergence(work.model, texts, a, b).assign(task_a=a, task_b=b) for a, b in combinations(TASKS, 2)]
    write_csv(path, work.tagged(pd.concat(frames, ignore_index=True)))


def write_sensitivity(work: EntryWork, path: Path) -> None:
    """Notebook 04's distance ratios: three instruction swaps and two content edits (under classification)."""
    import pandas as pd

    from mote_lib.sensitivity import content_edit_ratio, instruction_swap_ratio

    texts = [t for t in probe_texts(work.entry.profile) if len(t.split()) >= 3]  # edits need words to drop
    frames = [instruction_swap_ratio(work.model, texts, a, b).assign(probe="swap", detail=f"{a} / {b}") for a, b in SWAPS]
    frames += [content_edit_ratio(work.model, texts, "classification", edit=edit).drop(columns=["original", "edited"])
               .assign(probe="edit", detail=edit) for edit in EDITS]
    write_csv(path, work.tagged(pd.concat(frames, ignore_index=True)))


# ----------------------------------------------------------------------------- A4 and claims iii, iv: edited models


def _score(work: EntryWork, model, label: str, tasks: list[str]):
    from mote_lib.evaluate import evaluate_models

    return evaluate_models({label: model}, "offline", tasks=tasks, data_root=eval_data_root(work.entry.profile),
                           show_progress=False)


def _tasks_of(work: EntryWork, task_types: tuple[str, ...]) -> list[str]:
    scored = work.evaluation
    return sorted(set(scored.loc[scored["task_type"].isin(task_types), "task"]))


def swap_scores(work: EntryWork):
    """Every route (``ROUTES``) scored with every expert and with the initial one: the routed cells are the
    routed model's own scores. Columns route, expert, routed (bool) and the evaluation's."""
    import pandas as pd

    from mote_lib.lab.expert_edits import expert_reset, routed_to

    model, frames = work.model, []
    for route in ROUTES:
        tasks, own = _tasks_of(work, route.task_types), model.config.task_to_expert[route.task]
        routed = work.evaluation[work.evaluation["task"].isin(tasks)]
        frames.append(routed.assign(route=route.name, expert=own, routed=True))
        for expert in [*sorted(set(model.config.task_to_expert.values()) - {own}), NONE]:
            edited = expert_reset(model, work.initial, route.task) if expert == NONE else routed_to(model, route.task, expert)
            frames.append(_score(work, edited, f"{work.label}-{route.name}-{expert}", tasks)
                          .assign(route=route.name, expert=expert, routed=False))
    return pd.concat(frames, ignore_index=True)


def merge_scores(work: EntryWork):
    """The whole suite: routed, WAVE and the two merges of ``MERGES``. Columns edit and the evaluation's."""
    import pandas as pd

    from mote_lib.lab.expert_edits import merged, wave

    tasks = sorted(set(work.evaluation["task"]))
    frames = [work.evaluation.assign(edit="routed")]
    for edit, experts in MERGES.items():
        if edit == "routed":
            continue
        model = wave(work.model) if experts == TASKS else merged(work.model, list(experts))
        frames.append(_score(work, model, f"{work.label}-{edit.replace(' ', '-')}", tasks).assign(edit=edit))
    return pd.concat(frames, ignore_index=True)


def _per_query(table, keys: list[str]):
    import pandas as pd

    from mote_lib.evaluate import per_query_scores

    frames = [per_query_scores(group).assign(**dict(zip(keys, values if isinstance(values, tuple) else (values,), strict=True)))
              for values, group in table.groupby(keys, sort=False)]
    return pd.concat(frames, ignore_index=True)


def write_swap_matrix(work: EntryWork, path: Path) -> None:
    write_csv(path, work.tagged(work.swaps[["route", "expert", "routed", *SCORE_COLUMNS]]))


def write_swap_per_query(work: EntryWork, path: Path) -> None:
    table = _per_query(work.swaps, ["route", "expert", "routed"])
    write_csv(path, work.tagged(table[["route", "expert", "routed", "task", "task_type", "split", "query_id", "score"]]))


def write_expert_merges(work: EntryWork, path: Path) -> None:
    write_csv(path, work.tagged(work.merges[["edit", *SCORE_COLUMNS]]))


def write_merge_per_query(work: EntryWork, path: Path) -> None:
    table = _per_query(work.merges, ["edit"])
    write_csv(path, work.tagged(table[["edit", "task", "task_type", "split", "query_id", "score"]]))


STEPS = {
    "weights_check.json": write_weights_check,
    "rescore.csv": write_rescore,
    "rescore_per_query.csv": write_rescore_per_query,
    "layer_cosines.csv": write_layer_cosines,
    "sensitivity.csv": write_sensitivity,
    "swap_matrix.csv": write_swap_matrix,
    "swap_per_query.csv": write_swap_per_query,
    "expert_merges.csv": write_expert_merges,
    "merge_per_query.csv": write_merge_per_query,
}
