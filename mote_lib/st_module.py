"""A whole MoTE model inside sentence-transformers, routed by ``encode(texts, task=...)``.

sentence-transformers passes the ``task`` argument of ``SentenceTransformer.encode`` to the input
module's ``preprocess`` and to every module that lists it in ``forward_kwargs`` (the public
mechanism its own ``Router`` uses). ``MoTEModule`` is such an input module: ``preprocess``
prepends the task's instruction and tokenises, ``forward`` runs the MoTE encoder with that task's
experts and returns the pooled ``sentence_embedding``. Loading needs mote_lib installed, because
the folder's ``modules.json`` names this class; for a folder that needs nothing but
sentence-transformers, export one task with ``mote_lib.export.export_task_model``.

Example:
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> from mote_lib.st_module import save_as_sentence_transformer
    >>> from sentence_transformers import SentenceTransformer
    >>> folder = save_as_sentence_transformer(MoTEModel.from_base(MoTEConfig(variant="mote")), "/tmp/mote-st")
    >>> st = SentenceTransformer(str(folder), trust_remote_code=True)   # the folder names a mote_lib class
    >>> st.encode(["how do I list files"], task="search_query").shape
    (1, 384)
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from mote_lib.model import MoTEModel

try:  # sentence-transformers >= 6
    from sentence_transformers.base.modules import InputModule
except ImportError:  # 3.x - 5.x
    from sentence_transformers.models import InputModule


class MoTEModule(InputModule):
    """sentence-transformers input module wrapping a ``MoTEModel``; the ``task`` picks instruction and experts."""

    forward_kwargs = {"task"}
    save_in_root = True

    def __init__(self, model: MoTEModel) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = model.tokenizer

    @property
    def max_seq_length(self) -> int:
        return self.model.config.max_seq_length

    def preprocess(self, inputs, prompt: str | None = None, task: str | None = None, **kwargs) -> dict:
        """Tokenise texts for ``task`` (its instruction prepended, as ``MoTEModel.tokenize``)."""
        if prompt:
            raise ValueError("MoTE models take their instruction from task=...; do not pass a prompt as well")
        texts = list(inputs)
        tasks = [task] * len(texts) if task is not None else None
        features = dict(self.model.tokenize(texts, tasks))
        if self.model.config.routing == "sequence":
            if task is None:
                raise ValueError(f"a MoTE model needs task=...; valid tasks: {self.model.config.tasks}")
            features["expert_ids"] = self.model.expert_ids(tasks)
        return features

    def tokenize(self, texts, **kwargs) -> dict:
        return self.preprocess(texts, **kwargs)

    def forward(self, features: dict, task: str | None = None, **kwargs) -> dict:
        out = self.model(features["input_ids"], features["attention_mask"], features.get("expert_ids"))
        features["sentence_embedding"] = out["embedding"]
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return self.model.backbone_config.hidden_size

    def save(self, output_path: str, *args, **kwargs) -> None:
        # The mote_lib format (config.json + model.safetensors + tokenizer) in the folder's root.
        self.model.write_files(Path(output_path))

    @classmethod
    def load(cls, model_name_or_path: str, **kwargs) -> MoTEModule:
        return cls(MoTEModel.from_pretrained(model_name_or_path))


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
        st_model.save(str(tmp))
        write_model_card(model, tmp / "README.md")
    return directory


def _device(model: MoTEModel) -> str:
    return str(next(model.parameters()).device) if any(True for _ in model.parameters()) else str(torch.device("cpu"))
