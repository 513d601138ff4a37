"""Export a MoTE model into the ecosystem: plain dense sentence-transformers folders, and a model card.

With sequence-level routing the task decides the expert before the first token is read, so for one
task a MoTE model *is* a dense BERT-family encoder: the shared embeddings and attention, with that
task's expert (feed-forward block and its two LayerNorms) in every layer. Two exports write that as
standard Hugging Face + sentence-transformers folders, which stock ``SentenceTransformer(folder)``
loads without mote_lib (and any runtime that serves BERT, ONNX or Text Embeddings Inference, serves
the one-task folder at no extra cost):

* ``export_task_model(model, task, folder)``: one task (classification, clustering, search_query or
  search_document). Its instruction is the default prompt and also the ``query`` and ``document``
  prompts, so every way of calling the folder embeds for that task:

  ===================================================  =================================
  call on ``SentenceTransformer(folder)``              equals
  ===================================================  =================================
  ``encode(texts)``                                    ``model.encode(texts, task=task)``
  ``encode_query(texts)``, ``encode_document(texts)``  the same
  ``mteb.evaluate(st, mteb_task)``                     that task's embeddings for every input
  ===================================================  =================================

* ``export_retrieval_model(model, folder)``: both sides of retrieval in one folder, the way
  sentence-transformers (v5+) models for asymmetric retrieval work: a ``Router`` sends
  ``encode_query`` to the search_query encoder with the query instruction and ``encode_document``
  to the search_document encoder with the document instruction; ``mteb.evaluate`` calls those two
  for retrieval queries and documents. A plain ``encode(texts)`` embeds as a document (the
  router's default route and the default prompt). Do not call ``encode(texts, task="query")``: the
  prompt is chosen apart from the route, so it would get the document instruction; call
  ``encode_query``. Models whose two retrieval tasks share an expert (IC, EM) need no router: one
  encoder, two prompts.

Example:
    >>> from mote_lib.export import export_task_model
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> from sentence_transformers import SentenceTransformer
    >>> model = MoTEModel.from_base(MoTEConfig(variant="mote"))
    >>> folder = export_task_model(model, "search_query", "/tmp/mote-search-query")
    >>> st = SentenceTransformer(str(folder))
    >>> st.encode(["how do I list files"]).shape   # the instruction is the default prompt
    (1, 384)
    >>> st.prompts["query"] == st.prompts["document"] == model.config.instructions["search_query"]
    True

    Both retrieval sides in one folder (two dense encoders: twice the size on disk):

    >>> from mote_lib.export import export_retrieval_model
    >>> st = SentenceTransformer(str(export_retrieval_model(model, "/tmp/mote-retrieval")))  # doctest: +SKIP
    >>> queries = st.encode_query(["how do I list files"])              # doctest: +SKIP
    >>> documents = st.encode_document(["ls lists directory contents"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mote_lib.atomic import atomic_directory
from mote_lib.model import ATTENTION_BLOCKS, MoTEConfig, MoTEModel, MPNetPositionBias, check_tasks, save_tokenizer
from mote_lib.model.modeling import _dense_expert
from mote_lib.model_card import ExportedFolder, write_model_card
from mote_lib.names import TYPE_TO_TASK

# The prompt names sentence-transformers (v5+) uses in ``encode_query`` / ``encode_document``, and
# the task names its Router routes those two calls by.
QUERY, DOCUMENT = "query", "document"
# The prompt name of a one-task export: a name mteb knows (a task type, or a prompt type), so that
# mteb keeps it; a task of the user's own keeps its name.
PROMPT_NAMES = {task: task_type for task_type, task in TYPE_TO_TASK.items()} | {"search_query": QUERY, "search_document": DOCUMENT}


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


# ----------------------------------------------------------------------------- prompts


def one_task_prompts(config: MoTEConfig, task: str) -> dict[str, str]:
    """The prompts of a one-task export: the task's instruction under ``query``, ``document`` and its prompt name.

    sentence-transformers' ``encode_query`` / ``encode_document`` use the ``query`` / ``document``
    prompt (empty unless set) instead of the default prompt, and mteb looks prompts up by prompt
    type; so the instruction sits under those names too, or those calls would silently drop it.
    The default prompt's name is ``one_task_prompt_name(task)``: mteb drops (with a warning) prompt
    names that are neither a task type, a prompt type nor a task of its own.

    Example:
        >>> one_task_prompts(MoTEConfig(variant="mote"), "clustering")
        {'query': 'clustering: ', 'document': 'clustering: ', 'Clustering': 'clustering: '}
        >>> one_task_prompts(MoTEConfig(variant="mote"), "search_query")
        {'query': 'search_query: ', 'document': 'search_query: '}
        >>> one_task_prompts(MoTEConfig(variant="em"), "clustering")   # EM prepends nothing
        {}
    """
    check_tasks([task], config)
    if not config.uses_instructions:
        return {}
    instruction = config.instructions[task]
    return {QUERY: instruction, DOCUMENT: instruction, one_task_prompt_name(task): instruction}


def one_task_prompt_name(task: str) -> str:
    """The default prompt's name in a one-task export of ``task``.

    Example:
        >>> [one_task_prompt_name(t) for t in ("classification", "search_document", "my_task")]
        ['Classification', 'document', 'my_task']
    """
    return PROMPT_NAMES.get(task, task)


def retrieval_prompts(config: MoTEConfig, query_task: str = "search_query",
                      document_task: str = "search_document") -> dict[str, str]:
    """The prompts of a retrieval export: the query instruction as ``query``, the document one as ``document``.

    Example:
        >>> retrieval_prompts(MoTEConfig(variant="ic"))
        {'query': 'search_query: ', 'document': 'search_document: '}
    """
    check_tasks([query_task, document_task], config)
    if not config.uses_instructions:
        return {}
    return {QUERY: config.instructions[query_task], DOCUMENT: config.instructions[document_task]}


# ----------------------------------------------------------------------------- exports


def export_task_model(model: MoTEModel, task: str, directory: str | os.PathLike, training: dict | None = None,
                      evaluation=None) -> Path:
    """Write ``model`` for one task as a sentence-transformers folder loadable without mote_lib.

    The folder holds the Hugging Face model (config.json + model.safetensors), the tokenizer, mean
    pooling (and normalisation, if the model normalises), the prompts of ``one_task_prompts`` with
    the task's as default (IC and MoTE; EM has none), and a model card. ``encode``,
    ``encode_query`` and ``encode_document`` of the loaded folder all equal
    ``model.encode(texts, task=task)``. It is written under a temporary name and renamed.

    Args:
        training, evaluation: for the card (``mote_lib.model_card.model_card``): e.g. the run's
            ``read_training_record(run_folder)`` and its ``evaluate_models`` table.

    Returns:
        The folder.
    """
    if task == "retrieval" and task not in model.config.tasks:
        raise ValueError("'retrieval' is two tasks: export_retrieval_model writes queries and documents into one folder")
    check_tasks([task], model.config)
    directory = Path(directory)
    # The dense model is saved to scratch space first: sentence-transformers' Transformer loads from a folder.
    with atomic_directory(directory) as st_dir, tempfile.TemporaryDirectory() as scratch:
        encoder = _dense_transformer(model, task, Path(scratch))
        st_model = _sentence_transformer(model, encoder, one_task_prompts(model.config, task),
                                        default_prompt_name=one_task_prompt_name(task))
        st_model.save(str(st_dir), create_model_card=False)  # ours is written next; theirs would encode a sample
        exported = ExportedFolder((task,), dict(st_model.prompts), st_model.default_prompt_name)
        write_model_card(model, st_dir / "README.md", training, evaluation, exported)
    return directory


def export_retrieval_model(model: MoTEModel, directory: str | os.PathLike, query_task: str = "search_query",
                           document_task: str = "search_document", training: dict | None = None,
                           evaluation=None) -> Path:
    """Write ``model``'s two retrieval tasks as one sentence-transformers folder loadable without mote_lib.

    ``encode_query`` of the loaded folder equals ``model.encode(texts, task=query_task)`` and
    ``encode_document`` (and plain ``encode``) equals ``model.encode(texts, task=document_task)``.
    When the two tasks have different experts, a sentence-transformers ``Router`` holds one dense
    encoder per side (``Router.for_query_document``: queries on the ``query`` route, everything
    else on ``document``); otherwise one encoder serves both and only the prompts differ. Needs
    sentence-transformers 5 or later (``encode_query``, ``Router``). Written under a temporary
    name and renamed. ``training`` and ``evaluation`` go to the card, as in ``export_task_model``.

    Returns:
        The folder.
    """
    check_tasks([query_task, document_task], model.config)
    prompts = retrieval_prompts(model.config, query_task, document_task)
    directory = Path(directory)
    with atomic_directory(directory) as st_dir, tempfile.TemporaryDirectory() as scratch:
        query_encoder = _dense_transformer(model, query_task, Path(scratch) / QUERY)
        router = not _shares_weights(model, query_task, document_task)
        if not router:
            encoder = query_encoder  # the same dense model: two copies would only double the folder
        else:
            document_encoder = _dense_transformer(model, document_task, Path(scratch) / DOCUMENT)
            encoder = _router().for_query_document([query_encoder], [document_encoder], default_route=DOCUMENT)
        st_model = _sentence_transformer(model, encoder, prompts, default_prompt_name=DOCUMENT)
        st_model.save(str(st_dir), create_model_card=False)
        exported = ExportedFolder((query_task, document_task), dict(st_model.prompts), st_model.default_prompt_name, router)
        write_model_card(model, st_dir / "README.md", training, evaluation, exported)
    return directory


# ----------------------------------------------------------------------------- building blocks


def _shares_weights(model: MoTEModel, query_task: str, document_task: str) -> bool:
    """Whether one dense model computes both tasks (no experts, or the same expert for both)."""
    experts = model.config.task_to_expert
    return model.config.routing != "sequence" or experts[query_task] == experts[document_task]


def _dense_transformer(model: MoTEModel, task: str, folder: Path):
    """sentence-transformers' ``Transformer`` over ``model``'s dense model for ``task``, saved into ``folder``."""
    Transformer, _, _ = _st_modules()
    dense_backbone_for_task(model, task).save_pretrained(folder)
    save_tokenizer(model.tokenizer, folder, model.config.max_seq_length)  # one truncation setting in every file
    return Transformer(str(folder), max_seq_length=model.config.max_seq_length)


def _sentence_transformer(model: MoTEModel, encoder, prompts: dict[str, str], default_prompt_name: str):
    """``encoder`` (a Transformer or a Router of them), then MoTE's pooling, with ``prompts``."""
    from sentence_transformers import SentenceTransformer

    _, Pooling, Normalize = _st_modules()
    modules = [encoder, Pooling(model.backbone_config.hidden_size, pooling_mode="mean")]
    if model.config.normalize:
        modules.append(Normalize())
    return SentenceTransformer(modules=modules, prompts=prompts, default_prompt_name=default_prompt_name if prompts else None,
                               similarity_fn_name="cosine", device="cpu")


def _st_modules():
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # 3.x - 5.x
        from sentence_transformers.models import Normalize, Pooling, Transformer
    return Transformer, Pooling, Normalize


def _router():
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Router
    except ImportError:
        try:  # 5.x
            from sentence_transformers.models import Router
        except ImportError as err:  # 3.x - 4.x: no Router, no encode_query
            raise ImportError("a retrieval export with two experts needs sentence-transformers 5 or later (Router)") from err
    return Router
