"""The paper's figures, each drawn from one stored results table (``results/<profile>/*.csv``).

A notebook computes a table, writes it with ``experiments.write_result`` and draws it with a
function here; ``09_paper_figures`` redraws every figure from the stored tables alone, with the
same functions (``FIGURES``), so a figure never depends on state left in a notebook.

Every function takes the table (and the profile, for the title) and returns a matplotlib figure.
House rules, checked by ``tests/lab/test_figures.py``: legends sit outside the plotting area (they
never hide data), long tick labels are wrapped (never overlap), heatmaps carry a colour bar, bars
of gains and differences carry the table's 95% intervals (``ci_low``/``ci_high``) when it has them
and say so when it has none, and failed or collapsed models are drawn and marked, never dropped.

Example:
    >>> import pandas as pd
    >>> from mote_lib.lab.plots import type_gains
    >>> summary = pd.DataFrame({"task_type": ["Retrieval"], "model": ["gain mote"], "score": [2.4]})
    >>> fig = type_gains(summary, "cpu")
"""

from __future__ import annotations

import re
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import to_hex
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

MODEL_COLORS = {"em": "#7f7f7f", "ic": "#1f77b4", "mote": "#d62728", "mote-eb": "#ff7f0e", "mote-tlr": "#9467bd",
                "mote-no-tacl": "#8c564b"}
# Without TA-CL the batches mix tasks and share one temperature, so the per-task loss is on another
# scale than the other models' (lower, noisier): drawn in a row of its own, never on shared axes.
OWN_LOSS_SCALE = {"mote-no-tacl": "without TA-CL\n(mixed batches, one temperature)"}
# A model cut to fewer layers is marked collapsed when its dataset average falls below this share of
# the same model at full depth: losing layers costs points, losing a quarter of the score means some
# task types fell to chance (the cpu 2-layer models score 8-11 nDCG on FAQ and Wikipedia retrieval).
COLLAPSE_FRACTION = 0.75
NO_INTERVALS = "no 95% intervals: the table holds one score per bar"


# ----------------------------------------------------------------------------- shared helpers


def _title(ax_or_fig, text: str, profile: str) -> None:
    setter = ax_or_fig.suptitle if hasattr(ax_or_fig, "suptitle") else ax_or_fig.set_title
    setter(f"{text}  [profile {profile}]")


def _is_model(name: str) -> bool:
    return name in MODEL_COLORS or name.split("-")[0] in MODEL_COLORS


def _color(model: str) -> str:
    return MODEL_COLORS.get(model, MODEL_COLORS.get(model.split("-")[0], "#333333"))


def _palette(names) -> dict[str, str]:
    """Model labels keep their colour; other names (methods, merged models) take tab10 colours in order,
    skipping those the models use when models are in the same figure (so no two bars look alike)."""
    names = list(dict.fromkeys(names))
    tab10 = [to_hex(c) for c in plt.get_cmap("tab10").colors]
    spare = [c for c in tab10 if c not in MODEL_COLORS.values()] if any(map(_is_model, names)) else tab10
    others = iter(spare * len(names))
    return {n: _color(n) if _is_model(n) else next(others) for n in names}


def _wrap(label: str, width: int = 14) -> str:
    """Break a long tick label over lines so neighbours never overlap (CamelCase words at their humps)."""
    if len(label) <= width:
        return label
    if " " not in label:
        return re.sub(r"(?<=[a-z])(?=[A-Z])", "\n", label)
    return textwrap.fill(label, width, break_long_words=False)


def _legend_outside(owner, handles=None, labels=None, **kwargs) -> None:
    """Legend to the right of an axes or a figure: outside the data, whatever the data do."""
    kwargs = {"fontsize": 8, "frameon": False, **kwargs}
    if hasattr(owner, "suptitle"):  # a figure: one legend for all panels, after tight_layout
        owner.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), **kwargs)
    elif handles is None:
        owner.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kwargs)
    else:
        owner.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kwargs)


def _panel_handles(axes) -> tuple[list, list]:
    """Every distinct line label over ``axes`` once, in order of appearance (for a figure legend)."""
    seen = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    return list(seen.values()), list(seen)


