"""GGUF: files written with gguf.GGUFWriter (F32, F16, BF16, Q8_0, Q4_0 and a hand-packed Q6_K), splits, metadata,
tokens, and bad input."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as T

from provenance.checkpoint import open_checkpoint
from provenance.errors import InputError
from provenance.formats.gguf_format import gguf_tokens

QK_K = 256


def quantize_q6_k(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pack float rows into ggml block_q6_K (ql[128], qh[64], int8 scales[16], f16 d; y = d·scale·(q − 32)).

    gguf-py can dequantize Q6_K but not quantize it, so the test packs blocks itself, as the exact inverse of
    gguf.quants.Q6_K.dequantize_blocks. Returns (byte rows, per-element quantization step for the error bound).
    """
    rows, cols = x.shape
    blocks = x.reshape(-1, QK_K).astype(np.float32)
    sub = blocks.reshape(-1, 16, 16)
    sub_step = np.abs(sub).max(axis=2) / 31.0  # step that keeps |q − 32| ≤ 31
    d = (sub_step.max(axis=1) / 127.0).astype(np.float16)  # super-block scale, stored as f16
    d32 = np.where(d.astype(np.float32) == 0, 1.0, d.astype(np.float32))
    scales = np.clip(np.ceil(sub_step / d32[:, None]), 1, 127).astype(np.int8)
    step = d32[:, None] * scales.astype(np.float32)  # [blocks, 16]
    q = np.clip(np.round(sub / step[:, :, None]) + 32, 0, 63).astype(np.uint8).reshape(-1, QK_K)
    low, high = q & 0x0F, q >> 4
    ql = np.empty((len(q), 2, 64), np.uint8)
    qh = np.zeros((len(q), 2, 32), np.uint8)
    for h in range(2):
        ql[:, h] = low[:, h * 128 : h * 128 + 64] | (low[:, h * 128 + 64 : h * 128 + 128] << 4)
        for s in range(4):
            qh[:, h] |= high[:, h * 128 + s * 32 : h * 128 + s * 32 + 32] << (2 * s)
    packed = np.concatenate(
        [ql.reshape(-1, 128), qh.reshape(-1, 64), scales.view(np.uint8), d.reshape(-1, 1).view(np.uint8)], axis=1
    )
    per_elem = np.repeat(step, 16, axis=1).reshape(rows, cols)
    return packed.reshape(rows, -1), per_elem


def _source(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "token_embd.weight": rng.standard_normal((64, 256)).astype(np.float32),  # numpy [V, H]
        "blk.0.attn_norm.weight": rng.standard_normal(256).astype(np.float32),
        "blk.0.attn_q.weight": rng.standard_normal((256, 256)).astype(np.float32),
        "blk.0.attn_k.weight": rng.standard_normal((128, 256)).astype(np.float32),
        "blk.0.ffn_down.weight": rng.standard_normal((256, 512)).astype(np.float32),
        "blk.0.ffn_up.weight": rng.standard_normal((512, 256)).astype(np.float32),
        "output_norm.weight": rng.standard_normal(256).astype(np.float32),
    }


TYPES = {
    "token_embd.weight": T.F16,
    "blk.0.attn_norm.weight": T.F32,
    "blk.0.attn_q.weight": T.Q8_0,
    "blk.0.attn_k.weight": T.Q4_0,
    "blk.0.ffn_down.weight": T.Q6_K,
    "blk.0.ffn_up.weight": T.BF16,
    "output_norm.weight": T.F32,
}
TOKENS = [f"tok{i}" for i in range(100)]


