"""mote_lib.lab.base_gap: the base-gap study's table and findings, on constructed scores."""

from __future__ import annotations

import pandas as pd
import pytest

from mote_lib.lab import base_gap
from mote_lib.lab.records import BASE_GAP

DATASETS = [("Retrieval", "R1"), ("Retrieval", "R2"), ("STS", "S1"), ("Clustering", "C1")]


def write_scores(folder, scores):
    pd.DataFrame([{"task_type": t, "task": d, "score": s, "error": None} for (t, d), s in zip(DATASETS, scores)]).to_csv(
        folder / "scores.csv", index=False)


def test_findings_measure_each_factor_against_the_seed_noise(entry_folder):
    write_scores(entry_folder("reference", "base"), [80, 80, 50, 40])  # average 62.5
    write_scores(entry_folder("reference", "ic-s0"), [78, 78, 40, 42])  # 59.5: 3 points below the base
    write_scores(entry_folder("reference", "ic-s1"), [78.5, 77.5, 40.5, 41.5])  # differences -0.5, +0.5, -0.5, +0.5
    write_scores(entry_folder("reference", "ic-lr1e-5-s0", BASE_GAP), [79, 79, 48, 41])  # 61.75: +2.25
    write_scores(entry_folder("reference", "base-ic", BASE_GAP), [80, 80, 50.2, 40])  # +0.05: within noise
    table = base_gap.arm_scores()
    assert table["arm"].tolist() == ["base", "base + instructions", "IC, 180 steps", "IC seed 1", "IC, lr 1e-5"]
    assert table.set_index("arm").loc["IC, 180 steps", "all"] == pytest.approx(59.5)
    assert base_gap.seed_noise() == pytest.approx(pd.Series([-0.5, 0.5, -0.5, 0.5]).std() / 2)
    text = "\n".join(base_gap.findings(table))
    assert "3.00 points below the untrained base (62.50)" in text
    assert "a 5x smaller learning rate moves it by +2.25 (beyond noise); that is 75% of the gap" in text
    assert "the instructions alone, without training, move the average by +0.05 (within noise)." in text


def test_the_report_lists_the_arms_not_run_yet(entry_folder):
    write_scores(entry_folder("reference", "base"), [80, 80, 50, 40])
    text = base_gap.report()
    assert "Not run yet: base + instructions, IC, 60 steps" in text
    assert "Not yet measurable: needs the base model and IC seed 0" in text
