"""The TA-CL trainer: contrastive fine-tuning of EM, IC and MoTE models, resumable and profiled.

    python -m mote_lib.train --variant mote --profile cpu --output runs/mote-cpu
    python -m mote_lib.train --variant mote --profile cpu --output runs/mote-cpu --resume   # after an interruption

Each step samples a task, builds a batch from it (``mote_lib.sampler``), embeds anchors and
documents with the task's instruction and expert, and minimises InfoNCE (``mote_lib.losses``) with
the task's temperature. Retrieval rows put ``search_query`` on the anchor and ``search_document``
on the positive and hard negative, so both retrieval experts train.

The output folder holds ``train_config.json``, ``train_log.jsonl`` (one line per step: loss,
per-task loss, learning rate, tokens/s), ``checkpoints/step-NNNNNN/`` (the last ``keep_last``,
written atomically) and, at the end, ``model/`` (``MoTEModel.save_pretrained``) and ``summary.json``.

Example:
    >>> from mote_lib.train import TrainConfig, train
    >>> result = train(TrainConfig.from_profile("smoke", variant="mote"), "runs/example")  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from mote_lib.data import load_training_data
from mote_lib.losses import info_nce
from mote_lib.model import MoTEConfig, MoTEModel
from mote_lib.sampler import TaskAwareSampler

# Which model task (instruction and expert) embeds the anchor and the documents of each training task.
TASK_ROLES = {
    "retrieval": ("search_query", "search_document"),
    "classification": ("classification", "classification"),
    "clustering": ("clustering", "clustering"),
}
PAPER_TEMPERATURES = {"retrieval": 0.03, "classification": 0.03, "clustering": 0.06}


@dataclass
class TrainConfig:
    """One training run. Profiles (``PROFILES``) fill in sizes; any field can be overridden.

    Attributes:
        variant, base_model, layers: the model (see ``MoTEConfig``).
        steps, batch_size: optimisation steps and examples per step.
        lr, warmup_ratio, weight_decay, max_grad_norm: AdamW with linear warm-up then linear decay.
        ta_cl: TA-CL on (per-task batches and temperatures) or off (the ablation: batches mixed
            across tasks and datasets, one temperature).
        temperatures: per training task (paper: 0.03 retrieval and classification, 0.06 clustering).
        no_ta_cl_temperature: the single temperature of the ablation (ours: 0.05).
        task_weights: task sampling weights (default: proportional to the task's size).
        max_examples_per_dataset: cap each dataset (the first N examples) for small profiles.
        bf16: ``"auto"`` (on CUDA), ``"on"`` or ``"off"``: autocast the forward pass in bfloat16.
        checkpoint_every, keep_last: checkpoint cadence and how many to keep.
    """

    variant: str = "mote"
    base_model: str = "minilm"
    layers: str | list[int] = "every_other"
    seed: int = 0
    steps: int = 300
    batch_size: int = 32
    lr: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    max_seq_length: int = 128
    ta_cl: bool = True
    temperatures: dict[str, float] = field(default_factory=lambda: dict(PAPER_TEMPERATURES))
    no_ta_cl_temperature: float = 0.05
    task_weights: dict[str, float] | None = None
    max_examples_per_dataset: int | None = None
    data_root: str | None = None
    bf16: str = "auto"
    device: str = "auto"
    checkpoint_every: int = 100
    keep_last: int = 2
    profile: str = "custom"

    @classmethod
    def from_profile(cls, profile: str, **overrides) -> TrainConfig:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; valid: {sorted(PROFILES)}")
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {unknown}")
        return cls(**{**PROFILES[profile], "profile": profile, **overrides})

    def model_config(self) -> MoTEConfig:
        return MoTEConfig(base_model=self.base_model, variant=self.variant, layers=self.layers, max_seq_length=self.max_seq_length)


PROFILES: dict[str, dict] = {
    # Seconds: the real MiniLM, a handful of steps on small batches (tests, CI, notebook smoke runs).
    "smoke": dict(steps=6, batch_size=8, max_seq_length=64, max_examples_per_dataset=200, checkpoint_every=3, warmup_ratio=0.2),
    # Minutes on a 2-core CPU: ~2.8 s a step (batch 32, measured), so EM, IC and MoTE each train in ~9 minutes.
    "cpu": dict(steps=180, batch_size=32, max_seq_length=128, checkpoint_every=60),
    # Paper-scale batches for a CUDA machine.
    "gpu": dict(steps=3000, batch_size=512, max_seq_length=256, lr=5e-5, checkpoint_every=500, bf16="auto"),
}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


# ----------------------------------------------------------------------------- data


class TrainingData:
    """The training hierarchy as plain lists (fast row access), with label ids per dataset."""

    def __init__(self, config: TrainConfig) -> None:
        loaded = load_training_data(config.data_root)
        cap = config.max_examples_per_dataset
        self.columns: dict[tuple[str, str], dict[str, list]] = {}
        for task, datasets in loaded.items():
            for name, ds in datasets.items():
                ds = ds.select(range(min(cap, len(ds)))) if cap else ds
                self.columns[(task, name)] = {c: ds[c] for c in ("anchor", "positive", "negative", "label")}
        self.sizes: dict[str, dict[str, int]] = {}
        for (task, name), cols in self.columns.items():
            self.sizes.setdefault(task, {})[name] = len(cols["anchor"])
        # Labels compare within a dataset only: "noun.animal" of one dataset is not another's.
        self.label_ids: dict[tuple[str, str], int] = {}
        for (task, name), cols in sorted(self.columns.items()):
            for label in sorted({lab for lab in cols["label"] if lab is not None}):
                self.label_ids[(name, label)] = len(self.label_ids)

    def batch(self, examples: list[tuple[str, str, int]], config: TrainConfig) -> dict:
        """Texts, tasks, hard negatives (with owners), label ids and temperatures of one batch."""
        out = {key: [] for key in ("anchors", "anchor_tasks", "positives", "doc_tasks", "negatives",
                                   "negative_owner", "negative_tasks", "labels", "temperatures", "row_tasks")}
        for row, (task, name, index) in enumerate(examples):
            cols = self.columns[(task, name)]
            anchor_task, doc_task = TASK_ROLES[task]
            out["anchors"].append(cols["anchor"][index])
            out["anchor_tasks"].append(anchor_task)
            out["positives"].append(cols["positive"][index])
            out["doc_tasks"].append(doc_task)
            if cols["negative"][index] is not None:
                out["negatives"].append(cols["negative"][index])
                out["negative_owner"].append(row)
                out["negative_tasks"].append(doc_task)
            label = cols["label"][index]
            out["labels"].append(self.label_ids[(name, label)] if label is not None else -1)
            out["temperatures"].append(config.temperatures[task] if config.ta_cl else config.no_ta_cl_temperature)
            out["row_tasks"].append(task)
        return out


# ----------------------------------------------------------------------------- the step


def contrastive_step(model: MoTEModel, batch: dict, device: torch.device, autocast: bool) -> dict:
    """Forward pass and loss of one batch; returns the loss, per-row losses and token count."""
    documents = batch["positives"] + batch["negatives"]
    doc_tasks = batch["doc_tasks"] + batch["negative_tasks"]
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
        anchors, anchor_tokens = _embed(model, batch["anchors"], batch["anchor_tasks"], device)
        docs, doc_tokens = _embed(model, documents, doc_tasks, device)
    rows = len(batch["anchors"])
    has_negatives = bool(batch["negatives"])
    per_row = info_nce(
        anchors["embedding"].float(), docs["embedding"][:rows].float(),
        torch.tensor(batch["temperatures"], device=device),
        docs["embedding"][rows:].float() if has_negatives else None,
        torch.tensor(batch["negative_owner"], device=device) if has_negatives else None,
        torch.tensor(batch["labels"], device=device), reduction="none",
    )
    aux = anchors["aux_loss"] + docs["aux_loss"]
    loss = per_row.mean() + model.config.aux_loss_weight * aux
    return {"loss": loss, "per_row": per_row.detach(), "aux": aux.detach(), "tokens": anchor_tokens + doc_tokens}


EMBED_CHUNK = 16


def _embed(model: MoTEModel, texts: list[str], tasks: list[str], device: torch.device, chunk: int = EMBED_CHUNK):
    """Embed texts in length-sorted chunks (less padding), keeping the autograd graph of each.

    Without dropout (eval mode) the embeddings, the loss and its gradients equal those of one
    forward pass over all texts (tested); only padded positions, which cost time and change
    nothing, are saved: 1.6x faster on the cpu profile. In training mode dropout draws its masks
    per chunk, so the random masks (not their distribution) differ from a single pass. For
    token-routed models the load-balancing loss is the mean over chunks.
    """
    lengths = [len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=model.config.max_seq_length)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    pieces, aux, tokens = [], 0.0, 0
    for start in range(0, len(order), chunk):
        rows = order[start : start + chunk]
        batch = model.tokenize([texts[i] for i in rows], [tasks[i] for i in rows])
        row_tasks = [tasks[i] for i in rows]
        expert_ids = model.expert_ids(row_tasks).to(device) if model.config.routing == "sequence" else None
        out = model(batch["input_ids"].to(device), batch["attention_mask"].to(device), expert_ids)
        pieces.append(out["embedding"])
        aux = aux + out["aux_loss"]
        tokens += int(batch["attention_mask"].sum())
    embeddings = torch.cat(pieces)[torch.argsort(torch.tensor(order, device=device))]
    return {"embedding": embeddings, "aux_loss": aux / max(1, len(pieces))}, tokens


# ----------------------------------------------------------------------------- the trainer


def train(config: TrainConfig, output: str | os.PathLike, resume: bool = False, show_progress: bool = True,
          stop_after: int | None = None) -> dict:
    """Train one model; return the summary (also written to ``output/summary.json``).

    Args:
        config: the run.
        output: the run's folder.
        resume: continue from the newest checkpoint in ``output/checkpoints`` (an error if none).
        show_progress: a tqdm bar with loss and tokens/s.
        stop_after: stop (as if interrupted) after this global step, leaving its checkpoint.
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    device = _device(config.device)
    autocast = config.bf16 == "on" or (config.bf16 == "auto" and device.type == "cuda")
    _seed_everything(config.seed)
    data = TrainingData(config)
    model = MoTEModel.from_base(config.model_config()).to(device).train()
    optimizer = _optimizer(model, config)
    scheduler = _scheduler(optimizer, config)
    sampler = TaskAwareSampler(data.sizes, config.batch_size, config.seed, config.task_weights, config.ta_cl)
    start = 0
    if resume:
        start = _restore(output, model, optimizer, scheduler, sampler)
    else:
        shutil.rmtree(output / "checkpoints", ignore_errors=True)
        (output / "train_log.jsonl").unlink(missing_ok=True)
    _write_json(output / "train_config.json", asdict(config))

    steps = range(start + 1, config.steps + 1)
    progress = None
    if show_progress:
        from tqdm.auto import tqdm

        progress = tqdm(total=config.steps, initial=start, desc=f"train {config.variant}", unit="step")
    log = open(output / "train_log.jsonl", "a", encoding="utf-8")
    started, last = time.perf_counter(), {}
    try:
        for step in steps:
            last = _one_step(step, model, data, sampler, optimizer, scheduler, config, device, autocast, output)
            log.write(json.dumps(last) + "\n")
            log.flush()
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f"{last['loss']:.3f}", tok_s=f"{last['tokens_per_s']:.0f}")
            if step % config.checkpoint_every == 0 or step == config.steps:
                _save_checkpoint(output, step, model, optimizer, scheduler, sampler, config.keep_last)
            if stop_after is not None and step >= stop_after:
                return {"stopped_at": step}
    finally:
        log.close()
        if progress is not None:
            progress.close()
    model.save_pretrained(output / "model")
    summary = {
        "variant": config.variant, "profile": config.profile, "seed": config.seed, "steps": config.steps,
        "final_loss": last.get("loss"), "wall_time_s": round(time.perf_counter() - started, 1),
        "device": str(device), "bf16": autocast, "parameters": model.parameter_counts(),
    }
    _write_json(output / "summary.json", summary)
    return summary


