"""The files an entry's folder holds, each written by one step from the entry's shared work (``EntryWork``).

    run.json                what ran: the entry, its TrainConfig, run folder, weights hash, training
                            seconds and steps, the machine, threads, versions, git commit, UTC times
    scores.csv              the offline suite (``evaluate_models``), one row per task and split
    per_query.csv           retrieval and reranking scores per query (for paired bootstraps)
    train_log.csv           the training log, one row per step
    expert_movement.csv     per layer and expert: relative change from the initial weights; per
                            layer: relative distance between experts
    weight_sketch.npz       count sketches of those changes (``mote_lib.lab.weight_sketch``)
    inter_task_cosines.csv  the same texts embedded under every task pair
    route_ablation.csv      retrieval and reranking with the right query expert, the initial one
                            ("none"), and the clustering expert ("wrong")

Also ``weight_changes`` (every expert's change from its initial weights); the route ablation's edited
copies come from ``mote_lib.lab.expert_edits``. ``STEPS`` maps each file to the function that writes it
(the mechanism stage's files: ``mote_lib.lab.runner.mechanism``).

Example:
    >>> from mote_lib.lab.runner.outputs import STEPS
    >>> list(STEPS)[:3]
    ['run.json', 'scores.csv', 'per_query.csv']
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mote_lib.atomic import atomic_file, write_text_atomic
from mote_lib.lab.experiments import analysis_texts, eval_data_root
from mote_lib.machine import git_state, machine
from mote_lib.names import RETRIEVAL_TYPES
from mote_lib.profiles import get_profile

if TYPE_CHECKING:
    from mote_lib.lab.runner.work import EntryWork

# The columns ``EntryWork.tagged`` puts first in every table: where it came from.
TAG_COLUMNS = ("model", "entry", "seed", "profile", "commit", "cpu", "threads")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_csv(path: Path, table) -> None:
    write_text_atomic(path, table.to_csv(index=False))


def write_run_json(work: EntryWork, path: Path) -> None:
    import torch

    from mote_lib.evaluate import package_versions, weights_hash

    summary, folder = work.summary, work.run_folder
    trained_utc = None
    if folder is not None:
        trained_utc = datetime.fromtimestamp((folder / "summary.json").stat().st_mtime, UTC).isoformat(timespec="seconds")
    record = {
        "entry": {**asdict(work.entry), "name": work.entry.name},
        "train_config": asdict(work.config) if work.entry.trained else None,
        "model_config": asdict(work.model.config),
        "run_folder": folder.name if folder is not None else None,
        "weights_hash": weights_hash(work.model),
        # step times summed over the whole training (resumed parts too), and the last session's wall time
        "train_seconds": summary.get("train_seconds", 0.0), "train_wall_seconds": summary.get("wall_time_s", 0.0),
        "steps": summary.get("steps", 0), "device": summary.get("device", "cpu"),
        "machine": machine(), "threads": torch.get_num_threads(), "torch": torch.__version__,
        "versions": package_versions(), "git": git_state(),
        "trained_utc": trained_utc, "written_utc": utc_now(),
    }
    write_text_atomic(path, json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")


# evaluate_models' columns come in another order when read back from its store (sorted JSON keys):
# fixed here, so that a recomputed scores.csv is the same file.
SCORE_COLUMNS = ("variant", "task", "task_type", "split", "main_metric", "score", "eval_seconds", "error",
                 "weights_hash", "versions")


def write_scores(work: EntryWork, path: Path) -> None:
    table = work.tagged(work.evaluation)
    ordered = [*TAG_COLUMNS, *(c for c in SCORE_COLUMNS if c in table)]
    write_csv(path, table[ordered + [c for c in table if c not in ordered]])


def write_per_query(work: EntryWork, path: Path) -> None:
    from mote_lib.evaluate import per_query_scores

    write_csv(path, work.tagged(per_query_scores(work.evaluation)))


TRAIN_LOG_FIRST = ("step", "task", "loss", "lr", "grad_norm", "tokens_per_s")


def write_train_log(work: EntryWork, path: Path) -> None:
    """The run's ``train_log.jsonl``, one row per step; per-task losses become ``loss_<task>`` columns."""
    import pandas as pd

    from mote_lib.train import read_train_log

    rows = []
    for record in read_train_log(work.run_folder):
        task_loss = record.get("task_loss", {})
        row = {key: value for key, value in record.items() if not isinstance(value, dict)}
        row["task"] = "+".join(sorted(task_loss))  # one task per step under TA-CL; several without it
        row.update({f"loss_{task}": loss for task, loss in sorted(task_loss.items())})
        rows.append(row)
    table = pd.DataFrame(rows)
    first = [c for c in TRAIN_LOG_FIRST if c in table]
    write_csv(path, work.tagged(table[first + [c for c in table if c not in first]]))


