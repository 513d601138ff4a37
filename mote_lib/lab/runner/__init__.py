"""The experiment-of-record runner: a resumable queue of (profile, model, seed) runs, in priority order.

    python -m mote_lib.lab.runner plan   --profile reference                  # the queue, what is done
    python -m mote_lib.lab.runner run    --profile reference [--threads 2] [--only N]
    python -m mote_lib.lab.runner status --profile reference [--threads 2]    # done / left, time left
    python -m mote_lib.lab.runner run    --queue base-gap [--threads 1]       # the base-gap study

Each entry is trained (or resumed, or its cached weights reused), then every file it lacks is written
atomically, then ``done.json`` last: after an interruption the same command picks up where it stopped.
The commands, the queue and the layout of an entry's folder are described in ``cli`` (``--help``).

    entries.py   the queues (``QUEUES``), an entry (``Entry``), the files it must hold, ``plan``
    outputs.py   the files of an entry (scores, per-query scores, training log, expert movement,
                 weight sketch, inter-task cosines, route ablation) and the weight-editing helpers
    work.py      one entry's shared work (``EntryWork``), ``run_entry``, ``run`` (the queue)
    estimate.py  seconds per step, evaluation and ablation measured on finished entries; ``status``
    cli.py       the command line (``main``); mistakes are one line, exit status 2, before torch loads

The machine and the commit each result records come from ``mote_lib.machine``. Nothing here imports
torch, pandas or mteb until it is used.

Example:
    >>> from mote_lib.lab.runner import expected_files, queue
    >>> entry = queue("reference")[2]
    >>> str(entry), expected_files(entry)[-2:]
    ('reference/mote-s0', ['inter_task_cosines.csv', 'route_ablation.csv'])
"""

from __future__ import annotations

from mote_lib.lab.runner.cli import main
from mote_lib.lab.runner.entries import (
    BASE,
    DONE,
    QUEUES,
    UNTRAINED,
    Entry,
    expected_files,
    is_finished,
    missing_files,
    plan,
    queue,
)
from mote_lib.lab.runner.estimate import Rate, measured_rates, status
from mote_lib.lab.runner.outputs import STEPS, TAG_COLUMNS, weight_changes
from mote_lib.lab.runner.work import EntryWork, WeightsChanged, run, run_entry

__all__ = [
    "BASE", "DONE", "QUEUES", "STEPS", "TAG_COLUMNS", "UNTRAINED", "Entry", "EntryWork", "Rate", "WeightsChanged",
    "expected_files", "is_finished", "main", "measured_rates", "missing_files", "plan",
    "queue", "run", "run_entry", "status", "weight_changes",
]
