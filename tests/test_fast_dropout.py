"""mote_lib.fast_dropout: cheaper masks, the same dropout, and a model left as it was found."""

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from mote_lib import fast_dropout as fd
from mote_lib.fast_dropout import dropout, fast_dropout, keep_mask
from mote_lib.model import MoTEModel


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_the_mask_drops_at_the_rounded_rate(p):
    torch.manual_seed(0)
    kept = keep_mask((1000, 1001), p, torch.device("cpu"))  # an odd count: the last word is cut
    assert kept.shape == (1000, 1001) and kept.dtype == torch.bool
    rate = round(p * 65536) / 65536
    sigma = (rate * (1 - rate) / kept.numel()) ** 0.5
    assert abs((1 - kept.float().mean().item()) - rate) < 4 * sigma


def test_the_mask_follows_the_seed():
    torch.manual_seed(3)
    first = keep_mask((64, 64), 0.1, torch.device("cpu"))
    torch.manual_seed(3)
    assert torch.equal(first, keep_mask((64, 64), 0.1, torch.device("cpu")))
    assert not torch.equal(first, keep_mask((64, 64), 0.1, torch.device("cpu")))


def test_dropout_zeroes_some_and_scales_the_rest_as_torch_does():
    x = torch.rand(200, 300) + 0.5
    torch.manual_seed(0)
    y = dropout(x, 0.2)
    dropped = y == 0
    assert 0.15 < dropped.float().mean().item() < 0.25
    kept_share = 1 - round(0.2 * 65536) / 65536  # the rate the mask really drops at
    torch.testing.assert_close(y[~dropped], x[~dropped] / kept_share)
    assert dropout(x, 0.2, training=False) is x and dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))  # as torch's
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\], got 1.5"):
        dropout(x, 1.5)


def test_under_bf16_the_scale_is_applied_in_float_and_rounded_once():
    x = (torch.rand(100, 100) + 0.5).to(torch.bfloat16)
    torch.manual_seed(0)
    y = dropout(x, 0.1)
    kept = y != 0
    scale = 1 / (1 - round(0.1 * 65536) / 65536)
    assert y.dtype == torch.bfloat16
    assert torch.equal(y[kept], (x[kept].float() * scale).to(torch.bfloat16))


def test_causal_or_grouped_attention_is_refused_rather_than_computed_wrong():
    query = key = value = torch.randn(1, 2, 3, 4)
    causal = torch.nn.Module()
    causal.is_causal = True
    with pytest.raises(NotImplementedError, match="bidirectional"):
        fd.attention(causal, query, key, value, None, dropout=0.1)
    encoder = torch.nn.Module()
    encoder.is_causal = False
    with pytest.raises(NotImplementedError, match="one key/value head per query head"):
        fd.attention(encoder, query, key[:, :1], value[:, :1], None, dropout=0.1)


def test_the_attention_is_sdpa_with_dropout_on_the_probabilities(monkeypatch):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    torch.manual_seed(0)
    query, key, value = (torch.randn(2, 4, 5, 8) for _ in range(3))
    mask = torch.ones(2, 1, 5, 5, dtype=torch.bool)
    mask[1, :, :, 3:] = False  # the second text has 3 tokens and 2 of padding
    module = torch.nn.Module()
    module.is_causal = False
    expected, _ = sdpa_attention_forward(module, query, key, value, mask, dropout=0.0)
    without, _ = fd.attention(module, query, key, value, mask, dropout=0.0)
    assert torch.equal(without, expected)  # no dropout: transformers' SDPA itself
    # With dropout, but every mask element kept: the probabilities scaled by 1 / (1 - p).
    monkeypatch.setattr(fd, "keep_mask", lambda shape, p, device: torch.ones(shape, dtype=torch.bool))
    kept, _ = fd.attention(module, query, key, value, mask, dropout=0.25)
    torch.testing.assert_close(kept, expected / 0.75)
    additive = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    torch.testing.assert_close(fd.attention(module, query, key, value, additive, dropout=0.25)[0], expected / 0.75)


def _embed(model, batch, seed):
    torch.manual_seed(seed)
    return model(batch["input_ids"], batch["attention_mask"], model.expert_ids(["search_query"] * 3))["embedding"]


@pytest.mark.parametrize("family", ["bert", "mpnet"])
def test_inside_the_block_no_torch_dropout_runs_and_afterwards_the_model_is_unchanged(make_tiny_model, family):
    model = make_tiny_model("mote", family=family)
    implementation = model.backbone_config._attn_implementation
    batch = model.tokenize(["a short text", "a somewhat longer text than that", "x"], ["search_query"] * 3)
    evaluated = _embed(model, batch, 0)
    model.train()
    standard = _embed(model, batch, 0)
    with fast_dropout(model):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fast = _embed(model, batch, 0)
        assert torch.equal(_embed(model, batch, 0), fast)  # seeded masks
        model.eval()
        assert torch.equal(_embed(model, batch, 0), evaluated)  # evaluation: no dropout at all, the same numbers
        model.train()
    ops = {event.key for event in prof.key_averages()}
    assert "aten::bernoulli_" not in ops and "aten::random_" in ops
    assert torch.isfinite(fast).all() and not torch.allclose(fast, standard)
    assert torch.equal(_embed(model, batch, 0), standard)  # torch's dropout again
    assert not any("forward" in vars(m) for m in model.modules())
    assert model.backbone_config._attn_implementation == implementation


def test_the_block_restores_the_model_when_the_step_fails(make_tiny_model):
    model = make_tiny_model("mote").train()
    with pytest.raises(RuntimeError, match="boom"), fast_dropout(model):
        raise RuntimeError("boom")
    assert model.backbone_config._attn_implementation == "sdpa"
    assert not any("forward" in vars(m) for m in model.modules())


def test_nested_blocks_leave_the_outer_one_working_and_restore_once(make_tiny_model):
    model = make_tiny_model("mote").train()
    batch = model.tokenize(["a short text", "another text", "x"], ["search_query"] * 3)
    with fast_dropout(model):
        with fast_dropout(model):
            inner = _embed(model, batch, 0)
        assert torch.equal(_embed(model, batch, 0), inner)  # still fast dropout after the inner block
        assert model.backbone_config._attn_implementation == fd.ATTENTION
    assert model.backbone_config._attn_implementation == "sdpa"
    assert not any("forward" in vars(m) for m in model.modules())


def test_saved_models_do_not_remember_fast_dropout(make_tiny_model, tmp_path):
    model = make_tiny_model("ic").train()
    with fast_dropout(model):
        pass
    model.save_pretrained(tmp_path / "model")
    assert MoTEModel.from_pretrained(tmp_path / "model").backbone_config._attn_implementation == "sdpa"
