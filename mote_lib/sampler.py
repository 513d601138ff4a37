"""TA-CL batch sampling: a task per step, then a batch from that task only.

Paper (TA-CL): data organised task -> dataset -> examples; every mini-batch comes from one task;
retrieval batches are **homogeneous** (one dataset), classification and clustering batches are
**heterogeneous** (mixed datasets of the task). The "no TA-CL" ablation mixes tasks and datasets.

Each dataset is read in a fresh seeded permutation per epoch, so every example is seen once per
epoch. The sampler's whole state (random generator, per-dataset epoch and position, steps) fits in
``state_dict()``, and a sampler restored from it continues exactly where the first stopped.

Example:
    >>> sampler = TaskAwareSampler({"retrieval": {"a": 100, "b": 50}, "clustering": {"c": 80}}, batch_size=8, seed=0)
    >>> batch = sampler.next_batch()
    >>> len(batch.examples), batch.task in ("retrieval", "clustering")
    (8, True)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

HOMOGENEOUS_TASKS = frozenset({"retrieval"})


@dataclass(frozen=True)
class Batch:
    """The examples of one step: (task, dataset, index) triples; ``task`` is None for mixed batches."""

    task: str | None
    examples: list[tuple[str, str, int]]


class TaskAwareSampler:
    """Draws TA-CL batches from a task -> dataset -> size map.

    Args:
        sizes: task -> dataset -> number of examples.
        batch_size: examples per batch.
        seed: seeds the task/dataset draws and every epoch's permutation.
        task_weights: task -> relative weight (default: proportional to the task's size).
        ta_cl: False for the ablation: every batch drawn across all tasks and datasets.
    """

    def __init__(self, sizes: dict[str, dict[str, int]], batch_size: int, seed: int,
                 task_weights: dict[str, float] | None = None, ta_cl: bool = True) -> None:
        self.sizes = {task: {ds: n for ds, n in sorted(sets.items()) if n > 0} for task, sets in sorted(sizes.items())}
        self.sizes = {task: sets for task, sets in self.sizes.items() if sets}
        if not self.sizes:
            raise ValueError("the sampler needs at least one non-empty dataset")
        self.batch_size, self.seed, self.ta_cl = batch_size, seed, ta_cl
        self.tasks = list(self.sizes)
        weights = task_weights or {t: sum(s.values()) for t, s in self.sizes.items()}
        unknown = sorted(set(weights) - set(self.tasks))
        if unknown:
            raise ValueError(f"task_weights names unknown task(s) {unknown}; tasks with data: {self.tasks}")
        total = sum(weights.get(t, 0.0) for t in self.tasks)
        self.task_probs = np.array([weights.get(t, 0.0) / total for t in self.tasks])
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.cursors = {(t, d): [0, 0] for t, sets in self.sizes.items() for d in sets}  # [epoch, position]
        self.steps = 0
        self._permutations: dict[tuple[str, str], np.ndarray] = {}

    # -- drawing ---------------------------------------------------------------------------------

    def next_batch(self) -> Batch:
        self.steps += 1
        if not self.ta_cl:
            pool = [(t, d) for t, sets in self.sizes.items() for d in sets]
            return Batch(None, self._draw_mixed(pool))
        task = self.tasks[self.rng.choice(len(self.tasks), p=self.task_probs)]
        datasets = [(task, d) for d in self.sizes[task]]
        if task in HOMOGENEOUS_TASKS:
            sizes = np.array([self.sizes[task][d] for _, d in datasets], dtype=float)
            task_, dataset = datasets[self.rng.choice(len(datasets), p=sizes / sizes.sum())]
            return Batch(task, [(task_, dataset, i) for i in self._take(task_, dataset, self.batch_size)])
        return Batch(task, self._draw_mixed(datasets))

    def _draw_mixed(self, pool: list[tuple[str, str]]) -> list[tuple[str, str, int]]:
        """A batch spread over several datasets, each in proportion to its size."""
        sizes = np.array([self.sizes[t][d] for t, d in pool], dtype=float)
        counts = self.rng.multinomial(self.batch_size, sizes / sizes.sum())
        return [(t, d, i) for (t, d), k in zip(pool, counts) if k for i in self._take(t, d, int(k))]

    def _take(self, task: str, dataset: str, k: int) -> list[int]:
        """The next k indices of the dataset's current permutation, moving to the next epoch as needed.

        A batch that spans the end of an epoch could meet an example twice (once from each
        permutation); the repeat is dropped, since an identical positive would be a false
        negative. Such a batch is then a few rows short.
        """
        taken = []
        while len(taken) < k:
            epoch, position = self.cursors[(task, dataset)]
            order = self._permutation(task, dataset, epoch)
            chunk = order[position : position + k - len(taken)]
            taken.extend(int(i) for i in chunk)
            position += len(chunk)
            self.cursors[(task, dataset)] = [epoch + 1, 0] if position == len(order) else [epoch, position]
        return list(dict.fromkeys(taken))

    def _permutation(self, task: str, dataset: str, epoch: int) -> np.ndarray:
        cached = self._permutations.get((task, dataset))
        if cached is None or cached[0] != epoch:
            key = zlib.crc32(f"{task}/{dataset}".encode())
            order = np.random.default_rng([self.seed, key, epoch]).permutation(self.sizes[task][dataset])
            cached = (epoch, order)
            self._permutations[(task, dataset)] = cached
        return cached[1]

    # -- resuming --------------------------------------------------------------------------------

    def settings(self) -> dict:
        """What a saved state is only valid for: the data sizes and the sampling settings."""
        return {"sizes": self.sizes, "batch_size": self.batch_size, "seed": self.seed, "ta_cl": self.ta_cl,
                "task_probs": [round(float(p), 12) for p in self.task_probs]}

    def state_dict(self) -> dict:
        return {
            "settings": self.settings(),
            "rng": self.rng.bit_generator.state,
            "cursors": [[t, d, *c] for (t, d), c in sorted(self.cursors.items())],
            "steps": self.steps,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a saved state; refuses one saved with other data or settings."""
        if state["settings"] != self.settings():
            changed = sorted(k for k in self.settings() if state["settings"].get(k) != self.settings()[k])
            raise ValueError(f"the saved sampler state is for other data or settings (differs in: {changed}); "
                             "resume with the same data and sampling settings, or start a new run")
        self.rng.bit_generator.state = state["rng"]
        self.cursors = {(t, d): [epoch, position] for t, d, epoch, position in state["cursors"]}
        self.steps = state["steps"]
