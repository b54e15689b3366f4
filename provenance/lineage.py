"""Lineage: does a suspect checkpoint share weight lineage with a reference? (orchestration over ``fingerprints``)

``compare_paths(suspect, reference)`` accepts checkpoints (any format ``open_checkpoint`` reads) or fingerprint files
on either side. With two checkpoints and ``deep=True`` it runs the deep comparison (hashes, residual alignment,
per-layer CKA, neuron matching with a combined p-value); otherwise it compares fingerprints. The returned dict is the
``compare`` JSON report (``schema_version`` 1); :func:`render_text` and :func:`render_markdown` print it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

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


def canonical_tensors(ckpt, reference=None, head_dim: int | None = None
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


def load_side(path: str | Path) -> Side:
    from fingerprints.fingerprint import Fingerprint, is_fingerprint_file

    p = Path(path)
    if is_fingerprint_file(p):
        try:
            return Side(path=p, kind="fingerprint", fingerprint=Fingerprint.load(p))
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type for a cut file
            raise InputError(p, f"unreadable fingerprint file (truncated or corrupt): "
                                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    from provenance.checkpoint import open_checkpoint

    ckpt = open_checkpoint(p)
    if ckpt.format == "peft":
        raise InputError(p, "a PEFT adapter holds only low-rank deltas; merge it into its base model first "
                            "(or compare the base named in adapter_config.json)")
    tensors, arch, unsure = canonical_tensors(ckpt)
    from provenance.formats.safetensors_format import with_raw_bf16

    tensors = with_raw_bf16(ckpt, tensors)
    if "model.embed_tokens.weight" not in tensors and "lm_head.weight" not in tensors:
        raise InputError(p, "no token embedding found: not a LLaMA-shaped language model")
    if not any(".layers." in n for n in tensors):
        raise InputError(p, "no transformer layers found: not a LLaMA-shaped language model")
    return Side(path=p, kind="checkpoint", tensors=tensors, arch=arch, tokens=token_strings(ckpt),
                format=ckpt.format, storage_dtypes=ckpt.dtype_counts(), source_names=sorted(ckpt.tensors),
                ckpt=ckpt, unsure=unsure)


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
    note = (f"{side.path}: the files do not say everything needed ({'; '.join(side.unsure)}); {what}. This only "
            "chooses among tensors of equal shape, so it cannot create a neuron-level match.")
    return Side(path=side.path, kind="checkpoint", tensors=tensors, arch=arch, tokens=side.tokens,
                format=side.format, storage_dtypes=side.storage_dtypes, source_names=side.source_names,
                ckpt=side.ckpt, unsure=unsure, notes=side.notes + [note])


def _fingerprint_of(side: Side, progress: Progress | None, label: str, anchors: int | None = None):
    from fingerprints.fingerprint import NonFiniteTensor

    if side.fingerprint is None:
        cb = (lambda d, t: progress(label, d, t)) if progress else None
        try:
            side.fingerprint = _compute(side, cb, anchors)
        except NonFiniteTensor as exc:
            t = side.tensors.get(exc.name)
            raise InputError(getattr(t, "file", None) or side.path,
                             f"tensor {getattr(t, 'name', exc.name)} holds non-finite values (NaN or infinity); "
                             "no lineage statistic is meaningful on it") from None
    return side.fingerprint


def _compute(side: Side, cb, anchors: int | None = None):
    from fingerprints.fingerprint import ANCHORS, compute_fingerprint

    return compute_fingerprint(side.tensors, side.arch, token_strings=side.tokens, progress=cb,
                               anchors=anchors or ANCHORS,
                               extra_meta={"storage_dtypes": side.storage_dtypes, "source_format": side.format,
                                           "source_names_digest": _names_digest(side.source_names)})


def _both_fingerprints(ref: Side, sus: Side, progress: Progress | None):
    """Both sides' fingerprints; two checkpoints are fingerprinted at the same time, so the stretches of one pass
    that keep a core idle (gains, embedding rows, the last tensors) are filled by the other. Same bytes either way."""
    if ref.fingerprint is None and sus.fingerprint is None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            fa = pool.submit(_fingerprint_of, ref, progress, "fingerprint reference")
            fb = pool.submit(_fingerprint_of, sus, progress, "fingerprint suspect")
            return fa.result(), fb.result()
    return (_fingerprint_of(ref, progress, "fingerprint reference"),
            _fingerprint_of(sus, progress, "fingerprint suspect"))


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


def compare_paths(suspect: str | Path, reference: str | Path, deep: bool = True,
                  progress: Progress | None = None) -> dict:
    """The ``compare`` report for two paths (checkpoints or fingerprint files)."""
    sus, ref = load_side(suspect), load_side(reference)
    sus, ref = guide(sus, ref), guide(ref, sus)
    notes = sus.notes + ref.notes
    if deep and sus.kind == "checkpoint" and ref.kind == "checkpoint":
        from fingerprints.deep import deep_compare

        fa, fb = _both_fingerprints(ref, sus, progress)
        result = deep_compare(ref.tensors, ref.arch, sus.tensors, sus.arch, ref_tokens=ref.tokens,
                              sus_tokens=sus.tokens, ref_fingerprint=fa, sus_fingerprint=fb, progress=progress)
        return build_report(result["fingerprint"], fa.meta, fb.meta, sus.path, ref.path, deep=result, notes=notes)
    from fingerprints.compare import compare_fingerprints

    fa, fb = _both_fingerprints(ref, sus, progress)
    return build_report(compare_fingerprints(fa, fb), fa.meta, fb.meta, sus.path, ref.path, deep=None, notes=notes)


def compare_fingerprint_objects(suspect_fp, reference_fp, suspect_name: str = "suspect",
                                reference_name: str = "reference") -> dict:
    from fingerprints.compare import compare_fingerprints

    return build_report(compare_fingerprints(reference_fp, suspect_fp), reference_fp.meta, suspect_fp.meta,
                        suspect_name, reference_name, deep=None)


CAVEAT_DISAGREE = ("The fingerprint comparison alone finds shared weight lineage (log10 p {fp:.1f}) but the deep "
                   "comparison does not; tensors may have been mapped to the wrong roles, or the layers were "
                   "rewritten in a way the deep test does not undo. Inspect both checkpoints before concluding.")


def build_report(fp: dict, ref_meta: dict, sus_meta: dict, suspect: Any, reference: Any,
                 deep: dict | None, notes: list[str] | None = None) -> dict:
    from fingerprints.verdict import DERIVED_LOG10_P, INDEPENDENT_LOG10_P, caveats, relations, round_floats, verdict

    mode = "deep" if deep is not None else "fingerprint"
    src = deep if deep is not None else fp
    log10p = float(src["log10_p"])
    v = verdict(log10p)
    if deep is not None:
        layers = [{k: e[k] for k in sorted(e) if k != "ln_p"} for e in deep["layers"]]
        alignment = deep["alignment"]
    else:
        layers = fp["layer_map"]
        alignment = {"kind": "not-computed (fingerprint mode: invariants need no alignment)",
                     "vocab_match": fp["anchors"]["vocab_match"]}
    report = {
        "schema_version": SCHEMA_VERSION,
        "mode": mode,
        "suspect": str(suspect),
        "reference": str(reference),
        "verdict": v,
        "p_value": src["p_value"],
        "log10_p_value": round(log10p, 3),
        "score": round(float(src["score"]), 6),
        "relation": relations(v, fp, ref_meta, sus_meta, deep),
        "layers": layers,
        "layer_map": [[e["suspect"], e["reference"]] for e in fp["layer_map"]],
        "alignment": alignment,
        "anchors": fp["anchors"],
        "hashes": fp["hashes"],
        "fingerprint_score": round(float(fp["score"]), 6),
        "fingerprint_log10_p_value": round(float(fp["log10_p"]), 3),
        "models": {"reference": _model_summary(ref_meta), "suspect": _model_summary(sus_meta)},
        "thresholds": {"derived_log10_p_at_most": DERIVED_LOG10_P, "independent_log10_p_above": INDEPENDENT_LOG10_P},
        "caveats": caveats(mode, fp, deep, v) + list(notes or []),
        "summary": "",
    }
    report["evidence"] = deep.get("evidence", "neuron-matching") if deep is not None else "fingerprint"
    if deep is not None and v != "derived" and float(fp["log10_p"]) <= DERIVED_LOG10_P:
        report["caveats"].append(CAVEAT_DISAGREE.format(fp=float(fp["log10_p"])))
    if deep is not None and report["evidence"] != "neuron-matching":
        report["caveats"].append("No layer has an MLP whose neurons could be matched, so the p-value is the "
                                 "fingerprint test's (weaker than the neuron test).")
    report = round_floats(report)
    # Rounding to 6 decimals would turn every small p-value into 0: keep significant digits instead.
    report["p_value"] = float(f"{float(src['p_value']):.4g}")
    report["summary"] = summary_sentence(report)
    return report


def _model_summary(meta: dict) -> dict:
    return {"layers": len(meta.get("layers", [])), "hidden_size": meta.get("hidden_size"),
            "vocab_size": meta.get("vocab_size"), "intermediate_size": meta.get("intermediate_size"),
            "tensors": len(meta.get("tensor_hashes", {})), "storage_dtypes": meta.get("storage_dtypes") or {}}


def summary_sentence(r: dict) -> str:
    p = _fmt_p(r)
    if r["verdict"] == "derived":
        how = f" ({', '.join(r['relation'])})" if r["relation"] else ""
        return (f"The suspect shares weight lineage with the reference{how}. Similarity this strong between "
                f"independent models has probability {p}.")
    if r["verdict"] == "independent":
        return (f"No shared weight lineage found: the similarity is what independent models of this shape show "
                f"(p = {p}).")
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
    lines.append(f"identical tensors (by content hash): {h['identical_tensors']} of {h['tensors_suspect']} in the "
                 f"suspect; same values in another layout: {h['same_values_other_layout']}")
    a = r["alignment"]
    lines.append(f"alignment: {a.get('kind')}; vocabulary matched by {a.get('vocab_match')}"
                 + (f" over {a['shared_tokens']} tokens" if "shared_tokens" in a else ""))
    lines.append("layers (suspect → reference):")
    for e in r["layers"]:
        extra = ""
        if "neuron_rho" in e:
            extra = (f", neuron ρ {e['neuron_rho']:.3f}, agreement {e['neuron_agreement']:.2f}, "
                     f"log10 p {e['log10_p']:.1f}")
        wc = f", weight CKA {e['weight_cka_qk']:.3f}" if e.get("weight_cka_qk") is not None else ""
        lines.append(f"  {e['suspect']:>3} → {e['reference']:<3} token CKA {e['token_cka']:.3f}{wc}{extra}")
    lines.append("caveats:")
    lines.extend(f"  - {c}" for c in r["caveats"])
    return "\n".join(lines) + "\n"


def render_markdown(r: dict) -> str:
    lines = [f"## Lineage: **{r['verdict']}**", "", r["summary"], "",
             "| | |", "|---|---|",
             f"| mode | {r['mode']} |", f"| score | {r['score']:.3f} |",
             f"| p-value | {_fmt_p(r)} (log10 {r['log10_p_value']}) |",
             f"| relation | {', '.join(r['relation']) or '—'} |",
             f"| alignment | {r['alignment'].get('kind')} ({r['alignment'].get('vocab_match')}) |",
             f"| identical tensors | {r['hashes']['identical_tensors']} of {r['hashes']['tensors_suspect']} |", "",
             "| suspect layer | reference layer | token CKA | weight CKA | neuron ρ | log10 p |",
             "|---:|---:|---:|---:|---:|---:|"]
    def num(e: dict, key: str, fmt: str) -> str:
        return format(e[key], fmt) if e.get(key) is not None else "—"

    for e in r["layers"]:
        lines.append(f"| {e['suspect']} | {e['reference']} | {num(e, 'token_cka', '.3f')} | "
                     f"{num(e, 'weight_cka_qk', '.3f')} | {num(e, 'neuron_rho', '.3f')} | {num(e, 'log10_p', '.1f')} |")
    lines += ["", "**Caveats**", ""] + [f"- {c}" for c in r["caveats"]]
    return "\n".join(lines) + "\n"
