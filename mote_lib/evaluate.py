"""Evaluate mote_lib models through the ``mteb`` package: task routing, a results store, the paper's tables.

mteb tells an encoder what it is embedding (``task_metadata.type``, and ``prompt_type`` for
retrieval queries and documents); ``MTEBEncoder`` turns that into a MoTE task, which picks the
instruction and the expert:

    Retrieval / Reranking, queries     -> search_query
    Retrieval / Reranking, documents   -> search_document
    Classification                     -> classification
    Clustering                         -> clustering
    STS, PairClassification, Summarization, other types -> ``other_task`` (default ``classification``)

(ours: sentence-pair tasks compare two texts of the same kind, as classification inputs are; the
choice is one argument away.) The EM baseline ignores tasks.

Results are stored per (weights hash, evaluation settings, task) under ``runs/results/``: mteb's
own result cache keys on model name and revision only, so a retrained model under the same name
would silently get its predecessor's scores; here changed weights always mean a new evaluation.

Example:
    >>> from mote_lib.evaluate import evaluate_models
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> model = MoTEModel.from_base(MoTEConfig(variant="mote"))
    >>> table = evaluate_models({"mote-untrained": model}, suite="offline", tasks=["LeeDocumentSTS"])
    >>> table[["model", "task", "main_metric"]].values.tolist()
    [['mote-untrained', 'LeeDocumentSTS', 'cosine_spearman']]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mote_lib.atomic import write_text_atomic
from mote_lib.digest import files_digest, json_digest, weights_digest
from mote_lib.paths import project_environment, runs_dir

if TYPE_CHECKING:
    import pandas as pd

# Offline by default, caches inside the project (as scripts/env.sh), set before mteb is imported:
# the import creates mteb's cache folder, and hub look-ups retry for a minute before failing.
# Variables the user already set (to go online, say) are kept.
for _name, _value in project_environment().items():
    os.environ.setdefault(_name, _value)

from mteb.models.abs_encoder import AbsEncoder  # noqa: E402

from mote_lib.model import MoTEModel  # noqa: E402

RETRIEVAL_TYPES = frozenset({"Retrieval", "Reranking"})
TYPE_TO_TASK = {"Classification": "classification", "Clustering": "clustering"}
DEFAULT_OTHER_TASK = "classification"
# Bump when the way scores are computed changes, so stored results are not reused across it.
EVALUATION_VERSION = 1


# ----------------------------------------------------------------------------- routing


def route_task(task_type: str, prompt_type: str | None, other_task: str = DEFAULT_OTHER_TASK) -> str:
    """The MoTE task that embeds mteb inputs of ``task_type`` (and ``prompt_type``: query or document)."""
    if task_type in RETRIEVAL_TYPES:
        if prompt_type is None:
            raise ValueError(f"a {task_type} input must say whether it is a query or a document (prompt_type)")
        return "search_query" if str(prompt_type) in ("query", "PromptType.query") else "search_document"
    return TYPE_TO_TASK.get(task_type, other_task)


def weights_hash(model: MoTEModel) -> str:
    """A 16-hex-digit digest of the model's configuration and every weight (name, dtype, shape, bytes)."""
    return weights_digest(model.state_dict(), header=json.dumps(_config_dict(model), sort_keys=True))


# MoTEConfig fields added after results were first stored, with the value that keeps the old
# behaviour: left out of the digest at that value, so existing stored results stay valid.
_LATER_CONFIG_DEFAULTS = {"base_layers": None}


def _config_dict(model: MoTEModel) -> dict:
    from dataclasses import asdict

    mote = {k: v for k, v in asdict(model.config).items() if not (k in _LATER_CONFIG_DEFAULTS and v == _LATER_CONFIG_DEFAULTS[k])}
    return {"mote": mote, "backbone": model.backbone_config.to_dict()}


