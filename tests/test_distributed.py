"""Data-parallel training on 2 gloo processes: cross-device negatives, identical replicas, exact resume."""

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from test_train import _weights
from test_train import tiny_config as train_config

from mote_lib import distributed
from mote_lib import train as train_module
from mote_lib.distributed import World
from mote_lib.model import MoTEModel
from mote_lib.sampler import TaskAwareSampler
from mote_lib.train import TrainingData, contrastive_step, grad_cache_step, shard_batch, train

CPU = torch.device("cpu")
# Rank 0 embeds rows 0-2, rank 1 rows 3-5: hard negatives on both ranks (uneven counts), a row without
# one, two rows of the same label on different ranks (masked across devices), experts used on one
# rank only (search on rank 0, classification on both) and one used by neither (clustering).
EXAMPLES = [("retrieval", "a", 0), ("retrieval", "a", 1), ("classification", "c", 0),
            ("retrieval", "b", 0), ("classification", "c", 10), ("classification", "c", 1)]


@pytest.fixture(scope="module")
def tiny_base_no_dropout(make_tiny_base):
    return make_tiny_base(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def tiny_config(base, data, **overrides):
    """test_train's settings, embedding in chunks of 2."""
    return train_config(base, data, **{"embed_chunk": 2, **overrides})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_on_two_ranks(worker, *args):
    """Run ``worker(rank, *args)`` in 2 processes joined in a gloo group (as torchrun would set them up).

    Forked rather than spawned: a spawned child spends ~10 s importing torch and transformers again.
    """
    mp.start_processes(_entry, args=(_free_port(), worker, args), nprocs=2, join=True, start_method="fork")


def _entry(rank, port, worker, args):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank))
    torch.set_num_threads(1)  # 2 processes on 2 cores
    dist.init_process_group("gloo")
    try:
        worker(rank, *args)
    finally:
        dist.destroy_process_group()


# ----------------------------------------------------------------------------- one step


