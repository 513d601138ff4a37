"""mote_lib.lab.figures.savefig writes PNG and PDF (TrueType fonts), the same figure twice gives the same
bytes; the figures of mote_lib.lab.plots keep tick labels apart, legends off the data, colour bars on
heatmaps, the tables' intervals, and collapsed models in view."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.text  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from mote_lib.lab import experiments, plots  # noqa: E402
from mote_lib.lab.figures import savefig  # noqa: E402


def _figure():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1, 2], [2, 0, 1])
    return fig


def test_savefig_writes_png_and_pdf_into_the_figures_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path))
    paths = savefig(_figure(), "demo")
    assert [p.name for p in paths] == ["demo.png", "demo.pdf"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_savefig_pdf_carries_no_creation_date(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path))
    pdf = savefig(_figure(), "demo", formats=("pdf",))[0].read_bytes()
    assert b"/CreationDate" not in pdf


def test_savefig_is_reproducible(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path / "a"))
    first = [p.read_bytes() for p in savefig(_figure(), "demo")]
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path / "b"))
    second = [p.read_bytes() for p in savefig(_figure(), "demo")]
    assert first == second


def test_figures_of_other_profiles_go_to_their_own_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path))
    assert savefig(_figure(), "demo", formats=("png",), profile="cpu")[0] == tmp_path / "demo.png"
    assert savefig(_figure(), "demo", formats=("png",), profile="smoke")[0] == tmp_path / "smoke" / "demo.png"


def test_savefig_pdf_embeds_truetype_not_type3_fonts(tmp_path, monkeypatch):
    # journals and arXiv reject Type 3 fonts (matplotlib's default); FontFile2 is an embedded TrueType program
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path))
    fig = _figure()
    fig.axes[0].set(title="text in the figure", xlabel="x")
    pdf = savefig(fig, "demo", formats=("pdf",))[0].read_bytes()
    assert b"/Subtype /Type3" not in pdf
    assert b"/FontFile2" in pdf


# ----------------------------------------------------------------------------- the figures of plots.py
# Layout rules checked on the renderer's bounding boxes (what a reader sees), for every figure drawn
# from the committed cpu tables and for constructed tables that hit the edge cases.


def _renderer(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _colour_bars(fig):
    return [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is not None]


def overlapping_tick_labels(fig) -> list[tuple[str, str]]:
    """Pairs of visible tick labels of one axis whose bounding boxes intersect."""
    renderer, pairs = _renderer(fig), []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t for t in axis.get_ticklabels(which="both") if t.get_visible() and t.get_text()]
            boxes = [t.get_window_extent(renderer) for t in labels]
            pairs += [(labels[i].get_text(), labels[j].get_text()) for i in range(len(boxes))
                      for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]
    return pairs


def legends_over_data(fig) -> list[str]:
    """Legends whose box intersects a plotting area (any axes but a colour bar): they could hide data."""
    renderer = _renderer(fig)
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    data_axes = [ax for ax in fig.axes if ax not in _colour_bars(fig) and ax.axison]
    return [", ".join(t.get_text() for t in legend.get_texts()) for legend in legends
            if any(legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer)) for ax in data_axes)]


def _texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


@pytest.mark.parametrize("name", list(plots.FIGURES))
def test_committed_figures_have_no_overlapping_tick_labels_and_no_legend_over_data(name):
    table_name = plots.FIGURES[name][0]
    try:
        table = experiments.read_result(table_name, "cpu")
    except FileNotFoundError:
        pytest.skip(f"results/cpu/{table_name}.csv not committed")
    fig = plots.draw(name, table, "cpu")
    assert overlapping_tick_labels(fig) == []
    assert legends_over_data(fig) == []
    plt.close(fig)


def test_checks_catch_the_old_overlaps():
    # the check must fail on what issue 14 saw: long probe names side by side, a legend inside the axes
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(range(3), [1, 2, 3], label="bars")
    ax.set_xticks(range(3), ["swap search_query / search_document"] * 3)
    ax.legend(loc="upper left")
    assert overlapping_tick_labels(fig) and legends_over_data(fig)
    plt.close(fig)


def _similarity():
    tasks = ["classification", "clustering", "search_query"]
    rows = [{"model": m, "task_a": a, "task_b": b, "cosine": 1.0 if a == b else c}
            for m, c in [("em", 1.0), ("ic", 0.9), ("mote", 0.8)] for a in tasks for b in tasks]
    return pd.DataFrame(rows)


def test_similarity_heatmaps_carry_one_shared_colour_bar():
    fig = plots.similarity_heatmaps(_similarity(), "tiny")
    bars = _colour_bars(fig)
    assert len(bars) == 1 and bars[0].get_ylabel() == "mean cosine"
    assert len(fig.axes) == 3  # ic, mote (EM left out) and the bar
    plt.close(fig)


def _capacity(ic2, mote2, gap2):
    types = ["Retrieval", "STS", "average (all datasets)"]
    full = [{"layers": 6, "task_type": t, "gap": 0.5, "ic": 70.0, "mote": 70.5} for t in types]
    cut = [{"layers": 2, "task_type": t, "gap": gap2, "ic": ic2, "mote": mote2} for t in types]
    return pd.DataFrame(full + cut)


def test_capacity_draws_and_marks_collapsed_models():
    fig = plots.capacity(_capacity(ic2=40.0, mote2=41.0, gap2=1.0), "tiny")
    models = fig.axes[0]
    drawn = {line.get_label(): list(line.get_xdata()) for line in models.get_lines()}
    assert drawn["ic"] == [2, 6] and drawn["mote"] == [2, 6]  # the collapsed depth is drawn, not dropped
    assert "collapsed: ic, mote" in _texts(fig)
    assert "compares collapsed models" in _texts(fig)
    plt.close(fig)


def test_capacity_marks_a_model_without_score():
    fig = plots.capacity(_capacity(ic2=65.0, mote2=float("nan"), gap2=float("nan")), "tiny")
    assert "mote: no score" in _texts(fig) and "no gap" in _texts(fig)
    assert "collapsed: ic" not in _texts(fig)  # ic kept 65 / 70 of its score: not collapsed
    plt.close(fig)


def test_training_curves_put_the_loss_without_ta_cl_on_its_own_axes():
    curves = pd.DataFrame([{"model": m, "seed": 0, "step": s, "task": t, "loss": 1.0, "smoothed": 1.0 + s}
                           for m in ["ic", "mote", "mote-no-tacl"] for t in ["retrieval", "clustering"] for s in (1, 2)])
    fig = plots.training_curves(curves, "tiny")
    for ax in fig.axes:
        models = {line.get_label() for line in ax.get_lines()}
        assert models in ({"ic", "mote"}, {"mote-no-tacl"})
    assert len(fig.axes) == 4 and legends_over_data(fig) == []
    plt.close(fig)


def _gains(with_intervals: bool):
    table = pd.DataFrame({"task_type": ["Retrieval", "Retrieval", "average (all datasets)"] * 2,
                          "model": ["gain ic", "gain mote", "gain mote", "ic", "mote", "mote"],
                          "score": [1.0, 2.0, 0.5, 80.0, 81.0, 70.0]})
    if with_intervals:
        table = table.assign(ci_low=table["score"] - 1, ci_high=table["score"] + 1)
    return table


def test_type_gains_draw_the_tables_intervals():
    fig = plots.type_gains(_gains(with_intervals=True), "tiny")
    intervals = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert len(intervals) == 2  # one per model
    assert plots.NO_INTERVALS not in _texts(fig)
    plt.close(fig)


def test_type_gains_say_when_the_table_has_no_intervals():
    fig = plots.type_gains(_gains(with_intervals=False), "tiny")
    assert not [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert plots.NO_INTERVALS in _texts(fig)
    plt.close(fig)


def test_notebook_08_figures_keep_legends_outside_and_a_colour_bar():
    tasks = ["BibleParaphrasePairs", "BrownGenreClassification", "BrownGenreClustering", "DebianPackageReranking",
             "DebianPackageRetrieval", "DebtagsUseClassification", "FaqReranking", "FaqRetrieval",
             "FoldocCategoryClustering", "LeeDocumentSTS", "WikipediaSectionRetrieval", "WordSenseDefinitionPairs"]
    methods = ["HS", "RW", "MoEE (concat)", "MoEE (sum)", "MoEE (sum), alpha auto"]
    per_task = pd.DataFrame([{"task": t, "method": m, "score": 90.0} for t in tasks for m in methods])
    fig = plots.router_embeddings(per_task, "tiny")
    assert legends_over_data(fig) == [] and overlapping_tick_labels(fig) == []
    plt.close(fig)
    usage = pd.DataFrame([{"task": t, "layer": layer, "expert": e, "weight": 0.25}
                          for t in ["classification", "clustering"] for layer in (0, 1) for e in ["classification", "clustering"]])
    fig = plots.expert_usage(usage, "tiny")
    assert len(_colour_bars(fig)) == 1
    plt.close(fig)


def test_the_claims_figure_draws_intervals_only_where_seeds_vary_and_keeps_its_legend_off_the_data():
    table = pd.DataFrame([
        {"claim": "primary", "kind": "primary", "effect": 1.5, "ci_low": 1.0, "ci_high": 2.0, "n_seeds": 6,
         "verdict": "supported", "paper_key": "retrieval_mote_minus_ic", "test": "difference"},
        {"claim": "one seed", "kind": "secondary", "effect": -0.7, "ci_low": -0.9, "ci_high": -0.5, "n_seeds": 1,
         "verdict": "inconclusive", "paper_key": "tacl_gain", "test": "difference"},
        {"claim": "near EM", "kind": "secondary", "effect": 0.3, "ci_low": -1.8, "ci_high": 2.3, "n_seeds": 3,
         "verdict": "inconclusive", "paper_key": "clustering_mote_minus_em", "test": "equivalence"},
        {"claim": "missing", "kind": "secondary", "effect": None, "ci_low": None, "ci_high": None, "n_seeds": None,
         "verdict": "not measured", "paper_key": "eb_minus_eob", "test": "difference"},
        {"claim": "A/A", "kind": "A/A check", "effect": 0.2, "ci_low": -0.6, "ci_high": 1.0, "n_seeds": 3,
         "verdict": "inconclusive", "paper_key": "aa", "test": "difference"}])
    paper = {"retrieval_mote_minus_ic": (1.94, 1), "tacl_gain": (0.41, 1), "clustering_mote_minus_em": (-0.06, 0),
             "eb_minus_eob": (None, 1)}
    fig = plots.claims_forest(table, paper, "reference", margin=1.0)
    bars = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert [c.has_xerr for c in bars] == [True, False, True, True]  # the one-seed row: a point, no interval
    assert "inconclusive: check passed" in _texts(fig) and "not measured" in _texts(fig)
    assert overlapping_tick_labels(fig) == [] and legends_over_data(fig) == []
    plt.close(fig)


def test_the_committed_reference_claims_figure_keeps_the_layout_rules():
    from mote_lib.lab.claims import claims_figure

    fig = claims_figure("reference")
    assert overlapping_tick_labels(fig) == [] and legends_over_data(fig) == []
    plt.close(fig)
