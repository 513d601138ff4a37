"""TaskAwareSampler: TA-CL batch composition, epoch coverage, task frequencies, resume."""

import json
from collections import Counter

import pytest

from mote_lib.sampler import TaskAwareSampler

SIZES = {
    "retrieval": {"debian": 300, "wordnet": 100},
    "classification": {"bible": 200, "supersense": 200},
    "clustering": {"section": 150, "foldoc": 50},
}


def draw(sampler, n):
    return [sampler.next_batch() for _ in range(n)]


def test_every_ta_cl_batch_holds_one_task():
    batches = draw(TaskAwareSampler(SIZES, 16, seed=0), 200)
    for batch in batches:
        assert {t for t, _, _ in batch.examples} == {batch.task}
        assert len(set(batch.examples)) == len(batch.examples) <= 16  # a repeat across an epoch wrap is dropped
    assert sum(len(b.examples) == 16 for b in batches) > 180


def test_retrieval_batches_are_homogeneous_and_label_tasks_heterogeneous():
    batches = draw(TaskAwareSampler(SIZES, 16, seed=1), 300)
    datasets_per_batch = {task: [len({d for _, d, _ in b.examples}) for b in batches if b.task == task] for task in SIZES}
    assert set(datasets_per_batch["retrieval"]) == {1}
    assert max(datasets_per_batch["classification"]) == 2 and max(datasets_per_batch["clustering"]) == 2


def test_tasks_are_drawn_in_proportion_to_their_size_by_default():
    counts = Counter(b.task for b in draw(TaskAwareSampler(SIZES, 4, seed=2), 3000))
    assert counts["retrieval"] / 3000 == pytest.approx(400 / 1000, abs=0.03)
    assert counts["clustering"] / 3000 == pytest.approx(200 / 1000, abs=0.03)


def test_task_weights_override_the_sizes():
    counts = Counter(b.task for b in draw(TaskAwareSampler(SIZES, 4, seed=2, task_weights={"clustering": 1.0}), 100))
    assert counts == {"clustering": 100}
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['search'\]"):
        TaskAwareSampler(SIZES, 4, seed=0, task_weights={"search": 1.0})


def test_without_ta_cl_batches_mix_tasks_and_datasets():
    batches = draw(TaskAwareSampler(SIZES, 32, seed=3, ta_cl=False), 50)
    assert all(b.task is None for b in batches)
    assert max(len({t for t, _, _ in b.examples}) for b in batches) == 3


def test_each_epoch_visits_every_example_once():
    sampler = TaskAwareSampler({"retrieval": {"only": 50}}, batch_size=7, seed=4)
    seen = [i for b in draw(sampler, 14) for _, _, i in b.examples]  # 98 = 1 epoch + 48
    assert sorted(seen[:50]) == list(range(50))
    assert len(set(seen[50:])) == 48
    assert seen[50:98] != seen[:48]  # the second epoch is a new permutation


def test_a_restored_sampler_continues_exactly():
    first = TaskAwareSampler(SIZES, 16, seed=5)
    draw(first, 37)
    state = json.loads(json.dumps(first.state_dict()))  # survives a JSON checkpoint
    second = TaskAwareSampler(SIZES, 16, seed=5)
    second.load_state_dict(state)
    assert draw(first, 40) == draw(second, 40)


def test_a_state_saved_across_an_epoch_wrap_restores_exactly():
    first = TaskAwareSampler({"retrieval": {"small": 20}}, 6, seed=6)
    draw(first, 5)  # 30 examples: into the second epoch
    assert first.cursors[("retrieval", "small")][0] == 1
    second = TaskAwareSampler({"retrieval": {"small": 20}}, 6, seed=6)
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert draw(first, 10) == draw(second, 10)


def test_a_batch_across_an_epoch_boundary_holds_no_example_twice():
    sampler = TaskAwareSampler({"retrieval": {"tiny": 5}}, 4, seed=7)
    for batch in draw(sampler, 20):
        indices = [i for _, _, i in batch.examples]
        assert len(indices) == len(set(indices))


def test_a_state_from_other_data_or_settings_is_refused():
    state = TaskAwareSampler(SIZES, 16, seed=5).state_dict()
    with pytest.raises(ValueError, match=r"differs in: \['sizes', 'task_probs'\]"):
        TaskAwareSampler({**SIZES, "retrieval": {"debian": 301, "wordnet": 100}}, 16, seed=5).load_state_dict(state)
    with pytest.raises(ValueError, match=r"differs in: \['batch_size'\]"):
        TaskAwareSampler(SIZES, 8, seed=5).load_state_dict(state)


def test_empty_data_is_an_error():
    with pytest.raises(ValueError, match="at least one non-empty dataset"):
        TaskAwareSampler({"retrieval": {"a": 0}}, 4, seed=0)
