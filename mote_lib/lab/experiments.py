"""The experiment plan of each profile: which models the notebooks train, evaluate and analyse.

The numbered notebooks take every model, seed and size from here, so a notebook reads as
narrative and calls, and the cpu profile's choices are written down once:

    profile  seeds    models                                         capacity sweep  evaluation
    smoke    0        all, 6 steps each (seconds)                    2 layers        6 records per task
    cpu      0        all, 64 steps of 8 (~2 min each, one 2-core)   2 layers        32 records per task
    gpu      0, 1, 2  all, 3000 steps of 512                         4, 2 layers     offline (+ MTEB when the hub answers)

Models (labels used in every table and figure):

    em, ic, mote          the paper's main comparison (MoTE = EOB: experts in every other block)
    mote-eb               experts in every block
    mote-tlr              token-level routing (a learned top-1 router per MoTE layer)
    mote-no-tacl          MoTE trained without TA-CL (mixed-task batches, one temperature)
    ic-2l, mote-2l, ...   IC and MoTE on the base model truncated to its first N layers

A trained model is cached under ``runs/models/`` by its training configuration
(``mote_lib.lab.runs``), and an evaluation under ``runs/results/`` by its weights
(``mote_lib.evaluate``): re-running a notebook reuses both. Tables a notebook produces for
others (and for ``09_paper_figures``) go to ``results/<profile>/`` (``write_result``).

Example:
    >>> from mote_lib.lab.experiments import train_config
    >>> train_config("mote-2l", "smoke").base_layers
    2
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

from mote_lib.atomic import write_text_atomic
from mote_lib.offline import hub_offline
from mote_lib.paths import PROJECT_ROOT, runs_dir
from mote_lib.profiles import get_profile

# label -> the TrainConfig fields that make the model what it is (the profile fills in the rest).
MODELS: dict[str, dict] = {
    "em": {"variant": "em"},
    "ic": {"variant": "ic"},
    "mote": {"variant": "mote"},
    "mote-eb": {"variant": "mote", "layers": "every"},
    "mote-tlr": {"variant": "mote-tlr"},
    "mote-no-tacl": {"variant": "mote", "ta_cl": False},
    # The base-gap study (why fine-tuned models score below the untrained base): IC with one factor
    # changed at a time (``mote_lib.lab.runner``'s ``base-gap`` queue).
    "ic-lr1e-5": {"variant": "ic", "lr": 1e-5},
    "ic-retrieval-only": {"variant": "ic", "task_weights": {"retrieval": 1.0}},
    # The capacity study's mpnet pilot (docs/preregistration-capacity.md): all-mpnet-base-v2 as the base model.
    "em-mpnet": {"variant": "em", "base_model": "mpnet"},
    "ic-mpnet": {"variant": "ic", "base_model": "mpnet"},
    "mote-mpnet": {"variant": "mote", "base_model": "mpnet"},
}
MAIN_MODELS = ("em", "ic", "mote")
ABLATION_MODELS = ("mote", "mote-eb", "mote-tlr", "mote-no-tacl")
CAPACITY_VARIANTS = ("ic", "mote")
_CAPACITY_LABEL = re.compile(r"^(?P<variant>em|ic|mote)-(?P<layers>\d+)l$")


def capacity_label(variant: str, layers: int) -> str:
    """``ic-2l``: IC on the base model's first 2 layers."""
    return f"{variant}-{layers}l"


def known_label(label: str) -> bool:
    """Whether ``train_config`` knows ``label``: a label of ``MODELS`` or a capacity label (``ic-2l``, ``em-4l``).

        >>> known_label("mote-4l"), known_label("mote-eb"), known_label("moe")
        (True, True, False)
    """
    return label in MODELS or _CAPACITY_LABEL.match(label) is not None


def capacity_models(profile: str) -> list[str]:
    """The capacity sweep's labels (full depth first: ``ic``, ``mote``, then ``ic-4l``, ...)."""
    return [*CAPACITY_VARIANTS, *(capacity_label(v, n) for n in get_profile(profile).capacity_layers for v in CAPACITY_VARIANTS)]


def all_models(profile: str) -> list[str]:
    """Every label a profile trains: the main models, the ablations, the capacity sweep."""
    return list(dict.fromkeys([*MAIN_MODELS, *ABLATION_MODELS, *capacity_models(profile)]))


def train_config(label: str, profile: str, seed: int = 0):
    """The ``TrainConfig`` of a model label in a profile."""
    from mote_lib.train import TrainConfig

    get_profile(profile)  # an unknown profile is named before an unknown label
    if label in MODELS:
        return TrainConfig.from_profile(profile, seed=seed, **MODELS[label])
    match = _CAPACITY_LABEL.match(label)
    if match:
        return TrainConfig.from_profile(profile, seed=seed, variant=match["variant"], base_layers=int(match["layers"]))
    raise ValueError(f"unknown model label {label!r}; valid: {sorted(MODELS)} or em-<N>l / ic-<N>l / mote-<N>l")


