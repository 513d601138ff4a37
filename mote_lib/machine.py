"""What the speed of a result depends on: the CPU model and its instruction sets.

Every timing and every result of this project records them (two CPU kinds have been seen: AVX-512
with avx512_bf16, and AVX2 only, 3-5x slower for training). Standard library only.

Example:
    >>> from mote_lib.machine import cpu_model_and_flags
    >>> model, flags = cpu_model_and_flags()
    >>> isinstance(model, str) and isinstance(flags, frozenset)
    True
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path


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
