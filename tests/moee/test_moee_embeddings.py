"""The arithmetic of mote_lib.moee.embeddings: unit vectors per method, the sum similarity, alpha="auto"."""

from __future__ import annotations

import numpy as np
import pytest

from mote_lib import moee
from mote_lib.moee import Features, moee_embedding


def test_sum_similarity_on_hand_made_vectors():
    hs1, hs2 = np.array([[1.0, 0.0]]), np.array([[0.0, 3.0]])        # cos 0
    rw1, rw2 = np.array([[2.0, 2.0]]), np.array([[5.0, 0.0]])        # cos 1/sqrt(2)
    assert moee.sum_similarity(hs1, rw1, hs2, rw2, alpha=2.0)[0, 0] == pytest.approx(2 / np.sqrt(2))
    assert moee.sum_similarity(hs1, rw1, hs1 * 7, rw1, alpha=0.5)[0, 0] == pytest.approx(1.5)


@pytest.mark.parametrize("alpha", [0.25, 1.0, 3.0])
def test_sum_vector_cosine_is_the_scaled_sum_similarity(alpha):
    rng = np.random.default_rng(0)
    a = Features(hs=rng.normal(size=(6, 5)) * 40, rw=rng.random((6, 8)), layers=2, experts=4)
    b = Features(hs=rng.normal(size=(4, 5)), rw=rng.random((4, 8)) * 0.1, layers=2, experts=4)
    ea, eb = moee_embedding(a, "sum", alpha), moee_embedding(b, "sum", alpha)
    expected = moee.sum_similarity(a.hs, a.rw, b.hs, b.rw, alpha)
    np.testing.assert_allclose(np.linalg.norm(ea, axis=1), 1.0, atol=1e-6)           # constant norm: dot = cosine
    np.testing.assert_allclose(ea @ eb.T, expected / (1 + alpha), atol=1e-6)
    np.testing.assert_allclose(moee.sum_similarity_from_embeddings(ea, eb, hs_dim=5), expected, atol=1e-5)
    np.testing.assert_allclose(moee.sum_similarity_from_embeddings(ea[:4], eb, hs_dim=5, pairwise=True),
                               np.diag(expected[:4]), atol=1e-5)
    np.testing.assert_allclose(moee.split_sum_embedding(ea, 5)[2], alpha, rtol=1e-5)


def test_sum_vectors_of_different_alphas_are_refused():
    rng = np.random.default_rng(1)
    f = Features(hs=rng.normal(size=(3, 4)), rw=rng.random((3, 6)), layers=1, experts=6)
    with pytest.raises(ValueError, match="different alphas"):
        moee.sum_similarity_from_embeddings(moee_embedding(f, "sum", 1.0), moee_embedding(f, "sum", 2.0), hs_dim=4)


def test_hs_rw_concat_embeddings_are_unit_vectors_of_the_right_parts():
    f = Features(hs=np.array([[3.0, 4.0]]), rw=np.array([[0.0, 2.0, 0.0]]), layers=1, experts=3)
    np.testing.assert_allclose(moee_embedding(f, "hs"), [[0.6, 0.8]])
    np.testing.assert_allclose(moee_embedding(f, "rw"), [[0.0, 1.0, 0.0]])
    np.testing.assert_allclose(moee_embedding(f, "concat"), [[3 / np.sqrt(29), 4 / np.sqrt(29), 0.0, 2 / np.sqrt(29), 0.0]])


def test_embedding_similarity_is_each_methods_own_similarity():
    import torch

    rng = np.random.default_rng(3)
    a = Features(hs=rng.normal(size=(5, 4)), rw=rng.random((5, 6)), layers=2, experts=3)
    b = Features(hs=rng.normal(size=(3, 4)), rw=rng.random((3, 6)), layers=2, experts=3)
    for method in ("hs", "rw", "concat"):
        ea, eb = moee_embedding(a, method), moee_embedding(b, method)
        np.testing.assert_allclose(moee.embedding_similarity(ea, eb, method, hs_dim=4), ea @ eb.T, atol=1e-6)
        np.testing.assert_allclose(moee.embedding_similarity(torch.from_numpy(ea[:3]), eb, method, hs_dim=4, pairwise=True),
                                   (ea[:3] * eb).sum(1), atol=1e-6)
    ea, eb = moee_embedding(a, "sum", 2.0), moee_embedding(b, "sum", 2.0)
    np.testing.assert_allclose(moee.embedding_similarity(ea, eb, "sum", hs_dim=4), moee.sum_similarity(a.hs, a.rw, b.hs, b.rw, 2.0), atol=1e-5)
    with pytest.raises(ValueError, match="zero vector"):
        moee.l2_normalize(np.zeros((1, 3)))


def test_spread_matched_alpha_equalises_the_spread_of_the_two_similarities():
    rng = np.random.default_rng(2)
    f = Features(hs=rng.normal(size=(40, 6)), rw=rng.random((40, 10)) + 0.5, layers=2, experts=5)
    alpha = moee.spread_matched_alpha(f)
    pairs = np.triu_indices(40, k=1)
    hs, rw = moee.l2_normalize(f.hs), moee.l2_normalize(f.rw)
    assert (hs @ hs.T)[pairs].std() == pytest.approx(alpha * (rw @ rw.T)[pairs].std())
    assert alpha > 1, "positive router weights are more alike than random hidden states, so alpha must lift them"
    scaled = Features(hs=f.hs * 9, rw=f.rw * 0.01, layers=2, experts=5)
    assert moee.spread_matched_alpha(scaled) == pytest.approx(alpha, rel=1e-5)
