"""Lineage: does a suspect checkpoint share weight lineage with a reference? (orchestration over ``fingerprints``)

``compare_paths(suspect, reference)`` accepts checkpoints (any format ``open_checkpoint`` reads) or fingerprint files
on either side. With two checkpoints and ``deep=True`` it runs the deep comparison (hashes, residual alignment,
per-layer CKA, neuron matching with a combined p-value); otherwise it compares fingerprints. The returned dict is the
``compare`` JSON report (``schema_version`` 1); :func:`render_text` and :func:`render_markdown` print it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from provenance.errors import InputError

SCHEMA_VERSION = 1
Progress = Callable[[str, int, int], None]


@dataclass
class Side:
    """One side of a comparison: a loaded checkpoint (canonical tensors) or a stored fingerprint."""

    path: Path
    kind: str  # "checkpoint" | "fingerprint"
    tensors: dict[str, Any] = field(default_factory=dict)
    arch: dict[str, Any] = field(default_factory=dict)
    tokens: list[str] | None = None
    fingerprint: Any = None
    format: str | None = None
    storage_dtypes: dict[str, int] = field(default_factory=dict)
    source_names: list[str] = field(default_factory=list)
    ckpt: Any = None
    unsure: list[str] = field(default_factory=list)  # why the tensor roles or head layout are not certain
    notes: list[str] = field(default_factory=list)  # what the comparison assumed about this side
    adapter: dict[str, Any] | None = None  # a PEFT adapter applied to the other side (provenance.adapters)
    problem: str | None = None  # why names and shapes alone did not make it a LLaMA-shaped model (lenient loads)


def canonical_tensors(
    ckpt, reference=None, head_dim: int | None = None
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Canonical HF-named tensors, HF-named architecture values, and the reasons (if any) why the mapping of
    tensors to roles is not certain. ``reference`` (a checkpoint) and ``head_dim`` are passed to normalization."""
    from provenance.normalize import normalize

    # No architecture-graph diff: lineage uses only the canonical tensors and values, and the diff imports torch
    # and traces a model (seconds on a small machine).
    cm = normalize(ckpt, reference=reference, head_dim=head_dim, graph=False)
    unsure = [a for a in cm.ambiguities if "rotary" not in a] if cm.ambiguities else []
    if any(r.confidence != "high" for r in cm.renames):
        unsure.append("some tensor roles were assigned with low or medium confidence")
    if not cm.arch.known("head_dim"):
        unsure.append("head_dim is unknown")
    return dict(cm.tensors), dict(cm.arch.values), unsure


def token_strings(ckpt) -> list[str] | None:
    """The vocabulary as a list of strings by id, when a tokenizer travels with the weights (else None)."""
    from provenance.formats.tokenizers import read_token_strings

    return read_token_strings(ckpt)


