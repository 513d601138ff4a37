"""The experiment-of-record runner: a resumable queue of (profile, model, seed) runs, in priority order.

One command works through the queue. Each entry is trained (or its training resumed, or its cached
weights reused: ``mote_lib.lab.runs.trained_model``), then every post-processing file it lacks is
computed and written atomically, then ``done.json`` last. The machine may vanish at any moment:
what is written is complete, and what is not is redone. The weights under ``runs/`` are a cache
that may be lost (a lost run is retrained; on CPU that gives the same weights bit for bit, and
``run.json``'s ``weights_hash`` guards the rest); the small files under ``results/`` are the
record, committed by a human: the runner never runs git beyond reading the commit.

Commands:

    python -m mote_lib.lab.runner plan   --profile reference                  # the queue, what is done
    python -m mote_lib.lab.runner run    --profile reference [--threads 2] [--only N]
    python -m mote_lib.lab.runner status --profile reference [--threads 2]    # done / left, time left
    python -m mote_lib.lab.runner run    --queue base-gap [--threads 1]       # the base-gap study

The reference queue (``QUEUES``): the untrained base model, then IC, MoTE, EM seed 0, IC and MoTE
seed 1, the pilot's short arm, the rest of seeds 1-2, IC and MoTE seeds 3-5, the ablations last.
Other profiles: the base model, then EM, IC, MoTE for each of the profile's seeds.

Layout of one entry, ``results/<profile>/runs/<entry>/`` (``<entry>``: ``base``, ``ic-s0``, ...):

    run.json                what ran: the entry, its TrainConfig, run folder, weights hash, training
                            seconds and steps, the machine, threads, versions, git commit, UTC times
    scores.csv              the offline suite (``evaluate_models``), one row per task and split
    per_query.csv           retrieval and reranking scores per query (for paired bootstraps)
    train_log.csv           the training log, one row per step                     (trained models)
    expert_movement.csv     per layer and expert: relative change from the initial weights; per
                            layer: relative distance between experts               (trained models)
    weight_sketch.npz       count sketches of those changes (``mote_lib.lab.weight_sketch``), to
                            compare runs once their weights are gone             (trained models)
    inter_task_cosines.csv  the same texts embedded under every task pair          (IC and MoTE)
    route_ablation.csv      retrieval and reranking with the right query expert, the initial one
                            ("none"), and the clustering expert ("wrong")          (MoTE, sequence-routed)
    done.json               written last: the entry is complete; seconds per step

After an interruption, run the same command again: finished entries are skipped, a missing file is
recomputed alone, an interrupted training resumes from its newest checkpoint.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path

from mote_lib.atomic import atomic_file, write_text_atomic
from mote_lib.lab.experiments import MAIN_MODELS, MODELS, analysis_texts, eval_data_root, results_dir, train_config
from mote_lib.machine import cpu_model_and_flags, instruction_set
from mote_lib.paths import PROJECT_ROOT
from mote_lib.profiles import get_profile

BASE = "base"  # the untrained base model, evaluated as EM (no training)
# Labels evaluated without training -> the variant they are evaluated as: the base model as EM, and
# the base model with IC's instructions (what the instructions alone do, before any training).
UNTRAINED = {BASE: "em", "base-ic": "ic"}

# The reference queue, in priority order: (profile, labels, seeds), worked through seed by seed
# within a group. Whatever is cut short by the machine budget, the earliest entries answer the
# primary question first.
REFERENCE_QUEUE = (
    ("reference", (BASE,), (None,)),
    ("reference", ("ic", "mote", "em"), (0,)),
    ("reference", ("ic", "mote"), (1,)),
    ("pilot", ("ic", "mote"), (0, 1)),  # the pilot's short arm (its long arm is the reference runs)
    ("reference", ("em",), (1,)),
    ("reference", ("ic", "mote", "em"), (2,)),
    # More seeds for the primary endpoint (MoTE vs IC), and disjoint IC halves for an A/A check.
    ("reference", ("ic", "mote"), (3, 4, 5)),
    ("reference", ("mote-tlr", "mote-no-tacl", "mote-eb"), (0, 1, 2)),
)
# Why do the fine-tuned models score below the untrained base (issue 16)? One factor at a time, IC
# seed 0 at the reference sizes, with the reference runs (ic-s0, em-s0) and the pilot's 60-step arm
# as the other points: the instructions without training, a 5x smaller learning rate, and training
# on the retrieval task alone (no label-based classification or clustering pairs). Diagnostic, not
# pre-registered: its entries live in their own folder and never enter the claims.
BASE_GAP_QUEUE = (("reference", ("base-ic", "ic-retrieval-only", "ic-lr1e-5"), (0,)),)
QUEUES = {"reference": REFERENCE_QUEUE, "base-gap": BASE_GAP_QUEUE}
# Queues whose entries are written beside the runs rather than among them (results/<profile>/<folder>/).
QUEUE_FOLDERS = {"base-gap": "base_gap"}

# Stated priors for the time estimate when no entry has finished yet (on any machine kind): the
# reference sizes (32 x 128 tokens per step) on the slower, 2-core AVX2 CPU kind.
PRIOR_SECONDS_PER_STEP = 25.0
PRIOR_SECONDS_PER_EVALUATION = 1500.0  # the whole offline suite, one model
PRIOR_ROUTE_ABLATION_EVALUATIONS = 1.0  # two passes over retrieval and reranking: about one suite
PRIOR = "prior: reference sizes on the 2-core AVX2 CPU; no finished entry yet"

RETRIEVAL_TYPES = ("Retrieval", "Reranking")
DONE = "done.json"


class UserError(ValueError):
    """A mistake on the command line (unknown profile, bad --only): one line, exit status 2."""


class WeightsChanged(RuntimeError):
    """Retrained weights differ from those the entry's existing results were computed with."""


