"""lab.mechanism_claims: the paired tables of the mechanism claims from constructed runner files, and their verdicts."""

import numpy as np
import pandas as pd

from mote_lib.lab import mechanism_claims as mc

SEEDS = range(6)


def swap_files(gain: float, rng_seed: int = 0):
    rng = np.random.default_rng(rng_seed)
    per_query, per_dataset = [], []
    for seed in SEEDS:
        for route, task, kind in (("search_query", "FaqRetrieval", "Retrieval"), ("clustering", "C1", "Clustering")):
            for expert, routed in ((route, True), ("classification", False), ("none", False)):
                drop = 0.0 if routed else gain
                if kind == "Retrieval":
                    for q in range(20):
                        per_query.append({"seed": seed, "route": route, "expert": expert, "routed": routed, "task": task,
                                          "task_type": kind, "query_id": f"q{q}", "score": 50 + q - drop + rng.normal()})
                per_dataset.append({"seed": seed, "route": route, "expert": expert, "routed": routed, "task": task,
                                    "task_type": kind, "score": 60 - drop + rng.normal(0, 0.3), "error": np.nan})
    return pd.DataFrame(per_query), pd.DataFrame(per_dataset)


def test_the_pooled_swap_test_sees_a_routed_advantage_and_leaves_the_none_column_out():
    paired = mc.swap_table(*swap_files(gain=2.0))
    assert set(paired["dataset"]) == {"search_query | classification | FaqRetrieval", "clustering | classification | C1"}
    assert mc._directional(paired)["verdict"] == "supported"
    assert mc._directional(mc.swap_table(*swap_files(gain=0.0, rng_seed=3)))["verdict"] == "inconclusive"


def test_divergence_counts_block_outputs_from_the_embedding_layer():
    rows = [{"model": m, "seed": s, "layer": layer, "cosine": 1 - (0.1 if m == "mote" else 0.05) * layer + 0.001 * s}
            for m in ("mote", "ic") for s in SEEDS for layer in range(7) for _ in range(2)]
    table = mc.divergence_table(pd.DataFrame(rows), [1, 3, 5])
    assert np.allclose(table["a"], 0.4) and np.allclose(table["b"], 0.2)  # layers 2 -> 6


def test_wave_shares_and_the_threshold_verdict():
    rows = [{"seed": s, "edit": e, "task": t, "score": 70.0 * (0.99 if e == "wave" else 1.0) + 0.01 * s, "error": np.nan}
            for s in SEEDS for e in ("routed", "wave") for t in ("A", "B")]
    paired = mc.wave_table(pd.DataFrame(rows))
    assert np.allclose(paired["a"], 0.99, atol=1e-3)
    assert mc._directional(paired, threshold=mc.WAVE_THRESHOLD)["verdict"] == "supported"
    low = paired.assign(a=paired["a"] - 0.1)
    assert mc._directional(low, threshold=mc.WAVE_THRESHOLD)["verdict"] == "contradicted"


def test_merges_pair_the_two_merged_models_per_query_and_per_dataset():
    a, b = "merge search_document+clustering", "merge search_query+search_document"
    per_query = pd.DataFrame([{"seed": s, "edit": e, "task": "R", "task_type": "Retrieval", "split": "test",
                               "query_id": f"q{q}", "score": 50.0 + q + (1 if e == a else 0)}
                              for s in SEEDS for e in (a, b, "wave") for q in range(5)])
    per_dataset = pd.DataFrame([{"seed": s, "edit": e, "task": t, "task_type": k, "split": "test", "score": 60.0, "error": np.nan}
                                for s in SEEDS for e in (a, b) for t, k in (("R", "Retrieval"), ("C", "Clustering"))])
    paired = mc.merge_table(per_query, per_dataset)
    assert len(paired) == len(SEEDS) * 6 and set(paired["dataset"]) == {"R", "C"}
    assert paired.loc[paired["dataset"] == "R", "a"].sub(paired.loc[paired["dataset"] == "R", "b"]).eq(1).all()


def test_missing_inputs_read_not_measured(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_RESULTS", str(tmp_path))
    table = mc.mechanism_claims("reference")
    assert (table["verdict"] == "not measured").all() and table["note"].str.startswith("needs").all()
    assert mc.lines("reference") == []