def weight_changes(model, initial) -> list[dict]:
    """Per layer and expert (``dense`` in a layer without experts): its initial weights' norm and its change.

    An expert's weights are its MLP and both LayerNorms, flattened in parameter order.
    """
    import torch

    def flat(module) -> torch.Tensor:
        return torch.cat([p.detach().double().reshape(-1).cpu() for p in module.parameters()])

    changes = []
    for layer, bank in enumerate(model.blocks):
        names = model.config.experts if len(bank.experts) > 1 else ["dense"]
        start = initial.blocks[layer]
        for name, expert in zip(names, bank.experts):
            # Every expert starts as a copy of the dense block, so a dense initial model serves any variant.
            begin = start.experts[initial.expert_index[name]] if len(start.experts) > 1 else start.experts[0]
            before = flat(begin)
            changes.append({"layer": layer, "mote_layer": len(bank.experts) > 1, "expert": name,
                            "initial_norm": float(before.norm()), "change": flat(expert) - before})
    return changes


def write_expert_movement(work: EntryWork, path: Path) -> None:
    """Per layer and expert, ||W - W0|| / ||W0||; per MoTE layer and pair, ||W_a - W_b|| / ||W0||."""
    from itertools import combinations

    import pandas as pd

    rows = [{"layer": c["layer"], "mote_layer": c["mote_layer"], "measure": "relative_change", "expert_a": c["expert"],
             "expert_b": "", "value": float(c["change"].norm()) / c["initial_norm"]} for c in work.changes]
    by_layer: dict[int, list[dict]] = {}
    for change in work.changes:
        by_layer.setdefault(change["layer"], []).append(change)
    for layer, experts in by_layer.items():
        for a, b in combinations(experts, 2):  # same start, so W_a - W_b is the difference of the changes
            rows.append({"layer": layer, "mote_layer": True, "measure": "relative_distance", "expert_a": a["expert"],
                         "expert_b": b["expert"], "value": float((a["change"] - b["change"]).norm()) / a["initial_norm"]})
    write_csv(path, work.tagged(pd.DataFrame(rows)))


def write_weight_sketch(work: EntryWork, path: Path) -> None:
    """Count sketches of every layer's and expert's change; with the exact norms, to check estimates against."""
    import numpy as np

    from mote_lib.evaluate import weights_hash
    from mote_lib.lab.weight_sketch import BUCKETS, HASH_SEED, count_sketch

    changes = work.changes
    arrays = {
        "sketch": np.stack([count_sketch(c["change"].numpy()) for c in changes]),
        "layer": np.array([c["layer"] for c in changes]), "expert": np.array([c["expert"] for c in changes]),
        "change_norm": np.array([float(c["change"].norm()) for c in changes]),
        "initial_norm": np.array([c["initial_norm"] for c in changes]),
        "length": np.array([c["change"].numel() for c in changes]),
        "buckets": np.array(BUCKETS), "hash_seed": np.array(HASH_SEED),
        "entry": np.array(str(work.entry)), "weights_hash": np.array(weights_hash(work.model)),
    }
    with atomic_file(path) as tmp, open(tmp, "wb") as handle:  # a handle: np.savez would append .npz to the name
        np.savez_compressed(handle, **arrays)


def write_inter_task_cosines(work: EntryWork, path: Path) -> None:
    from mote_lib.similarity import inter_task_cosines, task_embeddings

    texts = analysis_texts(get_profile(work.entry.profile).analysis_texts)
    write_csv(path, work.tagged(inter_task_cosines(task_embeddings(work.model, texts))))


def write_route_ablation(work: EntryWork, path: Path) -> None:
    """Retrieval and reranking with the query expert right, reset to its initial weights, and wrong."""
    import pandas as pd

    from mote_lib.evaluate import evaluate_models

    scored = work.evaluation
    scored = scored[scored["task_type"].isin(RETRIEVAL_TYPES)]
    tasks = sorted(set(scored["task"]))
    from mote_lib.lab.expert_edits import expert_reset, routed_to

    variants = {"none": expert_reset(work.model, work.initial, "search_query"),
                "wrong": routed_to(work.model, "search_query", "clustering")}
    frames = [scored.assign(routing="right")]
    for routing, model in variants.items():
        table = evaluate_models({f"{work.label}-{routing}": model}, "offline", tasks=tasks,
                                data_root=eval_data_root(work.entry.profile), show_progress=False)
        frames.append(table.assign(routing=routing))
    table = pd.concat(frames, ignore_index=True)
    write_csv(path, work.tagged(table[["routing", "task", "task_type", "split", "score", "error"]]))


STEPS = {
    "run.json": write_run_json,
    "scores.csv": write_scores,
    "per_query.csv": write_per_query,
    "train_log.csv": write_train_log,
    "expert_movement.csv": write_expert_movement,
    "weight_sketch.npz": write_weight_sketch,
    "inter_task_cosines.csv": write_inter_task_cosines,
    "route_ablation.csv": write_route_ablation,
}
