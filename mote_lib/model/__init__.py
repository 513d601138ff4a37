"""The MoTE encoder (``MoTEConfig``, ``MoTEModel``) and what it needs to embed texts and to be saved.

    modeling.py   the network: the config, experts and routing, the shared attention, ``MoTEModel``
    encoding.py   around ``encode``: checking texts and tasks, batching, mean pooling, checking the output
    folder.py     saved folders: writing them atomically, reading them back with checks (``ModelFolderError``)

Every name below is importable from ``mote_lib.model`` as it was when this was one file.

Example:
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> MoTEConfig(variant="mote").experts
    ['classification', 'clustering', 'search_document', 'search_query']
"""

from mote_lib.model.encoding import (
    ON_TRUNCATION,
    _per_text_tasks,  # noqa: F401  mote_lib.distributed imports it from here
    batches,
    check_finite_embeddings,
    check_tasks,
    check_texts,
    mean_pool,
    padding_order,
)
from mote_lib.model.folder import ModelFolderError, file_sha256, save_tokenizer
from mote_lib.model.modeling import (
    ATTENTION_BLOCKS,
    DEFAULT_INSTRUCTIONS,
    VARIANTS,
    BertAttentionBlock,
    Expert,
    ExpertBank,
    MoTEConfig,
    MoTEModel,
    MPNetAttentionBlock,
    MPNetPositionBias,
    Route,
)

__all__ = [
    "ATTENTION_BLOCKS",
    "DEFAULT_INSTRUCTIONS",
    "ON_TRUNCATION",
    "VARIANTS",
    "BertAttentionBlock",
    "Expert",
    "ExpertBank",
    "ModelFolderError",
    "MoTEConfig",
    "MoTEModel",
    "MPNetAttentionBlock",
    "MPNetPositionBias",
    "Route",
    "batches",
    "check_finite_embeddings",
    "check_tasks",
    "check_texts",
    "file_sha256",
    "mean_pool",
    "padding_order",
    "save_tokenizer",
]