def load_side(path: str | Path, adapters: bool = False, lenient: bool = False) -> Side:
    """One side of a comparison. ``adapters=True`` returns a PEFT adapter as a side of kind "adapter" (to be
    applied to the other side by :func:`provenance.adapters.apply_adapter`) instead of refusing it. ``lenient``: a
    checkpoint whose names and shapes do not reveal a LLaMA-shaped model is returned with its raw tensors and
    ``problem`` set, so content matching can still place them."""
    from fingerprints.fingerprint import Fingerprint, is_fingerprint_file

    p = Path(path)
    if is_fingerprint_file(p):
        try:
            return Side(path=p, kind="fingerprint", fingerprint=Fingerprint.load(p))
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type for a cut file
            raise InputError(
                p,
                f"unreadable fingerprint file (truncated or corrupt): "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            ) from exc
    from provenance.checkpoint import open_checkpoint

    ckpt = open_checkpoint(p)
    if ckpt.format == "peft" and adapters:
        return Side(path=p, kind="adapter", ckpt=ckpt, format="peft")
    if ckpt.format == "peft":
        raise InputError(
            p,
            "a PEFT adapter holds only low-rank deltas; merge it into its base model first "
            "(or compare the base named in adapter_config.json)",
        )
    problem = None
    try:
        tensors, arch, unsure = canonical_tensors(ckpt)
    except InputError as exc:
        if not lenient:
            raise
        tensors, arch, unsure, problem = {}, {}, [], exc.problem
    from provenance.formats.safetensors_format import with_raw_bf16

    tensors = with_raw_bf16(ckpt, tensors)
    if problem is None and "model.embed_tokens.weight" not in tensors and "lm_head.weight" not in tensors:
        problem = "no token embedding found: not a LLaMA-shaped language model"
    if problem is None and not any(".layers." in n for n in tensors):
        problem = "no transformer layers found: not a LLaMA-shaped language model"
    if problem is not None:
        if not lenient:
            raise InputError(p, problem)
        return Side(
            path=p,
            kind="checkpoint",
            tensors=dict(ckpt.tensors),
            tokens=token_strings(ckpt),
            format=ckpt.format,
            storage_dtypes=ckpt.dtype_counts(),
            source_names=sorted(ckpt.tensors),
            ckpt=ckpt,
            problem=problem,
        )
    return Side(
        path=p,
        kind="checkpoint",
        tensors=tensors,
        arch=arch,
        tokens=token_strings(ckpt),
        format=ckpt.format,
        storage_dtypes=ckpt.dtype_counts(),
        source_names=sorted(ckpt.tensors),
        ckpt=ckpt,
        unsure=unsure,
    )


def guide(side: Side, other: Side) -> Side:
    """Re-normalize ``side`` using ``other`` (a checkpoint) as the reference when ``side``'s own names and metadata
    leave tensor roles or the head layout uncertain (e.g. every name scrambled, no config). Returns ``side``
    itself when nothing was uncertain or ``other`` cannot help.

    The reference only decides between tensors of equal shape within a layer (and supplies head_dim when the
    files do not state it); the neuron-matching statistic is symmetric in gate and up, so this choice cannot turn
    independent weights into a match. The assumption is recorded in ``notes`` (it becomes a caveat).
    """
    if side.kind != "checkpoint" or other.kind != "checkpoint" or not side.unsure or other.unsure:
        return side
    head_dim = other.arch.get("head_dim") if not side.arch.get("head_dim") else None
    tensors, arch, unsure = canonical_tensors(side.ckpt, reference=other.ckpt, head_dim=head_dim)
    if "model.embed_tokens.weight" not in tensors and "lm_head.weight" not in tensors:
        return side
    for key in ("num_attention_heads", "num_key_value_heads", "rms_norm_eps", "rope_theta"):
        if arch.get(key) is None and other.arch.get(key) is not None and head_dim:
            arch[key] = other.arch[key]
    what = "tensor roles were resolved by similarity to the other model"
    if head_dim:
        what += f", and its head layout (head_dim {head_dim}) was taken from the other model"
    note = (
        f"{side.path}: the files do not say everything needed ({'; '.join(side.unsure)}); {what}. This only "
        "chooses among tensors of equal shape, so it cannot create a neuron-level match."
    )
    # A new mapping: any fingerprint computed for the old one no longer applies.
    return replace(
        side,
        kind="checkpoint",
        tensors=tensors,
        arch=arch,
        unsure=unsure,
        notes=side.notes + [note],
        fingerprint=None,
        problem=None,
    )


_LAYER_RE = re.compile(r"^model\.layers\.(\d+)\.")


def _layer_of(name: str) -> int | None:
    m = _LAYER_RE.match(name)
    return int(m.group(1)) if m else None


