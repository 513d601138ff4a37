"""mote_lib.lab.runs: trained models cached by the configuration that determines their weights."""

import json
import threading

from mote_lib.lab.runs import config_hash, run_dir, trained_model
from mote_lib.train import TrainConfig


def test_the_hash_sees_weight_settings_only():
    base = TrainConfig.from_profile("smoke", variant="mote")
    assert config_hash(base) == config_hash(TrainConfig.from_profile("smoke", variant="mote"))
    assert config_hash(base) != config_hash(TrainConfig.from_profile("smoke", variant="ic"))
    assert config_hash(base) != config_hash(TrainConfig.from_profile("smoke", variant="mote", seed=1))
    for label in ("device", "checkpoint_every", "keep_last"):
        other = TrainConfig.from_profile("smoke", variant="mote", **{label: {"device": "cpu", "checkpoint_every": 7,
                                                                               "keep_last": 5, "profile": "x"}[label]})
        assert config_hash(other) == config_hash(base), label


def test_an_option_left_at_its_default_does_not_change_existing_keys():
    # The key of a config is the digest of its non-default fields only: a new TrainConfig field that
    # keeps today's behaviour by default leaves every stored run reachable.
    default = TrainConfig()
    assert config_hash(default) == config_hash(TrainConfig(gather_negatives=True))
    assert config_hash(default) != config_hash(TrainConfig(gather_negatives=False))
    assert config_hash(default) == config_hash(TrainConfig(fast_dropout=False))
    assert config_hash(default) != config_hash(TrainConfig(fast_dropout=True))


def test_a_run_trains_once_and_is_then_reused(tiny_base, tiny_data, tmp_path, monkeypatch):
    config = TrainConfig(base_model=tiny_base, data_root=tiny_data, steps=2, batch_size=4, max_seq_length=32,
                         checkpoint_every=1, profile="tiny")
    folder = trained_model(config, root=tmp_path, show_progress=False)
    assert folder == run_dir(config, tmp_path) and folder.name.startswith("mote-tiny-s0-")
    assert "| steps | 2 |" in (folder / "model" / "README.md").read_text()
    trained = json.loads((folder / "summary.json").read_text())

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr("mote_lib.train.train", must_not_train)
    assert trained_model(config, root=tmp_path) == folder
    assert json.loads((folder / "summary.json").read_text()) == trained


def test_a_second_caller_waits_for_the_first_instead_of_training_alongside(tiny_base, tiny_data, tmp_path, monkeypatch):
    config = TrainConfig(base_model=tiny_base, data_root=tiny_data, steps=2, batch_size=4, max_seq_length=32,
                         checkpoint_every=1, profile="tiny")
    from mote_lib import train as train_module

    calls, real_train = [], train_module.train

    def counted(*args, **kwargs):
        calls.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(train_module, "train", counted)
    threads = [threading.Thread(target=trained_model, args=(config, tmp_path, False)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert (run_dir(config, tmp_path) / "model" / "model.safetensors").is_file()


def test_runs_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MOTE_RUNS", str(tmp_path))
    assert run_dir(TrainConfig()).parent == tmp_path / "models"
