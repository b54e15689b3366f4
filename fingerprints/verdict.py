"""From evidence to words: verdict thresholds, relation labels and caveats.

The verdict is a decision on a p-value (the probability of similarity this strong between independent models):
``derived`` only when log10 p ≤ DERIVED_LOG10_P, ``independent`` when log10 p > INDEPENDENT_LOG10_P, otherwise
``inconclusive``. The score never decides alone.
"""

from __future__ import annotations

import math
from typing import Any

DERIVED_LOG10_P = -6.0
NEAR_IDENTICAL_DRIFT = 0.01  # median relative change of the matrices above which a pair is not near-identical
INDEPENDENT_LOG10_P = -2.0
QUANTIZED_PREFIXES = ("Q", "IQ", "I8", "I4", "F8", "TQ", "MXFP")
FINE_TUNE_CKA = 0.995  # some layer's token-space CKA below this: the values moved (a fine-tune, or noise)
QUANT_NOISE_SCALE = 12.0  # CKA loss allowed for b-bit block rounding: 12/4^b (b=4: 0.047, measured 0.024)
# Labels that already say how the values changed; without one of them a derived, non-identical pair is near-identical.
VALUE_CHANGES = {
    "fine-tuned",
    "quantized",
    "dtype-changed",
    "pruned",
    "vocab-changed",
    "depth-changed",
    "layers-reordered",
    "permuted",
    "rotated",
    "gains-folded",
    "layout-changed",
    "copied",
}


def verdict(log10_p: float) -> str:
    if log10_p <= DERIVED_LOG10_P:
        return "derived"
    if log10_p > INDEPENDENT_LOG10_P:
        return "independent"
    return "inconclusive"


def _quantized(dtypes: dict | None) -> bool:
    return any(str(k).upper().startswith(QUANTIZED_PREFIXES) for k in (dtypes or {}))


def cka_floor(dtypes: dict | None) -> float:
    """The token-space CKA below which a layer's values moved by more than the suspect's storage rounds them.
    Block quantization to b bits adds relative noise of variance ∝ 4^-b; the allowance is a few times the loss
    measured for Q4_0 on a real model, so only a clear change is called a fine-tune."""
    from fingerprints.content import value_bits

    bits = [vb[1] for vb in map(value_bits, dtypes or {}) if vb is not None and vb[0] == "block"]
    return min(FINE_TUNE_CKA, 1.0 - QUANT_NOISE_SCALE / 4.0 ** min(bits)) if bits else FINE_TUNE_CKA


def combine_copy(ln_p: float, copy_ln_p: float) -> float:
    """The verdict's ln p from the weight-statistics test and the content-identity bound: the smaller, times two
    (Bonferroni: two tests looked at the same pair)."""
    if copy_ln_p >= 0.0:
        return ln_p
    return min(0.0, min(ln_p, copy_ln_p) + math.log(2.0))