def _content_mapping(ref: Side, sus: Side, ha: dict, hb: dict, comparable: bool):
    """Content matches of the suspect's tensors onto the reference's: (copy evidence, mapping suspect name →
    reference name for identifying matches, re-laid-out arrays by suspect name)."""
    from fingerprints.content import copy_evidence, informative, match_tensors, recover_layout

    exact, multiset = match_tensors(ha, hb, comparable=comparable)
    verified = ref.kind == "checkpoint" and sus.kind == "checkpoint"
    fixed: dict[str, Any] = {}
    how: dict[str, str] = {}
    if verified:
        for s, r in list(multiset.items()):
            got = recover_layout(ref.tensors[r], sus.tensors[s])
            if got is None:
                del multiset[s]
            else:
                fixed[s], how[s] = got
    names = {n: str(getattr(t, "name", n)) for n, t in sus.tensors.items()}
    copy = copy_evidence(ha, hb, exact, multiset, verified, names, how)
    seen: dict[str, int] = {}
    for v in ha.values():
        seen[v["content"]] = seen.get(v["content"], 0) + 1
    # Uninformative content that occurs more than once in the reference (norms left at one) identifies no
    # particular tensor; informative content shared by several names (a tied embedding and head) does.
    mapping = {s: r for s, r in exact.items() if seen[ha[r]["content"]] == 1 or informative(ha[r])}
    if verified:
        mapping.update(multiset)
    return copy, mapping, fixed


def content_first(ref: Side, sus: Side, fa, fb) -> tuple[Side, dict]:
    """Match the suspect's tensors to the reference's by content before trusting any inferred role, and let the
    matches fix the suspect's roles, layer indices and layouts. Returns the (possibly re-mapped) suspect and the
    copy-evidence block.

    Exact matches (same values in the same order, any name, shape or storage dtype) and, with both checkpoints at
    hand, same-multiset matches confirmed on the sorted values (transposed, rows or blocks permuted: the layout is
    rebuilt from the values) name the reference tensor each suspect tensor is; the remaining tensors follow their
    layer's majority. A match is the same values, so it cannot make independent weights look alike: it only
    removes guesses.
    """
    from fingerprints.compare import hash_kind

    copy, mapping, fixed = _content_mapping(
        ref, sus, fa.meta["tensor_hashes"], fb.meta["tensor_hashes"], hash_kind(fa.meta) == hash_kind(fb.meta)
    )
    if sus.kind != "checkpoint" or not (copy["copied"] or copy["layout_changed"]):
        return sus, copy
    if all(s == r for s, r in mapping.items()) and not fixed:
        return sus, copy
    return _remapped(ref, sus, mapping, fixed, keep_unmatched=True), copy


def structure_by_content(side: Side, other: Side, progress: Progress | None = None) -> Side:
    """A side whose names and shapes told nothing (``problem`` set) built from content matches with ``other``
    (a checkpoint or a fingerprint): each raw tensor that holds a reference tensor's values takes its name."""
    from fingerprints.fingerprint import _scan
    from fingerprints.hashing import HASH_NAME

    fo = _fingerprint_of(other, progress, "fingerprint reference")
    hb = {n: _scan(t)[0] for n, t in sorted(side.tensors.items())}
    _, mapping, fixed = _content_mapping(
        other, side, fo.meta["tensor_hashes"], hb, fo.meta.get("content_hash", "sha1") == HASH_NAME
    )
    out = _remapped(other, side, mapping, fixed, keep_unmatched=False)
    if (
        not mapping
        or ("model.embed_tokens.weight" not in out.tensors and "lm_head.weight" not in out.tensors)
        or not any(".layers." in n for n in out.tensors)
    ):
        raise InputError(side.path, side.problem or "not a LLaMA-shaped language model")
    return out


