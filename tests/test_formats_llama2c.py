"""llama2.c model.bin: v0, v1 and v2 files written the way llama2.c export.py writes them, and the real stories260K."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from provenance.checkpoint import open_checkpoint
from provenance.errors import InputError
from provenance.formats.llama2c_sniff import v0_expected_size

CFG = dict(dim=16, hidden=40, layers=2, heads=4, kv_heads=2, vocab=32, seq=8)


def _weights(seed=0, cfg=CFG):
    """A Meta-named fp32 state dict with llama2.c shapes."""
    rng = np.random.default_rng(seed)
    d, h, n, nh, nkv, v, s = (cfg[k] for k in ("dim", "hidden", "layers", "heads", "kv_heads", "vocab", "seq"))
    hd = d // nh
    f = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    w = {
        "tok_embeddings.weight": f(v, d),
        "norm.weight": f(d),
        "output.weight": f(v, d),
        "freq_cis_real": f(s, hd // 2),
        "freq_cis_imag": f(s, hd // 2),
    }
    for i in range(n):
        p = f"layers.{i}."
        w.update(
            {
                p + "attention_norm.weight": f(d),
                p + "ffn_norm.weight": f(d),
                p + "attention.wq.weight": f(d, d),
                p + "attention.wk.weight": f(nkv * hd, d),
                p + "attention.wv.weight": f(nkv * hd, d),
                p + "attention.wo.weight": f(d, d),
                p + "feed_forward.w1.weight": f(h, d),
                p + "feed_forward.w2.weight": f(d, h),
                p + "feed_forward.w3.weight": f(h, d),
            }
        )
    return w


def _layer(w, kind, n=CFG["layers"]):
    sub = {
        "attention_norm": "attention_norm",
        "ffn_norm": "ffn_norm",
        "wq": "attention.wq",
        "wk": "attention.wk",
        "wv": "attention.wv",
        "wo": "attention.wo",
        "w1": "feed_forward.w1",
        "w2": "feed_forward.w2",
        "w3": "feed_forward.w3",
    }[kind]
    return [w[f"layers.{i}.{sub}.weight"] for i in range(n)]


def write_v0(path, w, shared, cfg=CFG):
    """Mirror of llama2.c export.py legacy_export."""
    vocab = cfg["vocab"] if shared else -cfg["vocab"]
    with open(path, "wb") as fh:
        fh.write(
            struct.pack(
                "iiiiiii", cfg["dim"], cfg["hidden"], cfg["layers"], cfg["heads"], cfg["kv_heads"], vocab, cfg["seq"]
            )
        )
        arrays = [w["tok_embeddings.weight"]]
        for kind in ("attention_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3"):
            arrays += _layer(w, kind)
        arrays += [w["norm.weight"], w["freq_cis_real"], w["freq_cis_imag"]]
        if not shared:
            arrays.append(w["output.weight"])
        for a in arrays:
            fh.write(a.astype(np.float32).tobytes())


def _v1_order(w, shared):
    arrays = _layer(w, "attention_norm") + _layer(w, "ffn_norm") + [w["norm.weight"], w["tok_embeddings.weight"]]
    for kind in ("wq", "wk", "wv", "wo", "w1", "w2", "w3"):
        arrays += _layer(w, kind)
    return arrays + ([] if shared else [w["output.weight"]])


def _header(version, shared, cfg=CFG, extra=b""):
    h = struct.pack("I", 0x616B3432) + struct.pack("i", version)
    h += struct.pack(
        "iiiiiii", cfg["dim"], cfg["hidden"], cfg["layers"], cfg["heads"], cfg["kv_heads"], cfg["vocab"], cfg["seq"]
    )
    h += struct.pack("B", int(shared)) + extra
    return h + b"\0" * (256 - len(h))


def write_v1(path, w, shared):
    """Mirror of llama2.c export.py version1_export."""
    with open(path, "wb") as fh:
        fh.write(_header(1, shared))
        for a in _v1_order(w, shared):
            fh.write(a.astype(np.float32).tobytes())


def quantize_q80(w, group_size):
    """As llama2.c export.py quantize_q80: symmetric int8 per group, scale = max|w| / 127."""
    g = w.reshape(-1, group_size).astype(np.float32)
    scale = np.abs(g).max(axis=1) / 127.0
    q = np.round(g / scale[:, None]).astype(np.int8)
    return q, scale.astype(np.float32)


def write_v2(path, w, shared, group_size=8, cfg=CFG):
    """Mirror of llama2.c export.py version2_export."""
    n = cfg["layers"]
    with open(path, "wb") as fh:
        fh.write(_header(2, shared, cfg=cfg, extra=struct.pack("i", group_size)))
        for a in _layer(w, "attention_norm", n) + _layer(w, "ffn_norm", n) + [w["norm.weight"]]:
            fh.write(a.astype(np.float32).tobytes())
        quant = [w["tok_embeddings.weight"]]
        for kind in ("wq", "wk", "wv", "wo", "w1", "w2", "w3"):
            quant += _layer(w, kind, n)
        if not shared:
            quant.append(w["output.weight"])
        for a in quant:
            q, s = quantize_q80(a, group_size)
            fh.write(q.tobytes())
            fh.write(s.tobytes())


@pytest.mark.parametrize("shared", [True, False])
def test_v0_values_read_back_exactly(tmp_path, shared):
    w = _weights()
    write_v0(tmp_path / "model.bin", w, shared)
    ck = open_checkpoint(tmp_path / "model.bin")
    assert ck.format == "llama2c"
    assert ck.metadata["llama2c"] == {
        "version": 0,
        "dim": 16,
        "hidden_dim": 40,
        "n_layers": 2,
        "n_heads": 4,
        "n_kv_heads": 2,
        "vocab_size": 32,
        "seq_len": 8,
        "shared_classifier": shared,
    }
    expected = {k: v for k, v in w.items() if not (shared and k == "output.weight")}
    assert set(ck.tensors) == set(expected)
    for name, arr in expected.items():
        assert ck[name].shape == arr.shape and ck[name].dtype == "F32"
        np.testing.assert_array_equal(ck[name].read(), arr)
    np.testing.assert_array_equal(
        ck["layers.1.feed_forward.w2.weight"].read_rows(3, 9), w["layers.1.feed_forward.w2.weight"][3:9]
    )


@pytest.mark.parametrize("shared", [True, False])
def test_v1_values_read_back_exactly(tmp_path, shared):
    w = _weights(1)
    write_v1(tmp_path / "model.bin", w, shared)
    ck = open_checkpoint(tmp_path)  # the directory works too
    assert ck.format == "llama2c" and ck.metadata["llama2c"]["version"] == 1
    assert ck.metadata["llama2c"]["shared_classifier"] is shared
    assert ("output.weight" in ck.tensors) is (not shared)
    assert "freq_cis_real" not in ck.tensors
    for name, ref in ck.tensors.items():
        np.testing.assert_array_equal(ref.read(), w[name])


def test_v2_q80_dequantizes_within_one_step(tmp_path):
    w = _weights(2)
    write_v2(tmp_path / "model.bin", w, shared=False)
    ck = open_checkpoint(tmp_path / "model.bin")
    assert ck.metadata["llama2c"]["group_size"] == 8
    wq = ck["layers.0.attention.wq.weight"]
    assert wq.dtype == "Q8_0" and ck["norm.weight"].dtype == "F32"
    for name, ref in ck.tensors.items():
        src = w[name]
        got = ref.read()
        if ref.dtype == "F32":
            np.testing.assert_array_equal(got, src)
        else:
            q, s = quantize_q80(src, 8)
            np.testing.assert_allclose(got, (q.astype(np.float32) * s[:, None]).reshape(src.shape), rtol=1e-6)
            assert np.abs(got - src).max() <= np.abs(src).max() / 127 * 0.51 + 1e-6
    # rows not aligned to groups (w2 rows have 40 values, 5 groups; w1 rows 16 values, 2 groups)
    np.testing.assert_array_equal(
        ck["layers.1.feed_forward.w2.weight"].read_rows(3, 7), ck["layers.1.feed_forward.w2.weight"].read()[3:7]
    )


def test_v0_truncated_is_an_input_error(tmp_path):
    w = _weights()
    write_v0(tmp_path / "model.bin", w, shared=True)
    data = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "model.bin").write_bytes(data[:-100])
    with pytest.raises(InputError, match="truncated llama2.c file"):
        open_checkpoint(tmp_path / "model.bin")


def test_v1_truncated_is_an_input_error(tmp_path):
    write_v1(tmp_path / "model.bin", _weights(), shared=True)
    data = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "model.bin").write_bytes(data[:1000])
    with pytest.raises(InputError, match="truncated llama2.c file"):
        open_checkpoint(tmp_path / "model.bin")


def test_v0_size_formula_matches_export(tmp_path):
    write_v0(tmp_path / "a.bin", _weights(), shared=False)
    values = (CFG["dim"], CFG["hidden"], CFG["layers"], CFG["heads"], CFG["kv_heads"], -CFG["vocab"], CFG["seq"])
    assert v0_expected_size(*values) == (tmp_path / "a.bin").stat().st_size


def test_stories260k(stories260k):
    ck = open_checkpoint(stories260k)
    assert ck.format == "llama2c"
    assert ck.metadata["llama2c"] == {
        "version": 0,
        "dim": 64,
        "hidden_dim": 172,
        "n_layers": 5,
        "n_heads": 8,
        "n_kv_heads": 4,
        "vocab_size": 512,
        "seq_len": 512,
        "shared_classifier": True,
    }
    assert ck["tok_embeddings.weight"].shape == (512, 64)
    assert ck["layers.4.attention.wk.weight"].shape == (32, 64)
    assert ck["layers.0.feed_forward.w2.weight"].shape == (64, 172)
    assert "output.weight" not in ck.tensors
    weights = sum(t.numel for n, t in ck.tensors.items() if not n.startswith("freq_cis"))
    assert weights == 260_032  # SOURCE.md
    # The stored RoPE table is cos(pos * theta^(-2i/hd)) with theta 10000 (SOURCE.md says it matches to < 1e-6).
    hd = 8
    freqs = 1.0 / (10000 ** (np.arange(0, hd, 2) / hd))
    cos = np.cos(np.outer(np.arange(512), freqs))
    np.testing.assert_allclose(ck["freq_cis_real"].read(), cos, atol=1e-5)
    norms = ck["layers.0.attention_norm.weight"].read()
    assert 0.3 < norms.min() and norms.max() < 3.0


def test_stories260k_int8_export_is_read_and_compares_derived(stories260k, tmp_path):
    """stories260K written as llama2.c's int8 export (export.py version2_export, Q8_0, group size 64 as export.py
    picks for dim 64): read back within one quantization step, and compare calls it derived from the original."""
    from provenance.lineage import compare_paths

    src = open_checkpoint(stories260k)
    w = {name: t.read() for name, t in src.tensors.items()}
    cfg = dict(dim=64, hidden=172, layers=5, heads=8, kv_heads=4, vocab=512, seq=512)
    write_v2(tmp_path / "model.bin", w, shared=True, group_size=64, cfg=cfg)
    ck = open_checkpoint(tmp_path / "model.bin")
    assert ck.metadata["llama2c"]["version"] == 2 and ck.metadata["llama2c"]["group_size"] == 64
    assert ck["layers.3.feed_forward.w2.weight"].dtype == "Q8_0"
    for name, ref in ck.tensors.items():
        got, want = ref.read(), w[name]
        step = np.abs(want).max() / 127
        assert np.abs(got - want).max() <= step * 0.51 + 1e-7, name
    r = compare_paths(tmp_path / "model.bin", stories260k)
    assert r["verdict"] == "derived" and r["log10_p_value"] <= -6