def relations(
    verdict_: str, fp: dict, ref_meta: dict, sus_meta: dict, deep: dict | None, copy: dict | None = None
) -> list[str]:
    """Plain labels for how the suspect relates to the reference (only meaningful for a derived verdict)."""
    if verdict_ != "derived":
        return []
    rel: set[str] = set()
    h = fp["hashes"]
    if copy and copy.get("copied") and not h["all_identical"]:
        rel.add("copied")  # some informative tensors hold exactly the reference's values, others do not
    if copy and copy.get("layout_changed"):
        rel.add("layout-changed")
    # The canonical names always line up after normalization; the digest of the names in the files tells whether
    # the files themselves use another naming scheme (layer numbers blanked, so pruning is not renaming).
    na, nb = ref_meta.get("source_names_digest"), sus_meta.get("source_names_digest")
    renamed_in_files = bool(na and nb and na != nb)
    if h["all_identical"]:
        rel.add("renamed" if renamed_in_files or not h["identical_names_too"] else "identical")
    elif h["same_values_other_layout"] > 0:
        rel.add("layout-changed")
    if renamed_in_files:
        rel.add("renamed")
    fa, fb = ref_meta.get("source_format"), sus_meta.get("source_format")
    if fa and fb and fa != fb:
        rel.add("format-converted")
    dref, dsus = ref_meta.get("storage_dtypes") or {}, sus_meta.get("storage_dtypes") or {}
    if _quantized(dsus) and not _quantized(dref):
        rel.add("quantized")
    elif dref and dsus and set(dref) != set(dsus):
        rel.add("dtype-changed")
    if ref_meta.get("vocab_size") != sus_meta.get("vocab_size"):
        rel.add("vocab-changed")
    la, lb = ref_meta.get("layers", []), sus_meta.get("layers", [])
    lmap = [e["reference"] for e in fp["layer_map"]]
    if len(lb) < len(la):
        rel.add("pruned")
    if len(lb) != len(la):
        rel.add("depth-changed")  # only when the depths differ (a layer map with repeats at equal depth is not)
    elif lmap != sorted(lmap) and len(set(lmap)) == len(lmap):
        rel.add("layers-reordered")
    ia, ib = ref_meta.get("intermediate_size"), sus_meta.get("intermediate_size")
    if ia and ib and ib < ia:
        rel.add("pruned")
    if deep is not None:
        kind = deep["alignment"]["kind"]
        if kind == "signed-permutation":
            rel.add("permuted")
        elif kind == "rotation":
            rel.add("rotated")
        in_place = [e.get("neurons_in_place") for e in deep["layers"] if e.get("neurons_in_place") is not None]
        agree = [e.get("neuron_agreement", 0.0) for e in deep["layers"]]
        if in_place and agree and min(in_place) < 0.5 <= min(agree):
            rel.add("permuted")
    storage = (deep or {}).get("storage")
    if not h["all_identical"] and storage is not None and not storage["explained"]:
        rel.add("fine-tuned")  # values moved by more than their storage type can round, tensor by tensor
    elif not h["all_identical"] and storage is None:
        cka = [e["token_cka"] for e in fp["layer_map"]]
        # Without an element-wise check (fingerprint mode, or tensors that do not line up by name and shape) the
        # token-space CKA decides, below a floor that leaves room for the suspect's rounding: 4-bit block
        # quantization alone lowers the CKA of stories260K's layer 1 to 0.976, the level of a fine-tune.
        if cka and min(cka) < cka_floor(sus_meta.get("storage_dtypes")):
            rel.add("fine-tuned")
    if ref_meta.get("all_gains_one") is False and sus_meta.get("all_gains_one") and "rotated" not in rel:
        rel.add("gains-folded")
    if not h["all_identical"] and not rel & VALUE_CHANGES:
        drift = (deep or {}).get("drift")
        if drift is not None and drift["median"] > NEAR_IDENTICAL_DRIFT:
            rel.add("modified")  # the values moved well beyond rounding (a merge, an edit) in no way named above
        else:
            rel.add("near-identical")  # the values differ, but by less than any label above describes
    rel |= transform_relations(rel, ref_meta, sus_meta, deep)
    return sorted(rel)


# --- transform classes (helper lin2; docs/transforms.md) --------------------------------------------------------
# A head's norm ratio (suspect / reference) further than this from the layer's median (|ln|): a deliberate
# per-head rescaling. Fine-tunes, merges, noise and LoRA merges of the toy zoo stay below 0.05 (docs/transforms.md).
RESCALE_SPREAD = 0.1
# Every head's weights still this close in direction (cosine): the heads are the reference's, rescaled (a rescaled
# model healed by training stays above 0.75 on the toy zoo; the label then comes with fine-tuned).
RESCALE_DIRECTION_COS = 0.7
EXACT_DIRECTION_COS = 0.9995  # every head's direction unchanged: the rescaling alone explains the value changes
GAIN_FOLDED_RATIO = 0.25  # folded columns moved by under this fraction of the gains' move: a gain rescaling
TRANSFORM_LABELS = {"rescaled", "kv-heads-changed", "width-pruned", "moe-upcycled", "adapter"}


def _has_experts(meta: dict) -> bool:
    return any(".mlp.experts." in n for n in meta.get("tensor_hashes", {}))


