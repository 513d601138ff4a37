"""A whole MoTE model inside sentence-transformers, routed by ``encode(texts, task=...)``.

sentence-transformers passes the ``task`` argument of ``SentenceTransformer.encode`` to the input
module's ``preprocess`` and to every module that lists it in ``forward_kwargs`` (the public
mechanism its own ``Router`` uses). ``MoTEModule`` is such an input module: ``preprocess``
prepends the task's instruction and tokenises, ``forward`` runs the MoTE encoder with that task's
experts and returns the pooled ``sentence_embedding``.

``encode_query`` and ``encode_document`` (sentence-transformers v5+) call ``encode`` with
``task="query"`` / ``task="document"``: those two names are aliases of ``search_query`` and
``search_document`` (``TASK_ALIASES``), so they embed as ``MoTEModel.encode`` does for those
tasks. A call without a task raises, listing the valid tasks, unless the model needs none (EM).
mteb passes a task only that way, for retrieval and reranking; its other task types call plain
``encode`` and would raise: evaluate a whole model with ``mote_lib.evaluate``, which routes them all.

Loading needs mote_lib installed and ``trust_remote_code=True``: the folder's ``modules.json`` names
this class, and sentence-transformers imports a class outside its own package only when trusted.
For a folder that needs nothing but sentence-transformers, export with ``mote_lib.export``
(``export_task_model`` for one task, ``export_retrieval_model`` for queries and documents).

Example:
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> from mote_lib.st_module import save_as_sentence_transformer
    >>> from sentence_transformers import SentenceTransformer
    >>> folder = save_as_sentence_transformer(MoTEModel.from_base(MoTEConfig(variant="mote")), "/tmp/mote-st")
    >>> st = SentenceTransformer(str(folder), trust_remote_code=True)   # the folder names a mote_lib class
    >>> st.encode(["how do I list files"], task="search_query").shape
    (1, 384)
    >>> st.encode_query(["how do I list files"]).shape                   # task="query": search_query
    (1, 384)
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from mote_lib.model import MoTEConfig, MoTEModel

try:  # sentence-transformers >= 6
    from sentence_transformers.base.modules import InputModule
except ImportError:  # 3.x - 5.x
    from sentence_transformers.models import InputModule


# The task names sentence-transformers' encode_query / encode_document pass (v5+), and the MoTE task each means.
TASK_ALIASES = {"query": "search_query", "document": "search_document"}


def resolve_task(task: str | None, config: MoTEConfig) -> str | None:
    """The MoTE task ``task`` names: itself, or the task of an alias (``query``, ``document``).

    Raises:
        ValueError: an unknown task, or none for a model that needs one; the message lists the valid tasks.

    Example:
        >>> config = MoTEConfig(variant="mote")
        >>> resolve_task("query", config), resolve_task("clustering", config)
        ('search_query', 'clustering')
        >>> resolve_task(None, MoTEConfig(variant="em")) is None   # EM needs no task
        True
    """
    if task is None:
        if config.uses_instructions:  # IC, MoTE and MoTE-TLR: the task picks the instruction (and the expert)
            raise ValueError(f"this {config.variant!r} model needs a task: encode(texts, task=...) with one of "
                             f"{_valid_tasks(config)}, or encode_query / encode_document")
        return None
    if task in config.tasks:  # a model's own task of that name wins over the alias
        return task
    if TASK_ALIASES.get(task) in config.tasks:
        return TASK_ALIASES[task]
    raise ValueError(f"unknown task {task!r}; valid tasks: {_valid_tasks(config)}")


def _valid_tasks(config: MoTEConfig) -> list[str]:
    return config.tasks + [alias for alias, task in TASK_ALIASES.items() if task in config.tasks and alias not in config.tasks]


class MoTEModule(InputModule):
    """sentence-transformers input module wrapping a ``MoTEModel``; the ``task`` picks instruction and experts.

    Inputs are checked as ``MoTEModel.encode`` checks them, before any is tokenised (``check_batch``):
    a non-string raises ``TypeError``, an empty or whitespace-only text ``ValueError`` (its embedding
    would be the instruction's alone) unless ``allow_empty``: set on the module
    (``st[0].allow_empty = True``, e.g. for benchmark corpora that hold empty documents) or per call
    (``st.encode(texts, task=..., allow_empty=True)``).
    """

    forward_kwargs = {"task", "allow_empty"}
    save_in_root = True

    def __init__(self, model: MoTEModel, allow_empty: bool = False) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = model.tokenizer
        self.allow_empty = allow_empty

    @property
    def max_seq_length(self) -> int:
        return self.model.config.max_seq_length

    def preprocess(self, inputs, prompt: str | None = None, task: str | None = None, allow_empty: bool | None = None,
                   **kwargs) -> dict:
        """Tokenise texts for ``task`` (its instruction prepended, as ``MoTEModel.tokenize``), after checking them."""
        # encode_query / encode_document pass the folder's empty "query" / "document" prompts: not an error.
        if prompt:
            raise ValueError("MoTE models take their instruction from task=...; do not pass a prompt as well")
        task = resolve_task(task, self.model.config)
        texts = list(inputs)
        check_batch(texts, self.allow_empty if allow_empty is None else allow_empty)
        tasks = [task] * len(texts) if task is not None else None
        features = dict(self.model.tokenize(texts, tasks))
        if self.model.config.routing == "sequence":
            features["expert_ids"] = self.model.expert_ids(tasks)
        return features

    def tokenize(self, texts, **kwargs) -> dict:
        return self.preprocess(texts, **kwargs)

    def forward(self, features: dict, task: str | None = None, allow_empty: bool | None = None, **kwargs) -> dict:
        # The task is already in the features (instruction, expert_ids): preprocess resolved it.
        out = self.model(features["input_ids"], features["attention_mask"], features.get("expert_ids"))
        features["sentence_embedding"] = out["embedding"]
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return self.model.backbone_config.hidden_size

    def get_embedding_dimension(self) -> int:  # the name sentence-transformers >= 6 asks for
        return self.get_sentence_embedding_dimension()

    def save(self, output_path: str, *args, **kwargs) -> None:
        # The mote_lib format (config.json + model.safetensors + tokenizer) in the folder's root.
        self.model.write_files(Path(output_path))

    @classmethod
    def load(cls, model_name_or_path: str, **kwargs) -> MoTEModule:
        return cls(MoTEModel.from_pretrained(model_name_or_path))


def check_batch(texts: list, allow_empty: bool = False) -> None:
    """Raise for an input that is not a string, or empty or whitespace only (unless ``allow_empty``).

    As ``mote_lib.model.check_texts``, but for a batch that sentence-transformers handed over: it
    sorts the caller's inputs by length before batching, so a position here is not the caller's
    index. The error names the type and the value instead (``MoTEModel.encode`` names the index).
    """
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"an input is {type(text).__name__} ({_short(text)}), expected str: pass strings only "
                            "(MoTEModel.encode(texts, task=...) names its index)")
        if not allow_empty and not text.strip():
            raise ValueError(f"an input is {'empty' if not text else 'whitespace only'} ({text!r}): its embedding would "
                             "be the instruction's alone; drop it, or pass allow_empty=True to encode")


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def save_as_sentence_transformer(model: MoTEModel, directory: str | os.PathLike) -> Path:
    """Write ``model`` as a sentence-transformers folder whose ``encode`` takes ``task=...``.

    Written under a temporary name and renamed; ``MoTEModel.from_pretrained`` loads the same folder.
    """
    from sentence_transformers import SentenceTransformer

    from mote_lib.atomic import atomic_directory
    from mote_lib.model_card import write_model_card

    directory = Path(directory)
    st_model = SentenceTransformer(modules=[MoTEModule(model)], similarity_fn_name="cosine", device=_device(model))
    with atomic_directory(directory) as tmp:
        st_model.save(str(tmp), create_model_card=False)  # ours is written next; theirs would encode without a task
        write_model_card(model, tmp / "README.md")
    return directory


def _device(model: MoTEModel) -> str:
    return str(next(model.parameters()).device) if any(True for _ in model.parameters()) else str(torch.device("cpu"))
