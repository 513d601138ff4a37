"""Why do the fine-tuned models score below the untrained base? The base-gap study's report.

Every fine-tuned model of the reference runs averages below all-MiniLM-L6-v2 as it ships (issue 16
asks to say so and find out why). The runner's ``base-gap`` queue (``mote_lib.lab.runner``) changes
one factor at a time from IC seed 0 at the reference sizes; with the reference and pilot runs this
gives the arms below. This module tabulates them per task type and says, from the numbers, how
much of the gap each factor accounts for, measured against the seed-to-seed difference of two IC
runs (a change smaller than that is not distinguished from noise: one seed per arm).

    python -m mote_lib.lab.base_gap          # writes results/reference/base_gap.md

The study is diagnostic, added after the first results: it never enters the pre-registered claims.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pandas as pd

from mote_lib.atomic import write_text_atomic
from mote_lib.cli import report_command
from mote_lib.lab import records
from mote_lib.lab.experiments import results_dir
from mote_lib.lab.records import BASE_GAP, RUNS

PROFILE = "reference"
TASK_TYPES = ("Classification", "Clustering", "PairClassification", "Reranking", "Retrieval", "STS")


@dataclass(frozen=True)
class ArmSpec:
    """One arm: its name, what changed, and the runner entry that holds its scores (``results/<profile>/<group>/<entry>/``)."""

    name: str
    what: str
    profile: str
    group: str  # records.RUNS or records.BASE_GAP
    entry: str

    def scores(self) -> pd.DataFrame | None:
        """The arm's ``scores.csv`` (None until its entry has one)."""
        return records.read_entry_table(self.profile, self.entry, "scores.csv", self.group)


ARMS = (
    ArmSpec("base", "all-MiniLM-L6-v2 as shipped, no instruction", PROFILE, RUNS, "base"),
    ArmSpec("base + instructions", "the same weights, IC's instructions prepended (no training)", PROFILE, BASE_GAP, "base-ic"),
    ArmSpec("IC, 60 steps", "IC seed 0 at a third of the training (the pilot's short arm)", "pilot", RUNS, "ic-s0"),
    ArmSpec("IC, 180 steps", "IC seed 0: the reference run (lr 5e-5, all three training tasks)", PROFILE, RUNS, "ic-s0"),
    ArmSpec("IC seed 1", "IC seed 1: the same as above with another seed (the noise yardstick)", PROFILE, RUNS, "ic-s1"),
    ArmSpec("EM, 180 steps", "EM seed 0: the reference run without instructions", PROFILE, RUNS, "em-s0"),
    ArmSpec("IC, lr 1e-5", "IC seed 0 with a 5x smaller learning rate", PROFILE, BASE_GAP, "ic-lr1e-5-s0"),
    ArmSpec("IC, retrieval only", "IC seed 0 trained on the retrieval task alone (no label-based pairs)",
            PROFILE, BASE_GAP, "ic-retrieval-only-s0"),
)


def arm_scores() -> pd.DataFrame:
    """One row per arm that has scores: the mean per task type and over all datasets (each weighs the same)."""
    rows = []
    for spec in ARMS:
        scores = spec.scores()
        if scores is None:
            continue
        if "error" in scores:
            scores = scores[scores["error"].isna()]
        per_task = scores.groupby(["task_type", "task"])["score"].mean()
        row = {"arm": spec.name, "all": per_task.mean()}
        row.update(per_task.groupby("task_type").mean().reindex(list(TASK_TYPES)).to_dict())
        rows.append(row)
    return pd.DataFrame(rows, columns=["arm", "all", *TASK_TYPES])


def seed_noise() -> float | None:
    """The standard error of the difference of two single-seed arms' dataset averages, from IC seeds 0 and 1.

    Per dataset, d_i = IC s0 - IC s1; SE = sd(d_i) / sqrt(D). The average of the d_i alone is one
    draw of that difference (it can be near zero by luck); the spread over datasets says how large
    such a draw typically is.
    """
    detail = per_dataset(("IC, 180 steps", "IC seed 1"))
    if detail.shape[1] < 2:
        return None
    differences = (detail["IC, 180 steps"] - detail["IC seed 1"]).dropna()
    return float(differences.std(ddof=1) / len(differences) ** 0.5)


