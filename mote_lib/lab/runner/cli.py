"""The experiment-of-record runner: a resumable queue of (profile, model, seed) runs, in priority order.

One command works through the queue. Each entry is trained (or its training resumed, or its cached
weights reused: ``mote_lib.lab.runs.trained_model``), then every post-processing file it lacks is
computed and written atomically, then ``done.json`` last. The machine may vanish at any moment:
what is written is complete, and what is not is redone. The weights under ``runs/`` are a cache
that may be lost (a lost run is retrained; on CPU that gives the same weights bit for bit, and
``run.json``'s ``weights_hash`` guards the rest); the small files under ``results/`` are the
record, committed by a human: the runner never runs git beyond reading the commit.

Commands:

    python -m mote_lib.lab.runner plan   --profile reference                  # the queue, what is done
    python -m mote_lib.lab.runner run    --profile reference [--threads 2] [--only N]
    python -m mote_lib.lab.runner status --profile reference [--threads 2]    # done / left, time left
    python -m mote_lib.lab.runner run    --queue base-gap [--threads 1]       # the base-gap study

The reference queue (``QUEUES``): the untrained base model, then IC, MoTE, EM seed 0, IC and MoTE
seed 1, the pilot's short arm, the rest of seeds 1-2, IC and MoTE seeds 3-5, the ablations last.
Other profiles: the base model, then EM, IC, MoTE for each of the profile's seeds.

Layout of one entry, ``results/<profile>/runs/<entry>/`` (``<entry>``: ``base``, ``ic-s0``, ...):

    run.json                what ran: the entry, its TrainConfig, run folder, weights hash, training
                            seconds and steps, the machine, threads, versions, git commit, UTC times
    scores.csv              the offline suite (``evaluate_models``), one row per task and split
    per_query.csv           retrieval and reranking scores per query (for paired bootstraps)
    train_log.csv           the training log, one row per step                     (trained models)
    expert_movement.csv     per layer and expert: relative change from the initial weights; per
                            layer: relative distance between experts               (trained models)
    weight_sketch.npz       count sketches of those changes (``mote_lib.lab.weight_sketch``), to
                            compare runs once their weights are gone             (trained models)
    inter_task_cosines.csv  the same texts embedded under every task pair          (IC and MoTE)
    route_ablation.csv      retrieval and reranking with the right query expert, the initial one
                            ("none"), and the clustering expert ("wrong")          (MoTE, sequence-routed)
    done.json               written last: the entry is complete; seconds per step

After an interruption, run the same command again: finished entries are skipped, a missing file is
recomputed alone, an interrupted training resumes from its newest checkpoint.
"""

from __future__ import annotations

import argparse

from mote_lib.cli import OneLineParser, run_command_line
from mote_lib.lab.runner.entries import QUEUES, plan
from mote_lib.lab.runner.estimate import status
from mote_lib.lab.runner.work import run
from mote_lib.offline import use_project_environment

PROG = "python -m mote_lib.lab.runner"


def command_line_parser() -> OneLineParser:
    """The three commands; a mistake raises ``CommandLineError`` (one line, exit status 2)."""
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("plan", "print the queue in order, with what is done"),
                            ("run", "train and post-process every unfinished entry, in order"),
                            ("status", "runs done and left, and an estimate of the time left")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--profile", default="reference", help="the profile whose default queue to use")
        command.add_argument("--queue", default=None, choices=sorted(QUEUES),
                             help="a named queue instead (base-gap: the base-model gap; mechanism: amendment 1's analyses of "
                                  "the reference runs; capacity: the capacity study)")
        if name in ("run", "status"):
            command.add_argument("--threads", type=int, default=2, help="torch threads (and the machine kind's rates)")
        if name == "run":
            command.add_argument("--only", type=int, default=None, help="stop after N unfinished entries")
    return parser


def _main(argv: list[str]) -> int:
    args = command_line_parser().parse_args(argv)
    use_project_environment()  # offline mode and the project's caches, as scripts/env.sh (mote_lib.offline)
    name = args.queue or args.profile
    if args.command == "plan":
        print("\n".join(plan(name)))
    elif args.command == "status":
        print("\n".join(status(name, args.threads)))
    else:
        run(name, args.threads, args.only)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m mote_lib.lab.runner`` (the ``mote-lab`` console script): a mistake is one line and exit status 2,
    before torch is imported."""
    return run_command_line(_main, argv, PROG)
