"""The paper's figures, each drawn from one stored results table (``results/<profile>/*.csv``).

A notebook computes a table, writes it with ``experiments.write_result`` and draws it with a
function here; ``09_paper_figures`` redraws every figure from the stored tables alone, with the
same functions (``FIGURES``), so a figure never depends on state left in a notebook.

Every function takes the table (and the profile, for the title) and returns a matplotlib figure.

Example:
    >>> import pandas as pd
    >>> from mote_lib.lab.plots import type_gains
    >>> summary = pd.DataFrame({"task_type": ["Retrieval"], "model": ["gain mote"], "score": [2.4]})
    >>> fig = type_gains(summary, "cpu")
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

MODEL_COLORS = {"em": "#7f7f7f", "ic": "#1f77b4", "mote": "#d62728", "mote-eb": "#ff7f0e", "mote-tlr": "#9467bd",
                "mote-no-tacl": "#8c564b"}


def _title(ax_or_fig, text: str, profile: str) -> None:
    setter = ax_or_fig.suptitle if hasattr(ax_or_fig, "suptitle") else ax_or_fig.set_title
    setter(f"{text}  [profile {profile}]")


def _color(model: str) -> str:
    return MODEL_COLORS.get(model, MODEL_COLORS.get(model.split("-")[0], "#333333"))


def training_curves(curves: pd.DataFrame, profile: str):
    """Smoothed training loss per task (one panel per task), one line per model (first seed).

    The capacity-sweep runs are left out (their losses are of a different model size).
    """
    curves = curves[curves["model"].isin(MODEL_COLORS)]
    tasks = sorted(curves["task"].unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for model, rows in curves[(curves.task == task) & (curves.seed == curves.seed.min())].groupby("model"):
            ax.plot(rows["step"], rows["smoothed"], label=model, color=_color(model), lw=1.4)
        ax.set(title=task, xlabel="step", ylabel="contrastive loss (moving average)")
    axes[0][-1].legend(fontsize=8)
    _title(fig, "Training loss per task", profile)
    fig.tight_layout()
    return fig


def type_gains(summary: pd.DataFrame, profile: str, reference: str = "em"):
    """The main table as bars: gain over ``reference`` per task type and overall, for every other model.

    ``summary`` is the long form of ``evaluate.summary_table``: ``task_type, model, score`` where
    the gain rows' model is ``gain <model>``.
    """
    gains = summary[summary["model"].str.startswith("gain ")].assign(model=lambda d: d["model"].str[5:])
    order = [t for t in sorted(gains["task_type"].unique()) if not t.startswith("average")] + \
            [t for t in gains["task_type"].unique() if t.startswith("average")]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    sns.barplot(gains, x="task_type", y="score", hue="model", order=order, ax=ax,
                palette={m: _color(m) for m in gains["model"].unique()})
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel="", ylabel=f"gain over {reference.upper()} (score x100)")
    ax.tick_params(axis="x", rotation=20)
    _title(ax, "Gain over EM per task type (offline suite)", profile)
    fig.tight_layout()
    return fig


def similarity_heatmaps(similarity: pd.DataFrame, profile: str):
    """Inter-task cosine matrices side by side, one per model (``model, task_a, task_b, cosine``).

    EM is left out: it ignores the task, so its matrix is all ones.
    """
    similarity = similarity[similarity["model"] != "em"]
    models = list(dict.fromkeys(similarity["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(4.3 * len(models), 3.9), squeeze=False)
    low = similarity["cosine"].min()
    for ax, model in zip(axes[0], models):
        matrix = similarity[similarity.model == model].pivot(index="task_a", columns="task_b", values="cosine")
        sns.heatmap(matrix, annot=True, fmt=".3f", vmin=low, vmax=1, cmap="viridis", ax=ax, cbar=False, square=True)
        ax.set(title=model, xlabel="", ylabel="")
    _title(fig, "Mean cosine between one text's task embeddings", profile)
    fig.tight_layout()
    return fig


def cosine_distributions(cosines: pd.DataFrame, profile: str):
    """Per task pair, the distribution over texts of the cosine between the two task embeddings."""
    pairs = list(dict.fromkeys(cosines["pair"]))
    columns = 3
    rows = int(np.ceil(len(pairs) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.3 * columns, 2.8 * rows), squeeze=False)
    for ax, pair in zip(axes.flat, pairs):
        for model, values in cosines[cosines.pair == pair].groupby("model", sort=False):
            ax.hist(values["cosine"], bins=30, alpha=0.55, label=model, color=_color(model))
        ax.set(title=pair, xlabel="cosine", ylabel="texts")
    for ax in axes.flat[len(pairs):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    _title(fig, "Inter-task cosine per text", profile)
    fig.tight_layout()
    return fig


def layerwise_divergence(divergence: pd.DataFrame, profile: str):
    """Per layer, the cosine between a text's hidden states under two tasks (``model, pair, layer, cosine``)."""
    pairs = list(dict.fromkeys(divergence["pair"]))
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 3.4), squeeze=False, sharey=True)
    for ax, pair in zip(axes[0], pairs):
        for model, rows in divergence[divergence.pair == pair].groupby("model", sort=False):
            ax.plot(rows["layer"], rows["cosine"], marker="o", label=model, color=_color(model))
        ax.set(title=pair, xlabel="layer (0 = embeddings)", ylabel="cosine of pooled hidden states")
    axes[0][0].legend(fontsize=8)
    _title(fig, "Where the tasks' representations of a text part", profile)
    fig.tight_layout()
    return fig


