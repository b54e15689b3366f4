"""safetensors reading: values, dtypes, shards, and bad input."""

from __future__ import annotations

import json
import struct

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

from provenance.checkpoint import open_checkpoint
from provenance.errors import InputError


def test_values_round_trip_for_every_float_dtype(tmp_path):
    rng = np.random.default_rng(0)
    src = rng.standard_normal((5, 7)).astype(np.float32)
    tensors = {
        "f32": src,
        "f16": src.astype(np.float16),
        "bf16": src.astype(ml_dtypes.bfloat16),
        "e4m3": src.astype(ml_dtypes.float8_e4m3fn),
        "e5m2": src.astype(ml_dtypes.float8_e5m2),
        "i32": np.arange(6, dtype=np.int32).reshape(2, 3),
        "u8": np.arange(4, dtype=np.uint8),
    }
    save_file(tensors, str(tmp_path / "m.safetensors"))
    ck = open_checkpoint(tmp_path / "m.safetensors")
    assert {n: ck[n].dtype for n in ck.tensors} == {
        "f32": "F32",
        "f16": "F16",
        "bf16": "BF16",
        "e4m3": "F8_E4M3",
        "e5m2": "F8_E5M2",
        "i32": "I32",
        "u8": "U8",
    }
    for name, arr in tensors.items():
        got = ck[name].read()
        assert got.dtype == np.float32 and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr.astype(np.float32))


def test_row_chunks_equal_whole_read(tmp_path):
    a = np.random.default_rng(1).standard_normal((100, 33)).astype(np.float32)
    save_file({"a": a.astype(ml_dtypes.bfloat16)}, str(tmp_path / "m.safetensors"))
    ref = open_checkpoint(tmp_path / "m.safetensors")["a"]
    blocks = [blk for _, blk in ref.iter_rows(max_bytes=33 * 4 * 7)]
    assert len(blocks) == 15
    np.testing.assert_array_equal(np.concatenate(blocks), ref.read())
    np.testing.assert_array_equal(ref.read_rows(10, 20), ref.read()[10:20])


def _sharded(tmp_path, names_by_shard):
    weight_map = {}
    for shard, names in names_by_shard.items():
        save_file({n: np.full((2, 2), i, np.float32) for i, n in enumerate(names)}, str(tmp_path / shard))
        weight_map.update({n: shard for n in names})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def test_sharded_directory_reads_all_shards(tmp_path):
    _sharded(tmp_path, {"model-00001-of-00002.safetensors": ["a", "b"], "model-00002-of-00002.safetensors": ["c"]})
    ck = open_checkpoint(tmp_path)
    assert sorted(ck.tensors) == ["a", "b", "c"] and ck.format == "safetensors"
    assert len(ck.files) == 3


def test_index_pointing_at_missing_shard_is_an_input_error(tmp_path):
    _sharded(tmp_path, {"model-00001-of-00002.safetensors": ["a"]})
    idx = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    idx["weight_map"]["b"] = "model-00002-of-00002.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(idx))
    with pytest.raises(InputError, match="model-00002-of-00002.safetensors.*missing"):
        open_checkpoint(tmp_path)


def test_index_disagreeing_with_shard_is_an_input_error(tmp_path):
    _sharded(tmp_path, {"s1.safetensors": ["a"], "s2.safetensors": ["b"]})
    idx = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    idx["weight_map"]["a"] = "s2.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(idx))
    with pytest.raises(InputError, match="index"):
        open_checkpoint(tmp_path)


def test_truncated_file(tmp_path):
    save_file({"a": np.zeros((64, 64), np.float32)}, str(tmp_path / "m.safetensors"))
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "m.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        open_checkpoint(tmp_path / "m.safetensors")


def test_oversized_header_claim_is_refused_before_reading(tmp_path):
    p = tmp_path / "m.safetensors"
    p.write_bytes(struct.pack("<Q", 10**12) + b"{" + b" " * 100)
    with pytest.raises(InputError):
        open_checkpoint(p)
    p.write_bytes(struct.pack("<Q", 200_000_000) + b"{}" + b" " * 10)
    with pytest.raises(InputError, match="cap"):
        open_checkpoint(p)


def test_corrupt_header_json(tmp_path):
    p = tmp_path / "m.safetensors"
    p.write_bytes(struct.pack("<Q", 10) + b"{not json!" + b"\0" * 16)
    with pytest.raises(InputError, match="corrupt safetensors header"):
        open_checkpoint(p)


def test_offsets_that_disagree_with_shape(tmp_path):
    header = json.dumps({"a": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 32]}}).encode()
    p = tmp_path / "m.safetensors"
    p.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 64)
    with pytest.raises(InputError, match="needs 64 bytes"):
        open_checkpoint(p)