# ----------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class Entry:
    """One run of the queue: a model label of a profile at a seed (an ``UNTRAINED`` label, ``seed=None``:
    the base model), written to ``results/<profile>/<group>/<name>/``."""

    profile: str
    label: str
    seed: int | None = None
    group: str = "runs"

    @property
    def name(self) -> str:
        """The entry's folder name: ``base``, ``base-ic`` or ``<label>-s<seed>``."""
        return self.label if not self.trained else f"{self.label}-s{self.seed}"

    @property
    def folder(self) -> Path:
        return results_dir(self.profile) / self.group / self.name

    @property
    def trained(self) -> bool:
        return self.label not in UNTRAINED

    @property
    def variant(self) -> str:
        return UNTRAINED.get(self.label) or self.config().variant

    def config(self):
        """The TrainConfig (of an untrained label: its variant's, whose ``model_config`` names the base model)."""
        return train_config(UNTRAINED.get(self.label, self.label), self.profile, self.seed or 0)

    def __str__(self) -> str:
        return f"{self.profile}/{self.name}" if self.group == "runs" else f"{self.profile}/{self.group}/{self.name}"


def queue(name: str) -> list[Entry]:
    """The entries of a queue (``QUEUES``) or of a profile's default queue, in the order they run
    (the error lists valid profiles, queues and labels)."""
    if name in QUEUES:
        groups = QUEUES[name]
    else:
        try:
            seeds = get_profile(name).seeds
        except ValueError as err:
            raise UserError(f"{err}; or a queue: {sorted(QUEUES)}") from None
        groups = ((name, (BASE,), (None,)), (name, MAIN_MODELS, seeds))
    folder = QUEUE_FOLDERS.get(name, "runs")
    entries = [Entry(p, label, seed if label not in UNTRAINED else None, folder)
               for p, labels, group_seeds in groups for seed in group_seeds for label in labels]
    for entry in entries:
        if entry.label not in UNTRAINED and entry.label not in MODELS:
            raise UserError(f"unknown model label {entry.label!r} in the queue; valid: {[*UNTRAINED, *sorted(MODELS)]}")
    return list(dict.fromkeys(entries))


def expected_files(entry: Entry) -> list[str]:
    """The files an entry's folder holds when it is complete (``done.json`` aside), in the order they are made."""
    variant = entry.variant
    files = ["run.json", "scores.csv", "per_query.csv"]
    if entry.trained:
        files += ["train_log.csv", "expert_movement.csv", "weight_sketch.npz"]
    if variant != "em":
        files.append("inter_task_cosines.csv")
    if variant == "mote":  # sequence-routed: a task picks the expert, so the query expert can be swapped
        files.append("route_ablation.csv")
    return files


def missing_files(entry: Entry) -> list[str]:
    return [name for name in [*expected_files(entry), DONE] if not (entry.folder / name).is_file()]


def is_finished(entry: Entry) -> bool:
    return not missing_files(entry)


# ----------------------------------------------------------------------------- the machine and the code