def sensitivity_ratios(ratios: pd.DataFrame, profile: str):
    """Output / input distance for instruction swaps and for content edits (``model, probe, ratio``)."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    sns.boxplot(ratios, x="probe", y="ratio", hue="model", ax=ax, showfliers=False,
                palette={m: _color(m) for m in ratios["model"].unique()})
    ax.set(xlabel="", ylabel="output distance / input distance", yscale="log")
    _title(ax, "How far the embedding moves per unit of input change", profile)
    fig.tight_layout()
    return fig


def layerwise_lipschitz(table: pd.DataFrame, profile: str):
    """Per layer, ||J v|| of the pooled hidden states for instruction-embedding directions (``model, layer, directional_mean``)."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for model, rows in table.groupby("model", sort=False):
        ax.plot(rows["layer"], rows["relative"], marker="o", label=model, color=_color(model))
    ax.set(xlabel="layer (0 = embeddings)", ylabel="||J v|| / ||hidden state||")
    ax.legend(fontsize=8)
    _title(ax, "Sensitivity to the instruction, layer by layer", profile)
    fig.tight_layout()
    return fig


def query_bootstrap(bootstrap: pd.DataFrame, profile: str):
    """Per retrieval/reranking dataset, the paired bootstrap's mean difference and interval (``comparison, task, ...``)."""
    comparisons = list(dict.fromkeys(bootstrap["comparison"]))
    fig, axes = plt.subplots(1, len(comparisons), figsize=(4.6 * len(comparisons), 0.5 * bootstrap.task.nunique() + 1.8),
                             squeeze=False, sharey=True)
    for ax, comparison in zip(axes[0], comparisons):
        rows = bootstrap[bootstrap.comparison == comparison].reset_index(drop=True)
        y = np.arange(len(rows))
        ax.errorbar(rows["mean_diff"], y, xerr=[rows["mean_diff"] - rows["ci_low"], rows["ci_high"] - rows["mean_diff"]],
                    fmt="o", color="black", capsize=3)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(y, rows["task"])
        ax.set(title=comparison, xlabel="mean per-query difference (x100)")
    _title(fig, "Paired bootstrap over queries (95% interval)", profile)
    fig.tight_layout()
    return fig


def ablations(table: pd.DataFrame, profile: str):
    """Mean score per task type for the MoTE ablations (``model, task_type, score``)."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    sns.barplot(table, x="task_type", y="score", hue="model", ax=ax,
                palette={m: _color(m) for m in table["model"].unique()})
    ax.set(xlabel="", ylabel="mean main score (x100)")
    ax.tick_params(axis="x", rotation=20)
    _title(ax, "Ablations", profile)
    fig.tight_layout()
    return fig


def capacity(table: pd.DataFrame, profile: str):
    """MoTE - IC per task type as the base model shrinks (``layers, task_type, gap``)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for task_type, rows in table.groupby("task_type"):
        rows = rows.sort_values("layers")
        style = dict(lw=2.5, color="black") if task_type.startswith("average") else dict(lw=1.2)
        ax.plot(rows["layers"], rows["gap"], marker="o", label=task_type, **style)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="transformer layers kept", ylabel="MoTE - IC (score x100)", xticks=sorted(table["layers"].unique()))
    ax.legend(fontsize=7, ncol=2)
    _title(ax, "Capacity sweep", profile)
    fig.tight_layout()
    return fig


def expert_similarity(matrix: pd.DataFrame, profile: str):
    """Expert x expert cosine of the fine-tuning updates (``expert_a, expert_b, cosine``, both orders)."""
    square = matrix.pivot(index="expert_a", columns="expert_b", values="cosine")
    fig, ax = plt.subplots(figsize=(4.8, 4))
    sns.heatmap(square, annot=True, fmt=".2f", cmap="coolwarm", vmin=-1, vmax=1, ax=ax, square=True)
    ax.set(xlabel="", ylabel="")
    _title(ax, "Cosine of the experts' updates", profile)
    fig.tight_layout()
    return fig


def consolidation(table: pd.DataFrame, profile: str):
    """Score change per task type after merging experts (``model, task_type, change``)."""
    fig, ax = plt.subplots(figsize=(9, 3.6))
    sns.barplot(table, x="task_type", y="change", hue="model", ax=ax)
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel="", ylabel="score change vs MoTE (x100)")
    ax.tick_params(axis="x", rotation=20)
    _title(ax, "Expert consolidation", profile)
    fig.tight_layout()
    return fig


# figure name -> (results table it is drawn from, function): what 09_paper_figures redraws.
FIGURES = {
    "01_training_curves": ("training_curves", training_curves),
    "02_type_gains": ("summary", type_gains),
    "03_similarity_heatmaps": ("inter_task_similarity", similarity_heatmaps),
    "03_cosine_distributions": ("inter_task_cosines", cosine_distributions),
    "03_layerwise_divergence": ("layerwise_divergence", layerwise_divergence),
    "04_sensitivity_ratios": ("sensitivity_ratios", sensitivity_ratios),
    "04_layerwise_lipschitz": ("layerwise_lipschitz", layerwise_lipschitz),
    "05_query_bootstrap": ("query_bootstrap", query_bootstrap),
    "06_ablations": ("ablations", ablations),
    "07_expert_similarity": ("expert_similarity", expert_similarity),
    "07_consolidation": ("consolidation", consolidation),
    "07_capacity": ("capacity", capacity),
}


def draw(name: str, table: pd.DataFrame, profile: str):
    """Draw figure ``name`` of ``FIGURES`` from its table."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; valid: {list(FIGURES)}")
    return FIGURES[name][1](table, profile)


def render(name: str, table: pd.DataFrame, profile: str):
    """Draw figure ``name`` and save it with ``savefig`` (into the profile's figure folder); return it."""
    from mote_lib.lab.figures import savefig

    fig = draw(name, table, profile)
    savefig(fig, name, profile=profile)
    return fig
