"""mote_lib.lab.weight_sketch: count sketches that keep distances between weight changes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mote_lib.lab.weight_sketch import BUCKETS, count_sketch, sketch_distance


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_sketch_distance_is_within_a_few_percent_of_the_true_distance(seed):
    rng = np.random.default_rng(seed)
    # The size of one MiniLM expert (~1.2M weights): two runs' changes, partly shared, as two seeds' are.
    shared = rng.normal(size=1_200_000)
    x, y = shared + rng.normal(size=shared.size), shared + 0.5 * rng.normal(size=shared.size)
    exact = np.linalg.norm(x - y)
    assert sketch_distance(count_sketch(x), count_sketch(y)) == pytest.approx(exact, rel=0.03)
    assert np.linalg.norm(count_sketch(x)) == pytest.approx(np.linalg.norm(x), rel=0.03)


def test_the_sketch_is_linear_and_the_same_for_numpy_and_torch():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=5000), rng.normal(size=5000)
    assert np.allclose(count_sketch(x - y), count_sketch(x) - count_sketch(y), atol=1e-4)
    assert np.array_equal(count_sketch(torch.from_numpy(x)), count_sketch(x))
    assert count_sketch(x).dtype == np.float32 and count_sketch(x).shape == (BUCKETS,)


def test_the_hash_is_fixed_so_stored_sketches_stay_comparable():
    # A unit vector lands, with its sign, in one bucket; these values pin the hash for ever.
    placed = [(int(np.flatnonzero(s)[0]), float(s[np.flatnonzero(s)[0]]))
              for s in (count_sketch(np.eye(4)[i]) for i in range(4))]
    assert placed == [(7929, 1.0), (8104, 1.0), (14326, 1.0), (15055, 1.0)]


def test_sketches_of_different_sizes_are_refused():
    with pytest.raises(ValueError):  # sketches of different bucket counts do not compare
        sketch_distance(count_sketch(np.ones(3), buckets=8), count_sketch(np.ones(3), buckets=16))
