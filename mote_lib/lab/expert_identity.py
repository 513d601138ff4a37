"""Did the experts learn task-specific weights? The matched-yardstick check (pre-registration, amendment 1, A3).

The registered check (``mote_lib.lab.manipulation.separation``) sets the distance between two experts
against the distance between two IC seeds' MLPs; but an expert is updated only on its own task's
steps while IC's MLP is updated on every step, so that yardstick is confounded by update counts.
Here the yardstick is the same expert in another MoTE seed, which had the same updates:

* **distance ratio** R: the mean distance between two different experts of one seed, over the mean
  distance between one expert in two seeds (over layers, expert pairs and seeds; > 1 predicted);
* **direction contrast** C: the mean cosine between one expert's updates in two seeds minus the mean
  cosine between different experts' updates in two seeds (> 0 predicted);
* a **permutation test over seeds**: each seed's expert labels permuted independently (one
  permutation for all layers of a seed), R and C recomputed; one-sided p = (1 + #{statistic at least
  the observed}) / (1 + permutations).

Every number comes from the committed count sketches of the scored weights (``weight_sketch.npz``,
per MoTE layer and expert: the change from the initial weights): sketches preserve inner products up
to about 1% (``mote_lib.lab.weight_sketch``). Passed when both p < 0.05; failed when R < 1 or C < 0;
otherwise inconclusive.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> task = rng.normal(size=(1, 4, 64))                          # one direction per expert...
    >>> changes = task + 0.5 * rng.normal(size=(5, 4, 64))           # ...found again in each of 5 seeds
    >>> result = identity_statistics(changes[:, None], n_permutations=500)
    >>> result["distance_ratio"] > 1, result["direction_contrast"] > 0, result["p_distance"] < 0.05
    (True, True, True)
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from mote_lib.lab import records

PASSED, FAILED, INCONCLUSIVE = "passed", "failed", "inconclusive"
N_PERMUTATIONS = 10_000
ALPHA = 0.05


def sketched_changes(profile: str) -> tuple[np.ndarray, list[int], list[str], list[int]]:
    """The MoTE seeds' sketched expert changes, shaped (seeds, layers, experts, buckets), with the
    seeds, the experts (sorted names) and the MoTE layers they hold."""
    arrays, seeds = [], []
    experts = layers = None
    for path in records.entry_paths(profile, "weight_sketch.npz", label="mote"):
        z = np.load(path)
        keep = z["expert"] != "dense"
        layer_ids, names = sorted(set(z["layer"][keep].tolist())), sorted(set(z["expert"][keep].tolist()))
        if experts is None:
            experts, layers = names, layer_ids
        elif (names, layer_ids) != (experts, layers):
            raise ValueError(f"{path}: experts {names} in layers {layer_ids}; the first seed has {experts} in {layers}")
        index = {(int(layer), str(name)): i for i, (layer, name) in enumerate(zip(z["layer"], z["expert"], strict=True))}
        arrays.append(np.stack([[z["sketch"][index[(layer, name)]] for name in experts] for layer in layers]))
        seeds.append(records.seed_of(path.parent.name))
    if not arrays:
        return np.zeros((0, 0, 0, 0)), [], [], []
    return np.stack(arrays).astype(np.float64), seeds, experts, layers


def _statistics(gram: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """R and C for one labelling. ``gram``: (layers, S*E, S*E) inner products of the changes, rows in
    (seed, expert) order; ``labels``: (S, E), the expert label each row of a seed carries."""
    n_seeds, n_experts = labels.shape
    norms = np.sqrt(np.einsum("lii->li", gram))
    distance = np.sqrt(np.maximum(norms[:, :, None] ** 2 + norms[:, None, :] ** 2 - 2 * gram, 0.0))
    cosine = gram / (norms[:, :, None] * norms[:, None, :])
    seed = np.repeat(np.arange(n_seeds), n_experts)
    label = labels.ravel()
    other_seed = seed[:, None] != seed[None, :]
    same_label = label[:, None] == label[None, :]
    within = ~other_seed & ~same_label  # two experts of one seed (labels do not matter for R's numerator)
    ratio = distance[:, within].mean() / distance[:, other_seed & same_label].mean()
    contrast = cosine[:, other_seed & same_label].mean() - cosine[:, other_seed & ~same_label].mean()
    return float(ratio), float(contrast)


def identity_statistics(changes: np.ndarray, n_permutations: int = N_PERMUTATIONS, rng_seed: int = 0) -> dict:
    """R, C and their permutation p-values from ``changes`` shaped (seeds, layers, experts, dims)."""
    n_seeds, n_layers, n_experts, _ = changes.shape
    if n_seeds < 2 or n_experts < 2:
        raise ValueError(f"the check needs 2 MoTE seeds and 2 experts; got {n_seeds} and {n_experts}")
    rows = changes.transpose(1, 0, 2, 3).reshape(n_layers, n_seeds * n_experts, -1)
    gram = np.einsum("lid,ljd->lij", rows, rows)
    identity = np.tile(np.arange(n_experts), (n_seeds, 1))
    ratio, contrast = _statistics(gram, identity)
    rng = np.random.default_rng(rng_seed)
    at_least = np.zeros(2)
    for _ in range(n_permutations):
        permuted = np.stack([rng.permutation(n_experts) for _ in range(n_seeds)])
        r, c = _statistics(gram, permuted)
        at_least += (r >= ratio, c >= contrast)
    p_distance, p_direction = (1 + at_least) / (1 + n_permutations)
    return {"distance_ratio": ratio, "direction_contrast": contrast, "p_distance": float(p_distance),
            "p_direction": float(p_direction), "n_seeds": n_seeds, "n_layers": n_layers, "n_experts": n_experts,
            "n_permutations": n_permutations}


def verdict(result: dict) -> str:
    """The amended check's label: passed, failed or inconclusive (see the module docstring)."""
    if result["distance_ratio"] < 1 or result["direction_contrast"] < 0:
        return FAILED
    return PASSED if max(result["p_distance"], result["p_direction"]) < ALPHA else INCONCLUSIVE


