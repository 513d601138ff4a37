"""The TA-CL trainer: contrastive fine-tuning of EM, IC and MoTE models, resumable and profiled.

    python -m mote_lib.train --variant mote --profile cpu --output runs/mote-cpu
    python -m mote_lib.train --variant mote --profile cpu --output runs/mote-cpu --resume   # after an interruption
    torchrun --nproc_per_node 8 -m mote_lib.train --variant mote --profile gpu --output runs/mote-gpu   # data parallel

Each step samples a task, builds a batch from it (``mote_lib.sampler``), embeds anchors and
documents with the task's instruction and expert, and minimises InfoNCE (``mote_lib.losses``) with
the task's temperature. Retrieval rows put ``search_query`` on the anchor and ``search_document``
on the positive and hard negative, so both retrieval experts train.

The output folder holds ``train_config.json``, ``train_log.jsonl`` (one line per step: loss,
per-task loss, learning rate, tokens/s), ``checkpoints/step-NNNNNN/`` (the last ``keep_last``,
written atomically) and, at the end, ``model/`` (``MoTEModel.save_pretrained``) and ``summary.json``.

Under torchrun (``mote_lib.distributed``) every rank draws the same global batch of ``batch_size``
and embeds its shard; the loss sees the whole batch's negatives (``gather_negatives``); rank 0
alone writes the folder.

Example:
    >>> from mote_lib.train import TrainConfig, train
    >>> result = train(TrainConfig.from_profile("smoke", variant="mote"), "runs/example")  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import random
import re
import shutil
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from mote_lib import cli
from mote_lib.cli import DEBUG_VARIABLE, CommandLineError, OneLineParser
from mote_lib.names import VARIANTS
from mote_lib.paths import data_dir
from mote_lib.profiles import PROFILES, get_profile

# Which model task (instruction and expert) embeds the anchor and the documents of each training task.
TASK_ROLES = {
    "retrieval": ("search_query", "search_document"),
    "classification": ("classification", "classification"),
    "clustering": ("clustering", "clustering"),
}
TRAINING_DATA = ("shipped", "hub", "auto")
PAPER_TEMPERATURES = {"retrieval": 0.03, "classification": 0.03, "clustering": 0.06}
EMBED_CHUNK = 16  # texts per forward pass inside a step (see _embed)


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
        return MoTEConfig(base_model=self.base_model, variant=self.variant, layers=self.layers,
                          base_layers=self.base_layers)


# ----------------------------------------------------------------------------- command line (checked before torch loads)

# Fields with a fixed set of values (the command line offers them as choices).
FIELD_CHOICES = {"variant": VARIANTS, "bf16": ("auto", "on", "off"), "training_data": TRAINING_DATA}
# Fields the command line does not generate: the profile is --profile.
NOT_ON_COMMAND_LINE = frozenset({"profile"})
PROG = "python -m mote_lib.train"


def run_command_line(command, argv: list[str] | None = None, prog: str = PROG) -> int:
    """``mote_lib.cli.run_command_line`` under this module's name."""
    return cli.run_command_line(command, argv, prog)


def field_help(cls=None) -> dict[str, str]:
    """Each field's help text, read from the ``Attributes:`` section of the dataclass's docstring.

    Example:
        >>> field_help()["max_seq_length"].startswith("tokens per training input")
        True
    """
    doc = inspect.getdoc(cls or TrainConfig).split("Attributes:", 1)[1]
    helps: dict[str, str] = {}
    names: list[str] = []
    for line in doc.splitlines():
        entry = re.match(r"^    ([a-z_][a-z0-9_, ]*):\s*(.*)$", line)
        if entry:
            names = [name.strip() for name in entry[1].split(",")]
            helps.update(dict.fromkeys(names, entry[2]))
        elif line.startswith("        ") and names:
            for name in names:
                helps[name] += " " + line.strip()
    return helps


def add_config_arguments(parser: argparse.ArgumentParser, cls=None) -> None:
    """One option per field of ``TrainConfig`` (``--batch-size``, ``--ta-cl/--no-ta-cl`` ...), help from its docstring.

    Options left out are absent from the parsed namespace, so they keep the profile's value
    (``none`` sets an optional field to None).
    """
    cls = cls or TrainConfig
    helps = field_help(cls)
    for f in fields(cls):
        if f.name in NOT_ON_COMMAND_LINE:
            continue
        option = "--" + f.name.replace("_", "-")
        kind = str(f.type)
        extra = {"help": helps.get(f.name, ""), "default": argparse.SUPPRESS}  # left out: not in the namespace
        if kind == "bool":
            parser.add_argument(option, action=argparse.BooleanOptionalAction, **extra)
        elif f.name == "layers":
            parser.add_argument(option, type=_layers, metavar="every|every_other|I,J,...", **extra)
        elif kind.startswith("dict"):
            parser.add_argument(option, type=_json_object, metavar="JSON", **extra)
        else:
            convert = {"int": int, "float": float}.get(kind.split(" | ")[0], str)
            parser.add_argument(option, type=_optional(convert) if "None" in kind else convert,
                                choices=FIELD_CHOICES.get(f.name), **extra)


