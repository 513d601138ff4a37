"""The pilot's sizing arithmetic: how many seeds the primary endpoint needs, and what they cost.

The pre-registration (``docs/preregistration.md``, "Sizes") sizes the reference experiment from a
pilot: IC and MoTE at two seeds and two training lengths (60 steps: the ``pilot`` profile; 180
steps: the first reference runs). From the runner's results this module computes, per arm:

* the primary endpoint (MoTE - IC, retrieval nDCG@10 per query) per seed pair and overall, with
  its seed-level and query-level standard errors (``mote_lib.verdicts.estimate``);
* the projected minimum detectable effect for S seed pairs (``verdicts.projected_mde``: the
  per-seed variance and the query-level SE kept, the degrees of freedom recomputed);
* the compute S seeds of EM, IC and MoTE take at the measured cost per run (training seconds per
  step, whole-suite evaluation and the analyses, from ``run.json``/``done.json``, on this machine
  kind at 2 threads);

then the decision rule: the smallest S whose MDE is at most 1.0 point, if it fits in the budget
(8 hours at 2 threads on the slower machine kind), else the floor (3 seeds) with the MDE it
reaches and the seeds 1.0 would need.

    python -m mote_lib.lab.sizing            # writes results/reference/sizing.{md,csv}, figures/reference/pilot_sizing.*

With two seed pairs the seed variance rests on one degree of freedom: the projection is a rough
guide, and is recomputed as seeds land (the report says on how many it rests).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mote_lib import verdicts
from mote_lib.atomic import write_text_atomic
from mote_lib.cli import report_command
from mote_lib.lab import claims, records
from mote_lib.lab.experiments import results_dir
from mote_lib.profiles import get_profile

ARMS = ("pilot", "reference")  # the pilot's short arm (60 steps) and long arm (the reference runs, 180)
TARGET_MDE = 1.0  # points of nDCG@10: the pre-registered target for the primary endpoint
BUDGET_HOURS = 8.0  # at 2 threads on the slower (AVX2) machine kind
FLOOR_SEEDS = 3
SEED_RANGE = range(2, 13)
THREADS = 2
PRIMARY = claims.ENDPOINTS[0]
# The decision was taken when the pilot's short arm completed (commit eeef2d2, 2026-12-03), on the reference arm's
# first two seed pairs; later seeds (3-5, for the A/A check and power) must not rewrite it (issue 26).
DECISION_SEEDS = (0, 1)
VARIANCE = "registered"  # the sizing rule is the pre-registered one (docs/preregistration.md, "Sizes")


@dataclass(frozen=True)
class Arm:
    """One training length's primary endpoint: the estimate and each seed pair's endpoint."""

    profile: str
    steps: int
    estimate: verdicts.Estimate | None
    per_seed: pd.Series  # seed -> MoTE - IC, the mean over retrieval datasets
    note: str


def arm(profile: str, seeds: tuple[int, ...] | None = None) -> Arm:
    """The primary endpoint of ``profile``'s runs (``estimate`` None until IC and MoTE share a seed); with
    ``seeds``, of those seed pairs only. The interval is the registered one (``VARIANCE``)."""
    steps = get_profile(profile).train["steps"]
    inputs = claims.collect(profile)
    paired, note = claims.paired_for(PRIMARY, inputs, profile)
    if paired is not None and seeds is not None:
        paired = paired[paired["seed"].isin(seeds)]
    if paired is None or paired.empty:
        return Arm(profile, steps, None, pd.Series(dtype=float), note)
    x = paired.assign(x=paired["a"] - paired["b"])
    per_seed = x.groupby(["seed", "dataset"])["x"].mean().groupby("seed").mean()
    return Arm(profile, steps, verdicts.estimate(paired, variance=VARIANCE), per_seed, note)


def run_costs(profile: str = "reference", threads: int = THREADS) -> pd.DataFrame:
    """Seconds of each finished trained entry at ``threads`` threads: training per step, evaluation, the rest.

    Columns: entry, label, machine, threads, steps, seconds_per_step, evaluation_seconds, other_seconds.
    """
    rows = []
    for record, done in records.finished_records(profile):
        if not record.get("steps") or record["threads"] != threads or done["threads"] != threads:
            continue  # the base model (no training), or a run whose threads differ from the estimate's
        seconds = done["seconds"]
        rows.append({"entry": record["entry"]["name"], "label": record["entry"]["label"],
                     "machine": _machine_text(record["machine"]), "threads": threads, "steps": record["steps"],
                     "seconds_per_step": record["train_seconds"] / record["steps"],
                     "evaluation_seconds": seconds.get("scores.csv", math.nan),
                     "other_seconds": sum(v for k, v in seconds.items() if k not in ("train", "scores.csv"))})
    return pd.DataFrame(rows, columns=["entry", "label", "machine", "threads", "steps", "seconds_per_step",
                                       "evaluation_seconds", "other_seconds"])


def _machine_text(machine: dict) -> str:
    flags = [flag for flag in ("avx512f", "avx512_bf16", "avx2") if machine.get(flag)]
    return f"{machine['cpu']}, {machine['cores']} cores ({', '.join(flags) or 'no avx2'})"


def seed_cost_hours(costs: pd.DataFrame, steps: int, labels=("em", "ic", "mote")) -> float:
    """Hours one seed of ``labels`` takes: each label's fastest measured run (a label not yet measured: the fastest of any)."""
    if costs.empty:
        return math.nan
    per_run = costs.assign(seconds=costs["seconds_per_step"] * steps + costs["evaluation_seconds"] + costs["other_seconds"])
    # The fastest run of each label: another job sharing the cores only ever slows a run down, so
    # the minimum is the closest reading of the idle machine's cost.
    overall = per_run["seconds"].min()
    by_label = per_run.groupby("label")["seconds"].min()
    return sum(float(by_label.get(label, overall)) for label in labels) / 3600


