"""lab.expert_identity: the matched-yardstick manipulation check (amendment 1, A3) on constructed changes."""

import numpy as np
import pytest

from mote_lib.lab.expert_identity import FAILED, INCONCLUSIVE, PASSED, identity_statistics, per_layer, verdict


def changes(task_scale: float, n_seeds: int = 6, rng_seed: int = 0) -> np.ndarray:
    """(seeds, layers, experts, dims): a task direction per (layer, expert), shared by every seed, plus seed noise."""
    rng = np.random.default_rng(rng_seed)
    return task_scale * rng.normal(size=(1, 3, 4, 200)) + rng.normal(size=(n_seeds, 3, 4, 200))


def test_reproducible_task_directions_pass():
    result = identity_statistics(changes(1.0), n_permutations=300)
    assert result["distance_ratio"] > 1 and result["direction_contrast"] > 0.3
    assert result["p_distance"] == result["p_direction"] == pytest.approx(1 / 301)
    assert verdict(result) == PASSED


def test_no_task_structure_does_not_pass():
    verdicts = {verdict(identity_statistics(changes(0.0, rng_seed=seed), n_permutations=200)) for seed in range(5)}
    assert PASSED not in verdicts and verdicts <= {FAILED, INCONCLUSIVE}


def test_the_permutation_p_is_uniform_enough_under_the_null():
    ps = [identity_statistics(changes(0.0, rng_seed=seed), n_permutations=100)["p_direction"] for seed in range(20)]
    assert 0.2 < np.mean(ps) < 0.8


def test_per_layer_values_and_shape_checks():
    table = per_layer(changes(1.0), [1, 3, 5])
    assert table["layer"].tolist() == [1, 3, 5] and (table["distance_ratio"] > 1).all()
    with pytest.raises(ValueError):
        identity_statistics(changes(1.0, n_seeds=1))