def _layers(text: str) -> str | list[int]:
    if text in ("every", "every_other"):
        return text
    try:
        indices = [int(i) for i in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected every, every_other or comma-separated layer indices") from None
    if min(indices) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: layer indices count from 0; expected every, every_other or I,J,...")
    return indices


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON ({err.msg}); expected e.g. '{{\"retrieval\": 0.05}}'") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a JSON object, e.g. '{{\"retrieval\": 0.05}}'")
    return value


def _optional(convert):
    def parse(text: str):
        return None if text.lower() == "none" else convert(text)
    parse.__name__ = convert.__name__  # argparse names the type in its error message
    return parse


def command_line_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=sorted(PROFILES), help="the sizes every option left out takes")
    parser.add_argument("--output", required=True, help="the run's folder")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh in a folder that holds checkpoints or a finished model (they are deleted)")
    parser.add_argument("--debug", action="store_true", help=f"full tracebacks of command-line mistakes (or {DEBUG_VARIABLE}=1)")
    add_config_arguments(parser)
    return parser


def parse_command_line(argv: list[str]) -> tuple[dict, TrainConfig]:
    """The run's control options and its ``TrainConfig``, checked before anything heavy loads.

    Raises:
        CommandLineError: a bad value, a missing input folder, or an output folder that would be overwritten.
    """
    args = vars(command_line_parser().parse_args(argv))
    control = {name: args.pop(name) for name in ("profile", "output", "resume", "overwrite", "debug")}
    try:
        config = TrainConfig.from_profile(control["profile"], **args)  # what is left: the options given
    except ValueError as err:
        raise CommandLineError(str(err)) from None
    check_inputs(config)
    try:
        check_output_folder(Path(control["output"]), control["resume"], control["overwrite"])
    except (FileExistsError, FileNotFoundError) as err:
        raise CommandLineError(str(err)) from None
    return control, config


def check_inputs(config: TrainConfig) -> None:
    """The training data folder and a local base model exist, and ``--layers`` fits the base model."""
    if config.training_data != "hub":
        root = Path(config.data_root) if config.data_root else data_dir()
        option = "--data-root" if config.data_root else "the shipped data (MOTE_DATA or data/)"
        if not (root / "train").is_dir():
            raise CommandLineError(f"{option}: {root} holds no train/ folder; give a folder holding train/<task>/*.jsonl.gz")
    depth = _base_model_depth(config.base_model)
    if config.base_layers is not None and depth is not None:
        if not 1 <= config.base_layers <= depth:
            raise CommandLineError(f"--base-layers {config.base_layers}: the base model has layers 1..{depth}")
        depth = config.base_layers
    if isinstance(config.layers, list) and depth is not None and max(config.layers) >= depth:
        raise CommandLineError(f"--layers {','.join(map(str, config.layers))}: the model's layers are 0..{depth - 1}")


def _base_model_depth(name: str) -> int | None:
    """The base model's number of layers when it is a local folder (None for a built-in name or a Hub id)."""
    from mote_lib.base_models import INSTALL_HINTS

    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise CommandLineError(f"--base-model {name}: the folder holds no config.json; give a model folder or one of {sorted(INSTALL_HINTS)}")
        return json.loads((folder / "config.json").read_text()).get("num_hidden_layers")
    if name in INSTALL_HINTS or ("/" in name and not name.startswith((".", "/", "~"))):
        return None  # built in, or a Hub id: resolved (and reported) when the model loads
    raise CommandLineError(f"--base-model {name}: no such folder, and not a built-in name {sorted(INSTALL_HINTS)} or a Hub id owner/name")


