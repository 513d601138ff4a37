"""The TA-CL trainer on a tiny encoder and tiny data: batches, resume identity, NaN, checkpoints."""

import contextlib
import json
import math
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from mote_lib.fast_dropout import fast_dropout
from mote_lib.model import MoTEModel
from mote_lib.train import TrainConfig, TrainingData, TrainingDiverged, contrastive_step, loop, read_train_log, step, train


def tiny_config(tiny_base, tiny_data, **overrides):
    base = dict(base_model=tiny_base, data_root=tiny_data, steps=6, batch_size=4, max_seq_length=32,
                checkpoint_every=1, keep_last=2, lr=1e-3, warmup_ratio=0.3)
    return TrainConfig(**{**base, **overrides})


def _weights(folder):
    return MoTEModel.from_pretrained(folder).state_dict()


def test_batch_puts_query_and_document_roles_and_task_temperatures(tiny_base, tiny_data):
    config = tiny_config(tiny_base, tiny_data)
    data = TrainingData(config)
    batch = data.batch([("retrieval", "a", 0), ("classification", "c", 0), ("clustering", "d", 1)], config)
    assert batch["anchor_tasks"] == ["search_query", "classification", "clustering"]
    assert batch["doc_tasks"] == ["search_document", "classification", "clustering"]
    assert batch["negative_tasks"] == ["search_document", "classification"] and batch["negative_owner"] == [0, 1]
    assert batch["temperatures"] == [0.03, 0.03, 0.06]
    assert batch["labels"][0] == -1
    assert batch["labels"][1] >= 0 and batch["labels"][2] >= 0 and batch["labels"][1] != batch["labels"][2]
    ablation = TrainConfig(**{**config.__dict__, "ta_cl": False})
    assert data.batch([("retrieval", "a", 0), ("clustering", "d", 1)], ablation)["temperatures"] == [0.05, 0.05]


def test_labels_of_different_datasets_never_collide(tiny_base, tiny_data):
    data = TrainingData(tiny_config(tiny_base, tiny_data))
    assert len(set(data.label_ids.values())) == len(data.label_ids)
    assert {(task, dataset) for task, dataset, _ in data.label_ids} == {("classification", "c"), ("clustering", "d")}


@pytest.mark.parametrize("variant", ["mote", "mote-tlr"])
def test_interrupted_and_resumed_run_ends_with_identical_weights(tiny_base, tiny_data, tmp_path, variant):
    config = tiny_config(tiny_base, tiny_data, variant=variant)
    train(config, tmp_path / "straight", show_progress=False)
    assert train(config, tmp_path / "resumed", show_progress=False, stop_after=3) == {"stopped_at": 3}
    train(config, tmp_path / "resumed", resume=True, show_progress=False)
    straight, resumed = _weights(tmp_path / "straight" / "model"), _weights(tmp_path / "resumed" / "model")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    logs = [[json.loads(line)["loss"] for line in (tmp_path / run / "train_log.jsonl").read_text().splitlines()] for run in ("straight", "resumed")]
    assert logs[0] == logs[1] and len(logs[0]) == 6


