"""mote_lib.profiles: one registry of sizes, read by the trainer and the harness alike."""

import pytest

from mote_lib.profiles import CPU_TRAINING, PROFILES, get_profile
from mote_lib.train import TrainConfig


def test_unknown_profiles_list_the_valid_ones():
    assert {"smoke", "tiny", "cpu", "gpu", "gpu-quick", "pilot", "reference"} == set(PROFILES)
    with pytest.raises(ValueError, match=r"unknown profile 'fast'; valid: \['cpu', 'gpu', 'gpu-quick', 'pilot', 'reference', 'smoke', 'tiny'\]"):
        get_profile("fast")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_names_real_training_fields_and_trains_with_them(name):
    profile = get_profile(name)
    assert profile.name == name
    config = TrainConfig.from_profile(name, variant="ic")
    assert config.profile == name
    for field, value in profile.train.items():
        assert getattr(config, field) == value


def test_the_reference_profile_meets_the_preregistered_floor():
    reference = get_profile("reference")
    config = TrainConfig.from_profile("reference")
    assert (config.steps, config.batch_size, config.max_seq_length) >= (180, 32, 128)
    assert config.bf16 == "off"  # numerics may not change part-way through the experiment
    assert len(reference.seeds) >= 3 and reference.eval_sample is None


def test_the_pilot_is_the_reference_at_fewer_steps():
    pilot, reference = get_profile("pilot").train, get_profile("reference").train
    assert {k: v for k, v in pilot.items() if k != "steps"} == {k: v for k, v in reference.items() if k != "steps"}
    assert pilot["steps"] < reference["steps"]


def test_the_tiny_profile_is_smoke_on_a_tiny_random_bert():
    tiny, smoke = get_profile("tiny").train, get_profile("smoke").train
    assert {k: v for k, v in tiny.items() if k != "base_model"} == smoke
    assert tiny["base_model"] == "tiny-random-bert"


def test_the_cpu_profile_trains_fast_and_the_preregistered_ones_keep_torchs_dropout():
    cpu = TrainConfig.from_profile("cpu")
    assert (cpu.fast_dropout, cpu.embed_chunk) == (CPU_TRAINING["fast_dropout"], CPU_TRAINING["embed_chunk"]) == (True, 8)
    for name in ("reference", "pilot"):  # fixed before the fast setting was measured: their numerics may not change
        config, default = TrainConfig.from_profile(name), TrainConfig()
        assert (config.fast_dropout, config.embed_chunk) == (default.fast_dropout, default.embed_chunk) == (False, 16)
