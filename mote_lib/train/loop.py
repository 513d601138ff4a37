"""The training loop: ``train`` runs a ``TrainConfig`` into a folder, ``training_step`` is one optimisation step.

``train`` seeds the run, loads the data and the base model, builds AdamW (``make_optimizer``) and
its schedule (``make_scheduler``: linear warm-up, then linear decay), then repeats: draw a batch
(``mote_lib.sampler``), take the step (``training_step``: ``mote_lib.train.step`` for the loss,
then backward, clipping and the optimizer), append its line to ``train_log.jsonl``, checkpoint
(``mote_lib.train.checkpoints``). At the end it saves the model, its card and ``summary.json``.

Example:
    >>> from mote_lib.train import TrainConfig, train
    >>> result = train(TrainConfig.from_profile("smoke", variant="mote"), "runs/example")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from mote_lib import distributed
from mote_lib.atomic import TEMPORARY_MARK
from mote_lib.distributed import SINGLE, World
from mote_lib.fast_dropout import fast_dropout
from mote_lib.model import MoTEModel
from mote_lib.model_card import training_record, write_model_card
from mote_lib.sampler import TaskAwareSampler
from mote_lib.train.checkpoints import restore_checkpoint, save_checkpoint
from mote_lib.train.config import TrainConfig
from mote_lib.train.data import TrainingData
from mote_lib.train.run_folder import LOG_NAME, check_output_folder, read_train_log, write_json
from mote_lib.train.step import contrastive_step, grad_cache_step

# The parts of a step ``training_step`` hands its ``timer``, in this order.
PHASES = ("forward", "backward", "optimizer")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


def train(config: TrainConfig, output: str | os.PathLike, resume: bool = False, show_progress: bool = True,
          stop_after: int | None = None, overwrite: bool = False) -> dict:
    """Train one model; return the summary (also written to ``output/summary.json``).

    Args:
        config: the run.
        output: the run's folder.
        resume: continue from the newest checkpoint in ``output/checkpoints`` (an error if none).
        show_progress: a tqdm bar with loss and tokens/s.
        stop_after: stop (as if interrupted) after this global step, leaving its checkpoint.
        overwrite: start afresh in a folder that already holds checkpoints or a finished model (they are deleted).

    Under torchrun (or in a process group a caller made) every rank calls ``train`` with the same
    arguments; ``output`` must be a folder every rank sees (a shared filesystem across nodes).
    Rank 0 writes it; every rank returns the summary.

    Raises:
        FileExistsError: ``output`` holds checkpoints or a finished ``model/``, and neither ``resume`` nor
            ``overwrite`` is set (``check_output_folder``).
        FileNotFoundError: ``resume`` and ``output`` holds no checkpoint.
    """
    world = distributed.setup(config.device)
    try:
        return _train(config, Path(output), world, resume, show_progress, stop_after, overwrite)
    finally:
        distributed.teardown(world)


@dataclass
class _Run:
    """What the steps of one run share."""

    config: TrainConfig
    output: Path
    world: World
    device: torch.device
    autocast: bool
    data: TrainingData
    model: MoTEModel
    optimizer: torch.optim.AdamW
    scheduler: torch.optim.lr_scheduler.LambdaLR
    sampler: TaskAwareSampler


def _train(config: TrainConfig, output: Path, world: World, resume: bool, show_progress: bool,
           stop_after: int | None, overwrite: bool) -> dict:
    distributed.check_batch_size(config.batch_size, world)
    check_output_folder(output, resume, overwrite)
    run = _set_up(config, output, world)
    output.mkdir(parents=True, exist_ok=True)  # only now: a run that fails to start leaves no folder behind
    start = _open_folder(run, resume)
    steps = range(start + 1, config.steps + 1)
    progress = None
    if show_progress and world.is_main:
        from tqdm.auto import tqdm

        progress = tqdm(total=config.steps, initial=start, desc=f"train {config.variant}", unit="step")
    log = open(output / LOG_NAME, "a", encoding="utf-8") if world.is_main else None
    started = time.perf_counter()
    try:
        stopped_at = _run_steps(run, steps, log, progress, stop_after)
    finally:
        if log is not None:
            log.close()
        if progress is not None:
            progress.close()
    if stopped_at is not None:
        return {"stopped_at": stopped_at}
    summary = _finish(run, started) if world.is_main else None
    return distributed.broadcast_object(summary, world)  # every rank returns rank 0's summary


def _set_up(config: TrainConfig, output: Path, world: World) -> _Run:
    """Seed the run, load the data and the base model, and build the optimizer, its schedule and the sampler."""
    device = distributed.device_for(config.device, world)
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    autocast = config.bf16 == "on" or (config.bf16 == "auto" and device.type == "cuda")
    _seed_everything(config.seed)
    with distributed.main_first(world):  # rank 0 fills the shared caches (hub data, unpacked models)
        data = TrainingData(config)
        model = MoTEModel.from_base(config.model_config()).to(device).train()
    distributed.broadcast_parameters(model, world)
    if world.distributed:  # every rank the same weights and batches, but its own dropout masks
        _seed_everything(distributed.rank_seed(config.seed, world))
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config)
    # The global batch: every rank draws the same one and embeds its shard (``contrastive_step``).
    sampler = TaskAwareSampler(data.sizes, config.batch_size, config.seed, config.task_weights, config.ta_cl)
    return _Run(config, output, world, device, autocast, data, model, optimizer, scheduler, sampler)


def _open_folder(run: _Run, resume: bool) -> int:
    """Resume from the newest checkpoint or clear an earlier run's files; write the config. The step to start after."""
    output, world = run.output, run.world
    start = 0
    if resume:
        start = restore_checkpoint(output, run.model, run.optimizer, run.scheduler, run.sampler, run.config, world)
    elif world.is_main:
        for stale in ("checkpoints", "model"):
            shutil.rmtree(output / stale, ignore_errors=True)
        for stale in (LOG_NAME, "summary.json"):
            (output / stale).unlink(missing_ok=True)
    if world.is_main:
        for leftover in (output / "checkpoints").glob(f".*{TEMPORARY_MARK}*"):  # from a save that was killed
            shutil.rmtree(leftover)
        write_json(output / "train_config.json", asdict(run.config))
    return start


