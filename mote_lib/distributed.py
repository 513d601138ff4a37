"""Data-parallel training and encoding over torch.distributed: one process per device.

    torchrun --nproc_per_node 8 -m mote_lib.train --variant mote --profile gpu --output runs/mote-gpu

torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
``setup`` joins that process group (NCCL on GPUs, gloo on CPU). Started without torchrun, the
trainer is one process and none of this runs.

How the trainer splits the work (``mote_lib.train``):

* every rank draws the same **global** batch from an identically seeded sampler and embeds its own
  contiguous shard of the rows (``shard_bounds``), so at every step all ranks share the task (and,
  for homogeneous batches, the dataset) and hold disjoint examples;
* the embeddings are all-gathered (``gather_rows``) and every rank computes the loss of the whole
  batch, negatives from every rank included; autograd reaches this rank's rows only, so each rank's
  backward yields its share of the gradient and ``sync_gradients`` adds the shares up.

Why a manual gradient all-reduce rather than ``DistributedDataParallel``: a MoTE step routes to
one task's experts, so most experts get no gradient. DDP then needs ``find_unused_parameters=True``
(a graph traversal each step; ``static_graph`` does not apply, the unused set changes with the
task) and it assumes one forward per backward, while the trainer embeds in several length-sorted
chunks and GradCache runs one backward per chunk. ``sync_gradients`` runs once after whatever
backward passes a step made, and leaves a parameter that no rank used without a gradient, as one
process does (so AdamW leaves it untouched). ``bench/bench_ddp_step.py`` measures it against DDP.

Why not ``torch.distributed.nn.functional.all_gather``: its backward sums the gradients of every
rank's copy of the gathered tensor, which, with every rank computing the same loss, counts the
gradient ``world_size`` times; it also needs equal shapes, and shards can differ by a row.

Example:
    >>> world = setup("auto")          # one process: World(rank=0, size=1, ...)
    >>> shard_bounds(10, World(rank=1, size=2))
    (5, 10)
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

# Gradients are all-reduced in flat buckets of at most this many elements (bounded extra memory).
BUCKET_ELEMENTS = 1 << 24


@dataclass(frozen=True)
class World:
    """This process's place among the training processes.

    Attributes:
        rank, size: this process's index and the number of processes (all nodes together).
        local_rank: the index on this node (which GPU to use).
        owns_group: whether ``setup`` created the process group (``teardown`` then ends it).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes logs, checkpoints and the model."""
        return self.rank == 0


SINGLE = World()


def setup(device: str) -> World:
    """Join the process group torchrun describes, or one a caller has already made.

    Args:
        device: the trainer's device setting (``"auto"``, ``"cpu"``, ``"cuda"``, ...); it picks the
            backend: NCCL for CUDA, gloo otherwise.

    Returns:
        ``SINGLE`` when ``WORLD_SIZE`` is unset or 1 and no group exists (one process).
    """
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), local_rank)
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return SINGLE
    if not dist.is_available():
        raise RuntimeError(f"WORLD_SIZE={size} but this torch build has no torch.distributed")
    on_cuda = _device_type(device) == "cuda"
    if on_cuda:  # before the group, so NCCL binds this process to its own GPU
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if on_cuda else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), local_rank, owns_group=True)


def teardown(world: World) -> None:
    """End the process group if ``setup`` made it."""
    if world.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def device_for(name: str, world: World) -> torch.device:
    """The device of this rank: ``auto`` means CUDA when there is one; each rank takes its own GPU."""
    device = torch.device(_device_type(name) if name == "auto" else name)
    if device.type == "cuda" and device.index is None and world.distributed:
        device = torch.device("cuda", world.local_rank)
    return device


def _device_type(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name).type


def check_batch_size(batch_size: int, world: World) -> None:
    """The global batch must split evenly over the ranks."""
    if batch_size % world.size:
        raise ValueError(f"the global batch size {batch_size} does not divide by the world size {world.size}; "
                         f"use a batch size that is a multiple of {world.size}")


def rank_seed(seed: int, world: World) -> int:
    """An independent seed per rank (dropout masks must differ between ranks' examples)."""
    return int(np.random.SeedSequence([seed, world.rank]).generate_state(1)[0])


def shard_bounds(rows: int, rank: int | World, size: int | None = None) -> tuple[int, int]:
    """Rows ``start:stop`` of a batch of ``rows`` that a rank embeds: contiguous, disjoint, covering.

    A batch a few rows short (the sampler drops a repeat at an epoch boundary) splits as evenly
    as it can; the gather handles unequal shards.
    """
    if isinstance(rank, World):
        rank, size = rank.rank, rank.size
    return rows * rank // size, rows * (rank + 1) // size


# ----------------------------------------------------------------------------- collectives


def gather_rows(local: torch.Tensor, counts: list[int], world: World) -> torch.Tensor:
    """Every rank's rows, in rank order; the gradient flows back through this rank's rows only.

    Args:
        local: (counts[rank], ...) this rank's rows.
        counts: the rows each rank contributes (every rank knows them: they come from the global batch).
    """
    if not world.distributed:
        return local
    if local.shape[0] != counts[world.rank]:
        raise ValueError(f"rank {world.rank} holds {local.shape[0]} rows but counts says {counts[world.rank]}")
    width = max(counts)
    if width == 0:
        return local
    padded = local.detach().new_zeros((width, *local.shape[1:]))
    padded[: local.shape[0]] = local.detach()
    gathered = [torch.empty_like(padded) for _ in range(world.size)]
    dist.all_gather(gathered, padded)
    pieces = [g[:n] for g, n in zip(gathered, counts)]
    pieces[world.rank] = local  # the one piece with a graph: this rank's share of the gradient
    return torch.cat(pieces)


def sum_over_ranks(value: torch.Tensor, world: World) -> torch.Tensor:
    """The sum of a tensor over the ranks (no gradient); the tensor itself in one process."""
    if not world.distributed:
        return value
    total = value.detach().clone()
    dist.all_reduce(total)
    return total


def sync_gradients(parameters, world: World) -> None:
    """Add up every rank's share of the gradient, in place; a parameter no rank used keeps none.

    A parameter one rank used and another did not (token routing, mixed batches) counts as zero on
    the latter. The result is the same on every rank, so their updates stay identical.
    """
    if not world.distributed:
        return
    params = [p for p in parameters if p.requires_grad]
    device = params[0].device
    used = torch.tensor([p.grad is not None for p in params], dtype=torch.int32, device=device)
    dist.all_reduce(used)  # how many ranks have each gradient
    synced = [p for p, n in zip(params, used.tolist()) if n > 0]
    for p in synced:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    for bucket in _buckets(synced):
        flat = torch.cat([p.grad.reshape(-1) for p in bucket])
        dist.all_reduce(flat)
        offset = 0
        for p in bucket:
            p.grad.copy_(flat[offset : offset + p.numel()].view_as(p))
            offset += p.numel()


def _buckets(params: list[torch.nn.Parameter]) -> list[list[torch.nn.Parameter]]:
    buckets, current, size = [], [], 0
    for p in params:
        if current and size + p.numel() > BUCKET_ELEMENTS:
            buckets.append(current)
            current, size = [], 0
        current.append(p)
        size += p.numel()
    return buckets + [current] if current else buckets


def broadcast_parameters(module: torch.nn.Module, world: World) -> None:
    """Give every rank rank 0's weights and buffers (the start of identical replicas)."""
    if not world.distributed:
        return
    for tensor in module.state_dict().values():
        dist.broadcast(tensor, src=0)


def check_in_sync(module: torch.nn.Module, world: World) -> None:
    """Raise if the ranks' weights differ (they must stay identical replicas; checked at checkpoints)."""
    if not world.distributed:
        return
    names, params = zip(*module.named_parameters())
    fingerprint = torch.stack([p.detach().double().sum() for p in params])
    gathered = [torch.empty_like(fingerprint) for _ in range(world.size)]
    dist.all_gather(gathered, fingerprint)
    for rank, other in enumerate(gathered):
        differs = (other != gathered[0]).nonzero()
        if len(differs):
            raise RuntimeError(f"the weights of rank {rank} differ from rank 0's (first in {names[int(differs[0])]}); "
                               "the replicas diverged")


def gather_objects(value, world: World) -> list:
    """Every rank's picklable ``value``, in rank order (``[value]`` in one process)."""
    if not world.distributed:
        return [value]
    out = [None] * world.size
    dist.all_gather_object(out, value)
    return out


def broadcast_object(value, world: World):
    """Rank 0's picklable ``value``, on every rank."""
    if not world.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@contextlib.contextmanager
def main_first(world: World):
    """Rank 0 runs the block first (downloads, unpacking into the shared cache), then the others.

    If rank 0 fails inside the block it never reaches the barrier; its exit ends the others'
    wait with a connection error (torchrun then stops the job).
    """
    if world.distributed and not world.is_main:
        dist.barrier()
    yield
    if world.distributed and world.is_main:
        dist.barrier()


# ----------------------------------------------------------------------------- evaluation


def encode_sharded(model, texts: list[str], task: str | list[str] | None, world: World, **encode_args) -> np.ndarray:
    """Embed a large corpus with every rank: each encodes a contiguous shard, then all gather.

    Returns on every rank the embeddings of all ``texts``, in their order, as ``model.encode``
    would; ``encode_args`` go to ``model.encode`` (``batch_size``, ``device``, ``allow_empty``, ...).

    The inputs are checked first, whole, on every rank (as ``model.encode`` checks them, an error
    naming the index in ``texts``): every rank raises the same error, rather than one rank raising
    while the others wait for it in the gather. An error while a rank encodes (a cut text under
    ``on_truncation="raise"``, NaN embeddings) is likewise raised on every rank, naming the rank.
    """
    _check_inputs(model, texts, task, encode_args)
    start, stop = shard_bounds(len(texts), world)
    tasks = task if task is None or isinstance(task, str) else list(task)[start:stop]
    local, error = None, None
    try:
        local = model.encode(list(texts[start:stop]), task=tasks, convert_to_numpy=False, **encode_args)
    except Exception as err:  # raised below on every rank, so that no rank waits for this one forever
        if not world.distributed:
            raise
        error = err
    message = f"{type(error).__name__}: {error}" if error is not None else None
    failures = [(rank, text) for rank, text in enumerate(gather_objects(message, world)) if text]
    if failures:
        rank, text = failures[0]
        first, last = shard_bounds(len(texts), rank, world.size)
        raise RuntimeError(f"encode_sharded: rank {rank} failed on texts[{first}:{last}] (its indices count from "
                           f"{first}): {text}") from error
    device = next(model.parameters()).device if dist.is_initialized() and dist.get_backend() == "nccl" else torch.device("cpu")
    counts = [shard_bounds(len(texts), rank, world.size)[1] - shard_bounds(len(texts), rank, world.size)[0]
              for rank in range(world.size)]
    return gather_rows(local.to(device), counts, world).cpu().numpy()


def _check_inputs(model, texts, task, encode_args: dict) -> None:
    """``model.encode``'s checks of the texts and tasks, over the whole corpus, before any rank starts."""
    from mote_lib.model import _per_text_tasks, check_texts

    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError(f"encode_sharded: texts is {type(texts).__name__}; expected a list of strings "
                        "(wrap a single text in a list)")
    check_texts(texts, encode_args.get("allow_empty", False))
    _per_text_tasks(task, len(texts), model.config)
