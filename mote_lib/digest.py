"""Digests that key caches: of settings (JSON), of weights (every tensor's bytes), of files.

A stored result or trained run is found again by a digest of what it depends on, so the same
inputs always give the same hex string and any change gives another.

Example:
    >>> from mote_lib.digest import json_digest
    >>> json_digest({"b": 1, "a": [2, 3]}) == json_digest({"a": [2, 3], "b": 1})   # key order does not matter
    True
    >>> len(json_digest({"a": 1}, length=12))
    12
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

# Fields of a transformers config that say where and with what it was installed, not what it computes: the
# base model's folder when it was loaded (an absolute path, saved into config.json by older versions) and the
# transformers version writing the config. Left out of every weights digest (``config_identity``).
INSTALL_FIELDS = ("_name_or_path", "transformers_version")


def config_identity(config: dict) -> dict:
    """``config`` without ``INSTALL_FIELDS``: what identifies a model's computation wherever it is installed.

        >>> config_identity({"hidden_size": 384, "_name_or_path": "/venv/site-packages/minilm"})
        {'hidden_size': 384}
    """
    return {key: value for key, value in config.items() if key not in INSTALL_FIELDS}


def json_digest(payload, length: int = 16) -> str:
    """The first ``length`` hex digits of sha256 over ``payload`` as canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:length]


def weights_digest(state_dict: dict, header: str = "", length: int = 16) -> str:
    """sha256 over ``header`` then every tensor of ``state_dict`` by name: name, dtype, shape and bytes."""
    digest = hashlib.sha256(header.encode())
    for name, tensor in sorted(state_dict.items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(_byte_dtype()).numpy().tobytes())
    return digest.hexdigest()[:length]


def files_digest(folder: str | Path, length: int = 16) -> str:
    """sha256 over the names and bytes of the files directly in ``folder``, in name order."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:length]


def _byte_dtype():
    import torch

    return torch.uint8
