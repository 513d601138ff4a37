"""mote_lib.calibration: variance components recovered from constructed data; the amended variance counts each once."""

import math

import numpy as np
import pandas as pd
import pytest

from mote_lib.calibration import simulate_null_from_components, variance_components
from mote_lib.verdicts import estimate


def null_table(components: dict, n_seeds: int, n_queries: int, rng_seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(rng_seed)
    x = (rng.normal(0, math.sqrt(components["seed"]), (n_seeds, 1)) + rng.normal(0, math.sqrt(components["query"]), (1, n_queries))
         + rng.normal(0, math.sqrt(components["interaction"]), (n_seeds, n_queries)))
    seed, query = np.meshgrid(np.arange(n_seeds), np.arange(n_queries), indexing="ij")
    return pd.DataFrame({"seed": seed.ravel(), "dataset": "T", "query": query.ravel(), "a": x.ravel(), "b": 0.0})


def test_components_are_recovered_from_a_large_table():
    truth = {"seed": 0.5, "query": 4.0, "interaction": 9.0}
    parts = variance_components(null_table(truth, n_seeds=200, n_queries=300)).iloc[0]
    assert parts["n_queries"] == 300 and parts["n_seeds"] == 200
    for name, value in truth.items():
        assert parts[name] == pytest.approx(value, rel=0.25), name


def test_negative_components_are_set_to_zero():
    parts = variance_components(null_table({"seed": 0.0, "query": 0.0, "interaction": 1.0}, 3, 30, rng_seed=3))
    assert (parts[["seed", "query", "interaction"]] >= 0).all().all()


def test_the_amended_variance_removes_exactly_the_interaction_share_from_the_seed_level():
    table = null_table({"seed": 2.0, "query": 1.0, "interaction": 4.0}, n_seeds=4, n_queries=30, rng_seed=1)
    registered, amended = estimate(table, variance="registered"), estimate(table, variance="amended")
    ms_e = variance_components(table).iloc[0]["interaction"]
    assert amended.se_query == registered.se_query and amended.effect == registered.effect
    assert amended.se_seed**2 == pytest.approx(max(0.0, registered.se_seed**2 - ms_e / (4 * 30)))


def test_one_score_per_dataset_keeps_the_registered_seed_variance():
    table = pd.DataFrame({"seed": [0, 1, 2], "dataset": "C", "a": [1.0, 2.5, 0.5], "b": 0.0})
    assert estimate(table, variance="amended") == estimate(table, variance="registered")


def test_an_unknown_variance_is_refused():
    with pytest.raises(ValueError):
        estimate(null_table({"seed": 1, "query": 1, "interaction": 1}, 2, 3), variance="welch")


@pytest.mark.parametrize("n_seeds", [3, 6])
def test_the_amended_variance_is_near_nominal_where_the_registered_one_is_conservative(n_seeds):
    # Interaction-heavy, as the retrieval results are: the registered interval counts it twice.
    parts = pd.DataFrame({"dataset": ["A", "B", "C"], "n_queries": [32, 32, 100], "seed": [0.02, 0.02, 0.02],
                          "query": [20.0, 20.0, 20.0], "interaction": [60.0, 60.0, 60.0]})
    amended = simulate_null_from_components(parts, n_seeds, n_sim=2000, rng_seed=n_seeds)
    registered = simulate_null_from_components(parts, n_seeds, n_sim=2000, rng_seed=n_seeds, variance="registered")
    assert 0.03 <= amended <= 0.07 and registered < amended
