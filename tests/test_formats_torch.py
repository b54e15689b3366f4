"""torch pickles: pytorch_model.bin (single and sharded), .pt/.pth, llama2.c ckpt.pt, and refusing unsafe pickles."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from provenance.checkpoint import open_checkpoint
from provenance.errors import InputError


@pytest.fixture(scope="module")
def llama_state_dict():
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        vocab_size=128,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, cfg


def _save_sharded(sd, directory, per_shard=6):
    """The layout transformers wrote for `.bin` checkpoints (WEIGHTS_INDEX_NAME = pytorch_model.bin.index.json)."""
    names = list(sd)
    chunks = [names[i : i + per_shard] for i in range(0, len(names), per_shard)]
    weight_map = {}
    for i, chunk in enumerate(chunks, 1):
        shard = f"pytorch_model-{i:05d}-of-{len(chunks):05d}.bin"
        torch.save({n: sd[n] for n in chunk}, directory / shard)
        weight_map.update({n: shard for n in chunk})
    total = sum(t.numel() * t.element_size() for t in sd.values())
    (directory / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map})
    )
    return weight_map


def _check_values(ck, sd):
    assert list(ck.tensors) == list(sd)
    for name, t in sd.items():
        ref = ck[name]
        assert ref.shape == tuple(t.shape)
        np.testing.assert_array_equal(ref.read(), t.float().numpy())


def test_pytorch_model_bin_round_trip(tmp_path, llama_state_dict):
    sd, cfg = llama_state_dict
    cfg.save_pretrained(tmp_path)
    torch.save(sd, tmp_path / "pytorch_model.bin")
    torch.save({"lr": 1.0}, tmp_path / "training_args.bin")  # trainer state beside the weights is ignored
    ck = open_checkpoint(tmp_path)
    assert ck.format == "torch" and ck.files == [tmp_path / "pytorch_model.bin"]
    assert ck.metadata["config"]["model_type"] == "llama"
    assert ck.dtype_counts() == {"BF16": sum(t.numel() for t in sd.values())}
    _check_values(ck, sd)
    q = ck["model.layers.1.self_attn.q_proj.weight"]
    np.testing.assert_array_equal(q.read_rows(5, 9), sd["model.layers.1.self_attn.q_proj.weight"][5:9].float().numpy())


def test_sharded_bin_with_index(tmp_path, llama_state_dict):
    sd, _ = llama_state_dict
    _save_sharded(sd, tmp_path)
    ck = open_checkpoint(tmp_path)
    assert ck.format == "torch" and len(ck.files) == 1 + 4
    assert ck.metadata["index"]["total_size"] > 0
    _check_values(ck, sd)


def test_sharded_bin_missing_shard(tmp_path, llama_state_dict):
    sd, _ = llama_state_dict
    _save_sharded(sd, tmp_path)
    (tmp_path / "pytorch_model-00002-of-00004.bin").unlink()
    with pytest.raises(InputError, match="pytorch_model-00002-of-00004.bin.*missing"):
        open_checkpoint(tmp_path)


def test_sharded_bin_disagreeing_index(tmp_path, llama_state_dict):
    sd, _ = llama_state_dict
    wm = _save_sharded(sd, tmp_path)
    name = next(iter(wm))
    wm[name] = "pytorch_model-00003-of-00004.bin"
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": wm}))
    with pytest.raises(InputError, match="index puts it in"):
        open_checkpoint(tmp_path)
    del wm[name]
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": wm}))
    with pytest.raises(InputError, match="does not list it"):
        open_checkpoint(tmp_path)


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_pt_and_pth_files_and_dtypes(tmp_path, suffix):
    src = torch.randn(6, 5)
    sd = {
        "a": src,
        "b": src.half(),
        "c": src.bfloat16(),
        "d": torch.arange(4, dtype=torch.int64),
        "s": torch.tensor(3.5),
    }
    torch.save(sd, tmp_path / f"w{suffix}")
    ck = open_checkpoint(tmp_path / f"w{suffix}")
    assert {n: r.dtype for n, r in ck.tensors.items()} == {"a": "F32", "b": "F16", "c": "BF16", "d": "I64", "s": "F32"}
    for n, t in sd.items():
        np.testing.assert_array_equal(ck[n].read(), t.float().numpy())
    assert ck["s"].shape == ()


def test_legacy_non_zip_pickle(tmp_path):
    sd = {"w": torch.randn(3, 4)}
    torch.save(sd, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    ck = open_checkpoint(tmp_path / "old.pt")
    np.testing.assert_array_equal(ck["w"].read(), sd["w"].numpy())


def test_llama2c_training_checkpoint(tmp_path):
    """llama2.c train.py saves {"model": raw_model.state_dict(), "optimizer", "model_args", "iter_num", …};
    with torch.compile every name starts with `_orig_mod.`."""
    sd = {
        "_orig_mod.tok_embeddings.weight": torch.randn(32, 16),
        "_orig_mod.layers.0.attention.wq.weight": torch.randn(16, 16),
        "_orig_mod.norm.weight": torch.ones(16),
    }
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.randn(2, 2))])
    ckpt = {
        "model": sd,
        "optimizer": opt.state_dict(),
        "model_args": {
            "dim": 16,
            "n_layers": 1,
            "n_heads": 4,
            "n_kv_heads": 4,
            "vocab_size": 32,
            "multiple_of": 32,
            "max_seq_len": 8,
            "dropout": 0.0,
        },
        "iter_num": 100,
        "best_val_loss": torch.tensor(1.25),
        "config": {"batch_size": 8},
    }
    torch.save(ckpt, tmp_path / "ckpt.pt")
    ck = open_checkpoint(tmp_path / "ckpt.pt")
    assert list(ck.tensors) == ["tok_embeddings.weight", "layers.0.attention.wq.weight", "norm.weight"]
    np.testing.assert_array_equal(ck["norm.weight"].read(), np.ones(16, np.float32))
    meta = ck.metadata["torch"]
    assert meta["state_dict_key"] == "model"
    assert meta["model_args"]["dim"] == 16 and meta["iter_num"] == 100
    assert meta["best_val_loss"]["value"] == 1.25
    assert meta["stripped_prefix"] == {"prefix": "_orig_mod.", "count": 3}
    json.dumps(ck.metadata)  # serialisable


def test_state_dict_under_state_dict_key_with_non_tensor_entries(tmp_path):
    torch.save(
        {"state_dict": {"w": torch.ones(2, 2), "version": 3, "_metadata": {"": {"version": 1}}}, "epoch": 2},
        tmp_path / "m.ckpt.pt",
    )
    ck = open_checkpoint(tmp_path / "m.ckpt.pt")
    assert list(ck.tensors) == ["w"]
    assert ck.metadata["torch"]["non_tensor_entries"]["version"] == 3
    assert ck.metadata["torch"]["epoch"] == 2


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zipped", [True, False])
def test_malicious_pickle_is_refused_and_not_executed(tmp_path, zipped):
    marker = tmp_path / "PWNED"
    path = tmp_path / "pytorch_model.bin"
    if zipped:
        torch.save({"w": torch.ones(2), "x": _Evil(marker)}, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump({"w": torch.ones(2), "x": _Evil(marker)}, fh, protocol=2)
    # Sanity: the payload is live — a plain unpickler runs it (on a separate marker).
    live = tmp_path / "LIVE"
    pickle.loads(pickle.dumps(_Evil(live)))
    assert live.exists()
    with pytest.raises(InputError, match="refused to unpickle") as info:
        open_checkpoint(path)
    assert "pytorch_model.bin" in str(info.value)
    assert not marker.exists()


def test_truncated_torch_file(tmp_path):
    torch.save({"w": torch.randn(64, 64)}, tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "m.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt torch file"):
        open_checkpoint(tmp_path / "m.pt")


def test_pickle_without_tensors(tmp_path):
    torch.save({"a": 1}, tmp_path / "m.pt")
    with pytest.raises(InputError, match="no tensors"):
        open_checkpoint(tmp_path / "m.pt")
