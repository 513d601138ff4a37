"""mote_lib.moee.tables: the paper's aggregation (mean of category means), prompt spread, reported numbers."""

from __future__ import annotations

import pytest

from mote_lib import moee


def test_category_table_is_the_mean_of_category_means_and_prompt_spread():
    import pandas as pd

    tasks = [("STS", "a", 10.0), ("STS", "b", 30.0), ("STS", "c", 50.0), ("Clustering", "d", 0.0)]
    rows = []
    for prompt, shift in (("none", 0.0), ("prompteol", 4.0)):
        for kind, task, score in tasks:
            rows.append({"method": "hs", "prompt": prompt, "task_type": kind, "task": task, "score": score + shift})
            rows.append({"method": "rw", "prompt": prompt, "task_type": kind, "task": task, "score": 7.0})
    table = pd.DataFrame(rows).assign(model_label="m", model="x", error=None)
    by_category = moee.category_table(table)
    assert by_category.loc[("m", "none", "hs"), "STS"] == pytest.approx(30.0)
    assert by_category.loc[("m", "none", "hs"), "Avg"] == pytest.approx(15.0)     # (30 + 0) / 2, not (90 / 4)
    assert by_category.loc[("m", "prompteol", "hs"), "Avg"] == pytest.approx(19.0)
    spread = moee.prompt_spread(table)
    assert spread.loc["hs", "range"] == pytest.approx(4.0) and spread.loc["rw", "range"] == 0.0
    assert spread.loc["hs", "prompts"] == 2 and spread.loc["hs", "tasks"] == 4
    with pytest.raises(ValueError, match="failed"):
        moee.category_table(table.assign(error=["boom"] + [None] * (len(table) - 1)))


def test_paper_reference_table_and_task_selection():
    reference = moee.paper_reference_table()
    assert list(reference.index) == sorted(moee.PAPER_PROMPTEOL_AVG) and list(reference.columns) == ["HS", "MoEE (sum)"]
    assert reference.loc["DeepSeekMoE-16B", "HS"] == 42.30
    names = [name for names in moee.PAPER_TASKS.values() for name in names]
    assert len(names) == len(set(names)) == 19 and len(moee.PAPER_TASKS) == 6
    assert set(moee.METHOD_LABELS) == set(moee.METHODS)