class MTEBEncoder(AbsEncoder):
    """An mteb encoder around any mote_lib model (EM, IC, MoTE, MoTE-TLR), routing each input to its task.

    Embeddings are cached by (task, text) for the encoder's lifetime: mteb's STS and pair
    evaluators embed every pair's texts again (LeeDocumentSTS would embed its 50 documents 2,450
    times), and a text gets the same embedding whenever it is embedded for the same task.

    Args:
        model: the model to evaluate.
        name: the model's label (mteb needs ``org/name``; ``mote-lab/`` is prepended if missing).
        other_task: the MoTE task for STS, PairClassification, Summarization and other types.
        batch_size: texts per forward pass.
        device: where to run (default: where the model is).
        show_progress_bar: a tqdm bar per encode call.

    Attributes:
        routes: one entry per ``encode`` call: mteb task name, task type, prompt type, routed task, texts.
    """

    def __init__(self, model: MoTEModel, name: str = "model", other_task: str = DEFAULT_OTHER_TASK, batch_size: int = 32,
                 device: str | None = None, show_progress_bar: bool = False) -> None:
        from mteb.models.model_meta import ModelMeta

        if other_task not in model.config.tasks:
            raise ValueError(f"unknown other_task {other_task!r}; valid tasks: {model.config.tasks}")
        self.model, self.other_task, self.batch_size = model, other_task, batch_size
        self.device, self.show_progress_bar = device, show_progress_bar
        self.routes: list[dict] = []
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        counts = model.parameter_counts()
        self.mteb_model_meta = ModelMeta(
            loader=None, name=name if "/" in name else f"mote-lab/{name}", revision=weights_hash(model),
            release_date=None, languages=["eng-Latn"], n_parameters=counts["total"],
            n_active_parameters_override=counts["active"], memory_usage_mb=None,
            max_tokens=model.config.max_seq_length, embed_dim=model.backbone_config.hidden_size, license=None,
            open_weights=True, public_training_code=None, public_training_data=None, framework=["PyTorch"],
            similarity_fn_name="cosine", use_instructions=model.config.uses_instructions, training_datasets=None,
        )

    def encode(self, inputs, *, task_metadata, hf_split: str, hf_subset: str, prompt_type=None, **kwargs) -> np.ndarray:
        texts = [text for batch in inputs for text in batch["text"]]
        task = route_task(task_metadata.type, getattr(prompt_type, "value", prompt_type), self.other_task)
        self.routes.append({"mteb_task": task_metadata.name, "type": task_metadata.type,
                            "prompt_type": getattr(prompt_type, "value", prompt_type), "task": task, "texts": len(texts)})
        missing = list(dict.fromkeys(t for t in texts if (task, t) not in self._cache))
        if missing:
            vectors = self.model.encode(missing, task=task, batch_size=self.batch_size, device=self.device,
                                        show_progress_bar=self.show_progress_bar)
            self._cache.update({(task, t): v for t, v in zip(missing, vectors)})
        dim = self.model.backbone_config.hidden_size
        return np.stack([self._cache[(task, t)] for t in texts]) if texts else np.zeros((0, dim), np.float32)


# ----------------------------------------------------------------------------- one model on a suite


def task_data_hash(task) -> str:
    """A digest of a shipped task's files (its metadata ``dataset.path``); ``hub`` for hub tasks."""
    folder = Path(task.metadata.dataset["path"])
    if not folder.is_dir():
        return f"hub:{task.metadata.dataset.get('revision')}"
    return files_digest(folder)


def result_key(encoder: MTEBEncoder, task) -> str:
    """What a stored result depends on: weights, routing, evaluator settings, data, mteb's version."""
    import mteb

    settings = {
        "weights": encoder.mteb_model_meta.revision, "other_task": encoder.other_task,
        "evaluator": _evaluator_settings(task), "data": task_data_hash(task), "mteb": mteb.__version__,
        "evaluation_version": EVALUATION_VERSION,
    }
    return json_digest(settings)


