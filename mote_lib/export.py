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
import tempfile
from pathlib import Path

from mote_lib.atomic import atomic_directory
from mote_lib.model import ATTENTION_BLOCKS, MoTEModel, MPNetPositionBias, _dense_expert, check_tasks
from mote_lib.model_card import write_model_card


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
    directory = Path(directory)
    # The dense model is saved to scratch space first: sentence-transformers' Transformer loads from a folder.
    with atomic_directory(directory) as st_dir, tempfile.TemporaryDirectory() as scratch:
        _write_task_model(model, task, st_dir, Path(scratch))
    return directory


def _write_task_model(model: MoTEModel, task: str, st_dir: Path, hf_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    Transformer, Pooling, Normalize = _st_modules()
    dense_backbone_for_task(model, task).save_pretrained(hf_dir)
    model.tokenizer.save_pretrained(hf_dir)
    modules = [Transformer(str(hf_dir), max_seq_length=model.config.max_seq_length),
               Pooling(model.backbone_config.hidden_size, pooling_mode="mean")]
    if model.config.normalize:
        modules.append(Normalize())
    prompts = {task: model.config.instructions[task]} if model.config.uses_instructions else {}
    st_model = SentenceTransformer(modules=modules, prompts=prompts, default_prompt_name=task if prompts else None,
                                   similarity_fn_name="cosine", device="cpu")
    st_model.save(str(st_dir))
    write_model_card(model, st_dir / "README.md", exported_task=task)


def _st_modules():
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # 3.x - 5.x
        from sentence_transformers.models import Normalize, Pooling, Transformer
    return Transformer, Pooling, Normalize
