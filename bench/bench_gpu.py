"""What only a GPU can show, in one prepared call on a lent H100/H200 (issues 16 and 17).

The lent machine reaches no model hub, takes at most 64 MiB of files per call (all-MiniLM-L6-v2's
weights alone are 91 MB, the repository's tracked files 45 MB) and its image has no mteb (nor
polars, which mteb needs, itself about 40 MB). So the real ``gpu-quick`` plan cannot run there; this
script measures what sizes that plan and checks what only CUDA exercises:

1. CUDA paths, on the tiny random BERT (MiniLM's tokenizer): a run interrupted and resumed with
   ``deterministic=True`` ends with the weights of an uninterrupted one; GradCache, which replays
   each chunk's dropout from saved CUDA RNG states, ends with the weights of plain training; bf16
   autocast trains to finite weights.
2. Throughput, with random weights of MiniLM's shapes (a step's time does not depend on the values):
   bf16 and fp32 matrix-product peaks; EM, IC and MoTE training steps at the gpu-quick sizes in bf16
   autocast (as the profile trains) and fp32; ``MoTEModel.encode`` tokens/s at the evaluation's
   batch size (32, fp32, as ``mote_lib.evaluate`` runs) and at 256.
3. The gpu-quick plan's projected time from those figures and the suite's routed token counts
   (counted on CPU by ``--prepare``), against the 10-minute window it must fit.

Prepare here (copies MiniLM's config and tokenizer without weights, counts the suite's tokens, and
downloads the wheels the device's Python 3.12 image lacks: ``datasets`` and what it needs):
    python bench/bench_gpu.py --prepare .gpu          # .gpu/ ignored by git (.git/info/exclude)
On the device, with ``.gpu`` carried (the ``device`` tool's ``carry``):
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl
    PYTHONPATH=/tmp/site:$PWD python3 bench/bench_gpu.py --run .gpu --output $OUT/bench_gpu.json
    (a later call: --skip-checks --output $OUT/bench_gpu_timings.json)
Here again, with the JSON copied into results/gpu-quick/:
    python bench/bench_gpu.py --report results/gpu-quick
``--quick`` shrinks every size (seconds on a CPU: ``--device cpu``) so the tests can run it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_evaluation  # noqa: E402
import bench_training  # noqa: E402
from bench_peak import synchronize  # noqa: E402

from mote_lib.base_models import TINY_RANDOM_BERT_CONFIG  # noqa: E402
from mote_lib.model import MoTEConfig, MoTEModel  # noqa: E402
from mote_lib.profiles import get_profile  # noqa: E402
from mote_lib.sampler import TaskAwareSampler  # noqa: E402
from mote_lib.train import TrainConfig, TrainingData, train  # noqa: E402

VARIANTS = ("em", "ic", "mote")
SAMPLE_TEXTS = 2048  # texts per variant whose encoding is timed on the device
WINDOW_S = 600  # the gpu-quick plan must start and finish within 10 minutes
# mteb's own time around the encode calls (data loading, scoring), measured on the 2-core CPU for the whole
# suite (bench/results.json, 2026-12-03: 19.5 s outside model.encode); the device's CPU is taken to be no slower.
OUTSIDE_ENCODE_S = 19.5
# What the projection cannot measure on the device: per entry, loading and saving the model, mteb's start-up and
# the small analyses (expert movement, inter-task cosines); and a safety margin on the window.
OVERHEAD_PER_ENTRY_S = 10.0
MARGIN = 0.9
# The wheels the device's image (Python 3.12) lacks, at the versions this project pins.
DEVICE_WHEELS = ("datasets==5.2.0", "dill==0.4.1", "multiprocess==0.70.19")
SKIP_WEIGHTS = ("*.safetensors", "*.bin", "*.onnx", "*.h5", "onnx", "openvino", "*.msgpack", "*.ot")


# ----------------------------------------------------------------------------- prepare (here, on CPU)


def prepare(folder: Path, other_task: str = "classification", wheels: bool = False) -> dict:
    """Write ``folder/minilm-shape`` (MiniLM's config and tokenizer, no weights) and ``folder/suite.json``.

    ``wheels``: also download ``DEVICE_WHEELS`` for the device's Python 3.12 into ``folder/whl`` (the network).
    """
    if wheels:
        import subprocess

        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64",
                        "--platform", "manylinux_2_17_x86_64", "-d", str(folder / "whl"), *DEVICE_WHEELS], check=True)
    from transformers import AutoTokenizer

    from mote_lib.base_models import resolve_base_model
    from mote_lib.mteb_tasks import offline_tasks

    shape = folder / "minilm-shape"
    shutil.rmtree(shape, ignore_errors=True)
    shutil.copytree(resolve_base_model("minilm"), shape, ignore=shutil.ignore_patterns(*SKIP_WEIGHTS))
    tokenizer = AutoTokenizer.from_pretrained(shape)
    tasks = offline_tasks()
    counts, samples = {}, {}
    for variant in VARIANTS:
        config = MoTEConfig(variant=variant)
        routed = bench_evaluation.unique_routed_texts(SimpleNamespace(config=config), tasks, other_task)
        rows = [(route, text) for route, texts in routed.items() for text in texts]
        counts[variant] = {route: {"texts": len(texts), "tokens": _tokens(tokenizer, texts, route, config)}
                           for route, texts in routed.items()}
        sample = random.Random(0).sample(rows, min(SAMPLE_TEXTS, len(rows)))
        samples[variant] = [{"task": None if route == bench_evaluation.ANY_TASK else route, "text": text} for route, text in sample]
    record = {"max_seq_length": MoTEConfig().max_seq_length, "other_task": other_task, "counts": counts,
              "samples": samples, "tasks": [t.metadata.name for t in tasks]}
    (folder / "suite.json").write_text(json.dumps(record) + "\n")
    counts = {key: value for key, value in record.items() if key != "samples"}  # small: committed beside the report
    (folder / "suite_counts.json").write_text(json.dumps(counts, indent=1) + "\n")
    return record


def _tokens(tokenizer, texts: list[str], route: str, config: MoTEConfig) -> int:
    prefix = config.instructions.get(route, "") if config.uses_instructions else ""
    ids = tokenizer([prefix + t for t in texts], truncation=True, max_length=config.max_seq_length)["input_ids"]
    return sum(len(i) for i in ids)


# ----------------------------------------------------------------------------- run (on the device)


def run(folder: Path, device: torch.device, quick: bool, checks: bool = True) -> dict:
    started = time.perf_counter()
    result = {"machine": machine(device), "quick": quick}
    work = folder / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tiny = random_base(folder / "minilm-shape", work / "tiny-random-bert", TINY_RANDOM_BERT_CONFIG)
    result["cuda_paths"] = check_cuda_paths(tiny, work, device) if checks else "skipped (--skip-checks)"
    result["seconds"] = {"cuda_paths": round(time.perf_counter() - started, 1)}
    torch.use_deterministic_algorithms(False)  # the checks turned it on; the timings use the default kernels
    shaped = random_base(folder / "minilm-shape", work / "minilm-random", None)
    result["peak_size"] = 1024 if quick else 8192
    result["peaks_tflops"] = peaks(device, result["peak_size"])
    mark = time.perf_counter()
    result["training"] = time_training(shaped, device, quick, result["peaks_tflops"])
    result["seconds"]["training"] = round(time.perf_counter() - mark, 1)
    suite_record = json.loads((folder / "suite.json").read_text())
    mark = time.perf_counter()
    result["encode"] = time_encode(shaped, device, suite_record, quick)
    result["seconds"]["encode"] = round(time.perf_counter() - mark, 1)
    result["projection"] = project(result, suite_record)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


def machine(device: torch.device) -> dict:
    import transformers

    info = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "device": str(device), "cpu_cores": os.cpu_count(),
            "mteb_importable": importlib.util.find_spec("mteb") is not None,
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    multiprocessors=props.multi_processor_count, cuda=torch.version.cuda)
    return info


def random_base(shape: Path, target: Path, overrides: dict | None) -> str:
    """A base-model folder: MiniLM's tokenizer with random weights (MiniLM's shapes, or ``overrides``)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(shape)
    config = BertConfig(vocab_size=tokenizer.vocab_size, **overrides) if overrides else BertConfig.from_pretrained(shape)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = BertModel(config)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return str(target)