def _note(fig, text: str) -> None:
    """A line of small print under the figure (outside every axes; ``savefig`` keeps it in the crop)."""
    fig.text(0.01, 0.0, text, ha="left", va="top", fontsize=8, color="#444444")


def _has_intervals(table: pd.DataFrame) -> bool:
    return {"ci_low", "ci_high"} <= set(table.columns) and table[["ci_low", "ci_high"]].notna().any().any()


def _bars(ax, table: pd.DataFrame, category: str, value: str, hue: str, order=None, horizontal=False) -> None:
    """Grouped bars (one group per ``category``, one bar per ``hue``) with the table's 95% intervals, if any."""
    if table.duplicated([category, hue]).any():  # averaging seeds here would hide their spread: the table does it
        raise ValueError(f"one row per ({category}, {hue}) expected; intervals go in ci_low / ci_high")
    order = list(order) if order is not None else list(dict.fromkeys(table[category]))
    hues = list(dict.fromkeys(table[hue]))
    palette, width = _palette(hues), 0.8 / max(1, len(hues))
    for i, name in enumerate(hues):
        rows = table[table[hue] == name].set_index(category).reindex(order)
        where = np.arange(len(order)) - 0.4 + width * (i + 0.5)
        (ax.barh if horizontal else ax.bar)(where, rows[value], width, label=name, color=palette[name])
        if _has_intervals(table):
            error = [rows[value] - rows["ci_low"], rows["ci_high"] - rows[value]]
            x, y = (rows[value], where) if horizontal else (where, rows[value])
            ax.errorbar(x, y, **{"xerr" if horizontal else "yerr": error}, fmt="none", ecolor="black", capsize=2, lw=1)
    if horizontal:  # a label has the whole margin to itself: wrapping would only stack it into its neighbours
        ax.set_yticks(np.arange(len(order)), [str(c) for c in order])
    else:
        ax.set_xticks(np.arange(len(order)), [_wrap(str(c)) for c in order])


# ----------------------------------------------------------------------------- figures


def training_curves(curves: pd.DataFrame, profile: str):
    """Smoothed training loss per task (one column per task), one line per model (first seed).

    Models in ``OWN_LOSS_SCALE`` get a row of their own: their loss is not on the others' scale.
    The capacity-sweep runs are left out (their losses are of a different model size).
    """
    curves = curves[curves["model"].isin(MODEL_COLORS) & (curves["seed"] == curves["seed"].min())]
    tasks = sorted(curves["task"].unique())
    groups = [("with TA-CL", curves[~curves["model"].isin(OWN_LOSS_SCALE)])]
    groups += [(text, curves[curves["model"] == m]) for m, text in OWN_LOSS_SCALE.items() if (curves["model"] == m).any()]
    fig, axes = plt.subplots(len(groups), len(tasks), figsize=(4.2 * len(tasks), 2.9 * len(groups) + 0.6),
                             squeeze=False, sharex="col")
    for row, (group, rows) in zip(axes, groups):
        for ax, task in zip(row, tasks):
            for model, line in rows[rows["task"] == task].groupby("model", sort=False):
                ax.plot(line["step"], line["smoothed"], label=model, color=_color(model), lw=1.4)
            ax.set_title(task if group == groups[0][0] else f"{task}, {group.splitlines()[0]}")
        row[0].set_ylabel(f"loss, {group}\n(moving average)")
    for ax in axes[-1]:
        ax.set_xlabel("step")
    _title(fig, "Training loss per task", profile)
    fig.tight_layout()
    _legend_outside(fig, *_panel_handles(axes))
    return fig


