"""MoEE's embeddings and similarities: one unit vector per text and method, and the sum similarity.

The methods: **HS** and **RW** alone, **MoEE(concat)** = [HS; RW] compared by cosine, and
**MoEE(sum)**, whose similarity is cos(HS) + alpha * cos(RW).

What this module adds to the recipe (**ours**):

* No per-batch standardisation (the public code's flaw): a text's embedding never depends on its
  batch-mates.
* MoEE(sum) is returned as one vector, [HS/|HS| ; sqrt(alpha) RW/|RW|] / sqrt(1 + alpha), whose
  cosine (= dot product: it has unit norm) is exactly (cos(HS) + alpha cos(RW)) / (1 + alpha). So
  every evaluator agrees with the sum similarity, k-means clustering and logistic-regression
  classification included, and ``sum_similarity_from_embeddings`` recovers the unscaled sum.
* ``alpha="auto"``: per task and without labels, alpha = std(cos HS) / std(cos RW) over the pairs
  of the task's texts, so that the two similarities spread equally in the sum (``spread_matched_alpha``).

Example:
    >>> import numpy as np
    >>> from mote_lib.moee.features import Features
    >>> f = Features(hs=np.array([[3.0, 4.0], [4.0, 3.0]]), rw=np.array([[1.0, 0.0], [0.0, 1.0]]), layers=1, experts=2)
    >>> e = moee_embedding(f, "sum", alpha=1.0)
    >>> cosine, by_sum = (e @ e.T)[0, 1], sum_similarity(f.hs, f.rw, f.hs, f.rw, alpha=1.0)[0, 1]
    >>> round(float(cosine), 6), round(float(by_sum), 6)        # (cos HS + cos RW) / 2 = (0.96 + 0) / 2
    (0.48, 0.96)
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mote_lib.moee.features import Features

METHODS = ("hs", "rw", "concat", "sum")


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Each row divided by its Euclidean norm (numpy); a zero row is an error, not a NaN.

    Example:
        >>> l2_normalize(np.array([[3.0, 4.0]])).tolist()
        [[0.6, 0.8]]
    """
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("a zero vector has no direction: cannot normalise it")
    return x / norms


def moee_embedding(features: Features, method: str = "sum", alpha: float = 1.0) -> np.ndarray:
    """One unit-norm vector per text for ``method``; its cosine is the method's similarity.

    * ``hs``, ``rw``: HS or RW, normalised;
    * ``concat``: [HS; RW] as they are, normalised (paper's MoEE(concat); with no per-batch
      standardisation the larger of the two norms, usually HS's, dominates);
    * ``sum``: [HS/|HS| ; sqrt(alpha) RW/|RW|] / sqrt(1 + alpha), whose cosine is
      (cos HS + alpha cos RW) / (1 + alpha): the sum similarity up to the constant 1 + alpha.

    Example:
        >>> import numpy as np
        >>> f = Features(hs=np.array([[3.0, 4.0]]), rw=np.array([[1.0, 0.0]]), layers=1, experts=2)
        >>> moee_embedding(f, "sum", alpha=3.0).astype(float).round(3).tolist()   # [0.6, 0.8] / 2, sqrt(3) * [1, 0] / 2
        [[0.3, 0.4, 0.866, 0.0]]
    """
    if method == "hs":
        return l2_normalize(features.hs)
    if method == "rw":
        return l2_normalize(features.rw)
    if method == "concat":
        return l2_normalize(np.concatenate([features.hs, features.rw], axis=1))
    if method == "sum":
        if not alpha > 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        parts = [l2_normalize(features.hs), math.sqrt(alpha) * l2_normalize(features.rw)]
        return (np.concatenate(parts, axis=1) / math.sqrt(1 + alpha)).astype(np.float32)
    raise ValueError(f"unknown method {method!r}; valid: {list(METHODS)}")


