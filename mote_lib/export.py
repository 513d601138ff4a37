"""Export a MoTE model into the ecosystem: one task as a plain dense encoder, and a model card.

With sequence-level routing the task decides the expert before the first token is read, so for one
task a MoTE model *is* a dense BERT-family encoder: the shared embeddings and attention, with that
task's expert (feed-forward block and its two LayerNorms) in every layer. ``export_task_model``
writes exactly that as a standard Hugging Face + sentence-transformers folder, with the task's
instruction as the default prompt. Stock ``SentenceTransformer(folder)`` loads it without mote_lib,
and so can any runtime that serves BERT (ONNX, Text Embeddings Inference), at no extra cost.

Example:
    >>> from mote_lib.export import export_task_model
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> from sentence_transformers import SentenceTransformer
    >>> model = MoTEModel.from_base(MoTEConfig(variant="mote"))
    >>> folder = export_task_model(model, "search_query", "/tmp/mote-search-query")
    >>> SentenceTransformer(str(folder)).encode(["how do I list files"]).shape   # the instruction is the default prompt
    (1, 384)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mote_lib.paths import write_text_atomic
from mote_lib.model import ATTENTION_BLOCKS, MoTEModel, MPNetPositionBias, _dense_expert, check_tasks


def dense_backbone_for_task(model: MoTEModel, task: str):
    """A transformers encoder (``BertModel`` / ``MPNetModel``) that computes ``model`` for ``task``.

    Raises:
        ValueError: an unknown task, or a token-routed model (its expert changes from token to
            token, so no single dense model equals it).
    """
    from transformers import AutoModel

    if model.config.routing == "token":
        raise ValueError("a token-routed (mote-tlr) model picks an expert per token: it has no dense equivalent per task")
    check_tasks([task], model.config)
    expert = model.expert_index[model.config.task_to_expert[task]]
    dense = AutoModel.from_config(model.backbone_config, add_pooling_layer=False)
    dense.embeddings.load_state_dict(model.embeddings.state_dict())
    # The model's own adapters over the fresh layers: loading their state copies the weights in place.
    for layer, attention, bank in zip(dense.encoder.layer, model.attention, model.blocks):
        ATTENTION_BLOCKS[model.family](layer).load_state_dict(attention.state_dict())
        chosen = bank.experts[expert if len(bank.experts) > 1 else 0]
        _dense_expert(layer, model.family).load_state_dict(chosen.state_dict())
    if model.position_bias is not None:
        MPNetPositionBias(dense.encoder).load_state_dict(model.position_bias.state_dict())
    return dense.eval()


def export_task_model(model: MoTEModel, task: str, directory: str | os.PathLike) -> Path:
    """Write ``model`` for one task as a sentence-transformers folder loadable without mote_lib.

    The folder holds the Hugging Face model (config.json + model.safetensors), the tokenizer, mean
    pooling (and normalisation, if the model normalises), and the task's instruction as the default
    prompt (for IC and MoTE; EM has none). It is written under a temporary name and renamed.

    Returns:
        The folder.
    """
    from sentence_transformers import SentenceTransformer

    Transformer, Pooling, Normalize = _st_modules()
    directory = Path(directory)
    tmp = directory.with_name(directory.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    hf_dir = tmp / "hf"
    dense_backbone_for_task(model, task).save_pretrained(hf_dir)
    model.tokenizer.save_pretrained(hf_dir)
    modules = [Transformer(str(hf_dir), max_seq_length=model.config.max_seq_length),
               Pooling(model.backbone_config.hidden_size, pooling_mode="mean")]
    if model.config.normalize:
        modules.append(Normalize())
    prompts = {task: model.config.instructions[task]} if model.config.uses_instructions else {}
    st_model = SentenceTransformer(modules=modules, prompts=prompts, default_prompt_name=task if prompts else None,
                                   similarity_fn_name="cosine", device="cpu")
    st_dir = tmp / "model"
    st_model.save(str(st_dir))
    write_model_card(model, st_dir / "README.md", exported_task=task)
    _swap_into_place(st_dir, directory)
    shutil.rmtree(tmp, ignore_errors=True)
    return directory


def _st_modules():
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # 3.x - 5.x
        from sentence_transformers.models import Normalize, Pooling, Transformer
    return Transformer, Pooling, Normalize


def _swap_into_place(source: Path, directory: Path) -> None:
    backup = directory.with_name(directory.name + f".old-{os.getpid()}")
    if directory.exists():
        directory.rename(backup)
    source.rename(directory)
    shutil.rmtree(backup, ignore_errors=True)


# ----------------------------------------------------------------------------- model card


def model_card(model: MoTEModel, training: dict | None = None, evaluation=None, exported_task: str | None = None) -> str:
    """A README.md for a saved model: base model, variant, experts, instructions, training, evaluation.

    Args:
        model: the model.
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


def write_model_card(model: MoTEModel, path: str | os.PathLike, training: dict | None = None, evaluation=None,
                     exported_task: str | None = None) -> Path:
    """Write ``model_card(...)`` to ``path`` atomically."""
    return write_text_atomic(path, model_card(model, training, evaluation, exported_task))

