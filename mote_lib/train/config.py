"""``TrainConfig``, one training run's settings, and the trainer's constants (task roles, temperatures).

No heavy imports (standard library and ``mote_lib.profiles``): ``python -m mote_lib.train`` checks
a ``TrainConfig`` before torch is imported. The field names, defaults and order are the training cache key
(``mote_lib.lab.runs.config_hash``): a new field needs a default that keeps the old behaviour.

Example:
    >>> from mote_lib.train.config import TrainConfig
    >>> config = TrainConfig.from_profile("smoke", variant="ic")
    >>> (config.variant, config.profile, config.temperatures["clustering"])
    ('ic', 'smoke', 0.06)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from mote_lib.profiles import get_profile

if TYPE_CHECKING:
    from mote_lib.model import MoTEConfig

# Which model task (instruction and expert) embeds the anchor and the documents of each training task.
TASK_ROLES = {
    "retrieval": ("search_query", "search_document"),
    "classification": ("classification", "classification"),
    "clustering": ("clustering", "clustering"),
}
TRAINING_DATA = ("shipped", "hub", "auto")
PAPER_TEMPERATURES = {"retrieval": 0.03, "classification": 0.03, "clustering": 0.06}
EMBED_CHUNK = 16  # texts per forward pass inside a step (see mote_lib.train.step._embed)

# Fields that do not change the weights a run ends with (where it runs, how often it saves, its label):
# left out of the training cache key (``mote_lib.lab.runs.config_hash``, every cached run's folder name:
# this set must not change) and free to change when a run resumes (``checkpoints.RESUMABLE_CHANGES``).
NON_WEIGHT_FIELDS = frozenset({"device", "checkpoint_every", "keep_last", "profile"})


@dataclass
class TrainConfig:
    """One training run. Profiles (``mote_lib.profiles``) fill in sizes; any field can be overridden.

    Attributes:
        variant, base_model, layers, base_layers: the model (see ``MoTEConfig``).
        seed: seeds the batch order, dropout and every other random draw of the run.
        steps, batch_size: optimisation steps and examples per step (under torch.distributed: the
            global batch, all ranks together; it must divide by the number of processes).
        lr, warmup_ratio, weight_decay, max_grad_norm: AdamW with linear warm-up then linear decay.
        ta_cl: TA-CL on (per-task batches and temperatures) or off (the ablation: batches mixed
            across tasks and datasets, one temperature).
        temperatures: per training task (paper: 0.03 retrieval and classification, 0.06 clustering).
        no_ta_cl_temperature: the single temperature of the ablation (ours: 0.05).
        task_weights: task sampling weights (default: proportional to the task's size).
        max_examples_per_dataset: cap each dataset (the first N examples) for small profiles.
        data_root: a folder holding ``train/`` to train from instead of the shipped ``data/``.
        training_data: ``"shipped"`` (data/, or ``data_root``), ``"hub"`` (the real
            sentence-transformers/embedding-training-data, downloaded into the cache) or ``"auto"``
            (the hub when it is reachable, else the shipped data, with a notice).
        bf16: ``"auto"`` (on CUDA), ``"on"`` or ``"off"``: autocast the forward pass in bfloat16.
        grad_cache: compute the step with GradCache (``grad_cache_step``): the same gradients with
            the activation memory of one chunk, for batches larger than memory.
        embed_chunk: texts per forward pass inside a step (length-sorted chunks: less padding).
        fast_dropout: draw dropout masks with ``mote_lib.fast_dropout`` (four 16-bit draws per 64-bit
            random word instead of one draw per element: a cheaper step on CPU, where torch draws
            them on one thread; the drop rate rounded to 1/65536). Other masks than torch's, so
            other numerics: off by default and in the reference runs.
        deterministic: deterministic kernels (``torch.use_deterministic_algorithms``), needed on CUDA
            for a resumed run to equal an uninterrupted one; on CPU the kernels already are. Off by
            default: not yet exercised on a GPU, where an op without a deterministic kernel raises.
        max_seq_length: tokens per training input (instruction included). The saved model keeps
            the base model's inference length (``MoTEConfig.max_seq_length``).
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
        checkpoint_every, keep_last: checkpoint cadence and how many to keep.
        gather_negatives: under torch.distributed, every anchor sees the positives and hard
            negatives of all ranks (the loss of the global batch); off, each rank's loss uses its
            own shard's only. No effect in one process.
    """

    variant: str = "mote"
    base_model: str = "minilm"
    layers: str | list[int] = "every_other"
    base_layers: int | None = None
    seed: int = 0
    steps: int = 300
    batch_size: int = 32
    lr: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    max_seq_length: int = 128
    ta_cl: bool = True
    temperatures: dict[str, float] = field(default_factory=lambda: dict(PAPER_TEMPERATURES))
    no_ta_cl_temperature: float = 0.05
    task_weights: dict[str, float] | None = None
    max_examples_per_dataset: int | None = None
    data_root: str | None = None
    training_data: str = "shipped"
    bf16: str = "auto"
    grad_cache: bool = False
    embed_chunk: int = EMBED_CHUNK
    fast_dropout: bool = False
    deterministic: bool = False
    device: str = "auto"
    checkpoint_every: int = 100
    keep_last: int = 2
    gather_negatives: bool = True
    profile: str = "custom"

    def __post_init__(self) -> None:
        if self.keep_last < 1:
            raise ValueError(f"keep_last must be at least 1, got {self.keep_last}")

    @classmethod
    def from_profile(cls, profile: str, **overrides) -> TrainConfig:
        sizes = get_profile(profile).train
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {unknown}")
        return cls(**{**sizes, "profile": profile, **overrides})

    def model_config(self) -> MoTEConfig:
        from mote_lib.model import MoTEConfig

        return MoTEConfig(base_model=self.base_model, variant=self.variant, layers=self.layers,
                          base_layers=self.base_layers)
