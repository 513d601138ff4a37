"""Working through the queue: one entry's shared work (``EntryWork``), one entry (``run_entry``), the queue (``run``).

Each entry is trained (or its training resumed, or its cached weights reused:
``mote_lib.lab.runs.trained_model``), then every file it lacks is computed and written atomically
(``mote_lib.lab.runner.outputs``), then ``done.json`` last, with the seconds each step took.

Example:
    >>> from mote_lib.lab.runner.entries import Entry
    >>> from mote_lib.lab.runner.work import EntryWork
    >>> EntryWork(Entry("reference", "ic", 0)).label
    'ic'
"""

from __future__ import annotations

import json
import os
import time
from functools import cached_property
from pathlib import Path

from mote_lib.atomic import write_text_atomic
from mote_lib.cli import CommandLineError
from mote_lib.lab.experiments import eval_data_root
from mote_lib.lab.runner import mechanism
from mote_lib.lab.runner.entries import Entry, done_file, expected_files, is_finished, queue
from mote_lib.lab.runner.outputs import STEPS, utc_now, weight_changes
from mote_lib.machine import commit_label, machine, machine_kind


class WeightsChanged(RuntimeError):
    """Retrained weights differ from those the entry's existing results were computed with."""


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
        # results of different weights must not sit in one entry's folder. The mechanism stage checks
        # rebuilt weights against the committed sketches instead (amendment 1, A6: weights_check.json).
        recorded = self.entry.folder / "run.json"
        if recorded.is_file() and self.entry.stage == "record":
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
    def swaps(self):
        """The swap matrix's scores (``mechanism.swap_scores``)."""
        return mechanism.swap_scores(self)

    @cached_property
    def merges(self):
        """The whole suite routed, averaged (WAVE) and with two merges (``mechanism.merge_scores``)."""
        return mechanism.merge_scores(self)

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
        if self.entry.stage != "record":  # the registered files keep their columns; new stages name the kind too
            tags["machine_kind"] = machine_kind(machine())
        table = table.drop(columns=[c for c in ("result_file", *tags) if c in table])
        for position, (column, value) in enumerate(tags.items()):
            table.insert(position, column, value)
        return table


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
        (STEPS | mechanism.STEPS)[name](work, entry.folder / name)
        seconds[name] = round(time.perf_counter() - started, 1)
        say(f"{entry} {name}: {seconds[name]} s")
    done_path = entry.folder / done_file(entry)
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
    """Work through the queue's unfinished entries (at most ``only`` of them); the number run.

    The arguments are checked (``CommandLineError``) before torch is imported.
    """
    if only is not None and only < 1:
        raise CommandLineError(f"--only must be at least 1, got {only}")
    if threads < 1:
        raise CommandLineError(f"--threads must be at least 1, got {threads}")
    entries = queue(profile)
    import torch

    torch.set_num_threads(threads)
    todo = [entry for entry in entries if not is_finished(entry)]
    if not todo:
        say(f"all {len(entries)} entries of the {profile} queue are done")
    for entry in todo[:only]:
        run_entry(entry)
    return len(todo[:only])
