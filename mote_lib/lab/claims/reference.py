"""Display rows beside the claims, never tested against the paper: the reference models, gain ratios, per task type.

* ``reference_rows``: the untrained base model and EM beside IC and MoTE (averages over all and over
  the retrieval datasets, gains over EM); ``dataset_averages`` and ``below_base_sentences``: which
  fine-tuned models average below the untrained base;
* ``gain_ratio_lines``: MoTE's gain over EM divided by IC's, only when both gains are positive;
* ``per_type_rows``: MoTE - IC per task type (descriptive).

Example:
    >>> import pandas as pd
    >>> from mote_lib.lab.claims.inputs import Inputs
    >>> scores = pd.DataFrame({"model": ["base", "ic", "mote"], "seed": [None, 0, 0], "task": "T",
    ...                        "task_type": "STS", "score": [60.0, 58.0, 61.0]})
    >>> dataset_averages(Inputs("given", scores=scores)).to_dict()
    {'base': 60.0, 'ic': 58.0, 'mote': 61.0}
"""

from __future__ import annotations

import math

import pandas as pd

from mote_lib import verdicts
from mote_lib.lab.claims.endpoints import Endpoint, paired_for
from mote_lib.lab.claims.inputs import Inputs, seeds_by_model
from mote_lib.lab.claims.judge import ours_text
from mote_lib.lab.paper import PAPER_NUMBERS

BASE = "base"  # the runner's label of the untrained base model


def dataset_means(inputs: Inputs) -> pd.DataFrame:
    """Per model and dataset, the mean score over seeds (columns: models)."""
    return inputs.scores.pivot_table(index=["task_type", "task"], columns="model", values="score", aggfunc="mean")


def reference_rows(inputs: Inputs) -> pd.DataFrame:
    """The base model and EM beside IC and MoTE: averages over all and over the retrieval datasets, gains over EM."""
    means = dataset_means(inputs)
    shown = [m for m in (BASE, "em", "ic", "mote") if m in means.columns]
    rows = []
    for model in shown:
        row = {"model": model, "seeds": ", ".join("-" if s is None else str(s) for s in seeds_by_model(inputs)[model]),
               "average (all datasets)": means[model].mean(),
               "average (retrieval)": means[model].xs("Retrieval", level="task_type").mean()
               if "Retrieval" in means.index.get_level_values(0) else math.nan}
        if "em" in means.columns and model != "em":
            gains = means[model] - means["em"]
            row["gain over EM (all)"] = gains.mean()
            row["gain over EM (retrieval)"] = (gains.xs("Retrieval", level="task_type").mean()
                                               if "Retrieval" in means.index.get_level_values(0) else math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def dataset_averages(inputs: Inputs) -> pd.Series:
    """Each model's mean over the datasets the untrained base was scored on; empty without it.

    A model missing any of those datasets is left out, so every average covers the same datasets.
    """
    means = dataset_means(inputs)
    if BASE not in means.columns:
        return pd.Series(dtype=float)
    common = means.dropna(subset=[BASE])
    return common.loc[:, common.notna().all()].mean()


def below_base_sentences(inputs: Inputs) -> list[str]:
    """A plain sentence for each fine-tuned model whose dataset average is below the untrained base model's."""
    averages = dataset_averages(inputs)
    if averages.empty:
        return []
    base = averages[BASE]
    return [f"- {model} averages {average:.2f} over the datasets, below the untrained base model's {base:.2f}: "
            "its fine-tuning lost ground on this suite."
            for model, average in averages.drop(BASE).items() if average < base]


def gain_ratio_lines(inputs: Inputs) -> list[str]:
    """MoTE's gain over EM divided by IC's, shown only when both gains are positive (display, never a verdict)."""
    means = dataset_means(inputs)
    if not {"em", "ic", "mote"} <= set(means.columns):
        return ["Gain ratios: not measured (needs EM, IC and MoTE scores)."]
    lines = []
    for scope, key, level in (("Retrieval", "retrieval_gain_ratio", "Retrieval"), ("All datasets", "all_gain_ratio", None)):
        rows = means if level is None else means[means.index.get_level_values(0) == level]
        if rows.empty:
            continue
        mote, ic = ((rows[m] - rows["em"]).mean() for m in ("mote", "ic"))
        ratio = verdicts.gain_ratio(mote, ic)
        paper = f"the paper's ratio: {PAPER_NUMBERS[key].value:g}"
        shown = (f"ratio {ratio:.2f}" if ratio is not None
                 else "no ratio, as a gain is not positive (a ratio of losses would read as a gain)")
        lines.append(f"- {scope}: MoTE's gain over EM {mote:+.2f}, IC's {ic:+.2f}; {shown} ({paper}).")
    return lines


def per_type_rows(inputs: Inputs, profile: str) -> pd.DataFrame:
    """MoTE - IC per task type on per-dataset scores: descriptive (the paper states only retrieval's and re-ranking's sign)."""
    rows = []
    for task_type in sorted(inputs.scores["task_type"].dropna().unique()):
        endpoint = Endpoint(task_type, "descriptive", "mote", "ic", "scores", (task_type,), "", "")
        paired, _ = paired_for(endpoint, inputs, profile)
        try:
            est = verdicts.estimate(paired) if paired is not None else None
        except ValueError:
            est = None
        if est is None:  # shown only where measured: the judged claims above say what is missing
            continue
        rows.append({"task type": task_type, "datasets": est.n_datasets, "MoTE - IC": ours_text(est, est.p_value)})
    return pd.DataFrame(rows)
