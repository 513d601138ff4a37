"""Saved model folders: writing one (atomically) and reading one back, checking every file on the way.

A folder holds ``config.json`` (the ``MoTEConfig``, the backbone's transformers config, the
mote_lib version and the sha256 of the weights), ``model.safetensors``, the tokenizer files and a
model card. ``MoTEModel.save_pretrained`` / ``from_pretrained`` (sentence-transformers' names)
call ``save_model_folder`` / ``read_model_folder`` and ``check_layout`` here; this module takes
the model and its config class as arguments and imports nothing of ``mote_lib.model.modeling``.
Every problem with a folder is one ``ModelFolderError`` line: the file, what is wrong, what to do.

Example:
    >>> import tempfile
    >>> from mote_lib.model import MoTEModel
    >>> from mote_lib.model.folder import ModelFolderError
    >>> try:
    ...     MoTEModel.from_pretrained(tempfile.mkdtemp())
    ... except ModelFolderError as err:
    ...     print(str(err).split(" ", 1)[1])  # after the folder's name
    holds no mote_lib model (no config.json): it holds nothing (an empty folder)
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from mote_lib.atomic import REPLACED_MARK, atomic_directory

if TYPE_CHECKING:
    from mote_lib.model.modeling import MoTEConfig, MoTEModel

logger = logging.getLogger(__name__)

# Backbone settings that say where the base model was loaded from, not what the model is (the base
# model's install path): left out of config.json, so a saved model's config is the same wherever its base
# model is installed (``MoTEConfig.base_model`` names the base model). Folders saved before hold it and
# load with it as they always did (``mote_lib.evaluate``'s legacy weights hash reads it).
NOT_SAVED = ("_name_or_path",)


class ModelFolderError(ValueError):
    """A folder that cannot be loaded as a mote_lib model: damaged, incomplete, or something else."""


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in chunks (a model may be larger than spare memory)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def save_tokenizer(tokenizer, folder: str | os.PathLike, max_length: int) -> None:
    """Save ``tokenizer`` into ``folder`` with one truncation length, ``max_length``, in every file.

    Left alone, the files carry the tokenizer's history: the base model's say 512 tokens
    (tokenizer_config.json) and 128 (tokenizer.json, padded to a fixed 128 too), and every call with
    ``max_length=N`` leaves N in tokenizer.json, so two saves of one model disagreed. A copy is
    changed: the model's tokenizer keeps its settings.
    """
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.model_max_length = max_length
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        backend.enable_truncation(max_length)
        backend.no_padding()
    tokenizer.save_pretrained(folder)


# ----------------------------------------------------------------------------- writing


def save_model_folder(model: MoTEModel, directory: Path, overwrite: bool = False) -> Path:
    """``model.save_pretrained(directory)``: write its files under a temporary name, then rename (see ``atomic_directory``)."""
    from safetensors import SafetensorError

    _check_writable(directory, overwrite)
    try:
        with atomic_directory(directory) as tmp:
            model.write_files(tmp)
    except (OSError, SafetensorError) as err:
        raise OSError(f"could not save the model to {directory} ({_first_line(err)}); nothing there was changed: "
                      "free disk space (or fix the cause) and save again") from err
    return directory


def write_model_files(model: MoTEModel, folder: Path) -> None:
    """``model.write_files(folder)``: ``config.json`` (with the weights' sha256), the weights, tokenizer and card."""
    from safetensors.torch import save_file

    from mote_lib.model_card import write_model_card

    state = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    bad = _non_finite(state)
    if bad:  # from_pretrained would refuse it: never let such a save replace a good model
        raise ValueError(f"the model holds NaN or inf in {_some(bad)}; not saved: retrain, or load a good copy")
    weights = folder / "model.safetensors"
    save_file(state, str(weights), metadata={"format": "pt"})
    backbone = {k: v for k, v in model.backbone_config.to_dict().items() if k not in NOT_SAVED}
    config = {"mote": asdict(model.config), "backbone": backbone, "mote_lib_version": _version(),
              "weights_sha256": file_sha256(weights)}
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    save_tokenizer(model.tokenizer, folder, model.config.max_seq_length)
    write_model_card(model, folder / "README.md")


def _check_writable(directory: Path, overwrite: bool) -> None:
    """Refuse to replace a folder that holds something, unless asked to (a save replaces it whole)."""
    if overwrite or not directory.exists():
        return
    if not directory.is_dir():
        raise FileExistsError(f"{directory} is a file, not a folder: pass overwrite=True to replace it")
    if any(directory.iterdir()):
        raise FileExistsError(f"{directory} already holds {_describe_folder(directory)}: pass overwrite=True to replace it")


def _version() -> str:
    from mote_lib import __version__

    return __version__


# ----------------------------------------------------------------------------- reading and checks


def read_model_folder(directory: Path, config_class: type[MoTEConfig]):
    """The ``config_class`` config, transformers config, checked weights and tokenizer a saved folder holds.

    Raises ``ModelFolderError`` for anything but a complete, undamaged mote_lib model folder (the
    weights' layout is checked against the config by ``check_layout``, once the model is built).
    """
    saved = _read_model_config(directory)
    config, backbone_config = _configs(directory / "config.json", saved, config_class)
    state = _read_weights(directory / "model.safetensors", saved.get("weights_sha256"))
    return config, backbone_config, state, _read_tokenizer(directory, config)


def _read_model_config(directory: Path) -> dict:
    """``config.json`` of a mote_lib model folder; one clear error for anything else."""
    if not directory.is_dir():
        previous = sorted(directory.parent.glob(f".{directory.name}{REPLACED_MARK}*")) if directory.parent.is_dir() else []
        if previous:  # a save was killed between its two renames
            raise FileNotFoundError(f"{directory}: no such folder, but its previous version is at {previous[-1]} (a save "
                                    f"was interrupted): mote_lib.atomic.remove_stale({str(directory)!r}) puts it back")
        raise FileNotFoundError(f"{directory}: no such folder (no saved model there)")
    path = directory / "config.json"
    if not path.is_file():
        raise ModelFolderError(f"{directory} holds no mote_lib model (no config.json): it holds {_describe_folder(directory)}")
    saved = _read_json(path)
    if not isinstance(saved, dict) or "mote" not in saved:
        raise ModelFolderError(f"{directory} holds no mote_lib model (config.json has no 'mote' section): "
                               f"it holds {_describe_folder(directory)}")
    return saved


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFolderError(f"{path}: not valid JSON ({err}): the file is damaged; re-save or retrain the model") from err


def _describe_folder(directory: Path) -> str:
    """What a folder holds, and how to load it if we know."""
    names = sorted(p.name for p in directory.iterdir())
    config = _json_or_nothing(directory / "config.json")
    if not names:
        return "nothing (an empty folder)"
    if "mote" in config:
        return "a mote_lib model"
    if config:
        kind = (config.get("architectures") or [config.get("model_type", "transformers")])[0]
        also = f" (a sentence-transformers model too: SentenceTransformer({str(directory)!r}) loads it)" if "modules.json" in names else ""
        return (f"a Hugging Face {kind} folder{also}: build a model from it with "
                f"MoTEModel.from_base(MoTEConfig(base_model={str(directory)!r}))")
    if "modules.json" in names:
        return f"a sentence-transformers model: load it with SentenceTransformer({str(directory)!r})"
    if (directory / "model" / "config.json").is_file():
        return f"a training run: its model is in {directory / 'model'}"
    if "trainer_state.pt" in names:
        return "a training checkpoint: resume its run with --resume, or load the run's model/ folder"
    return f"{len(names)} other entries ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"


def _json_or_nothing(path: Path) -> dict:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def _configs(path: Path, saved: dict, config_class: type[MoTEConfig]):
    """The MoTEConfig and the transformers config that ``config.json`` records."""
    from transformers import AutoConfig

    try:
        config = config_class(**saved["mote"])
        backbone = dict(saved["backbone"])
        return config, AutoConfig.for_model(backbone.pop("model_type"), **backbone)
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFolderError(f"{path}: the model's settings cannot be read ({type(err).__name__}: {_first_line(err)}): "
                               "the file is damaged or from another mote_lib version; re-save or retrain the model") from err


def _read_weights(path: Path, expected_sha256: str | None) -> dict[str, torch.Tensor]:
    """The tensors of ``model.safetensors``, after checking its digest; every one finite."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise ModelFolderError(f"{path}: missing: the folder is incomplete; re-save or retrain the model")
    if expected_sha256 is None:
        logger.warning(f"{path}: unverified weights: config.json records no weights_sha256 (saved by an older "
                       "mote_lib); re-save the model to record one")
    else:
        actual = file_sha256(path)
        if actual != expected_sha256:
            raise ModelFolderError(f"{path}: sha256 {actual[:12]}... differs from the {expected_sha256[:12]}... recorded in "
                                   "config.json: the file is damaged; re-save or retrain the model")
    try:
        state = load_file(str(path))
    except SafetensorError as err:
        raise ModelFolderError(f"{path}: not a readable safetensors file ({err}): the file is damaged; "
                               "re-save or retrain the model") from err
    bad = _non_finite(state)
    if bad:
        raise ModelFolderError(f"{path}: NaN or inf in {_some(bad)}: the file is damaged (or training diverged); "
                               "re-save or retrain the model")
    return state


def _non_finite(state: dict[str, torch.Tensor]) -> list[str]:
    return sorted(name for name, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all()))


def _some(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more tensors" if len(names) > limit else "")


def _read_tokenizer(directory: Path, config: MoTEConfig):
    from transformers import AutoTokenizer

    # Checked first: without its files AutoTokenizer may build a near-empty tokenizer from config.json.
    if not any((directory / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        raise ModelFolderError(f"{directory}: no tokenizer (tokenizer.json, tokenizer_config.json): the folder is incomplete; "
                               f"re-save the model, or copy in the tokenizer files of its base model {config.base_model!r}")
    try:
        return AutoTokenizer.from_pretrained(directory)
    except (OSError, ValueError) as err:
        raise ModelFolderError(f"{directory}: the tokenizer cannot be loaded ({_first_line(err)}): a tokenizer file is "
                               "damaged; re-save the model") from err


def check_layout(path: Path, model: MoTEModel, state: dict[str, torch.Tensor]) -> None:
    """One line on how the saved tensors differ from what ``config.json`` builds, if they do."""
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in state.items()}
    if expected == found:
        return
    want, got = _layout(expected), _layout(found)
    if want != got:
        raise ModelFolderError(f"{path}: config.json says variant {model.config.variant!r} ({want}), but the weights hold "
                               f"{got}: the folder mixes two models' files; re-save the model")
    missing, unexpected = sorted(expected.keys() - found.keys()), sorted(found.keys() - expected.keys())
    reshaped = sorted(name for name in expected.keys() & found.keys() if expected[name] != found[name])
    parts = [f"{len(reshaped)} tensors of another shape ({reshaped[0]}: expected {expected[reshaped[0]]}, found "
             f"{found[reshaped[0]]})" if reshaped else "",
             f"{len(missing)} missing ({missing[0]})" if missing else "",
             f"{len(unexpected)} unexpected ({unexpected[0]})" if unexpected else ""]
    raise ModelFolderError(f"{path} does not match config.json: {'; '.join(p for p in parts if p)}: "
                           "the folder mixes two models' files; re-save the model")


def _layout(shapes: dict[str, tuple]) -> str:
    """``4 experts in layers [1] of 2`` (or ``dense, 2 layers``), from tensor names alone."""
    experts: dict[int, set[int]] = {}
    for name in shapes:
        if match := re.match(r"blocks\.(\d+)\.experts\.(\d+)\.", name):
            experts.setdefault(int(match[1]), set()).add(int(match[2]))
    mote = {layer: len(ids) for layer, ids in experts.items() if len(ids) > 1}
    if not mote:
        return f"dense, {len(experts)} layers"
    counts = "/".join(str(n) for n in sorted(set(mote.values())))
    routers = any(re.match(r"blocks\.\d+\.router\.", name) for name in shapes)
    return f"{counts} experts in layers {sorted(mote)} of {len(experts)}" + (", token routers" if routers else "")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