def _one_step(step, model, data, sampler, optimizer, scheduler, config, device, autocast, output) -> dict:
    began = time.perf_counter()
    batch = data.batch(sampler.next_batch().examples, config)
    result = contrastive_step(model, batch, device, autocast)
    if not torch.isfinite(result["loss"]):
        raise TrainingDiverged(
            f"loss is {result['loss'].item()} at step {step}; nothing was updated. The last good "
            f"checkpoint is in {output / 'checkpoints'} (resume with --resume, e.g. at a lower learning rate)"
        )
    lr = scheduler.get_last_lr()[0]  # the rate this step uses
    result["loss"].backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - began
    per_task = {}
    for task in set(batch["row_tasks"]):
        values = [v for v, t in zip(result["per_row"].tolist(), batch["row_tasks"]) if t == task]
        per_task[task] = sum(values) / len(values)
    return {
        "step": step, "loss": result["loss"].item(), "task_loss": per_task, "aux_loss": result["aux"].item(),
        "lr": lr, "tokens": result["tokens"], "seconds": round(seconds, 4),
        "tokens_per_s": result["tokens"] / seconds,
    }


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _optimizer(model: MoTEModel, config: TrainConfig) -> torch.optim.AdamW:
    # No weight decay on biases and LayerNorm weights (1-D tensors), as is usual for transformers.
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


