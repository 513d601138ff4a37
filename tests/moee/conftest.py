"""Fixtures of the MoEE tests: texts of different lengths, and one tiny random MoE LM per architecture."""

from __future__ import annotations

import pytest

from mote_lib.moee import TINY_ARCHITECTURES, tiny_random_moe

# Texts of different lengths, so a batch of them is left-padded.
TEXTS = [
    "A man is eating food.",
    "The quick brown fox jumps over the lazy dog, again and again, until it is tired.",
    "hi",
    "ls lists the contents of a directory",
    "A man is riding a horse.",
]


@pytest.fixture
def texts() -> list[str]:
    """Five texts of different lengths (a fresh list per test)."""
    return list(TEXTS)


@pytest.fixture(scope="session")
def lms(minilm_tokenizer):
    """One tiny random MoE LM per architecture, built once for all MoEE tests (tests must not change them)."""
    return {arch: tiny_random_moe(arch, tokenizer=minilm_tokenizer, batch_size=8) for arch in TINY_ARCHITECTURES}