def write_gguf(path, src, split_max_tensors=0):
    w = gguf.GGUFWriter(path, "llama", split_max_tensors=split_max_tensors)
    w.add_name("tiny test model")
    w.add_license("apache-2.0")
    w.add_block_count(1)
    w.add_context_length(128)
    w.add_embedding_length(256)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama")
    w.add_token_list(TOKENS)
    w.add_token_scores([float(i) for i in range(len(TOKENS))])
    steps = {}
    for name, x in src.items():
        t = TYPES[name]
        if t == T.F32:
            w.add_tensor(name, x)
        elif t == T.F16:
            w.add_tensor(name, x.astype(np.float16))
        elif t == T.Q6_K:
            packed, steps[name] = quantize_q6_k(x)
            w.add_tensor(name, packed, raw_dtype=T.Q6_K)
        else:
            w.add_tensor(name, gguf.quants.quantize(x, t), raw_dtype=t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return steps


def _check_values(ck, src, steps):
    for name, x in src.items():
        ref = ck[name]
        assert ref.shape == x.shape, name
        assert ref.dtype == TYPES[name].name
        got = ref.read()
        assert got.dtype == np.float32
        t = TYPES[name]
        if t == T.F32:
            np.testing.assert_array_equal(got, x)
        elif t == T.F16:
            np.testing.assert_array_equal(got, x.astype(np.float16).astype(np.float32))
        elif t == T.BF16:
            np.testing.assert_allclose(got, x, rtol=2**-7)
        elif t == T.Q6_K:
            assert np.all(np.abs(got - x) <= 0.5 * steps[name] * (1 + 1e-5) + 1e-6)
        else:  # Q8_0 / Q4_0: blocks of 32, step amax/127 (Q8_0) or amax/8 (Q4_0)
            blocks = np.abs(x.reshape(-1, 32)).max(axis=1, keepdims=True)
            step = blocks / (127 if t == T.Q8_0 else 8)
            err = np.abs(got - x).reshape(-1, 32)
            assert np.all(err <= step * 1.01 + 1e-6), (name, float((err / step).max()))


def test_single_file_values_and_metadata(tmp_path):
    src = _source()
    steps = write_gguf(tmp_path / "m.gguf", src)
    ck = open_checkpoint(tmp_path / "m.gguf")
    assert ck.format == "gguf" and list(ck.tensors) == list(src)
    _check_values(ck, src, steps)
    meta = ck.metadata["gguf"]
    assert meta["general.architecture"] == "llama" and meta["general.license"] == "apache-2.0"
    assert meta["llama.attention.head_count_kv"] == 2 and meta["llama.rope.freq_base"] == 10000.0
    assert meta["tokenizer.ggml.tokens"] == {"type": "array", "length": 100, "head": TOKENS[:8]}
    assert meta["tokenizer.ggml.scores"]["length"] == 100
    json.dumps(ck.metadata)
    assert gguf_tokens(ck) == TOKENS
    assert not ck.warnings


def test_row_blocks_dequantize_only_their_rows(tmp_path):
    src = _source(1)
    write_gguf(tmp_path / "m.gguf", src)
    ck = open_checkpoint(tmp_path / "m.gguf")
    for name in ("blk.0.attn_q.weight", "blk.0.ffn_down.weight", "blk.0.ffn_up.weight", "token_embd.weight"):
        full = ck[name].read()
        np.testing.assert_array_equal(ck[name].read_rows(17, 40), full[17:40])
        blocks = [b for _, b in ck[name].iter_rows(max_bytes=10 * full.shape[1] * 4)]
        assert len(blocks) > 1
        np.testing.assert_array_equal(np.concatenate(blocks), full)


def test_split_files(tmp_path):
    src = _source(2)
    steps = write_gguf(tmp_path / "model.gguf", src, split_max_tensors=3)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["model-00001-of-00003.gguf", "model-00002-of-00003.gguf", "model-00003-of-00003.gguf"]
    for target in (tmp_path, tmp_path / names[0], tmp_path / names[2]):
        ck = open_checkpoint(target)
        assert [f.name for f in ck.files] == names
        assert list(ck.tensors) == list(src)
        assert ck.metadata["gguf"]["split.count"] == 3
    _check_values(ck, src, steps)


def test_missing_split(tmp_path):
    write_gguf(tmp_path / "model.gguf", _source(), split_max_tensors=3)
    (tmp_path / "model-00002-of-00003.gguf").unlink()
    with pytest.raises(InputError, match="model-00002-of-00003.gguf.*missing"):
        open_checkpoint(tmp_path / "model-00001-of-00003.gguf")


def test_type_gguf_cannot_dequantize_is_named(tmp_path):
    w = gguf.GGUFWriter(tmp_path / "m.gguf", "llama")
    w.add_tensor("a", np.ones((2, 256), np.float32))
    block, size = gguf.GGML_QUANT_SIZES[T.Q8_K]
    w.add_tensor("b", np.zeros((2, size), np.uint8), raw_dtype=T.Q8_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    ck = open_checkpoint(tmp_path / "m.gguf")
    assert ck["b"].shape == (2, 256) and ck["b"].dtype == "Q8_K"
    assert any("Q8_K" in w for w in ck.warnings)
    np.testing.assert_array_equal(ck["a"].read(), np.ones((2, 256), np.float32))
    with pytest.raises(InputError, match="'b' has GGML type Q8_K"):
        ck["b"].read()


def write_with_unknown_type(path):
    write_gguf(path, _source())
    reader = gguf.GGUFReader(path, "r+")
    reader.tensors[2].field.parts[4][0] = 99  # the raw type id of the third tensor
    reader.data.flush()
    del reader


def test_unknown_type_id(tmp_path):
    write_with_unknown_type(tmp_path / "m.gguf")
    with pytest.raises(InputError, match="m.gguf: unknown GGML tensor type id 99"):
        open_checkpoint(tmp_path / "m.gguf")


@pytest.mark.parametrize("keep", [10, 200, 5000, -100])
def test_truncated_gguf(tmp_path, keep):
    write_gguf(tmp_path / "m.gguf", _source())
    data = (tmp_path / "m.gguf").read_bytes()
    (tmp_path / "m.gguf").write_bytes(data[:keep])
    with pytest.raises(InputError, match="m.gguf: truncated"):
        open_checkpoint(tmp_path / "m.gguf")


def test_directory_with_two_models(tmp_path):
    write_gguf(tmp_path / "a-Q8_0.gguf", _source())
    write_gguf(tmp_path / "a-F16.gguf", _source())
    with pytest.raises(InputError, match="2 GGUF models"):
        open_checkpoint(tmp_path)


def test_one_dimensional_quantized_tensor(tmp_path):
    x = np.random.default_rng(3).standard_normal(96).astype(np.float32)
    w = gguf.GGUFWriter(tmp_path / "m.gguf", "llama")
    w.add_tensor("v", gguf.quants.quantize(x, T.Q8_0), raw_dtype=T.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    ref = open_checkpoint(tmp_path / "m.gguf")["v"]
    assert ref.shape == (96,)
    expected = gguf.quants.dequantize(gguf.quants.quantize(x, T.Q8_0), T.Q8_0)
    np.testing.assert_array_equal(ref.read(), expected)
    np.testing.assert_array_equal(ref.read_rows(10, 50), expected[10:50])