def check_cuda_paths(tiny: str, work: Path, device: torch.device) -> dict:
    """Resume identity (deterministic), GradCache against plain training, bf16 autocast: each with its numbers."""
    base = dict(base_model=tiny, steps=6, batch_size=8, max_seq_length=32, checkpoint_every=1, keep_last=2, lr=1e-3,
                warmup_ratio=0.3, max_examples_per_dataset=64, device=str(device), deterministic=True, bf16="off")
    checks = {}

    def weights(run: str) -> dict:
        return MoTEModel.from_pretrained(work / run / "model").state_dict()

    def attempt(name: str, check) -> None:
        try:
            checks[name] = check()
        except Exception as err:  # a failed check is a result too: recorded, the others still run
            checks[name] = {"passed": False, "error": f"{type(err).__name__}: {err}"}

    def resume() -> dict:
        config = TrainConfig(**base)
        train(config, work / "straight", show_progress=False)
        train(config, work / "resumed", show_progress=False, stop_after=3)
        train(config, work / "resumed", resume=True, show_progress=False)
        a, b = weights("straight"), weights("resumed")
        differing = [k for k in a if not torch.equal(a[k], b[k])]
        return {"passed": not differing, "tensors": len(a), "differing": differing[:5]}

    def grad_cache() -> dict:
        config = TrainConfig(**{**base, "steps": 3, "embed_chunk": 4})
        train(config, work / "plain", show_progress=False)
        train(replace(config, grad_cache=True), work / "cached", show_progress=False)
        a, b = weights("plain"), weights("cached")
        worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a if a[k].is_floating_point())
        return {"passed": worst <= 1e-4, "max_abs_difference": worst}

    def bf16() -> dict:
        torch.use_deterministic_algorithms(False)  # the resume check left it on for the process
        config = TrainConfig(**{**base, "steps": 3, "bf16": "on", "deterministic": False})
        summary = train(config, work / "bf16", show_progress=False)
        finite = all(torch.isfinite(v).all().item() for v in weights("bf16").values() if v.is_floating_point())
        return {"passed": finite and summary["bf16"], "final_loss": summary["final_loss"]}

    for name, check in (("resume_identical_with_deterministic", resume), ("grad_cache_matches_plain", grad_cache),
                        ("bf16_autocast_trains", bf16)):
        attempt(name, check)
    return checks


