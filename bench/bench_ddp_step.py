"""Data-parallel training step on CPU: 2 gloo processes against 1 on the same global batches, in one run.

    python bench/bench_ddp_step.py [--rounds 4] [--batch-size 32] [--max-seq-length 128]

Two forked processes join a gloo group. In every round, on the same TA-CL batch, they time in turn:

  solo_1t   rank 0 alone (rank 1 waits at a barrier), the whole batch, as ``python -m mote_lib.train``,
            1 torch thread (the same compute as the pair's two processes together);
  solo_all  the same with one torch thread per core (the whole machine, as one process runs by
            default; ``--no-all-cores`` skips it);
  trainer   both ranks, half the batch each, negatives gathered, manual gradient all-reduce: the
            trainer's path under torchrun (1 torch thread per process);
  manual1f  as ``trainer`` but each rank embeds its shard in one forward pass, then ``sync_gradients``;
  ddp1f     the same single forward through ``DistributedDataParallel(find_unused_parameters=True)``
            (DDP expects one forward per backward, hence the single-forward pair).

Printed: step time trainer / solo_1t and trainer / solo_all (the headline: what a second process
buys on the same global batch; 0.5 would be perfect scaling), ddp1f / manual1f (the cost of DDP's unused-parameter search and bucketing against our
all-reduce once per step), and, from one step on identical weights, how the two gradient
strategies differ: the largest gradient difference, and how many parameters DDP hands AdamW a zero
gradient for where one process (and ``sync_gradients``) leaves none.
Every step includes gradient clipping and the AdamW update.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mote_lib import distributed
from mote_lib.distributed import SINGLE
from mote_lib.model import MoTEModel
from mote_lib.sampler import TaskAwareSampler
from mote_lib.train import TrainConfig, TrainingData, batch_shards, contrastive_step, make_optimizer, shared_loss

CPU = torch.device("cpu")
ALL_CONFIGS = ("solo_1t", "solo_all", "trainer", "manual1f", "ddp1f")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _single_forward_step(module, model: MoTEModel, batch: dict, world, max_length: int) -> torch.Tensor:
    """This rank's shard (anchors and documents together) in one forward pass; returns the objective."""
    shards = batch_shards(batch, world)
    local = shards[world.rank]
    texts = local["anchors"] + local["positives"] + local["negatives"]
    tasks = local["anchor_tasks"] + local["doc_tasks"] + local["negative_tasks"]
    tokens = model.tokenize(texts, tasks, max_length=max_length)
    embedding = module(tokens["input_ids"], tokens["attention_mask"], model.expert_ids(tasks))["embedding"]
    rows = len(local["anchors"])
    contrastive, _ = shared_loss(embedding[:rows], embedding[rows:], batch, shards, world, True, CPU)
    return contrastive


def _update(model, optimizer, config) -> None:
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _worker(rank: int, port: int, args, out: Path) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank))
    dist.init_process_group("gloo")
    world = distributed.setup("cpu")
    config = TrainConfig.from_profile("cpu", base_model=args.base_model, batch_size=args.batch_size,
                                      max_seq_length=args.max_seq_length, data_root=args.data_root,
                                      max_examples_per_dataset=args.max_examples_per_dataset)
    data = TrainingData(config)
    sampler = TaskAwareSampler(data.sizes, config.batch_size, seed=123)
    batches = [data.batch(sampler.next_batch().examples, config) for _ in range(args.rounds + 1)]
    torch.manual_seed(0)
    configs = [c for c in ALL_CONFIGS if not (args.no_all_cores and c == "solo_all")]
    models = {name: MoTEModel.from_base(config.model_config()).train() for name in configs}
    ddp = torch.nn.parallel.DistributedDataParallel(models["ddp1f"], find_unused_parameters=True)
    optimizers = {name: make_optimizer(model, config) for name, model in models.items()}
    gradient_check = _compare_gradients(models, ddp, batches[0], world, config)

    def step(name: str, batch: dict) -> float:
        model = models[name]
        torch.set_num_threads(os.cpu_count() if name == "solo_all" else 1)
        dist.barrier()
        start = time.perf_counter()
        if name.startswith("solo"):
            if rank == 0:
                contrastive_step(model, batch, CPU, False, config.embed_chunk, config.max_seq_length, SINGLE)["objective"].backward()
                _update(model, optimizers[name], config)
            seconds = time.perf_counter() - start
            dist.barrier()  # rank 1 idles here while rank 0 works alone
            return seconds
        if name == "trainer":
            result = contrastive_step(model, batch, CPU, False, config.embed_chunk, config.max_seq_length, world)
            result["objective"].backward()
            distributed.sync_gradients(model.parameters(), world)
        elif name == "manual1f":
            _single_forward_step(model, model, batch, world, config.max_seq_length).backward()
            distributed.sync_gradients(model.parameters(), world)
        else:  # DDP averages the ranks' gradients; the objective is a share of a sum, so scale it up
            (_single_forward_step(ddp, model, batch, world, config.max_seq_length) * world.size).backward()
        _update(model, optimizers[name], config)
        return time.perf_counter() - start

    for name in configs:  # warm-up
        step(name, batches[0])
    seconds = {name: [] for name in configs}
    for batch in batches[1:]:
        for name in configs:  # in turn, so load drift hits every configuration alike
            seconds[name].append(step(name, batch))
    if rank == 0:
        (out / "result.json").write_text(json.dumps({"seconds": seconds, "gradient_check": gradient_check}))
    dist.destroy_process_group()


