"""Count sketches of weight changes: compare training runs after their weights are gone.

A count sketch maps a vector ``x`` of any length to ``m`` buckets: coordinate ``i`` is added,
with a sign ``s(i)``, into bucket ``h(i)``. It is linear, and for two vectors of the same length
``||sketch(x) - sketch(y)||^2`` estimates ``||x - y||^2`` without bias, with a relative standard
error of about ``sqrt(2 / m)`` (1.1% of the squared distance, half that of the distance, at
``m = 16384``). The runner keeps, per layer and expert, the sketch of the change of the weights
from their initial values (``weight_sketch.npz``); the distance between two runs' weights (IC seed
0 vs IC seed 1, say) is then the distance between their sketches.

The hash is splitmix64 of the coordinate index and a fixed seed, computed in integer arithmetic,
so every machine and numpy version draws the same buckets and signs: sketches written years apart
stay comparable.

Example:
    >>> import numpy as np
    >>> from mote_lib.lab.weight_sketch import count_sketch, sketch_distance
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=200_000), rng.normal(size=200_000)
    >>> exact = float(np.linalg.norm(x - y))
    >>> abs(sketch_distance(count_sketch(x), count_sketch(y)) / exact - 1) < 0.03
    True
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

BUCKETS = 16384
HASH_SEED = 20250617  # fixed for ever: changing it makes new sketches incomparable with stored ones

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 values (wrapping multiplication, as in the reference C code)."""
    with np.errstate(over="ignore"):
        z = (values + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return z ^ (z >> np.uint64(31))


@lru_cache(maxsize=8)
def _hash(length: int, buckets: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket and sign of every coordinate 0..length-1 (cached: every run's layers share one length)."""
    mixed = _splitmix64(np.arange(length, dtype=np.uint64) ^ np.uint64(seed))
    bucket = ((mixed >> np.uint64(1)) % np.uint64(buckets)).astype(np.int64)
    sign = np.where(mixed & np.uint64(1), 1.0, -1.0)
    return bucket, sign


def count_sketch(vector, buckets: int = BUCKETS, seed: int = HASH_SEED) -> np.ndarray:
    """The count sketch of a 1-d vector (a numpy array or a torch tensor): ``buckets`` float32 values."""
    values = np.asarray(vector.detach().cpu() if hasattr(vector, "detach") else vector, dtype=np.float64).reshape(-1)
    bucket, sign = _hash(values.size, buckets, seed)
    return np.bincount(bucket, weights=sign * values, minlength=buckets).astype(np.float32)


def sketch_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The estimated Euclidean distance between the two vectors whose sketches are ``a`` and ``b``."""
    if a.shape != b.shape:
        raise ValueError(f"sketches differ in shape: {a.shape} vs {b.shape} (different bucket counts)")
    return float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))
