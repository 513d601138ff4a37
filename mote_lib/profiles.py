"""Profiles: one registry of every size a run is made at, from training steps to analysis texts.

A profile names a scale of the whole experiment: how each model trains (``train``: overrides of
``mote_lib.train.TrainConfig``), how many seeds, how much of the evaluation suite is scored, and
how large the analyses are. The trainer's ``--profile``, the experiment harness
(``mote_lib.lab``) and the notebooks all read it from here.

    profile    seeds    training                        evaluation                       for
    smoke      0        6 steps of 8 x 64 tokens        6 records per task               a first run on MiniLM (minutes)
    tiny       0        smoke on a tiny random BERT     6 records per task               the notebooks in the tests (seconds)
    cpu        0        64 steps of 8 x 64, fast CPU    32 records per task (+160 docs)  the notebooks in an hour on 2 cores
    reference  0, 1, 2  180 steps of 32 x 128, fp32     the whole offline suite          the experiment of record (hours, CPU)
    pilot      0, 1     60 steps of 32 x 128, fp32      the whole offline suite          the reference's short arm
    gpu-quick  0, 1, 2  60 steps of 128 x 128, bf16     the whole offline suite          10 minutes on one H100/H200
    gpu        0, 1, 2  3,000 steps of 512 x 256, bf16  the whole offline suite (+MTEB)  a CUDA machine

("fast CPU": ``CPU_TRAINING``, cheaper dropout masks and smaller forward passes; the same batches.)

Example:
    >>> from mote_lib.profiles import get_profile
    >>> get_profile("cpu").train["steps"], get_profile("cpu").seeds
    (64, (0,))
    >>> get_profile("fast")
    Traceback (most recent call last):
    ...
    ValueError: unknown profile 'fast'; valid: ['cpu', 'gpu', 'gpu-quick', 'pilot', 'reference', 'smoke', 'tiny']
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    """One scale of the experiment.

    Attributes:
        name: the profile's name (also ``TrainConfig.profile`` and the ``results/<name>/`` folder).
        train: ``TrainConfig`` fields this profile sets (the rest keep their defaults).
        seeds: training seeds of every model.
        capacity_layers: base-model depths of the capacity sweep, besides the full depth.
        eval_sample: records per offline task (``mote_lib.data.write_eval_sample``), ``None``: the whole suite.
        eval_documents: documents besides the sampled queries' own kept in each retrieval task of
            the sample (``None``: as many as queries); more make retrieval less easy.
        analysis_texts: texts embedded by the inter-task similarity analysis.
        probe_texts: texts of the Lipschitz probes (Jacobian products: the costly analysis).
        probe_directions, power_iterations: random directions and power iterations per probe text.
        bootstrap_resamples: resamples of the paired bootstraps.
        hub_suites: real MTEB suites evaluated when the hub is reachable.
    """

    name: str
    train: dict = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    capacity_layers: tuple[int, ...] = (2,)
    eval_sample: int | None = None
    eval_documents: int | None = None
    analysis_texts: int = 1000
    probe_texts: int = 128
    probe_directions: int = 8
    power_iterations: int = 20
    bootstrap_resamples: int = 10_000
    hub_suites: tuple[str, ...] = ()


# How to train fast on a CPU without changing which examples share a batch (in-batch negatives are
# the method): dropout masks from mote_lib.fast_dropout (torch draws its masks on one thread) and 8
# texts per forward pass (less padding). bench/bench_suite.py times EM, IC and MoTE steps with and
# without it, side by side, against the fp32 matmul peak (bench/RESULTS.md, bench/results.json).
# Other dropout masks mean other numerics, so a profile fixed before this was measured (reference,
# pilot: pre-registered) keeps torch's dropout and its chunks.
CPU_TRAINING = dict(fast_dropout=True, embed_chunk=8)

PROFILES: dict[str, Profile] = {
    # Seconds: the real MiniLM, a handful of steps on small batches (tests, CI, notebook smoke runs).
    "smoke": Profile(
        "smoke",
        train=dict(steps=6, batch_size=8, max_seq_length=64, max_examples_per_dataset=200, checkpoint_every=3, warmup_ratio=0.2),
        eval_sample=6, analysis_texts=24, probe_texts=2, probe_directions=2, power_iterations=3, bootstrap_resamples=1000),
    # The smoke sizes on a tiny random BERT (hidden 32, 2 layers): the whole pipeline, every notebook, in
    # seconds; what the test suite runs the notebooks with. Its numbers mean nothing.
    "tiny": Profile(
        "tiny",
        train=dict(base_model="tiny-random-bert", steps=6, batch_size=8, max_seq_length=64, max_examples_per_dataset=200,
                   checkpoint_every=3, warmup_ratio=0.2),
        capacity_layers=(1,), eval_sample=6, analysis_texts=24, probe_texts=2, probe_directions=2, power_iterations=3,
        bootstrap_resamples=1000),
    # The notebooks in about an hour on a 2-core CPU of the slower kind measured (AVX2, ~33 GFLOP/s fp32):
    # a MoTE step of 8 x 64 tokens took ~1.8 s there, so 64 steps take ~2 minutes. A short run: the
    # experts move little from their common start, and the notebooks say so. 32 records per task and
    # 160 further documents per retrieval task are ~200k tokens, ~2 minutes per model (the whole suite
    # is ~1M); 24 records with as many documents as queries left retrieval at its ceiling (97-100).
    # Trained with CPU_TRAINING.
    "cpu": Profile(
        "cpu",
        train=dict(steps=64, batch_size=8, max_seq_length=64, checkpoint_every=32, **CPU_TRAINING),
        eval_sample=32, eval_documents=160, analysis_texts=64, probe_texts=8, probe_directions=3, power_iterations=6),
    # The experiment of record (docs/preregistration.md): the floor of the reference plan, every record
    # of the offline suite, trained on 2 CPU threads. Seeds beyond the first three are added (and the
    # sizes kept) once the pilot has measured the seed-to-seed spread; sizes never change mid-run.
    "reference": Profile(
        "reference",
        train=dict(steps=180, batch_size=32, max_seq_length=128, checkpoint_every=20, bf16="off"),
        seeds=(0, 1, 2), capacity_layers=(), analysis_texts=256, probe_texts=16, probe_directions=4, power_iterations=10),
    # The pilot's short arm: the reference's batches at a third of its steps (its long arm is the
    # reference runs themselves), to see how the endpoint and its spread move with training length.
    "pilot": Profile(
        "pilot",
        train=dict(steps=60, batch_size=32, max_seq_length=128, checkpoint_every=20, bf16="off"),
        seeds=(0, 1), capacity_layers=(), analysis_texts=256, probe_texts=16, probe_directions=4, power_iterations=10),
    # A reduced plan that starts and finishes within 10 minutes on one H100/H200 (when one is lent): its steps
    # are what fits by the timings of the slower of the H200 machines measured (results/gpu-quick/README.md, bench/bench_gpu.py).
    "gpu-quick": Profile(
        "gpu-quick",
        train=dict(steps=60, batch_size=128, max_seq_length=128, checkpoint_every=30, bf16="auto", embed_chunk=128),
        seeds=(0, 1, 2), capacity_layers=(), analysis_texts=256, probe_texts=16),
    # Paper-scale batches for a CUDA machine.
    "gpu": Profile(
        "gpu",
        train=dict(steps=3000, batch_size=512, max_seq_length=256, lr=5e-5, checkpoint_every=500, bf16="auto",
                   training_data="auto", embed_chunk=128),
        seeds=(0, 1, 2), capacity_layers=(4, 2), hub_suites=("mteb-lite",)),
}

# The profile whose figures are the repository's own (figures/); the others write to figures/<profile>/.
MAIN_PROFILE = "cpu"


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (the error lists the valid ones)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid: {sorted(PROFILES)}")
    return PROFILES[name]
