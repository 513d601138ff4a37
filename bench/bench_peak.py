"""The machine a benchmark runs on, and its fp32 matrix-product peak (``bench/bench_suite.py``'s yardstick).

``machine_info``: the CPU model and the flags that set its speed, cores, threads, torch, the load at
the start, and ``kind`` (``mote_lib.machine.machine_kind``: the runner's estimate and this bench name a
machine alike). ``gemm_gflops``: best-of-N GFLOP/s of one fp32 product; ``model_gemm_shapes``: the
products a training step runs, at the model's own shapes.
"""

from __future__ import annotations

import os
import time

import torch

from mote_lib.machine import cpu_model_and_flags, machine_kind
from mote_lib.train import TrainConfig

CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def machine_info(threads: int, device: torch.device | None = None) -> dict:
    """CPU model and the flags that set its speed, cores, threads, torch, and the load at the start.

    ``kind`` names the GPU only when the timings run on it (``device``): a CPU run on a machine with a
    GPU is a CPU timing.
    """
    cpu, flags = cpu_model_and_flags()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    info = {
        "cpu": cpu, "flags": {flag: flag in flags for flag in CPU_FLAGS}, "cores": os.cpu_count(), "threads": threads,
        "torch": torch.__version__, "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_at_start": load,
    }
    timed_on_gpu = device is not None and device.type == "cuda"
    info["kind"] = machine_kind({**info, "gpu": info["gpu"] if timed_on_gpu else None})
    # The 1-minute load average at the start, before this process has worked: above half a core
    # something else is running, and the figures are not results.
    info["idle_at_start"] = load is not None and load < 0.5
    return info


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU), so that a timing covers it."""
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
        synchronize(device)
        start = time.perf_counter()
        torch.nn.functional.linear(a, b, c)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best / 1e9


def model_gemm_shapes(config: TrainConfig, backbone) -> dict[str, tuple[int, int, int]]:
    """The weight matrices of one layer applied to a full chunk of tokens (m = embed_chunk x max tokens)."""
    m, d, f = config.embed_chunk * config.max_seq_length, backbone.hidden_size, backbone.intermediate_size
    return {f"attention {m}x{d}x{d}": (m, d, d), f"ffn up {m}x{d}x{f}": (m, d, f), f"ffn down {m}x{f}x{d}": (m, f, d)}