def transform_relations(rel: set[str], ref_meta: dict, sus_meta: dict, deep: dict | None) -> set[str]:
    """Labels of the transform classes (rescaled, kv-heads-changed, width-pruned, moe-upcycled, adapter). Edits
    ``rel`` in place where a generic label would misdescribe the transform: a function-preserving rescaling is
    not ``fine-tuned``; a width pruning keeps channels in order (not ``permuted``); none of these is
    ``near-identical``."""
    out: set[str] = set()
    if sus_meta.get("adapter") or ref_meta.get("adapter"):
        out.add("adapter")
    kva, kvb = ref_meta.get("n_kv_heads"), sus_meta.get("n_kv_heads")
    if kva and kvb and kva != kvb and ref_meta.get("heads_known") and sus_meta.get("heads_known"):
        out.add("kv-heads-changed")
    ha, hb = ref_meta.get("hidden_size"), sus_meta.get("hidden_size")
    if ha and hb and hb < ha:
        out.add("width-pruned")
    if _has_experts(sus_meta) and not _has_experts(ref_meta):
        out.add("moe-upcycled")
    if deep is not None:
        lay = [e for e in deep["layers"] if e.get("head_direction_cos") is not None]
        if (
            lay
            and all(e["head_direction_cos"] >= RESCALE_DIRECTION_COS for e in lay)
            and max(e["head_scale_spread"] for e in lay) > RESCALE_SPREAD
        ):
            out.add("rescaled")
        # Gains moved into the next weights: the gains changed per channel, the folded weights did not.
        if any(
            e.get("gain_log_sd", 0.0) > RESCALE_SPREAD
            and e.get("folded_column_log_sd", 1.0) < GAIN_FOLDED_RATIO * e["gain_log_sd"]
            for e in deep["layers"]
        ):
            out.add("rescaled")
        # Token-space CKA drops under these transforms by construction; when every attention head and every
        # matched MLP neuron still points exactly where the reference's does, nothing was trained.
        neurons = [e["neuron_min_cos"] for e in deep["layers"] if e.get("neuron_min_cos") is not None]
        if (
            out & {"rescaled", "kv-heads-changed", "width-pruned"}
            and lay
            and neurons
            and min(e["head_direction_cos"] for e in lay) >= EXACT_DIRECTION_COS
            and min(neurons) >= EXACT_DIRECTION_COS
            and "quantized" not in rel
        ):
            rel.discard("fine-tuned")
        if deep.get("alignment", {}).get("kind") == "channel-subset":
            rel.discard("permuted")
    if out:  # a transform label names how the values changed: neither generic label applies
        rel.discard("near-identical")
        rel.discard("modified")
    return out


CAVEAT_DISTILL = (
    "Distillation into a freshly initialised student leaves no trace in the weights: 'independent' "
    "means no shared weight lineage was found, not that no knowledge was transferred."
)
CAVEAT_SHARED_INIT = (
    "'Derived' means shared weight lineage: one model was obtained from the other's weights, or "
    "both from common weights (a shared initialisation counts too)."
)
CAVEAT_FP = (
    "Fingerprint-only mode compares stored token-space invariants; it is weaker than the deep comparison "
    "and its p-value rests on a null distribution calibrated on small models."
)
CAVEAT_INDEX = (
    "Vocabularies were matched by token index (no tokenizer found on one side); a reordered or rebuilt "
    "vocabulary would weaken the evidence."
)
CAVEAT_HASHES = (
    "The two fingerprints hash tensors with different functions ({a} for the reference, {b} for the "
    "suspect: they were written by different versions of the tool), so exact copies could not be "
    "recognised by hash; fingerprint the older side again for that evidence."
)
CAVEAT_ALIGN = (
    "No residual-basis alignment was found; if the suspect's embedding was rebuilt from scratch the "
    "deep test loses power."
)


def caveats(mode: str, fp: dict, deep: dict | None, verdict_: str) -> list[str]:
    out = [CAVEAT_DISTILL, CAVEAT_SHARED_INIT]
    if mode == "fingerprint":
        out.append(CAVEAT_FP)
    vocab = (deep or {}).get("alignment", {}).get("vocab_match") or fp["anchors"]["vocab_match"]
    if vocab == "token-index":
        out.append(CAVEAT_INDEX)
    if deep is not None and deep["alignment"]["kind"] == "none-found" and verdict_ != "derived":
        out.append(CAVEAT_ALIGN)
    h = fp.get("hashes", {})
    if not h.get("comparable", True):
        out.append(CAVEAT_HASHES.format(a=h.get("hash_reference"), b=h.get("hash_suspect")))
    return out


def round_floats(x: Any, nd: int = 6) -> Any:
    if isinstance(x, float):
        return round(x, nd)
    if isinstance(x, dict):
        return {k: round_floats(v, nd) for k, v in x.items()}
    if isinstance(x, list):
        return [round_floats(v, nd) for v in x]
    return x