def _evaluator_settings(task) -> dict:
    names = ("samples_per_label", "n_experiments", "max_fraction_of_documents_to_embed", "n_clusters",
             "max_documents_per_cluster", "min_score", "max_score", "k_values", "seed", "keeps_per_query_scores")
    return {n: getattr(task, n) for n in names if hasattr(task, n)}


def evaluate_encoder(encoder: MTEBEncoder, tasks: list, *, label: str, variant: str = "", seed: int | None = None,
                     profile: str = "", store: str | Path | None = None, show_progress: bool = True) -> pd.DataFrame:
    """Evaluate one encoder on mteb tasks; one row per (task, split), reusing stored results.

    A task that fails is reported on stderr with its traceback and appears in the table with its
    ``error``; the other tasks still run.

    Args:
        encoder: an ``MTEBEncoder`` (or any mteb encoder with a ``mteb_model_meta`` and ``other_task``).
        tasks: mteb task objects (see ``mote_lib.mteb_tasks``).
        label, variant, seed, profile: copied into the table.
        store: the results folder (default ``runs/results``); ``None`` in the table means not stored.
        show_progress: a bar over tasks.
    """
    import mteb
    import pandas as pd

    store = Path(store or runs_dir() / "results")
    rows = []
    progress = tasks
    if show_progress:
        from tqdm.auto import tqdm

        progress = tqdm(tasks, desc=f"mteb {label}", unit="task")
    for task in progress:
        rows.extend(_evaluate_task(encoder, task, store, mteb))
    versions = package_versions()
    table = pd.DataFrame(rows)
    table.insert(0, "model", label)
    table.insert(1, "variant", variant)
    table.insert(2, "seed", seed)
    table["weights_hash"] = encoder.mteb_model_meta.revision
    table["profile"] = profile
    table["versions"] = json.dumps(versions, sort_keys=True)
    return table


@contextmanager
def quiet_datasets():
    """Hide the ``datasets`` progress bars inside the block, then restore their previous state.

    mteb prepares each retrieval corpus with ``datasets.map``, whose bar would add lines per task
    to every notebook's output even when mteb's own bars are off.
    """
    import datasets

    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if enabled:
            datasets.enable_progress_bars()


def _evaluate_task(encoder, task, store: Path, mteb) -> list[dict]:
    name, kind = task.metadata.name, task.metadata.type
    path = store / name / f"{result_key(encoder, task)}.json"
    if path.is_file():
        return [{**row, "result_file": str(path)} for row in json.loads(path.read_text())["rows"]]
    started = time.perf_counter()
    try:
        with quiet_datasets():
            result = mteb.evaluate(encoder, task, cache=None, overwrite_strategy="always", co2_tracker=False,
                                   raise_error=True, show_progress_bar=False,
                                   encode_kwargs={"batch_size": encoder.batch_size, "show_progress_bar": False})
    except Exception as err:  # reported, kept in the table, and the suite goes on
        print(f"[evaluate] {name} failed for {encoder.mteb_model_meta.name}:\n{traceback.format_exc()}", file=sys.stderr)
        return [{"task": name, "task_type": kind, "split": None, "main_metric": task.metadata.main_score,
                 "score": np.nan, "eval_seconds": round(time.perf_counter() - started, 1),
                 "error": f"{type(err).__name__}: {err}"}]
    seconds = round(time.perf_counter() - started, 1)
    task_result = result.task_results[0]
    rows = [{"task": name, "task_type": kind, "split": split, "main_metric": task.metadata.main_score,
             # x100, the scale of MTEB tables and of the paper's gains
             "score": 100 * float(task_result.get_score(splits=[split])), "eval_seconds": seconds, "error": None}
            for split in task_result.scores]
    payload = {"rows": rows, "mteb_result": task_result.to_dict()}
    if getattr(task, "keeps_per_query_scores", False):
        payload["per_query_scores"] = task.per_query_scores
    _write_json_atomic(path, payload)
    return [{**row, "result_file": str(path)} for row in rows]


def package_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("mote-lib", "mteb", "torch", "transformers", "sentence-transformers")}


