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
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from mote_lib.atomic import write_text_atomic
from mote_lib.data import eval_texts, load_eval_task, write_eval_sample
from mote_lib.distributed import SINGLE
from mote_lib.fast_dropout import fast_dropout
from mote_lib.machine import cpu_model_and_flags, instruction_set
from mote_lib.model import MoTEConfig, MoTEModel, padding_order
from mote_lib.model import batches as batched
from mote_lib.model_card import VARIANT_NAMES
from mote_lib.profiles import CPU_TRAINING
from mote_lib.sampler import TaskAwareSampler
from mote_lib.train import TrainConfig, TrainingData, contrastive_step, grad_cache_step, make_optimizer

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TARGETS = {
    "training_share_of_fp32_peak": (">=", 0.55),
    "evaluation_over_floor": ("<=", 1.10),
    "mote_over_ic_step_time": ("<=", 1.05),
    "encode_over_sentence_transformers": (">=", 1.00),
}
VARIANTS = ("em", "ic", "mote")
# Suffix of EM/IC/MoTE trained with the cpu profile's setting (profiles.CPU_TRAINING), timed beside the
# default on CPU; the training target is judged on it, the default (the reference's) shown beside.
CPU_SETTING = "_cpu_training"
# The default evaluation subset: one task of each routing (STS and pair classification go to
# ``other_task``, as classification does; retrieval to search_query and search_document), about a
# sixth of the suite's embedding work (data/eval_cost.json).
SUBSET = ("LeeDocumentSTS", "WordSenseDefinitionPairs", "DebtagsUseClassification", "FaqRetrieval")
RETRIEVAL_ROLES = {"query": "query", "document": "document"}
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
TINY = "tiny-random-bert"
ANY_TASK = "any task"  # EM's one route: its embeddings ignore the task


# ----------------------------------------------------------------------------- the machine


def machine_info(threads: int) -> dict:
    """CPU model and the flags that set its speed, cores, threads, torch, and the load at the start."""
    cpu, flags = cpu_model_and_flags()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    info = {
        "cpu": cpu, "flags": {flag: flag in flags for flag in CPU_FLAGS}, "cores": os.cpu_count(), "threads": threads,
        "torch": torch.__version__, "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_at_start": load,
    }
    info["kind"] = machine_kind(info)
    # The 1-minute load average at the start, before this process has worked: above half a core
    # something else is running, and the figures are not results.
    info["idle_at_start"] = load is not None and load < 0.5
    return info


def machine_kind(info: dict) -> str:
    return f"{info['cpu']} ({instruction_set(info['flags'])}), {info['cores']} cores"


def git_commit() -> str:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit[:12] + ("-dirty" if dirty else "")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gemm_gflops(m: int, k: int, n: int, device: torch.device, repeats: int, bias: bool = False) -> float:
    """Best-of-``repeats`` GFLOP/s of one (m x k) @ (k x n) fp32 product (``bias``: as ``nn.Linear``'s addmm)."""
    a = torch.randn(m, k, device=device)
    b = torch.randn(n, k, device=device)
    c = torch.randn(n, device=device) if bias else None
    torch.nn.functional.linear(a, b, c)  # warm-up: threads, allocator
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        torch.nn.functional.linear(a, b, c)
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best / 1e9


def model_gemm_shapes(config: TrainConfig, backbone) -> dict[str, tuple[int, int, int]]:
    """The weight matrices of one layer applied to a full chunk of tokens (m = embed_chunk x max tokens)."""
    m, d, f = config.embed_chunk * config.max_seq_length, backbone.hidden_size, backbone.intermediate_size
    return {f"attention {m}x{d}x{d}": (m, d, d), f"ffn up {m}x{d}x{f}": (m, d, f), f"ffn down {m}x{f}x{d}": (m, f, d)}


# ----------------------------------------------------------------------------- training


