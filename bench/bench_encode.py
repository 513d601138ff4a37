"""Encoding throughput, measured side by side on the same texts in one run.

    python bench/bench_encode.py [--texts 512] [--rounds 5] [--device cpu]

Ratios printed (throughput, higher is better for the first named):
  MoTE, one task / IC (dense, same instruction)        target >= 0.98
  MoTE, mixed-task batch / IC on the same inputs        target >= 0.95
  mote_lib dense (EM) / sentence-transformers encode    target >= 1.0

MoTE is compared with IC, not EM, so both read the same instruction tokens. Every configuration
runs once per round, in turn, and the median round time is used, so drift in machine load hits
all of them alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mote_lib.base_models import resolve_base_model
from mote_lib.data import eval_texts, load_eval_task
from mote_lib.model import MoTEConfig, MoTEModel

TASKS = ["search_query", "search_document", "classification", "clustering"]


def bench_texts(n: int) -> list[str]:
    """Real texts of mixed lengths: Debian package descriptions and FAQ questions."""
    texts = eval_texts(load_eval_task("DebianPackageRetrieval"))["document"] + eval_texts(load_eval_task("FaqRetrieval"))["query"]
    return texts[:n]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    from sentence_transformers import SentenceTransformer

    texts = bench_texts(args.texts)
    mixed = [TASKS[i % 4] for i in range(len(texts))]
    em = MoTEModel.from_base(MoTEConfig(variant="em")).to(args.device).eval()
    ic = MoTEModel.from_base(MoTEConfig(variant="ic")).to(args.device).eval()
    mote = MoTEModel.from_base(MoTEConfig(variant="mote")).to(args.device).eval()
    st = SentenceTransformer(str(resolve_base_model("minilm")), device=args.device)
    st.max_seq_length = em.config.max_seq_length
    bs = args.batch_size
    runs = {
        "ic_one_task": lambda: ic.encode(texts, task="search_document", batch_size=bs),
        "mote_one_task": lambda: mote.encode(texts, task="search_document", batch_size=bs),
        "ic_mixed": lambda: ic.encode(texts, task=mixed, batch_size=bs),
        "mote_mixed": lambda: mote.encode(texts, task=mixed, batch_size=bs),
        "mote_lib_dense": lambda: em.encode(texts, batch_size=bs),
        "sentence_transformers": lambda: st.encode(texts, batch_size=bs),
    }
    for run in runs.values():  # warm-up
        run()
    seconds = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            seconds[name].append(timed(run))
    median = {name: statistics.median(values) for name, values in seconds.items()}
    ratios = {
        "mote_one_task / ic": median["ic_one_task"] / median["mote_one_task"],
        "mote_mixed / ic_mixed": median["ic_mixed"] / median["mote_mixed"],
        "mote_lib_dense / sentence_transformers": median["sentence_transformers"] / median["mote_lib_dense"],
    }
    print(f"{len(texts)} texts, batch {bs}, device {args.device}, torch threads {torch.get_num_threads()}, median of {args.rounds} rounds")
    for name, value in median.items():
        print(f"  {name:24s} {value:7.2f} s   {len(texts) / value:7.1f} texts/s")
    print("throughput ratios (targets: >= 0.98, >= 0.95, >= 1.0):")
    for name, value in ratios.items():
        print(f"  {name:40s} {value:.3f}")
    return {"median_seconds": median, "ratios": ratios}


if __name__ == "__main__":
    main()