def type_gains(summary: pd.DataFrame, profile: str, reference: str = "em"):
    """The main table as bars: gain over ``reference`` per task type and overall, for every other model.

    ``summary`` is the long form of ``evaluate.summary_table``: ``task_type, model, score`` where
    the gain rows' model is ``gain <model>``; optional ``ci_low, ci_high`` are drawn as 95% intervals.
    """
    gains = summary[summary["model"].str.startswith("gain ")].assign(model=lambda d: d["model"].str[5:])
    order = [t for t in sorted(gains["task_type"].unique()) if not t.startswith("average")] + \
            [t for t in gains["task_type"].unique() if t.startswith("average")]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    _bars(ax, gains, "task_type", "score", "model", order)
    ax.axhline(0, color="black", lw=0.8)
    ax.set(ylabel=f"gain over {reference.upper()} (score x100)")
    _legend_outside(ax, title="model")
    _title(ax, f"Gain over {reference.upper()} per task type (offline suite)", profile)
    fig.tight_layout()
    if not _has_intervals(gains):
        _note(fig, NO_INTERVALS)
    return fig


def similarity_heatmaps(similarity: pd.DataFrame, profile: str):
    """Inter-task cosine matrices side by side, one per model (``model, task_a, task_b, cosine``), one colour bar.

    EM is left out: it ignores the task, so its matrix is all ones.
    """
    similarity = similarity[similarity["model"] != "em"]
    models = list(dict.fromkeys(similarity["model"]))
    # constrained layout makes room for the shared colour bar (tight_layout cannot place one).
    fig, axes = plt.subplots(1, len(models), figsize=(4.3 * len(models) + 1, 4.2), squeeze=False, layout="constrained")
    low = similarity["cosine"].min()
    for ax, model in zip(axes[0], models):
        matrix = similarity[similarity.model == model].pivot(index="task_a", columns="task_b", values="cosine")
        sns.heatmap(matrix, annot=True, fmt=".3f", vmin=low, vmax=1, cmap="viridis", ax=ax, cbar=False, square=True)
        ax.set(title=model, xlabel="", ylabel="")
    # every panel shares vmin/vmax, so one bar reads for all of them
    fig.colorbar(axes[0][0].collections[0], ax=axes[0].tolist(), shrink=0.8, label="mean cosine")
    _title(fig, "Mean cosine between one text's task embeddings", profile)
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
    _title(fig, "Inter-task cosine per text", profile)
    fig.tight_layout()
    _legend_outside(fig, *_panel_handles(axes))
    return fig


def layerwise_divergence(divergence: pd.DataFrame, profile: str):
    """Per layer, the cosine between a text's hidden states under two tasks (``model, pair, layer, cosine``)."""
    pairs = list(dict.fromkeys(divergence["pair"]))
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 3.4), squeeze=False, sharey=True)
    for ax, pair in zip(axes[0], pairs):
        for model, rows in divergence[divergence.pair == pair].groupby("model", sort=False):
            ax.plot(rows["layer"], rows["cosine"], marker="o", label=model, color=_color(model))
        ax.set(title=pair, xlabel="layer (0 = embeddings)")
    axes[0][0].set_ylabel("cosine of pooled hidden states")
    _title(fig, "Where the tasks' representations of a text part", profile)
    fig.tight_layout()
    _legend_outside(fig, *_panel_handles(axes))
    return fig


