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
# # 07 · Next checks
#
# The seed summary's open questions, as experiments on our models:
#
# 1. **Task correlation of expert pairs**: which experts changed alike during fine-tuning?
# 2. **Expert consolidation**: merge the two most alike experts into their average, and average
#    all four (WAVE: the model becomes dense); how much score is lost?
# 3. **Cross-domain re-ranking generalisation**: the paper sees MoTE fall below IC on re-ranking
#    and blames distribution shift. Does MoTE's edge hold on our tasks whose kind of pair the
#    training data lacks?
# 4. **Capacity sweep**: MoTE vs IC as the base model shrinks (MiniLM cut to its first layers).
#    Does the gap widen when there is less shared capacity to hold every task?

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | gpu

# %%
from mote_lib.lab.notebooks import setup_notebook

setup_notebook()  # text progress bars; no third-party noise in the outputs (see its docstring)

# %%
import numpy as np
import pandas as pd

from mote_lib.evaluate import evaluate_models, scores_by_task, type_means
from mote_lib.lab import experiments, plots
from mote_lib.model import MoTEModel
from mote_lib.names import RETRIEVAL_TYPES
from mote_lib.profiles import get_profile
from mote_lib.similarity import expert_similarity_matrix, expert_weight_similarity, merge_experts

plan = get_profile(profile)
table = experiments.read_result("offline_suite", profile)
mote = experiments.load_model("mote", profile)
initial = MoTEModel.from_base(mote.config)  # what training started from: every expert a copy of the dense block

# %% [markdown]
# ## 1. Which experts changed alike
#
# The cosine between two experts' fine-tuning updates (weights now minus weights at the start,
# all parameters of the expert flattened), per MoTE layer, averaged over layers.

# %%
pairs = expert_weight_similarity(mote, "initial", initial=initial)
display(pairs.pivot_table(index=["expert_a", "expert_b"], columns="layer", values="cosine").round(3))
matrix = expert_similarity_matrix(pairs)
square = matrix.rename_axis("expert_a").reset_index().melt(id_vars="expert_a", var_name="expert_b", value_name="cosine")
experiments.write_result(square, "expert_similarity", profile)
fig = plots.render("07_expert_similarity", square, profile)
ranked = pairs.groupby(["expert_a", "expert_b"])["cosine"].mean().sort_values(ascending=False)
display(ranked.round(4).to_frame("mean cosine over layers"))
most_alike = list(ranked.index[0])
suggested = ranked.index.get_indexer([tuple(sorted(("search_document", "clustering")))])[0]
print(f"most alike: {most_alike}; the paper's suggested pair (search_document, clustering) ranks "
      f"{suggested + 1} of {len(ranked)}")

# %% [markdown]
# ## 2. Consolidation: merge, then evaluate on the offline suite
#
# On the profile's evaluation sample, as in notebook 02 (which says why sklearn's
# `UndefinedMetricWarning` about labels never predicted is hidden: the scores are not affected).

# %%
merged = {f"mote, merged {'+'.join(most_alike)}": merge_experts(mote, most_alike),
          "mote, WAVE (all experts averaged)": merge_experts(mote, mote.config.experts, into="wave")}
merged_table = evaluate_models(merged, data_root=experiments.eval_data_root(profile), show_progress=True)
merged_table["seed"] = plan.seeds[0]
both = pd.concat([table[(table.model == "mote") & (table.seed == plan.seeds[0])], merged_table], ignore_index=True)
per_task = scores_by_task(both)
by_type = type_means(per_task.drop(columns="mote").sub(per_task["mote"], axis=0)).T
display(by_type.round(2))
consolidation = by_type.rename_axis("task_type").reset_index().melt(id_vars="task_type", var_name="model", value_name="change")
experiments.write_result(consolidation, "consolidation", profile)
fig = plots.render("07_consolidation", consolidation, profile)

# %% [markdown]
# ## 3. Re-ranking and retrieval in and out of the training domain
#
# `in domain`: the training set holds the same kind of pair from the same source
# (`experiments.IN_DOMAIN_TASKS`); the other tasks' pairs have no training counterpart.

# %%
search = scores_by_task(table[table.task_type.isin(RETRIEVAL_TYPES)])[["em", "ic", "mote"]].reset_index()
search["domain"] = np.where(search["task"].isin(list(experiments.IN_DOMAIN_TASKS)), "in domain", "cross domain")
search["mote - ic"] = search["mote"] - search["ic"]
search["mote - em"] = search["mote"] - search["em"]
experiments.write_result(search, "reranking_domains", profile)
display(search.round(2))
display(search.groupby(["domain", "task_type"])[["mote - ic", "mote - em"]].mean().round(2))

# %% [markdown]
# ## 4. Capacity sweep
#
# IC and MoTE trained on MiniLM cut to its first N layers (same data, steps and seed), scored on
# the offline suite; the gap is MoTE - IC per task type and on the dataset average.

# %%
full_depth = mote.backbone_config.num_hidden_layers
rows = []
for layers in (full_depth, *plan.capacity_layers):
    ic_label, mote_label = ("ic", "mote") if layers == full_depth else (experiments.capacity_label("ic", layers),
                                                                        experiments.capacity_label("mote", layers))
    scores = scores_by_task(table[table.model.isin([ic_label, mote_label])])
    gap = (scores[mote_label] - scores[ic_label]).groupby(level="task_type").mean()
    gap.loc["average (all datasets)"] = (scores[mote_label] - scores[ic_label]).mean()
    rows += [{"layers": layers, "task_type": t, "gap": g, "ic": scores[ic_label].mean(), "mote": scores[mote_label].mean()}
             for t, g in gap.items()]
capacity = pd.DataFrame(rows)
experiments.write_result(capacity, "capacity", profile)
fig = plots.render("07_capacity", capacity, profile)
display(capacity.pivot_table(index="task_type", columns="layers", values="gap").round(2))
display(capacity.drop_duplicates("layers")[["layers", "ic", "mote"]].round(2).rename(
    columns={"ic": "ic average", "mote": "mote average"}))