def _write_json_atomic(path: Path, payload) -> None:
    write_text_atomic(path, json.dumps(payload, indent=1, sort_keys=True, default=str) + "\n")


# ----------------------------------------------------------------------------- many models


def load_model_folder(folder: str | Path) -> tuple[MoTEModel, dict]:
    """A saved model (``model/`` folder or a training run holding one) and what the run says about it."""
    folder = Path(folder)
    model_dir = folder / "model" if (folder / "model" / "config.json").is_file() else folder
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{folder} holds no saved model (no config.json, nor model/config.json)")
    info = {}
    run_config = model_dir.parent / "train_config.json"
    if model_dir != folder and run_config.is_file():
        info = json.loads(run_config.read_text())
    return MoTEModel.from_pretrained(model_dir), info


def evaluate_models(models: dict, suite: str = "offline", tasks: list[str] | None = None, *,
                    other_task: str = DEFAULT_OTHER_TASK, batch_size: int = 32, device: str | None = None,
                    store: str | Path | None = None, data_root: str | Path | None = None,
                    show_progress: bool = True) -> pd.DataFrame:
    """Evaluate several models on a suite; one tidy table.

    Args:
        models: label -> a ``MoTEModel`` or a saved model / training run folder.
        suite: ``offline`` (the shipped data), ``mteb-lite`` or ``mteb-en`` (real MTEB; needs the hub).
        tasks: only these task names of the suite.
        data_root: where the offline suite's ``eval/`` lives (default ``data/``; e.g. a
            ``write_eval_sample`` folder for smoke runs).

    Returns:
        Columns: model, variant, seed, task, task_type, split, main_metric, score (x100),
        eval_seconds, error, weights_hash, profile, versions.
    """
    import pandas as pd

    from mote_lib.mteb_tasks import mteb_tasks

    selected = mteb_tasks(suite, root=data_root)
    if tasks is not None:
        names = [t.metadata.name for t in selected]
        unknown = [t for t in tasks if t not in names]
        if unknown:
            raise ValueError(f"task(s) {unknown} are not in suite {suite!r}; valid: {names}")
        selected = [t for t in selected if t.metadata.name in tasks]
    tables = []
    for label, model in models.items():
        info = {}
        if not isinstance(model, MoTEModel):
            model, info = load_model_folder(model)
        encoder = MTEBEncoder(model, name=label, other_task=other_task, batch_size=batch_size, device=device)
        tables.append(evaluate_encoder(encoder, selected, label=label, variant=model.config.variant,
                                       seed=info.get("seed"), profile=info.get("profile", ""), store=store,
                                       show_progress=show_progress))
    return pd.concat(tables, ignore_index=True)


# ----------------------------------------------------------------------------- the paper's aggregation


