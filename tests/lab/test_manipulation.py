"""mote_lib.lab.manipulation: expert separation against IC seeds, and the route ablation, on constructed runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mote_lib.lab import manipulation
from mote_lib.lab.weight_sketch import count_sketch

LAYERS = (0, 1, 2, 3)
MOTE_LAYERS = (1, 3)
INITIAL_NORM = 10.0


@pytest.fixture
def runs(results):
    folder = results / "reference" / "runs"
    folder.mkdir(parents=True)
    return folder


def write_mote(runs, seed, expert_distance):
    rows = [{"model": "mote", "seed": seed, "layer": layer, "mote_layer": True, "measure": "relative_distance",
             "expert_a": a, "expert_b": b, "value": expert_distance}
            for layer in MOTE_LAYERS for a, b in (("query", "document"), ("query", "clustering"))]
    rows.append({"model": "mote", "seed": seed, "layer": 0, "mote_layer": False, "measure": "relative_change",
                 "expert_a": "dense", "expert_b": "", "value": 0.5})
    (runs / f"mote-s{seed}").mkdir()
    pd.DataFrame(rows).to_csv(runs / f"mote-s{seed}" / "expert_movement.csv", index=False)


def write_ic_sketch(runs, seed, changes):
    (runs / f"ic-s{seed}").mkdir()
    with open(runs / f"ic-s{seed}" / "weight_sketch.npz", "wb") as handle:
        np.savez(handle, sketch=np.stack([count_sketch(c) for c in changes]), layer=np.array(LAYERS),
                 initial_norm=np.full(len(LAYERS), INITIAL_NORM))


def test_separation_compares_expert_distances_with_the_distance_between_two_ic_seeds(runs):
    rng = np.random.default_rng(0)
    first = [rng.normal(size=50_000) * 0.001 for _ in LAYERS]
    second = [c + 0.1 / np.sqrt(50_000) * rng.normal(size=50_000) for c in first]  # ||difference|| about 0.1
    write_ic_sketch(runs, 0, first)
    write_ic_sketch(runs, 1, second)
    seeds = manipulation.ic_seed_distances("reference")
    assert seeds["layer"].tolist() == list(LAYERS)
    assert seeds["value"].to_numpy() == pytest.approx(0.01, rel=0.05)  # 0.1 / ||W0|| = 10

    write_mote(runs, 0, expert_distance=0.005)
    table = manipulation.separation("reference")
    assert table["layer"].tolist() == list(MOTE_LAYERS)
    assert table["ratio"].to_numpy() == pytest.approx(0.5, rel=0.05)
    assert "less than two IC seeds differ, in every MoTE layer" in manipulation.separation_sentence(table)
    assert "more than two IC seeds differ" in manipulation.separation_sentence(table.assign(ratio=2.0))
    assert "in 1 of 2" in manipulation.separation_sentence(table.assign(ratio=[0.5, 2.0]))


def test_separation_is_not_measurable_without_two_ic_seeds(runs):
    write_mote(runs, 0, expert_distance=0.005)
    assert manipulation.separation("reference").empty
    assert manipulation.separation_sentence(manipulation.separation("reference")).startswith("Not yet measurable")


def write_route_ablation(runs, seed, right, wrong):
    folder = runs / f"mote-s{seed}"
    folder.mkdir(exist_ok=True)
    rows = [{"model": "mote", "seed": seed, "routing": routing, "task": task, "task_type": "Retrieval", "score": score,
             "error": None} for routing, score in (("right", right), ("none", (right + wrong) / 2), ("wrong", wrong))
            for task in ("A", "B")]
    pd.DataFrame(rows).to_csv(folder / "route_ablation.csv", index=False)


def test_route_ablation_reads_right_against_none_and_wrong_per_seed(runs):
    write_route_ablation(runs, 0, right=80.0, wrong=78.0)
    table = manipulation.route_ablation("reference")
    assert table[["right", "none", "wrong", "right - wrong"]].iloc[0].tolist() == [80.0, 79.0, 78.0, 2.0]
    assert "in the one MoTE seed so far (right - wrong +2.00)" in manipulation.route_sentence(table)
    write_route_ablation(runs, 1, right=78.0, wrong=78.5)
    sentence = manipulation.route_sentence(manipulation.route_ablation("reference"))
    assert "not shown to be task-specific" in sentence and "-0.50 to +2.00" in sentence


def test_the_section_says_what_is_missing_before_any_run(runs):
    text = "\n".join(manipulation.lines("reference"))
    assert text.count("Not yet measurable") == 2


def test_a_profile_without_runner_results_has_no_section(results):
    assert manipulation.lines("cpu") == []