def _step_worker(rank, base, data_root, out, gather):
    world = distributed.setup("cpu")
    config = tiny_config(base, data_root)
    model = MoTEModel.from_base(config.model_config()).eval()  # no dropout: the same numbers as one process
    batch = TrainingData(config).batch(EXAMPLES, config)
    result = contrastive_step(model, batch, CPU, autocast=False, chunk=2, world=world, gather_negatives=gather)
    result["objective"].backward()
    distributed.sync_gradients(model.parameters(), world)
    grads = {name: p.grad for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    cached = grad_cache_step(model, batch, CPU, autocast=False, chunk=2, world=world, gather_negatives=gather)
    distributed.sync_gradients(model.parameters(), world)
    cached_grads = {name: p.grad for name, p in model.named_parameters()}
    torch.save({"loss": result["loss"], "per_row": result["per_row"], "tokens": result["tokens"], "grads": grads,
                "cached_loss": cached["loss"], "cached_grads": cached_grads}, out / f"rank{rank}.pt")


def _reference(base, data_root, gather):
    """One process: the whole batch (gather) or each rank's shard on its own (no gather), same weighting."""
    config = tiny_config(base, data_root)
    model = MoTEModel.from_base(config.model_config()).eval()
    batch = TrainingData(config).batch(EXAMPLES, config)
    shards = [batch] if gather else [shard_batch(batch, 0, 3), shard_batch(batch, 3, 6)]
    results = [contrastive_step(model, shard, CPU, autocast=False, chunk=2) for shard in shards]
    per_row = torch.cat([r["per_row"] for r in results])
    sum(r["objective"] * len(s["anchors"]) for r, s in zip(results, shards)).div(len(EXAMPLES)).backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    return {"loss": per_row.mean(), "per_row": per_row, "tokens": sum(r["tokens"] for r in results), "grads": grads}


@pytest.mark.parametrize("gather", [True, False], ids=["gathered-negatives", "local-negatives"])
def test_a_two_process_step_equals_one_process_on_the_combined_batch(tiny_base, tiny_data, tmp_path, gather):
    _run_on_two_ranks(_step_worker, tiny_base, tiny_data, tmp_path, gather)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    expected = _reference(tiny_base, tiny_data, gather)
    for got in ranks:
        torch.testing.assert_close(got["loss"], expected["loss"], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(got["cached_loss"], expected["loss"], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(got["per_row"], expected["per_row"], atol=1e-6, rtol=1e-5)
        assert got["tokens"] == expected["tokens"]
        # The same parameters get a gradient: an expert no rank used keeps none (AdamW leaves it alone).
        assert {n for n, g in got["grads"].items() if g is None} == {n for n, g in expected["grads"].items() if g is None}
        assert any(g is None for g in expected["grads"].values()), "the batch must leave an expert unused"
        for name, grad in expected["grads"].items():
            if grad is not None:  # GradCache under 2 processes too: the same gradients
                torch.testing.assert_close(got["grads"][name], grad, atol=1e-6, rtol=1e-4, msg=name)
                torch.testing.assert_close(got["cached_grads"][name], grad, atol=1e-6, rtol=1e-4, msg=name)
    for name, grad in ranks[0]["grads"].items():
        assert (grad is None and ranks[1]["grads"][name] is None) or torch.equal(grad, ranks[1]["grads"][name]), name


def test_gathered_negatives_change_the_loss(tiny_base, tiny_data):
    """The switch matters: with negatives from the other rank, each anchor has more candidates."""
    assert not torch.allclose(_reference(tiny_base, tiny_data, True)["per_row"], _reference(tiny_base, tiny_data, False)["per_row"])


# ----------------------------------------------------------------------------- training


def _train_worker(rank, config, out, runs):
    """Train each (folder, train kwargs) in turn, saving this rank's weights at every checkpoint."""
    from mote_lib.train import loop

    real_save = loop.save_checkpoint

    def save_and_record(output, step, model, *args):
        torch.save(model.state_dict(), out / f"{output.name}-step{step}-rank{rank}.pt")
        return real_save(output, step, model, *args)

    loop.save_checkpoint = save_and_record
    for folder, kwargs in runs:
        train(config, out / folder, show_progress=False, **kwargs)


def test_replicas_stay_identical_and_match_one_process(tiny_base_no_dropout, tiny_data, tmp_path):
    config = tiny_config(tiny_base_no_dropout, tiny_data, steps=4)
    _run_on_two_ranks(_train_worker, config, tmp_path, [("ddp", {})])
    for step in range(1, 5):
        rank0, rank1 = (torch.load(tmp_path / f"ddp-step{step}-rank{r}.pt") for r in (0, 1))
        assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), f"the replicas differ after step {step}"
    written = _weights(tmp_path / "ddp" / "model")
    assert all(torch.equal(written[k], rank0[k]) for k in written)
    train(config, tmp_path / "single", show_progress=False)
    single, initial = _weights(tmp_path / "single" / "model"), MoTEModel.from_base(config.model_config()).state_dict()
    assert any(not torch.equal(single[k], initial[k]) for k in single), "training must change the weights"
    for name in single:  # the same global batches and math: equal up to float summation order
        torch.testing.assert_close(written[name], single[name], atol=1e-5, rtol=1e-4, msg=name)
    log = [json.loads(line) for line in (tmp_path / "ddp" / "train_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2, 3, 4]
    assert json.loads((tmp_path / "ddp" / "summary.json").read_text())["world_size"] == 2


def test_two_process_stop_and_resume_equals_an_uninterrupted_run(tiny_base, tiny_data, tmp_path):
    config = tiny_config(tiny_base, tiny_data)  # dropout on: each rank's RNG stream must be restored
    runs = [("straight", {}), ("resumed", {"stop_after": 3}), ("resumed", {"resume": True})]
    _run_on_two_ranks(_train_worker, config, tmp_path, runs)
    straight, resumed = _weights(tmp_path / "straight" / "model"), _weights(tmp_path / "resumed" / "model")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    logs = [[json.loads(line)["loss"] for line in (tmp_path / run / "train_log.jsonl").read_text().splitlines()]
            for run in ("straight", "resumed")]
    assert logs[0] == logs[1] and len(logs[0]) == 6
    state = torch.load(tmp_path / "resumed" / "checkpoints" / "step-000006" / "trainer_state.pt", weights_only=False)
    assert state["world_size"] == 2 and len(state["rank_rng"]) == 2
    assert not torch.equal(state["rank_rng"][0]["torch_rng"], state["rank_rng"][1]["torch_rng"]), \
        "each rank draws its own dropout masks"


def test_resume_refuses_another_number_of_processes(tiny_base, tiny_data, tmp_path):
    config = tiny_config(tiny_base, tiny_data)
    train(config, tmp_path / "run", show_progress=False, stop_after=1)
    model = MoTEModel.from_base(config.model_config())
    optimizer = train_module.make_optimizer(model, config)
    pieces = (model, optimizer, train_module.make_scheduler(optimizer, config), TaskAwareSampler({"t": {"d": 4}}, 4, 0))
    with pytest.raises(ValueError, match=r"written by 1 process\(es\) and this run has 2"):
        train_module.restore_checkpoint(tmp_path / "run", *pieces, config, World(rank=0, size=2))


def test_torchrun_runs_the_trainer_unchanged(tiny_base, tiny_data, tmp_path):
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "mote_lib.train", "--profile", "smoke", "--base-model", tiny_base, "--data-root", tiny_data,
            "--steps", "2", "--batch-size", "4", "--device", "cpu", "--output", str(tmp_path / "run")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["world_size"] == 2
    assert done.stdout.count('"world_size": 2') == 1, "rank 0 alone prints the summary"
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


# ----------------------------------------------------------------------------- pieces


def test_every_rank_gets_a_disjoint_shard_of_the_same_task_and_dataset():
    sampler = TaskAwareSampler({"retrieval": {"a": 50, "b": 30}, "clustering": {"c": 40, "d": 20}}, batch_size=8, seed=3)
    for _ in range(40):
        batch = sampler.next_batch()
        shards = [batch.examples[slice(*distributed.shard_bounds(len(batch.examples), r, 4))] for r in range(4)]
        assert [e for shard in shards for e in shard] == batch.examples  # disjoint, in order, covering
        assert {task for shard in shards for task, _, _ in shard} == {batch.task}
        if batch.task == "retrieval":  # homogeneous: one dataset for every rank
            assert len({dataset for _, dataset, _ in batch.examples}) == 1
        assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_a_global_batch_that_does_not_divide_names_both_numbers():
    with pytest.raises(ValueError, match=r"global batch size 30 does not divide by the world size 4"):
        distributed.check_batch_size(30, World(rank=0, size=4))
    distributed.check_batch_size(32, World(rank=0, size=4))


def test_shard_batch_keeps_each_rows_hard_negatives(tiny_base, tiny_data):
    config = tiny_config(tiny_base, tiny_data)
    batch = TrainingData(config).batch(EXAMPLES, config)
    first, second = shard_batch(batch, 0, 3), shard_batch(batch, 3, 6)
    assert first["anchors"] + second["anchors"] == batch["anchors"]
    assert first["negatives"] + second["negatives"] == batch["negatives"]
    assert second["negative_owner"] == [o - 3 for o in batch["negative_owner"] if o >= 3]
    assert len(first["negatives"]) == 3 and len(second["negatives"]) == 2  # uneven: "b" has none


def _encode_worker(rank, base, texts, out):
    world = distributed.setup("cpu")
    model = MoTEModel.from_base(base_model=base, variant="mote")
    tasks = ["search_query", "clustering"] * (len(texts) // 2) + ["search_document"]
    torch.save(distributed.encode_sharded(model, texts, tasks, world, batch_size=2), out / f"rank{rank}.pt")


def test_sharded_encoding_equals_one_process_in_order(tiny_base, tmp_path):
    texts = [f"text number {i} " + "word " * i for i in range(7)]
    _run_on_two_ranks(_encode_worker, tiny_base, texts, tmp_path)
    model = MoTEModel.from_base(base_model=tiny_base, variant="mote")
    expected = model.encode(texts, task=["search_query", "clustering"] * 3 + ["search_document"], batch_size=2)
    for rank in (0, 1):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=False)
        assert got.shape == expected.shape
        torch.testing.assert_close(torch.from_numpy(got), torch.from_numpy(expected), atol=1e-6, rtol=1e-5)


# ----------------------------------------------------------------------------- sharded encoding: bad inputs


def test_sharded_encoding_checks_every_input_before_encoding_naming_the_index(make_tiny_model, monkeypatch):
    model = make_tiny_model("mote")
    monkeypatch.setattr(model, "encode", lambda *a, **k: pytest.fail("encoded before the inputs were checked"))
    single = World()
    with pytest.raises(TypeError, match=r"texts\[2\] is NoneType, expected str"):
        distributed.encode_sharded(model, ["a", "b", None], "clustering", single)
    with pytest.raises(ValueError, match=r"texts\[1\] is empty.*allow_empty=True"):
        distributed.encode_sharded(model, ["a", ""], "clustering", single)
    with pytest.raises(TypeError, match="texts is str; expected a list of strings"):
        distributed.encode_sharded(model, "one text", "clustering", single)
    with pytest.raises(ValueError, match="2 tasks for 3 texts"):
        distributed.encode_sharded(model, ["a", "b", "c"], ["clustering", "clustering"], single)
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['summarization'\]"):
        distributed.encode_sharded(model, ["a"], "summarization", single)


def test_sharded_encoding_allows_empty_texts_when_asked(make_tiny_model):
    model = make_tiny_model("mote")
    texts = ["a", "", "c"]
    np.testing.assert_array_equal(distributed.encode_sharded(model, texts, "clustering", World(), allow_empty=True),
                                  model.encode(texts, task="clustering", allow_empty=True))


def _failing_encode_worker(rank, base, out):
    signal.alarm(120)  # a rank left waiting in a collective would hang the test: fail it instead
    world = distributed.setup("cpu")
    model = MoTEModel.from_base(base_model=base, variant="mote", max_seq_length=16)
    long = "word " * 40
    cases = {"bad input": (["a", "b", "c", "d", None], {}),  # index 4: in rank 1's shard
             "cut text": (["a", "b", "c", long], {"on_truncation": "raise"})}  # rank 1 raises while encoding
    errors = {}
    for name, (texts, args) in cases.items():
        try:
            distributed.encode_sharded(model, texts, "clustering", world, batch_size=2, **args)
        except Exception as err:
            errors[name] = f"{type(err).__name__}: {err}"
    (out / f"rank{rank}.json").write_text(json.dumps(errors))


def test_an_error_on_one_rank_is_raised_on_every_rank_and_none_waits_forever(tiny_base, tmp_path):
    _run_on_two_ranks(_failing_encode_worker, tiny_base, tmp_path)
    for rank in (0, 1):
        errors = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert errors["bad input"] == "TypeError: texts[4] is NoneType, expected str"
        assert errors["cut text"].startswith("RuntimeError: encode_sharded: rank 1 failed on texts[2:4] (its indices count "
                                             "from 2): ValueError: texts[1] are longer than max_seq_length=16")
