"""info_nce against small hand-computed cases."""

import math

import pytest
import torch

from mote_lib.losses import info_nce

# Three anchors and their positives as unit vectors in 2-D; cosines are easy to read off.
A = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
P = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])


def reference(row_logits, target):
    return -row_logits[target] + math.log(sum(math.exp(x) for x in row_logits if x != float("-inf")))


def test_in_batch_negatives_and_temperature():
    t = torch.tensor([0.5, 0.5, 0.25])
    losses = info_nce(A, P, t, reduction="none")
    # row 0: cosines to P = (1, 0, 0.6) / 0.5
    assert losses[0].item() == pytest.approx(reference([2.0, 0.0, 1.2], 0), abs=1e-6)
    # row 2: cosines (1, 0, 0.6) / 0.25, target is P[2]
    assert losses[2].item() == pytest.approx(reference([4.0, 0.0, 2.4], 2), abs=1e-6)
    assert info_nce(A, P, t).item() == pytest.approx(losses.mean().item())


def test_hard_negatives_are_candidates_for_every_unlabelled_row():
    negatives = torch.tensor([[0.0, -1.0]])
    losses = info_nce(A, P, torch.full((3,), 1.0), negatives, torch.tensor([0]), reduction="none")
    # row 1 sees row 0's hard negative too: cosines (0, 1, 0.8, -1)
    assert losses[1].item() == pytest.approx(reference([0.0, 1.0, 0.8, -1.0], 1), abs=1e-6)


def test_rows_sharing_the_anchors_label_are_not_negatives():
    labels = torch.tensor([7, 3, 7])  # rows 0 and 2 share a label
    losses = info_nce(A, P, torch.full((3,), 1.0), labels=labels, reduction="none")
    assert losses[0].item() == pytest.approx(reference([1.0, 0.0, float("-inf")], 0), abs=1e-6)
    assert losses[2].item() == pytest.approx(reference([float("-inf"), 0.0, 0.6], 2), abs=1e-6)
    assert losses[1].item() == pytest.approx(reference([0.0, 1.0, 0.8], 1), abs=1e-6)


def test_unlabelled_rows_are_not_masked_and_labelled_rows_skip_foreign_hard_negatives():
    labels = torch.tensor([-1, 5, -1])
    negatives = torch.tensor([[0.0, -1.0], [-1.0, 0.0]])
    owner = torch.tensor([0, 1])
    losses = info_nce(A, P, torch.full((3,), 1.0), negatives, owner, labels=labels, reduction="none")
    # row 1 (labelled): row 0's hard negative is masked, its own kept
    assert losses[1].item() == pytest.approx(reference([0.0, 1.0, 0.8, float("-inf"), 0.0], 1), abs=1e-6)
    # row 0 (unlabelled): sees both hard negatives
    assert losses[0].item() == pytest.approx(reference([1.0, 0.0, 0.6, 0.0, -1.0], 0), abs=1e-6)


def test_gradient_flows_to_anchors_and_candidates():
    a, p = A.clone().requires_grad_(), P.clone().requires_grad_()
    info_nce(a, p, torch.full((3,), 0.05)).backward()
    assert a.grad.abs().sum() > 0 and p.grad.abs().sum() > 0
