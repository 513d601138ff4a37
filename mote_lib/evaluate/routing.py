"""Which MoTE task embeds an mteb input: ``route_task`` (standard library only).

mteb tells an encoder what it is embedding (``task_metadata.type``, and ``prompt_type`` for
retrieval queries and documents); the MoTE task picks the instruction and the expert:

    Retrieval / Reranking, queries     -> search_query
    Retrieval / Reranking, documents   -> search_document
    Classification                     -> classification
    Clustering                         -> clustering
    STS, PairClassification, Summarization, other types -> ``other_task`` (default ``classification``)

(ours: sentence-pair tasks compare two texts of the same kind, as classification inputs are; the
choice is one argument away.) The EM baseline ignores tasks.

Example:
    >>> from mote_lib.evaluate.routing import route_task
    >>> route_task("Reranking", "query"), route_task("STS", None), route_task("STS", None, other_task="clustering")
    ('search_query', 'classification', 'clustering')
"""

from __future__ import annotations

from mote_lib.names import RETRIEVAL_TYPES, TYPE_TO_TASK

DEFAULT_OTHER_TASK = "classification"


def route_task(task_type: str, prompt_type: str | None, other_task: str = DEFAULT_OTHER_TASK) -> str:
    """The MoTE task that embeds mteb inputs of ``task_type`` (and ``prompt_type``: query or document)."""
    if task_type in RETRIEVAL_TYPES:
        if prompt_type is None:
            raise ValueError(f"a {task_type} input must say whether it is a query or a document (prompt_type)")
        return "search_query" if str(prompt_type) in ("query", "PromptType.query") else "search_document"
    return TYPE_TO_TASK.get(task_type, other_task)