def chunk_masks(model: MoTEModel, texts: list[str], tasks: list[str], chunk: int, max_length: int) -> list[torch.Tensor]:
    """The attention masks of the chunks the trainer embeds (``mote_lib.train``'s length-sorted plan)."""
    lengths = [len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    masks = []
    for start in range(0, len(order), chunk):
        rows = order[start:start + chunk]
        masks.append(model.tokenize([texts[i] for i in rows], [tasks[i] for i in rows], max_length=max_length)["attention_mask"])
    return masks


def step_flops(model: MoTEModel, batch: dict, config: TrainConfig) -> dict:
    """Analytic FLOPs of one training step (forward + backward = 3 x forward), useful and computed.

    Forward, per layer: 2 x (4 d^2 + 2 d f) per token for the weight matrices (Q, K, V, output; the
    one expert's up and down projections) and 4 s d per token for attention over s tokens (scores
    and their product with the values). Embedding look-ups, LayerNorms, pooling and the loss are left
    out (under 1%). ``useful`` counts each text at its real length; ``computed`` the padded chunks.
    """
    backbone = model.backbone_config
    d, f, layers = backbone.hidden_size, backbone.intermediate_size, len(model.blocks)
    per_token = 2 * (4 * d * d + 2 * d * f)
    documents = (batch["positives"] + batch["negatives"], batch["doc_tasks"] + batch["negative_tasks"])
    useful = computed = tokens = padded = 0
    for texts, tasks in ((batch["anchors"], batch["anchor_tasks"]), documents):
        for mask in chunk_masks(model, texts, tasks, config.embed_chunk, config.max_seq_length):
            lengths = mask.sum(dim=1).tolist()
            rows, width = mask.shape
            useful += 3 * layers * sum(t * per_token + 4 * t * t * d for t in lengths)
            computed += 3 * layers * rows * (width * per_token + 4 * width * width * d)
            tokens += sum(lengths)
            padded += rows * width
    return {"useful": useful, "computed": computed, "tokens": tokens, "padded_tokens": padded}


def train_step(model: MoTEModel, optimizer, batch: dict, config: TrainConfig, device: torch.device, autocast: bool) -> dict:
    """One step as the trainer takes it, timed in three parts."""
    _sync(device)
    start = time.perf_counter()
    step = grad_cache_step if config.grad_cache else contrastive_step
    result = step(model, batch, device, autocast, config.embed_chunk, config.max_seq_length, SINGLE, config.gather_negatives)
    loss = result["loss"]
    _sync(device)
    forward = time.perf_counter()
    if result["objective"] is not None:
        result["objective"].backward()
    _sync(device)
    backward = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    _sync(device)
    end = time.perf_counter()
    return {"seconds": end - start, "forward": forward - start, "backward": backward - forward, "optimizer": end - backward,
            "tokens": result["tokens"], "loss": loss.item()}


def profile_step(model: MoTEModel, optimizer, batch: dict, config: TrainConfig, device: torch.device, top: int) -> dict:
    """One step under torch.profiler: the ops with the most self time, and the share of matrix products."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        train_step(model, optimizer, batch, config, device, False)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    gemm = sum(e.self_cpu_time_total for e in events if _is_gemm(e.key))
    return {
        "self_cpu_seconds": total / 1e6,
        "matmul_share": gemm / total if total else 0.0,
        "top_ops": [{"op": e.key, "self_seconds": round(e.self_cpu_time_total / 1e6, 4),
                     "share": round(e.self_cpu_time_total / total, 4), "calls": e.count} for e in events[:top]],
    }


def _is_gemm(name: str) -> bool:
    return name in {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear"} or \
        "scaled_dot_product" in name or "flash_attention" in name


def training_config(args, variant: str) -> TrainConfig:
    overrides = {"variant": variant}
    if args.batch_size:
        overrides["batch_size"] = args.batch_size
    if args.max_seq_length:
        overrides["max_seq_length"] = args.max_seq_length
    if args.quick:
        overrides.setdefault("batch_size", 4)
        overrides.setdefault("max_seq_length", 32)
        return TrainConfig.from_profile("tiny", **overrides)
    return TrainConfig.from_profile("reference", base_model=args.base_model, **overrides)


def build_models(setups: dict, configs: dict, device: torch.device) -> tuple[dict, dict]:
    """One model (from seed 0) and its trainer's optimizer per setup name; ``setups``: name -> (config key, autocast)."""
    models, optimizers = {}, {}
    for name, (variant, _) in setups.items():
        torch.manual_seed(0)
        models[name] = MoTEModel.from_base(configs[variant].model_config()).to(device).train()
        optimizers[name] = make_optimizer(models[name], configs[variant])
    return models, optimizers


def steps_in_turn(models: dict, optimizers: dict, setups: dict, configs: dict, device: torch.device,
                  warm_up: list, timed: list) -> dict[str, list[dict]]:
    """Every model steps on the ``warm_up`` batches, then each ``timed`` batch goes round the models in
    turn, so that neither warm-up nor load drift favours the model measured last; each step's record."""
    for name, (variant, autocast) in setups.items():
        for batch in warm_up:
            train_step(models[name], optimizers[name], batch, configs[variant], device, autocast)
    steps = {name: [] for name in setups}
    for batch in timed:
        for name, (variant, autocast) in setups.items():
            steps[name].append(train_step(models[name], optimizers[name], batch, configs[variant], device, autocast))
    return steps


def bench_training(args, device: torch.device, peak: float) -> dict:
    configs = {variant: training_config(args, variant) for variant in VARIANTS}
    setups = {variant: (variant, False) for variant in VARIANTS}
    if args.bf16:
        setups["mote_bf16"] = ("mote", True)
    if device.type == "cpu":
        for variant in VARIANTS:
            configs[variant + CPU_SETTING] = replace(configs[variant], **CPU_TRAINING)
            setups[variant + CPU_SETTING] = (variant + CPU_SETTING, False)
    for chunk in args.embed_chunks or []:  # information only: other chunks draw other dropout masks (other numerics)
        configs[f"mote_chunk{chunk}"] = replace(configs["mote"], embed_chunk=chunk)
        setups[f"mote_chunk{chunk}"] = (f"mote_chunk{chunk}", False)
    if args.fast_dropout:  # information only: other dropout masks (other numerics), not the reference runs' setting
        for variant in (*VARIANTS, *(f"mote_chunk{chunk}" for chunk in args.embed_chunks or [])):
            configs[f"{variant}_fast_dropout"] = replace(configs[variant], fast_dropout=True)
            setups[f"{variant}_fast_dropout"] = (f"{variant}_fast_dropout", False)
    config = configs["mote"]
    data = TrainingData(config)
    sampler = TaskAwareSampler(data.sizes, config.batch_size, seed=0)  # the reference's seed-0 batches
    batches = [data.batch(sampler.next_batch().examples, config) for _ in range(args.steps + 1)]
    models, optimizers = build_models(setups, configs, device)
    # Fast dropout stays on for the bench's own models until they are timed (if a step raises, they go with it).
    masks = contextlib.ExitStack()
    for name, (variant, _) in setups.items():
        if configs[variant].fast_dropout:
            masks.enter_context(fast_dropout(models[name]))
    flops = {name: [step_flops(models[name], batch, configs[variant]) for batch in batches[1:]]
             for name, (variant, _) in setups.items()}
    steps = steps_in_turn(models, optimizers, setups, configs, device, warm_up=batches[:1], timed=batches[1:])

    per_variant = {}
    for name in setups:
        seconds = sum(s["seconds"] for s in steps[name])
        useful, computed = sum(f["useful"] for f in flops[name]), sum(f["computed"] for f in flops[name])
        tokens, padded = sum(f["tokens"] for f in flops[name]), sum(f["padded_tokens"] for f in flops[name])
        counted = sum(s["tokens"] for s in steps[name])
        per_variant[name] = {
            "median_step_s": statistics.median(s["seconds"] for s in steps[name]),
            "steps_s": [round(s["seconds"], 4) for s in steps[name]],
            "split_s": {part: statistics.median(s[part] for s in steps[name]) for part in ("forward", "backward", "optimizer")},
            "tokens_per_s": counted / seconds,
            "useful_gflops": useful / seconds / 1e9, "computed_gflops": computed / seconds / 1e9,
            "share_of_fp32_peak": useful / seconds / 1e9 / peak,
            "computed_share_of_fp32_peak": computed / seconds / 1e9 / peak,
            "padding_share": 1 - tokens / padded,
            "tokens_per_step": counted / len(steps[name]),
            "flop_count_matches_trainer_tokens": tokens == counted,
            "parameters": models[name].parameter_counts(),
        }
    paired = [m["seconds"] / i["seconds"] for m, i in zip(steps["mote"], steps["ic"])]
    profiled = profile_step(models["mote"], optimizers["mote"], batches[0], configs["mote"], device, args.top_ops)
    fast = "mote_fast_dropout"
    profiled_fast = (profile_step(models[fast], optimizers[fast], batches[0], configs[fast], device, args.top_ops)
                     if fast in models else None)
    judged = "mote" + CPU_SETTING  # the setting the target is judged on: where its step's time goes
    profiled_judged = (profile_step(models[judged], optimizers[judged], batches[0], configs[judged], device, args.top_ops)
                       if judged in models else None)
    masks.close()
    return {
        "batch_size": config.batch_size, "max_seq_length": config.max_seq_length, "embed_chunk": config.embed_chunk,
        "base_model": config.base_model, "timed_steps": args.steps, "batch_tasks": [b["row_tasks"][0] for b in batches[1:]],
        "variants": per_variant,
        "mote_over_ic_step_time": statistics.median(paired),
        "mote_over_ic_median_steps": per_variant["mote"]["median_step_s"] / per_variant["ic"]["median_step_s"],
        "mote_profile": profiled,
        "mote_fast_dropout_profile": profiled_fast,
        "mote_cpu_training_profile": profiled_judged,
    }


# ----------------------------------------------------------------------------- evaluation


def unique_routed_texts(model: MoTEModel, tasks: list, other_task: str) -> dict[str, list[str]]:
    """The tasks' unique texts by the model task that embeds them (one key, ``ANY_TASK``, for EM)."""
    from mote_lib.evaluate import route_task

    routed: dict[str, dict[str, None]] = {}
    for task in tasks:
        kind = task.metadata.type
        data = load_eval_task(task.metadata.name, task_root(task))
        for role, texts in eval_texts(data).items():
            route = route_task(kind, RETRIEVAL_ROLES.get(role), other_task)
            key = route if model.config.uses_instructions or model.config.routing != "none" else ANY_TASK
            routed.setdefault(key, {}).update(dict.fromkeys(texts))
    return {key: list(texts) for key, texts in routed.items()}


def _task(route: str) -> str | None:
    return None if route == ANY_TASK else route


def task_root(task) -> Path:
    """The data root of a shipped mteb task (``<root>/eval/<name>``)."""
    return Path(task.metadata.dataset["path"]).parent.parent


class RecordingEncode:
    """Stands in for ``model.encode`` during the evaluation: records each call's task, texts and time."""

    def __init__(self, encode) -> None:
        self.encode, self.calls = encode, []

    def __call__(self, texts, task=None, **kwargs):
        start = time.perf_counter()
        out = self.encode(texts, task=task, **kwargs)
        self.calls.append({"task": task, "texts": list(texts), "seconds": time.perf_counter() - start})
        return out


def bench_evaluation(args, device: torch.device) -> dict:
    from mote_lib.evaluate import evaluate_models
    from mote_lib.mteb_tasks import offline_tasks

    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        root = write_eval_sample(Path(tmp) / "sample", records=6) if args.quick else None
        names = args.eval_tasks.split(",") if args.eval_tasks else (None if args.suite == "full" else list(SUBSET))
        tasks = offline_tasks(names, root=root)
        names = [t.metadata.name for t in tasks]
        base = TINY if args.quick else args.base_model
        model = MoTEModel.from_base(MoTEConfig(variant=args.eval_variant, base_model=base)).to(device).eval()
        routed = unique_routed_texts(model, tasks, args.other_task)
        encode_kwargs = dict(batch_size=args.eval_batch_size, allow_empty=True, on_truncation="ignore")

        def floor() -> float:
            start = time.perf_counter()
            for route, texts in routed.items():
                model.encode(texts, task=_task(route), **encode_kwargs)
            return time.perf_counter() - start

        def evaluate(data_root, store: Path):
            return evaluate_models({f"bench-{args.eval_variant}": model}, "offline", tasks=names, data_root=data_root,
                                   other_task=args.other_task, batch_size=args.eval_batch_size, device=str(device),
                                   store=store, show_progress=False)

        # Warm-up: the model, and the first-use imports of mteb's evaluators (scikit-learn, ...), which a
        # process evaluating several models pays once, on a 4-record sample of the same tasks.
        model.encode(next(iter(routed.values()))[:args.eval_batch_size], task=_task(next(iter(routed))), **encode_kwargs)
        evaluate(write_eval_sample(Path(tmp) / "warm-up", records=4, source_root=root), Path(tmp) / "store-warm-up")
        # Each evaluation is bracketed by floors (floor, evaluation, floor, evaluation, ..., floor) and compared
        # with the mean of the two around it: a machine whose speed drifts during the run (a shared host can
        # lose a fifth of its peak in ten minutes) then slows both sides of the ratio alike.
        floors, evaluations, recorded, replay_s = [floor()], [], None, None
        for round_ in range(args.eval_rounds):
            recorder = RecordingEncode(model.encode)
            model.encode = recorder  # an instance attribute: MTEBEncoder calls it in the model's place
            try:
                start = time.perf_counter()
                table = evaluate(root, Path(tmp) / f"store-{round_}")
                evaluations.append(time.perf_counter() - start)
            finally:
                del model.encode
            recorded = recorder.calls
            failed = table[table["error"].notna()]
            if len(failed):
                raise RuntimeError(f"the evaluation failed on {failed['task'].tolist()}: {failed['error'].tolist()}")
            if args.replay and round_ == args.eval_rounds - 1:
                # the evaluation's own encode calls again, outside mteb: the cost of its split into calls
                start = time.perf_counter()
                for call in recorded:
                    model.encode(call["texts"], task=call["task"], **encode_kwargs)
                replay_s = time.perf_counter() - start
            floors.append(floor())

    brackets = [(before + after) / 2 for before, after in zip(floors, floors[1:])]
    ratios = [evaluation / bracket for evaluation, bracket in zip(evaluations, brackets)]
    floor_s, evaluation_s = statistics.median(brackets), statistics.median(evaluations)
    embedded = sum(len(c["texts"]) for c in recorded)
    inside_encode = sum(c["seconds"] for c in recorded)
    evaluated_unique: dict[str, set] = {}
    for c in recorded:
        key = c["task"] if ANY_TASK not in routed else ANY_TASK
        evaluated_unique.setdefault(key, set()).update(c["texts"])
    floor_texts = sum(len(texts) for texts in routed.values())
    return {
        "tasks": names, "suite": "full" if args.suite == "full" and not args.eval_tasks else "subset", "variant": args.eval_variant,
        "base_model": base, "batch_size": args.eval_batch_size, "other_task": args.other_task, "rounds": args.eval_rounds,
        "evaluation_s": evaluation_s, "floor_s": floor_s, "evaluation_over_floor": statistics.median(ratios),
        "evaluation_over_floor_by_round": [round(r, 4) for r in ratios],
        "replay_of_evaluation_calls_s": replay_s,
        "evaluations_s": [round(s, 2) for s in evaluations], "floors_s": [round(s, 2) for s in floors],
        "floor_texts": floor_texts, "floor_texts_by_route": {k: len(v) for k, v in routed.items()},
        "encode_calls": len(recorded), "texts_embedded_by_evaluation": embedded,
        "unique_texts_embedded_by_evaluation": sum(len(v) for v in evaluated_unique.values()),
        # the last round's evaluation, split into its time inside model.encode and the rest
        "seconds_inside_encode": inside_encode, "seconds_outside_encode": evaluations[-1] - inside_encode if recorded else None,
    }


# ----------------------------------------------------------------------------- encoding


def encode_texts(n: int) -> list[str]:
    """Real texts of mixed lengths: Debian package descriptions and FAQ questions."""
    texts = eval_texts(load_eval_task("DebianPackageRetrieval"))["document"] + eval_texts(load_eval_task("FaqRetrieval"))["query"]
    return texts[:n]


def bench_encode(args, device: torch.device) -> dict:
    from sentence_transformers import SentenceTransformer

    from mote_lib.base_models import resolve_base_model

    base = TINY if args.quick else args.base_model
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


# ----------------------------------------------------------------------------- verdicts


def _label(variant: str) -> str:
    """``mote_cpu_training`` -> "MoTE (cpu profile's setting)"; ``em`` -> "EM"."""
    name = variant.removesuffix(CPU_SETTING)
    name = VARIANT_NAMES.get(name, name)
    return name + (" (cpu profile's setting)" if variant.endswith(CPU_SETTING) else "")


def verdicts(result: dict) -> dict:
    """Each target: its figure and "met", or "not met: <the measured reason>" (or "not measured")."""
    peak = result["peak"]["fp32_gflops"]
    common = {key: result[key] for key in ("command", "commit", "date")}
    common.update(cpu=result["machine"]["cpu"], flags=result["machine"]["flags"], threads=result["machine"]["threads"],
                  machine_kind=result["machine"]["kind"], idle_at_start=result["machine"]["idle_at_start"])
    out = {}

    def verdict(key: str, figure, reason_if_missed, detail: dict):
        op, target = TARGETS[key]
        if figure is None:
            out[key] = {"target": f"{op} {target}", "figure": None, "status": "not measured", **common}
            return
        met = figure >= target if op == ">=" else figure <= target
        out[key] = {"target": f"{op} {target}", "figure": round(figure, 4), "status": "met" if met else f"not met: {reason_if_missed()}",
                    **detail, **common}

    training = result.get("training")
    if training:
        variants = training["variants"]
        default_worst = min(VARIANTS, key=lambda v: variants[v]["share_of_fp32_peak"])
        fast = [variant + CPU_SETTING for variant in VARIANTS]
        judged = fast if all(name in variants for name in fast) else list(VARIANTS)
        worst = min(judged, key=lambda v: variants[v]["share_of_fp32_peak"])
        setting = ", ".join(f"{key}={value}" for key, value in CPU_TRAINING.items())
        measured_with = (f"EM, IC and MoTE with the cpu profile's training setting ({setting}): the worst, "
                         f"{_label(worst)}, reaches {variants[worst]['share_of_fp32_peak']:.2f} of peak; with the default "
                         f"(the pre-registered reference runs' setting) the worst, {_label(default_worst)}, reaches "
                         f"{variants[default_worst]['share_of_fp32_peak']:.2f}" if judged is fast
                         else "EM, IC and MoTE with the default setting (the cpu profile's was not timed)")

        def training_reason() -> str:
            w = variants[worst]
            prof = training.get("mote_cpu_training_profile") if judged is fast else None
            prof = prof or training["mote_profile"]
            gemm = result["peak"]["model_shapes_gflops"]
            ops = ", ".join(f"{o['op']} {100 * o['share']:.0f}%" for o in prof["top_ops"][:5])
            split = w["split_s"]
            return (f"{_label(worst)} reaches {w['share_of_fp32_peak']:.2f} of the {peak:.0f} GFLOP/s peak "
                    f"({w['useful_gflops']:.1f} GFLOP/s on real tokens, {w['computed_gflops']:.1f} counting padding: "
                    f"{100 * w['padding_share']:.0f}% of computed tokens are padding); matrix products at the model's shapes "
                    f"run at {min(gemm.values()):.0f}-{max(gemm.values()):.0f} GFLOP/s "
                    f"({min(gemm.values()) / peak:.2f}-{max(gemm.values()) / peak:.2f} of peak); median step "
                    f"{w['median_step_s']:.2f} s = forward {split['forward']:.2f} + backward {split['backward']:.2f} + "
                    f"clip and AdamW {split['optimizer']:.2f}; in a profiled {_label('mote' + CPU_SETTING if judged is fast else 'mote')} "
                    f"step matrix products take "
                    f"{100 * prof['matmul_share']:.0f}% of self time; top ops: {ops}" + chunk_note())

        def chunk_note() -> str:  # the measured effect of less padding (other numerics: not the reference's setting)
            chunks = sorted(name for name in variants if name.startswith("mote_chunk") and not name.endswith("_fast_dropout"))
            return "".join(f"; MoTE with {name.removeprefix('mote_chunk')} texts per forward pass (default "
                           f"{training['embed_chunk']}): {variants[name]['share_of_fp32_peak']:.2f} of peak, "
                           f"{100 * variants[name]['padding_share']:.0f}% padding, step "
                           f"{variants[name]['median_step_s'] / variants['mote']['median_step_s']:.2f}x" for name in chunks) + fast_note()

        def fast_note() -> str:  # the measured effect of cheaper dropout masks (other numerics: an option)
            if "mote_fast_dropout" not in variants:
                return ""
            shares = "/".join(f"{variants[f'{v}_fast_dropout']['share_of_fp32_peak']:.2f}" for v in VARIANTS)
            ratios = "/".join(f"{variants[f'{v}_fast_dropout']['median_step_s'] / variants[v]['median_step_s']:.2f}"
                              for v in VARIANTS)
            prof = training["mote_fast_dropout_profile"]
            ops = ", ".join(f"{o['op']} {100 * o['share']:.0f}%" for o in prof["top_ops"][:5])
            both = "".join(f"; with fast dropout and {name.removeprefix('mote_chunk').removesuffix('_fast_dropout')} texts per "
                           f"forward pass MoTE reaches {variants[name]['share_of_fp32_peak']:.2f} of peak "
                           f"({100 * variants[name]['padding_share']:.0f}% padding)"
                           for name in sorted(variants) if name.startswith("mote_chunk") and name.endswith("_fast_dropout"))
            return (f"; with fast dropout (TrainConfig.fast_dropout, other masks: not the reference runs' setting) "
                    f"EM/IC/MoTE reach {shares} of peak, step {ratios}x the default's; its MoTE step: matrix products "
                    f"{100 * prof['matmul_share']:.0f}% of self time, top ops: {ops}" + both)

        verdict("training_share_of_fp32_peak", variants[worst]["share_of_fp32_peak"], training_reason,
                {"worst_variant": worst, "measured_with": measured_with,
                 "per_variant": {v: round(variants[v]["share_of_fp32_peak"], 4) for v in variants},
                 "fp32_peak_gflops": round(peak, 1)})

        def ratio_reason() -> str:
            m, i = variants["mote"], variants["ic"]
            return (f"MoTE's step takes {training['mote_over_ic_step_time']:.3f}x IC's (median over {training['timed_steps']} paired "
                    f"batches): forward {m['split_s']['forward']:.2f} vs {i['split_s']['forward']:.2f} s, backward "
                    f"{m['split_s']['backward']:.2f} vs {i['split_s']['backward']:.2f} s, clip and AdamW "
                    f"{m['split_s']['optimizer']:.2f} vs {i['split_s']['optimizer']:.2f} s "
                    f"({m['parameters']['total'] / 1e6:.1f} M vs {i['parameters']['total'] / 1e6:.1f} M parameters updated)")

        verdict("mote_over_ic_step_time", training["mote_over_ic_step_time"], ratio_reason,
                {"median_step_s": {v: round(variants[v]["median_step_s"], 4) for v in variants}})
    else:
        verdict("training_share_of_fp32_peak", None, None, {})
        verdict("mote_over_ic_step_time", None, None, {})

    evaluation = result.get("evaluation")
    if evaluation:
        def evaluation_reason() -> str:
            e = evaluation
            inside, outside = e["seconds_inside_encode"], e["seconds_outside_encode"]
            if outside is None:
                return (f"evaluating {e['variant'].upper()} took {e['evaluation_s']:.1f} s against a floor of {e['floor_s']:.1f} s; "
                        "it never called model.encode, so the gap cannot be split")
            return (f"evaluating {e['variant'].upper()} on {len(e['tasks'])} task(s) took {e['evaluation_s']:.1f} s against a "
                    f"floor of {e['floor_s']:.1f} s ({e['floor_texts']} unique routed texts in {len(e['floor_texts_by_route'])} "
                    f"encode call(s)); inside model.encode {inside:.1f} s ({e['encode_calls']} calls embedding "
                    f"{e['texts_embedded_by_evaluation']} texts, {e['texts_embedded_by_evaluation'] / e['floor_texts']:.2f}x the "
                    f"floor's), outside it (mteb's data loading and scoring) {outside:.1f} s"
                    + (f"; the same encode calls replayed outside mteb {e['replay_of_evaluation_calls_s']:.1f} s"
                       if e.get("replay_of_evaluation_calls_s") is not None else ""))

        verdict("evaluation_over_floor", evaluation["evaluation_over_floor"], evaluation_reason,
                {"evaluation_s": round(evaluation["evaluation_s"], 2), "floor_s": round(evaluation["floor_s"], 2),
                 "floors_s": evaluation.get("floors_s"), "by_round": evaluation.get("evaluation_over_floor_by_round"),
                 "tasks": evaluation["tasks"], "variant": evaluation["variant"]})
    else:
        verdict("evaluation_over_floor", None, None, {})

    encode = result.get("encode")
    if encode:
        def encode_reason() -> str:
            rate = encode["texts_per_s"]
            padding = encode.get("padding_share", {})
            return (f"MoTEModel.encode (EM) embeds {rate['mote_lib_em']:.1f} texts/s against sentence-transformers' "
                    f"{rate['sentence_transformers']:.1f} on the same {encode['texts']} texts (batch {encode['batch_size']}, "
                    f"median of {encode['rounds']} rounds); padding "
                    + ", ".join(f"{k} {v:.0%}" for k, v in padding.items())
                    + f"; forward passes of the same batches {encode['ratios'].get('forward, same batches: mote_lib / transformers', float('nan')):.3f}x")

        verdict("encode_over_sentence_transformers", encode["ratios"]["mote_lib_em / sentence_transformers"], encode_reason,
                {"texts_per_s": {k: round(v, 2) for k, v in encode["texts_per_s"].items()}})
    else:
        verdict("encode_over_sentence_transformers", None, None, {})
    return out


# ----------------------------------------------------------------------------- records


def history_section(result: dict) -> str:
    """The run as a Markdown section for bench/RESULTS.md."""
    m, lines = result["machine"], []
    flags = ", ".join(f for f, on in m["flags"].items() if on) or "none of " + ", ".join(CPU_FLAGS)
    load = m["load_average_at_start"]
    lines += [f"## {result['date']} · CPU: {m['kind']}, {m['threads']} threads, torch {m['torch']} (flags: {flags})", "",
              f"### `{result['command']}` at commit {result['commit']}", "",
              f"Load average at the start {load:.2f}" + ("" if m["idle_at_start"] else " (**not idle**: these figures are not results)")
              + f"; run took {result['wall_s'] / 60:.1f} min. fp32 matmul peak {result['peak']['fp32_gflops']:.1f} GFLOP/s "
              f"(start {result['peak']['start_gflops']:.1f}, end {result['peak']['end_gflops']:.1f}; {result['peak']['size']}^3 sgemm).", "",
              "| target | measured | verdict |", "|---|---:|---|"]
    for key, v in result["targets"].items():
        figure = "-" if v["figure"] is None else f"{v['figure']:.3f}"
        lines.append(f"| {key.replace('_', ' ')} ({v['target']}) | {figure} | {v['status']} |")
    if result["targets"]["training_share_of_fp32_peak"].get("measured_with"):
        lines += ["", f"Training share of peak judged on {result['targets']['training_share_of_fp32_peak']['measured_with']}."]
    training = result.get("training")
    if training:
        lines += ["", f"Training, {training['timed_steps']} step(s) of {training['batch_size']} x {training['max_seq_length']} tokens, fp32:", "",
                  "| variant | median step | tokens/s | useful GFLOP/s | share of peak | padding | forward / backward / optimizer |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for name, v in training["variants"].items():
            split = " / ".join(f"{v['split_s'][p]:.2f}" for p in ("forward", "backward", "optimizer"))
            lines.append(f"| {name} | {v['median_step_s']:.2f} s | {v['tokens_per_s']:.0f} | {v['useful_gflops']:.1f} | "
                         f"{v['share_of_fp32_peak']:.3f} | {100 * v['padding_share']:.0f}% | {split} s |")
        for key, what in (("mote_profile", "MoTE step profile"), ("mote_fast_dropout_profile", "MoTE step profile with fast dropout"),
                          ("mote_cpu_training_profile", "MoTE step profile with the cpu profile's setting")):
            prof = training.get(key)
            if prof:
                ops = ", ".join(f"{o['op']} {100 * o['share']:.0f}%" for o in prof["top_ops"][:6])
                lines += ["", f"{what}: matrix products {100 * prof['matmul_share']:.0f}% of self time; top ops: {ops}."]
    evaluation = result.get("evaluation")
    if evaluation:
        lines += ["", f"Evaluation ({evaluation['variant']}, {', '.join(evaluation['tasks'])}): {evaluation['evaluation_s']:.1f} s; "
                  f"floor {evaluation['floor_s']:.1f} s ({evaluation['floor_texts']} unique routed texts); inside encode "
                  f"{evaluation['seconds_inside_encode']:.1f} s over {evaluation['encode_calls']} calls"
                  + (f"; floors in turn with the evaluations: {', '.join(f'{f:.1f}' for f in evaluation['floors_s'])} s"
                     if evaluation.get("floors_s") else "")
                  + (f"; the evaluation's calls replayed outside mteb: {evaluation['replay_of_evaluation_calls_s']:.1f} s"
                     if evaluation.get("replay_of_evaluation_calls_s") is not None else "") + "."]
    encode = result.get("encode")
    if encode:
        rates = ", ".join(f"{k} {v:.1f}" for k, v in encode["texts_per_s"].items())
        ratios = ", ".join(f"{k} {v:.3f}" for k, v in encode["ratios"].items())
        padding = ", ".join(f"{k} {v:.0%}" for k, v in encode.get("padding_share", {}).items())
        lines += ["", f"Encode ({encode['texts']} texts, batch {encode['batch_size']}), texts/s: {rates}. Ratios: {ratios}."
                  + (f" Padding (share of computed tokens) by the order batches are cut in: {padding}." if padding else "")]
    return "\n".join(lines) + "\n"


def write_results(path: Path, result: dict) -> None:
    """The run's whole result, plus ``by_machine_kind``: the latest targets of every machine kind measured so far.

    Both machine kinds (AVX2, AVX-512) run stretches of the work, so a run on one kind keeps the
    other kind's latest verdicts (read back from the file it replaces).
    """
    kinds = {}
    if path.is_file():
        try:
            kinds = json.loads(path.read_text()).get("by_machine_kind", {})
        except (json.JSONDecodeError, AttributeError):
            kinds = {}
    kind = f"{result['machine']['kind']}, {result['machine']['threads']} threads"
    # A run of some parts (--only) keeps the kind's latest verdicts of the others (each names its own command and commit).
    targets = dict(result["targets"])
    for key, earlier in kinds.get(kind, {}).get("targets", {}).items():
        if targets.get(key, {}).get("status") == "not measured" and earlier.get("status") != "not measured":
            targets[key] = earlier
    kinds[kind] = {**{key: result[key] for key in ("date", "commit", "command")}, "targets": targets}
    write_text_atomic(path, json.dumps({**result, "by_machine_kind": kinds}, indent=1, default=str) + "\n")


def append_history(path: Path, section: str) -> None:
    text = path.read_text() if path.is_file() else "# Benchmark results\n"
    marker = "\n## GPU\n"  # the GPU section stays last
    if marker in text:
        head, tail = text.split(marker, 1)
        text = head.rstrip("\n") + "\n\n" + section + marker + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


# ----------------------------------------------------------------------------- main


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
        "command": shlex.join(["python", "bench/bench_suite.py", *argv]), "commit": git_commit(),
        "date": datetime.date.today().isoformat(), "machine": machine_info(torch.get_num_threads()), "quick": args.quick,
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
    result["targets"] = verdicts(result)
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


def print_training(t: dict) -> None:
    print(f"training: {t['timed_steps']} step(s) of {t['batch_size']} x {t['max_seq_length']} tokens per variant "
          f"(tasks {', '.join(t['batch_tasks'])}), fp32 unless named")
    for name, v in t["variants"].items():
        split = "/".join(f"{v['split_s'][p]:.2f}" for p in ("forward", "backward", "optimizer"))
        print(f"  {name:24s} median step {v['median_step_s']:6.2f} s (fwd/bwd/opt {split})  {v['tokens_per_s']:7.0f} tokens/s  "
              f"{v['useful_gflops']:6.1f} GFLOP/s useful ({v['share_of_fp32_peak']:.3f} of the start peak), "
              f"{v['computed_gflops']:6.1f} computed; padding {100 * v['padding_share']:.0f}%")
    print(f"  step time MoTE / IC: {t['mote_over_ic_step_time']:.3f} (median of paired steps; "
          f"{t['mote_over_ic_median_steps']:.3f} from the medians)")
    prof = t["mote_profile"]
    print(f"  one MoTE step under torch.profiler: {prof['self_cpu_seconds']:.2f} s self CPU, "
          f"matrix products {100 * prof['matmul_share']:.0f}%; top ops by self time:")
    for op in prof["top_ops"]:
        print(f"    {op['op']:44s} {op['self_seconds']:8.3f} s  {100 * op['share']:5.1f}%  {op['calls']:6d} calls")


def print_evaluation(e: dict) -> None:
    print(f"evaluation of {e['variant']} ({e['suite']}: {', '.join(e['tasks'])}): {e['evaluation_s']:.1f} s; floor "
          f"{e['floor_s']:.1f} s ({e['floor_texts']} unique routed texts: {e['floor_texts_by_route']}); ratio "
          f"{e['evaluation_over_floor']:.3f}")
    print(f"  inside model.encode {e['seconds_inside_encode']:.1f} s in {e['encode_calls']} calls, "
          f"{e['texts_embedded_by_evaluation']} texts ({e['unique_texts_embedded_by_evaluation']} unique per route); "
          f"outside {e['seconds_outside_encode'] or 0:.1f} s")


def print_encode(e: dict) -> None:
    print(f"encode: {e['texts']} texts ({e['tokens']} tokens), batch {e['batch_size']}, median of {e['rounds']} round(s)")
    for name, s in e["median_s"].items():
        print(f"  {name:22s} {s:7.2f} s  {e['texts_per_s'][name]:7.1f} texts/s")
    for name, value in e["ratios"].items():
        print(f"  {name:40s} {value:.3f}")


if __name__ == "__main__":
    main()
