"""MoTE models as mteb encoders: ``MTEBEncoder``, its mteb ``ModelMeta``, and the weights hash that names a model.

``MTEBEncoder`` routes every input mteb asks for to its MoTE task (``mote_lib.evaluate.routing``).
Its base class is mteb's ``AbsEncoder``, so the class is made on first use (``import_mteb`` sets
the project's offline environment first): importing this module does not import mteb.

``weights_hash`` is the model's identity for the results store and mteb's ``revision``: a digest of
its configuration and every weight. Settings of the installation are left out of the configuration
(``INSTALL_FIELDS``: the base model's folder, the transformers version), so the same weights hash
the same in every checkout and environment; ``legacy_weights_hash`` is the digest before that
change, for ``mote_lib.evaluate.rekey``.

Example:
    >>> from mote_lib.evaluate.encoder import MTEBEncoder
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> encoder = MTEBEncoder(MoTEModel.from_base(MoTEConfig(variant="mote", base_model="tiny-random-bert")), name="tiny")
    >>> encoder.mteb_model_meta.name, len(encoder.mteb_model_meta.revision)
    ('mote-lab/tiny', 16)
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mote_lib.digest import INSTALL_FIELDS, config_identity, weights_digest  # noqa: F401 (INSTALL_FIELDS: re-exported)
from mote_lib.evaluate.routing import DEFAULT_OTHER_TASK, route_task
from mote_lib.offline import import_mteb, mteb_subclass
from mote_lib.paths import data_dir

if TYPE_CHECKING:
    from mote_lib.model import MoTEModel


# ----------------------------------------------------------------------------- the weights hash

# INSTALL_FIELDS (mote_lib.digest): left out of ``weights_hash`` (``mote_lib.model`` leaves ``_name_or_path`` out of
# config.json too).

# MoTEConfig fields added after results were first stored, with the value that keeps the old
# behaviour: left out of the digest at that value, so existing stored results stay valid.
_LATER_CONFIG_DEFAULTS = {"base_layers": None}


def weights_hash(model: MoTEModel) -> str:
    """A 16-hex-digit digest of the model's configuration (``INSTALL_FIELDS`` left out) and every weight (name, dtype, shape, bytes)."""
    return weights_digest(model.state_dict(), header=json.dumps(_config_dict(model), sort_keys=True))


def legacy_weights_hash(model: MoTEModel, name_or_path: str | None = None) -> str:
    """``weights_hash`` as it was before ``INSTALL_FIELDS`` were left out: the key of results stored then.

    The backbone config's ``_name_or_path`` is ``name_or_path`` if given, else the model's own: the folder
    ``from_base`` loaded the base model from (``from_pretrained`` leaves it out: pass the one its
    config.json records, as ``mote_lib.evaluate.rekey`` does); ``transformers_version`` is the installed one.
    """
    config = _config_dict(model, install_fields=True)
    if name_or_path is not None:
        config["backbone"]["_name_or_path"] = str(name_or_path)
    return weights_digest(model.state_dict(), header=json.dumps(config, sort_keys=True))


def _config_dict(model: MoTEModel, install_fields: bool = False) -> dict:
    mote = {k: v for k, v in asdict(model.config).items() if not (k in _LATER_CONFIG_DEFAULTS and v == _LATER_CONFIG_DEFAULTS[k])}
    backbone = model.backbone_config.to_dict()
    if not install_fields:
        backbone = config_identity(backbone)
    return {"mote": mote, "backbone": backbone}


# ----------------------------------------------------------------------------- the encoder


