"""fingerprints: statistics, hashing, canonicalisation and the stored fingerprint, on small synthetic inputs."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from scipy.stats import chi2

from fingerprints import Fingerprint, compare_fingerprints, compute_fingerprint, is_fingerprint_file
from fingerprints.align import align_residual
from fingerprints.canon import ModelView, expand_kv
from fingerprints.hashing import _bf16_extremes, tensor_hash
from fingerprints.stats import cka_u, fisher_ln_p, spearman_ln_p
from provenance.examples import TinyLlamaConfig, llama_state_dict


def test_fisher_in_log_space_matches_scipy_and_does_not_underflow():
    ln_ps = np.log([0.01, 0.2, 0.5, 0.03])
    assert fisher_ln_p(ln_ps) == pytest.approx(math.log(chi2.sf(-2 * ln_ps.sum(), 8)), rel=1e-9)
    tiny = fisher_ln_p([-900.0, -800.0, -1000.0])  # each p far below 1e-308
    assert -2700 < tiny < -2600 and math.isfinite(tiny)
    assert spearman_ln_p(1.0, 10001) < -4000  # z = 100: p ≈ 1e-2174, still finite in log space


def test_unbiased_cka_is_one_for_identical_and_near_zero_for_independent():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((200, 50)), rng.standard_normal((200, 50))
    assert cka_u(x @ x.T, x @ x.T) == pytest.approx(1.0)
    assert cka_u(x @ x.T, 3.0 * x @ x.T) == pytest.approx(1.0)
    assert abs(cka_u(x @ x.T, y @ y.T)) < 0.05


def test_gqa_expansion_is_repeat_interleave_not_tile():
    w = np.arange(2 * 3 * 1, dtype=np.float32).reshape(6, 1)  # 2 kv heads, head_dim 3
    out = expand_kv(w, n_heads=4, n_kv_heads=2)[:, 0]
    assert out.tolist() == [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]


def test_content_hash_ignores_name_shape_and_bf16_storage_but_not_values():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 16)).astype(ml_dtypes.bfloat16).astype(np.float32)
    bits = x.astype(ml_dtypes.bfloat16).view(np.uint16)
    h = tensor_hash(x)
    assert tensor_hash(x.reshape(16, 8)) == h
    assert tensor_hash(x, bf16_bits=bits)["content"] == h["content"]
    y = x.copy()
    y[0, 0] += 1e-3
    assert tensor_hash(y)["content"] != h["content"]
    assert tensor_hash(np.ascontiguousarray(x.T))["layout"] == h["layout"]  # same values, other layout
    assert tensor_hash(np.ascontiguousarray(x.T))["content"] != h["content"]


@pytest.mark.parametrize("kind", ["any", "positive", "negative", "zeros-and-ones", "non-finite"])
def test_bf16_min_max_from_bits_agree_with_the_widened_floats(kind):
    rng = np.random.default_rng(3)
    for _ in range(300):
        n = int(rng.integers(1, 40))
        if kind == "any":
            bits = rng.integers(0, 0x7F80, n) | (rng.integers(0, 2, n) << 15)
        elif kind == "positive":
            bits = rng.integers(0, 0x7F80, n)
        elif kind == "negative":
            bits = rng.integers(0x8000, 0xFF80, n)
        elif kind == "zeros-and-ones":
            bits = rng.choice([0x0000, 0x8000, 0x3F80, 0xBF80, 0x0001, 0x8001], n)
        else:
            bits = rng.integers(0, 0x10000, n)
            bits[int(rng.integers(0, n))] = rng.choice([0x7F80, 0xFF80, 0x7FC0, 0xFFC1])  # ±inf, NaNs
        bits = np.asarray(bits, dtype=np.uint16)
        vals = bits.view(ml_dtypes.bfloat16).astype(np.float32)
        lo, hi = _bf16_extremes(bits)
        if not np.isfinite(vals).all():
            assert math.isnan(lo) and math.isnan(hi)
        else:
            assert (lo, hi) == (float(vals.min()), float(vals.max())), bits
    # the layout signature is the same whether the values arrive as bf16 bits or as float32
    x = rng.standard_normal((6, 5)).astype(ml_dtypes.bfloat16)
    assert tensor_hash(x.astype(np.float32), bf16_bits=x.view(np.uint16)) == tensor_hash(x.astype(np.float32))


def test_fingerprints_with_different_anchor_counts_agree_on_the_anchors_they_share():
    from fingerprints.compare import similarity_matrix

    sd, arch = _sd()
    big, small = compute_fingerprint(sd, arch, anchors=128), compute_fingerprint(sd, arch)
    assert small.anchors == big.anchors[:32]  # min-hash order: the default anchors are a prefix of any larger set
    sim, info = similarity_matrix(big, small)
    assert info["shared_anchors"] == 32 and np.allclose(np.diag(sim), 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="at least 32"):
        compute_fingerprint(sd, arch, anchors=16)


def test_hashes_of_different_functions_are_not_compared():
    from fingerprints.verdict import caveats

    sd, arch = _sd()
    new, old = compute_fingerprint(sd, arch), compute_fingerprint(sd, arch)
    assert new.meta["content_hash"] == "blake3-160"
    del old.meta["content_hash"]  # as in files of versions 1 and 2, whose hashes were SHA-1
    res = compare_fingerprints(old, new)
    h = res["hashes"]
    assert not h["comparable"] and h["identical_tensors"] == 0 and not h["all_identical"]
    assert (h["hash_reference"], h["hash_suspect"]) == ("sha1", "blake3-160")
    assert res["score"] > 0.999 and res["log10_p"] < -6  # the Grams still show the copy
    assert any("different functions" in c for c in caveats("fingerprint", res, None, "derived"))
    assert compare_fingerprints(new, new)["hashes"]["comparable"]


def test_alignment_recovers_signed_permutation_and_rotation():
    rng = np.random.default_rng(2)
    e = rng.standard_normal((500, 32))
    perm = rng.permutation(32)
    signs = rng.choice([-1.0, 1.0], 32)
    a = align_residual(e, e[:, perm] * signs)
    assert a.kind == "signed-permutation" and a.fit_residual < 1e-6
    q, _ = np.linalg.qr(rng.standard_normal((32, 32)))
    r = align_residual(e, e @ q)
    assert r.kind == "rotation" and r.fit_residual < 1e-5
    assert align_residual(e, rng.standard_normal((500, 32))).kind == "none-found"


def _sd(seed=0, **kw):
    cfg = TinyLlamaConfig(vocab_size=512, **kw)
    return llama_state_dict(cfg, seed), cfg.hf_config()


def test_fingerprint_round_trip_is_deterministic_and_small(tmp_path):
    sd, arch = _sd()
    fp = compute_fingerprint(sd, arch)
    p1, p2 = fp.save(tmp_path / "a.fp"), compute_fingerprint(sd, arch).save(tmp_path / "b.fp")
    assert p1.read_bytes() == p2.read_bytes()
    assert is_fingerprint_file(p1) and not is_fingerprint_file(tmp_path)
    back = Fingerprint.load(p1)
    assert back.meta == fp.meta and np.array_equal(back.grams, fp.grams)
    # 7B extrapolation: 32 layers × 9 invariants × 528 × 2 bytes ≈ 0.3 MB (+ hashes); even 128 anchors stay under 8 MB
    per_layer = fp.grams[0].nbytes
    assert fp.grams.shape[2] == 32 * 33 // 2 and 32 * per_layer + 300 * 120 < 1_000_000
    assert 32 * compute_fingerprint(sd, arch, anchors=128).grams[0].nbytes + 300 * 120 < 8_000_000


def test_fingerprint_reads_each_tensor_once():
    sd, arch = _sd()
    reads: dict[str, int] = {}

    class Lazy:
        def __init__(self, name, arr):
            self.name, self.arr, self.shape = name, arr, arr.shape

        def read(self):
            reads[self.name] = reads.get(self.name, 0) + 1
            return self.arr

    compute_fingerprint({k: Lazy(k, v) for k, v in sd.items()}, arch)
    assert set(reads) == set(sd) and set(reads.values()) == {1}


def test_fingerprint_compare_separates_copies_from_independent():
    sd, arch = _sd(0)
    other, _ = _sd(1)
    fa, fb, fc = compute_fingerprint(sd, arch), compute_fingerprint(dict(sd), arch), compute_fingerprint(other, arch)
    same = compare_fingerprints(fa, fb)  # its speed is measured in benchmarks/bench_lineage.py
    assert same["hashes"]["all_identical"] and same["log10_p"] < -6
    ind = compare_fingerprints(fa, fc)
    assert ind["log10_p"] > -2 and ind["hashes"]["identical_tensors"] == 0


def test_model_view_folds_gains():
    sd, arch = _sd()
    v = ModelView(sd, arch)
    g = sd["model.layers.0.input_layernorm.weight"]
    assert np.allclose(v.folded(0, "q"), sd["model.layers.0.self_attn.q_proj.weight"] * g[None, :])
    assert (v.n_heads, v.n_kv_heads, v.head_dim) == (8, 4, 8)


def test_per_head_invariants_are_left_out_when_the_head_layout_is_unknown():
    sd, arch = _sd()
    inv = list(compute_fingerprint(sd, arch).meta["invariants"])
    with_heads = np.asarray(compute_fingerprint(sd, arch).meta["present"])
    no_config = compute_fingerprint(sd, None)
    without = np.asarray(no_config.meta["present"])
    circuits = [inv.index("qk"), inv.index("ov")]
    assert with_heads[:, circuits].all() and not without[:, circuits].any()
    assert no_config.meta["heads_known"] is False
    # the other invariants still identify the copy
    assert compare_fingerprints(no_config, compute_fingerprint(sd, arch))["score"] > 0.99


def test_plain_math_normal_tail_and_ranks_match_scipy():
    from scipy.stats import norm
    from scipy.stats import rankdata as scipy_rankdata

    from fingerprints.stats import norm_logsf, rankdata

    for z in (-40.0, -3.0, -0.2, 0.0, 1.7, 6.0, 29.99, 30.0, 31.0, 45.0, 300.0):
        assert norm_logsf(z) == pytest.approx(norm.logsf(z), rel=1e-12, abs=1e-15), z
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, size=200).astype(float)  # many ties
    assert np.array_equal(rankdata(x), scipy_rankdata(x))
