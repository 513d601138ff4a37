"""What ``MoTEModel.encode`` does around the network: check the texts and tasks, batch, pool, check the output.

Plain functions over lists and tensors, no model state: ``MoTEModel.encode`` uses them, and so do
the modules that embed texts their own way (``mote_lib.distributed``, ``similarity``, ``sensitivity``,
``train``, MoEE's encoders).

Example:
    >>> from mote_lib.model.encoding import batches, padding_order
    >>> lengths = [3, 9, 5, 9]
    >>> [[lengths[i] for i in batch] for batch in batches(padding_order(lengths), 2)]
    [[9, 9], [5, 3]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from mote_lib.model.modeling import MoTEConfig

ON_TRUNCATION = ("warn", "raise", "ignore")  # what encode may do with a text over max_seq_length (or a callable)


def batches(items, size: int):
    """Consecutive slices of ``items`` of at most ``size`` (the last may be shorter).

    Example:
        >>> list(batches([1, 2, 3, 4, 5], 2))
        [[1, 2], [3, 4], [5]]
    """
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def padding_order(lengths: list[int]) -> list[int]:
    """Indices in the order to batch them so that batches pad little: longest first, ties in input order.

    ``encode`` sorts by tokens (after truncation), where sentence-transformers sorts by characters:
    on the bench's 256 texts at batch 32 that cuts padding from 24% of the computed tokens to 13%
    (``python bench/bench_suite.py --only encode``, ``padding_share``). Tasks are not grouped: a
    mixed MoTE batch splits by expert at little cost, while grouping by expert would pad each
    group's own longest batch.

    Example:
        >>> padding_order([3, 9, 5])
        [1, 2, 0]
    """
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Average the token vectors of each input over its real (non-padding) tokens."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return F.normalize(pooled, dim=-1) if normalize else pooled


def check_texts(texts: list, allow_empty: bool = False) -> None:
    """Raise, naming the index, for a text that is not a string, or empty or whitespace-only (unless ``allow_empty``)."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
        if not allow_empty and not text.strip():
            raise ValueError(f"texts[{i}] is {'empty' if not text else 'whitespace only'}: its embedding would be the "
                             "instruction's alone; drop it, or pass allow_empty=True")


def check_finite_embeddings(embeddings: torch.Tensor) -> None:
    """Raise, naming the texts, if an embedding (a row) holds NaN or inf."""
    bad = (~torch.isfinite(embeddings).all(dim=1)).nonzero(as_tuple=True)[0].tolist()
    if bad:
        raise FloatingPointError(f"encode: the embeddings of {_some_texts(bad)} hold NaN or inf ({len(bad)} of "
                                 f"{len(embeddings)}): the model overflows (encode in float32) or its weights are damaged")


def truncation_message(cut: list[int], total: int, max_length: int, raised: bool) -> str:
    """What ``encode`` says of the texts it cut (``cut``: their indices): the error's text if ``raised``, else the warning's."""
    if raised:
        return (f"{_some_texts(cut)} are longer than max_seq_length={max_length} tokens (instruction included): "
                "shorten them, raise config.max_seq_length, or pass on_truncation='warn' to embed their beginning")
    return (f"encode: {len(cut)} of {total} texts were longer than max_seq_length={max_length} tokens (instruction "
            "included) and were cut; pass on_truncation='raise' to make this an error, or 'ignore' to silence it")


def _some_texts(indices: list[int], limit: int = 10) -> str:
    """``texts[3], texts[7]`` (the first ``limit`` of them, and how many more)."""
    shown = ", ".join(f"texts[{i}]" for i in sorted(indices)[:limit])
    return shown + (f" and {len(indices) - limit} more" if len(indices) > limit else "")


def check_tasks(tasks: list[str], config: MoTEConfig) -> None:
    """Raise, listing the valid tasks, if a task is not one of ``config``'s."""
    unknown = sorted(set(tasks) - set(config.instructions))
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; valid tasks: {config.tasks}")


def _per_text_tasks(task: str | list[str] | None, n: int, config: MoTEConfig) -> list[str] | None:
    """``encode``'s ``task`` (one task, or one per text) as one task per text; None for EM without a task."""
    if task is None:
        if config.uses_instructions:
            raise ValueError(f"the {config.variant!r} variant needs task=...; valid tasks: {config.tasks}")
        return None
    tasks = [task] * n if isinstance(task, str) else list(task)
    if len(tasks) != n:
        raise ValueError(f"{len(tasks)} tasks for {n} texts: give one task, or one per text")
    check_tasks(tasks, config)  # EM ignores the task, but a misspelt one is still an error
    return tasks
