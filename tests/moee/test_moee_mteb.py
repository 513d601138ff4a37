"""mote_lib.moee.mteb: the mteb wrapper (scores equal the sum similarity by hand), revisions, evaluate_moee."""

from __future__ import annotations

import numpy as np
import pytest

from mote_lib import moee
from mote_lib.moee import MoEEEncoder, MoEELM, moee_embedding, tiny_random_moe
from mote_lib.moee.mteb import _no_prompt


def _tiny_sts_task():
    from datasets import Dataset
    from mteb.abstasks.sts import AbsTaskSTS
    from mteb.abstasks.task_metadata import TaskMetadata

    pairs = [
        ("A man is eating food.", "A man is eating a piece of bread.", 4.0),
        ("A man is eating food.", "A man is riding a horse.", 1.0),
        ("A woman plays the guitar.", "A woman is playing a guitar.", 5.0),
        ("A dog runs in the park.", "The stock market fell today.", 0.0),
        ("ls lists files", "ls shows the contents of a directory", 4.5),
        ("The cat sleeps.", "A cat is sleeping on the sofa.", 4.0),
        ("It is raining.", "The sun is shining brightly.", 1.0),
        ("Children play football.", "Kids are playing soccer.", 4.5),
    ]

    class TinySTS(AbsTaskSTS):
        metadata = TaskMetadata(
            name="MoEETinySTS", description="Eight hand-written sentence pairs (a test fixture).",
            dataset={"path": "local/moee-tiny-sts", "revision": "1"}, type="STS", category="t2t",
            modalities=["text"], eval_splits=["test"], eval_langs=["eng-Latn"], main_score="cosine_spearman",
            date=None, domains=None, task_subtypes=None, license=None, annotations_creators=None,
            dialect=None, sample_creation=None, bibtex_citation="",
        )
        min_score, max_score = 0, 5

        def load_data(self, **kwargs) -> None:
            s1, s2, score = zip(*pairs)
            self.dataset = {"default": {"test": Dataset.from_dict({"sentence1": list(s1), "sentence2": list(s2), "score": list(score)})}}
            self.data_loaded = True

    return TinySTS(), pairs


@pytest.mark.parametrize("alpha", [1.0, "auto"])
def test_mteb_wrapper_scores_a_local_sts_task_with_the_sum_similarity(lms, tmp_path, alpha):
    import mteb
    from scipy.stats import spearmanr

    task, pairs = _tiny_sts_task()
    encoder = MoEEEncoder(lms["qwen2_moe"], method="sum", alpha=alpha, name="test-tiny-moee-sum")
    result = mteb.evaluate(encoder, [task], cache=mteb.ResultCache(tmp_path), overwrite_strategy="always",
                           co2_tracker=False, show_progress_bar=False)
    score = result.task_results[0].get_score()
    # The same number by hand: Spearman of cos(HS) + alpha cos(RW) against the gold scores.
    f1, f2 = lms["qwen2_moe"].features([p[0] for p in pairs]), lms["qwen2_moe"].features([p[1] for p in pairs])
    used_alpha = encoder.alphas["MoEETinySTS"] if alpha == "auto" else alpha
    by_hand = np.diag(moee.sum_similarity(f1.hs, f1.rw, f2.hs, f2.rw, used_alpha))
    assert score == pytest.approx(spearmanr(by_hand, [p[2] for p in pairs]).statistic, abs=1e-6)
    wrapped = encoder.similarity_pairwise(moee_embedding(f1, "sum", used_alpha), moee_embedding(f2, "sum", used_alpha))
    # float32 in two summation orders: with alpha='auto' the similarities reach ~65, so the tolerance is relative too
    np.testing.assert_allclose(wrapped.numpy(), by_hand, rtol=1e-6, atol=1e-5)


def test_mteb_wrapper_similarity_for_the_cosine_methods(lms, texts):
    encoder = MoEEEncoder(lms["olmoe"], method="concat", name="test-tiny-moee-concat")
    e = moee_embedding(lms["olmoe"].features(texts), "concat")
    np.testing.assert_allclose(encoder.similarity(e, e).numpy(), e @ e.T, atol=1e-6)
    np.testing.assert_allclose(encoder.similarity_pairwise(e, e[::-1]).numpy(), (e * e[::-1]).sum(1), atol=1e-6)
    with pytest.raises(ValueError, match="auto"):
        MoEEEncoder(lms["olmoe"], alpha=-1.0)


def test_cached_features_equal_uncached_and_revisions_track_every_setting(lms, texts, minilm_tokenizer):
    lm = lms["olmoe"]
    cached = moee.CachedFeatures(lm)
    first, again = cached.features(texts + texts[:2]), cached.features(texts[::-1])
    assert len(cached.cache) == len(texts)
    np.testing.assert_allclose(first.rw, np.concatenate([lm.features(texts).rw, lm.features(texts[:2]).rw]), atol=1e-6)
    np.testing.assert_allclose(again.hs, first.hs[: len(texts)][::-1], atol=0)
    revision = lambda source, method="sum", alpha=1.0: MoEEEncoder(source, method, alpha).mteb_model_meta.revision
    base = revision(lm)
    assert base == revision(moee.CachedFeatures(lm)) == revision(lm.with_prompt("none"))
    others = [revision(lm.with_prompt("prompteol")), revision(lm, "concat"), revision(lm, "sum", 2.0), revision(lm, "sum", "auto"),
              revision(MoEELM(lm.model, minilm_tokenizer, router_scores="logits")),
              revision(tiny_random_moe("olmoe", tokenizer=minilm_tokenizer, seed=1))]
    assert base not in others and len(set(others)) == len(others)


def test_evaluate_moee_on_an_offline_task(lms, tmp_path):
    from mote_lib.mteb_tasks import offline_tasks

    table = moee.evaluate_moee(lms["deepseek_v3"], offline_tasks(["LeeDocumentSTS"]), label="tiny-deepseek",
                               prompts=["none", "prompteol"], methods=["hs", "sum"], alpha="auto", store=tmp_path)
    assert table["error"].isna().all()
    assert sorted(zip(table.prompt, table.method)) == sorted((p, m) for p in ("none", "prompteol") for m in ("hs", "sum"))
    assert table.score.between(-100, 100).all() and table.score.nunique() > 1
    assert (table[table.method == "sum"].alpha > 0).all() and table[table.method == "hs"].alpha.isna().all()
    with pytest.raises(ValueError, match="takes no prompt"):
        _no_prompt(object(), "prompteol")


def test_paper_tasks_are_the_papers_19_datasets_by_category():
    tasks = moee.paper_tasks()
    by_type = {}
    for task in tasks:
        by_type.setdefault(task.metadata.type, []).append(task.metadata.name)
    assert {kind: sorted(names) for kind, names in by_type.items()} == {kind: sorted(names) for kind, names in moee.PAPER_TASKS.items()}