def _remapped(ref: Side, sus: Side, mapping: dict[str, str], fixed: dict[str, Any], keep_unmatched: bool) -> Side:
    """``sus`` with matched tensors under the reference's names (layers renumbered when the matches give a
    permutation of layers; unmatched tensors follow their layer, or are dropped when they had no name)."""
    votes: dict[int, dict[int, int]] = {}
    for s, r in mapping.items():
        ls, lr = _layer_of(s), _layer_of(r)
        if ls is not None and lr is not None:
            votes.setdefault(ls, {}).setdefault(lr, 0)
            votes[ls][lr] += 1
    relabel = {ls: min(c, key=lambda lr: (-c[lr], lr)) for ls, c in votes.items()}
    unvoted = {_layer_of(n) for n in sus.tensors} - set(relabel) - {None}
    if len(set(relabel.values())) < len(relabel) or unvoted & set(relabel.values()):
        relabel = {}  # not a permutation of layers: keep the suspect's layer numbers, fix roles only

    def renamed(name: str, like: str | None = None) -> str:
        ls = _layer_of(name)
        base = like if like is not None else name
        if ls is None or _layer_of(base) is None:
            return base
        return _LAYER_RE.sub(f"model.layers.{relabel.get(ls, ls)}.", base)

    tensors: dict[str, Any] = {}
    for s, r in sorted(mapping.items()):
        tensors[renamed(s, r)] = fixed.get(s, sus.tensors[s])
    if keep_unmatched:
        for s, t in sus.tensors.items():
            if s not in mapping:
                tensors.setdefault(renamed(s), t)
    tensors = dict(sorted(tensors.items(), key=lambda kv: _canonical_order(kv[0])))
    arch = dict(sus.arch)
    if all(r in mapping.values() for r in ref.tensors if r.endswith(("q_proj.weight", "k_proj.weight"))):
        # the suspect holds the reference's q and k values, so it has the reference's head layout
        for key in (
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "rope_theta",
            "rms_norm_eps",
            "vocab_size",
            "hidden_size",
        ):
            if ref.arch.get(key) is not None:
                arch[key] = ref.arch[key]
    arch["num_hidden_layers"] = len({_layer_of(n) for n in tensors} - {None})
    moved = sum(1 for s, r in mapping.items() if renamed(s, r) != s)
    dropped = len(sus.tensors) - len(mapping) if not keep_unmatched else 0
    note = (
        f"{sus.path}: {len(mapping)} tensors were identified by their values in the reference ({moved} under "
        "another name, role or layer than their names and shapes suggested"
        + (f", {len(fixed)} re-laid-out" if fixed else "")
        + (f", {dropped} left out: their values match nothing and their names tell nothing" if dropped else "")
        + "); the comparison used that mapping."
    )
    # A new mapping: any fingerprint computed for the old one no longer applies.
    return replace(
        sus,
        kind="checkpoint",
        tensors=tensors,
        arch=arch,
        unsure=[],
        notes=sus.notes + [note],
        fingerprint=None,
        problem=None,
    )


def _canonical_order(name: str) -> tuple:
    lay = _layer_of(name)
    return (lay if lay is not None else -1, name)


def _fingerprint_of(side: Side, progress: Progress | None, label: str, anchors: int | None = None):
    from fingerprints.fingerprint import NonFiniteTensor

    if side.fingerprint is None:
        cb = (lambda d, t: progress(label, d, t)) if progress else None
        try:
            side.fingerprint = _compute(side, cb, anchors)
        except NonFiniteTensor as exc:
            t = side.tensors.get(exc.name)
            raise InputError(
                getattr(t, "file", None) or side.path,
                f"tensor {getattr(t, 'name', exc.name)} holds non-finite values (NaN or infinity); "
                "no lineage statistic is meaningful on it",
            ) from None
    return side.fingerprint


def _compute(side: Side, cb, anchors: int | None = None):
    from fingerprints.fingerprint import ANCHORS, compute_fingerprint

    return compute_fingerprint(
        side.tensors,
        side.arch,
        token_strings=side.tokens,
        progress=cb,
        anchors=anchors or ANCHORS,
        extra_meta={
            "storage_dtypes": side.storage_dtypes,
            "source_format": side.format,
            "source_names_digest": _names_digest(side.source_names),
        },
    )