def sensitivity_ratios(ratios: pd.DataFrame, profile: str):
    """Output / input distance for instruction swaps and for content edits (``model, probe, ratio``)."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    sns.boxplot(ratios, x="probe", y="ratio", hue="model", ax=ax, showfliers=False, palette=_palette(ratios["model"]))
    # the probe names ("swap search_query / search_document") are wider than a box group
    ax.set_xticks(ax.get_xticks(), [_wrap(t.get_text(), 16) for t in ax.get_xticklabels()])
    ax.set(xlabel="", ylabel="output distance / input distance", yscale="log")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False, fontsize=8)
    _title(ax, "How far the embedding moves per unit of input change", profile)
    fig.tight_layout()
    return fig


def layerwise_lipschitz(table: pd.DataFrame, profile: str):
    """Per layer, ||J v|| of the pooled hidden states for instruction-embedding directions (``model, layer, directional_mean``)."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for model, rows in table.groupby("model", sort=False):
        ax.plot(rows["layer"], rows["relative"], marker="o", label=model, color=_color(model))
    ax.set(xlabel="layer (0 = embeddings)", ylabel="||J v|| / ||hidden state||")
    _legend_outside(ax)
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
    """Mean score per task type for the MoTE ablations (``model, task_type, score``; optional ``ci_low, ci_high``)."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    _bars(ax, table, "task_type", "score", "model")
    ax.set(ylabel="mean main score (x100)")
    _legend_outside(ax, title="model")
    _title(ax, "Ablations", profile)
    fig.tight_layout()
    return fig


def _collapsed(models: pd.DataFrame) -> set[tuple[str, int]]:
    """(model, layers) whose average is missing or below ``COLLAPSE_FRACTION`` of the model at full depth."""
    full = models.loc[models.index.max()]
    return {(m, layers) for layers, row in models.iterrows() for m in models.columns
            if not np.isfinite(row[m]) or (full[m] > 0 and row[m] < COLLAPSE_FRACTION * full[m])}


def _mark_missing(ax, x, label: str) -> None:
    """An x at the bottom of the panel where a value is missing, so a failed run is seen, not skipped."""
    at_bottom = blended_transform_factory(ax.transData, ax.transAxes)
    ax.plot([x], [0.04], marker="x", color="black", ms=8, transform=at_bottom, clip_on=False)
    ax.text(x, 0.08, label, transform=at_bottom, ha="center", fontsize=7)


def _capacity_models(ax, models: pd.DataFrame, collapsed: set) -> None:
    """Left panel: each model's own dataset average per depth; collapsed ones ringed, missing ones crossed."""
    for model in models.columns:
        ax.plot(models.index, models[model], marker="o", label=model, color=_color(model))
        for layers, score in models[model].items():
            if not np.isfinite(score):
                _mark_missing(ax, layers, f"{model}: no score")
            elif (model, layers) in collapsed:
                ax.plot(layers, score, marker="o", ms=14, mfc="none", mec="black")
    for layers in models.index:  # one label per depth: the models' points there lie close together
        names = [m for m in models.columns if (m, layers) in collapsed and np.isfinite(models.loc[layers, m])]
        if names:
            ax.annotate(f"collapsed: {', '.join(names)}", (layers, models.loc[layers, names].max()), xytext=(10, 10),
                        textcoords="offset points", ha="left", fontsize=7)  # rightwards: clear of the tick labels
    ax.margins(x=0.15, y=0.12)
    ax.set(xlabel="transformer layers kept", ylabel="dataset average (score x100)", title="the models")


def _capacity_gaps(ax, table: pd.DataFrame, shaky_layers: set) -> None:
    """Right panel: MoTE - IC per task type; hollow markers where a model collapsed, crosses where no gap."""
    for task_type, rows in table.groupby("task_type"):
        rows = rows.sort_values("layers")
        style = dict(lw=2.5, color="black") if task_type.startswith("average") else dict(lw=1.2)
        line, = ax.plot(rows["layers"], rows["gap"], marker="o", label=task_type, **style)
        shaky = rows[rows["layers"].isin(shaky_layers)]
        ax.plot(shaky["layers"], shaky["gap"], ls="none", marker="o", mfc="white", color=line.get_color())
        if _has_intervals(rows):
            ax.errorbar(rows["layers"], rows["gap"], yerr=[rows["gap"] - rows["ci_low"], rows["ci_high"] - rows["gap"]],
                        fmt="none", ecolor=line.get_color(), capsize=2, lw=1)
    for layers in sorted(table.loc[~np.isfinite(table["gap"]), "layers"].unique()):
        _mark_missing(ax, layers, "no gap")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="transformer layers kept", ylabel="MoTE - IC (score x100)", title="the gap")