def projection(est: verdicts.Estimate | None, hours_per_seed: float, seeds=SEED_RANGE) -> pd.DataFrame:
    """Per number of seed pairs S: the projected MDE of the primary endpoint and the compute hours."""
    s = np.array(list(seeds))
    mde = verdicts.projected_mde(est, s) if est is not None and est.seed_variance_estimated else np.full(len(s), np.nan)
    return pd.DataFrame({"seeds": s, "mde": mde, "hours": s * hours_per_seed})


def decision(table: pd.DataFrame, target: float = TARGET_MDE, budget: float = BUDGET_HOURS) -> str:
    """The pre-registered rule applied to a projection (one sentence)."""
    if table["mde"].isna().all():
        return "not yet decidable: the seed variance needs at least two seed pairs of IC and MoTE"
    reaching = table[table["mde"] <= target]
    floor = table[table["seeds"] == FLOOR_SEEDS].iloc[0]
    if not reaching.empty and reaching.iloc[0]["hours"] <= budget:
        row = reaching.iloc[0]
        if row["seeds"] < FLOOR_SEEDS:  # the pre-registered floor stands whatever the projection says
            row = floor
        return (f"{int(row['seeds'])} seed pairs (the smallest number that reaches the target, and at least the "
                f"floor of {FLOOR_SEEDS}) give a projected MDE of {row['mde']:.2f} <= {target} in about "
                f"{row['hours']:.1f} h of compute (budget {budget:g} h): run {int(row['seeds'])} seeds")
    needed = (f"{int(reaching.iloc[0]['seeds'])} seed pairs would reach {target} ({reaching.iloc[0]['hours']:.1f} h)"
              if not reaching.empty else f"no number of seeds up to {int(table['seeds'].max())} reaches {target}")
    return (f"an MDE of {target} does not fit the {budget:g} h budget: {needed}; run the floor "
            f"({FLOOR_SEEDS} seeds, MDE {floor['mde']:.2f}, about {floor['hours']:.1f} h) and more seeds as time allows")


# ----------------------------------------------------------------------------- the report


