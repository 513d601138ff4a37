"""lab.expert_edits: edited copies of a MoTE model (routed elsewhere, reset, merged, WAVE); the original untouched."""

import numpy as np
import pytest
import torch

from mote_lib.lab.expert_edits import expert_reset, merged, routed_to, wave

TEXT = ["how do I list files"]


@pytest.fixture
def trained(make_tiny_model, perturb_experts):
    return perturb_experts(make_tiny_model("mote"))


def test_routing_and_reset_copies_leave_the_model_untouched(trained, make_tiny_model):
    initial = make_tiny_model("mote")
    right = trained.encode(TEXT, task="search_query")
    reset, wrong = expert_reset(trained, initial, "search_query"), routed_to(trained, "search_query", "clustering")
    assert np.allclose(reset.encode(TEXT, task="search_query"), initial.encode(TEXT, task="search_query"), atol=1e-6)
    assert np.allclose(reset.encode(TEXT, task="clustering"), trained.encode(TEXT, task="clustering"), atol=1e-6)
    assert wrong.expert_ids(["search_query"]).item() == trained.expert_index["clustering"]
    assert not np.allclose(wrong.encode(TEXT, task="search_query"), right)
    assert trained.config.task_to_expert["search_query"] == "search_query"
    assert np.allclose(trained.encode(TEXT, task="search_query"), right)


def test_a_merge_averages_the_named_experts_only(trained):
    copy = merged(trained, ["search_document", "clustering"])
    for before, after in ((b, a) for b, a in zip(trained.blocks, copy.blocks, strict=True) if len(b.experts) > 1):
        index = trained.expert_index
        average = (before.experts[index["search_document"]].up.weight + before.experts[index["clustering"]].up.weight) / 2
        assert torch.allclose(after.experts[index["search_document"]].up.weight, average)
        assert torch.equal(after.experts[index["clustering"]].up.weight, after.experts[index["search_document"]].up.weight)
        assert torch.equal(after.experts[index["search_query"]].up.weight, before.experts[index["search_query"]].up.weight)


def test_wave_gives_every_task_the_same_expert(trained):
    averaged = wave(trained)
    tasks = ["search_query", "search_document", "classification", "clustering"]
    banks = [b for b in averaged.blocks if len(b.experts) > 1]
    assert banks and all(torch.equal(b.experts[0].down.weight, e.down.weight) for b in banks for e in b.experts)
    assert not torch.equal(banks[0].experts[0].down.weight, [b for b in trained.blocks if len(b.experts) > 1][0].experts[0].down.weight)
    assert len({averaged.expert_ids([t]).item() for t in tasks}) == 4  # routes unchanged; the weights are shared


def test_edits_refuse_what_they_cannot_do(trained, make_tiny_model):
    with pytest.raises(ValueError):
        merged(trained, ["search_query"])
    with pytest.raises(ValueError):
        routed_to(trained, "search_query", "no-such-expert")
    with pytest.raises(ValueError):
        wave(make_tiny_model("ic"))