def capacity(table: pd.DataFrame, profile: str):
    """MoTE - IC per task type as the base model shrinks (``layers, task_type, gap, ic, mote``).

    Beside the gap, the models' own dataset averages: a gap between two collapsed models says
    little, so collapsed models (``COLLAPSE_FRACTION``) and missing scores are drawn and marked.
    """
    models = table.drop_duplicates("layers").set_index("layers")[["ic", "mote"]].sort_index().astype(float)
    collapsed = _collapsed(models)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.8), width_ratios=[1, 1.3])
    _capacity_models(left, models, collapsed)
    _capacity_gaps(right, table.astype({"gap": float}), {layers for _, layers in collapsed})
    for ax in (left, right):
        ax.set_xticks(sorted(table["layers"].unique()))
    _legend_outside(left)
    _legend_outside(right, ncol=1)
    _title(fig, "Capacity sweep", profile)
    fig.tight_layout()
    notes = [] if _has_intervals(table) else [NO_INTERVALS.replace("per bar", "per point")]
    if collapsed:
        notes.append(f"ringed / hollow: a model collapsed there (dataset average below {COLLAPSE_FRACTION:.0%} of "
                     "its full-depth score, or no score); the gap at that depth compares collapsed models")
    if notes:
        _note(fig, "\n".join(notes))
    return fig


def expert_similarity(matrix: pd.DataFrame, profile: str):
    """Expert x expert cosine of the fine-tuning updates (``expert_a, expert_b, cosine``, both orders)."""
    square = matrix.pivot(index="expert_a", columns="expert_b", values="cosine")
    fig, ax = plt.subplots(figsize=(5.2, 4))
    sns.heatmap(square, annot=True, fmt=".2f", cmap="coolwarm", vmin=-1, vmax=1, ax=ax, square=True,
                cbar_kws={"label": "cosine of the updates"})
    ax.set(xlabel="", ylabel="")
    _title(ax, "Cosine of the experts' updates", profile)
    fig.tight_layout()
    return fig


def consolidation(table: pd.DataFrame, profile: str):
    """Score change per task type after merging experts (``model, task_type, change``; optional ``ci_low, ci_high``)."""
    fig, ax = plt.subplots(figsize=(11, 3.6))  # wide: the legend's merge names take a quarter of it
    _bars(ax, table.assign(model=table["model"].map(lambda m: _wrap(m, 26))), "task_type", "change", "model")
    ax.axhline(0, color="black", lw=0.8)
    ax.set(ylabel="score change vs MoTE (x100)")
    _legend_outside(ax, title="model")
    _title(ax, "Expert consolidation", profile)
    fig.tight_layout()
    if not _has_intervals(table):
        _note(fig, NO_INTERVALS)
    return fig


def router_embeddings(per_task: pd.DataFrame, profile: str):
    """Notebook 08: main score per task of HS, RW and the MoEE combinations on MoTE-TLR (``task, method, score``)."""
    tasks = sorted(per_task["task"].unique())
    fig, ax = plt.subplots(figsize=(10, 1.5 + 0.08 * len(per_task)))  # about 6 points of height per bar
    _bars(ax, per_task, "task", "score", "method", tasks, horizontal=True)
    ax.invert_yaxis()  # first task on top, as in a table
    ax.set(xlabel="main score (x100)")
    _legend_outside(ax, title="method")
    _title(ax, "MoTE-TLR: HS, router weights and their MoEE combinations", profile)
    fig.tight_layout()
    return fig


def expert_usage(usage: pd.DataFrame, profile: str):
    """Notebook 08: mean router weight per (task instruction, MoTE layer, expert) (``task, layer, expert, weight``)."""
    grid = usage.pivot_table(index="task", columns=["layer", "expert"], values="weight")
    fig, ax = plt.subplots(figsize=(12, 3.8))
    sns.heatmap(grid, annot=True, fmt=".2f", cmap="viridis", ax=ax, cbar_kws={"label": "mean router weight"})
    ax.set(xlabel="MoTE layer - expert", ylabel="instruction")
    _title(ax, "MoTE-TLR: mean router weight per instruction, MoTE layer and expert", profile)
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


# ----------------------------------------------------------------------------- claims

VERDICT_COLORS = {"supported": "#2ca02c", "supported, smaller than reported": "#98df8a", "contradicted": "#d62728",
                  "inconclusive": "#7f7f7f", "not measured": "#bbbbbb"}