class _RoutingEncoder:
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
        training_datasets: the mteb tasks whose data the model was trained on, for its mteb ``ModelMeta``;
            ``None`` for unknown; default: ``default_training_datasets(model)``.

    Attributes:
        routes: one entry per ``encode`` call: mteb task name, task type, prompt type, routed task, texts.
    """

    def __init__(self, model: MoTEModel, name: str = "model", other_task: str = DEFAULT_OTHER_TASK, batch_size: int = 32,
                 device: str | None = None, show_progress_bar: bool = False,
                 training_datasets: set[str] | None | str = "default") -> None:
        if other_task not in model.config.tasks:
            raise ValueError(f"unknown other_task {other_task!r}; valid tasks: {model.config.tasks}")
        self.model, self.other_task, self.batch_size = model, other_task, batch_size
        self.device, self.show_progress_bar = device, show_progress_bar
        self.routes: list[dict] = []
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        # For the table's counts: the (task, text) keys each (mteb task, split) embedded, and those truncation cut.
        # Kept apart from the cache, so that a text embedded for an earlier task still counts for a later one.
        self._embedded: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self._cut: set[tuple[str, str]] = set()
        if training_datasets == "default":
            training_datasets = default_training_datasets(model)
        self.mteb_model_meta = model_meta(model, name, training_datasets)

    def encode(self, inputs, *, task_metadata, hf_split: str, hf_subset: str, prompt_type=None, **kwargs) -> np.ndarray:
        texts = [text for batch in inputs for text in batch["text"]]
        task = route_task(task_metadata.type, getattr(prompt_type, "value", prompt_type), self.other_task)
        self.routes.append({"mteb_task": task_metadata.name, "type": task_metadata.type,
                            "prompt_type": getattr(prompt_type, "value", prompt_type), "task": task, "texts": len(texts)})
        missing = list(dict.fromkeys(t for t in texts if (task, t) not in self._cache))
        if missing:
            # Benchmarks may hold empty documents (they embed as the instruction alone); texts longer than
            # max_seq_length are cut, as the suite's settings say, and counted per task in the table.
            def count_cut(rows: list[int]) -> None:
                self._cut.update((task, missing[i]) for i in rows)

            vectors = self.model.encode(missing, task=task, batch_size=self.batch_size, device=self.device,
                                        show_progress_bar=self.show_progress_bar, allow_empty=True,
                                        on_truncation=count_cut)
            self._cache.update({(task, t): v for t, v in zip(missing, vectors)})
        self._embedded.setdefault((task_metadata.name, hf_split), set()).update((task, t) for t in texts)
        dim = self.model.backbone_config.hidden_size
        return np.stack([self._cache[(task, t)] for t in texts]) if texts else np.zeros((0, dim), np.float32)

    def text_counts(self, mteb_task: str, split: str) -> dict[str, int]:
        """What mteb embedded to score a task's split: unique texts, how many truncation cut, how many were empty.

        ``texts`` counts every text mteb asked for (for classification, the training examples of its
        classifier too), once per MoTE task (a text embedded as a query and as a document counts
        twice: its instructions differ); ``truncated`` those longer than ``max_seq_length`` tokens,
        instruction included; ``empty`` those empty or whitespace only (embedded as the instruction alone).
        """
        keys = self._embedded.get((mteb_task, split), set())
        return {"texts": len(keys), "truncated": len(keys & self._cut), "empty": sum(not text.strip() for _, text in keys)}


def __getattr__(name: str):
    # MTEBEncoder: ``_RoutingEncoder`` on mteb's ``AbsEncoder``, made (and mteb imported) on first use (PEP 562).
    if name == "MTEBEncoder":
        return mteb_subclass(_RoutingEncoder, "mteb.models.abs_encoder.AbsEncoder", "MTEBEncoder")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------- what mteb records about a model


def model_meta(model: MoTEModel, name: str, training_datasets: set[str] | None):
    """mteb's ``ModelMeta`` of ``model``: what mteb's results and caches record about the model evaluated.

    ``revision`` is the weights hash (a retrained model is another revision); parameters total and
    active for one input (one expert per layer); ``max_tokens`` the instruction included; ``license``
    and ``adapted_from`` those of the base model (``mote_lib.base_models``).
    """
    from mote_lib.base_models import base_model_hub_id, base_model_license

    ModelMeta = import_mteb("mteb.models.model_meta").ModelMeta
    counts = model.parameter_counts()
    return ModelMeta(
        loader=None, name=name if "/" in name else f"mote-lab/{name}", revision=weights_hash(model),
        release_date=None, languages=["eng-Latn"], n_parameters=counts["total"],
        n_active_parameters_override=counts["active"], memory_usage_mb=None,
        max_tokens=model.config.max_seq_length, embed_dim=model.backbone_config.hidden_size,
        license=_mteb_license(base_model_license(model.config.base_model)), open_weights=True, public_training_code=None,
        public_training_data=None, framework=["PyTorch"], similarity_fn_name="cosine",
        use_instructions=model.config.uses_instructions, training_datasets=training_datasets,
        adapted_from=base_model_hub_id(model.config.base_model),
    )


def _mteb_license(license: str | None) -> str | None:
    """``license`` if mteb knows it, else ``None``: ModelMeta refuses a name outside its list (a folder's card may hold any)."""
    from typing import get_args

    return license if license in get_args(import_mteb("mteb.types").Licenses) else None


def default_training_datasets(model: MoTEModel) -> set[str] | None:
    """The mteb tasks whose data may be in ``model``'s weights; ``None`` when unknown.

    mteb's ``training_datasets`` names mteb tasks (it marks which results are not zero-shot), so
    this is: the base model's own (mteb's record of it: MSMARCO, NQ, ... for all-MiniLM-L6-v2 and
    all-mpnet-base-v2; none for tiny-random-bert; unknown for another base), plus the offline tasks
    drawn from a source the shipped training corpora also use (``shipped_training_overlap``). The
    shipped corpora themselves are no mteb task. An upper bound: a model not fine-tuned on the
    shipped data did not see the latter (pass ``MTEBEncoder(training_datasets=...)`` to say so).
    """
    from mote_lib.base_models import TINY_RANDOM_BERT, base_model_hub_id

    if model.config.base_model == TINY_RANDOM_BERT:
        base: set[str] | None = set()
    else:
        hub_id = base_model_hub_id(model.config.base_model)
        try:  # mteb's own registry, shipped with the package: no hub look-up
            base = set(import_mteb().get_model_meta(hub_id).training_datasets or ()) if hub_id else None
        except (KeyError, ValueError):
            base = None
    return None if base is None else base | shipped_training_overlap()


def shipped_training_overlap(root: str | Path | None = None) -> set[str]:
    """The offline tasks built from a source (a package) that a shipped training corpus also uses.

    Their texts are held out from training by whole units (package, word, headword, book: see
    data/README.md), but the source is the same: they are in-domain rather than zero-shot.
    Read from ``sources.json`` (the training corpora's sources) and ``eval/*/task.json``.
    """
    try:
        root = Path(root) if root else data_dir()
        corpora = json.loads((root / "sources.json").read_text())["train"].values()
        trained = {part for corpus in corpora for part in corpus["source"].split("; ")}
        tasks = {path.parent.name: json.loads(path.read_text()) for path in (root / "eval").glob("*/task.json")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()  # no shipped data here (an install without data/): nothing to add
    return {name for name, task in tasks.items() if trained & set(str(task.get("source", "")).split("; "))}
