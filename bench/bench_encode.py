"""Encoding speed: ``MoTEModel.encode`` against ``SentenceTransformer.encode`` on the same real texts.

Also MoTE / IC on one task and on a mixed-task batch, and forward passes of identical batches (ours
against transformers' BertModel). Every configuration once per round, in turn; medians.
"""

from __future__ import annotations

import statistics
import time

import torch
from bench_training import VARIANTS

from mote_lib.base_models import TINY_RANDOM_BERT
from mote_lib.data import eval_texts, load_eval_task
from mote_lib.model import MoTEConfig, MoTEModel, padding_order
from mote_lib.model import batches as batched


def encode_texts(n: int) -> list[str]:
    """Real texts of mixed lengths: Debian package descriptions and FAQ questions."""
    texts = eval_texts(load_eval_task("DebianPackageRetrieval"))["document"] + eval_texts(load_eval_task("FaqRetrieval"))["query"]
    return texts[:n]


def bench_encode(args, device: torch.device) -> dict:
    from sentence_transformers import SentenceTransformer

    from mote_lib.base_models import resolve_base_model

    base = TINY_RANDOM_BERT if args.quick else args.base_model
    texts = encode_texts(args.texts)
    tasks = ["search_query", "search_document", "classification", "clustering"]
    mixed = [tasks[i % len(tasks)] for i in range(len(texts))]
    models = {v: MoTEModel.from_base(MoTEConfig(variant=v, base_model=base)).to(device).eval() for v in VARIANTS}
    st = SentenceTransformer(str(resolve_base_model(base)), device=str(device))
    st.max_seq_length = models["em"].config.max_seq_length
    bs = args.batch_size_encode
    # sentence-transformers cuts long texts silently; ours counts them, and is told not to log it each round
    ours = dict(batch_size=bs, on_truncation="ignore")
    runs = {
        "sentence_transformers": lambda t: st.encode(t, batch_size=bs, show_progress_bar=False),
        "mote_lib_em": lambda t: models["em"].encode(t, **ours),
        "ic_one_task": lambda t: models["ic"].encode(t, task="search_document", **ours),
        "mote_one_task": lambda t: models["mote"].encode(t, task="search_document", **ours),
        "ic_mixed": lambda t: models["ic"].encode(t, task=mixed[:len(t)], **ours),
        "mote_mixed": lambda t: models["mote"].encode(t, task=mixed[:len(t)], **ours),
    }
    # The kernels alone: forward passes of the same padded batches (sentence-transformers' order, by
    # characters), ours against transformers' BertModel inside sentence-transformers, texts only.
    em, st_order = models["em"], sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    st_batches = [em.tokenize([texts[i] for i in rows], None) for rows in batched(st_order, bs)]
    hf = st[0].auto_model

    def forwards(forward) -> None:
        with torch.inference_mode():
            for batch in st_batches:
                forward(batch["input_ids"].to(device), batch["attention_mask"].to(device))

    runs["forward_mote_lib"] = lambda t: forwards(lambda ids, mask: em(ids, mask))
    runs["forward_transformers"] = lambda t: forwards(lambda ids, mask: hf(input_ids=ids, attention_mask=mask))
    for run in runs.values():  # warm-up on a slice
        run(texts[:bs])
    seconds = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():  # in turn, so load drift hits every configuration alike
            start = time.perf_counter()
            run(texts)
            seconds[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    lengths = [len(row) for row in em.tokenize_unpadded(texts, None)[0]]
    return {
        "texts": len(texts), "tokens": sum(lengths), "batch_size": bs, "rounds": args.rounds, "base_model": base,
        "median_s": median, "texts_per_s": {name: len(texts) / s for name, s in median.items()},
        "padding_share": {"sentence_transformers (characters)": padding_share(lengths, st_order, bs),
                          "mote_lib (tokens)": padding_share(lengths, padding_order(lengths), bs)},
        "ratios": {
            "mote_lib_em / sentence_transformers": median["sentence_transformers"] / median["mote_lib_em"],
            "forward, same batches: mote_lib / transformers": median["forward_transformers"] / median["forward_mote_lib"],
            "mote_one_task / ic_one_task": median["ic_one_task"] / median["mote_one_task"],
            "mote_mixed / ic_mixed": median["ic_mixed"] / median["mote_mixed"],
        },
    }


def padding_share(lengths: list[int], order: list[int], batch_size: int) -> float:
    """The share of computed tokens that are padding when ``order`` is cut into batches of ``batch_size``."""
    computed = sum(max(lengths[i] for i in rows) * len(rows) for rows in batched(order, batch_size))
    return 1 - sum(lengths) / computed


def print_encode(e: dict) -> None:
    print(f"encode: {e['texts']} texts ({e['tokens']} tokens), batch {e['batch_size']}, median of {e['rounds']} round(s)")
    for name, s in e["median_s"].items():
        print(f"  {name:22s} {s:7.2f} s  {e['texts_per_s'][name]:7.1f} texts/s")
    for name, value in e["ratios"].items():
        print(f"  {name:40s} {value:.3f}")
