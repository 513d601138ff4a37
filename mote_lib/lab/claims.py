"""The claims table: each claim of the MoTE paper (``../shared/PAPER_NOTES.md``), its number, ours, and a verdict.

Every "ours" value is read from the tables the notebooks stored in ``results/<profile>/``; the
paper's numbers are the constants below, quoted from the paper notes. A claim's verdict is
``reproduced``, ``not reproduced`` or ``not measured`` (its table is missing), decided by the
criterion printed beside it, the same for every profile.

Example:
    >>> from mote_lib.lab.claims import claims_table
    >>> table = claims_table("cpu")                         # doctest: +SKIP
    >>> list(table.columns)                                 # doctest: +SKIP
    ['claim', 'paper', 'ours', 'criterion', 'verdict', 'source']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mote_lib.atomic import write_text_atomic
from mote_lib.lab import experiments
from mote_lib.profiles import get_profile

REPRODUCED, NOT_REPRODUCED, NOT_MEASURED = "reproduced", "not reproduced", "not measured"


@dataclass(frozen=True)
class Claim:
    claim: str
    paper: str
    criterion: str
    tables: tuple[str, ...]
    measure: Callable[..., tuple[str, bool]]  # the tables -> (ours, as text; whether it holds)


def _gain(summary: pd.DataFrame, model: str, column: str) -> float:
    rows = summary[(summary.model == f"gain {model}") & (summary.task_type == column)]
    return float(rows["score"].iloc[0])


def _ratio(column: str):
    def measure(summary):
        mote, ic = _gain(summary, "mote", column), _gain(summary, "ic", column)
        ratio = mote / ic if ic != 0 else float("nan")
        return f"{mote:+.2f} / {ic:+.2f} = {ratio:.2f}", mote > ic > 0
    return measure


def _significance(significance):
    row = significance[(significance.a == "mote") & (significance.b == "ic") & (significance.test == "wilcoxon")].iloc[0]
    return f"Wilcoxon over {int(row.n)} datasets: p = {row.p_value:.3g} (mean diff {row.mean_diff:+.2f})", row.p_value < 0.05


def _ablation(name: str, holds: Callable[[float], bool]):
    def measure(differences):
        row = differences[differences.ablation == name].iloc[0]
        average = float(row["average (all datasets)"])
        return (f"{average:+.2f} average ({row['types where a > b']} types ahead; Wilcoxon p = "
                f"{row['wilcoxon p (datasets)']:.3g})"), holds(average)
    return measure


def _clustering(summary):
    gain = _gain(summary, "mote", "Clustering")
    return f"{gain:+.2f}", abs(gain) <= 1.0


def _reranking(summary):
    mote, ic = _gain(summary, "mote", "Reranking"), _gain(summary, "ic", "Reranking")
    return f"MoTE {mote:+.2f} vs IC {ic:+.2f} over EM", mote < ic


def _similarity(similarity):
    pairs = similarity[similarity.task_a < similarity.task_b].groupby("model")["cosine"].mean()
    return f"mean inter-task cosine MoTE {pairs['mote']:.4f} vs IC {pairs['ic']:.4f}", pairs["mote"] < pairs["ic"]


def _active_parameters(runs):
    active = runs.drop_duplicates("model").set_index("model")["active_parameters"]
    main = active[list(experiments.MAIN_MODELS)]
    return f"EM {main['em']:,} / IC {main['ic']:,} / MoTE {main['mote']:,}", main.nunique() == 1


def _inference_time(timing):
    relative = timing.set_index("model")["seconds"]
    ratio = relative["mote"] / relative["ic"]
    return f"MoTE / IC embedding time = {ratio:.3f}", ratio <= 1.10


CLAIMS = [
    Claim("Retrieval: MoTE's gain over EM / IC's gain", "5.21 / 3.27 = 1.59", "both gains > 0 and MoTE's larger",
          ("summary",), _ratio("Retrieval")),
    Claim("All datasets: MoTE's gain over EM / IC's gain", "2.60 / 1.81 = 1.43", "both gains > 0 and MoTE's larger",
          ("summary",), _ratio("average (all datasets)")),
    Claim("MoTE beats IC significantly", "p < 0.05", "Wilcoxon signed-rank over datasets, p < 0.05",
          ("significance",), _significance),
    Claim("Sequence-level routing beats token-level (SLR > TLR)", "every type; Retrieval +2.35, STS +1.59",
          "dataset average of mote - mote-tlr > 0", ("ablation_differences",),
          _ablation("routing: SLR - TLR", lambda d: d > 0)),
    Claim("TA-CL helps", "+0.41 average", "dataset average of mote - mote-no-tacl > 0", ("ablation_differences",),
          _ablation("training: TA-CL - no TA-CL", lambda d: d > 0)),
    Claim("Experts in every block at least as good as every other (EB >= EOB)", "EB marginally better",
          "dataset average of mote-eb - mote >= 0", ("ablation_differences",),
          _ablation("placement: EB - EOB", lambda d: d >= 0)),
    Claim("Clustering stays near EM", "-0.06", "|MoTE's clustering gain over EM| <= 1 point", ("summary",), _clustering),
    Claim("Re-ranking: MoTE below IC (distribution shift)", "MoTE < IC on re-ranking", "MoTE's reranking gain < IC's",
          ("summary",), _reranking),
    Claim("Lower inter-task similarity under MoTE", "MoTE < IC", "mean cosine over the six task pairs, MoTE < IC",
          ("inter_task_similarity",), _similarity),
    Claim("No extra active parameters", "equal to the dense model", "EM, IC and MoTE active parameters equal",
          ("training_runs",), _active_parameters),
    Claim("No extra inference time", "equal to the dense model", "MoTE / IC embedding time <= 1.10 (same texts, side by side)",
          ("inference_time",), _inference_time),
]


def claims_table(profile: str) -> pd.DataFrame:
    """One row per claim: ``claim, paper, ours, criterion, verdict, source`` (the results tables read)."""
    rows = []
    for claim in CLAIMS:
        missing = [name for name in claim.tables if not (experiments.results_dir(profile) / f"{name}.csv").is_file()]
        if missing:  # reported in the table, never hidden
            ours = "; ".join(f"missing: {name}.csv (run {experiments.RESULT_PRODUCERS[name]})" for name in missing)
            verdict = NOT_MEASURED
        else:
            tables = [experiments.read_result(name, profile) for name in claim.tables]
            ours, holds = claim.measure(*tables)
            verdict = REPRODUCED if holds else NOT_REPRODUCED
        rows.append({"claim": claim.claim, "paper": claim.paper, "ours": ours, "criterion": claim.criterion,
                     "verdict": verdict, "source": ", ".join(f"{t}.csv" for t in claim.tables)})
    return pd.DataFrame(rows)


def _evaluation_scope(plan) -> str:
    return "every record" if plan.eval_sample is None else f"{plan.eval_sample} records per task"


def _training_scope(profile: str) -> str:
    config = experiments.train_config("mote", profile)
    return f"{config.steps} steps of {config.batch_size} pairs, at most {config.max_seq_length} tokens"


def write_claims(profile: str, table: pd.DataFrame | None = None) -> Path:
    """Write ``results/<profile>/claims.md`` (atomically) from ``claims_table``; return its path."""
    table = claims_table(profile) if table is None else table
    plan = get_profile(profile)
    header = [f"# Claims of the MoTE paper, checked with the `{profile}` profile", "",
              f"Generated by `mote_lib.lab.claims.write_claims` (notebook 09 calls it) from `results/{profile}/` (seeds {list(plan.seeds)}, "
              f"offline suite, {_evaluation_scope(plan)}; training: {_training_scope(profile)}). Verdicts follow the "
              "criterion column; the paper's numbers are from `../shared/PAPER_NOTES.md`.", "",
              f"{(table.verdict == REPRODUCED).sum()} of {len(table)} claims reproduced, "
              f"{(table.verdict == NOT_MEASURED).sum()} not measured.", ""]
    columns = ["claim", "paper", "ours", "criterion", "verdict"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]).replace("|", "/") for c in columns) + " |" for _, row in table.iterrows()]
    return write_text_atomic(experiments.results_dir(profile) / "claims.md", "\n".join(header + lines) + "\n")
