"""Training-step throughput: EM, IC and MoTE steps at the reference size, their FLOPs, and a profile of one step.

One model of each variant takes the same batches in turn (``steps_in_turn``), so load drift hits them
alike; FLOPs are counted analytically from the chunks the trainer embeds (``step_flops``). The step
itself is ``train_step``: the trainer's own ``training_step``, timed in its three phases (forward,
backward, optimizer) through the trainer's timing hook. It is the one place the bench takes a training step (``bench_gpu.py`` uses it too).
"""

from __future__ import annotations

import contextlib
import statistics
import time
import weakref
from dataclasses import replace

import torch
from bench_peak import synchronize

from mote_lib.fast_dropout import fast_dropout
from mote_lib.model import MoTEModel
from mote_lib.profiles import CPU_TRAINING
from mote_lib.sampler import TaskAwareSampler
from mote_lib.train import PHASES, TrainConfig, TrainingData, make_optimizer, make_scheduler, training_step

VARIANTS = ("em", "ic", "mote")
# Suffix of EM/IC/MoTE trained with the cpu profile's setting (profiles.CPU_TRAINING), timed beside the
# default on CPU; the training target is judged on it, the default (the reference's) shown beside.
CPU_SETTING = "_cpu_training"


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
    """One step of the trainer's own ``training_step`` (loss, backward, clipping, AdamW, the learning-rate
    schedule), timed in its three phases through the trainer's ``timer`` hook.

    The schedule is the trainer's (``make_scheduler``), one per optimizer, made at the optimizer's first step.
    """
    scheduler = _SCHEDULERS.get(optimizer)
    if scheduler is None:
        scheduler = _SCHEDULERS[optimizer] = make_scheduler(optimizer, config)
    seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def timer(phase: str):
        synchronize(device)
        start = time.perf_counter()
        yield
        synchronize(device)
        seconds[phase] = time.perf_counter() - start

    result = training_step(model, batch, optimizer, scheduler, config, device, autocast, timer=timer)
    return {"seconds": sum(seconds.values()), **{phase: seconds[phase] for phase in PHASES},
            "tokens": result["tokens"], "loss": result["loss"].item()}


_SCHEDULERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # optimizer -> its schedule (train_step)


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