def check_output_folder(output: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a run that would silently replace another's work, or resume from nothing.

    An empty or missing folder is new. A new run (no ``resume``) in a folder holding checkpoints or a
    finished ``model/`` needs ``overwrite``; ``resume`` needs a checkpoint.

    Raises:
        FileExistsError: checkpoints or a model would be deleted without ``overwrite``.
        FileNotFoundError: ``resume`` without a checkpoint.
    """
    existing = sorted((output / "checkpoints").glob("step-*"))
    if resume:
        if not existing:
            raise FileNotFoundError(f"--resume: no checkpoint in {output / 'checkpoints'}; start the run without --resume")
        return
    if overwrite:
        return
    if existing:
        raise FileExistsError(f"{output} already holds checkpoints ({existing[-1].name}); continue it with "
                              "resume=True (--resume) or start afresh with overwrite=True (--overwrite)")
    if (output / "model").exists():
        raise FileExistsError(f"{output} already holds a finished model ({output / 'model'}); start afresh with "
                              "overwrite=True (--overwrite) or choose another output folder")


def _check_command_line(argv: list[str]) -> int:
    parse_command_line(argv)
    return 0


if __name__ == "__main__" and run_command_line(_check_command_line) == 2:
    raise SystemExit(2)  # a mistaken command line, refused in a second: torch is not imported yet

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mote_lib import distributed  # noqa: E402
from mote_lib.atomic import TEMPORARY_MARK, atomic_directory, write_text_atomic  # noqa: E402
from mote_lib.data import load_training_data  # noqa: E402
from mote_lib.distributed import SINGLE, World  # noqa: E402
from mote_lib.fast_dropout import fast_dropout  # noqa: E402
from mote_lib.losses import info_nce  # noqa: E402
from mote_lib.model import MoTEConfig, MoTEModel, batches  # noqa: E402
from mote_lib.model_card import training_record, write_model_card  # noqa: E402
from mote_lib.sampler import TaskAwareSampler  # noqa: E402


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


# ----------------------------------------------------------------------------- data


class TrainingData:
    """The training hierarchy as plain lists (fast row access), with label ids per dataset."""

    def __init__(self, config: TrainConfig) -> None:
        root = resolve_data_root(config)
        # What the run trained on, for its summary and model card: "auto" becomes "hub" or "shipped".
        self.source = "hub" if config.training_data != "shipped" and root != config.data_root else "shipped"
        loaded = load_training_data(root)
        cap = config.max_examples_per_dataset
        self.columns: dict[tuple[str, str], dict[str, list]] = {}
        for task, datasets in loaded.items():
            for name, ds in datasets.items():
                ds = ds.select(range(min(cap, len(ds)))) if cap else ds
                self.columns[(task, name)] = {c: ds[c] for c in ("anchor", "positive", "negative", "label")}
        self.sizes: dict[str, dict[str, int]] = {}
        for (task, name), cols in self.columns.items():
            self.sizes.setdefault(task, {})[name] = len(cols["anchor"])
        # Labels compare within a dataset only: "noun.animal" of one dataset is not another's.
        self.label_ids: dict[tuple[str, str, str], int] = {}
        for (task, name), cols in sorted(self.columns.items()):
            for label in sorted({lab for lab in cols["label"] if lab is not None}):
                self.label_ids[(task, name, label)] = len(self.label_ids)

    def batch(self, examples: list[tuple[str, str, int]], config: TrainConfig) -> dict:
        """Texts, tasks, hard negatives (with owners), label ids and temperatures of one batch."""
        out = {key: [] for key in ("anchors", "anchor_tasks", "positives", "doc_tasks", "negatives",
                                   "negative_owner", "negative_tasks", "labels", "temperatures", "row_tasks")}
        for row, (task, name, index) in enumerate(examples):
            cols = self.columns[(task, name)]
            anchor_task, doc_task = TASK_ROLES[task]
            out["anchors"].append(cols["anchor"][index])
            out["anchor_tasks"].append(anchor_task)
            out["positives"].append(cols["positive"][index])
            out["doc_tasks"].append(doc_task)
            if cols["negative"][index] is not None:
                out["negatives"].append(cols["negative"][index])
                out["negative_owner"].append(row)
                out["negative_tasks"].append(doc_task)
            label = cols["label"][index]
            out["labels"].append(self.label_ids[(task, name, label)] if label is not None else -1)
            out["temperatures"].append(config.temperatures[task] if config.ta_cl else config.no_ta_cl_temperature)
            out["row_tasks"].append(task)
        return out


def resolve_data_root(config: TrainConfig) -> str | None:
    """The folder to train from, following ``config.training_data``."""
    from mote_lib.data import HUB_TRAINING_DATA, download_hub_training_data
    from mote_lib.paths import cache_dir

    if config.training_data not in TRAINING_DATA:
        raise ValueError(f"unknown training_data {config.training_data!r}; valid: {list(TRAINING_DATA)}")
    if config.training_data == "shipped":
        return config.data_root
    try:
        return str(download_hub_training_data(cache_dir() / "embedding-training-data"))
    except Exception as err:  # offline, unreachable, or a failed download: say so, never silently
        if config.training_data == "hub":
            raise
        print(f"[train] {HUB_TRAINING_DATA} is not available ({type(err).__name__}: {err}); training on the shipped data instead")
        return config.data_root


# ----------------------------------------------------------------------------- the step


def contrastive_step(model: MoTEModel, batch: dict, device: torch.device, autocast: bool, chunk: int = EMBED_CHUNK,
                     max_length: int | None = None, world: World = SINGLE, gather_negatives: bool = True) -> dict:
    """Forward pass and loss of one batch; returns the loss, per-row losses and token count.

    Under torch.distributed (``world``) ``batch`` is the global batch, the same on every rank: this
    rank embeds its shard, and ``loss``, ``per_row``, ``aux`` and ``tokens`` are those of the
    global batch (the same on every rank, without a graph). ``objective`` is what this rank
    backpropagates: its share of the gradient, which ``distributed.sync_gradients`` adds up. In one
    process ``objective`` is ``loss``. A token-routed model's load-balancing loss is the mean of the
    ranks' (in one process it is already the mean over chunks).
    """
    shards = batch_shards(batch, world)
    local = shards[world.rank]
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
        anchors, anchor_tokens = _embed(model, local["anchors"], local["anchor_tasks"], device, chunk, max_length)
        docs, doc_tokens = _embed(model, *_documents(local), device, chunk, max_length)
    contrastive, per_row = shared_loss(anchors["embedding"], docs["embedding"], batch, shards, world, gather_negatives, device)
    aux = anchors["aux_loss"] + docs["aux_loss"]
    objective = contrastive + model.config.aux_loss_weight * aux / world.size
    return _step_result(model, objective, per_row, aux, anchor_tokens + doc_tokens, world, device)


def _step_result(model: MoTEModel, objective: torch.Tensor, per_row: torch.Tensor, aux: torch.Tensor, tokens: int,
                 world: World, device: torch.device) -> dict:
    """The step's global loss, per-row losses, load-balancing loss and tokens (summed over ranks)."""
    if not world.distributed:
        return {"loss": objective, "objective": objective, "per_row": per_row.detach(), "aux": aux.detach(), "tokens": tokens}
    aux = distributed.sum_over_ranks(aux, world) / world.size
    loss = per_row.detach().mean() + model.config.aux_loss_weight * aux
    tokens = int(distributed.sum_over_ranks(torch.tensor(tokens, device=device), world))
    return {"loss": loss, "objective": objective, "per_row": per_row.detach(), "aux": aux, "tokens": tokens}


def _documents(batch: dict) -> tuple[list[str], list[str]]:
    return batch["positives"] + batch["negatives"], batch["doc_tasks"] + batch["negative_tasks"]


ROW_KEYS = ("anchors", "anchor_tasks", "positives", "doc_tasks", "labels", "temperatures", "row_tasks")


def shard_batch(batch: dict, start: int, stop: int) -> dict:
    """Rows ``start:stop`` of a batch with the hard negatives they own (owners renumbered from 0).

    ``TrainingData.batch`` lists hard negatives in the order of their rows, so the shards'
    negatives, put back in rank order, are the batch's in its order.
    """
    shard = {key: batch[key][start:stop] for key in ROW_KEYS}
    owned = [j for j, owner in enumerate(batch["negative_owner"]) if start <= owner < stop]
    shard["negatives"] = [batch["negatives"][j] for j in owned]
    shard["negative_tasks"] = [batch["negative_tasks"][j] for j in owned]
    shard["negative_owner"] = [batch["negative_owner"][j] - start for j in owned]
    return shard


def batch_shards(batch: dict, world: World) -> list[dict]:
    """Every rank's shard of the global batch (each rank knows them all: counts for the gather)."""
    if not world.distributed:
        return [batch]
    rows = len(batch["anchors"])
    return [shard_batch(batch, *distributed.shard_bounds(rows, rank, world.size)) for rank in range(world.size)]


def shared_loss(anchors: torch.Tensor, docs: torch.Tensor, batch: dict, shards: list[dict], world: World,
                 gather_negatives: bool, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's share of the batch's mean InfoNCE, and the per-row losses of the global batch.

    ``anchors`` and ``docs`` are this rank's embeddings (its positives, then its hard negatives).
    With ``gather_negatives`` every rank computes the loss of the whole batch from the gathered
    embeddings; autograd reaches only its own rows, so the ranks' gradients add up to the batch's.
    Without, each rank's loss uses its shard's candidates only, weighted by its share of the rows.
    """
    if not world.distributed:
        per_row = _batch_loss(anchors, docs, batch, device)
        return per_row.mean(), per_row
    local = shards[world.rank]
    rows = [len(s["anchors"]) for s in shards]
    if not gather_negatives:
        local_rows = _batch_loss(anchors, docs, local, device)
        return local_rows.sum() / sum(rows), distributed.gather_rows(local_rows.detach(), rows, world)
    mine = len(local["anchors"])
    negatives = [len(s["negatives"]) for s in shards]
    all_anchors = distributed.gather_rows(anchors.float(), rows, world)
    all_docs = torch.cat([distributed.gather_rows(docs[:mine].float(), rows, world),
                          distributed.gather_rows(docs[mine:].float(), negatives, world)])
    per_row = _batch_loss(all_anchors, all_docs, batch, device)
    return per_row.mean(), per_row


def _batch_loss(anchors: torch.Tensor, docs: torch.Tensor, batch: dict, device: torch.device) -> torch.Tensor:
    """Per-row InfoNCE from anchor and document embeddings (positives first, then hard negatives)."""
    rows = len(batch["anchors"])
    has_negatives = bool(batch["negatives"])
    return info_nce(
        anchors.float(), docs[:rows].float(), torch.tensor(batch["temperatures"], device=device),
        docs[rows:].float() if has_negatives else None,
        torch.tensor(batch["negative_owner"], device=device) if has_negatives else None,
        torch.tensor(batch["labels"], device=device), reduction="none",
    )


def grad_cache_step(model: MoTEModel, batch: dict, device: torch.device, autocast: bool, chunk: int = EMBED_CHUNK,
                    max_length: int | None = None, world: World = SINGLE, gather_negatives: bool = True) -> dict:
    """The loss of ``contrastive_step`` with its gradients accumulated in the parameters, holding
    the activations of one chunk at a time (GradCache, Gao et al. 2021), for batches larger than memory.

    1. embed every chunk without an autograd graph, saving the RNG state before each (dropout);
    2. compute the loss from the detached embeddings and its gradient with respect to them;
    3. re-run each chunk from its saved RNG state, with a graph, and backpropagate that gradient.
    The same dropout masks are drawn in steps 1 and 3, so the gradients equal those of
    ``contrastive_step`` (tested). Returns like ``contrastive_step``, with ``loss`` already backpropagated
    (``objective`` is None). Under torch.distributed each rank caches its shard, as ``contrastive_step``.
    """
    shards = batch_shards(batch, world)
    local = shards[world.rank]
    groups = [_plan_chunks(model, local["anchors"], local["anchor_tasks"], device, chunk, max_length),
              _plan_chunks(model, *_documents(local), device, chunk, max_length)]
    states, cached = [], []
    with torch.no_grad(), torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
        for chunks in groups:
            outputs = []
            for c in chunks:
                states.append(_rng_state(device))
                outputs.append(_forward_chunk(model, c))
            cached.append(_assemble(chunks, outputs, device))
    anchors, docs = (g["embedding"].detach().requires_grad_() for g in cached)
    contrastive, per_row = shared_loss(anchors, docs, batch, shards, world, gather_negatives, device)
    contrastive.backward()
    weight = model.config.aux_loss_weight / world.size
    state_index = 0
    for chunks, embedding_grad in zip(groups, (anchors.grad, docs.grad)):
        for c in chunks:
            _set_rng_state(device, states[state_index])
            state_index += 1
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
                out = _forward_chunk(model, c)
            rows = torch.tensor(c["rows"], device=device)
            surrogate = (out["embedding"].float() * embedding_grad[rows]).sum() + weight * out["aux_loss"] / len(chunks)
            surrogate.backward()
    aux = cached[0]["aux_loss"] + cached[1]["aux_loss"]
    tokens = sum(int(c["attention_mask"].sum()) for chunks in groups for c in chunks)
    result = _step_result(model, per_row.detach().mean() + weight * aux, per_row, aux, tokens, world, device)
    return {**result, "objective": None}


def _rng_state(device: torch.device) -> tuple:
    """The generator states dropout draws from: the CPU's, and the GPU's when running on one."""
    return torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def _set_rng_state(device: torch.device, state: tuple) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def _embed(model: MoTEModel, texts: list[str], tasks: list[str], device: torch.device, chunk: int = EMBED_CHUNK,
           max_length: int | None = None):
    """Embed texts in length-sorted chunks (less padding), keeping the autograd graph of each.

    Without dropout (eval mode) the embeddings, the loss and its gradients equal those of one
    forward pass over all texts (tested); only padded positions, which cost time and change
    nothing, are saved: 1.6x faster on the cpu profile. In training mode dropout draws its masks
    per chunk, so the random masks (not their distribution) differ from a single pass. For
    token-routed models the load-balancing loss is the mean over chunks.
    """
    chunks = _plan_chunks(model, texts, tasks, device, chunk, max_length)
    outputs = [_forward_chunk(model, c) for c in chunks]
    return _assemble(chunks, outputs, device), sum(int(c["attention_mask"].sum()) for c in chunks)


def _plan_chunks(model: MoTEModel, texts: list[str], tasks: list[str], device: torch.device, chunk: int,
                 max_length: int | None = None) -> list[dict]:
    """Tokenised, length-sorted chunks of at most ``chunk`` texts, each with its rows and experts."""
    length = max_length or model.config.max_seq_length
    lengths = [len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=length)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    chunks = []
    for rows in batches(order, chunk):
        row_tasks = [tasks[i] for i in rows]
        tokens = model.tokenize([texts[i] for i in rows], row_tasks, max_length=length)
        chunks.append({
            "rows": rows, "input_ids": tokens["input_ids"].to(device), "attention_mask": tokens["attention_mask"].to(device),
            "expert_ids": model.expert_ids(row_tasks).to(device) if model.config.routing == "sequence" else None,
        })
    return chunks


def _forward_chunk(model: MoTEModel, chunk: dict) -> dict:
    return model(chunk["input_ids"], chunk["attention_mask"], chunk["expert_ids"])


def _assemble(chunks: list[dict], outputs: list[dict], device: torch.device) -> dict:
    """Chunk outputs back in the texts' order; the load-balancing loss is the mean over chunks."""
    order = torch.tensor([row for c in chunks for row in c["rows"]], device=device)
    embeddings = torch.cat([o["embedding"] for o in outputs])[torch.argsort(order)]
    aux = sum((o["aux_loss"] for o in outputs), torch.zeros((), device=device)) / max(1, len(outputs))
    return {"embedding": embeddings, "aux_loss": aux}


# ----------------------------------------------------------------------------- the trainer


def train(config: TrainConfig, output: str | os.PathLike, resume: bool = False, show_progress: bool = True,
          stop_after: int | None = None, overwrite: bool = False) -> dict:
    """Train one model; return the summary (also written to ``output/summary.json``).

    Args:
        config: the run.
        output: the run's folder.
        resume: continue from the newest checkpoint in ``output/checkpoints`` (an error if none).
        show_progress: a tqdm bar with loss and tokens/s.
        stop_after: stop (as if interrupted) after this global step, leaving its checkpoint.
        overwrite: start afresh in a folder that already holds checkpoints or a finished model (they are deleted).

    Under torchrun (or in a process group a caller made) every rank calls ``train`` with the same
    arguments; ``output`` must be a folder every rank sees (a shared filesystem across nodes).
    Rank 0 writes it; every rank returns the summary.

    Raises:
        FileExistsError: ``output`` holds checkpoints or a finished ``model/``, and neither ``resume`` nor
            ``overwrite`` is set (``check_output_folder``).
        FileNotFoundError: ``resume`` and ``output`` holds no checkpoint.
    """
    world = distributed.setup(config.device)
    try:
        return _train(config, Path(output), world, resume, show_progress, stop_after, overwrite)
    finally:
        distributed.teardown(world)


def _train(config: TrainConfig, output: Path, world: World, resume: bool, show_progress: bool,
           stop_after: int | None, overwrite: bool) -> dict:
    distributed.check_batch_size(config.batch_size, world)
    check_output_folder(output, resume, overwrite)
    device = distributed.device_for(config.device, world)
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    autocast = config.bf16 == "on" or (config.bf16 == "auto" and device.type == "cuda")
    _seed_everything(config.seed)
    with distributed.main_first(world):  # rank 0 fills the shared caches (hub data, unpacked models)
        data = TrainingData(config)
        model = MoTEModel.from_base(config.model_config()).to(device).train()
    distributed.broadcast_parameters(model, world)
    if world.distributed:  # every rank the same weights and batches, but its own dropout masks
        _seed_everything(distributed.rank_seed(config.seed, world))
    optimizer = make_optimizer(model, config)
    scheduler = _scheduler(optimizer, config)
    # The global batch: every rank draws the same one and embeds its shard (``contrastive_step``).
    sampler = TaskAwareSampler(data.sizes, config.batch_size, config.seed, config.task_weights, config.ta_cl)
    output.mkdir(parents=True, exist_ok=True)  # only now: a run that fails to start leaves no folder behind
    start = 0
    if resume:
        start = _restore(output, model, optimizer, scheduler, sampler, config, world)
    elif world.is_main:
        for stale in ("checkpoints", "model"):
            shutil.rmtree(output / stale, ignore_errors=True)
        for stale in ("train_log.jsonl", "summary.json"):
            (output / stale).unlink(missing_ok=True)
    if world.is_main:
        for leftover in (output / "checkpoints").glob(f".*{TEMPORARY_MARK}*"):  # from a save that was killed
            shutil.rmtree(leftover)
        _write_json(output / "train_config.json", asdict(config))

    steps = range(start + 1, config.steps + 1)
    progress = None
    if show_progress and world.is_main:
        from tqdm.auto import tqdm

        progress = tqdm(total=config.steps, initial=start, desc=f"train {config.variant}", unit="step")
    log = open(output / "train_log.jsonl", "a", encoding="utf-8") if world.is_main else None
    started = time.perf_counter()
    # Fast dropout only while training: the saved model and its evaluation use the standard modules.
    masks = fast_dropout(model) if config.fast_dropout else nullcontext()
    try:
        with masks:
            for step in steps:
                last = _one_step(step, model, data, sampler, optimizer, scheduler, config, device, autocast, output, world)
                if log is not None:
                    log.write(json.dumps(last) + "\n")
                    log.flush()
                if progress is not None:
                    progress.update(1)
                    progress.set_postfix(loss=f"{last['loss']:.3f}", tok_s=f"{last['tokens_per_s']:.0f}")
                stopping = stop_after is not None and step >= stop_after
                if step % config.checkpoint_every == 0 or step == config.steps or stopping:
                    _save_checkpoint(output, step, model, optimizer, scheduler, sampler, config, world)
                if stopping:
                    return {"stopped_at": step}
    finally:
        if log is not None:
            log.close()
        if progress is not None:
            progress.close()
    summary = _finish(config, output, model, device, autocast, started, world, data.source) if world.is_main else None
    return distributed.broadcast_object(summary, world)  # every rank returns rank 0's summary


def _finish(config: TrainConfig, output: Path, model: MoTEModel, device: torch.device, autocast: bool, started: float,
            world: World, data_source: str) -> dict:
    """Save the final model, its card with the run's settings, and the summary (rank 0)."""
    model.save_pretrained(output / "model", overwrite=True)  # a resumed run replaces its own earlier model
    log_entries = _read_log(output / "train_log.jsonl")
    summary = {
        "variant": config.variant, "profile": config.profile, "seed": config.seed, "steps": config.steps,
        "final_loss": log_entries[-1]["loss"],
        "mean_loss_last_10_steps": sum(e["loss"] for e in log_entries[-10:]) / len(log_entries[-10:]),
        # Step times summed over the whole run, resumed parts included; this session's wall time beside it.
        "train_seconds": round(sum(e["seconds"] for e in log_entries), 1),
        "wall_time_s": round(time.perf_counter() - started, 1),
        "device": str(device), "bf16": autocast, "parameters": model.parameter_counts(), "training_data": data_source,
    }
    if world.distributed:
        summary["world_size"] = world.size
    # save_pretrained knows nothing of the run, so its card is rewritten with the run's settings; before
    # summary.json, which marks the run finished: a finished run's card always holds them.
    write_model_card(model, output / "model" / "README.md", training=training_record(asdict(config), summary))
    _write_json(output / "summary.json", summary)
    return summary


def _one_step(step, model, data, sampler, optimizer, scheduler, config, device, autocast, output, world=SINGLE) -> dict:
    began = time.perf_counter()
    batch = data.batch(sampler.next_batch().examples, config)  # under torch.distributed: the global batch
    step_fn = grad_cache_step if config.grad_cache else contrastive_step
    result = step_fn(model, batch, device, autocast, config.embed_chunk, config.max_seq_length, world, config.gather_negatives)
    if not torch.isfinite(result["loss"]):
        raise TrainingDiverged(
            f"loss is {result['loss'].item()} at step {step}; nothing was updated. The last good "
            f"checkpoint is in {output / 'checkpoints'} (resume with --resume, e.g. at a lower learning rate)"
        )
    lr = scheduler.get_last_lr()[0]  # the rate this step uses
    if not config.grad_cache:  # grad_cache_step has already backpropagated
        result["objective"].backward()
    distributed.sync_gradients(model.parameters(), world)  # the same summed gradient on every rank
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    if not torch.isfinite(grad_norm):
        raise TrainingDiverged(
            f"gradient norm is {grad_norm.item()} at step {step} (loss {result['loss'].item():.4f}); nothing was "
            f"updated. The last good checkpoint is in {output / 'checkpoints'}"
        )
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - began
    per_task = {}
    for task in set(batch["row_tasks"]):
        values = [v for v, t in zip(result["per_row"].tolist(), batch["row_tasks"]) if t == task]
        per_task[task] = sum(values) / len(values)
    return {
        "step": step, "loss": result["loss"].item(), "task_loss": per_task, "aux_loss": result["aux"].item(),
        "lr": lr, "grad_norm": grad_norm.item(), "tokens": result["tokens"], "seconds": round(seconds, 4),
        "tokens_per_s": result["tokens"] / seconds,
    }


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_optimizer(model: MoTEModel, config: TrainConfig) -> torch.optim.AdamW:
    """The trainer's AdamW: weight decay on matrices only (not biases and LayerNorm weights, as is usual)."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


def _scheduler(optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = max(1, math.ceil(config.warmup_ratio * config.steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (config.steps - step) / max(1, config.steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# ----------------------------------------------------------------------------- checkpoints


# Settings that may change between an interrupted run and its resumption; any other change is refused.
RESUMABLE_CHANGES = frozenset({"device", "checkpoint_every", "keep_last", "profile", "bf16"})


def _save_checkpoint(output: Path, step: int, model, optimizer, scheduler, sampler, config: TrainConfig,
                     world: World = SINGLE) -> Path:
    """Write checkpoints/step-NNNNNN atomically (temporary folder, then rename); keep the newest few.

    Under torch.distributed every rank calls it: each rank's RNG state is gathered (its dropout
    stream), the replicas are checked to be identical, and rank 0 alone writes. The sampler is
    the same on every rank (they draw the same global batches), so one sampler state serves all.
    """
    rng = distributed.gather_objects(_rng_states(), world)
    distributed.check_in_sync(model, world)
    folder = output / "checkpoints"
    final = folder / f"step-{step:06d}"
    if not world.is_main:
        return final
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             **rng[0], "step": step, "config": asdict(config), "world_size": world.size}
    if world.distributed:
        state["rank_rng"] = rng
    with atomic_directory(final) as tmp:
        torch.save(state, tmp / "trainer_state.pt")
        _write_json(tmp / "sampler_state.json", sampler.state_dict())
    for old in sorted(folder.glob("step-*"))[: -config.keep_last]:
        shutil.rmtree(old)
    return final


def _rng_states() -> dict:
    return {"torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy_rng": np.random.get_state(), "python_rng": random.getstate()}


def _restore(output: Path, model, optimizer, scheduler, sampler, config: TrainConfig, world: World = SINGLE) -> int:
    checkpoints = sorted((output / "checkpoints").glob("step-*"))
    if not checkpoints:
        raise FileNotFoundError(f"--resume: no checkpoint in {output / 'checkpoints'}")
    latest = checkpoints[-1]
    state = torch.load(latest / "trainer_state.pt", map_location="cpu", weights_only=False)
    # A setting the checkpoint predates counts as its default, which keeps the old behaviour.
    saved = {**asdict(TrainConfig()), **state["config"]}
    changed = sorted(k for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES and saved[k] != v)
    if changed:
        raise ValueError(f"cannot resume {latest}: the run's settings changed in {changed}; "
                         "resume with the settings it was started with (train_config.json)")
    saved_world = state.get("world_size", 1)
    if saved_world != world.size:
        raise ValueError(f"cannot resume {latest}: it was written by {saved_world} process(es) and this run has "
                         f"{world.size}; resume with the same number of processes (nodes x processes per node)")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = state["rank_rng"][world.rank] if world.distributed else state
    torch.set_rng_state(rng["torch_rng"])
    if rng["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda_rng"])
    np.random.set_state(rng["numpy_rng"])
    random.setstate(rng["python_rng"])
    sampler.load_state_dict(json.loads((latest / "sampler_state.json").read_text()))
    if world.is_main:
        _truncate_log(output / "train_log.jsonl", state["step"])
    return state["step"]


def _read_log(path: Path) -> list[dict]:
    """The step log's entries; a last line cut short by a crash is left out."""
    entries = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # only a partial line, written when the process died, can fail to parse
    return entries


def _truncate_log(path: Path, step: int) -> None:
    """Keep the log entries up to the checkpoint's step (steps after it are trained again)."""
    kept = [entry for entry in _read_log(path) if entry["step"] <= step]
    write_text_atomic(path, "".join(json.dumps(entry) + "\n" for entry in kept))  # the log survives a kill here


def _write_json(path: Path, payload) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------- command line: the run


def main(argv: list[str] | None = None) -> int:
    """``python -m mote_lib.train``: a command-line mistake is one line and exit status 2 (see ``run_command_line``)."""
    return run_command_line(_main, argv)


def _main(argv: list[str]) -> int:
    control, config = parse_command_line(argv)
    summary = train(config, control["output"], resume=control["resume"], overwrite=control["overwrite"])
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one copy of the summary
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