def _run_steps(run: _Run, steps: range, log, progress, stop_after: int | None) -> int | None:
    """Take, log and checkpoint ``steps``; the step ``stop_after`` stopped the run at (None: all were taken)."""
    config = run.config
    # Fast dropout only while training: the saved model and its evaluation use the standard modules.
    masks = fast_dropout(run.model) if config.fast_dropout else nullcontext()
    with masks:
        for step in steps:
            last = _logged_step(run, step)
            if log is not None:
                log.write(json.dumps(last) + "\n")
                log.flush()
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f"{last['loss']:.3f}", tok_s=f"{last['tokens_per_s']:.0f}")
            stopping = stop_after is not None and step >= stop_after
            if step % config.checkpoint_every == 0 or step == config.steps or stopping:
                save_checkpoint(run.output, step, run.model, run.optimizer, run.scheduler, run.sampler, config, run.world)
            if stopping:
                return step
    return None


def _logged_step(run: _Run, step: int) -> dict:
    """Draw the next batch, take the step, and return its line of the log."""
    began = time.perf_counter()
    batch = run.data.batch(run.sampler.next_batch().examples, run.config)  # under torch.distributed: the global batch
    result = training_step(run.model, batch, run.optimizer, run.scheduler, run.config, run.device, run.autocast, run.world,
                           step=step, checkpoints=run.output / "checkpoints")
    seconds = time.perf_counter() - began
    per_task = {}
    for task in set(batch["row_tasks"]):
        values = [v for v, t in zip(result["per_row"].tolist(), batch["row_tasks"]) if t == task]
        per_task[task] = sum(values) / len(values)
    return {
        "step": step, "loss": result["loss"].item(), "task_loss": per_task, "aux_loss": result["aux"].item(),
        "lr": result["lr"], "grad_norm": result["grad_norm"].item(), "tokens": result["tokens"], "seconds": round(seconds, 4),
        "tokens_per_s": result["tokens"] / seconds,
    }


