"""Measure what one model's pass over the evaluation suite costs on this machine.

    python data/build/measure_eval_cost.py      # writes data/eval_cost.json; the datasheet shows it

Embedding the suite's unique texts is the bulk of an mteb evaluation on a CPU (the evaluators'
own work, logistic regression, k-means and scoring, takes seconds). This script embeds every
evaluation task's unique texts with the base model through sentence-transformers (batch 64, the
model's own max_seq_length of 256 tokens) and times each task, so the suite can be sized to the
~5-minute budget per model. The full mteb timing per model is measured in the evaluation issue.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from itertools import chain
from pathlib import Path

BUILD_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BUILD_DIR))
from datasheet import render_datasheet  # noqa: E402

from mote_lib.data import eval_texts, list_eval_tasks, load_eval_task  # noqa: E402


def unique_texts(name: str, data_dir: Path) -> list[str]:
    return sorted(set(chain.from_iterable(eval_texts(load_eval_task(name, data_dir)).values())))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=BUILD_DIR.parent)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    import torch
    from sentence_transformers import SentenceTransformer

    from mote_lib.base_models import resolve_base_model

    model = SentenceTransformer(str(resolve_base_model("minilm")), device="cpu")
    tasks = {}
    for name in list_eval_tasks(args.data):
        texts = unique_texts(name, args.data)
        start = time.perf_counter()
        model.encode(texts, batch_size=args.batch_size, show_progress_bar=False)
        seconds = time.perf_counter() - start
        tokens = sum(len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"])
        tasks[name] = {"unique_texts": len(texts), "tokens": tokens, "seconds": round(seconds, 1)}
        print(f"{name:32s} {len(texts):6d} texts {tokens:8d} tokens {seconds:7.1f} s", flush=True)
    result = {
        "what": f"seconds to embed each evaluation task's unique texts once with all-MiniLM-L6-v2 "
                f"(sentence-transformers, batch {args.batch_size}, max {model.max_seq_length} tokens)",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "date": datetime.date.today().isoformat(),
        "tasks": tasks,
        "total_seconds": round(sum(t["seconds"] for t in tasks.values()), 1),
    }
    (args.data / "eval_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    render_datasheet(args.data)
    print(f"total {result['total_seconds']} s; datasheet updated")


if __name__ == "__main__":
    main()
