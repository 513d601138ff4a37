"""What a result was made on and with: the machine (CPU model, instruction sets, GPU) and the code's commit.

Every timing and every result of this project records them (two CPU kinds have been seen: AVX-512
with avx512_bf16, and AVX2 only, 3-5x slower for training). ``machine_kind`` is the one name of
what the speed depends on: the runner's time estimate and the benchmark's records are keyed by it.
Standard library only (``machine()`` imports torch when called, for the GPU).

Example:
    >>> from mote_lib.machine import cpu_model_and_flags, machine_kind
    >>> model, flags = cpu_model_and_flags()
    >>> isinstance(model, str) and isinstance(flags, frozenset)
    True
    >>> machine_kind({"cpu": "AMD EPYC", "avx2": True, "avx512f": False, "gpu": None})
    'AMD EPYC (AVX2)'
"""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

from mote_lib.paths import PROJECT_ROOT


@lru_cache(maxsize=1)
def cpu_model_and_flags() -> tuple[str, frozenset[str]]:
    """The first CPU's model name and flags from ``/proc/cpuinfo`` (elsewhere: what the platform says, no flags)."""
    model, flags = "unknown", frozenset()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = frozenset(value.split())
    except OSError:  # not Linux
        model = platform.processor() or platform.machine() or "unknown"
    return model, flags


def instruction_set(flags) -> str:
    """The instruction set that sets a CPU's speed here, from its flags (a set of names, or name -> bool).

        >>> instruction_set({"avx2", "avx512f"}), instruction_set({"avx2": True, "avx512f": False})
        ('AVX-512', 'AVX2')
    """
    has = (lambda flag: bool(flags.get(flag))) if isinstance(flags, dict) else (lambda flag: flag in flags)
    if has("avx512_bf16"):
        return "AVX-512 + bf16"
    return "AVX-512" if has("avx512f") else "AVX2" if has("avx2") else "no AVX2"


@lru_cache(maxsize=1)
def machine() -> dict:
    """CPU model, the instruction sets that set its speed, cores, and the GPU if one is used."""
    import torch

    cpu, flags = cpu_model_and_flags()
    info = {"cpu": cpu, "cores": os.cpu_count(), **{flag: flag in flags for flag in ("avx512f", "avx512_bf16", "avx2")}}
    info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def machine_kind(info: dict) -> str:
    """What the speed depends on: the GPU if there is one, else the CPU model and its instruction set
    (both kinds seen so far are called "AMD EPYC"; the AVX2-only one trains 3-5x slower).

    ``info``: ``machine()``'s record (flags as keys), or one with its flags under ``"flags"`` (the benchmark's).

        >>> machine_kind({"cpu": "Test CPU", "flags": {"avx2": True, "avx512f": True}, "gpu": None})
        'Test CPU (AVX-512)'
        >>> machine_kind({"cpu": "Test CPU", "gpu": "NVIDIA H100"})
        'NVIDIA H100'
    """
    return info.get("gpu") or f"{info.get('cpu') or 'unknown'} ({instruction_set(info.get('flags', info))})"


@lru_cache(maxsize=1)
def git_state() -> dict:
    """The commit of the code and whether tracked files differ from it (``None`` without git)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "--no-optional-locks", *args], cwd=PROJECT_ROOT, capture_output=True,
                                  text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def commit_label() -> str:
    """The commit's first 12 characters, ``-dirty`` when tracked files differ from it (``unknown`` without git)."""
    state = git_state()
    if state["commit"] is None:
        return "unknown"
    return state["commit"][:12] + ("-dirty" if state["dirty"] else "")