@lru_cache(maxsize=1)
def machine() -> dict:
    """CPU model, the instruction sets that set its speed, cores, and the GPU if one is used."""
    import torch

    cpu, flags = cpu_model_and_flags()
    info = {"cpu": cpu, "cores": os.cpu_count(), **{flag: flag in flags for flag in ("avx512f", "avx512_bf16", "avx2")}}
    info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def machine_kind(info: dict) -> str:
    """What the speed depends on: the GPU if there is one, else the CPU model and its instruction set
    (both kinds seen so far are called "AMD EPYC"; the AVX2-only one trains 3-5x slower)."""
    return info.get("gpu") or f"{info.get('cpu') or 'unknown'} ({instruction_set(info)})"


@lru_cache(maxsize=1)
def git_state() -> dict:
    """The commit of the code and whether tracked files differ from it (``None`` without git)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "--no-optional-locks", *args], cwd=PROJECT_ROOT, capture_output=True,
                                  text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def commit_label() -> str:
    state = git_state()
    if state["commit"] is None:
        return "unknown"
    return state["commit"][:12] + ("-dirty" if state["dirty"] else "")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- one entry's work


class EntryWork:
    """What an entry's steps share, each piece made on first use: the run, the model, its evaluation."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.config = entry.config()

    @cached_property
    def run_folder(self) -> Path | None:
        """The finished training run (trained or resumed now if needed); ``None`` for the base model."""
        from mote_lib.lab.runs import trained_model

        return trained_model(self.config, show_progress=False) if self.entry.trained else None

    @cached_property
    def summary(self) -> dict:
        return json.loads((self.run_folder / "summary.json").read_text()) if self.run_folder else {}

    @cached_property
    def model(self):
        from mote_lib.evaluate import weights_hash
        from mote_lib.model import MoTEModel

        if self.run_folder is None:
            model = MoTEModel.from_base(self.config.model_config()).eval()
        else:
            model = MoTEModel.from_pretrained(self.run_folder / "model")
        self._check_weights(weights_hash(model))
        return model

    def _check_weights(self, digest: str) -> None:
        # The weights may have been retrained after runs/ was lost (or the base package changed):
        # results of different weights must not sit in one entry's folder.
        recorded = self.entry.folder / "run.json"
        if recorded.is_file():
            expected = json.loads(recorded.read_text())["weights_hash"]
            if expected != digest:
                raise WeightsChanged(
                    f"{self.entry}: the weights now hash to {digest}, but the results in {self.entry.folder} were "
                    f"computed from {expected}; move that folder aside to redo the entry from these weights")

    @cached_property
    def initial(self):
        """The model training started from: the base model's MLPs and LayerNorms copied into every expert."""
        from mote_lib.model import MoTEModel

        return MoTEModel.from_base(self.config.model_config()).eval()

    @cached_property
    def evaluation(self):
        """The whole offline suite (stored results are reused), with the ``result_file`` column."""
        from mote_lib.evaluate import evaluate_models

        model = self.model  # loaded first: it checks the weights against run.json before anything is scored
        if self.run_folder is not None:
            model = self.run_folder  # the folder, so that the table gets the run's seed and profile
        return evaluate_models({self.label: model}, "offline", data_root=eval_data_root(self.entry.profile),
                               show_progress=False)

    @cached_property
    def changes(self) -> list[dict]:
        """Per layer and expert: the change of its weights from their initial values (float64)."""
        return weight_changes(self.model, self.initial)

    @property
    def label(self) -> str:
        return self.entry.label

    def tagged(self, table):
        """``table`` with the columns that say where it came from (``TAG_COLUMNS``), first."""
        import torch

        tags = {"model": self.label, "entry": self.entry.name, "seed": self.entry.seed, "profile": self.entry.profile,
                "commit": commit_label(), "cpu": machine()["cpu"], "threads": torch.get_num_threads()}
        table = table.drop(columns=[c for c in ("result_file", *tags) if c in table])
        for position, (column, value) in enumerate(tags.items()):
            table.insert(position, column, value)
        return table


TAG_COLUMNS = ("model", "entry", "seed", "profile", "commit", "cpu", "threads")


# ----------------------------------------------------------------------------- the post-processing steps


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

    lines = (work.run_folder / "train_log.jsonl").read_text().splitlines()
    rows = []
    for record in (json.loads(line) for line in lines if line.strip()):
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
    variants = {"none": query_expert_reset(work.model, work.initial),
                "wrong": queries_routed_to(work.model, "clustering")}
    frames = [scored.assign(routing="right")]
    for routing, model in variants.items():
        table = evaluate_models({f"{work.label}-{routing}": model}, "offline", tasks=tasks,
                                data_root=eval_data_root(work.entry.profile), show_progress=False)
        frames.append(table.assign(routing=routing))
    table = pd.concat(frames, ignore_index=True)
    write_csv(path, work.tagged(table[["routing", "task", "task_type", "split", "score", "error"]]))