def _both_fingerprints(ref: Side, sus: Side, progress: Progress | None):
    """Both sides' fingerprints; two checkpoints are fingerprinted at the same time, so the stretches of one pass
    that keep a core idle (gains, embedding rows, the last tensors) are filled by the other. Same bytes either way."""
    if ref.fingerprint is None and sus.fingerprint is None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            fa = pool.submit(_fingerprint_of, ref, progress, "fingerprint reference")
            fb = pool.submit(_fingerprint_of, sus, progress, "fingerprint suspect")
            return fa.result(), fb.result()
    return (
        _fingerprint_of(ref, progress, "fingerprint reference"),
        _fingerprint_of(sus, progress, "fingerprint suspect"),
    )


def _names_digest(names: list[str]) -> str:
    """A digest of the naming scheme (layer numbers blanked), so pruning does not count as renaming."""
    import hashlib
    import re

    scheme = sorted({re.sub(r"(?<=\.)\d+(?=\.)", "{L}", n) for n in names})
    return hashlib.sha1("\n".join(scheme).encode()).hexdigest()[:16]


def fingerprint_path(path: str | Path, progress: Progress | None = None, anchors: int | None = None):
    """Compute the fingerprint of a checkpoint (``fingerprints.Fingerprint``; ``.save(file)`` writes it) with
    ``anchors`` anchor tokens (default ``fingerprints.fingerprint.ANCHORS``)."""
    side = load_side(path)
    if side.kind == "fingerprint":
        return side.fingerprint
    return _fingerprint_of(side, progress, "fingerprint", anchors)


def deep_result(ref: Side, sus: Side, fa, fb, progress: Progress | None = None) -> dict:
    """The deep comparison of two loaded checkpoint sides (their fingerprints given), with the element-wise facts
    the labels need: rounding by the suspect's storage type, and how far the values moved."""
    from fingerprints.content import storage_explains, value_drift
    from fingerprints.deep import deep_compare

    result = deep_compare(
        ref.tensors,
        ref.arch,
        sus.tensors,
        sus.arch,
        ref_tokens=ref.tokens,
        sus_tokens=sus.tokens,
        ref_fingerprint=fa,
        sus_fingerprint=fb,
        progress=progress,
    )
    result["storage"] = storage_explains(ref.tensors, sus.tensors)
    result["drift"] = value_drift(ref.tensors, sus.tensors)
    return result


def compare_paths(
    suspect: str | Path, reference: str | Path, deep: bool = True, progress: Progress | None = None
) -> dict:
    """The ``compare`` report for two paths (checkpoints or fingerprint files)."""
    sus, ref = load_side(suspect, adapters=True, lenient=True), load_side(reference, adapters=True, lenient=True)
    sus, ref = _adapted(sus, ref), _adapted(ref, sus)  # an adapter side becomes the other side, adapted
    for side, other in ((sus, ref), (ref, sus)):
        if side.problem and other.problem:
            raise InputError(side.path, side.problem)
    # Names and shapes that reveal nothing: the other side's content may still place every tensor.
    if sus.problem:
        sus = structure_by_content(sus, ref, progress)
    if ref.problem:
        ref = structure_by_content(ref, sus, progress)
    sus, ref = guide(sus, ref), guide(ref, sus)
    fa, fb = _both_fingerprints(ref, sus, progress)
    sus, copy = content_first(ref, sus, fa, fb)
    fb = _fingerprint_of(sus, progress, "fingerprint suspect")  # again only when the mapping changed
    notes = sus.notes + ref.notes
    if deep and sus.kind == "checkpoint" and ref.kind == "checkpoint":
        _mark_adapter(fa, ref), _mark_adapter(fb, sus)
        result = deep_result(ref, sus, fa, fb, progress)
        return _with_adapter_facts(
            build_report(
                result["fingerprint"], fa.meta, fb.meta, sus.path, ref.path, deep=result, notes=notes, copy=copy
            ),
            sus,
            ref,
        )
    from fingerprints.compare import compare_fingerprints

    _mark_adapter(fa, ref), _mark_adapter(fb, sus)
    return _with_adapter_facts(
        build_report(
            compare_fingerprints(fa, fb), fa.meta, fb.meta, sus.path, ref.path, deep=None, notes=notes, copy=copy
        ),
        sus,
        ref,
    )


