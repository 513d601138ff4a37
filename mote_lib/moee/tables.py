"""The paper's task selection and reported numbers, and the tables MoEE results are read in.

``evaluate_moee`` (``mote_lib.moee.mteb``) gives one row per (model, prompt, method, task);
``category_table`` averages it the paper's way and ``prompt_spread`` measures prompt robustness.
Nothing here needs mteb (``mote_lib.moee.mteb.paper_tasks`` gives ``PAPER_TASKS`` as mteb tasks).

Example:
    >>> sum(len(names) for names in PAPER_TASKS.values()), len(PAPER_TASKS)      # datasets, categories
    (19, 6)
    >>> float(paper_reference_table().loc["OLMoE-1B-7B", "MoEE (sum)"])
    55.16
"""

from __future__ import annotations

from mote_lib.moee.embeddings import METHODS

# paper: the 19 MTEB datasets of the MoEE evaluation, by category.
PAPER_TASKS: dict[str, list[str]] = {
    "Classification": ["TweetSentimentExtractionClassification", "EmotionClassification", "ToxicConversationsClassification"],
    "Clustering": ["TwentyNewsgroupsClustering", "MedrxivClusteringS2S"],
    "PairClassification": ["TwitterURLCorpus", "TwitterSemEval2015"],
    "Reranking": ["AskUbuntuDupQuestions", "SciDocsRR", "StackOverflowDupQuestions"],
    "STS": ["STS12", "STS13", "STS14", "STS15", "STS16", "BIOSSES", "SICK-R", "STSBenchmark"],
    "Summarization": ["SummEval"],
}
# paper (Tables 3/4, PromptEOL, Avg over the 6 categories): the only reported numbers known here.
PAPER_PROMPTEOL_AVG = {
    "DeepSeekMoE-16B": {"hs": 42.30, "sum": 53.28},
    "Qwen1.5-MoE-A2.7B": {"hs": 51.67, "sum": 55.04},
    "OLMoE-1B-7B": {"hs": 53.72, "sum": 55.16},
}
METHOD_LABELS = {"hs": "HS", "rw": "RW", "concat": "MoEE (concat)", "sum": "MoEE (sum)"}


def category_table(table):
    """The paper's aggregation: mean per category (task type), then Avg = mean of the categories.

    Rows: (model_label, prompt, method); columns: the categories present, then ``Avg``. Failed tasks
    (``error`` set) raise: an average over a silently shorter list would not compare.
    """
    failed = table[table["error"].notna()]
    if len(failed):
        raise ValueError(f"{len(failed)} task(s) failed: {failed[['model', 'task', 'error']].values.tolist()}")
    per_task = table.groupby(["model_label", "prompt", "method", "task_type", "task"], sort=False)["score"].mean()
    per_category = per_task.groupby(level=["model_label", "prompt", "method", "task_type"], sort=False).mean().unstack("task_type")
    per_category["Avg"] = per_category.mean(axis=1)
    return per_category


def paper_reference_table():
    """The paper's reported PromptEOL averages (not our results), as a table beside ours."""
    import pandas as pd

    rows = [{"model": model, "method": METHOD_LABELS[m], "paper Avg (reported)": score}
            for model, scores in PAPER_PROMPTEOL_AVG.items() for m, score in scores.items()]
    return pd.DataFrame(rows).pivot(index="model", columns="method", values="paper Avg (reported)")


def prompt_spread(table):
    """Prompt robustness: per task and method, the spread of scores across prompts; then the mean per method.

    Returns:
        Rows = methods; columns ``std`` (standard deviation across prompts, averaged over tasks),
        ``range`` (max - min across prompts, averaged over tasks), ``prompts`` and ``tasks`` counted.
        The paper's claim: RW's spread is smaller than HS's.
    """
    per_task = table.groupby(["method", "task", "prompt"])["score"].mean().groupby(level=["method", "task"])
    spread = per_task.agg(std="std", range=lambda s: s.max() - s.min(), prompts="count")
    out = spread.groupby(level="method").agg(std=("std", "mean"), range=("range", "mean"), prompts=("prompts", "min"),
                                             tasks=("std", "count"))
    return out.reindex([m for m in METHODS if m in out.index])
