# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Inter-task similarity
#
# The paper's analysis of *why* MoTE helps: embed one fixed sample of texts under every task and
# compare each text's task embeddings by cosine. EM ignores the task (every cosine is exactly 1);
# IC changes only the instruction in front of the text; MoTE changes the instruction and the
# expert. The paper reports lower inter-task similarity under MoTE: the tasks' embeddings of one
# text are more specialised. Then, layer by layer, where in depth the tasks' representations part.
#
# The texts are a seeded sample spread evenly over the twelve offline tasks
# (`experiments.analysis_texts`); hidden states are pooled over the text's own tokens, so the
# instruction tokens themselves never count as a difference (`mote_lib.similarity`).

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | gpu

# %%
from mote_lib.lab.notebooks import setup_notebook

setup_notebook()  # text progress bars; no third-party noise in the outputs (see its docstring)

# %%
import numpy as np
import pandas as pd

from mote_lib.lab import experiments, plots
from mote_lib.lab.notebooks import widgets_unavailable
from mote_lib.profiles import get_profile
from mote_lib.similarity import inter_task_cosines, inter_task_similarity, layerwise_divergence, task_embeddings

plan = get_profile(profile)
texts = experiments.analysis_texts(plan.analysis_texts)
models = {label: experiments.load_model(label, profile) for label in ("em", "ic", "mote")}
print(f"{len(texts)} texts, e.g. {texts[0][:80]!r}")

# %% [markdown]
# ## Output embeddings

# %%
embeddings = {label: task_embeddings(model, texts) for label, model in models.items()}
matrices = {label: inter_task_similarity(e) for label, e in embeddings.items()}
assert np.allclose(matrices["em"].values, 1, atol=1e-5), "EM must embed a text identically under every task"
similarity = pd.concat([m.rename_axis("task_a").reset_index().melt(id_vars="task_a", var_name="task_b", value_name="cosine")
                        .assign(model=label) for label, m in matrices.items()], ignore_index=True)
experiments.write_result(similarity, "inter_task_similarity", profile)
fig = plots.render("03_similarity_heatmaps", similarity, profile)

# %%
off_diagonal = similarity[similarity.task_a < similarity.task_b]
display(off_diagonal.pivot_table(index=["task_a", "task_b"], columns="model", values="cosine")
        .assign(**{"mote - ic": lambda d: d["mote"] - d["ic"]}).round(4))
mean_similarity = off_diagonal.groupby("model")["cosine"].mean()
print("mean inter-task cosine over the six task pairs:", mean_similarity.round(4).to_dict())

# %% [markdown]
# Per text, not only on average: the distribution of the cosine for each task pair.

# %%
cosines = pd.concat([inter_task_cosines(e).assign(model=label) for label, e in embeddings.items() if label != "em"],
                    ignore_index=True)
experiments.write_result(cosines, "inter_task_cosines", profile)
fig = plots.render("03_cosine_distributions", cosines, profile)
display(cosines.groupby(["pair", "model"])["cosine"].describe()[["mean", "std", "min", "50%"]].round(4))

# %% [markdown]
# ## Layer by layer
#
# For three task pairs (the two search roles; the two label tasks; documents vs clustering, the
# pair the paper's open questions suggest merging), the cosine between a text's mean-pooled
# hidden states under the two tasks after each layer. MoTE layers (1, 3, 5) are where the experts
# act; attention spreads the instruction's influence in every layer.

# %%
PAIRS = [("search_query", "search_document"), ("classification", "clustering"), ("search_document", "clustering")]
divergence = pd.concat([layerwise_divergence(model, texts, a, b).assign(model=label, pair=f"{a} / {b}")
                        for label, model in models.items() if label != "em" for a, b in PAIRS], ignore_index=True)
experiments.write_result(divergence, "layerwise_divergence", profile)
fig = plots.render("03_layerwise_divergence", divergence, profile)
display(divergence.pivot_table(index="layer", columns=["pair", "model"], values="cosine").round(4))

# %% [markdown]
# ## Explore
#
# `explore(model, task_a, task_b, layer)` shows, for one model and task pair, the texts whose two
# task embeddings differ most and least, and the pair's divergence at one layer. Live in JupyterLab
# with ipywidgets installed (the `notebooks` extra), the cell below it gives dropdowns and sliders.
# The embeddings are those computed above; a pair's layer-by-layer divergence is computed once (the
# pairs of the figure above are already there), so a redraw with another layer or count is instant
# and only a new model and pair takes seconds.


# %%
DIVERGENCE = {(label, *pair.split(" / ")): rows.drop(columns=["model", "pair"]).reset_index(drop=True)
              for (label, pair), rows in divergence.groupby(["model", "pair"])}


def divergence_of(model: str, task_a: str, task_b: str) -> pd.DataFrame:
    if (model, task_a, task_b) not in DIVERGENCE:
        DIVERGENCE[model, task_a, task_b] = layerwise_divergence(models[model], texts, task_a, task_b)
    return DIVERGENCE[model, task_a, task_b]


def explore(model: str = "mote", task_a: str = "search_query", task_b: str = "search_document", layer: int = -1,
            show: int = 3):
    pair = inter_task_cosines({t: embeddings[model][t] for t in (task_a, task_b)}).sort_values("cosine")
    for title, rows in (("most different", pair.head(show)), ("most alike", pair.tail(show))):
        print(f"-- {model}: {task_a} vs {task_b}, {title}")
        for row in rows.itertuples():
            print(f"   cos {row.cosine:.4f}  {texts[row.text][:100]!r}")
    table = divergence_of(model, task_a, task_b)
    layer = layer % len(table)  # -1: the last layer, whatever the depth
    print(f"-- layer {layer}: cosine {table.loc[layer, 'cosine']:.4f}, relative L2 {table.loc[layer, 'relative_l2']:.4f}")


explore()

# %%
why_not = widgets_unavailable()
if why_not is None:
    from ipywidgets import IntSlider, interact

    tasks = models["mote"].config.tasks
    depth = len(models["mote"].blocks)
    interact(explore, model=list(models), task_a=tasks, task_b=tasks[::-1],  # redraw when a slider is let go
             layer=IntSlider(value=depth, min=0, max=depth, continuous_update=False),
             show=IntSlider(value=3, min=1, max=10, continuous_update=False))
else:
    print(f"No widgets: {why_not}. Call explore(model, task_a, task_b, layer, show) instead, e.g.")
    print(f"explore('ic', 'classification', 'clustering', layer=2); models {list(models)}, tasks {models['mote'].config.tasks}")