# --- PEFT adapters (helper lin2; provenance/adapters.py, docs/transforms.md) -----------------------------------
def _adapted(side: Side, other: Side) -> Side:
    """An adapter side replaced by the other side's checkpoint with the adapter applied in memory."""
    if side.kind != "adapter":
        return side
    if other.kind == "adapter":
        raise InputError(side.path, "both sides are PEFT adapters: give the base model on one side")
    if other.kind != "checkpoint":
        raise InputError(
            side.path,
            "a PEFT adapter is applied to its base checkpoint, not to a fingerprint file: "
            "give the base model's weights on the other side",
        )
    from provenance.adapters import apply_adapter

    tensors, facts = apply_adapter(side.path, other.tensors, other.arch)
    note = (
        f"{side.path}: a PEFT adapter (rank {facts['rank']}, alpha {facts['alpha']}, "
        f"{facts['tensors_changed']} tensors changed), applied in memory to {other.path}; the adapted model "
        "is what was compared."
    )
    return Side(
        path=side.path,
        kind="checkpoint",
        tensors=tensors,
        arch=dict(other.arch),
        tokens=other.tokens,
        format=other.format,
        storage_dtypes=other.storage_dtypes,
        source_names=other.source_names,
        ckpt=other.ckpt,
        unsure=list(other.unsure),
        notes=[note],
        adapter=facts,
    )


def _mark_adapter(fp, side: Side) -> None:
    if side.adapter is not None:
        fp.meta["adapter"] = side.adapter


def _with_adapter_facts(report: dict, sus: Side, ref: Side) -> dict:
    """The ``adapter`` report field: the applied adapter's facts and which side it was on (null without one)."""
    side = "suspect" if sus.adapter is not None else "reference" if ref.adapter is not None else None
    report["adapter"] = dict((sus.adapter or ref.adapter), side=side) if side else None
    return report


def compare_fingerprint_objects(
    suspect_fp, reference_fp, suspect_name: str = "suspect", reference_name: str = "reference"
) -> dict:
    from fingerprints.compare import compare_fingerprints

    return build_report(
        compare_fingerprints(reference_fp, suspect_fp),
        reference_fp.meta,
        suspect_fp.meta,
        suspect_name,
        reference_name,
        deep=None,
    )


CAVEAT_DISAGREE = (
    "The fingerprint comparison alone finds shared weight lineage (log10 p {fp:.1f}) but the deep "
    "comparison does not; tensors may have been mapped to the wrong roles, or the layers were "
    "rewritten in a way the deep test does not undo. Inspect both checkpoints before concluding."
)


