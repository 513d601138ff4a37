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
# # 05 · Significance tests
#
# Is MoTE's difference from IC (and each model's from EM) distinguishable from noise? Three
# levels (`mote_lib.significance`; every difference is `a - b`, every test two-sided):
#
# 1. **Over datasets**: one paired score per dataset, Wilcoxon signed-rank and paired t-test,
#    with effect sizes (rank-biserial correlation; Cohen's d of the differences). The three
#    comparisons' p-values are Holm-adjusted per test.
# 2. **Within a dataset, over queries**: for every retrieval and reranking dataset, a paired
#    bootstrap of the mean per-query main score (the per-query values mteb averages), Holm-adjusted
#    over the datasets of each comparison.
# 3. **Over training seeds**: when the profile trains several seeds, the bootstrap resamples the
#    seeds as well (`seed_bootstrap`); with one seed it says nothing about training variance.
#
# The inputs are the tables notebook 02 wrote (`results/<profile>/`): nothing is re-evaluated here.

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | gpu

# %%
from mote_lib.lab.notebooks import setup_notebook

setup_notebook()  # text progress bars; no third-party noise in the outputs (see its docstring)

# %%
import pandas as pd

from mote_lib.lab import experiments, plots
from mote_lib.profiles import get_profile
from mote_lib.significance import adjust_p_values, bootstrap_by_task, compare_models

plan = get_profile(profile)
table = experiments.read_result("offline_suite", profile)
per_query = experiments.read_result("per_query", profile)
COMPARISONS = [("mote", "ic"), ("mote", "em"), ("ic", "em")]
print(f"seeds per model: {len(plan.seeds)}; datasets: {table.task.nunique()}; "
      f"queries in the bootstrap: {per_query[per_query.model == 'mote'].groupby('task').size().to_dict()}")

# %% [markdown]
# ## Over the datasets

# %%
over_datasets = pd.concat([compare_models(table, a, b) for a, b in COMPARISONS], ignore_index=True)
for _test, index in over_datasets.groupby("test").groups.items():
    over_datasets.loc[index, "p_adjusted"] = adjust_p_values(over_datasets.loc[index, "p_value"], "holm")
experiments.write_result(over_datasets, "significance", profile)
display(over_datasets[["a", "b", "test", "n", "mean_a", "mean_b", "mean_diff", "p_value", "p_adjusted",
                       "effect_size", "effect_size_name"]].round(4))

# %% [markdown]
# With twelve datasets a paired test can detect only differences that are large and consistent
# across them; a p-value above 0.05 here is absence of evidence, not evidence of no difference.

# %% [markdown]
# ## Within each retrieval and reranking dataset, over queries

# %%
bootstrap = pd.concat([bootstrap_by_task(per_query, a, b, n_resamples=plan.bootstrap_resamples)
                       .assign(comparison=f"{a} - {b}") for a, b in COMPARISONS], ignore_index=True)
experiments.write_result(bootstrap, "query_bootstrap", profile)
fig = plots.render("05_query_bootstrap", bootstrap, profile)
display(bootstrap[["comparison", "task", "n", "n_seeds_a", "mean_diff", "ci_low", "ci_high", "p_value", "p_adjusted"]]
        .round(4))

# %%
significant = bootstrap[bootstrap.p_adjusted < 0.05]
print(f"{len(significant)} of {len(bootstrap)} (comparison, dataset) cells differ at p_adjusted < 0.05:")
display(significant[["comparison", "task", "mean_diff", "p_adjusted"]].round(4))
if len(plan.seeds) == 1:
    print("One training seed per model: these intervals cover the test queries' variation only, not training's.")
