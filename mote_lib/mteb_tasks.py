"""The shipped evaluation suite as mteb tasks, and the real MTEB task lists by name.

Every task under ``data/eval/`` becomes an mteb task of its real type, scored by mteb's own
evaluators (nothing is re-implemented here):

    Retrieval           AbsTaskRetrieval                   (no ``top_ranked``)
    Reranking           AbsTaskRetrieval, type "Reranking" (``top_ranked`` = the candidate lists)
    Classification      AbsTaskClassification              (logistic regression on the embeddings)
    Clustering          AbsTaskClustering                  (mini-batch k-means, v-measure)
    STS                 AbsTaskSTS                         (Spearman of cosine vs human score)
    PairClassification  AbsTaskPairClassification          (average precision at the best threshold)

Evaluator options, set deliberately (``EVALUATOR_SETTINGS``; ours where mteb's defaults do not fit
data this small):

* Classification: ``samples_per_label=32``, ``n_experiments=10``. mteb's default (8 per label) on our
  7-label DebtagsUseClassification would fit each classifier on 56 texts; 32 per label uses most of
  the training split (Brown has 40 per genre) while still drawing 10 different training sets.
* Clustering: every document is embedded (``max_fraction_of_documents_to_embed=None``; mteb's
  default embeds 4%) and each of the 10 bootstrap draws resamples as many documents as the task has
  (``max_documents_per_cluster`` = the task's size; mteb's default of 16,384 would draw 16x over).

Example:
    >>> from mote_lib.mteb_tasks import offline_tasks
    >>> [t.metadata.name for t in offline_tasks(["FaqRetrieval", "LeeDocumentSTS"])]
    ['FaqRetrieval', 'LeeDocumentSTS']
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from mote_lib.data import data_dir, list_eval_tasks, load_eval_task
from mote_lib.names import RETRIEVAL_TYPES, SUITES
from mote_lib.offline import import_mteb

EVALUATOR_SETTINGS = {
    "Classification": {"samples_per_label": 32, "n_experiments": 10},
    "Clustering": {"max_fraction_of_documents_to_embed": None, "max_documents_per_cluster": "task size", "n_clusters": 10},
}

# The classic English MTEB (56 datasets over 7 task types), the paper's scope.
MTEB_EN_BENCHMARK = "MTEB(eng, v1)"
# ours: a quick GPU run, one to three small datasets per task type of MTEB(eng, v1).
MTEB_LITE = (
    "Banking77Classification", "EmotionClassification", "ImdbClassification",
    "TwentyNewsgroupsClustering", "BiorxivClusteringS2S",
    "SprintDuplicateQuestions", "TwitterSemEval2015",
    "AskUbuntuDupQuestions", "SciDocsRR",
    "SciFact", "NFCorpus", "ArguAna",
    "STSBenchmark", "SICK-R", "BIOSSES",
    "SummEval",
)


def offline_tasks(names: list[str] | None = None, root: str | Path | None = None) -> list:
    """The shipped evaluation tasks (all, or ``names``) as mteb task objects, data loaded lazily.

    Raises:
        ValueError: an unknown task name (the message lists the valid ones).
    """
    available = list_eval_tasks(root)
    names = available if names is None else list(names)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"unknown offline task(s) {unknown}; valid: {available}")
    return [_make_task(name, root) for name in names]


def mteb_tasks(suite: str, root: str | Path | None = None) -> list:
    """The tasks of a suite: ``offline`` (shipped data), ``mteb-lite`` or ``mteb-en`` (real MTEB, hub data).

    The real suites resolve from mteb's metadata, which needs no network; running them downloads
    their data from the hub.
    """
    if suite == "offline":
        return offline_tasks(root=root)
    mteb = import_mteb()
    if suite == "mteb-lite":
        return list(mteb.get_tasks(tasks=list(MTEB_LITE), languages=["eng"]))
    if suite == "mteb-en":
        return list(mteb.get_benchmark(MTEB_EN_BENCHMARK).tasks)
    raise ValueError(f"unknown suite {suite!r}; valid: {list(SUITES)}")


# ----------------------------------------------------------------------------- building the classes

def _metadata(meta: dict, root: Path):
    TaskMetadata = import_mteb("mteb.abstasks.task_metadata").TaskMetadata
    return TaskMetadata(
        name=meta["name"],
        description=f"{meta['description']} Source: {meta['source']}. Labels: {meta['labels']}.",
        # Local data: the path names the shipped folder, the revision the mote_lib version that built it.
        dataset={"path": str(root / "eval" / meta["name"]), "revision": "shipped"},
        type=meta["type"],
        category="t2t",
        modalities=["text"],
        eval_splits=meta.get("eval_splits", ["test"]),
        eval_langs=["eng-Latn"],
        main_score=meta["main_score"],
        domains=[d for d in meta.get("domains", []) if d in _known_domains()] or None,
        license="not specified",
        reference=None,
        date=None,
        task_subtypes=None,
        annotations_creators="derived",
        dialect=None,
        sample_creation="found",
        bibtex_citation="",
    )


@lru_cache(maxsize=1)
def _known_domains() -> frozenset[str]:
    """mteb's fixed list of task domains (a domain outside it is rejected by TaskMetadata)."""
    from typing import get_args

    return frozenset(get_args(import_mteb("mteb.abstasks.task_metadata").TaskDomain))


