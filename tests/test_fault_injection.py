"""Faults injected into saved models and into saves: each gives one clear line, and nothing that was there is lost.

Damaged files (flipped bytes, truncation) must be refused on load, naming the file; a save killed
with SIGKILL or stopped by a full disk must leave the previous model loadable and unchanged.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mote_lib.model import ModelFolderError, MoTEModel

TEXTS = ["a cat sat on the mat", "stocks fell sharply today"]


@pytest.fixture
def saved(tmp_path, make_tiny_model):
    """A saved tiny MoTE model, and its embeddings of TEXTS."""
    model = make_tiny_model("mote")
    return model.save_pretrained(tmp_path / "model"), model.encode(TEXTS, task="clustering")


def load_error(folder) -> str:
    with pytest.raises(ModelFolderError) as caught:
        MoTEModel.from_pretrained(folder)
    message = str(caught.value)
    assert "\n" not in message, "the error should be one line"
    return message


def without_digest(folder) -> None:
    """Make ``folder`` look saved by a mote_lib that recorded no digest."""
    config = json.loads((folder / "config.json").read_text())
    del config["weights_sha256"]
    (folder / "config.json").write_text(json.dumps(config))


def overwrite_bytes(path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)


# ----------------------------------------------------------------------------- damaged files


def test_flipped_bytes_in_the_weights_are_caught_by_the_digest(saved):
    folder, _ = saved
    weights = folder / "model.safetensors"
    size = weights.stat().st_size
    overwrite_bytes(weights, size // 2, b"\x00\x01\x02\x03")  # same size: only the digest can tell
    assert weights.stat().st_size == size
    message = load_error(folder)
    assert message.startswith(f"{weights}: sha256 ") and "the file is damaged; re-save or retrain the model" in message


def test_flipped_bytes_without_a_digest_still_fail_on_nan(saved):
    folder, _ = saved
    without_digest(folder)
    weights = folder / "model.safetensors"
    overwrite_bytes(weights, weights.stat().st_size - 64, b"\xff" * 16)  # the last tensor's bytes: 0xffffffff is NaN
    assert "NaN or inf in " in load_error(folder)


@pytest.mark.parametrize("digest", [True, False])
def test_a_truncated_weights_file_names_the_file(saved, digest):
    folder, _ = saved
    if not digest:
        without_digest(folder)
    weights = folder / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 3)
    message = load_error(folder)
    assert message.startswith(f"{weights}: ")
    assert ("sha256" if digest else "not a readable safetensors file") in message and "re-save or retrain" in message


def test_a_truncated_config_names_the_file(saved):
    folder, _ = saved
    config = folder / "config.json"
    text = config.read_text()
    config.write_text(text[: len(text) // 2])
    message = load_error(folder)
    assert message.startswith(f"{config}: not valid JSON (") and "re-save or retrain the model" in message


def test_a_damaged_tokenizer_file_names_the_folder(saved):
    folder, _ = saved
    tokenizer = folder / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text()[:1000])
    message = load_error(folder)
    assert message.startswith(f"{folder}: the tokenizer cannot be loaded")


# ----------------------------------------------------------------------------- bad inputs, on every way in


def _through_sentence_transformers(model, texts, tmp_path):
    from sentence_transformers import SentenceTransformer

    from mote_lib.st_module import save_as_sentence_transformer

    folder = save_as_sentence_transformer(model, tmp_path / "st")
    return SentenceTransformer(str(folder), device="cpu", trust_remote_code=True).encode(texts, task="clustering")


def _sharded(model, texts, tmp_path):
    from mote_lib.distributed import World, encode_sharded

    return encode_sharded(model, texts, "clustering", World())


WAYS_IN = {
    "MoTEModel.encode": lambda model, texts, tmp_path: model.encode(texts, task="clustering"),
    "sentence-transformers": _through_sentence_transformers,
    "encode_sharded": _sharded,
}


@pytest.mark.parametrize("way", WAYS_IN)
@pytest.mark.parametrize("bad", [None, 7, b"bytes", ""], ids=["None", "int", "bytes", "empty"])
def test_a_bad_input_gives_one_line_naming_its_type_on_every_way_in(way, bad, make_tiny_model, tmp_path):
    with pytest.raises((TypeError, ValueError)) as caught:
        WAYS_IN[way](make_tiny_model("mote"), ["a fine text", bad], tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "has no len()" not in message and "concatenate" not in message
    assert ("empty" if bad == "" else f"{type(bad).__name__}") in message
    if way != "sentence-transformers":  # it hands the module length-sorted batches: the value is named instead
        assert "texts[1]" in message


# ----------------------------------------------------------------------------- interrupted saves

# A child that loads the model at argv[1], changes its weights and saves it back over the old one.
# "kill": it stops after writing the weights, for the parent to kill it; "full-disk": files may
# grow to 1 MB only (the weights need 4), as on a full disk.
SAVE_OVER = textwrap.dedent("""
    import resource, signal, sys, time
    import safetensors.torch
    import torch
    from mote_lib.model import MoTEModel

    folder, fault = sys.argv[1], sys.argv[2]
    model = MoTEModel.from_pretrained(folder)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    if fault == "kill":
        write = safetensors.torch.save_file

        def write_then_wait(*args, **kwargs):
            write(*args, **kwargs)
            print("saving", flush=True)
            time.sleep(120)

        safetensors.torch.save_file = write_then_wait
    else:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        model.save_pretrained(folder, overwrite=True)
    except OSError as err:
        print(err, flush=True)
        sys.exit(3)
""")


def save_over(folder, fault: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SAVE_OVER, str(folder), fault], stdout=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def interrupted_saves(tmp_path_factory, make_tiny_model):
    """Both faulty saves, started at once: each child spends seconds importing torch and transformers.

    Yields {fault: (folder, child)} and the saved model's embeddings of TEXTS.
    """
    model = make_tiny_model("mote")
    runs = {}
    for fault in ("kill", "full-disk"):
        folder = model.save_pretrained(tmp_path_factory.mktemp(fault) / "model")
        runs[fault] = (folder, save_over(folder, fault))
    yield runs, model.encode(TEXTS, task="clustering")
    for _, child in runs.values():
        if child.poll() is None:
            child.kill()
            child.wait()


def assert_intact(folder, embeddings) -> None:
    np.testing.assert_array_equal(MoTEModel.from_pretrained(folder).encode(TEXTS, task="clustering"), embeddings)


def test_a_save_killed_midway_leaves_the_old_model_and_the_next_save_cleans_up(interrupted_saves, make_tiny_model):
    runs, before = interrupted_saves
    folder, child = runs["kill"]
    assert child.stdout.readline().strip() == "saving"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    child.stdout.close()
    assert f".model.tmp-{child.pid}" in os.listdir(folder.parent)  # the dead save's half-written folder
    assert_intact(folder, before)
    make_tiny_model("mote", seed=1).save_pretrained(folder, overwrite=True)
    assert os.listdir(folder.parent) == ["model"]


def test_a_full_disk_gives_a_clear_error_and_keeps_the_old_model(interrupted_saves):
    runs, before = interrupted_saves
    folder, child = runs["full-disk"]
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 3, out
    assert out.startswith(f"could not save the model to {folder} (") and "nothing there was changed: free disk space" in out
    assert "File too large" in out
    assert_intact(folder, before)
    assert os.listdir(folder.parent) == ["model"]  # the failed save removed its temporary folder
