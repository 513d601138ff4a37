"""mote_lib.moee.tiny: the tiny random MoE language models the other MoEE tests and notebook 08 run on."""

from __future__ import annotations

import numpy as np
import pytest

from mote_lib import moee


@pytest.mark.parametrize("arch", moee.TINY_ARCHITECTURES)
def test_tiny_configs_are_tiny_and_take_overrides(arch):
    config = moee.tiny_moe_config(arch, vocab_size=100, max_position_embeddings=64)
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size, config.max_position_embeddings) == (32, 3, 100, 64)


def test_tiny_random_moe_is_reproducible_by_seed(lms, texts, minilm_tokenizer):
    again = moee.tiny_random_moe("olmoe", tokenizer=minilm_tokenizer, batch_size=8)
    other = moee.tiny_random_moe("olmoe", tokenizer=minilm_tokenizer, seed=1)
    np.testing.assert_array_equal(again.features(texts).rw, lms["olmoe"].features(texts).rw)
    assert not np.allclose(other.features(texts).rw, again.features(texts).rw)