def peaks(device: torch.device, size: int) -> dict:
    out = {}
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        a, b = torch.randn(size, size, device=device, dtype=dtype), torch.randn(size, size, device=device, dtype=dtype)
        best = min(_timed(device, torch.matmul, a, b) for _ in range(5))
        out[name] = 2 * size**3 / best / 1e12
    return out


def _timed(device: torch.device, fn, *args) -> float:
    """Seconds of one ``fn(*args)`` after a warm-up call, the device synchronised around it."""
    fn(*args)
    synchronize(device)
    start = time.perf_counter()
    fn(*args)
    synchronize(device)
    return time.perf_counter() - start


def time_training(base: str, device: torch.device, quick: bool, peak: dict) -> dict:
    """Median step of EM, IC and MoTE at the gpu-quick sizes, bf16 autocast and fp32, on the same batches.

    Every model first takes one step on every batch (kernels for each sequence length chosen and
    cached), then the timed steps go round the models in turn, so that neither warm-up nor drift
    favours the model measured last.
    """
    sizes = get_profile("gpu-quick").train
    overrides = dict(batch_size=4, max_seq_length=32, embed_chunk=4) if quick else {}
    timed = 1 if quick else 10
    configs = {v: TrainConfig.from_profile("gpu-quick", variant=v, base_model=base, device=str(device), **overrides)
               for v in VARIANTS}
    config = configs["mote"]
    data = TrainingData(config)
    sampler = TaskAwareSampler(data.sizes, config.batch_size, seed=0)
    batches = [data.batch(sampler.next_batch().examples, config) for _ in range(timed)]
    setups = {f"{v}_{'bf16' if autocast else 'fp32'}": (v, autocast) for v in VARIANTS for autocast in (True, False)}
    if device.type == "cuda":  # information: AdamW's fused CUDA kernel (fewer launches; not the trainer's optimizer)
        setups.update({f"{v}_bf16_fused_adamw": (v, True) for v in ("ic", "mote")})
    models, optimizers = bench_training.build_models(setups, configs, device)
    for name, (variant, _) in setups.items():
        if name.endswith("_fused_adamw"):  # new groups: the trainer's carry fused=None, which would win over fused=True
            groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in optimizers[name].param_groups]
            optimizers[name] = torch.optim.AdamW(groups, lr=configs[variant].lr, fused=True)
    # warm-up: every shape once (kernels chosen and cached per sequence length)
    steps = bench_training.steps_in_turn(models, optimizers, setups, configs, device, warm_up=batches, timed=batches)
    out = {"batch_size": config.batch_size, "max_seq_length": config.max_seq_length, "steps_timed": timed,
           "profile_steps": sizes["steps"], "variants": {}}
    for name, (variant, autocast) in setups.items():
        median = statistics.median(s["seconds"] for s in steps[name])
        flops = statistics.median(bench_training.step_flops(models[name], b, configs[variant])["useful"] for b in batches)
        tokens = statistics.median(s["tokens"] for s in steps[name])
        precision = "bf16" if autocast else "fp32"
        out["variants"][name] = {
            "median_step_s": round(median, 4), "tokens_per_s": round(tokens / median),
            "useful_tflops": round(flops / median / 1e12, 2), "share_of_peak": round(flops / median / 1e12 / peak[precision], 4),
            "peak": precision, "losses": [round(s["loss"], 3) for s in steps[name]]}
    if device.type == "cuda":
        out["mote_bf16_gpu_busy"] = gpu_busy(models["mote_bf16"], optimizers["mote_bf16"], batches[0], configs["mote"], device)
        # Where MoTE's extra time goes (launch-bound: the CPU's time is the step's time).
        out["ic_bf16_gpu_busy"] = gpu_busy(models["ic_bf16"], optimizers["ic_bf16"], batches[0], configs["ic"], device)
    v = out["variants"]
    out["mote_over_ic_step_time_bf16"] = round(v["mote_bf16"]["median_step_s"] / v["ic_bf16"]["median_step_s"], 3)
    if "mote_bf16_fused_adamw" in v:
        out["fused_adamw_verified"] = all(g["fused"] for name in setups if name.endswith("_fused_adamw")
                                          for g in optimizers[name].param_groups)
        out["mote_over_ic_step_time_bf16_fused_adamw"] = round(
            v["mote_bf16_fused_adamw"]["median_step_s"] / v["ic_bf16_fused_adamw"]["median_step_s"], 3)
    out["bf16_over_fp32_step_time_mote"] = round(v["mote_bf16"]["median_step_s"] / v["mote_fp32"]["median_step_s"], 3)
    return out