def claims_forest(table: pd.DataFrame, paper: dict[str, tuple[float | None, int]], profile: str,
                  margin: float | None = None):
    """Each judged claim's effect with its 95% interval, the paper's value beside it, coloured by verdict.

    ``table``: the claims table (``claim, kind, effect, ci_low, ci_high, n_seeds, verdict, paper_key,
    test``, optionally ``not_significant_after_holm`` and the registered interval ``registered_ci_low``,
    ``registered_ci_high``, drawn thin below the amended one), rows top to bottom; ``paper``: paper_key -> (value or None, direction). An equivalence
    row gets its ``margin`` band; a direction-only claim its arrow; a one-seed row a point without
    interval (no seed-to-seed variance).
    """
    rows = table.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(10, 0.62 * len(rows) + 1.6))
    y = np.arange(len(rows))[::-1]
    labels = []
    for pos, row in zip(y, rows.itertuples()):
        seeds = int(row.n_seeds) if pd.notna(row.n_seeds) else 0
        labels.append(f"{_wrap(row.claim, 46)}\n[{row.kind}, {seeds} seed{'s' if seeds != 1 else ''}]")
        value, direction = paper.get(row.paper_key, (None, 0))
        if row.test == "equivalence" and margin is not None:
            ax.fill_betweenx([pos - 0.3, pos + 0.3], -margin, margin, color="#1f77b4", alpha=0.12, lw=0)
        if value is not None:
            ax.plot(value, pos, marker="x", color="black", ms=8, mew=2, zorder=3)
        elif direction:
            ax.annotate("", xy=(0.6 * direction, pos + 0.28), xytext=(0, pos + 0.28),
                        arrowprops=dict(arrowstyle="->", color="black", lw=1.2))
        color = VERDICT_COLORS.get(row.verdict, "#333333")
        if pd.notna(row.effect):
            has_ci = seeds > 1 and pd.notna(row.ci_low) and pd.notna(row.ci_high)
            ax.errorbar(row.effect, pos, xerr=[[row.effect - row.ci_low], [row.ci_high - row.effect]] if has_ci else None,
                        fmt="o", color=color, ecolor=color, elinewidth=2.5, capsize=4, ms=7, zorder=4)
            low, high = getattr(row, "registered_ci_low", None), getattr(row, "registered_ci_high", None)
            if has_ci and pd.notna(low) and pd.notna(high):  # the registered interval, thin, just below (amendment 1, A1)
                ax.plot([low, high], [pos - 0.2, pos - 0.2], color=color, lw=1, alpha=0.6, zorder=3)
                ax.plot([low, high], [pos - 0.2, pos - 0.2], "|", color=color, ms=5, alpha=0.6, zorder=3)
        verdict = f"{row.verdict}: check passed" if row.kind == "A/A check" and row.verdict == "inconclusive" else row.verdict
        caveat = getattr(row, "not_significant_after_holm", None)  # the table's own caveat, kept in the picture
        if pd.notna(caveat) and bool(caveat):
            verdict += "\n(not significant after Holm)"
        ax.text(1.01, pos, verdict, transform=blended_transform_factory(ax.transAxes, ax.transData),
                va="center", fontsize=8, color="black" if row.verdict != "not measured" else "#888888")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("ours - the compared model: points (mteb main score x100; cosine x100 for inter-task similarity)")
    handles = [plt.Line2D([], [], marker="o", color=c, ls="", label=v) for v, c in VERDICT_COLORS.items()]
    handles += [plt.Line2D([], [], marker="x", color="black", mew=2, ls="", label="paper's value"),
                plt.Line2D([], [], marker=r"$\rightarrow$", color="black", ls="", ms=12, label="paper: direction only")]
    if "registered_ci_low" in rows and rows["registered_ci_low"].notna().any():
        handles.append(plt.Line2D([], [], color="#555555", lw=1, alpha=0.6, label="registered interval (thin)"))
    if margin is not None:
        handles.append(Patch(color="#1f77b4", alpha=0.12, label=f"equivalence margin ±{margin:g}"))
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.6 / max(len(rows), 1) - 0.12),
              ncol=4, frameon=False)
    _title(ax, "Each claim: our effect with its 95% interval (seeds and queries; amended, of record)", profile)
    fig.tight_layout()
    return fig
