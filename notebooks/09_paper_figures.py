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
# # 09 · The paper's figures and the claims table
#
# Every figure of notebooks 01-07, redrawn from the stored result tables alone
# (`results/<profile>/*.csv`): no model is trained or evaluated here, so this notebook runs in
# seconds and a figure can never depend on state left behind in another notebook.
# `figures/README.md` maps each figure to its notebook and the claim it tests. Figures of the
# cpu profile go to `figures/`, those of another profile to `figures/<profile>/`.
#
# Then the claims table: each claim of the paper, the paper's number, ours, and whether it
# reproduced, written to `results/<profile>/claims.md`. Last, whatever the profile, the experiment
# of record (the `reference` profile, run by `make reference`, not by the notebooks): its verdicts,
# primary endpoint first, read from the committed `results/reference/`.

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | gpu

# %%
from mote_lib.lab.notebooks import setup_notebook

setup_notebook()  # text progress bars; no third-party noise in the outputs (see its docstring)

# %%
import matplotlib.pyplot as plt
import pandas as pd

from mote_lib.lab import experiments, plots
from mote_lib.lab.claims import claims_figure, claims_table, write_claims
from mote_lib.lab.figures import figures_dir

pd.set_option("display.max_colwidth", 200)

# %%
drawn = []
for name, (table_name, _) in plots.FIGURES.items():
    fig = plots.render(name, experiments.read_result(table_name, profile), profile)
    plt.close(fig)
    drawn.append({"figure": name, "from": f"results/{profile}/{table_name}.csv",
                  "written to": str((figures_dir(profile) / f"{name}.png").relative_to(figures_dir(profile).parent))})
display(pd.DataFrame(drawn))

# %% [markdown]
# ## The claims table

# %%
claims = claims_table(profile)
path = write_claims(profile, claims)
print(f"written to {path.relative_to(experiments.results_dir(profile).parent.parent)}")
display(claims[["claim", "paper", "ours", "verdict"]])
print(claims.verdict.value_counts().to_string())

# %% [markdown]
# ## The experiment of record (`reference` profile)
#
# The notebooks' profiles are too small to decide anything (their verdicts above say so). The
# question "does MoTE beat IC?" is answered by the `reference` profile, pre-registered in
# `docs/preregistration.md` and run by `make reference` (hours, resumable; `make reference-status`
# tells what is left). Nothing is trained here: these cells read `results/reference/`, so they
# show whatever runs have landed, and say how many seeds each number rests on.

# %%
from mote_lib.lab import base_gap, manipulation, sizing

reference = claims_table("reference")
display(reference[["kind", "claim", "paper", "ours", "verdict", "reason"]])  # the primary endpoint is the first row
# The same claims as one picture (`make reference-tables` saves it as figures/reference/claims.png).
fig = claims_figure("reference", reference)
plt.show()

# %% [markdown]
# **Did the experts become task experts?** The pre-registered manipulation checks: how far the
# experts of each MoTE layer moved apart, against how far two IC seeds' MLPs lie apart, and MoTE
# scored with the right, no and a wrong query expert.

# %%
separation = manipulation.separation("reference")
display(separation)
print(manipulation.separation_sentence(separation).replace("**", ""))
ablation = manipulation.route_ablation("reference")
display(ablation)
print(manipulation.route_sentence(ablation))

# %% [markdown]
# **How many seeds does the primary endpoint need?** The pilot's arithmetic: the endpoint per seed
# pair at 60 and 180 steps, and the minimum detectable effect projected for more seed pairs
# (`python -m mote_lib.lab.sizing` writes the same into `results/reference/sizing.md`).

# %%
arms = [sizing.arm(p) for p in sizing.ARMS]
projection = sizing.projection(arms[-1].estimate, sizing.seed_cost_hours(sizing.run_costs(), arms[-1].steps))
print(sizing.decision(projection))
fig = sizing.figure(arms, projection)
plt.show()

# %% [markdown]
# **Why do the fine-tuned models score below the untrained base?** The base-gap study changes one
# factor at a time from IC seed 0 (diagnostic, one seed per arm; `results/reference/base_gap.md`).

# %%
display(base_gap.arm_scores().set_index("arm").round(2))
for finding in base_gap.findings(base_gap.arm_scores()):
    print("-", finding)