def test_killed_process_resumes_to_identical_weights(tiny_base, tiny_data, tmp_path):
    """SIGKILL a real training process between checkpoints, then resume it."""
    args = [sys.executable, "-m", "mote_lib.train", "--profile", "smoke", "--base-model", tiny_base, "--data-root", tiny_data,
            "--steps", "40", "--batch-size", "4", "--checkpoint-every", "2", "--lr", "1e-3"]
    process = subprocess.Popen(args + ["--output", str(tmp_path / "killed")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 120
    while not list(checkpoints.glob("step-00000[4-9]")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (tmp_path / "killed" / "model").exists()
    subprocess.run(args + ["--output", str(tmp_path / "killed"), "--resume"], check=True, capture_output=True)
    subprocess.run(args + ["--output", str(tmp_path / "straight")], check=True, capture_output=True)
    straight, resumed = _weights(tmp_path / "straight" / "model"), _weights(tmp_path / "killed" / "model")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    steps = [json.loads(line)["step"] for line in (tmp_path / "killed" / "train_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 41)), "the resumed log must hold every step once"


def _count_optimizer_steps(monkeypatch):
    steps = []
    real_step = torch.optim.AdamW.step
    monkeypatch.setattr(torch.optim.AdamW, "step", lambda self, *a, **k: (steps.append(1), real_step(self, *a, **k))[1])
    return steps


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tiny_base, tiny_data, tmp_path, monkeypatch):
    real, calls = step.info_nce, []

    def poisoned(*args, **kwargs):
        calls.append(1)
        out = real(*args, **kwargs)
        return out * float("nan") if len(calls) == 4 else out

    monkeypatch.setattr(step, "info_nce", poisoned)
    optimizer_steps = _count_optimizer_steps(monkeypatch)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 4; nothing was updated"):
        train(tiny_config(tiny_base, tiny_data), tmp_path / "run", show_progress=False)
    assert len(optimizer_steps) == 3, "the optimizer must not step on the diverged batch"
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert kept == ["step-000002", "step-000003"]
    state = torch.load(tmp_path / "run" / "checkpoints" / "step-000003" / "trainer_state.pt", weights_only=False)
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_non_finite_gradient_stops_before_the_update(tiny_base, tiny_data, tmp_path, monkeypatch):
    real_clip, calls = torch.nn.utils.clip_grad_norm_, []

    def clip(parameters, max_norm, *a, **k):
        calls.append(1)
        norm = real_clip(parameters, max_norm, *a, **k)
        return norm * float("inf") if len(calls) == 2 else norm

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    optimizer_steps = _count_optimizer_steps(monkeypatch)
    with pytest.raises(TrainingDiverged, match=r"gradient norm is inf at step 2 .*nothing was updated"):
        train(tiny_config(tiny_base, tiny_data), tmp_path / "run", show_progress=False)
    assert len(optimizer_steps) == 1


def test_a_new_run_does_not_overwrite_checkpoints_silently(tiny_base, tiny_data, tmp_path):
    config = tiny_config(tiny_base, tiny_data, steps=2)
    train(config, tmp_path / "run", show_progress=False)
    with pytest.raises(FileExistsError, match="--resume.*--overwrite"):
        train(config, tmp_path / "run", show_progress=False)
    train(config, tmp_path / "run", show_progress=False, overwrite=True)


def test_resume_refuses_changed_settings(tiny_base, tiny_data, tmp_path):
    train(tiny_config(tiny_base, tiny_data), tmp_path / "run", show_progress=False, stop_after=2)
    with pytest.raises(ValueError, match=r"settings changed in \['lr', 'steps'\]"):
        train(tiny_config(tiny_base, tiny_data, steps=9, lr=0.1), tmp_path / "run", resume=True, show_progress=False)
    train(tiny_config(tiny_base, tiny_data, keep_last=3), tmp_path / "run", resume=True, show_progress=False)


def test_stop_after_leaves_a_checkpoint_off_the_cadence(tiny_base, tiny_data, tmp_path):
    train(tiny_config(tiny_base, tiny_data, checkpoint_every=4), tmp_path / "run", show_progress=False, stop_after=3)
    assert (tmp_path / "run" / "checkpoints" / "step-000003").is_dir()


def test_fast_dropout_trains_reproducibly_and_resumes_to_identical_weights(tiny_base, tiny_data, tmp_path):
    config = tiny_config(tiny_base, tiny_data, fast_dropout=True)
    train(config, tmp_path / "straight", show_progress=False)
    train(config, tmp_path / "resumed", show_progress=False, stop_after=3)
    train(config, tmp_path / "resumed", resume=True, show_progress=False)
    train(tiny_config(tiny_base, tiny_data), tmp_path / "standard", show_progress=False)
    straight, resumed = _weights(tmp_path / "straight" / "model"), _weights(tmp_path / "resumed" / "model")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    standard = _weights(tmp_path / "standard" / "model")  # other masks: other weights
    assert not all(torch.equal(straight[k], standard[k]) for k in straight)
    assert all(torch.isfinite(v).all() for v in straight.values() if v.is_floating_point())


def test_grad_cache_training_matches_plain_training(tiny_base, tiny_data, tmp_path):
    train(tiny_config(tiny_base, tiny_data, steps=3, embed_chunk=3), tmp_path / "plain", show_progress=False)
    train(tiny_config(tiny_base, tiny_data, steps=3, embed_chunk=3, grad_cache=True), tmp_path / "cached", show_progress=False)
    plain, cached = _weights(tmp_path / "plain" / "model"), _weights(tmp_path / "cached" / "model")
    for name in plain:
        torch.testing.assert_close(cached[name], plain[name], atol=1e-5, rtol=1e-4, msg=name)


def test_bf16_autocast_on_cpu_trains(tiny_base, tiny_data, tmp_path):
    summary = train(tiny_config(tiny_base, tiny_data, steps=2, bf16="on"), tmp_path / "run", show_progress=False)
    assert summary["bf16"] is True and math.isfinite(summary["final_loss"])


def test_the_saved_model_keeps_its_inference_length(tiny_base, tiny_data, tmp_path):
    train(tiny_config(tiny_base, tiny_data, steps=1, max_seq_length=24), tmp_path / "run", show_progress=False)
    assert MoTEModel.from_pretrained(tmp_path / "run" / "model").config.max_seq_length == 256


def test_checkpoints_keep_only_the_newest(tiny_base, tiny_data, tmp_path):
    train(tiny_config(tiny_base, tiny_data), tmp_path / "run", show_progress=False)
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step-000005", "step-000006"]
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2, 3, 4, 5, 6]
    assert {"loss", "task_loss", "lr", "tokens_per_s", "aux_loss"} <= set(log[0])
    assert log[0]["lr"] < log[1]["lr"] and log[-1]["lr"] < log[2]["lr"]  # warm-up, then decay


def test_resume_without_a_checkpoint_is_an_error(tiny_base, tiny_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(tiny_config(tiny_base, tiny_data), tmp_path / "empty", resume=True, show_progress=False)


def test_unknown_profile_and_field_are_errors():
    with pytest.raises(ValueError, match=r"unknown profile 'laptop'; valid: \['cpu', 'gpu', .*'smoke'.*\]"):
        TrainConfig.from_profile("laptop")
    with pytest.raises(ValueError, match=r"unknown TrainConfig field\(s\) \['epochs'\]"):
        TrainConfig.from_profile("smoke", epochs=3)


@pytest.mark.integration
def test_training_the_real_minilm_lowers_the_loss(tmp_path):
    config = TrainConfig.from_profile("smoke", variant="mote", steps=12, batch_size=16, lr=1e-4, checkpoint_every=100)
    data = TrainingData(config)
    torch.manual_seed(0)
    fixed = data.batch([("retrieval", "debian_synopsis_description", i) for i in range(16)], config)

    def loss_of(model):
        model.eval()
        with torch.no_grad():
            return contrastive_step(model, fixed, torch.device("cpu"), autocast=False)["loss"].item()

    before = loss_of(MoTEModel.from_base(config.model_config()))
    train(config, tmp_path / "run", show_progress=False)
    after = loss_of(MoTEModel.from_pretrained(tmp_path / "run" / "model"))
    assert after < before


def test_chunked_embedding_equals_one_forward_pass_without_dropout(tiny_base, tiny_data):
    config = tiny_config(tiny_base, tiny_data)
    model = MoTEModel.from_base(config.model_config()).eval()  # eval: no dropout
    texts = ["short", "a somewhat longer text about colours", "x y z", "the longest text of them all by a few words", "mid length text"]
    tasks = ["search_query", "clustering", "search_document", "classification", "clustering"]
    whole, _ = step._embed(model, texts, tasks, torch.device("cpu"), chunk=len(texts))
    grads_whole = torch.autograd.grad(whole["embedding"].pow(3).sum(), model.blocks[1].experts[3].up.weight)[0]
    chunked, _ = step._embed(model, texts, tasks, torch.device("cpu"), chunk=2)
    grads_chunked = torch.autograd.grad(chunked["embedding"].pow(3).sum(), model.blocks[1].experts[3].up.weight)[0]
    torch.testing.assert_close(chunked["embedding"], whole["embedding"], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(grads_chunked, grads_whole, atol=1e-6, rtol=1e-5)


def test_hub_training_data_offline_falls_back_loudly_or_fails_when_required(tiny_base, tiny_data, monkeypatch, capsys):
    from mote_lib.train import resolve_data_root

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_data_root(tiny_config(tiny_base, tiny_data, training_data="auto")) == tiny_data
    assert "training on the shipped data instead" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="HF_HUB_OFFLINE=1"):
        resolve_data_root(tiny_config(tiny_base, tiny_data, training_data="hub"))
    with pytest.raises(ValueError, match="unknown training_data 'web'"):
        resolve_data_root(tiny_config(tiny_base, tiny_data, training_data="web"))


def test_every_hub_file_maps_to_a_training_task():
    from mote_lib.data import HUB_FILE_TASKS, TRAIN_TASKS

    assert set(HUB_FILE_TASKS.values()) == set(TRAIN_TASKS)
    assert all(name.endswith(".jsonl.gz") for name in HUB_FILE_TASKS)


@pytest.mark.parametrize("variant,fast", [("mote", False), ("mote-tlr", False), ("mote", True)])
def test_grad_cache_gives_the_gradients_of_the_plain_loss_with_dropout_on(tiny_base, tiny_data, variant, fast):
    config = tiny_config(tiny_base, tiny_data, variant=variant, batch_size=12)
    data = TrainingData(config)
    batch = data.batch([("retrieval", "a", i) for i in range(7)] + [("classification", "c", i) for i in range(5)], config)
    model = MoTEModel.from_base(config.model_config()).train()  # dropout on
    cpu = torch.device("cpu")

    with fast_dropout(model) if fast else contextlib.nullcontext():  # replayed chunks must redraw the same masks
        torch.manual_seed(11)
        plain = contrastive_step(model, batch, cpu, autocast=False, chunk=3)
        plain["loss"].backward()
        expected = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        model.zero_grad(set_to_none=True)

        torch.manual_seed(11)
        cached = step.grad_cache_step(model, batch, cpu, autocast=False, chunk=3)
    got = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    assert cached["loss"].item() == pytest.approx(plain["loss"].item(), rel=1e-5)
    assert set(got) == set(expected)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], atol=1e-6, rtol=1e-4, msg=name)


def test_a_checkpoint_from_before_a_new_setting_resumes(tiny_base, tiny_data, tmp_path):
    """Settings added later (gather_negatives, the world size) count as their defaults in older checkpoints."""
    config = tiny_config(tiny_base, tiny_data, steps=3)
    train(config, tmp_path / "straight", show_progress=False)
    train(config, tmp_path / "old", show_progress=False, stop_after=2)
    path = tmp_path / "old" / "checkpoints" / "step-000002" / "trainer_state.pt"
    state = torch.load(path, weights_only=False)
    del state["config"]["gather_negatives"], state["world_size"]
    torch.save(state, path)
    train(config, tmp_path / "old", resume=True, show_progress=False)
    straight, resumed = _weights(tmp_path / "straight" / "model"), _weights(tmp_path / "old" / "model")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_a_new_run_does_not_overwrite_a_finished_model_silently(tiny_base, tiny_data, tmp_path):
    config = tiny_config(tiny_base, tiny_data, steps=1)
    (tmp_path / "run").mkdir()
    train(config, tmp_path / "run", show_progress=False)  # an empty folder counts as new
    shutil.rmtree(tmp_path / "run" / "checkpoints")  # a finished model whose checkpoints were cleaned away
    weights = (tmp_path / "run" / "model" / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match=r"already holds a finished model .*--overwrite"):
        train(config, tmp_path / "run", show_progress=False)
    assert (tmp_path / "run" / "model" / "model.safetensors").read_bytes() == weights
    train(tiny_config(tiny_base, tiny_data, steps=1, seed=1), tmp_path / "run", show_progress=False, overwrite=True)
    assert (tmp_path / "run" / "model" / "model.safetensors").read_bytes() != weights


def test_a_run_that_fails_to_start_leaves_no_folder_behind(tiny_base, tiny_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(tiny_config(tiny_base, tiny_data), tmp_path / "resumed", resume=True, show_progress=False)
    with pytest.raises(FileNotFoundError, match="no training data"):
        train(tiny_config(tiny_base, str(tmp_path / "no-data")), tmp_path / "no-data-run", show_progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_train_log_reader_leaves_out_a_cut_off_last_line_only(tmp_path):
    log = tmp_path / "train_log.jsonl"
    log.write_text('{"step": 1, "loss": 2.5}\n\n{"step": 2, "loss": 2.25}\n{"step": 3, "lo')  # killed mid-line
    assert read_train_log(tmp_path) == read_train_log(log) == [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.25}]
    log.write_text('{"step": 1, "lo\n{"step": 2, "loss": 2.25}\n')
    with pytest.raises(ValueError, match="line 1 is not JSON"):
        read_train_log(log)
    with pytest.raises(FileNotFoundError):
        read_train_log(tmp_path / "elsewhere")
    assert read_train_log(tmp_path / "elsewhere", missing_ok=True) == []


def test_a_run_resumes_after_a_log_line_cut_off_by_a_kill(tiny_base, tiny_data, tmp_path):
    config = tiny_config(tiny_base, tiny_data, steps=3)
    train(config, tmp_path / "run", show_progress=False, stop_after=2)
    with open(tmp_path / "run" / "train_log.jsonl", "a") as log:
        log.write('{"step": 3, "loss": 1.')
    train(config, tmp_path / "run", resume=True, show_progress=False)
    assert [entry["step"] for entry in read_train_log(tmp_path / "run")] == [1, 2, 3]


def test_the_fields_that_keep_the_weights_have_one_home():
    from mote_lib.lab import runs
    from mote_lib.train import NON_WEIGHT_FIELDS, RESUMABLE_CHANGES

    assert runs.NON_WEIGHT_FIELDS is NON_WEIGHT_FIELDS == {"device", "checkpoint_every", "keep_last", "profile"}  # cache keys
    assert RESUMABLE_CHANGES == NON_WEIGHT_FIELDS | {"bf16"}


def test_training_step_times_its_phases_without_changing_the_numbers(tiny_base, tiny_data):
    config = tiny_config(tiny_base, tiny_data)
    data = TrainingData(config)
    batch = data.batch([("retrieval", "a", 0), ("retrieval", "a", 1), ("classification", "c", 0), ("clustering", "d", 1)], config)
    phases, weights = [], []

    @contextlib.contextmanager
    def timer(phase):
        phases.append(phase)
        yield

    for hook in (None, timer):
        torch.manual_seed(0)
        model = MoTEModel.from_base(config.model_config()).train()  # dropout on: the same masks both times
        optimizer = loop.make_optimizer(model, config)
        scheduler = loop.make_scheduler(optimizer, config)
        result = loop.training_step(model, batch, optimizer, scheduler, config, torch.device("cpu"), False, timer=hook)
        assert result["lr"] > 0 and torch.isfinite(result["grad_norm"])
        weights.append(model.state_dict())
    assert phases == list(loop.PHASES) == ["forward", "backward", "optimizer"]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
