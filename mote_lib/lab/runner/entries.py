"""The runner's entries: the queues (profile, model label, seed) in priority order, and the files each entry must hold.

Example:
    >>> from mote_lib.lab.runner.entries import queue
    >>> [str(entry) for entry in queue("reference")[:4]]
    ['reference/base', 'reference/ic-s0', 'reference/mote-s0', 'reference/em-s0']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mote_lib.cli import CommandLineError
from mote_lib.lab.experiments import MAIN_MODELS, MODELS, known_label, results_dir, train_config
from mote_lib.profiles import get_profile

BASE = "base"  # the untrained base model, evaluated as EM (no training)
# Labels evaluated without training -> the variant they are evaluated as: the base model as EM, and
# the base model with IC's instructions (what the instructions alone do, before any training).
UNTRAINED = {BASE: "em", "base-ic": "ic", "base-2l": "em-2l", "base-4l": "em-4l", "base-mpnet": "em-mpnet"}

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
# Why does MoTE win (issue 26; docs/preregistration.md, amendment 1)? The mechanism analyses of the
# reference runs already scored, from their (cached or rebuilt) weights, written beside their files.
MECHANISM_QUEUE = (("reference", ("mote", "ic"), (0, 1, 2, 3, 4, 5)),)
# Does MoTE's edge grow as capacity shrinks (issue 27; docs/preregistration-capacity.md)? MiniLM cut to 2 and 4
# layers, each arm's untrained base first, 6 seed pairs per arm worked through seed by seed (both arms advance
# together); the 6-layer arm is the reference runs. The mpnet pilot's pair last (descriptive; needs
# `make setup SETUP_ARGS=--with-mpnet`).
CAPACITY_QUEUE = (
    ("reference", ("base-2l", "base-4l"), (None,)),
    ("reference", ("ic-2l", "mote-2l", "ic-4l", "mote-4l"), (0, 1, 2, 3, 4, 5)),
    ("reference", ("base-mpnet",), (None,)),
    ("reference", ("ic-mpnet", "mote-mpnet"), (0,)),
)
QUEUES = {"reference": REFERENCE_QUEUE, "base-gap": BASE_GAP_QUEUE, "mechanism": MECHANISM_QUEUE,
          "capacity": CAPACITY_QUEUE}
# Queues whose entries add a stage of files to entries that exist: the stage's name (Entry.stage).
QUEUE_STAGES = {"mechanism": "mechanism"}
# Queues whose entries are written beside the runs rather than among them (results/<profile>/<folder>/).
QUEUE_FOLDERS = {"base-gap": "base_gap", "capacity": "capacity"}

DONE = "done.json"


@dataclass(frozen=True)
class Entry:
    """One run of the queue: a model label of a profile at a seed (an ``UNTRAINED`` label, ``seed=None``:
    the base model), written to ``results/<profile>/<group>/<name>/``."""

    profile: str
    label: str
    seed: int | None = None
    group: str = "runs"
    stage: str = "record"  # "record": the registered files; "mechanism": amendment 1's (runner.mechanism)

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
        if self.label in UNTRAINED:  # the variant it is evaluated as: base-2l -> em-2l -> em (no profile needed)
            return UNTRAINED[self.label].split("-", 1)[0]
        return self.config().variant

    def config(self):
        """The TrainConfig (of an untrained label: its variant's, whose ``model_config`` names the base model)."""
        return train_config(UNTRAINED.get(self.label, self.label), self.profile, self.seed or 0)

    def __str__(self) -> str:
        where = f"{self.profile}/{self.name}" if self.group == "runs" else f"{self.profile}/{self.group}/{self.name}"
        return where if self.stage == "record" else f"{where} ({self.stage})"


def queue(name: str) -> list[Entry]:
    """The entries of a queue (``QUEUES``) or of a profile's default queue, in the order they run
    (the error lists valid profiles, queues and labels)."""
    if name in QUEUES:
        groups = QUEUES[name]
    else:
        try:
            seeds = get_profile(name).seeds
        except ValueError as err:
            raise CommandLineError(f"{err}; or a queue: {sorted(QUEUES)}") from None
        groups = ((name, (BASE,), (None,)), (name, MAIN_MODELS, seeds))
    folder, stage = QUEUE_FOLDERS.get(name, "runs"), QUEUE_STAGES.get(name, "record")
    entries = [Entry(p, label, seed if label not in UNTRAINED else None, folder, stage)
               for p, labels, group_seeds in groups for seed in group_seeds for label in labels]
    for entry in entries:
        if entry.label not in UNTRAINED and not known_label(entry.label):
            raise CommandLineError(f"unknown model label {entry.label!r} in the queue; valid: {[*UNTRAINED, *sorted(MODELS)]}")
    return list(dict.fromkeys(entries))


def expected_files(entry: Entry) -> list[str]:
    """The files an entry's folder holds when it is complete (``done.json`` aside), in the order they are made.

        >>> expected_files(Entry("reference", "base"))
        ['run.json', 'scores.csv', 'per_query.csv']
    """
    variant = entry.variant
    if entry.stage == "mechanism":
        from mote_lib.lab.runner.mechanism import mechanism_files

        return mechanism_files(variant)
    files = ["run.json", "scores.csv", "per_query.csv"]
    if entry.trained:
        files += ["train_log.csv", "expert_movement.csv", "weight_sketch.npz"]
    if variant != "em":
        files.append("inter_task_cosines.csv")
    if variant == "mote":  # sequence-routed: a task picks the expert, so the query expert can be swapped
        files.append("route_ablation.csv")
    return files


def missing_files(entry: Entry) -> list[str]:
    return [name for name in [*expected_files(entry), done_file(entry)] if not (entry.folder / name).is_file()]


def done_file(entry: Entry) -> str:
    """The file written last, when every file of the entry's stage is there: ``done.json``, ``mechanism_done.json``."""
    return DONE if entry.stage == "record" else f"{entry.stage}_done.json"


def is_finished(entry: Entry) -> bool:
    return not missing_files(entry)


def weights_cached(entry: Entry) -> bool:
    from mote_lib.lab.runs import run_dir

    return (run_dir(entry.config()) / "summary.json").is_file()


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
