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
# # 01 · Train the models
#
# Every model the later notebooks compare, trained with TA-CL (task-aware contrastive learning:
# each step's batch comes from one task, with that task's temperature) from all-MiniLM-L6-v2:
#
# | label | what it is | paper |
# |---|---|---|
# | `em` | dense, no instruction: the reference every gain is measured against | EM |
# | `ic` | dense, the task instruction prepended | IC |
# | `mote` | instruction + one expert (MLP and both norms) per task in every other block | MoTE (EOB) |
# | `mote-eb` | experts in every block | ablation EB |
# | `mote-tlr` | a learned top-1 router per MoTE layer instead of the task's expert | ablation TLR |
# | `mote-no-tacl` | MoTE, batches mixed across tasks and one temperature | ablation "w/o TA-CL" |
# | `ic-2l`, `mote-2l`, ... | IC and MoTE on the base model cut to its first N layers | capacity sweep (ours) |
#
# The plan of each profile (seeds, steps, sizes) is `mote_lib.profiles.PROFILES`; a run is cached
# under `runs/models/` by its configuration, so this notebook trains each model once and every
# later notebook reuses it.

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | gpu

# %%
from mote_lib.lab.notebooks import setup_notebook

setup_notebook()  # text progress bars; no third-party noise in the outputs (see its docstring)

# %%
import pandas as pd

from mote_lib.lab import experiments, plots
from mote_lib.profiles import get_profile

plan = get_profile(profile)
labels = experiments.all_models(profile)
print(plan)
display(pd.DataFrame([{"model": label, **{k: v for k, v in vars(experiments.train_config(label, profile)).items()
                                          if k in ("variant", "layers", "base_layers", "ta_cl", "steps", "batch_size",
                                                   "max_seq_length", "lr")}} for label in labels]))

# %% [markdown]
# ## Train (or reuse) every run
#
# On the 2-core CPU machine a cpu-profile step (batch 32, sequences of up to 128 tokens) takes about
# 3 s for the dense and sequence-routed models and 6-7 s for token-level routing, so a fresh clone
# spends most of this profile's time here; a second run of the notebook takes seconds.

# %%
runs = experiments.train_models(labels, profile, show_progress=True)  # a bar per model trained now; none for a cached one
experiments.write_result(runs, "training_runs", profile)
display(runs)

# %% [markdown]
# Parameters: every MoTE variant has as many **active** parameters per input as EM and IC (one
# expert per layer runs), and more in total (the other tasks' experts). The capacity-sweep models
# are smaller because they keep fewer layers.

# %% [markdown]
# ## Training curves per task
#
# The contrastive loss of each step, by the task the step trained (TA-CL steps are single-task;
# the no-TA-CL run's mixed batches are logged under each task their rows came from), averaged
# over the last 10 steps of that task.

# %%
curves = experiments.training_curves(labels, profile)
experiments.write_result(curves, "training_curves", profile)
fig = plots.render("01_training_curves", curves, profile)