def training_step(model: MoTEModel, batch: dict, optimizer: torch.optim.Optimizer, scheduler, config: TrainConfig,
                  device: torch.device, autocast: bool, world: World = SINGLE, *, timer=None, step: int | None = None,
                  checkpoints: str | os.PathLike | None = None) -> dict:
    """One optimisation step on ``batch``, exactly as ``train`` takes it.

    The loss (``contrastive_step``, or ``grad_cache_step`` with ``config.grad_cache``), backward,
    the gradients' sum over ranks, clipping to ``config.max_grad_norm``, the optimizer step, the
    scheduler step, and the gradients zeroed. Nothing is updated when the loss or the gradient norm
    is not finite.

    Args:
        model: the model, in training mode.
        batch: ``TrainingData.batch``'s (under torch.distributed: the global batch, the same on every rank).
        optimizer, scheduler: ``make_optimizer(model, config)`` and ``make_scheduler(optimizer, config)``.
        config: the run's settings (``grad_cache``, ``embed_chunk``, ``max_seq_length``, ``gather_negatives``,
            ``max_grad_norm``).
        device, autocast: where the step runs; bfloat16 autocast of the forward pass on or off.
        world: the process group (``mote_lib.distributed``); one process by default.
        timer: None (no timing), or a callable ``timer(phase: str)`` returning a context manager, which is
            entered around each phase of the step, in the order of ``PHASES``:
            ``"forward"``: the forward pass and the loss (with GradCache also its backward pass);
            ``"backward"``: backpropagation and, under torch.distributed, the gradients' sum over ranks;
            ``"optimizer"``: gradient clipping, the optimizer step, the scheduler step, zeroing the gradients.
            It should only observe (e.g. synchronise the device and read a clock on entering and leaving):
            the step computes the same numbers with or without it. Checks of the loss and the learning
            rate read between phases are outside them.
        step, checkpoints: the global step and the folder of the last good checkpoint, named in the error.

    Returns:
        The loss's result (``loss``, ``objective``, ``per_row``, ``aux``, ``tokens``: see ``contrastive_step``)
        with ``lr``, the learning rate this step used, and ``grad_norm``, the gradients' norm before clipping
        (a tensor).

    Raises:
        TrainingDiverged: the loss or the gradient norm is NaN or infinite (nothing was updated).
    """
    phase = timer or _untimed
    step_fn = grad_cache_step if config.grad_cache else contrastive_step
    with phase("forward"):
        result = step_fn(model, batch, device, autocast, config.embed_chunk, config.max_seq_length, world,
                         config.gather_negatives)
    if not torch.isfinite(result["loss"]):
        raise TrainingDiverged(f"loss is {result['loss'].item()}{_at(step)}; nothing was updated."
                               + _last_good(checkpoints, " (resume with --resume, e.g. at a lower learning rate)"))
    lr = scheduler.get_last_lr()[0]  # the rate this step uses
    with phase("backward"):
        if not config.grad_cache:  # grad_cache_step has already backpropagated
            result["objective"].backward()
        distributed.sync_gradients(model.parameters(), world)  # the same summed gradient on every rank
    with phase("optimizer"):
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        if not torch.isfinite(grad_norm):
            raise TrainingDiverged(f"gradient norm is {grad_norm.item()}{_at(step)} (loss {result['loss'].item():.4f}); "
                                   "nothing was updated." + _last_good(checkpoints))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return {**result, "lr": lr, "grad_norm": grad_norm}


def _untimed(phase: str) -> nullcontext:
    return nullcontext()


def _at(step: int | None) -> str:
    return "" if step is None else f" at step {step}"


def _last_good(checkpoints, advice: str = "") -> str:
    return "" if checkpoints is None else f" The last good checkpoint is in {checkpoints}{advice}"


def _finish(run: _Run, started: float) -> dict:
    """Save the final model, its card with the run's settings, and the summary (rank 0)."""
    config, output, model = run.config, run.output, run.model
    model.save_pretrained(output / "model", overwrite=True)  # a resumed run replaces its own earlier model
    log_entries = read_train_log(output / LOG_NAME, missing_ok=True)
    summary = {
        "variant": config.variant, "profile": config.profile, "seed": config.seed, "steps": config.steps,
        "final_loss": log_entries[-1]["loss"],
        "mean_loss_last_10_steps": sum(e["loss"] for e in log_entries[-10:]) / len(log_entries[-10:]),
        # Step times summed over the whole run, resumed parts included; this session's wall time beside it.
        "train_seconds": round(sum(e["seconds"] for e in log_entries), 1),
        "wall_time_s": round(time.perf_counter() - started, 1),
        "device": str(run.device), "bf16": run.autocast, "parameters": model.parameter_counts(),
        "training_data": run.data.source,
    }
    if run.world.distributed:
        summary["world_size"] = run.world.size
    # save_pretrained knows nothing of the run, so its card is rewritten with the run's settings; before
    # summary.json, which marks the run finished: a finished run's card always holds them.
    write_model_card(model, output / "model" / "README.md", training=training_record(asdict(config), summary))
    write_json(output / "summary.json", summary)
    return summary


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_optimizer(model: MoTEModel, config: TrainConfig) -> torch.optim.AdamW:
    """The trainer's AdamW: weight decay on matrices only (not biases and LayerNorm weights, as is usual)."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """The trainer's learning-rate schedule: linear warm-up over ``warmup_ratio`` of the steps, then linear decay to 0."""
    warmup = max(1, math.ceil(config.warmup_ratio * config.steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (config.steps - step) / max(1, config.steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
