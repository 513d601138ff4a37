"""The runner's time estimate: seconds per training step, suite evaluation and route ablation, measured
on finished entries of this machine kind (``mote_lib.machine.machine_kind``) and thread count, and
``status``: runs done and left, and the time left.

The rates come from each finished entry's ``run.json`` (its ``machine``, ``threads``, ``steps`` and
``train_seconds``) and ``done.json`` (the seconds of each step); without any, from the other kinds'
entries (labelled so), else the stated priors below.

Example:
    >>> from mote_lib.lab.runner.estimate import measured_rates
    >>> measured_rates([], "Test CPU (AVX2)", 2)["step"].seconds   # nothing finished: the prior
    25.0
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from mote_lib.lab.runner.entries import DONE, Entry, expected_files, is_finished, queue
from mote_lib.machine import machine, machine_kind
from mote_lib.profiles import get_profile

# Stated priors for the time estimate when no entry has finished yet (on any machine kind): the
# reference sizes (32 x 128 tokens per step) on the slower, 2-core AVX2 CPU kind.
PRIOR_SECONDS_PER_STEP = 25.0
PRIOR_SECONDS_PER_EVALUATION = 1500.0  # the whole offline suite, one model
PRIOR_ROUTE_ABLATION_EVALUATIONS = 1.0  # two passes over retrieval and reranking: about one suite
PRIOR = "prior: reference sizes on the 2-core AVX2 CPU; no finished entry yet"


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


# A queue whose own entries have not finished yet borrows another queue's measured rates (labelled so).
RATE_SOURCES = {"capacity": ("reference", "its 6-layer runs, an upper bound for 2 and 4 layers; the mpnet "
                                          "pair costs about 8x per step")}


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
    if profile in RATE_SOURCES and all(rate.source.startswith(PRIOR) for rate in rates.values()):
        source, why = RATE_SOURCES[profile]
        rates = {name: replace(rate, source=f"{rate.source}; from the {source} queue: {why}")
                 for name, rate in measured_rates(queue(source), kind, threads).items()}
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
