"""Training step time, measured side by side on identical batches in one run.

    python bench/bench_train_step.py [--steps 8] [--batch-size 32] [--device cpu]

Printed:
  step time MoTE / IC on the same batches                                target <= 1.05
  step time MoTE with bf16 autocast / MoTE fp32 (on CPU: does bf16 pay?)
  training throughput as a share of this machine's matmul peak, measured in the same run:
  achieved FLOP/s = tokens/s x 6 x active non-embedding parameters (forward + backward),
  against the FLOP/s of a 2048 x 2048 matrix product in the same dtype.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mote_lib.model import MoTEModel
from mote_lib.sampler import TaskAwareSampler
from mote_lib.train import TrainConfig, TrainingData, contrastive_step, make_optimizer


def matmul_flops(device: str, dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def non_embedding_active_parameters(model: MoTEModel) -> int:
    embedding = sum(p.numel() for p in model.embeddings.parameters())
    return model.parameter_counts()["active"] - embedding


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--peak-size", type=int, default=2048, help="matrix size of the matmul peak measurement")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16 configuration")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    config = TrainConfig.from_profile("cpu", batch_size=args.batch_size, max_seq_length=args.max_seq_length)
    data = TrainingData(config)
    sampler = TaskAwareSampler(data.sizes, config.batch_size, seed=123)
    batches = [data.batch(sampler.next_batch().examples, config) for _ in range(args.steps + 1)]

    setups = {"ic": ("ic", False), "mote": ("mote", False)}
    if not args.no_bf16:
        setups["mote_bf16"] = ("mote", True)
    models, optimizers = {}, {}
    for name, (variant, _) in setups.items():
        torch.manual_seed(0)
        models[name] = MoTEModel.from_base(TrainConfig(variant=variant, max_seq_length=args.max_seq_length).model_config()).to(device).train()
        optimizers[name] = make_optimizer(models[name], config)

    def step(name: str, batch: dict) -> tuple[float, int]:
        model, optimizer = models[name], optimizers[name]
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = contrastive_step(model, batch, device, autocast=setups[name][1])
        result["loss"].backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start, result["tokens"]

    for name in setups:  # warm-up on the first batch
        step(name, batches[0])
    seconds = {name: [] for name in setups}
    tokens = {name: 0 for name in setups}
    for batch in batches[1:]:
        for name in setups:  # in turn, so load drift hits every configuration alike
            s, t = step(name, batch)
            seconds[name].append(s)
            tokens[name] += t
    per_step = {name: statistics.median(values) for name, values in seconds.items()}
    throughput = {name: tokens[name] / sum(seconds[name]) for name in setups}
    flops_per_token = 6 * non_embedding_active_parameters(models["mote"])
    peak_fp32 = matmul_flops(args.device, torch.float32, args.peak_size)
    peak_bf16 = matmul_flops(args.device, torch.bfloat16, args.peak_size)

    print(f"{args.steps} steps of batch {args.batch_size} (max {args.max_seq_length} tokens), device {device}, torch threads {torch.get_num_threads()}")
    for name in setups:
        print(f"  {name:10s} median step {per_step[name]:6.2f} s   {throughput[name]:8.0f} tokens/s")
    print(f"  matmul peak: fp32 {peak_fp32 / 1e9:.0f} GFLOP/s, bf16 {peak_bf16 / 1e9:.0f} GFLOP/s")
    ratios = {"step time mote / ic": per_step["mote"] / per_step["ic"]}
    if "mote_bf16" in setups:
        ratios["step time mote bf16 / mote fp32"] = per_step["mote_bf16"] / per_step["mote"]
    ratios["mote fp32 achieved / fp32 matmul peak"] = throughput["mote"] * flops_per_token / peak_fp32
    if "mote_bf16" in setups:
        ratios["mote bf16 achieved / bf16 matmul peak"] = throughput["mote_bf16"] * flops_per_token / peak_bf16
    print(f"ratios (target: step time mote / ic <= 1.05); {flops_per_token / 1e6:.0f} MFLOP per token:")
    for name, value in ratios.items():
        print(f"  {name:40s} {value:.3f}")
    return {"median_step_seconds": per_step, "tokens_per_second": throughput, "ratios": ratios}


if __name__ == "__main__":
    main()
