"""Structural inference: give LLaMA roles to tensors whose names no scheme knows.

Evidence, strongest first:
1. shapes: per-layer groups (names that differ only in the layer number) and the LLaMA shape signature
   (q [Dq, H], k/v [Dkv, H], o [H, Dq], gate/up [I, H], down [H, I], norms [H]); when only one assignment of
   roles to a layer's tensors fits the shapes, that is the answer;
2. a reference checkpoint, when given: the assignment whose tensors are most similar (cosine) to the reference's;
3. statistics: RoPE rotates pairs of Q/K rows together, so in a trained model the rows of a pair carry similar
   energy; O and V rows do not pair. This separates q from o and k from v (never in untrained weights);
4. tensor order within a layer (writers keep module order: q, k, v, o; gate, up, down or Meta's w1, w2, w3),
   and words in the names ("emb", "head", "q", "gate" …).
Every assignment records the rule that made it and a confidence (high: shapes or reference; medium: statistics
or the Yi-style norm rule; low: order). Ambiguities left to order are reported.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from provenance.checkpoint_types import Checkpoint
from provenance.normalize import layouts
from provenance.normalize.schemes import canonical_name, layer_key
from provenance.normalize.types import Assignment

if TYPE_CHECKING:
    from provenance.normalize.canonical import CanonicalModel

MATRIX_ROLES = ("q", "k", "v", "o", "gate", "up", "down")
NORM_ORDER = ("attn_norm", "mlp_norm")
# Role orders writers use within a layer: HF module order, and Meta's (w1 gate, w2 down, w3 up).
ORDERS = (("q", "k", "v", "o", "gate", "up", "down"), ("q", "k", "v", "o", "gate", "down", "up"))
# Words that hint at a role when they appear as a token of a name.
NAME_HINTS = {
    "embed": ("emb", "embed", "embedding", "embeddings", "wte", "tok", "tokens", "word", "in"),
    "lm_head": ("head", "lm", "output", "out", "cls", "classifier", "logits", "unembed", "wcls"),
    "q": ("q", "query", "wq", "q_proj"),
    "k": ("k", "key", "wk", "k_proj"),
    "v": ("v", "value", "wv", "v_proj"),
    "o": ("o", "out", "wo", "proj", "dense", "o_proj"),
    "gate": ("gate", "w1", "gate_proj"),
    "up": ("up", "w3", "up_proj", "fc"),
    "down": ("down", "w2", "down_proj"),
}


def _tokens(name: str) -> set[str]:
    return set(t for t in re.split(r"[._\-/]", name.lower()) if t)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    d = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / d) if d else 0.0


def infer(
    ckpt: Checkpoint,
    leftover: list[str],
    assigned: list[Assignment],
    *,
    head_dim: int | None = None,
    reference: CanonicalModel | None = None,
) -> tuple[list[Assignment], list[str], list[str]]:
    """Roles for ``leftover`` names: (new assignments, names still unmatched, notes on ambiguities)."""
    tensors = ckpt.tensors
    position = {n: i for i, n in enumerate(tensors)}
    known = {(a.layer, a.role) for a in assigned if not a.suffix}
    out: list[Assignment] = []
    unmatched: list[str] = []
    notes: list[str] = []

    hidden = _hidden_size(ckpt, leftover, assigned)
    slots: dict[str, dict[int, str]] = {}
    globals_: list[str] = []
    for n in leftover:
        key, layer = layer_key(n)
        if layer is None:
            globals_.append(n)
        else:
            slots.setdefault(key, {})[layer] = n
    layers = sorted(
        {layer for members in slots.values() for layer in members} | {a.layer for a in assigned if a.layer is not None}
    )
    # A slot must have one tensor per layer, all of one shape.
    good: dict[str, dict[int, str]] = {}
    for key, members in slots.items():
        shapes = {tensors[n].shape for n in members.values()}
        if len(shapes) != 1 or set(members) != set(layers) or hidden is None:
            unmatched.extend(members.values())
        else:
            good[key] = members
    first = layers[0] if layers else None

    def slot_pos(key: str) -> int:
        return position[good[key][first]]

    def missing(role: str) -> bool:
        return all((layer, role) not in known for layer in layers)

    # Norms: 1-D [H] vectors per layer.
    vectors = sorted((k for k in good if tensors[good[k][first]].shape == (hidden,)), key=slot_pos)
    want = [r for r in NORM_ORDER if missing(r)]
    if vectors and len(vectors) == len(want):
        order, rule, conf = list(want), "", "medium"
        if len(want) == 2:
            rule = "structural: two unmapped [H] vectors per layer, in order → attention norm, MLP norm (Yi-style rule)"
        else:
            rule = f"structural: the one unmapped [H] vector per layer → {want[0]}"
        if reference is not None and len(want) == 2:
            best, margin = _by_reference(
                reference, [(k, good[k][first]) for k in vectors], [tuple(want), tuple(reversed(want))], ckpt, first
            )
            if best is not None:
                order, conf = list(best), "high"
                rule = f"structural: [H] vectors matched to the reference by cosine (margin {margin:.2f})"
        for key, role in zip(vectors, order):
            for layer, n in good[key].items():
                out.append(Assignment(n, role, layer, rule, conf))
    else:
        for key in vectors:
            unmatched.extend(good[key].values())
    # Matrices.
    matrices = sorted((k for k in good if len(tensors[good[k][first]].shape) == 2), key=slot_pos)
    want_m = [r for r in MATRIX_ROLES if missing(r)]
    if matrices:
        fixed = _fixed_dims(assigned, tensors, first)
        result = _assign_matrices(ckpt, good, matrices, want_m, hidden, fixed, first, head_dim, reference, notes)
        if result is None:
            for key in matrices:
                unmatched.extend(good[key].values())
            notes.append(f"{len(matrices)} per-layer matrices fit no LLaMA role signature; left unmatched")
        else:
            for key, (role, rule, conf) in result.items():
                for layer, n in good[key].items():
                    out.append(Assignment(n, role, layer, rule, conf))
    for key in good:
        if key not in vectors and key not in matrices:
            unmatched.extend(good[key].values())

    # Globals: embedding, final norm, LM head.
    out.extend(_assign_globals(ckpt, globals_, assigned, hidden, reference, unmatched, notes))
    return out, unmatched, notes


def _hidden_size(ckpt: Checkpoint, leftover: list[str], assigned: list[Assignment]) -> int | None:
    for a in assigned:
        shape = ckpt.tensors[a.source].shape
        if a.role == "embed" and len(shape) == 2:
            return shape[1]
        if a.role in ("attn_norm", "mlp_norm", "final_norm") and len(shape) == 1:
            return shape[0]
    vec = Counter(
        ckpt.tensors[n].shape[0] for n in leftover if len(ckpt.tensors[n].shape) == 1 and layer_key(n)[1] is not None
    )
    if vec:
        return vec.most_common(1)[0][0]
    dims = Counter(d for n in leftover if len(ckpt.tensors[n].shape) == 2 for d in ckpt.tensors[n].shape)
    return dims.most_common(1)[0][0] if dims else None


def _fixed_dims(assigned, tensors, first) -> dict[str, int]:
    """Dimensions already pinned by tensors a scheme matched (Dq from q, I from gate …)."""
    fixed: dict[str, int] = {}
    for a in assigned:
        if a.layer != first or a.suffix:
            continue
        shape = tensors[a.source].shape
        if len(shape) != 2:
            continue
        if a.role in ("q",):
            fixed["Dq"] = shape[0]
        elif a.role == "o":
            fixed["Dq"] = shape[1]
        elif a.role in ("k", "v"):
            fixed["Dkv"] = shape[0]
        elif a.role in ("gate", "up"):
            fixed["I"] = shape[0]
        elif a.role == "down":
            fixed["I"] = shape[1]
    return fixed


def _fits(assignment: dict[str, tuple[int, int]], hidden: int, fixed: dict[str, int]) -> bool:
    dims = dict(fixed)

    def bind(var: str, value: int) -> bool:
        return dims.setdefault(var, value) == value

    for role, (r, c) in assignment.items():
        if role in ("q", "k", "v", "gate", "up"):
            if c != hidden:
                return False
            var = {"q": "Dq", "k": "Dkv", "v": "Dkv", "gate": "I", "up": "I"}[role]
            if not bind(var, r):
                return False
        else:  # o, down: [H, x]
            if r != hidden:
                return False
            if not bind("Dq" if role == "o" else "I", c):
                return False
    return not ("Dq" in dims and "Dkv" in dims and (dims["Dkv"] == 0 or dims["Dq"] % dims["Dkv"]))


def _assign_matrices(ckpt, good, matrices, want, hidden, fixed, first, head_dim, reference, notes):
    """Slot → (role, rule, confidence) for the per-layer matrices, or None when the shapes fit no signature."""
    tensors = ckpt.tensors
    if len(matrices) != len(want) or not want:
        return None
    shapes = {k: tensors[good[k][first]].shape for k in matrices}
    valid = []
    for perm in itertools.permutations(want):
        assignment = {role: shapes[k] for k, role in zip(matrices, perm)}
        if _fits(assignment, hidden, fixed):
            valid.append(perm)
    if not valid:
        return None
    if len(valid) == 1:
        rule = "structural: the only LLaMA role assignment the shapes allow"
        return {k: (r, rule, "high") for k, r in zip(matrices, valid[0])}
    # Several assignments fit; find which roles they disagree on.
    disputed = sorted(
        {r for p in valid for k, r in zip(matrices, p) if r != valid[0][matrices.index(k)]}, key=MATRIX_ROLES.index
    )
    disputed_words = "/".join(disputed)
    # 1. reference
    if reference is not None:
        best, margin = _by_reference(reference, [(k, good[k][first]) for k in matrices], valid, ckpt, first, head_dim)
        if best is not None:
            rule = f"structural: {disputed_words} told apart by cosine to the reference (margin {margin:.2f})"
            return {k: (r, rule if r in disputed else "structural: shapes", "high") for k, r in zip(matrices, best)}
    # 2. RoPE pair statistic (needs a head_dim; try common ones when unknown)
    scored = _by_rope_statistic(ckpt, good, matrices, valid, first, head_dim)
    if scored is not None:
        best, detail = scored
        rule = f"structural: {disputed_words} told apart by the RoPE row-pair statistic ({detail})"
        return {
            k: (r, rule if r in disputed else "structural: shapes", "medium" if r in disputed else "high")
            for k, r in zip(matrices, best)
        }

    # 3. order and name words
    def order_score(perm) -> float:
        pos = {r: i for i, r in enumerate(perm)}  # perm is in slot (file) order
        best_conc = 0.0
        for ref_order in ORDERS:
            seq = [pos[r] for r in ref_order if r in pos]
            conc = sum(1 for i in range(len(seq)) for j in range(i + 1, len(seq)) if seq[i] < seq[j])
            best_conc = max(best_conc, conc)
        hint = sum(1 for k, r in zip(matrices, perm) if _tokens(k) & set(NAME_HINTS.get(r, ())))
        return best_conc + 0.5 * hint

    ranked = sorted(valid, key=order_score, reverse=True)
    best = ranked[0]
    tie = len(ranked) > 1 and order_score(ranked[1]) == order_score(best)
    rule = f"structural: {disputed_words} have equal shapes; assigned by tensor order within the layer"
    notes.append(
        f"{disputed_words} cannot be told apart by shape or statistics; assigned by tensor order"
        + (" (order itself is ambiguous)" if tie else "")
        + "; give --reference to confirm"
    )
    return {
        k: (r, rule if r in disputed else "structural: shapes", "low" if r in disputed else "high")
        for k, r in zip(matrices, best)
    }


def _by_reference(reference, slots: list[tuple[str, str]], candidates, ckpt, first, head_dim=None):
    """The candidate (a role per slot) whose tensors are closest to the reference's; (best, margin) or (None, 0).

    The reference is canonical (HF rotary order); a q/k slot is also compared after the Meta → HF row permutation
    when the head size is known, since the source may be in either order.
    """
    scores = []
    cache: dict[str, np.ndarray] = {}
    for cand in candidates:
        total, n = 0.0, 0
        for (_key, name), role in zip(slots, cand):
            target = reference.tensors.get(canonical_name(role, first))
            if target is None or target.shape != ckpt.tensors[name].shape:
                continue
            if name not in cache:
                cache[name] = ckpt.tensors[name].read()
            a, b = cache[name], target.read()
            if a.ndim == 1:  # norm gains: compare deviations from 1, the informative part
                c = _cos(a - 1.0, b - 1.0)
            else:
                c = _cos(a, b)
                hd = head_dim or reference.arch.values.get("head_dim")
                if role in ("q", "k") and hd and a.shape[0] % hd == 0:
                    c = max(c, _cos(a[layouts.meta_to_hf_index(a.shape[0], a.shape[0] // hd)], b))
            total += c
            n += 1
        scores.append(total / n if n else -1.0)
    order = np.argsort(scores)[::-1]
    if len(scores) < 2:
        return (candidates[order[0]], 1.0) if scores and scores[order[0]] > 0.5 else (None, 0.0)
    margin = scores[order[0]] - scores[order[1]]
    if scores[order[0]] > 0.3 and margin > 0.05:
        return candidates[order[0]], margin
    return None, margin


def _by_rope_statistic(ckpt, good, matrices, valid, first, head_dim):
    """Tell q/k (rows pair up under RoPE) from o/v (they do not); None when the statistic cannot tell."""
    tensors = ckpt.tensors
    pairing: dict[str, float] = {}
    attention_slots = {k for p in valid for k, r in zip(matrices, p) if r in ("q", "k", "v", "o")}
    for key in matrices:
        if key not in attention_slots:
            continue
        w = tensors[good[key][first]]
        rows = w.shape[0]
        cands = [head_dim] if head_dim else [d for d in (64, 128, 32, 16, 8, 80, 96, 256) if rows % d == 0]
        cands = [d for d in cands if d and rows % d == 0 and d % 2 == 0]
        if not cands:
            return None
        arr = w.read()
        best = None
        for hd in cands:
            hf, meta = layouts.rotary_pair_score(arr, rows // hd)
            # compare with the same statistic for an arbitrary pairing (rows j and j+1 across pair boundaries)
            base = layouts.rotary_pair_score(np.roll(arr, 1, axis=0), rows // hd)
            strength = max(base) / max(min(hf, meta), 1e-9)
            best = strength if best is None else max(best, strength)
        pairing[key] = best
    roped = ("q", "k")

    def score(perm) -> float:
        return sum(
            np.log(pairing[k]) * (1 if r in roped else -1) for k, r in zip(matrices, perm) if r in ("q", "k", "v", "o")
        )

    ranked = sorted(valid, key=score, reverse=True)
    s0, s1 = score(ranked[0]), score(ranked[1])
    # Only trust a clear separation: rows of a RoPE pair at least ~1.5x more alike than chance, in total.
    if s0 - s1 < np.log(1.5):
        return None
    return ranked[0], f"log-ratio margin {s0 - s1:.2f}"


def _assign_globals(ckpt, names, assigned, hidden, reference, unmatched, notes):
    tensors = ckpt.tensors
    have = {a.role for a in assigned if a.layer is None}
    out = []
    vecs = [n for n in names if tensors[n].shape == (hidden,)]
    mats = [
        n
        for n in names
        if len(tensors[n].shape) == 2 and tensors[n].shape[1] == hidden and tensors[n].shape[0] != hidden
    ]
    rest = [n for n in names if n not in vecs and n not in mats]
    unmatched.extend(rest)
    if len(vecs) == 1 and "final_norm" not in have:
        out.append(Assignment(vecs[0], "final_norm", None, "structural: the one [H] vector outside the layers", "high"))
    else:
        unmatched.extend(vecs)
    want = [r for r in ("embed", "lm_head") if r not in have]
    if not mats:
        return out
    if len(mats) == 1 and want:
        role = want[0]
        out.append(
            Assignment(
                mats[0],
                role,
                None,
                f"structural: the one [V, H] matrix → {role}" + (" (tied embeddings)" if role == "embed" else ""),
                "high",
            )
        )
        return out
    if len(mats) == 2 and want == ["embed", "lm_head"] and tensors[mats[0]].shape == tensors[mats[1]].shape:
        cands = [("embed", "lm_head"), ("lm_head", "embed")]
        rule, conf = None, "low"
        if reference is not None:
            best, margin = _by_reference(reference, [(m, m) for m in mats], cands, ckpt, None)
            if best is not None:
                order, conf = best, "high"
                rule = f"structural: embedding vs LM head by cosine to the reference (margin {margin:.2f})"
        if rule is None:
            hint = [sum(1 for r, m in zip(c, mats) if _tokens(m) & set(NAME_HINTS[r])) for c in cands]
            if hint[0] != hint[1]:
                order, conf = cands[int(np.argmax(hint))], "medium"
                rule = "structural: embedding vs LM head by words in the names"
            else:
                order = (
                    cands[0]
                    if ckpt.tensors and list(tensors).index(mats[0]) < list(tensors).index(mats[1])
                    else cands[1]
                )
                rule = "structural: embedding vs LM head by tensor order (embedding first)"
                notes.append("embedding and LM head have equal shapes; assigned by order; give --reference to confirm")
        for m, r in zip(mats, order):
            out.append(Assignment(m, r, None, rule, conf))
        return out
    unmatched.extend(mats)
    return out
