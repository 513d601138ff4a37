"""mote_lib.lab.records: the one reader of the runner's layout, on constructed entry folders."""

from __future__ import annotations

import json

import pandas as pd

from mote_lib.lab import records


def test_entries_are_read_in_name_order_and_a_label_in_seed_order(entry_folder):
    for name in ("mote-s10", "mote-s2", "ic-s0", "base"):
        pd.DataFrame({"entry": [name]}).to_csv(entry_folder("reference", name) / "scores.csv", index=False)
    entry_folder("reference", "em-s0")  # no scores yet: left out
    entry_folder("reference", "base-ic", records.BASE_GAP)  # another group: left out
    assert records.read_tables("reference", "scores.csv")["entry"].tolist() == ["base", "ic-s0", "mote-s10", "mote-s2"]
    assert records.read_tables("reference", "scores.csv", label="mote")["entry"].tolist() == ["mote-s2", "mote-s10"]
    assert records.read_tables("reference", "per_query.csv") is None
    assert records.read_entry_table("reference", "ic-s0", "scores.csv")["entry"].tolist() == ["ic-s0"]
    assert records.read_entry_table("reference", "base-ic", "scores.csv", records.BASE_GAP) is None


def test_run_records_of_every_entry_and_done_records_of_the_finished_ones(entry_folder):
    for name, finished in (("ic-s0", True), ("ic-s1", False)):
        folder = entry_folder("pilot", name)
        (folder / records.RUN_RECORD).write_text(json.dumps({"entry": name}))
        if finished:
            (folder / records.DONE).write_text(json.dumps({"seconds": {}}))
    assert [r["entry"] for r in records.run_records("pilot")] == ["ic-s0", "ic-s1"]
    assert records.finished_records("pilot") == [({"entry": "ic-s0"}, {"seconds": {}})]
    assert records.run_records("reference") == []
