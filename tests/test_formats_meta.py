"""Meta consolidated.NN.pth: single rank, two ranks merged lazily (Llama-2 and Llama-3 embedding splits)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from provenance.checkpoint import open_checkpoint
from provenance.errors import InputError

DIM, HIDDEN, LAYERS, HEADS, KV, VOCAB = 32, 64, 2, 4, 2, 48


def _meta_state_dict(seed=0):
    """Meta llama/model.py names and shapes (bf16, as Meta released them)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g).to(torch.bfloat16)  # noqa: E731
    hd = DIM // HEADS
    sd = {
        "tok_embeddings.weight": r(VOCAB, DIM),
        "norm.weight": r(DIM),
        "output.weight": r(VOCAB, DIM),
        "rope.freqs": (1.0 / 10000 ** (torch.arange(0, hd, 2).float() / hd)).to(torch.bfloat16),
    }
    for i in range(LAYERS):
        p = f"layers.{i}."
        sd.update(
            {
                p + "attention.wq.weight": r(DIM, DIM),
                p + "attention.wk.weight": r(KV * hd, DIM),
                p + "attention.wv.weight": r(KV * hd, DIM),
                p + "attention.wo.weight": r(DIM, DIM),
                p + "feed_forward.w1.weight": r(HIDDEN, DIM),
                p + "feed_forward.w2.weight": r(DIM, HIDDEN),
                p + "feed_forward.w3.weight": r(HIDDEN, DIM),
                p + "attention_norm.weight": r(DIM),
                p + "ffn_norm.weight": r(DIM),
            }
        )
    return sd


def _split_dim(name, llama3):
    role = name.split(".")[-2] if name.endswith(".weight") else name
    if role in ("wq", "wk", "wv", "w1", "w3", "output"):
        return 0
    if role in ("wo", "w2"):
        return 1
    if role == "tok_embeddings":
        return 0 if llama3 else 1
    return None


def _write_ranks(directory, sd, n, llama3=False, params=True):
    """Split a full state dict the way Meta's model-parallel layers hold it, one consolidated.NN.pth per rank."""
    for rank in range(n):
        part = {}
        for name, t in sd.items():
            d = _split_dim(name, llama3)
            part[name] = t.clone() if d is None else torch.chunk(t, n, dim=d)[rank].clone()
        torch.save(part, directory / f"consolidated.{rank:02d}.pth")
    if params:
        (directory / "params.json").write_text(
            json.dumps(
                {
                    "dim": DIM,
                    "n_layers": LAYERS,
                    "n_heads": HEADS,
                    "n_kv_heads": KV,
                    "multiple_of": 16,
                    "norm_eps": 1e-5,
                    "vocab_size": VOCAB if llama3 else -1,
                    "rope_theta": 10000.0,
                }
            )
        )


def _check(ck, sd):
    assert set(ck.tensors) == set(sd)
    for name, t in sd.items():
        assert ck[name].shape == tuple(t.shape), name
        np.testing.assert_array_equal(ck[name].read(), t.float().numpy(), err_msg=name)


def test_single_rank(tmp_path):
    sd = _meta_state_dict()
    _write_ranks(tmp_path, sd, 1)
    ck = open_checkpoint(tmp_path)
    assert ck.format == "meta" and ck.metadata["params"]["dim"] == DIM
    assert ck["layers.0.attention.wq.weight"].dtype == "BF16"
    _check(ck, sd)
    assert not ck.warnings


@pytest.mark.parametrize("llama3", [False, True])
def test_two_ranks_merge_to_the_unsplit_source(tmp_path, llama3):
    sd = _meta_state_dict(1)
    _write_ranks(tmp_path, sd, 2, llama3=llama3)
    ck = open_checkpoint(tmp_path)
    assert [f.name for f in ck.files] == ["consolidated.00.pth", "consolidated.01.pth", "params.json"]
    _check(ck, sd)
    assert not ck.warnings
    # Row blocks that straddle the rank boundary (dim-0 merge) and row blocks of a dim-1 merge.
    for name in ("output.weight", "layers.1.feed_forward.w2.weight", "tok_embeddings.weight"):
        full = sd[name].float().numpy()
        np.testing.assert_array_equal(ck[name].read_rows(10, 30), full[10:30])
        blocks = [b for _, b in ck[name].iter_rows(max_bytes=7 * full.shape[1] * 4)]
        np.testing.assert_array_equal(np.concatenate(blocks), full)


def test_embedding_split_without_params_defaults_to_llama2(tmp_path):
    sd = _meta_state_dict(2)
    _write_ranks(tmp_path, sd, 2, params=False)
    ck = open_checkpoint(tmp_path)
    _check(ck, sd)
    assert any("params.json" in w for w in ck.warnings)


def test_one_rank_file_opened_alone_warns(tmp_path):
    _write_ranks(tmp_path, _meta_state_dict(), 2)
    ck = open_checkpoint(tmp_path / "consolidated.01.pth")
    assert ck["layers.0.attention.wq.weight"].shape == (DIM // 2, DIM)
    assert any("open the directory" in w for w in ck.warnings)


def test_replicated_norm_that_differs_is_an_error(tmp_path):
    sd = _meta_state_dict()
    _write_ranks(tmp_path, sd, 2)
    part = torch.load(tmp_path / "consolidated.01.pth")
    part["norm.weight"] = part["norm.weight"] + 1
    torch.save(part, tmp_path / "consolidated.01.pth")
    with pytest.raises(InputError, match="consolidated.01.pth.*norm.weight should be replicated"):
        open_checkpoint(tmp_path)


def test_missing_rank_is_an_error(tmp_path):
    _write_ranks(tmp_path, _meta_state_dict(), 3)
    (tmp_path / "consolidated.01.pth").unlink()
    with pytest.raises(InputError, match="ranks are \\[0, 2\\]"):
        open_checkpoint(tmp_path)


def test_rank_with_different_tensors_is_an_error(tmp_path):
    sd = _meta_state_dict()
    _write_ranks(tmp_path, sd, 2)
    part = torch.load(tmp_path / "consolidated.01.pth")
    del part["rope.freqs"]
    torch.save(part, tmp_path / "consolidated.01.pth")
    with pytest.raises(InputError, match="different tensors"):
        open_checkpoint(tmp_path)


def test_unnumbered_single_consolidated_file(tmp_path):
    sd = _meta_state_dict()
    torch.save(sd, tmp_path / "consolidated.pth")
    ck = open_checkpoint(tmp_path)
    assert ck.format == "meta"
    _check(ck, sd)
