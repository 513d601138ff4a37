"""Checkpoints: ``checkpoints/step-NNNNNN/`` written atomically, the newest ``keep_last`` kept, and resuming from them.

A checkpoint holds the weights, the optimizer's and the scheduler's state, every RNG state (each
rank's under torch.distributed: its dropout stream) and the sampler's position, so a resumed run
ends with the weights of an uninterrupted one, bit for bit (tested).

Example:
    >>> from mote_lib.train.checkpoints import RESUMABLE_CHANGES
    >>> sorted(RESUMABLE_CHANGES)
    ['bf16', 'checkpoint_every', 'device', 'keep_last', 'profile']
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from mote_lib import distributed
from mote_lib.atomic import atomic_directory
from mote_lib.distributed import SINGLE, World
from mote_lib.train.config import NON_WEIGHT_FIELDS, TrainConfig
from mote_lib.train.run_folder import truncate_train_log, write_json

# Settings that may change between an interrupted run and its resumption; any other change is refused.
# Those that leave the weights alone, and bf16: a run may resume on another device (autocast "auto"
# follows it), accepting that the steps after the checkpoint are computed at another precision.
RESUMABLE_CHANGES = NON_WEIGHT_FIELDS | {"bf16"}


def save_checkpoint(output: Path, step: int, model, optimizer, scheduler, sampler, config: TrainConfig,
                    world: World = SINGLE) -> Path:
    """Write checkpoints/step-NNNNNN atomically (temporary folder, then rename); keep the newest few.

    Under torch.distributed every rank calls it: each rank's RNG state is gathered (its dropout
    stream), the replicas are checked to be identical, and rank 0 alone writes. The sampler is
    the same on every rank (they draw the same global batches), so one sampler state serves all.
    """
    rng = distributed.gather_objects(_rng_states(), world)
    distributed.check_in_sync(model, world)
    folder = output / "checkpoints"
    final = folder / f"step-{step:06d}"
    if not world.is_main:
        return final
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             **rng[0], "step": step, "config": asdict(config), "world_size": world.size}
    if world.distributed:
        state["rank_rng"] = rng
    with atomic_directory(final) as tmp:
        torch.save(state, tmp / "trainer_state.pt")
        write_json(tmp / "sampler_state.json", sampler.state_dict())
    for old in sorted(folder.glob("step-*"))[: -config.keep_last]:
        shutil.rmtree(old)
    return final


def _rng_states() -> dict:
    return {"torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy_rng": np.random.get_state(), "python_rng": random.getstate()}


def restore_checkpoint(output: Path, model, optimizer, scheduler, sampler, config: TrainConfig, world: World = SINGLE) -> int:
    """Load the newest checkpoint into the run's pieces and RNG states; return its step.

    The log keeps the entries up to that step (the steps after it are trained again).

    Raises:
        FileNotFoundError: no checkpoint in ``output/checkpoints``.
        ValueError: a setting outside ``RESUMABLE_CHANGES``, or the number of processes, changed.
    """
    checkpoints = sorted((output / "checkpoints").glob("step-*"))
    if not checkpoints:
        raise FileNotFoundError(f"--resume: no checkpoint in {output / 'checkpoints'}")
    latest = checkpoints[-1]
    state = torch.load(latest / "trainer_state.pt", map_location="cpu", weights_only=False)
    # A setting the checkpoint predates counts as its default, which keeps the old behaviour.
    saved = {**asdict(TrainConfig()), **state["config"]}
    changed = sorted(k for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES and saved[k] != v)
    if changed:
        raise ValueError(f"cannot resume {latest}: the run's settings changed in {changed}; "
                         "resume with the settings it was started with (train_config.json)")
    saved_world = state.get("world_size", 1)
    if saved_world != world.size:
        raise ValueError(f"cannot resume {latest}: it was written by {saved_world} process(es) and this run has "
                         f"{world.size}; resume with the same number of processes (nodes x processes per node)")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = state["rank_rng"][world.rank] if world.distributed else state
    torch.set_rng_state(rng["torch_rng"])
    if rng["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda_rng"])
    np.random.set_state(rng["numpy_rng"])
    random.setstate(rng["python_rng"])
    sampler.load_state_dict(json.loads((latest / "sampler_state.json").read_text()))
    if world.is_main:
        truncate_train_log(output / "train_log.jsonl", state["step"])
    return state["step"]