def _scheduler(optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = max(1, math.ceil(config.warmup_ratio * config.steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (config.steps - step) / max(1, config.steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# ----------------------------------------------------------------------------- checkpoints


def _save_checkpoint(output: Path, step: int, model, optimizer, scheduler, sampler, keep_last: int) -> Path:
    """Write checkpoints/step-NNNNNN atomically (temporary folder, then rename); keep the newest few."""
    folder = output / "checkpoints"
    folder.mkdir(exist_ok=True)
    final = folder / f"step-{step:06d}"
    tmp = folder / f".tmp-step-{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(), "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "numpy_rng": np.random.get_state(), "python_rng": random.getstate(), "step": step}, tmp / "trainer_state.pt")
    _write_json(tmp / "sampler_state.json", sampler.state_dict())
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted(folder.glob("step-*"))[:-keep_last]:
        shutil.rmtree(old)
    return final


def _restore(output: Path, model, optimizer, scheduler, sampler) -> int:
    checkpoints = sorted((output / "checkpoints").glob("step-*"))
    if not checkpoints:
        raise FileNotFoundError(f"--resume: no checkpoint in {output / 'checkpoints'}")
    latest = checkpoints[-1]
    state = torch.load(latest / "trainer_state.pt", weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"]:
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    np.random.set_state(state["numpy_rng"])
    random.setstate(state["python_rng"])
    sampler.load_state_dict(json.loads((latest / "sampler_state.json").read_text()))
    _truncate_log(output / "train_log.jsonl", state["step"])
    return state["step"]


def _truncate_log(path: Path, step: int) -> None:
    """Keep the log lines up to the checkpoint's step (steps after it are trained again)."""
    if path.exists():
        lines = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in lines))


def _write_json(path: Path, payload) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    tmp.rename(path)


# ----------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="mote", help="em | ic | mote | mote-tlr")
    parser.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    parser.add_argument("--output", required=True, help="the run's folder")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    parser.add_argument("--base-model", help="minilm (default), mpnet, a folder or a Hub id")
    parser.add_argument("--layers", help="every_other (default), every, or comma-separated layer indices")
    parser.add_argument("--no-ta-cl", action="store_true", help="the ablation: mixed batches, one temperature")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", help="auto (default), cpu, cuda, cuda:1, ...")
    parser.add_argument("--bf16", choices=["auto", "on", "off"])
    parser.add_argument("--data-root", help="folder holding train/ (default: the shipped data/)")
    parser.add_argument("--max-examples-per-dataset", type=int)
    parser.add_argument("--checkpoint-every", type=int)
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in {
        "variant": args.variant, "base_model": args.base_model, "steps": args.steps, "batch_size": args.batch_size,
        "lr": args.lr, "seed": args.seed, "device": args.device, "bf16": args.bf16, "data_root": args.data_root,
        "max_examples_per_dataset": args.max_examples_per_dataset, "checkpoint_every": args.checkpoint_every,
    }.items() if v is not None}
    if args.layers:
        overrides["layers"] = args.layers if args.layers in ("every", "every_other") else [int(i) for i in args.layers.split(",")]
    if args.no_ta_cl:
        overrides["ta_cl"] = False
    summary = train(TrainConfig.from_profile(args.profile, **overrides), args.output, resume=args.resume)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