def gpu_busy(model, optimizer, batch, config, device) -> dict:
    """One step under torch.profiler: the GPU's kernel time against the step's wall time (launch-bound or not)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        step = bench_training.train_step(model, optimizer, batch, config, device, True)
    events = prof.key_averages()
    kernels = sum(getattr(e, "self_device_time_total", 0) for e in events) / 1e6
    by_cpu = sorted((e for e in events if e.self_cpu_time_total > 0), key=lambda e: -e.self_cpu_time_total)
    return {"step_s": round(step["seconds"], 4), "gpu_kernel_s": round(kernels, 4),
            "gpu_busy_share": round(kernels / step["seconds"], 3),
            "top_cpu_ops": [{"op": e.key, "self_cpu_s": round(e.self_cpu_time_total / 1e6, 4), "calls": e.count}
                            for e in by_cpu[:10]]}


def time_encode(base: str, device: torch.device, suite_record: dict, quick: bool) -> dict:
    """Tokens/s of ``MoTEModel.encode`` on each variant's sample of the suite's routed texts."""
    out = {}
    for variant in VARIANTS:
        model = MoTEModel.from_base(MoTEConfig(variant=variant, base_model=base)).to(device).eval()
        sample = suite_record["samples"][variant][: 64 if quick else None]
        by_task: dict = {}
        for row in sample:
            by_task.setdefault(row["task"], []).append(row["text"])
        tokens = sum(_tokens(model.tokenizer, texts, task or "", model.config) for task, texts in by_task.items())
        for batch_size in (32, 256):
            seconds = _timed(device, _encode_all, model, by_task, batch_size, device)
            out[f"{variant}_batch{batch_size}"] = {"texts": len(sample), "tokens": tokens, "seconds": round(seconds, 3),
                                                   "tokens_per_s": round(tokens / seconds)}
        del model
    return out


def _encode_all(model: MoTEModel, by_task: dict, batch_size: int, device: torch.device) -> None:
    for task, texts in by_task.items():
        model.encode(texts, task=task, batch_size=batch_size, device=device, on_truncation="ignore", allow_empty=True)


def project(result: dict, suite_record: dict) -> dict:
    """The gpu-quick plan's time at the profile's steps: base + 3 seeds x (EM, IC, MoTE), training, evaluation, route ablation."""
    seeds, steps = len(get_profile("gpu-quick").seeds), get_profile("gpu-quick").train["steps"]
    per_entry, total = {}, 0.0
    evaluation = {}
    for variant in VARIANTS:
        counts = suite_record["counts"][variant]
        rate = result["encode"][f"{variant}_batch32"]["tokens_per_s"]
        suite_tokens = sum(c["tokens"] for c in counts.values())
        retrieval_tokens = sum(c["tokens"] for route, c in counts.items() if route.startswith("search_"))
        evaluation[variant] = suite_tokens / rate + OUTSIDE_ENCODE_S
        training = steps * result["training"]["variants"][f"{variant}_bf16"]["median_step_s"]
        # The route ablation re-scores retrieval with the wrong expert and with none: twice its tokens.
        ablation = 2 * retrieval_tokens / rate if variant == "mote" else 0.0
        per_entry[variant] = {"training_s": round(training, 1), "evaluation_s": round(evaluation[variant], 1),
                              "route_ablation_s": round(ablation, 1), "suite_tokens": suite_tokens}
        total += seeds * (training + evaluation[variant] + ablation)
    total += evaluation["em"]  # the untrained base, scored as EM
    entries = 1 + seeds * len(VARIANTS)
    total += entries * OVERHEAD_PER_ENTRY_S
    per_step = seeds * sum(result["training"]["variants"][f"{v}_bf16"]["median_step_s"] for v in VARIANTS)
    fixed = total - steps * per_step  # everything but training, the overheads included
    fit = max(0, int((MARGIN * WINDOW_S - fixed) / per_step) // 10 * 10)
    return {"per_entry": per_entry, "seeds": seeds, "entries": entries, "steps": steps, "total_s": round(total, 1),
            "steps_that_fit": fit,
            "fit_rule": f"{MARGIN:.0%} of the {WINDOW_S} s window, {OVERHEAD_PER_ENTRY_S:.0f} s per entry for what is not "
                        "timed, rounded down to tens",
            "window_s": WINDOW_S, "fits": steps <= fit,
            "left_out": "model loading, mteb's start-up, the expert-movement and inter-task-cosine analyses (seconds each)",
            "outside_encode_s_per_evaluation": OUTSIDE_ENCODE_S}


# ----------------------------------------------------------------------------- report (here, from the device's JSON)


def report(folder: Path) -> Path:
    """``folder/README.md`` from the device runs' JSON files in ``folder`` (``bench_gpu*.json``)."""
    runs = device_runs(folder)
    checked = next((r for r in runs.values() if isinstance(r.get("cuda_paths"), dict)), None)
    timed = timing_runs(runs)
    m = next(iter(timed.values()))["machine"]
    lines = ["# The gpu-quick plan on one H200: checks and sizing", "",
             f"Generated by `python bench/bench_gpu.py --report <this folder>` from {', '.join(f'`{n}`' for n in runs)}, which "
             f"`bench/bench_gpu.py --run` wrote on lent machines: {m.get('gpu')} ({m.get('gpu_memory_gib')} GiB, CUDA "
             f"{m.get('cuda')}), {m['cpu_cores']} CPU cores, Python {m['python']}, torch {m['torch']}, transformers "
             f"{m['transformers']}; TF32 matrix products {'on' if m['tf32_matmul'] else 'off'}. Each call may get another "
             "machine of the kind, and at this model size a step is bound by the host's speed at launching work.", "",
             "## Why the plan itself did not run there", "",
             "The lent machine reaches no model hub and takes at most 64 MiB of files per call: all-MiniLM-L6-v2's "
             "weights are 91 MB and the repository's tracked files 45 MB. Its image has no mteb "
             f"(importable: {m['mteb_importable']}), and mteb needs polars, itself about 40 MB. So the plan's scores "
             "need a GPU machine that can reach the hub or hold the model; what a GPU alone can show is below. "
             "To repeat or add a machine: the commands are in `bench/bench_gpu.py`'s docstring.", ""]
    if checked:
        lines += ["## CUDA paths (tiny random BERT, shipped data)", "", "| check | passed | measured |", "|---|---|---|"]
        for name, check in checked["cuda_paths"].items():
            detail = ", ".join(f"{k.replace('_', ' ')} {v:.3g}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
                               for k, v in check.items() if k != "passed")
            lines.append(f"| {name.replace('_', ' ')} | {'yes' if check['passed'] else '**no**'} | {detail} |")
        lines.append("")
    lines += ["## Throughput (random weights of MiniLM's shapes: a step's time does not depend on the values)", ""]
    for name, run in timed.items():
        lines += _throughput_lines(name, run)
    # Recomputed from the stored figures, so that the rule below is the code's today; the slowest machine decides.
    fits = fits_by_run(folder)
    slowest = min(fits, key=lambda name: fits[name]["steps_that_fit"])
    p = fits[slowest]
    lines += ["## The plan's time", "",
              f"Base + {p['seeds']} seeds x (EM, IC, MoTE): {p['entries']} entries. Per entry at the profile's {p['steps']} "
              f"steps, by the slowest machine's figures (`{slowest}`):", "",
              "| model | training | evaluation | route ablation | suite tokens |", "|---|---:|---:|---:|---:|"]
    for name, e in p["per_entry"].items():
        lines.append(f"| {name} | {e['training_s']:.0f} s | {e['evaluation_s']:.0f} s | {e['route_ablation_s']:.0f} s | "
                     f"{e['suite_tokens']:,} |")
    lines += ["", f"Evaluation = the suite's routed tokens at the batch-32 rate + {p['outside_encode_s_per_evaluation']} s of "
              "mteb's own work per evaluation (measured outside `model.encode` on the 2-core CPU: an assumption here). "
              f"Left out: {p['left_out']}.", "",
              "| timings | total at the profile's steps (overheads included) | steps that fit |", "|---|---:|---:|"]
    lines += [f"| `{name}` | {f['total_s']:.0f} s | {f['steps_that_fit']} |" for name, f in fits.items()]
    lines += ["", f"**Steps that fit** ({p['fit_rule']}, on the slowest machine measured): **{p['steps_that_fit']}**. "
              "The `gpu-quick` profile in `mote_lib/profiles.py` trains this many steps.", ""]
    target = folder / "README.md"
    target.write_text("\n".join(lines))
    return target