def _make_task(name: str, root: str | Path | None):
    AbsTaskClassification = import_mteb("mteb.abstasks.classification").AbsTaskClassification
    AbsTaskClustering = import_mteb("mteb.abstasks.clustering").AbsTaskClustering
    AbsTaskPairClassification = import_mteb("mteb.abstasks.pair_classification").AbsTaskPairClassification
    AbsTaskRetrieval = import_mteb("mteb.abstasks.retrieval").AbsTaskRetrieval
    AbsTaskSTS = import_mteb("mteb.abstasks.sts").AbsTaskSTS
    root = Path(root or data_dir())
    meta = json.loads((root / "eval" / name / "task.json").read_text())
    base = {
        "Retrieval": AbsTaskRetrieval, "Reranking": AbsTaskRetrieval, "Classification": AbsTaskClassification,
        "Clustering": AbsTaskClustering, "STS": AbsTaskSTS, "PairClassification": AbsTaskPairClassification,
    }[meta["type"]]
    attributes = {"metadata": _metadata(meta, root), "load_data": _load_data, "_data_root": root}
    if meta["type"] in RETRIEVAL_TYPES:
        attributes.update(task_specific_scores=_keep_per_query_scores, keeps_per_query_scores=True)
    if meta["type"] == "Classification":
        attributes.update(EVALUATOR_SETTINGS["Classification"])
    if meta["type"] == "Clustering":
        attributes.update(max_fraction_of_documents_to_embed=None, n_clusters=EVALUATOR_SETTINGS["Clustering"]["n_clusters"])
    if meta["type"] == "STS":
        # Our similarity scores are on a 0-1 scale (data/README.md); mteb rescales by these bounds.
        attributes.update(min_score=0, max_score=1)
    return type(name, (base,), attributes)()


# mteb's metric names -> the names pytrec_eval gives each query's score.
_PYTREC_METRICS = {"ndcg": "ndcg_cut", "map": "map_cut", "recall": "recall", "precision": "P"}


def per_query_metric(main_score: str) -> str:
    """The pytrec_eval key of a retrieval main score, e.g. ``ndcg_at_10`` -> ``ndcg_cut_10``."""
    metric, _, k = main_score.rpartition("_at_")
    if metric not in _PYTREC_METRICS or not k.isdigit():
        raise ValueError(f"no per-query form of main score {main_score!r}; known: {[m + '_at_K' for m in _PYTREC_METRICS]}")
    return f"{_PYTREC_METRICS[metric]}_{k}"


def _keep_per_query_scores(self, scores, qrels, results, hf_split: str, hf_subset: str) -> dict:
    """mteb's hook for extra scores, used to keep each query's main score (for paired bootstraps).

    ``scores`` is pytrec_eval's per-query table that mteb averages into its main score; keeping it
    here re-implements nothing. It is left on the task as ``per_query_scores[split]``.
    """
    metric = per_query_metric(self.metadata.main_score)
    if not hasattr(self, "per_query_scores"):
        self.per_query_scores = {}
    self.per_query_scores[hf_split] = {query: values[metric] for query, values in scores.items()}
    return {}


def _load_data(self, num_proc: int | None = None, **kwargs) -> None:
    """Fill ``self.dataset`` from the shipped files in the shape mteb's task type expects."""
    from datasets import DatasetDict

    if self.data_loaded:
        return
    task = load_eval_task(self.metadata.name, self._data_root)
    split = self.metadata.eval_splits[0]
    parts = task.splits[split]
    kind = self.metadata.type
    if kind in RETRIEVAL_TYPES:
        self.dataset = {"default": {split: _retrieval_split(parts)}}
    elif kind == "Classification":
        self.dataset = DatasetDict(train=parts["train"], **{split: parts["test"]})
    elif kind == "Clustering":
        data = parts["data"].rename_columns({"text": "sentences", "label": "labels"})
        self.max_documents_per_cluster = len(data)
        self.dataset = DatasetDict({split: data})
    elif kind == "PairClassification":
        self.dataset = DatasetDict({split: parts["data"].rename_column("label", "labels")})
    else:  # STS
        self.dataset = DatasetDict({split: parts["data"]})
    self.data_loaded = True


def _retrieval_split(parts: dict) -> dict:
    from collections import defaultdict

    from datasets import Dataset

    relevant: dict[str, dict[str, int]] = defaultdict(dict)
    for query_id, corpus_id, score in zip(parts["qrels"]["query_id"], parts["qrels"]["corpus_id"], parts["qrels"]["score"]):
        relevant[query_id][corpus_id] = int(score)
    corpus = parts["corpus"]
    if "title" not in corpus.column_names:
        corpus = corpus.add_column("title", [""] * len(corpus))
    top_ranked = None
    if "top_ranked" in parts:
        top_ranked = dict(zip(parts["top_ranked"]["query_id"], parts["top_ranked"]["corpus_ids"]))
    return {
        "corpus": corpus.select_columns(["id", "title", "text"]),
        "queries": Dataset.from_dict({"id": parts["queries"]["id"], "text": parts["queries"]["text"]}),
        "relevant_docs": dict(relevant),
        "top_ranked": top_ranked,
    }