def trained_run_folder(label: str, profile: str, seed: int = 0, show_progress: bool = False) -> Path:
    """The folder of the finished training run of ``label``: trained now if it is not cached."""
    from mote_lib.lab.runs import trained_model

    return trained_model(train_config(label, profile, seed), show_progress=show_progress)


def load_model(label: str, profile: str, seed: int = 0):
    """The trained ``MoTEModel`` of ``label`` (trained now if needed), in eval mode."""
    from mote_lib.model import MoTEModel

    return MoTEModel.from_pretrained(trained_run_folder(label, profile, seed) / "model")


def train_models(labels: list[str], profile: str, show_progress: bool = False):
    """Train (or reuse) every label for every seed of the profile; one row per run.

    Returns:
        DataFrame ``model, seed, run, steps, train_seconds, mean_loss_last_10_steps,
        active_parameters, total_parameters``.
    """
    import pandas as pd

    rows = []
    for label in labels:
        for seed in get_profile(profile).seeds:
            folder = trained_run_folder(label, profile, seed, show_progress)
            summary = json.loads((folder / "summary.json").read_text())
            rows.append({"model": label, "seed": seed, "run": folder.name, "steps": summary["steps"],
                         "train_seconds": summary["train_seconds"],
                         "mean_loss_last_10_steps": summary["mean_loss_last_10_steps"],
                         "active_parameters": summary["parameters"]["active"],
                         "total_parameters": summary["parameters"]["total"]})
    return pd.DataFrame(rows)


def training_curves(labels: list[str], profile: str, window: int = 10):
    """Every run's loss per training task, step by step, with a moving average over ``window`` steps of that task.

    Returns:
        DataFrame ``model, seed, step, task, loss, smoothed``.
    """
    import pandas as pd

    from mote_lib.train import read_train_log

    frames = []
    for label in labels:
        for seed in get_profile(profile).seeds:
            folder = trained_run_folder(label, profile, seed)
            records = read_train_log(folder)
            rows = [{"model": label, "seed": seed, "step": r["step"], "task": task, "loss": loss}
                    for r in records for task, loss in r["task_loss"].items()]
            frames.append(pd.DataFrame(rows))
    table = pd.concat(frames, ignore_index=True).sort_values(["model", "seed", "task", "step"], ignore_index=True)
    table["smoothed"] = table.groupby(["model", "seed", "task"])["loss"].transform(
        lambda s: s.rolling(window, min_periods=1).mean())
    return table


# ----------------------------------------------------------------------------- evaluation


def eval_data_root(profile: str) -> Path | None:
    """The data root of a profile's offline evaluation: ``None`` (the shipped suite) or a cached sample."""
    records, documents = get_profile(profile).eval_sample, get_profile(profile).eval_documents
    if records is None:
        return None
    from mote_lib.data import write_eval_sample

    root = runs_dir() / (f"eval-sample-{records}" + (f"-docs-{documents}" if documents is not None else ""))
    if not (root / "eval").is_dir():
        write_eval_sample(root, records=records, other_documents=documents)
    return root


def evaluate_labels(labels: list[str], profile: str, suite: str = "offline", show_progress: bool = False):
    """Evaluate every label and seed of the profile (reusing stored results); one tidy table.

    The ``model`` column holds the label, ``seed`` the training seed; see
    ``mote_lib.evaluate.evaluate_models`` for the other columns.
    """
    import pandas as pd

    from mote_lib.evaluate import evaluate_models

    root = eval_data_root(profile) if suite == "offline" else None
    tables = [evaluate_models({label: trained_run_folder(label, profile, seed)}, suite, data_root=root,
                              show_progress=show_progress)
              for seed in get_profile(profile).seeds for label in labels]
    return pd.concat(tables, ignore_index=True)


def inference_seconds(labels: list[str], profile: str, texts: list[str], task: str = "search_document",
                      repeats: int = 3, batch_size: int = 32):
    """Seconds to embed ``texts`` with each model, measured side by side (interleaved, best of ``repeats``).

    Returns:
        DataFrame ``model, texts, seconds, texts_per_second, relative`` (seconds over the first label's).
    """
    import time

    import pandas as pd
    import torch

    models = {label: load_model(label, profile) for label in labels}
    best = dict.fromkeys(labels, float("inf"))
    with torch.inference_mode():
        for _ in range(repeats):
            for label, model in models.items():  # interleaved, so drift in machine load hits every model alike
                started = time.perf_counter()
                model.encode(texts, task=task, batch_size=batch_size)
                best[label] = min(best[label], time.perf_counter() - started)
    table = pd.DataFrame({"model": labels, "texts": len(texts), "seconds": [best[m] for m in labels]})
    table["texts_per_second"] = table["texts"] / table["seconds"]
    table["relative"] = table["seconds"] / table["seconds"].iloc[0]
    return table