def _compare_gradients(models, ddp, batch, world, config) -> dict:
    """One step's gradients from identical weights: manual all-reduce against DDP (before any update)."""
    manual, reference = models["manual1f"], models["ddp1f"]
    manual.load_state_dict(reference.state_dict())
    for module, model in ((manual, manual), (ddp, reference)):
        torch.manual_seed(7)  # the same dropout masks in both
        objective = _single_forward_step(module, model, batch, world, config.max_seq_length)
        (objective * (world.size if module is ddp else 1)).backward()
    distributed.sync_gradients(manual.parameters(), world)
    pairs = list(zip(manual.parameters(), reference.parameters()))
    zero_for_none = sum(1 for m, r in pairs if m.grad is None and r.grad is not None)
    biggest = max(float((m.grad - r.grad).abs().max()) for m, r in pairs if m.grad is not None and r.grad is not None)
    none_in_both = sum(1 for m, r in pairs if m.grad is None and r.grad is None)
    for model in (manual, reference):
        model.zero_grad(set_to_none=True)
    return {"max_abs_grad_difference": biggest, "ddp_zero_where_one_process_has_none": zero_for_none,
            "none_in_both": none_in_both, "parameters": len(pairs)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch (each process embeds half)")
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--base-model", default="minilm")
    parser.add_argument("--data-root", help="training data folder (default: the shipped data/)")
    parser.add_argument("--no-all-cores", action="store_true",
                        help="skip solo_all (on an oversubscribed machine several threads per process crawl)")
    parser.add_argument("--max-examples-per-dataset", type=int, default=2000, help="a quick start; batches are drawn the same way")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        # Forked: the children share the parent's imports instead of loading torch again.
        mp.start_processes(_worker, args=(_free_port(), args, Path(tmp)), nprocs=2, join=True, start_method="fork")
        result = json.loads((Path(tmp) / "result.json").read_text())
    per_step = {name: statistics.median(values) for name, values in result["seconds"].items()}
    ratios = {"step time 2 processes / 1 process, 1 thread": per_step["trainer"] / per_step["solo_1t"]}
    if "solo_all" in per_step:
        ratios["step time 2 processes / 1 process, all cores"] = per_step["trainer"] / per_step["solo_all"]
    ratios["step time ddp find_unused / manual all-reduce"] = per_step["ddp1f"] / per_step["manual1f"]
    check = result["gradient_check"]
    print(f"{args.rounds} rounds, global batch {args.batch_size} (max {args.max_seq_length} tokens), base {args.base_model}, "
          f"CPU, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    for name in per_step:
        print(f"  {name:9s} median step {per_step[name]:6.2f} s   (all: {', '.join(f'{s:.2f}' for s in result['seconds'][name])})")
    print("ratios:")
    for name, value in ratios.items():
        print(f"  {name:48s} {value:.3f}")
    print(f"gradients, one step from identical weights ({check['parameters']} parameters): max |manual - DDP| "
          f"{check['max_abs_grad_difference']:.2e}; DDP gives a zero gradient to {check['ddp_zero_where_one_process_has_none']} "
          f"parameter(s) that one process leaves without one; {check['none_in_both']} without one in both")
    return {"median_step_seconds": per_step, "ratios": ratios, "gradient_check": check}


if __name__ == "__main__":
    main()