def build_report(
    fp: dict,
    ref_meta: dict,
    sus_meta: dict,
    suspect: Any,
    reference: Any,
    deep: dict | None,
    notes: list[str] | None = None,
    copy: dict | None = None,
) -> dict:
    from fingerprints.stats import log10_p, p_value
    from fingerprints.verdict import (
        DERIVED_LOG10_P,
        INDEPENDENT_LOG10_P,
        caveats,
        combine_copy,
        relations,
        round_floats,
        verdict,
    )

    mode = "deep" if deep is not None else "fingerprint"
    src = deep if deep is not None else fp
    if copy is None:  # two fingerprints: content matches from their hashes alone (signatures, not sorted values)
        from fingerprints.content import copy_evidence, match_tensors

        ha, hb = ref_meta.get("tensor_hashes", {}), sus_meta.get("tensor_hashes", {})
        comparable = fp["hashes"]["comparable"]
        copy = copy_evidence(ha, hb, *match_tensors(ha, hb, comparable), verified=False)
    ln_p = combine_copy(float(src["ln_p"]), copy["ln_p"])
    copy["decisive"] = bool(copy["ln_p"] < float(src["ln_p"]))
    log10p = log10_p(ln_p)
    v = verdict(log10p)
    if deep is not None:
        layers = [{k: e[k] for k in sorted(e) if k != "ln_p"} for e in deep["layers"]]
        alignment = deep["alignment"]
    else:
        layers = fp["layer_map"]
        alignment = {
            "kind": "not-computed (fingerprint mode: invariants need no alignment)",
            "vocab_match": fp["anchors"]["vocab_match"],
        }
    report = {
        "schema_version": SCHEMA_VERSION,
        "mode": mode,
        "suspect": str(suspect),
        "reference": str(reference),
        "verdict": v,
        "p_value": p_value(ln_p),
        "log10_p_value": round(log10p, 3),
        "score": round(float(src["score"]), 6),
        "relation": relations(v, fp, ref_meta, sus_meta, deep, copy=copy),
        "layers": layers,
        "layer_map": [[e["suspect"], e["reference"]] for e in fp["layer_map"]],
        "alignment": alignment,
        "anchors": fp["anchors"],
        "hashes": fp["hashes"],
        "fingerprint_score": round(float(fp["score"]), 6),
        "fingerprint_log10_p_value": round(float(fp["log10_p"]), 3),
        # Fingerprint mode's neuron test on stored features (version 4 on both sides; else null and the
        # fingerprint p-value is the token-space CKA test's).
        "fingerprint_neuron_evidence": _neuron_summary(fp.get("neurons")),
        "models": {"reference": _model_summary(ref_meta), "suspect": _model_summary(sus_meta)},
        "thresholds": {"derived_log10_p_at_most": DERIVED_LOG10_P, "independent_log10_p_above": INDEPENDENT_LOG10_P},
        "caveats": caveats(mode, fp, deep, v) + list(notes or []),
        "summary": "",
    }
    report["evidence"] = deep.get("evidence", "neuron-matching") if deep is not None else "fingerprint"
    # Element-wise: did the suspect's lossy-stored tensors move by more than their storage type rounds? (deep only)
    report["storage_rounding"] = deep.get("storage") if deep is not None else None
    # Content identity: which tensors were copied (any name), renamed, re-laid-out, and the p-value bound it gives.
    report["copy_evidence"] = {k: v_ for k, v_ in copy.items() if k != "ln_p"}
    if deep is not None and v != "derived" and float(fp["log10_p"]) <= DERIVED_LOG10_P:
        report["caveats"].append(CAVEAT_DISAGREE.format(fp=float(fp["log10_p"])))
    if deep is not None and report["evidence"] != "neuron-matching":
        report["caveats"].append(
            "No layer has an MLP whose neurons could be matched, so the p-value is the "
            "fingerprint test's (weaker than the neuron test)."
        )
    report = round_floats(report)
    # Rounding to 6 decimals would turn every small p-value into 0: keep significant digits instead.
    report["p_value"] = float(f"{p_value(ln_p):.4g}")
    report["summary"] = summary_sentence(report)
    return report


def _neuron_summary(n: dict | None) -> dict | None:
    from fingerprints.stats import log10_p

    if n is None:
        return None
    return {
        "layers": len(n["layers"]),
        "log10_p_value": round(log10_p(n["ln_p"]), 3),
        "agreement": round(n["agreement"], 4),
        "anchors_used": n["anchors_used"],
    }


def _model_summary(meta: dict) -> dict:
    return {
        "layers": len(meta.get("layers", [])),
        "hidden_size": meta.get("hidden_size"),
        "vocab_size": meta.get("vocab_size"),
        "intermediate_size": meta.get("intermediate_size"),
        "tensors": len(meta.get("tensor_hashes", {})),
        "storage_dtypes": meta.get("storage_dtypes") or {},
    }