def hub_reachable(timeout: float = 5.0) -> bool:
    """Whether the Hugging Face Hub answers and offline mode is off (then the real MTEB suites can run)."""
    if hub_offline():
        return False
    import urllib.request

    try:
        urllib.request.urlopen("https://huggingface.co/api/models?limit=1", timeout=timeout)
    except OSError:
        return False
    return True


# Offline retrieval/reranking tasks whose kind of pair the training data also holds (same source,
# same format): the Debian tasks pair held-out packages' synopses with descriptions, as the
# training set's debian_synopsis_description does for other packages. The other tasks' pairs
# (FAQ question -> answer, Wikipedia "article: heading" -> section) have no training counterpart.
IN_DOMAIN_TASKS = {"DebianPackageRetrieval": "retrieval/debian_synopsis_description",
                   "DebianPackageReranking": "retrieval/debian_synopsis_description"}


# ----------------------------------------------------------------------------- texts for the analyses


def analysis_texts(n: int, seed: int = 0) -> list[str]:
    """A fixed, seeded sample of ``n`` distinct evaluation texts, spread evenly over the offline tasks.

    Queries, documents and sentences all enter (the analyses ask how a model treats the *same*
    text under different tasks, whatever the text is).
    """
    import random

    rng = random.Random(seed)
    pools = []
    for texts in _distinct_eval_texts():
        texts = list(texts)
        rng.shuffle(texts)
        pools.append(texts)
    chosen: list[str] = []
    seen: set[str] = set()
    while len(chosen) < n and any(pools):
        for pool in pools:
            while pool and len(chosen) < n:
                text = pool.pop()
                if text not in seen:
                    seen.add(text)
                    chosen.append(text)
                    break
    if len(chosen) < n:
        raise ValueError(f"the offline suite has only {len(chosen)} distinct texts; asked for {n}")
    return chosen


@lru_cache(maxsize=1)
def _distinct_eval_texts() -> tuple[tuple[str, ...], ...]:
    """Per offline task (in name order), its distinct non-blank texts, sorted."""
    from mote_lib.data import eval_texts, list_eval_tasks, load_eval_task

    return tuple(tuple(sorted({t for role in eval_texts(load_eval_task(name)).values() for t in role if t.strip()}))
                 for name in list_eval_tasks())


# ----------------------------------------------------------------------------- results/<profile>/


def results_dir(profile: str) -> Path:
    """``$MOTE_RESULTS/<profile>`` if set (tests), else ``<project>/results/<profile>``."""
    get_profile(profile)
    return Path(os.environ.get("MOTE_RESULTS", PROJECT_ROOT / "results")) / profile


def write_result(table, name: str, profile: str) -> Path:
    """Write a table as ``results/<profile>/<name>.csv`` atomically (temp file, then rename)."""
    return write_text_atomic(results_dir(profile) / f"{name}.csv", table.to_csv(index=False))


def read_result(name: str, profile: str):
    """A table written by ``write_result``; the error names the notebook to run when it is missing."""
    import pandas as pd

    path = results_dir(profile) / f"{name}.csv"
    if not path.is_file():
        producer = RESULT_PRODUCERS.get(name, "the notebook that writes it")
        raise FileNotFoundError(f"{path} does not exist: run {producer} with profile={profile!r} first")
    return pd.read_csv(path)


# name -> the notebook that writes it (for the error above and the figure index).
RESULT_PRODUCERS = {
    "training_runs": "01_train_models", "training_curves": "01_train_models",
    "offline_suite": "02_evaluate_mteb", "summary": "02_evaluate_mteb", "per_query": "02_evaluate_mteb",
    "inference_time": "02_evaluate_mteb", "notebook_times": "python -m mote_lib.lab.notebooks",
    "inter_task_similarity": "03_inter_task_similarity", "inter_task_cosines": "03_inter_task_similarity",
    "layerwise_divergence": "03_inter_task_similarity",
    "sensitivity_ratios": "04_lipschitz_probes", "local_lipschitz": "04_lipschitz_probes",
    "layerwise_lipschitz": "04_lipschitz_probes",
    "significance": "05_significance_tests", "query_bootstrap": "05_significance_tests",
    "ablations": "06_ablations", "ablation_differences": "06_ablations",
    "expert_similarity": "07_next_checks", "consolidation": "07_next_checks", "capacity": "07_next_checks",
    "reranking_domains": "07_next_checks",
}