def report(arms: list[Arm], costs: pd.DataFrame, long_arm: Arm) -> tuple[str, pd.DataFrame]:
    """The markdown report and the projection table of the long arm (the reference sizes)."""
    hours = seed_cost_hours(costs, long_arm.steps)
    table = projection(long_arm.estimate, hours)
    lines = ["# Pilot and sizing of the reference experiment", "",
             "Generated by `python -m mote_lib.lab.sizing` from `results/pilot/runs/` and `results/reference/runs/`; "
             "the rule is pre-registered in `docs/preregistration.md` (\"Sizes\"). Primary endpoint: MoTE - IC, "
             "nDCG@10 x100 per query on the retrieval datasets, each dataset weighing the same.", "",
             "## The primary endpoint at two training lengths", "",
             "| arm | steps | seed pairs | per seed pair | effect | SE seed | SE query | MDE now |",
             "|---|---:|---:|---|---:|---:|---:|---:|"]
    for a in arms:
        if a.estimate is None:
            lines.append(f"| {a.profile} | {a.steps} | 0 | - | - | - | - | - |")
            continue
        e = a.estimate
        seeds = ", ".join(f"s{int(s)}: {v:+.2f}" for s, v in a.per_seed.items())
        se_seed = f"{e.se_seed:.2f}" if e.seed_variance_estimated else "n/a (1 pair)"
        mde = f"{e.mde:.2f}" if e.seed_variance_estimated else "n/a"
        lines.append(f"| {a.profile} | {a.steps} | {e.n_seeds} | {seeds} | {e.effect:+.2f} | {se_seed} | "
                     f"{e.se_query:.2f} | {mde} |")
    lines += ["", "## Cost per run (measured)", ""]
    if costs.empty:
        lines.append(f"No finished reference run at {THREADS} threads yet.")
    else:
        lines += ["| entry | machine | threads | s/step | evaluation s | other s |", "|---|---|---:|---:|---:|---:|"]
        lines += [f"| {r.entry} | {r.machine} | {r.threads} | {r.seconds_per_step:.2f} | {r.evaluation_seconds:.0f} | "
                  f"{r.other_seconds:.0f} |" for r in costs.itertuples()]
        lines += ["", f"One seed of EM, IC and MoTE at {long_arm.steps} steps: about {hours:.2f} h at {THREADS} threads "
                  "(each label's fastest run: runs at another thread count are left out, and a run that shared the "
                  "cores with another job is slower, so the estimate errs long)."]
    lines += ["", f"## Projection at the reference sizes ({long_arm.steps} steps)", "",
              "| seed pairs | projected MDE | hours (EM + IC + MoTE) |", "|---:|---:|---:|"]
    lines += [f"| {int(r.seeds)} | {r.mde:.2f} | {r.hours:.1f} |" for r in table.itertuples()]
    rests = long_arm.estimate.n_seeds if long_arm.estimate is not None else 0
    taken = arm(long_arm.profile, DECISION_SEEDS)
    if rests > len(DECISION_SEEDS) and taken.estimate is not None:
        lines += ["", f"**Decision, as taken** (on seed pairs {', '.join(map(str, DECISION_SEEDS))} of the reference arm, "
                  "when the pilot completed: commit eeef2d2, 2026-12-03; projected here with today's measured costs): "
                  f"{decision(projection(taken.estimate, hours))}.", "",
                  f"Recomputed with all {rests} seed pairs, for information only (not the decision; seeds 3-5 were "
                  f"added for the A/A check and power): {decision(table)}."]
    else:
        lines += ["", f"**Decision** (rests on {rests} seed pair(s) of the reference arm): {decision(table)}."]
    lines += ["",
              "With few seed pairs the seed variance is itself uncertain (two pairs: one degree of freedom), so "
              "the projection moves as seeds land; the claims table always uses the seeds actually run. "
              "Where the MDE stops falling with more seeds, the query-level error (the number of queries "
              "in the suite) is what limits it, and only more queries would lower it.", ""]
    return "\n".join(lines), table


def figure(arms: list[Arm], table: pd.DataFrame):
    """Left: the endpoint per seed pair at each training length; right: the projected MDE and hours against seeds."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 5), constrained_layout=True)
    for position, a in enumerate(arms):
        if a.estimate is None:
            continue
        left.scatter([a.steps] * len(a.per_seed), a.per_seed.to_numpy(), color=f"C{position}", label=f"{a.profile} seed pairs")
        left.errorbar([a.steps + 4], [a.estimate.effect], yerr=[[a.estimate.effect - a.estimate.ci_low],
                      [a.estimate.ci_high - a.estimate.effect]] if a.estimate.seed_variance_estimated else None,
                      fmt="D", color=f"C{position}", capsize=4, label=f"{a.profile} mean (95% CI)")
    left.axhline(0, color="grey", lw=0.8)
    left.axhline(1.94, color="black", ls=":", lw=1, label="paper: +1.94")
    left.set(xlabel="training steps", ylabel="MoTE - IC, retrieval nDCG@10", title="primary endpoint by training length")
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)  # below: never over the data
    right.plot(table["seeds"], table["mde"], marker="o", label="projected MDE")
    right.axhline(TARGET_MDE, color="C3", ls="--", lw=1, label=f"target MDE {TARGET_MDE}")
    right.set(xlabel="seed pairs", ylabel="MDE (points)", title="sizing at the reference length")
    hours = right.twinx()
    # Hours read against the right-hand axis, drawn and labelled in grey to tell them from the MDE.
    hours.plot(table["seeds"], table["hours"], color="grey", ls=":", marker=".", label="hours (EM + IC + MoTE), right axis")
    hours.axhline(BUDGET_HOURS, color="grey", ls="-.", lw=1, label=f"budget {BUDGET_HOURS:g} h, right axis")
    hours.set_ylabel("compute hours, 2 threads", color="grey")
    hours.tick_params(axis="y", colors="grey")
    handles = right.get_legend_handles_labels()[0] + hours.get_legend_handles_labels()[0]
    right.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    return fig


def write_sizing(profile: str = "reference") -> list:
    """Write ``results/<profile>/sizing.md`` and ``sizing.csv`` and the figure; the paths written."""
    from mote_lib.lab.figures import savefig

    arms = [arm(p) for p in ARMS]
    long_arm = next(a for a in arms if a.profile == profile)
    text, table = report(arms, run_costs(profile), long_arm)
    folder = results_dir(profile)
    paths = [write_text_atomic(folder / "sizing.md", text), write_text_atomic(folder / "sizing.csv", table.to_csv(index=False))]
    fig = figure(arms, table)
    paths += savefig(fig, "pilot_sizing", profile=profile)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def main(argv: list[str] | None = None) -> int:
    return report_command("python -m mote_lib.lab.sizing", __doc__, write_sizing, argv)


if __name__ == "__main__":
    sys.exit(main())
