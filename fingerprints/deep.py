"""Deep pairwise comparison of two models whose weights are both at hand.

Steps (fingerprinting.md, sections A and B):
1. fingerprints of both (one pass each): per-tensor hashes prove exact copies, token-space CKA maps the layers
   (argmax per suspect layer, so pruned, duplicated and reordered layers are handled);
2. residual alignment from shared-token embedding rows (signed permutation, Procrustes fallback);
3. per mapped layer pair: unbiased CKA of the aligned weight Grams (q, k), and the neuron test — the suspect's MLP
   neurons (a deterministic subset of rows) are matched to the reference's by linear assignment twice, once on
   gate rows and once on up rows; for a derived model both matchings recover the same neuron correspondence
   (whatever permutation was applied), for independent models they are unrelated. The per-layer statistic is
   Spearman's ρ between the two matchings, ln p = ln Φ̄(ρ·√(n−1)/κ) with κ from calibration;
4. Fisher's combination over distinct reference layers (suspect layers mapped to one reference layer count once,
   with a Bonferroni factor), in log space.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from fingerprints.align import align_residual, rotation
from fingerprints.calibration import load_calibration
from fingerprints.canon import ModelView, as_array
from fingerprints.compare import compare_fingerprints
from fingerprints.fingerprint import WORKERS, Fingerprint, blas_threads, compute_fingerprint, select_rows
from fingerprints.neurons import neuron_test
from fingerprints.stats import cka_u, fisher_ln_p, log10_p, p_value

MAX_ALIGN_TOKENS = 16384


def shared_token_rows(
    va: ModelView, vb: ModelView, strings_a: list[str] | None, strings_b: list[str] | None
) -> tuple[np.ndarray, np.ndarray, str]:
    """Row indices of tokens present in both vocabularies: by string when both are known, else by index."""
    if strings_a and strings_b:
        pos_b: dict[str, int] = {}
        for i, s in enumerate(strings_b[: vb.vocab_size]):
            pos_b.setdefault(s, i)
        pairs = [(i, pos_b[s]) for i, s in enumerate(strings_a[: va.vocab_size]) if s in pos_b]
        if len(pairs) >= 16:
            a, b = map(np.asarray, zip(*pairs))
            return a, b, "token-string"
    n = min(va.vocab_size, vb.vocab_size)
    return np.arange(n), np.arange(n), "token-index"


# Mixture-of-experts MLPs under canonical names (Qwen2-MoE's, which normalization maps Mixtral and DeepSeek-MoE to):
# routed experts and the optional always-on shared expert.
_EXPERT = re.compile(r"^model\.layers\.(\d+)\.mlp\.(?:experts\.(\d+)|(shared_expert))\.(gate|up|down)_proj\.weight$")
# v and o (two more matrix reads per layer) are compared head by head only when q and k leave a label open: their
# heads unchanged in direction (then a v/o rescaling, or nothing, remains to be told apart) or visibly rescaled.
# The values mirror fingerprints.verdict's EXACT_DIRECTION_COS and RESCALE_SPREAD.
VO_CHECK_COS = 0.9995
VO_CHECK_SPREAD = 0.1
MAX_EXPERT_PAIRS = 64  # MLP pairs tested per layer when both sides are mixtures of different sizes


def expert_index(tensors: Mapping[str, Any]) -> dict[int, dict[str, dict[str, str]]]:
    """``{layer: {"expert 3" | "shared expert": {"gate" | "up" | "down": name}}}`` for the MoE layers."""
    out: dict[int, dict[str, dict[str, str]]] = {}
    for name in tensors:
        m = _EXPERT.match(name)
        if m:
            label = f"expert {int(m.group(2))}" if m.group(2) is not None else "shared expert"
            out.setdefault(int(m.group(1)), {}).setdefault(label, {})[m.group(4)] = name
    return out


def _unit_key(label: str) -> tuple:
    return (label == "shared expert", int(label.split()[-1]) if label.startswith("expert") else 0)


def mlp_units(
    view: ModelView, experts: dict[int, dict[str, dict[str, str]]], layer: int
) -> list[tuple[str, Callable[[str], np.ndarray], tuple[str, ...]]]:
    """The MLPs of one layer as (label, reader of a role with the MLP gain folded in, roles present): the dense
    MLP, or each expert of a mixture."""
    units = []
    if any(view.has(layer, r) for r in ("gate", "up", "down")):
        roles = tuple(r for r in ("gate", "up", "down") if view.has(layer, r))
        units.append(("dense", lambda r, _l=layer: view.folded(_l, r), roles))
    gain = None
    for label in sorted(experts.get(layer, {}), key=_unit_key):
        names = experts[layer][label]

        def read(r: str, _n=names) -> np.ndarray:
            nonlocal gain
            w = as_array(view.tensors[_n[r]])
            if r == "down":
                return w
            if gain is None:
                gain = view.gain(layer, "mlp_norm")
            return w * gain[None, :]

        units.append((label, read, tuple(r for r in ("gate", "up", "down") if r in names)))
    return units


def gain_moves(
    ga: np.ndarray, gb: np.ndarray, fa: np.ndarray, fb: np.ndarray, rotate: Callable[[np.ndarray], np.ndarray]
) -> dict[str, float]:
    """How far the norm gains moved per channel (sd of ln g_b/g_a) against how far the folded input columns moved
    (sd of ln of their norm ratio). A gain moved into the next weights (γ·c, W/c) moves the first and leaves the
    second at 0; training moves both. Column norms ignore row order, so permuted heads or neurons do not matter."""
    ra = np.abs(rotate(ga[None, :])[0])
    na, nb = np.linalg.norm(fa, axis=0), np.linalg.norm(fb, axis=0)
    ok = (ra > 0) & (np.abs(gb) > 0) & (na > 0) & (nb > 0)
    if ok.sum() < 2:
        return {}
    return {
        "gain_log_sd": round(float(np.std(np.log(np.abs(gb[ok]) / ra[ok]))), 4),
        "folded_column_log_sd": round(float(np.std(np.log(nb[ok] / na[ok]))), 4),
    }


def _all_ones(view: ModelView) -> bool:
    """Every attention-norm gain is 1 (absent, or folded away)."""
    return all(np.allclose(view.gain(L, "attn_norm"), 1.0) for L in view.layers)


def kv_like(w: np.ndarray, kv_from: int, kv_to: int) -> np.ndarray | None:
    """Key or value rows ``[kv_from·head_dim, d]`` brought to ``kv_to`` heads the way GQA conversions do it: each
    head repeated (expansion to more heads) or each group averaged (mean-pooling to fewer); None if they do not
    divide."""
    if kv_from == kv_to:
        return w
    if kv_from <= 0 or kv_to <= 0 or w.shape[0] % kv_from:
        return None
    heads = w.reshape(kv_from, w.shape[0] // kv_from, -1)
    if kv_to > kv_from and kv_to % kv_from == 0:
        heads = np.repeat(heads, kv_to // kv_from, axis=0)
    elif kv_to < kv_from and kv_from % kv_to == 0:
        heads = heads.reshape(kv_to, kv_from // kv_to, heads.shape[1], -1).mean(axis=1)
    else:
        return None
    return heads.reshape(-1, w.shape[1])


def head_scales(wa: np.ndarray, wb: np.ndarray, n_heads: int) -> tuple[float, float]:
    """Per-head agreement of two weight blocks in one basis, ``[n_heads·head_dim, d]`` each. Heads are first
    matched one to one (by linear assignment on their cosines, so permuted heads line up); returns the spread of the
    matched heads' norm ratios s_h = ‖b_h‖/‖a_h‖ (max |ln s_h − median|) and the smallest matched cosine. A per-head
    rescaling (query ×a, key ÷a; value ×b, output ÷b) moves the ratios but keeps every cosine at 1."""
    if wa.shape != wb.shape or n_heads <= 0 or wa.shape[0] % n_heads:
        return 0.0, 0.0
    a = wa.reshape(n_heads, -1)  # float32 products (no float64 copy of the matrices); the rest in float64
    b = wb.reshape(n_heads, -1).astype(a.dtype, copy=False)
    na = np.sqrt(np.einsum("ij,ij->i", a, a).astype(np.float64))
    nb = np.sqrt(np.einsum("ij,ij->i", b, b).astype(np.float64))
    if not (np.all(na > 0) and np.all(nb > 0)):
        return 0.0, 0.0
    cos = (a @ b.T).astype(np.float64) / np.outer(na, nb)
    rows, cols = linear_sum_assignment(cos, maximize=True)
    ls = np.log(nb[cols] / na[rows])  # the norm ratio: unlike a projection it does not shrink as training turns a head
    return float(np.abs(ls - np.median(ls)).max()), float(cos[rows, cols].min())


def deep_compare(
    ref_tensors: Mapping[str, Any],
    ref_arch: Mapping[str, Any] | None,
    sus_tensors: Mapping[str, Any],
    sus_arch: Mapping[str, Any] | None,
    *,
    ref_tokens: list[str] | None = None,
    sus_tokens: list[str] | None = None,
    ref_fingerprint: Fingerprint | None = None,
    sus_fingerprint: Fingerprint | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Evidence that ``sus`` shares weight lineage with ``ref`` (both canonical HF-named tensor mappings)."""
    calib = load_calibration()
    inflation = max(1.0, calib["neuron_z_sd"] * calib["neuron_z_safety"])

    def step(what: str) -> Callable[[int, int], None] | None:
        return (lambda d, t: progress(what, d, t)) if progress else None

    fa = ref_fingerprint or compute_fingerprint(
        ref_tensors, ref_arch, token_strings=ref_tokens, progress=step("fingerprint reference")
    )
    fb = sus_fingerprint or compute_fingerprint(
        sus_tensors, sus_arch, token_strings=sus_tokens, progress=step("fingerprint suspect")
    )
    fp = compare_fingerprints(fa, fb)
    va, vb = ModelView(ref_tensors, ref_arch), ModelView(sus_tensors, sus_arch)

    if progress:
        progress("align residual streams", 0, 1)
    ta, tb, vocab_mode = shared_token_rows(va, vb, ref_tokens, sus_tokens)
    if len(ta) > MAX_ALIGN_TOKENS:  # a deterministic, evenly spread subset is plenty for d ≤ 8192
        keep = np.linspace(0, len(ta) - 1, MAX_ALIGN_TOKENS).round().astype(int)
        ta, tb = ta[keep], tb[keep]
    ea = select_rows(va.embedding(), ta)
    eb = select_rows(vb.embedding(), tb)
    alignment = align_residual(ea, eb)
    del ea, eb
    if progress:
        progress("align residual streams", 1, 1)
    q = alignment.q
    rotate = rotation(q)  # h_reference -> h_suspect basis; a gather for signed permutations

    experts_a, experts_b = expert_index(ref_tensors), expert_index(sus_tensors)
    # Raw (unfolded) weights are comparable only when the bases match channel for channel and both keep gains.
    compare_raw = alignment.kind in ("identity", "signed-permutation", "channel-subset") and not (
        _all_ones(va) or _all_ones(vb)
    )
    lmap = fp["layer_map_positions"]
    total = len(lmap)

    def one_layer(bpos: int, apos: int) -> dict[str, Any]:
        la, lb = va.layers[apos], vb.layers[bpos]
        entry: dict[str, Any] = {
            "suspect": lb,
            "reference": la,
            "token_cka": round(float(fp["similarity"][apos, bpos]), 4),
        }
        ckas = []
        spreads, coss = [], []
        heads_comparable = va.heads_known and vb.heads_known and va.n_heads == vb.n_heads
        for role in ("q", "k", "v", "o"):
            if role == "v" and coss and min(coss) < VO_CHECK_COS and max(spreads) <= VO_CHECK_SPREAD:
                break  # q and k already moved by training, no rescaling seen: v and o would not change a label
            if va.has(la, role) and vb.has(lb, role):
                if role == "o":  # the residual axis of o is its rows; heads are its columns
                    wa, wb = rotate(va.folded(la, role).T), vb.folded(lb, role).T
                else:
                    wa, wb = rotate(va.folded(la, role)), vb.folded(lb, role)
                    if role == "q" and compare_raw:
                        entry.update(gain_moves(va.gain(la, "attn_norm"), vb.gain(lb, "attn_norm"), wa, wb, rotate))
                if role in ("q", "k"):
                    ckas.append(cka_u(wa.T @ wa, wb.T @ wb))  # float32 Grams; CKA itself runs in float64
                if heads_comparable:
                    heads = va.n_heads
                    if role in ("k", "v"):  # the reference's kv heads repeated or averaged to the suspect's count
                        wa, heads = kv_like(wa, va.n_kv_heads, vb.n_kv_heads), vb.n_kv_heads
                        if wa is None:
                            continue
                    sp, cs = head_scales(wa, wb, heads)
                    spreads.append(sp)
                    coss.append(cs)
        entry["weight_cka_qk"] = round(float(np.mean(ckas)), 4) if ckas else None
        if coss:
            entry["head_scale_spread"] = round(max(spreads), 4)
            entry["head_direction_cos"] = round(min(coss), 4)

        tests: list[tuple[str, str, dict]] = []
        ua, ub = mlp_units(va, experts_a, la), mlp_units(vb, experts_b, lb)
        if len(ua) > 1 and len(ub) > 1 and [u[0] for u in ua] == [u[0] for u in ub]:
            pairs = list(zip(ua, ub))  # mixture against mixture of one layout: expert by expert
        else:
            pairs = [(x, y) for x in ua for y in ub][:MAX_EXPERT_PAIRS]
        for (lab_a, ra, rsa), (lab_b, rb, rsb) in pairs:
            if "gate" in rsa and "gate" in rsb and "up" in rsa and "up" in rsb:
                t1 = neuron_test(rotate(ra("gate")), rotate(ra("up")), rb("gate"), rb("up"), inflation)
            elif "up" in rsa and "up" in rsb and "down" in rsa and "down" in rsb:
                # plain MLP (GPT-NeoX, GPT-2, Falcon): a neuron's input row and output column
                t1 = neuron_test(rotate(ra("up")), rotate(ra("down").T), rb("up"), rb("down").T, inflation)
                entry["neuron_views"] = "up rows, down columns"
            else:
                continue
            tests.append((lab_a, lab_b, t1))
        t = None
        if tests:
            # Several MLP pairs in one layer (experts): the best one, with a Bonferroni factor for the choice.
            lab_a, lab_b, t = min(tests, key=lambda x: x[2]["ln_p"])
            t = dict(t, ln_p=min(0.0, t["ln_p"] + math.log(len(tests))))
            if len(tests) > 1 or lab_a != "dense" or lab_b != "dense":
                entry["experts"] = [
                    {
                        "reference_mlp": a,
                        "suspect_mlp": b,
                        "neuron_rho": round(x["rho"], 4),
                        "neuron_agreement": round(x["agreement"], 4),
                        "log10_p": round(log10_p(x["ln_p"]), 2),
                    }
                    for a, b, x in tests
                ]
        if t is not None:
            entry.update(
                {
                    "neuron_rho": round(t["rho"], 4),
                    "neurons_tested": t["n"],
                    "neuron_min_cos": round(t["matched_cos"], 4),
                    "neuron_agreement": round(t["agreement"], 4),
                    "ln_p": t["ln_p"],
                    "log10_p": round(log10_p(t["ln_p"]), 2),
                }
            )
            if t["identity_fraction"] is not None:
                entry["neurons_in_place"] = round(t["identity_fraction"], 4)
        return entry

    # Layers are independent: WORKERS at a time, one BLAS thread each (results do not depend on the count).
    layers = []
    with blas_threads(1 if WORKERS > 1 else None), ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(one_layer, bpos, apos) for bpos, apos in enumerate(lmap)]
        for i, f in enumerate(futures):
            layers.append(f.result())
            if progress:
                progress("compare layers", i + 1, total)

    # One term per distinct reference layer: duplicated suspect layers must not count twice.
    groups: dict[int, list[float]] = {}
    for e in layers:
        if "ln_p" in e:
            groups.setdefault(e["reference"], []).append(e["ln_p"])
    terms = [min(0.0, min(v) + math.log(len(v))) for v in groups.values()]
    ln_p = fisher_ln_p(terms) if terms else 0.0
    # No layer has an MLP to match neurons in: the deep test has nothing to say, so the fingerprint test decides.
    evidence = "neuron-matching" if terms else "fingerprint (no MLP neuron test was possible)"
    if not terms:
        ln_p = float(fp["ln_p"])
    tested = [e for e in layers if "neuron_agreement" in e]
    score = float(np.mean([e["neuron_agreement"] for e in tested])) if tested else 0.0
    return {
        "fingerprint": fp,
        "alignment": dict(alignment.as_dict(), shared_tokens=int(len(ta)), vocab_match=vocab_mode),
        "layers": layers,
        "ln_p": ln_p,
        "log10_p": log10_p(ln_p),
        "p_value": p_value(ln_p),
        "score": score,
        "reference_fingerprint": fa,
        "suspect_fingerprint": fb,
        "neuron_inflation": inflation,
        "evidence": evidence,
    }