def per_query_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Each query's main score (x100) behind the retrieval and reranking rows of ``table``.

    They are pytrec_eval's per-query values that mteb averages into the task's score (kept by the
    shipped tasks, see ``mote_lib.mteb_tasks``); the paired bootstrap over queries resamples them.

    Returns:
        Columns model, seed, task, task_type, split, query_id, score; empty for tables without such rows.
    """
    import pandas as pd

    frames = []
    for row in table[table["error"].isna()].itertuples():
        if row.task_type not in ("Retrieval", "Reranking") or not isinstance(getattr(row, "result_file", None), str):
            continue
        stored = json.loads(Path(row.result_file).read_text()).get("per_query_scores", {}).get(row.split)
        if stored is None:
            raise ValueError(f"{row.result_file} holds no per-query scores for split {row.split!r}"
                             " (a hub task, or a result stored before they were kept)")
        frames.append(pd.DataFrame({"model": row.model, "seed": row.seed, "task": row.task, "task_type": row.task_type, "split": row.split,
                                    "query_id": list(stored), "score": 100 * np.array(list(stored.values()), dtype=float)}))
    columns = ["model", "seed", "task", "task_type", "split", "query_id", "score"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def scores_by_task(table: pd.DataFrame) -> pd.DataFrame:
    """Per-dataset scores: one row per (task_type, task), one column per model (mean over splits and seeds)."""
    ok = table[table["error"].isna()]
    return ok.pivot_table(index=["task_type", "task"], columns="model", values="score", aggfunc="mean")


def summary_table(table: pd.DataFrame, reference: str = "em") -> pd.DataFrame:
    """The paper's main table: mean score per task type and over all datasets, and gains over ``reference``.

    Gains are computed per dataset (model - reference), then averaged per type and overall, as the
    paper does. Rows: models, then ``gain <model>`` for every other model.
    """
    import pandas as pd

    per_task = scores_by_task(table)
    if reference not in per_task.columns:
        raise ValueError(f"reference model {reference!r} is not in the table; models: {list(per_task.columns)}")
    means = type_means(per_task)
    gains = type_means(per_task.drop(columns=reference).sub(per_task[reference], axis=0))
    gains.index = [f"gain {m}" for m in gains.index]
    return pd.concat([means, gains])


def type_means(per_task: pd.DataFrame) -> pd.DataFrame:
    """Models x (task types, then ``average (all datasets)``) from a ``scores_by_task`` table (or its differences)."""
    by_type = per_task.groupby(level="task_type").mean().T
    by_type["average (all datasets)"] = per_task.mean().values
    return by_type


def gain_ratios(table: pd.DataFrame, model: str = "mote", baseline: str = "ic", reference: str = "em") -> dict:
    """The paper's headline: gain(model) / gain(baseline) over ``reference``, for retrieval and overall.

    The paper reports 5.21 / 3.27 = 1.59 (retrieval) and 2.60 / 1.81 = 1.43 (all datasets). A ratio
    is ``nan`` when the baseline's gain is zero; a negative ratio means the gains have opposite signs.
    """
    summary = summary_table(table, reference)
    out = {}
    for column, key in (("Retrieval", "retrieval"), ("average (all datasets)", "overall")):
        if column not in summary.columns:
            continue
        gain_model, gain_base = summary.loc[f"gain {model}", column], summary.loc[f"gain {baseline}", column]
        out[key] = {f"gain_{model}": gain_model, f"gain_{baseline}": gain_base,
                    "ratio": gain_model / gain_base if gain_base != 0 else float("nan")}
    return out


# ----------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate saved mote_lib models with mteb; print and save a tidy table.")
    parser.add_argument("--models", nargs="+", required=True,
                        help="saved model folders or training runs; LABEL=FOLDER to name one")
    parser.add_argument("--suite", default="offline", choices=["offline", "mteb-lite", "mteb-en"])
    parser.add_argument("--tasks", nargs="*", help="only these tasks of the suite")
    parser.add_argument("--other-task", default=DEFAULT_OTHER_TASK, help="MoTE task for STS and pair classification")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device")
    parser.add_argument("--output", help="write the table here (.csv or .json)")
    parser.add_argument("--summary", action="store_true",
                        help="also print the paper's table: means per task type, gains over the model labelled 'em', "
                             "and gain ratios of 'mote' over 'ic' (needs models labelled so)")
    args = parser.parse_args(argv)
    models = {}
    for spec in args.models:
        label, _, folder = spec.rpartition("=")
        models[label or Path(folder).name] = folder
    table = evaluate_models(models, args.suite, args.tasks, other_task=args.other_task, batch_size=args.batch_size,
                            device=args.device)
    print(table[["model", "variant", "task", "task_type", "main_metric", "score", "eval_seconds", "error"]].to_string())
    print("\nevaluation seconds per model:", table.groupby("model")["eval_seconds"].sum().round(1).to_dict())
    if args.summary:
        print("\n" + summary_table(table).round(2).to_string())
        print("\n" + json.dumps(gain_ratios(table), indent=2, default=float))
    if args.output:
        output = Path(args.output)
        write_text_atomic(output, table.to_json(orient="records", indent=1) if output.suffix == ".json"
                          else table.to_csv(index=False))
    failed = table["error"].notna().sum()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