def findings(table: pd.DataFrame) -> list[str]:
    """Sentences computed from the table: each factor's effect on the dataset average, against the seed noise."""
    avg = table.set_index("arm")["all"]
    if "base" not in avg or "IC, 180 steps" not in avg:
        return ["Not yet measurable: needs the base model and IC seed 0 of the reference runs."]
    base, ic = avg["base"], avg["IC, 180 steps"]
    out = [f"IC seed 0 averages {ic:.2f}, {base - ic:.2f} points below the untrained base ({base:.2f})."]
    noise = seed_noise()
    if noise is not None:
        out.append(f"Noise: two IC seeds' dataset averages differ with a standard error of about {noise:.2f} points "
                   f"(from the spread of their per-dataset differences); with one seed per arm, a change smaller than "
                   f"{2 * noise:.2f} is not told apart from noise.")
    checks = (("base + instructions", "base", "the instructions alone, without training, move the average by"),
              ("EM, 180 steps", "base", "fine-tuning without instructions (EM, 180 steps) moves it by"),
              ("IC, 180 steps", "base + instructions", "fine-tuning with instructions (IC, 180 steps) moves it by"),
              ("IC, 60 steps", "base + instructions", "IC's first 60 steps move it by"),
              ("EM, 180 steps", "IC, 180 steps", "leaving the instructions out of training (EM minus IC) moves it by"),
              ("IC, lr 1e-5", "IC, 180 steps", "a 5x smaller learning rate moves it by"),
              ("IC, retrieval only", "IC, 180 steps", "training on retrieval alone moves it by"))
    for arm, against, words in checks:
        if arm not in avg or against not in avg:
            continue
        change = avg[arm] - avg[against]
        beyond = noise is not None and abs(change) >= 2 * noise
        size = "" if noise is None else (" (beyond noise)" if beyond else " (within noise)")
        recovered = ""
        if against == "IC, 180 steps" and base > ic and change > 0 and beyond:
            recovered = f"; that is {change / (base - ic):.0%} of the gap to the base"
        out.append(f"Against {against}: {words} {change:+.2f}{size}{recovered}.")
    factors = {arm: avg[arm] - ic for arm in ("IC, lr 1e-5", "IC, retrieval only", "EM, 180 steps") if arm in avg}
    if factors:
        best = max(factors, key=factors.get)
        gap = avg[best] - base
        if noise is not None and abs(gap) < 2 * noise:  # one seed per arm: say what it cannot show
            where = (f"{gap:+.2f} against the untrained base, within the noise band of one seed ({2 * noise:.2f}): "
                     "one seed cannot tell whether it lies above or below the base")
        else:
            where = f"{gap:+.2f} against the untrained base: {'above' if gap > 0 else 'still below'} it"
        out.append(f"Of the single changes to IC's training tried so far, '{best}' moves the average most "
                   f"({factors[best]:+.2f}, to {avg[best]:.2f}; {where}).")
    return out


def per_dataset(table_arms=("base", "IC, 180 steps", "EM, 180 steps", "IC, lr 1e-5", "IC, retrieval only")) -> pd.DataFrame:
    """Per dataset, the score of a few arms (the detail behind the averages)."""
    columns = {}
    for spec in ARMS:
        scores = spec.scores() if spec.name in table_arms else None
        if scores is not None:
            columns[spec.name] = scores.groupby(["task_type", "task"])["score"].mean()
    return pd.DataFrame(columns)


def _fmt(value) -> str:
    return "" if pd.isna(value) else f"{value:.2f}"


def report() -> str:
    table = arm_scores()
    lines = ["# Why the fine-tuned models score below the untrained base", "",
             "Generated by `python -m mote_lib.lab.base_gap` from `results/reference/runs/`, "
             "`results/reference/base_gap/` (the runner's `base-gap` queue) and `results/pilot/runs/`. A diagnostic "
             "study added after the first reference results (not pre-registered; one seed per arm). Scores: mteb main "
             "scores x100 on the offline suite, every record; mean over datasets, each weighing the same.", "",
             "| arm | what changed | all | " + " | ".join(TASK_TYPES) + " |",
             "|---|---|---:|" + "---:|" * len(TASK_TYPES)]
    what = {spec.name: spec.what for spec in ARMS}
    for row in table.itertuples(index=False):
        lines.append(f"| {row.arm} | {what[row.arm]} | {_fmt(row.all)} | " + " | ".join(_fmt(v) for v in row[2:]) + " |")
    missing = [spec.name for spec in ARMS if spec.name not in set(table["arm"])]
    if missing:
        lines += ["", f"Not run yet: {', '.join(missing)} (`python -m mote_lib.lab.runner run --queue base-gap`; the "
                  "pilot arm comes with `--profile reference`)."]
    lines += ["", "## What the numbers say", "", *[f"- {s}" for s in findings(table)], ""]
    detail = per_dataset()
    if not detail.empty:
        lines += ["## Per dataset", "", "| type | dataset | " + " | ".join(detail.columns) + " |",
                  "|---|---|" + "---:|" * len(detail.columns)]
        lines += [f"| {t} | {d} | " + " | ".join(_fmt(v) for v in row) + " |" for (t, d), row in detail.iterrows()]
        lines.append("")
    return "\n".join(lines)


def write_report():
    return write_text_atomic(results_dir(PROFILE) / "base_gap.md", report())


def main(argv: list[str] | None = None) -> int:
    return report_command("python -m mote_lib.lab.base_gap", __doc__, write_report, argv)


if __name__ == "__main__":
    sys.exit(main())