def query_expert_reset(model, initial):
    """A copy of a sequence-routed model whose query expert holds the initial (shared) weights in every MoTE layer."""
    reset = copy.deepcopy(model)
    expert = reset.config.task_to_expert["search_query"]
    for bank, start in zip(reset.blocks, initial.blocks):
        if len(bank.experts) > 1:
            bank.experts[reset.expert_index[expert]].load_state_dict(start.experts[initial.expert_index[expert]].state_dict())
    return reset


def queries_routed_to(model, expert: str):
    """A copy of a sequence-routed model whose queries go to ``expert``; they keep the ``search_query: `` instruction."""
    rerouted = copy.deepcopy(model)
    # expert_index was fixed when the model was built, so the query task now reaches the other expert's weights.
    rerouted.config.task_to_expert["search_query"] = expert
    return rerouted


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


# ----------------------------------------------------------------------------- running the queue


def say(message: str) -> None:
    print(f"[runner] {message}", flush=True)


def run_entry(entry: Entry) -> dict[str, float]:
    """Train (or resume) one entry, write the files it lacks, then ``done.json``; seconds per step done."""
    import torch

    work, seconds = EntryWork(entry), {}
    missing = [name for name in expected_files(entry) if not (entry.folder / name).is_file()]
    if entry.trained and missing:
        started = time.perf_counter()
        work.run_folder  # noqa: B018  (trains, resumes, or finds the cached run)
        seconds["train"] = round(time.perf_counter() - started, 1)
        say(f"{entry} train: {seconds['train']} s")
    for name in missing:
        started = time.perf_counter()
        STEPS[name](work, entry.folder / name)
        seconds[name] = round(time.perf_counter() - started, 1)
        say(f"{entry} {name}: {seconds[name]} s")
    done_path = entry.folder / DONE
    previous = json.loads(done_path.read_text()).get("seconds", {}) if done_path.is_file() else {}
    done = {"entry": str(entry), "files": expected_files(entry), "seconds": {**previous, **seconds},
            "machine_kind": machine_kind(machine()), "threads": torch.get_num_threads(), "commit": commit_label(),
            # Above the core count at the end, other work shared the cores and the seconds above are inflated.
            "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
            "finished_utc": utc_now()}
    write_text_atomic(done_path, json.dumps(done, indent=1, sort_keys=True) + "\n")
    say(f"{entry} done: {round(sum(seconds.values()), 1)} s")
    return seconds


def run(profile: str, threads: int = 2, only: int | None = None) -> int:
    """Work through the queue's unfinished entries (at most ``only`` of them); the number run."""
    import torch

    if only is not None and only < 1:
        raise UserError(f"--only must be at least 1, got {only}")
    torch.set_num_threads(threads)
    entries = queue(profile)
    todo = [entry for entry in entries if not is_finished(entry)]
    if not todo:
        say(f"all {len(entries)} entries of the {profile} queue are done")
    for entry in todo[:only]:
        run_entry(entry)
    return len(todo[:only])


def plan(profile: str) -> list[str]:
    """One line per queue entry, in order: what is done, what is missing."""
    lines = []
    for number, entry in enumerate(queue(profile), 1):
        missing = missing_files(entry)
        if not missing:
            state = "done"
        elif len(missing) == len(expected_files(entry)) + 1:
            state = "to do" + (", weights cached" if entry.trained and weights_cached(entry) else "")
        else:
            state = "partial, missing " + ", ".join(missing)
        lines.append(f"{number:3d}  {str(entry):<28} {state}")
    return lines


def weights_cached(entry: Entry) -> bool:
    from mote_lib.lab.runs import run_dir

    return (run_dir(entry.config()) / "summary.json").is_file()


# ----------------------------------------------------------------------------- status and the estimate


@dataclass
class Rate:
    seconds: float  # the mean over the finished entries (or the prior)
    source: str
    fastest: float | None = None  # the fastest entry's: what idle cores give (sharing them only slows a run down)


def _rate(values: list[float], where: str, unit: str, prior: float, prior_source: str,
          weights: list[int] | None = None) -> Rate:
    """The weighted mean of ``values`` (one per entry; weights: how many ``unit`` each counts) and the fastest."""
    if not values:
        return Rate(prior, prior_source)
    weights = weights or [1] * len(values)
    mean = sum(v * w for v, w in zip(values, weights)) / sum(weights)
    return Rate(mean, f"{where}, {sum(weights)} {unit}", min(values))


