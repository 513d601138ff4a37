"""Issue 17's benchmark: training, evaluation and encoding throughput against what they must cost, in one run.

    python bench/bench_suite.py --threads 2                  # the default subset of the evaluation suite
    python bench/bench_suite.py --threads 2 --suite full     # the whole offline suite (minutes more)
    python bench/bench_suite.py --quick                      # seconds, on the tiny random BERT (the tests run it)

Everything is measured in this one process, side by side, and printed as ratios, so that a slower or
busier machine changes the absolute figures but not the comparisons:

  peak        the machine's fp32 matmul peak at this thread count: best of several square sgemm
              (``--peak-size``), measured at the start and again at the end of the run (the larger is
              the peak; a drop says the machine got busier); also the matmul rate at the model's own
              shapes (a chunk of tokens times each weight matrix), and the CPU model, flags and threads.
  training    EM, IC and MoTE steps at the reference profile's size (32 pairs x 128 tokens, fp32), on the
              shipped training data, one model of each variant taking the same batches in turn (so load
              drift hits them alike), after one warm-up step. The step is the trainer's
              (``mote_lib.train``): ``contrastive_step`` (length-sorted chunks of ``embed_chunk`` texts),
              backward, gradient clipping and ``make_optimizer``'s AdamW (the learning-rate schedule, a
              multiplication, is left out). FLOPs are counted analytically from the chunks' shapes: per
              layer and token 2 x (4 d^2 + 2 d f) for the weight matrices, plus 4 s d for attention over
              s tokens, forward; backward twice that. "useful" counts the real tokens, "computed" the
              padded chunks; the target is useful FLOP/s against the fp32 peak, judged on the three
              variants trained with the cpu profile's setting (``profiles.CPU_TRAINING``: cheaper
              dropout masks, 8 texts per forward pass; the same batches), timed beside the default
              (the pre-registered reference runs' setting), which is shown too. Printed: the share of
              peak of each variant, the MoTE / IC step-time ratio (median over the paired batches), the
              forward / backward / optimizer split, and a torch.profiler table of one MoTE step (top ops).
  evaluation  one model (``--eval-variant``, MoTE by default, untrained: speed does not depend on the
              weights) evaluated through ``mote_lib.evaluate.evaluate_models`` on a subset of the offline
              suite (``--suite full``: all of it), with a fresh results store (nothing reused), against
              its floor: the same model embedding the subset's unique texts once per routing (one
              ``encode`` call per routed task across all tasks; for EM, whose embeddings ignore the
              task, each unique text once). The evaluation's own ``model.encode`` calls are recorded, so
              the gap splits into embedding beyond the floor and work outside embedding (mteb's data
              loading and scoring).
  encode      ``MoTEModel.encode`` (EM: the same inputs as sentence-transformers) against
              ``SentenceTransformer.encode`` with the same base model on the same real texts; also
              MoTE / IC on one task and on a mixed-task batch. Every configuration once per round, in
              turn; medians.

Targets (issue 17): training >= 0.55 of the fp32 peak; evaluation <= 1.1x its floor; MoTE / IC step
time <= 1.05; encode >= 1.0x sentence-transformers. The figures, the command, the commit, the CPU and
the verdicts ("met" or "not met: <the measured reason>") are written to ``bench/results.json`` (which
also keeps the latest verdicts of each machine kind measured, ``by_machine_kind``), and a
dated section is appended to ``bench/RESULTS.md`` (``--no-record``: neither; ``--quick`` records
nothing unless ``--output`` / ``--history`` are given). Timings are results only on an idle machine:
the load average at the start is recorded, and a busy start is flagged.

The parts live beside this front end, one module each: ``bench_peak.py`` (the machine and its peak),
``bench_training.py``, ``bench_evaluation.py``, ``bench_encode.py``, ``bench_judge.py`` (the targets
and their verdicts) and ``bench_records.py`` (results.json and RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:  # the parts are modules beside this file (also when it is loaded by path)
    sys.path.insert(0, str(BENCH))

import torch  # noqa: E402
from bench_encode import bench_encode, print_encode  # noqa: E402
from bench_evaluation import SUBSET, bench_evaluation, print_evaluation  # noqa: E402
from bench_judge import TARGETS, judge_targets  # noqa: E402
from bench_peak import CPU_FLAGS, gemm_gflops, machine_info, model_gemm_shapes  # noqa: E402
from bench_records import append_history, history_section, write_results  # noqa: E402
from bench_training import bench_training, print_training, training_config  # noqa: E402

from mote_lib.machine import commit_label  # noqa: E402
from mote_lib.model import MoTEModel  # noqa: E402

# The names the tests and bench_gpu.py read from this front end.
__all__ = ["CPU_FLAGS", "SUBSET", "TARGETS", "append_history", "history_section", "judge_targets", "main", "parse_args",
           "write_results"]


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="seconds, on the tiny random BERT: 1 step of 4 x 32, a 6-record sample of the suite, 8 texts")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, one per core)")
    parser.add_argument("--only", action="append", choices=("training", "evaluation", "encode"),
                        help="measure only this part (repeatable); the peak is always measured")
    parser.add_argument("--base-model", default="minilm")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--peak-size", type=int, help="square sgemm size of the peak (default 2048; 256 with --quick)")
    parser.add_argument("--peak-repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, help="timed training steps per variant after a warm-up (default 5; 1 with --quick)")
    parser.add_argument("--batch-size", type=int, help="training pairs per step (default: the reference profile's 32)")
    parser.add_argument("--max-seq-length", type=int, help="training tokens per text (default: the reference profile's 128)")
    parser.add_argument("--bf16", action="store_true", help="also time MoTE with bf16 autocast (information only)")
    parser.add_argument("--embed-chunks", type=lambda text: [int(n) for n in text.split(",")],
                        help="also time MoTE with these texts per forward pass inside a step, e.g. 8,32 (information only: "
                             "less padding, other dropout masks)")
    parser.add_argument("--fast-dropout", action="store_true",
                        help="also time EM, IC and MoTE with TrainConfig.fast_dropout (information only: other dropout masks)")
    parser.add_argument("--top-ops", type=int, default=12)
    parser.add_argument("--suite", choices=("subset", "full"), default="subset",
                        help=f"evaluation tasks: {', '.join(SUBSET)} (subset), or the whole offline suite (full)")
    parser.add_argument("--eval-tasks", help="comma-separated offline task names (overrides --suite)")
    parser.add_argument("--eval-variant", choices=("em", "ic", "mote"), default="mote")
    parser.add_argument("--eval-batch-size", type=int, default=32)
    parser.add_argument("--eval-rounds", type=int, default=1,
                        help="evaluations, each between two floors (floor, evaluation, floor, ...); median of the ratios")
    parser.add_argument("--replay", action="store_true",
                        help="after the last evaluation, time its own encode calls again outside mteb (one more floor's time)")
    parser.add_argument("--other-task", default="classification", help="the route of STS and pair tasks (as mote_lib.evaluate)")
    parser.add_argument("--texts", type=int, help="texts encoded (default 256; 8 with --quick)")
    parser.add_argument("--rounds", type=int, help="encode rounds (default 3; 1 with --quick)")
    parser.add_argument("--batch-size-encode", type=int, default=32)
    parser.add_argument("--output", help="results JSON (default bench/results.json; with --quick: none)")
    parser.add_argument("--history", help="Markdown history to append to (default bench/RESULTS.md; with --quick: none)")
    parser.add_argument("--no-record", action="store_true", help="write neither the JSON nor the history")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {"peak_size": (2048, 256), "steps": (5, 1), "texts": (256, 8), "rounds": (3, 1)}
    for name, (full, tiny) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, tiny if quick else full)
    if args.output is None and not quick:
        args.output = str(BENCH / "results.json")
    if args.history is None and not quick:
        args.history = str(BENCH / "RESULTS.md")
    if args.no_record:
        args.output = args.history = None
    return args


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    _quiet_loading()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    parts = args.only or ["training", "evaluation", "encode"]
    began = time.perf_counter()
    result = {
        "command": shlex.join(["python", "bench/bench_suite.py", *argv]), "commit": commit_label(),
        "date": datetime.date.today().isoformat(), "machine": machine_info(torch.get_num_threads(), device), "quick": args.quick,
    }
    m = result["machine"]
    print(f"{m['kind']}; flags {m['flags']}; torch {m['torch']} ({m['torch_cpu_capability']}), {m['threads']} threads; "
          f"load average {m['load_average_at_start']}" + ("" if m["idle_at_start"] else "  ** NOT IDLE: timings are not results **"),
          flush=True)
    start_peak = gemm_gflops(args.peak_size, args.peak_size, args.peak_size, device, args.peak_repeats)
    shapes_config = training_config(args, "mote")
    backbone = MoTEModel.from_base(shapes_config.model_config()).backbone_config
    shapes = model_gemm_shapes(shapes_config, backbone)
    model_shapes = {name: gemm_gflops(*shape, device, args.peak_repeats, bias=True) for name, shape in shapes.items()}
    print(f"fp32 peak ({args.peak_size}^3 sgemm, best of {args.peak_repeats}): {start_peak:.1f} GFLOP/s; at the model's shapes: "
          + ", ".join(f"{k} {v:.1f}" for k, v in model_shapes.items()), flush=True)

    if "training" in parts:
        result["training"] = bench_training(args, device, start_peak)
        print_training(result["training"])
    if "evaluation" in parts:
        result["evaluation"] = bench_evaluation(args, device)
        print_evaluation(result["evaluation"])
    if "encode" in parts:
        result["encode"] = bench_encode(args, device)
        print_encode(result["encode"])

    end_peak = gemm_gflops(args.peak_size, args.peak_size, args.peak_size, device, args.peak_repeats)
    peak = max(start_peak, end_peak)
    result["peak"] = {"fp32_gflops": peak, "start_gflops": start_peak, "end_gflops": end_peak, "size": args.peak_size,
                      "repeats": args.peak_repeats, "model_shapes_gflops": model_shapes}
    if "training" in result and peak != start_peak:  # shares against the run's peak, the larger reading
        for v in result["training"]["variants"].values():
            v["share_of_fp32_peak"] *= start_peak / peak
            v["computed_share_of_fp32_peak"] *= start_peak / peak
    result["wall_s"] = time.perf_counter() - began
    result["targets"] = judge_targets(result)
    print(f"fp32 peak at the end: {end_peak:.1f} GFLOP/s (start {start_peak:.1f}); the run took {result['wall_s']:.0f} s")
    print("targets:")
    for key, v in result["targets"].items():
        figure = "-" if v["figure"] is None else f"{v['figure']:.3f}"
        print(f"  {key:36s} {v['target']:8s} {figure:>7s}  {v['status']}")
    if args.output:
        write_results(Path(args.output), result)
        print(f"wrote {args.output}")
    if args.history:
        append_history(Path(args.history), history_section(result))
        print(f"appended to {args.history}")
    return result


def _quiet_loading() -> None:
    """No weight-loading progress bars from transformers (one per model built here)."""
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    except ImportError:
        pass


if __name__ == "__main__":
    main()
