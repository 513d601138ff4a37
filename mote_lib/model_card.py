"""Model cards: the ``README.md`` written beside every saved or exported model.

Example:
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> from mote_lib.model_card import model_card
    >>> card = model_card(MoTEModel.from_base(MoTEConfig(variant="ic")))   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from mote_lib.atomic import write_text_atomic


def model_card(model, training: dict | None = None, evaluation=None, exported_task: str | None = None) -> str:
    """A README.md for a saved model: base model, variant, experts, instructions, training, evaluation.

    Args:
        model: a ``mote_lib.model.MoTEModel`` (not imported here: the model module imports this one).
        training: the run's ``train_config.json`` (and ``summary.json``) contents, if known.
        evaluation: a table from ``mote_lib.evaluate`` (columns task, task_type, main_metric, score), if any.
        exported_task: for a single-task export, the task it was exported for.
    """
    config = model.config
    counts = model.parameter_counts()
    layers = config.mote_layers(len(model.blocks))
    lines = [
        "---", "library_name: " + ("sentence-transformers" if exported_task else "mote-lib"),
        "tags: [sentence-transformers, feature-extraction, mote, mixture-of-task-experts]", "---", "",
        f"# {config.variant.upper()} embedding model" + (f", exported for the task `{exported_task}`" if exported_task else ""),
        "",
        "Trained with mote-lab (MoTE: Mixture of Task Experts, Romero et al., ACL Findings 2025).",
        "",
        "| | |", "|---|---|",
        f"| base model | `{config.base_model}` ({model.backbone_config.model_type}, {len(model.blocks)} layers, "
        f"{model.backbone_config.hidden_size}-d) |",
        f"| variant | `{config.variant}` (routing: {config.routing}) |",
        f"| experts | {', '.join(config.experts) if layers else 'none (dense)'} |",
        f"| layers with experts | {layers if layers else 'none'} |",
        f"| parameters | {counts['total']:,} in total, {counts['active']:,} active per input |",
        f"| max sequence length | {config.max_seq_length} tokens, instruction included |",
        f"| pooling | mean{', L2-normalised' if config.normalize else ''} |",
    ]
    if exported_task:
        lines += ["", f"This folder is the dense equivalent of the MoTE model for `{exported_task}`: the shared "
                  "attention plus that task's expert in every layer. Load it with stock sentence-transformers; "
                  "the instruction below is its default prompt.", ""]
    lines += ["", "## Instructions", "", "| task | instruction | expert |", "|---|---|---|"]
    lines += [f"| `{task}` | `{config.instructions[task]!r}` | {config.task_to_expert[task]} |" for task in config.tasks]
    if not config.uses_instructions:
        lines += ["", "The EM variant prepends no instruction."]
    lines += ["", "## Training", ""]
    if training:
        keys = ("profile", "training_data", "steps", "batch_size", "lr", "max_seq_length", "ta_cl", "temperatures", "seed")
        lines += ["| setting | value |", "|---|---|"] + [f"| {k} | {training[k]} |" for k in keys if k in training]
    else:
        lines += ["Not recorded (a model built from the base without a training run)."]
    if evaluation is not None and len(evaluation):
        lines += ["", "## Evaluation", "", "Scores x100, computed by mteb's evaluators on the tasks named.", "",
                  "| task | type | metric | score |", "|---|---|---|---:|"]
        lines += [f"| {r.task} | {r.task_type} | {r.main_metric} | {r.score:.2f} |" for r in evaluation.itertuples()]
    lines += ["", "## Usage", "", "```python"]
    if exported_task:
        lines += ["from sentence_transformers import SentenceTransformer",
                  "model = SentenceTransformer('path/to/this/folder')",
                  "embeddings = model.encode(['some text'])  # the instruction is added for you"]
    else:
        lines += ["from mote_lib.model import MoTEModel", "model = MoTEModel.from_pretrained('path/to/this/folder')",
                  f"embeddings = model.encode(['some text'], task='{config.tasks[0]}')"]
    lines += ["```", ""]
    return "\n".join(lines)


def write_model_card(model, path: str | os.PathLike, training: dict | None = None, evaluation=None,
                     exported_task: str | None = None) -> Path:
    """Write ``model_card(...)`` to ``path`` atomically."""
    return write_text_atomic(path, model_card(model, training, evaluation, exported_task))