def sum_similarity(hs1: np.ndarray, rw1: np.ndarray, hs2: np.ndarray, rw2: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """MoEE(sum) similarity matrix: cos(HS) + alpha * cos(RW), (n1, n2).

    Example:
        >>> import numpy as np
        >>> hs1, rw1, hs2, rw2 = np.array([[1.0, 0]]), np.array([[1.0, 1]]), np.array([[1.0, 1]]), np.array([[1.0, 1]])
        >>> round(float(sum_similarity(hs1, rw1, hs2, rw2, alpha=2.0)[0, 0]), 6)   # 1/sqrt(2) + 2 * 1
        2.707107
    """
    return l2_normalize(hs1) @ l2_normalize(hs2).T + alpha * (l2_normalize(rw1) @ l2_normalize(rw2).T)


def split_sum_embedding(embeddings: np.ndarray, hs_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undo ``moee_embedding(..., "sum", alpha)``: (HS direction, RW direction, alpha per row).

    alpha is read back as |RW part|^2 / |HS part|^2, so the vectors describe themselves.
    """
    hs, rw = embeddings[:, :hs_dim], embeddings[:, hs_dim:]
    alpha = (np.linalg.norm(rw, axis=1) / np.linalg.norm(hs, axis=1)) ** 2
    return l2_normalize(hs), l2_normalize(rw), alpha


def sum_similarity_from_embeddings(e1, e2, hs_dim: int, pairwise: bool = False) -> np.ndarray:
    """cos(HS) + alpha cos(RW) from two sets of MoEE(sum) vectors (matrix, or per pair if ``pairwise``)."""
    h1, r1, a1 = split_sum_embedding(_as_numpy(e1), hs_dim)
    h2, r2, a2 = split_sum_embedding(_as_numpy(e2), hs_dim)
    alpha = float(np.median(a1))
    if not (np.allclose(a1, alpha, rtol=1e-3) and np.allclose(a2, alpha, rtol=1e-3)):
        raise ValueError("these MoEE(sum) vectors were made with different alphas: their similarities do not compare")
    if pairwise:
        return (h1 * h2).sum(1) + alpha * (r1 * r2).sum(1)
    return h1 @ h2.T + alpha * (r1 @ r2.T)


def embedding_similarity(e1, e2, method: str, hs_dim: int, pairwise: bool = False) -> np.ndarray:
    """The similarity of two sets of ``moee_embedding`` vectors of ``method`` (matrix, or per pair if ``pairwise``).

    The cosine for ``hs``, ``rw`` and ``concat``; cos(HS) + alpha cos(RW) itself for ``sum``
    (``sum_similarity_from_embeddings``; ``hs_dim`` is where the HS part ends).

    Example:
        >>> f = Features(hs=np.array([[1.0, 0.0], [0.0, 1.0]]), rw=np.array([[1.0, 1.0], [1.0, 1.0]]), layers=1, experts=2)
        >>> e = moee_embedding(f, "sum", alpha=2.0)
        >>> embedding_similarity(e, e, "sum", hs_dim=2).round(4).tolist()        # cos HS + 2 cos RW
        [[3.0, 2.0], [2.0, 3.0]]
    """
    if method == "sum":
        return sum_similarity_from_embeddings(e1, e2, hs_dim, pairwise=pairwise)
    e1, e2 = l2_normalize(_as_numpy(e1)), l2_normalize(_as_numpy(e2))
    return (e1 * e2).sum(1) if pairwise else e1 @ e2.T


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def spread_matched_alpha(features: Features, max_texts: int = 512) -> float:
    """**ours**: a label-free alpha for a task: std(cos HS) / std(cos RW) over pairs of its texts.

    Scaling cos(RW) by this ratio gives the two terms of the sum the same spread over the task's
    text pairs, so neither similarity drowns the other whatever the models' scales. It uses the
    first ``max_texts`` texts, so it costs one (n, n) product and no labels.
    """
    n = min(len(features.hs), max_texts)
    if n < 3:
        raise ValueError(f"spread_matched_alpha needs at least 3 texts, got {n}")
    pairs = np.triu_indices(n, k=1)
    hs, rw = l2_normalize(features.hs[:n]), l2_normalize(features.rw[:n])
    spread_hs, spread_rw = (hs @ hs.T)[pairs].std(), (rw @ rw.T)[pairs].std()
    if spread_rw == 0:
        raise ValueError("cos(RW) is the same for every pair of these texts: alpha cannot be matched")
    return float(spread_hs / spread_rw)
