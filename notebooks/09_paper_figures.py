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
# reproduced, written to `results/<profile>/claims.md`.

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | gpu

# %%
import matplotlib.pyplot as plt
import pandas as pd

from mote_lib.lab import experiments, plots
from mote_lib.lab.claims import claims_table, write_claims
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
