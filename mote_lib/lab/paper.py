"""The MoTE paper's reported numbers that the claims table (``mote_lib.lab.claims``) checks, with their sources.

The paper: Romero, Ding, Barrett, Dinu, Karypis, "Beyond instruction-conditioning, MoTE: Mixture of
Task Experts for Multi-task Embedding Models", arXiv 2506.17781, ACL Findings 2025. Its full text
could not be read in this project; every number here is as summarised in the project's paper notes
(the abstract, and a structured summary of the paper that names some sections). A source names a
section or table only where those notes do; nothing here is read from a table we have not seen.

All effects are on the scale of the scores in this project (mteb main scores x100, "points") and
are differences ``a - b`` of the comparison they belong to. A number with ``value`` None is a claim
of direction only (``direction`` +1 or -1): the notes give no magnitude, so no "smaller than
reported" verdict can be drawn from it. ``direction`` 0 marks a claim of no difference (an
equivalence, or a property that holds by construction).

Example:
    >>> from mote_lib.lab.paper import PAPER_NUMBERS, paper_text
    >>> PAPER_NUMBERS["retrieval_mote_minus_ic"].value
    1.94
    >>> paper_text("retrieval_mote_minus_ic")
    '+1.94 (+5.21 vs +3.27 over EM)'
    >>> paper_text("reranking_mote_minus_ic")
    'negative (direction only)'
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER = "MoTE paper (arXiv 2506.17781, ACL Findings 2025)"
NOTES = "as summarised in the project's paper notes"


@dataclass(frozen=True)
class PaperNumber:
    """One reported number (or direction) of the paper.

    Attributes:
        key: the name the claims table refers to it by.
        value: the number, on the unit's scale; None when the paper gives only a direction.
        unit: what the number measures (points are mteb main scores x100).
        statement: the claim in words, as the paper makes it.
        source: where in the paper it comes from, as far as the project's notes say.
        direction: +1 / -1 for a directional claim (the sign of ``value`` when there is one), 0
            for a claim of no difference.
        derived: how the number follows from other reported numbers, when it is not quoted itself.
    """

    key: str
    value: float | None
    unit: str
    statement: str
    source: str
    direction: int = 0
    derived: str = ""

    @property
    def direction_only(self) -> bool:
        return self.value is None and self.direction != 0


def _numbers(*numbers: PaperNumber) -> dict[str, PaperNumber]:
    return {number.key: number for number in numbers}


ABSTRACT = f"{PAPER}, abstract; main results {NOTES}"
SUMMARY = f"{PAPER}, {NOTES} (structured summary)"

PAPER_NUMBERS: dict[str, PaperNumber] = _numbers(
    # Main results: gains over EM (the same base model fine-tuned without instructions).
    PaperNumber("retrieval_gain_mote", 5.21, "points", "MoTE's gain over EM, averaged over the retrieval datasets",
                ABSTRACT, +1),
    PaperNumber("retrieval_gain_ic", 3.27, "points", "IC's gain over EM, averaged over the retrieval datasets",
                ABSTRACT, +1),
    PaperNumber("retrieval_mote_minus_ic", 1.94, "points", "MoTE beats IC on the retrieval datasets",
                ABSTRACT, +1, derived="5.21 - 3.27: the difference of the two reported gains over EM"),
    PaperNumber("all_gain_mote", 2.60, "points", "MoTE's gain over EM, averaged over all datasets", ABSTRACT, +1),
    PaperNumber("all_gain_ic", 1.81, "points", "IC's gain over EM, averaged over all datasets", ABSTRACT, +1),
    PaperNumber("all_mote_minus_ic", 0.79, "points", "MoTE beats IC over all datasets",
                ABSTRACT, +1, derived="2.60 - 1.81: the difference of the two reported gains over EM"),
    PaperNumber("retrieval_gain_ratio", 1.59, "ratio", "MoTE's retrieval gain over EM is 64% higher than IC's",
                ABSTRACT, +1, derived="5.21 / 3.27 = 1.59 (the abstract says 64% higher)"),
    PaperNumber("all_gain_ratio", 1.43, "ratio", "MoTE's gain over EM on all datasets is 43% higher than IC's",
                ABSTRACT, +1, derived="2.60 / 1.81 = 1.44; the abstract says 43% higher"),
    PaperNumber("mote_vs_ic_p_value", 0.05, "p-value bound", "the improvements are statistically significant",
                f"{SUMMARY}, key results: p < 0.05"),
    # Failure signatures and analyses.
    PaperNumber("clustering_mote_minus_em", -0.06, "points", "on clustering MoTE stays at EM's level (slightly below)",
                f"{SUMMARY}, failure signatures"),
    PaperNumber("reranking_mote_minus_ic", None, "points", "MoTE falls below IC on re-ranking (distribution shift)",
                f"{SUMMARY}, failure signatures and limitations", -1),
    PaperNumber("inter_task_cosine_mote_minus_ic", None, "cosine x100",
                "MoTE specialises more: the same text embedded under two tasks is less similar than under IC",
                f"{SUMMARY}, analyses (inter-task cosine similarity)", -1),
    # Ablations.
    PaperNumber("routing_slr_minus_tlr", None, "points",
                "sequence-level routing beats token-level routing on every task type",
                f"{SUMMARY}, routing ablation (section 6 per that summary)", +1),
    PaperNumber("routing_slr_minus_tlr_retrieval", 2.35, "points", "SLR minus TLR on retrieval",
                f"{SUMMARY}, routing ablation (section 6 per that summary)", +1),
    PaperNumber("routing_slr_minus_tlr_sts", 1.59, "points", "SLR minus TLR on STS",
                f"{SUMMARY}, routing ablation (section 6 per that summary)", +1),
    PaperNumber("tacl_gain", 0.41, "points", "TA-CL improves the average over datasets",
                f"{SUMMARY}, TA-CL ablation (section 5.4 / Table 4 per that summary)", +1),
    PaperNumber("eb_minus_eob", None, "points", "experts in every block (EB) are marginally better than in every "
                "other block (EOB)", f"{SUMMARY}, placement ablation", +1),
    # Claims that hold by construction of the architecture.
    PaperNumber("equal_active_parameters", None, "parameters", "no extra active parameters at inference",
                ABSTRACT),
    PaperNumber("equal_inference_time", None, "seconds", "no extra inference time", ABSTRACT),
)


def paper_text(key: str) -> str:
    """The paper's number for the claims table: the value (or direction), with what it is made of."""
    number = PAPER_NUMBERS[key]
    if number.direction_only:
        return f"{'positive' if number.direction > 0 else 'negative'} (direction only)"
    if number.value is None:
        return "equal (by construction)"
    parts = {"retrieval_mote_minus_ic": ("retrieval_gain_mote", "retrieval_gain_ic"),
             "all_mote_minus_ic": ("all_gain_mote", "all_gain_ic")}.get(key)
    if parts:
        mote, ic = (PAPER_NUMBERS[part].value for part in parts)
        return f"{number.value:+.2f} ({mote:+.2f} vs {ic:+.2f} over EM)"
    return f"{number.value:+.2f}" if number.unit == "points" else f"{number.value:g}"