def measured_rates(entries: list[Entry], kind: str, threads: int) -> dict[str, Rate]:
    """Seconds per training step, per whole-suite evaluation and per route ablation, from finished
    entries of this machine kind and thread count (the mean, and the fastest entry's); without any,
    from the other kinds' entries at this thread count (labelled so), else the stated priors."""
    records = []
    for entry in entries:
        if is_finished(entry):
            record, done = (json.loads((entry.folder / name).read_text()) for name in ("run.json", DONE))
            if record["threads"] == threads:
                records.append((machine_kind(record["machine"]), record, done))
    mine = [(record, done) for seen, record, done in records if seen == kind]
    if mine:
        where = f"measured on {kind}, {threads} threads"
    else:
        mine = [(record, done) for _, record, done in records]
        others = sorted({seen for seen, _, _ in records})
        where = f"measured on another machine kind ({', '.join(others)}), {threads} threads; none on {kind} yet"
    step_rates = [record["train_seconds"] / record["steps"] for record, _ in mine if record["steps"]]
    step_counts = [int(record["steps"]) for record, _ in mine if record["steps"]]
    evaluations = [done["seconds"]["scores.csv"] for _, done in mine if "scores.csv" in done["seconds"]]
    ablations = [done["seconds"]["route_ablation.csv"] for _, done in mine if "route_ablation.csv" in done["seconds"]]
    evaluation = _rate(evaluations, where, "evaluations", PRIOR_SECONDS_PER_EVALUATION, PRIOR)
    return {
        "step": _rate(step_rates, where, "steps", PRIOR_SECONDS_PER_STEP, PRIOR, weights=step_counts),
        "evaluation": evaluation,
        "route_ablation": _rate(ablations, where, "ablations", PRIOR_ROUTE_ABLATION_EVALUATIONS * evaluation.seconds,
                                f"{PRIOR}, about one suite evaluation"),
    }


def status(profile: str, threads: int = 2) -> list[str]:
    """Runs done and left, and the time left (from this machine kind's finished entries, else priors)."""
    entries = queue(profile)
    left = [entry for entry in entries if not is_finished(entry)]
    kind = machine_kind(machine())
    rates = measured_rates(entries, kind, threads)
    steps = sum(get_profile(e.profile).train.get("steps", 0) for e in left if e.trained)
    ablations = sum("route_ablation.csv" in expected_files(e) for e in left)
    counts = {"step": steps, "evaluation": len(left), "route_ablation": ablations}

    def total(pick) -> float:
        return sum(n * pick(rates[name]) for name, n in counts.items())

    mean, fastest = total(lambda r: r.seconds), total(lambda r: r.fastest if r.fastest is not None else r.seconds)
    lines = [f"{profile}: {len(entries) - len(left)} of {len(entries)} runs done, {len(left)} left"
             + (f" (next: {left[0]})" if left else "")]
    if fastest < mean:
        lines.append(f"time left: about {fastest / 3600:.1f}-{mean / 3600:.1f} h ({fastest:.0f}-{mean:.0f} s: at the fastest "
                     "finished entry's rates, as on idle cores, to the mean of all, some of which shared the cores; "
                     "partly trained runs counted in full)")
    else:
        lines.append(f"time left: about {mean / 3600:.1f} h ({mean:.0f} s; partly trained runs counted in full)")
    for name, what, unit, digits in (("step", "training steps", "s/step", 1), ("evaluation", "suite evaluations", "s", 0),
                                     ("route_ablation", "route ablations", "s", 0)):
        rate = rates[name]
        fast = f" (fastest {rate.fastest:.{digits}f})" if rate.fastest is not None and rate.fastest < rate.seconds else ""
        lines.append(f"  {counts[name]} {what} x {rate.seconds:.{digits}f} {unit}{fast} ({rate.source})")
    return lines


# ----------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mote_lib.lab.runner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("plan", "print the queue in order, with what is done"),
                            ("run", "train and post-process every unfinished entry, in order"),
                            ("status", "runs done and left, and an estimate of the time left")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--profile", default="reference", help="the profile whose default queue to use")
        command.add_argument("--queue", default=None, choices=sorted(QUEUES),
                             help="a named queue instead (base-gap: the diagnostic study of the base-model gap)")
        if name in ("run", "status"):
            command.add_argument("--threads", type=int, default=2, help="torch threads (and the machine kind's rates)")
        if name == "run":
            command.add_argument("--only", type=int, default=None, help="stop after N unfinished entries")
    args = parser.parse_args(argv)
    name = args.queue or args.profile
    try:
        if args.command == "plan":
            print("\n".join(plan(name)))
        elif args.command == "status":
            print("\n".join(status(name, args.threads)))
        else:
            run(name, args.threads, args.only)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