def summary_sentence(r: dict) -> str:
    p = _fmt_p(r)
    if r["verdict"] == "derived":
        how = f" ({', '.join(r['relation'])})" if r["relation"] else ""
        if r["log10_p_value"] < -12:  # a tail this far out is a strength of evidence, not a probability to quote
            return (
                f"The suspect shares weight lineage with the reference{how}. Similarity this strong between "
                f"independent models is far below anything chance produces (log10 p = {r['log10_p_value']:g})."
            )
        return (
            f"The suspect shares weight lineage with the reference{how}. Similarity this strong between "
            f"independent models has probability {p}."
        )
    if r["verdict"] == "independent":
        return (
            f"No shared weight lineage found: the similarity is what independent models of this shape show (p = {p})."
        )
    return f"The evidence is too weak to decide (p = {p}); neither shared lineage nor independence is shown."


def _fmt_p(r: dict) -> str:
    lg = r["log10_p_value"]
    if lg <= -300:
        return f"about 10^{lg:.0f}"
    return f"{r['p_value']:.3g}" if lg > -4 else f"{r['p_value']:.2e}" if r["p_value"] > 0 else f"about 10^{lg:.0f}"


def render_text(r: dict) -> str:
    lines = [f"Verdict: {r['verdict'].upper()} — {r['summary']}", ""]
    lines.append(f"mode {r['mode']}; score {r['score']:.3f}; p-value {_fmt_p(r)} (log10 {r['log10_p_value']})")
    if r["relation"]:
        lines.append("relation: " + ", ".join(r["relation"]))
    h = r["hashes"]
    lines.append(
        f"identical tensors (by content hash): {h['identical_tensors']} of {h['tensors_suspect']} in the "
        f"suspect; same values in another layout: {h['same_values_other_layout']}"
    )
    a = r["alignment"]
    lines.append(
        f"alignment: {a.get('kind')}; vocabulary matched by {a.get('vocab_match')}"
        + (f" over {a['shared_tokens']} tokens" if "shared_tokens" in a else "")
    )
    lines.append("layers (suspect → reference):")
    for e in r["layers"]:
        extra = ""
        if "neuron_rho" in e:
            extra = (
                f", neuron ρ {e['neuron_rho']:.3f}, agreement {e['neuron_agreement']:.2f}, log10 p {e['log10_p']:.1f}"
            )
        wc = f", weight CKA {e['weight_cka_qk']:.3f}" if e.get("weight_cka_qk") is not None else ""
        lines.append(f"  {e['suspect']:>3} → {e['reference']:<3} token CKA {e['token_cka']:.3f}{wc}{extra}")
    lines.append("caveats:")
    lines.extend(f"  - {c}" for c in r["caveats"])
    return "\n".join(lines) + "\n"


def render_markdown(r: dict) -> str:
    lines = [
        f"## Lineage: **{r['verdict']}**",
        "",
        r["summary"],
        "",
        "| | |",
        "|---|---|",
        f"| mode | {r['mode']} |",
        f"| score | {r['score']:.3f} |",
        f"| p-value | {_fmt_p(r)} (log10 {r['log10_p_value']}) |",
        f"| relation | {', '.join(r['relation']) or '—'} |",
        f"| alignment | {r['alignment'].get('kind')} ({r['alignment'].get('vocab_match')}) |",
        f"| identical tensors | {r['hashes']['identical_tensors']} of {r['hashes']['tensors_suspect']} |",
        "",
        "| suspect layer | reference layer | token CKA | weight CKA | neuron ρ | log10 p |",
        "|---:|---:|---:|---:|---:|---:|",
    ]

    def num(e: dict, key: str, fmt: str) -> str:
        return format(e[key], fmt) if e.get(key) is not None else "—"

    for e in r["layers"]:
        lines.append(
            f"| {e['suspect']} | {e['reference']} | {num(e, 'token_cka', '.3f')} | "
            f"{num(e, 'weight_cka_qk', '.3f')} | {num(e, 'neuron_rho', '.3f')} | {num(e, 'log10_p', '.1f')} |"
        )
    lines += ["", "**Caveats**", ""] + [f"- {c}" for c in r["caveats"]]
    return "\n".join(lines) + "\n"
