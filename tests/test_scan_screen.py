"""The screening vector (fingerprints/screen.py) and the search over it, on trained toy models and their variants."""

from __future__ import annotations

import numpy as np
import pytest

from fingerprints import variants as V
from fingerprints.compare import compare_fingerprints
from fingerprints.fingerprint import Fingerprint, compute_fingerprint
from fingerprints.screen import DIM, approx_top_k, screen_vector, top_k
from fingerprints.toymodels import ToyConfig, train

CFG = ToyConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=4)


@pytest.fixture(scope="module")
def zoo():
    arch = CFG.arch()
    # two trained models on different synthetic languages, three untrained ones (independent initialisations)
    bases = {f"b{s}": train(CFG, s, s, 60) for s in range(2)}
    bases.update({f"untrained{s}": train(CFG, 50 + s, 0, 0) for s in range(3)})
    b = bases["b0"]
    derived = {
        "noise": V.add_noise(b, relative=0.2, seed=1),
        "rotated+permuted": V.permute_neurons(V.rotate_residual(b, 2), 3),
        "pruned-layers": V.select_layers(b, [0, 1, 3]),
        "fine-tuned": train(CFG, 0, 1, 40, init=b),
        "vocab-extended": V.extend_vocab(b, 40),
        "lora-merged": V.lora_merge(b, rank=4, scale=0.5, seed=5),
    }
    fps = {n: compute_fingerprint(sd, arch) for n, sd in bases.items()}
    fps.update(
        {
            n: compute_fingerprint(sd, dict(arch, num_hidden_layers=3) if n == "pruned-layers" else arch)
            for n, sd in derived.items()
        }
    )
    return bases, derived, fps


def test_vector_is_unit_length_and_deterministic(zoo):
    _, _, fps = zoo
    v = screen_vector(fps["b0"])
    assert v.shape == (DIM,) and v.dtype == np.float32 and abs(float(np.linalg.norm(v)) - 1) < 1e-5
    again = Fingerprint.from_bytes(fps["b0"].to_bytes())
    assert screen_vector(again).tobytes() == v.tobytes()


def test_every_variant_ranks_its_base_first(zoo):
    bases, derived, fps = zoo
    names = sorted(bases)
    index = np.stack([screen_vector(fps[n]) for n in names])
    for d in derived:
        sims = index @ screen_vector(fps[d])
        assert names[int(np.argmax(sims))] == "b0", (d, dict(zip(names, sims.round(3))))
        # ...with a margin over the best independent model
        assert sims[names.index("b0")] - np.max(np.delete(sims, names.index("b0"))) > 0.2, d


def test_screen_tracks_the_full_comparison(zoo):
    """The screen's dot product ranks pairs as the full fingerprint score does (a rank correlation)."""
    from scipy.stats import spearmanr

    _, _, fps = zoo
    names = sorted(fps)
    s, f = [], []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            s.append(float(screen_vector(fps[a]) @ screen_vector(fps[b])))
            f.append(compare_fingerprints(fps[a], fps[b])["score"])
    assert spearmanr(s, f).statistic > 0.7


def test_anchor_order_does_not_matter(zoo):
    """Anchors are keyed by token, not by position: reordering them (with the Grams) leaves the vector alone."""
    _, _, fps = zoo
    fp = fps["b1"]
    k = len(fp.anchors)
    perm = np.random.default_rng(0).permutation(k)
    iu = np.triu_indices(k)
    grams = np.empty_like(fp.grams)
    for layer in range(fp.grams.shape[0]):
        for j in range(fp.grams.shape[1]):
            g = fp.gram(layer, j)[np.ix_(perm, perm)]
            grams[layer, j] = g[iu].astype(np.float16)
    meta = dict(fp.meta, anchors=[fp.anchors[i] for i in perm])
    moved = Fingerprint(meta=meta, grams=grams, gain_profiles=fp.gain_profiles, norms=fp.norms)
    assert float(screen_vector(moved) @ screen_vector(fp)) > 0.999


def test_exact_top_k_matches_brute_force():
    rng = np.random.default_rng(1)
    idx = rng.standard_normal((300, 32)).astype(np.float32)
    q = rng.standard_normal((50, 32)).astype(np.float32)
    exclude = rng.integers(-1, 300, 50)
    pos, val = top_k(q, idx, 7, exclude, chunk=16)
    sims = q @ idx.T
    for i in range(50):
        s = sims[i].copy()
        if exclude[i] >= 0:
            s[exclude[i]] = -np.inf
        want = sorted(range(300), key=lambda j: (-s[j], j))[:7]
        assert list(pos[i]) == want and np.allclose(val[i], s[want])
        assert exclude[i] not in pos[i]


def test_approximate_index_finds_the_same_neighbours_on_a_small_set():
    pytest.importorskip("usearch")
    rng = np.random.default_rng(2)
    idx = rng.standard_normal((500, 64)).astype(np.float32)
    idx /= np.linalg.norm(idx, axis=1, keepdims=True)
    q = idx[:40] + 0.05 * rng.standard_normal((40, 64)).astype(np.float32)
    exact, _ = top_k(q, idx, 1)
    approx, _ = approx_top_k(q, idx, 1)
    assert (exact[:, 0] == np.arange(40)).all()
    assert (approx[:, 0] == exact[:, 0]).mean() >= 0.95
    pos, _ = approx_top_k(idx[:5], idx, 3, exclude=np.arange(5))
    assert all(i not in pos[i] for i in range(5))