def per_layer(changes: np.ndarray, layers: list[int]) -> pd.DataFrame:
    """Descriptive, per MoTE layer: R and C with the identity labelling (no test)."""
    rows = []
    n_seeds, _, n_experts, _ = changes.shape
    identity = np.tile(np.arange(n_experts), (n_seeds, 1))
    for i, layer in enumerate(layers):
        one = changes[:, i].reshape(n_seeds * n_experts, -1)
        ratio, contrast = _statistics((one @ one.T)[None], identity)
        rows.append({"layer": layer, "distance_ratio": ratio, "direction_contrast": contrast})
    return pd.DataFrame(rows)


def cosine_cells(changes: np.ndarray, experts: list[str]) -> pd.DataFrame:
    """Descriptive: the mean cosine between expert a's update in one seed and expert b's in another (all layers)."""
    n_seeds = changes.shape[0]
    rows = []
    for a, name_a in enumerate(experts):
        for b, name_b in enumerate(experts):
            values = [_cosine(changes[s, layer, a], changes[t, layer, b])
                      for s, t in combinations(range(n_seeds), 2) for layer in range(changes.shape[1])]
            rows.append({"expert": name_a, "other_seed_expert": name_b, "cosine": float(np.mean(values))})
    return pd.DataFrame(rows).pivot(index="expert", columns="other_seed_expert", values="cosine")


def _cosine(x: np.ndarray, y: np.ndarray) -> float:
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


def check(profile: str, n_permutations: int = N_PERMUTATIONS) -> dict | None:
    """The whole check for ``profile``'s MoTE seeds (None before two seeds have sketches)."""
    changes, seeds, experts, layers = sketched_changes(profile)
    if len(seeds) < 2:
        return None
    result = identity_statistics(changes, n_permutations)
    return {**result, "verdict": verdict(result), "seeds": seeds, "experts": experts, "layers": layers,
            "per_layer": per_layer(changes, layers), "cosines": cosine_cells(changes, experts)}