def device_runs(folder: Path) -> dict[str, dict]:
    """The device runs' JSON in ``folder`` by file name (``bench_gpu*.json``); an error when there is none."""
    runs = {path.name: json.loads(path.read_text()) for path in sorted(folder.glob("bench_gpu*.json"))}
    if not runs:
        raise SystemExit(f"bench_gpu.py: no bench_gpu*.json in {folder}; copy the device's files there first")
    return runs


def timing_runs(runs: dict[str, dict]) -> dict[str, dict]:
    """The runs whose timings count: the timing-only calls (``*timings*``), else every run."""
    return {name: r for name, r in runs.items() if "timings" in name} or runs


def fits_by_run(folder: Path) -> dict[str, dict]:
    """Each timing run's projection, recomputed from its stored figures by today's rule."""
    counts = json.loads((folder / "suite_counts.json").read_text())
    return {name: project(run, counts) for name, run in timing_runs(device_runs(folder)).items()}


def fitted_steps(folder: Path) -> int:
    """The steps that fit the window on the slowest machine measured (the report's rule)."""
    return min(f["steps_that_fit"] for f in fits_by_run(folder).values())


def _throughput_lines(name: str, run: dict) -> list[str]:
    t, peak = run["training"], run["peaks_tflops"]
    size = run.get("peak_size", 8192)
    lines = [f"`{name}`: matrix-product peaks ({size}^3) bf16 {peak['bf16']:.0f} TFLOP/s, fp32 {peak['fp32']:.1f} TFLOP/s. "
             f"Training at the gpu-quick sizes ({t['batch_size']} pairs x {t['max_seq_length']} tokens), median of "
             f"{t['steps_timed']} steps after every model took one step on every batch, the models in turn:", "",
             "| model | median step | tokens/s | useful TFLOP/s | share of peak |", "|---|---:|---:|---:|---:|"]
    for variant, v in t["variants"].items():
        lines.append(f"| {variant} | {v['median_step_s']:.3f} s | {v['tokens_per_s']:,} | {v['useful_tflops']:.2f} | "
                     f"{v['share_of_peak']:.4f} of {v['peak']} |")
    busy = t.get("mote_bf16_gpu_busy")
    notes = [f"MoTE / IC step time (bf16): {t['mote_over_ic_step_time_bf16']:.3f}; MoTE bf16 / fp32: "
             f"{t['bf16_over_fp32_step_time_mote']:.3f}."]
    if busy:
        notes.append(f"In one profiled MoTE bf16 step the GPU ran kernels for {busy['gpu_kernel_s']:.3f} s of "
                     f"{busy['step_s']:.3f} s ({busy['gpu_busy_share']:.0%}): at this model size a step is bound by "
                     "launching work, not by the GPU's arithmetic.")
    if "mote_over_ic_step_time_bf16_fused_adamw" in t and not t.get("fused_adamw_verified"):
        notes.append("Its `*_fused_adamw` rows are not fused: the optimizer was rebuilt from groups that carried "
                     "`fused=None` (fixed after this run), so they are two more timings of torch's default AdamW.")
    elif "mote_over_ic_step_time_bf16_fused_adamw" in t:
        fused = {v: t["variants"][f"{v}_bf16_fused_adamw"]["median_step_s"] / t["variants"][f"{v}_bf16"]["median_step_s"]
                 for v in ("ic", "mote")}
        notes.append(f"AdamW's fused CUDA kernel (information: the trainer uses torch's default AdamW) takes IC's step to "
                     f"{fused['ic']:.2f}x and MoTE's to {fused['mote']:.2f}x; MoTE / IC with it: "
                     f"{t['mote_over_ic_step_time_bf16_fused_adamw']:.3f}.")
    for v in ("ic", "mote"):
        ops = t.get(f"{v}_bf16_gpu_busy", {}).get("top_cpu_ops")
        if ops:
            notes.append(f"Top CPU ops of one {v.upper()} bf16 step: "
                         + ", ".join(f"{o['op']} {o['self_cpu_s'] * 1e3:.0f} ms ({o['calls']} calls)" for o in ops[:5]) + ".")
    notes.append("Encoding (`MoTEModel.encode`, fp32 as the evaluation runs), tokens/s: "
                 + ", ".join(f"{k.replace('_batch', ' batch ')} {v['tokens_per_s']:,}" for k, v in run["encode"].items()) + ".")
    return lines + ["", " ".join(notes), ""]


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--prepare", type=Path, help="write MiniLM's shape and the suite's counts into this folder (here)")
    action.add_argument("--run", type=Path, help="run the checks and timings from this prepared folder (the device)")
    action.add_argument("--report", type=Path, help="write README.md in this folder from the device's bench_gpu*.json")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="every size shrunk: seconds on a CPU (the tests)")
    parser.add_argument("--skip-checks", action="store_true", help="timings only (the CUDA paths' checks left out)")
    parser.add_argument("--output", type=Path, help="the JSON of the run (default: printed only)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.prepare:
        args.prepare.mkdir(parents=True, exist_ok=True)
        record = prepare(args.prepare, wheels=True)
        print(f"prepared {args.prepare}: MiniLM's shape without weights; suite counts "
              + ", ".join(f"{v} {sum(c['tokens'] for c in record['counts'][v].values())} tokens" for v in VARIANTS))
        return record
    if args.report:
        print(f"wrote {report(args.report)}")
        return {}
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py: no CUDA device; run it on the lent GPU machine, or pass --device cpu --quick")
    result = run(args.run, device, args.quick, checks=not args.skip_checks)
    text = json.dumps(result, indent=1) + "\n"
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    print(text)
    return result


if __name__ == "__main__":
    main()
