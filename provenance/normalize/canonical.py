"""normalize(): a Checkpoint → a CanonicalModel (HF LLaMA names and layouts, lazily), with what was done and why.

Steps: strip wrapper prefixes; choose the naming scheme (a row of :mod:`.schemes`) that explains the most names;
give names no scheme explains to :mod:`.structural` inference; read the architecture (:mod:`.arch`); apply layout
transforms (:mod:`.layouts`) lazily; detect the family and diff against the reference LLaMA (:mod:`.family`).
Nothing is dropped silently: every source tensor ends up canonical (listed in ``renames`` when its name changed),
in ``dropped`` (non-weight buffers, with the reason) or in ``unmatched``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from provenance.checkpoint_types import Checkpoint, TensorRef
from provenance.normalize import layouts
from provenance.normalize.arch import INFERRED, METADATA, UNKNOWN, ArchSpec, metadata_values
from provenance.normalize.family import DISPLAY, LLAMA_LIKE, declared_family, graph_diff, traits_of
from provenance.normalize.schemes import (
    ADAPTER_SUFFIXES,
    BUFFERS,
    CANONICAL,
    FUSED,
    LOOKUPS,
    MOE_LAYOUTS,
    PREFIXES,
    Scheme,
    canonical_name,
    moe_canonical,
)
from provenance.normalize.types import Assignment, Rename

# Roles every LLaMA layer has, in HF module order (also the order canonical tensors are listed in).
LLAMA_LAYER_ROLES = ("attn_norm", "q", "k", "v", "o", "mlp_norm", "gate", "up", "down")
ROLE_ORDER = {
    r: i
    for i, r in enumerate(
        (
            "embed",
            "pos_embed",
            "attn_norm",
            "attn_norm_bias",
            "q",
            "q_bias",
            "q_norm",
            "k",
            "k_bias",
            "k_norm",
            "v",
            "v_bias",
            "o",
            "o_bias",
            "attn_out_norm",
            "mlp_norm",
            "mlp_norm_bias",
            "gate",
            "gate_bias",
            "up",
            "up_bias",
            "down",
            "down_bias",
            "mlp_out_norm",
            "final_norm",
            "final_norm_bias",
            "lm_head",
            "lm_head_bias",
        )
    )
}
NORM_ROLES = {"attn_norm", "mlp_norm", "final_norm", "attn_out_norm", "mlp_out_norm"}
LINEAR_ROLES = {"q", "k", "v", "o", "gate", "up", "down", "qkv", "gate_up"}

# GGUF architectures whose converter permutes Q/K rows into Meta's interleaved rotary order
# (llama.cpp convert_hf_to_gguf.py: LlamaModel.permute used by these model classes).
GGUF_META_ROPE = {"llama", "baichuan", "internlm2", "deepseek", "deepseek2", "chatglm", "granite", "mistral"}

# What a format implies when it carries no value (karpathy/llama2.c model.py ModelArgs; Meta llama model.py).
FORMAT_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama2c": {"hidden_act": "silu", "rms_norm_eps": 1e-5, "rope_theta": 10000.0},
    "meta": {"hidden_act": "silu", "rope_theta": 10000.0},
    "gguf:llama": {"hidden_act": "silu"},
}


@dataclass
class CanonicalModel:
    source: Checkpoint
    tensors: dict[str, TensorRef]
    arch: ArchSpec
    family: str
    llama_compatible: bool
    tied: bool
    renames: list[Rename]
    unmatched: list[str]
    graph_diff: dict[str, Any]
    scheme: str | None = None
    family_source: str = ""
    transforms: list[str] = field(default_factory=list)
    dropped: list[dict[str, str]] = field(default_factory=list)
    ambiguities: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what stops a faithful write (e.g. head_dim unknown)
    traits: dict[str, Any] = field(default_factory=dict)
    incompatible: list[str] = field(default_factory=list)  # why not LLaMA-compatible, in words

    def report_fields(self) -> dict[str, Any]:
        """The fields `inspect` adds to its JSON report."""
        return {
            "family": self.family,
            "llama_compatible": self.llama_compatible,
            "architecture": self.arch.as_dict(),
            "architecture_sources": {k: self.arch.sources[k] for k in sorted(self.arch.sources)},
            "renames": [r.as_dict() for r in self.renames],
            "unmatched": list(self.unmatched),
            "graph_diff": self.graph_diff,
            "normalization": {
                "scheme": self.scheme,
                "family_source": self.family_source,
                "tied": self.tied,
                "transforms": list(self.transforms),
                "dropped": list(self.dropped),
                "ambiguities": list(self.ambiguities),
                "problems": list(self.problems),
                "notes": list(self.arch.notes),
                "not_llama_compatible_because": list(self.incompatible),
            },
        }

    def summary_lines(self) -> list[str]:
        return summary_lines(self)


# ---------------------------------------------------------------------------------------------------------------
# Name matching


def strip_prefixes(name: str) -> tuple[str, list[str]]:
    notes: list[str] = []
    changed = True
    while changed:
        changed = False
        for prefix, why in PREFIXES:
            if name.startswith(prefix) and len(name) > len(prefix):
                name = name[len(prefix) :]
                notes.append(why)
                changed = True
    return name, notes


def split_adapter_suffix(name: str) -> tuple[str, str]:
    """``(module weight name, suffix)``: LoRA tensors are looked up by the weight they modify."""
    for suffix in ADAPTER_SUFFIXES:
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            return (base if base.endswith(".weight") else base + ".weight"), suffix
    return name, ""


def choose_scheme(bases: dict[str, str], hints: set[str], fmt: str) -> tuple[Scheme | None, int]:
    best: tuple | None = None
    for order, (_name, lookup) in enumerate(LOOKUPS.items()):
        count = sum(1 for b in bases.values() if lookup.role(b) is not None)
        if count == 0:
            continue
        s = lookup.scheme
        key = (count, bool(hints & set(s.model_types)), fmt in s.formats, -order)
        if best is None or key > best[0]:
            best = (key, s)
    if best is None:
        return None, 0
    return best[1], best[0][0]


def _moe_names(ckpt: Checkpoint) -> dict[str, tuple[str, str, str]]:
    """``{source: (canonical name, layout, adapter suffix)}`` for mixture-of-experts tensors (schemes.MOE_LAYOUTS)."""
    out = {}
    for name in ckpt.tensors:
        base, suffix = split_adapter_suffix(strip_prefixes(name)[0])
        hit = moe_canonical(base)
        if hit:
            out[name] = (hit[0], hit[1], suffix)
    return out


def match_names(ckpt: Checkpoint, hints: set[str]) -> tuple[Scheme | None, list[Assignment], list[str]]:
    """Assign roles by the best scheme; return (scheme, assignments, names left over in file order)."""
    bases: dict[str, str] = {}
    prefix_notes: dict[str, list[str]] = {}
    suffixes: dict[str, str] = {}
    for name in ckpt.tensors:
        stripped, notes = strip_prefixes(name)
        base, suffix = split_adapter_suffix(stripped)
        bases[name], prefix_notes[name], suffixes[name] = base, notes, suffix
    scheme, _ = choose_scheme(bases, hints, ckpt.format)
    assigned: list[Assignment] = []
    leftover: list[str] = []
    for name in ckpt.tensors:
        hit = LOOKUPS[scheme.name].role(bases[name]) if scheme else None
        if hit is None:
            leftover.append(name)
            continue
        role, layer = hit
        rule = f"scheme {scheme.name} ({scheme.source})"
        if prefix_notes[name]:
            rule += " after stripping " + " and ".join(prefix_notes[name])
        assigned.append(Assignment(name, role, layer, rule, "high", suffixes[name]))
    return scheme, assigned, leftover


# ---------------------------------------------------------------------------------------------------------------
# Architecture


class _Roles:
    """Assignments indexed by (layer, role) for the base weights (adapter tensors excluded)."""

    def __init__(self, ckpt: Checkpoint, assigns: list[Assignment]):
        self.ckpt = ckpt
        self.by_key: dict[tuple[int | None, str], Assignment] = {}
        for a in assigns:
            if not a.suffix:
                self.by_key.setdefault((a.layer, a.role), a)
        self.layers = sorted({a.layer for a in assigns if a.layer is not None})

    def ref(self, role: str, layer: int | None = None) -> TensorRef | None:
        if (
            layer is None
            and role
            not in ("embed", "final_norm", "lm_head", "pos_embed", "final_norm_bias", "lm_head_bias", "rope_freqs")
            and self.layers
        ):
            layer = self.layers[0]
        a = self.by_key.get((layer, role))
        return self.ckpt.tensors[a.source] if a else None

    def present(self) -> set[str]:
        roles = {r for (_, r) in self.by_key}
        for fused, parts in FUSED.items():
            if fused in roles:
                roles.update(parts)
        return roles


def _rows(ref: TensorRef | None, transposed: bool = False) -> int | None:
    if ref is None:
        return None
    if transposed and len(ref.shape) == 2:
        return ref.shape[1]
    return ref.shape[0]


def _equal_tensors(a: TensorRef, b: TensorRef) -> bool:
    if a.shape != b.shape:
        return False
    for start, block in a.iter_rows(16 * 1024 * 1024):
        if not np.array_equal(block, b.read_rows(start, start + block.shape[0])):
            return False
    return True


def infer_arch(
    ckpt: Checkpoint, roles: _Roles, family: str, conv1d: bool, head_dim: int | None, fmt_key: str
) -> ArchSpec:
    spec = ArchSpec()
    declared = metadata_values(ckpt.metadata)
    defaults = FORMAT_DEFAULTS.get(fmt_key, {})

    def put(key: str, inferred: Any, note_conflict: bool = True) -> None:
        d = declared.get(key)
        if inferred is None:
            if d is not None:
                spec.set(key, d, METADATA)
            elif key in defaults:
                spec.set(key, defaults[key], METADATA)
            else:
                spec.set(key, None, UNKNOWN)
            return
        if d is not None and d != inferred:
            if note_conflict:
                spec.notes.append(f"metadata says {key} = {d}; the tensors say {inferred}")
            spec.set(key, inferred, INFERRED)
        else:
            spec.set(key, inferred, METADATA if d is not None else INFERRED)

    embed = roles.ref("embed")
    hidden = embed.shape[1] if embed is not None and len(embed.shape) == 2 else None
    if hidden is None:
        norm = roles.ref("attn_norm") or roles.ref("final_norm")
        hidden = norm.shape[0] if norm is not None else None
    put("hidden_size", hidden)
    vocab = embed.shape[0] if embed is not None else None
    dv = declared.get("vocab_size")
    if vocab is not None and isinstance(dv, int) and dv < vocab:
        spec.notes.append(f"vocabulary padded: metadata says {dv} tokens, the embedding has {vocab} rows")
    put("vocab_size", vocab, note_conflict=not (isinstance(dv, int) and vocab is not None and dv < vocab))
    put("num_hidden_layers", len(roles.layers) if roles.layers else None)

    # Projection widths: q rows = heads x head_dim, k rows = kv heads x head_dim.
    o = roles.ref("o")
    q_rows = _rows(roles.ref("q"))
    if o is not None and len(o.shape) == 2:
        q_in = o.shape[0] if conv1d else o.shape[1]
        q_rows = q_rows or q_in
    k_rows = _rows(roles.ref("k"))
    qkv = roles.ref("qkv")
    if qkv is not None and q_rows:
        total = qkv.shape[1] if conv1d else qkv.shape[0]
        k_rows = (total - q_rows) // 2

    # head_dim: option, metadata, heads in metadata, q_norm size, rotary buffer sizes.
    hd, hd_src = None, UNKNOWN
    if head_dim:
        hd, hd_src = int(head_dim), METADATA
        spec.notes.append(f"head_dim {hd} given by option")
    elif declared.get("head_dim"):
        hd, hd_src = int(declared["head_dim"]), METADATA
    elif declared.get("num_attention_heads") and q_rows:
        hd, hd_src = q_rows // int(declared["num_attention_heads"]), METADATA
    else:
        qn = roles.ref("q_norm")
        inv = roles.ref("rope_inv_freq")
        freqs = roles.ref("rope_freqs")
        if qn is not None and q_rows and qn.shape[0] < q_rows:
            hd, hd_src = qn.shape[0], INFERRED
        elif inv is not None:
            hd, hd_src = 2 * inv.shape[-1], INFERRED
        elif freqs is not None:
            hd, hd_src = 2 * freqs.shape[-1], INFERRED
        elif declared.get("rope_dimension_count"):
            hd, hd_src = int(declared["rope_dimension_count"]), METADATA
    spec.set("head_dim", hd, hd_src)
    nh = q_rows // hd if hd and q_rows else None
    put("num_attention_heads", nh)
    nkv = k_rows // hd if hd and k_rows else None
    if (
        nkv is None
        and "num_key_value_heads" not in declared
        and declared.get("num_attention_heads")
        and isinstance(ckpt.metadata.get("config"), dict)
    ):
        declared["num_key_value_heads"] = declared["num_attention_heads"]  # HF default: one KV head per head
    put("num_key_value_heads", nkv)
    if hd_src == INFERRED:  # counts derived from an inferred head_dim are inferred too
        for key in ("num_attention_heads", "num_key_value_heads"):
            if spec.sources.get(key) == METADATA and declared.get(key) is None:
                spec.sources[key] = INFERRED

    inter = None
    gate, up, down, gate_up = roles.ref("gate"), roles.ref("up"), roles.ref("down"), roles.ref("gate_up")
    if gate_up is not None:
        inter = (gate_up.shape[1] if conv1d else gate_up.shape[0]) // 2
    elif gate is not None:
        inter = gate.shape[0]
    elif up is not None:
        inter = up.shape[1] if conv1d else up.shape[0]
    elif down is not None and len(down.shape) == 2:
        inter = down.shape[0] if conv1d else down.shape[1]
    put("intermediate_size", inter, note_conflict=family != "qwen")  # Qwen-1 configs list 2x the MLP width

    lm = roles.ref("lm_head")
    if lm is None:
        tied = True if embed is not None else None
    else:
        tied = embed is not None and _equal_tensors(embed, lm)
    d_tie = declared.get("tie_word_embeddings")
    if tied is not None:
        if d_tie is not None and bool(d_tie) != tied and lm is not None:
            spec.notes.append(
                f"metadata says tie_word_embeddings = {d_tie}; lm_head "
                f"{'equals' if tied else 'differs from'} the embedding"
            )
        spec.set("tie_word_embeddings", tied, METADATA if d_tie is not None and bool(d_tie) == tied else INFERRED)
    else:
        put("tie_word_embeddings", None)
    present = roles.present()
    spec.set("attention_bias", bool({"q_bias", "k_bias", "v_bias", "o_bias", "qkv_bias"} & present), INFERRED)
    spec.set("mlp_bias", bool({"gate_bias", "up_bias", "down_bias"} & present), INFERRED)
    for key in (
        "rms_norm_eps",
        "rope_theta",
        "rope_scaling",
        "hidden_act",
        "max_position_embeddings",
        "bos_token_id",
        "eos_token_id",
        "sliding_window",
        "partial_rotary_factor",
    ):
        if key == "rope_scaling" and declared.get(key) is None:
            continue
        if key in ("sliding_window", "partial_rotary_factor") and declared.get(key) is None:
            continue
        put(key, None)
    return spec


# ---------------------------------------------------------------------------------------------------------------
# Canonical tensors


def _rope_order(scheme: Scheme | None, ckpt: Checkpoint, assigns: list[Assignment]) -> tuple[str | None, str]:
    """("hf" | "meta" | None, why). None: the format does not say (structural names)."""
    if scheme is None or not any(a.role in ("q", "k", "qkv") and a.rule.startswith("scheme") for a in assigns):
        return None, "names matched no scheme, so the format does not say"
    if scheme.rope == "by_gguf_arch":
        arch = (ckpt.metadata.get("gguf") or {}).get("general.architecture", "llama")
        if arch in GGUF_META_ROPE:
            return "meta", f"GGUF {arch}: llama.cpp stores Q/K in interleaved rotary order"
        return "hf", f"GGUF {arch}: half-split rotary order"
    if scheme.rope == "meta":
        return "meta", f"{scheme.source} stores Q/K in interleaved (Meta) rotary order"
    return "hf", f"{scheme.source} uses half-split (HF) rotary order"


def _detect_rope(q: TensorRef, k: TensorRef | None, nh: int, nkv: int | None) -> tuple[str | None, str]:
    """Detect the rotary order from the row-pair statistic; None when it cannot tell (e.g. untrained weights)."""
    hf, meta = layouts.rotary_pair_score(q.read(), nh)
    if k is not None and nkv:
        hk, mk = layouts.rotary_pair_score(k.read(), nkv)
        hf, meta = hf + hk, meta + mk
    if meta < 0.7 * hf:
        return "meta", f"row-pair statistic prefers interleaved order ({meta:.3f} vs {hf:.3f})"
    if hf < 0.7 * meta:
        return "hf", f"row-pair statistic prefers half-split order ({hf:.3f} vs {meta:.3f})"
    return None, f"row-pair statistic cannot tell ({hf:.3f} vs {meta:.3f})"


def _qkv_layout(scheme: Scheme, cfg: dict[str, Any], nh: int | None, nkv: int | None) -> str:
    if scheme.qkv_layout == "falcon":
        if cfg.get("new_decoder_architecture") or cfg.get("multi_query", nkv == 1):
            return "grouped"
        return "neox"
    if scheme.name == "gguf":
        return "contiguous"  # llama.cpp converters reorder fused QKV to [Q; K; V]
    return scheme.qkv_layout


def normalize(
    ckpt: Checkpoint,
    *,
    head_dim: int | None = None,
    reference: Checkpoint | None = None,
    rope_order: str | None = None,
    graph: bool = True,
) -> CanonicalModel:
    """Map a checkpoint onto the canonical LLaMA schema (lazily) and describe how.

    ``head_dim`` overrides what the files say (needed when they say nothing and Q/K must be un-permuted);
    ``reference`` (a checkpoint of the same architecture) resolves structural ambiguities by cosine similarity;
    ``rope_order`` ("hf" or "meta") states the Q/K row order when the format does not say. ``graph=False`` skips
    the architecture-graph diff against the reference LLaMA (it imports torch and traces a model): callers that
    need only the canonical tensors and values use it, and ``graph_diff``/``llama_compatible`` then leave the
    graph out.
    """
    from provenance.normalize import structural

    cfg = ckpt.metadata.get("config") if isinstance(ckpt.metadata.get("config"), dict) else {}
    fam_declared, fam_src = declared_family(ckpt.metadata)
    hints = {str(cfg.get("model_type"))} if cfg.get("model_type") else set()
    gguf_arch = (ckpt.metadata.get("gguf") or {}).get("general.architecture")
    if gguf_arch:
        hints.add(str(gguf_arch))
    if fam_declared:
        hints.add(fam_declared)
    scheme, assigns, leftover = match_names(ckpt, hints)
    moe = _moe_names(ckpt)  # mixture-of-experts tensors: mapped by their own table, kept out of role inference
    if moe:
        leftover = [n for n in leftover if n not in moe]
        assigns = [a for a in assigns if a.source not in moe]
    ambiguities: list[str] = []
    unmatched: list[str] = []
    ref_cm = normalize(reference, graph=False) if reference is not None else None
    if leftover:
        more, still, notes = structural.infer(ckpt, leftover, assigns, head_dim=head_dim, reference=ref_cm)
        assigns.extend(more)
        unmatched.extend(still)
        ambiguities.extend(notes)

    # One source per (layer, role, suffix); a second claimant is unmatched rather than silently ignored.
    seen: set[tuple] = set()
    kept: list[Assignment] = []
    for a in assigns:
        key = (a.layer, a.role, a.suffix)
        if key in seen and a.role not in BUFFERS and a.role != "rope_freqs":
            unmatched.append(a.source)
            ambiguities.append(f"{a.source}: a second tensor for role {a.role}; left unmatched")
            continue
        seen.add(key)
        kept.append(a)
    assigns = kept
    from provenance.normalize.family import has_language_model_signature

    if scheme is None and fam_declared in (None, "unknown") and not has_language_model_signature(assigns):
        unmatched = sorted(set(unmatched) | {a.source for a in assigns})  # not a language model: match nothing
        assigns = []

    if fam_declared:
        family, family_source = fam_declared, fam_src
    elif scheme is not None:
        family, family_source = scheme.family, f"naming scheme {scheme.name}"
    elif assigns:
        family, family_source = "llama", "structure (LLaMA role signature from shapes)"
    else:
        family, family_source = "unknown", "no tensor matched a known role"

    roles = _Roles(ckpt, assigns)
    conv1d = _is_conv1d(scheme, roles)
    fmt_key = ckpt.format if ckpt.format != "gguf" else f"gguf:{gguf_arch}"
    if ckpt.format == "torch" and scheme is not None and scheme.name == "meta":
        fmt_key = "meta"  # Meta names in a plain torch file (llama2.c ckpt.pt): Meta's model code applies
    arch = infer_arch(ckpt, roles, family, conv1d, head_dim, fmt_key)
    problems: list[str] = []
    transforms: list[str] = []
    hd = arch.get("head_dim")
    nh, nkv = arch.get("num_attention_heads"), arch.get("num_key_value_heads")

    order, why = _rope_order(scheme, ckpt, assigns)
    if rope_order in ("hf", "meta"):
        order, why = rope_order, "given by option"
    elif order is None and roles.ref("q") is not None:
        if nh:
            order, why2 = _detect_rope(roles.ref("q"), roles.ref("k"), int(nh), nkv and int(nkv))
            why = f"{why}; {why2}"
        if order is None and reference is not None and ref_cm is not None and nh:
            order, why3 = _rope_by_reference(roles, ref_cm, int(nh))
            why = f"{why}; {why3}"
        if order is None:
            order = "hf"
            ambiguities.append(f"rotary Q/K row order undetectable ({why}); assumed half-split (HF) order")
    if order == "meta":
        if not hd:
            problems.append(
                "head_dim is unknown, and it is needed to undo the rotary Q/K permutation (give --head-dim)"
            )
        else:
            transforms.append(
                f"rotary Q/K rows: interleaved (Meta) → half-split (HF) order, {nh} query heads, "
                f"{nkv} key/value heads ({why})"
            )

    tensors: dict[str, TensorRef] = {}
    renames: list[Rename] = []
    dropped: list[dict[str, str]] = []
    incompatible: list[str] = []
    norm_offset = family in ("gemma", "gemma2") and ckpt.format != "gguf"
    if norm_offset:
        transforms.append("norm gains stored as w (computed as 1 + w): canonical stores 1 + w")
    if conv1d:
        transforms.append("Conv1D weights stored [in, out]: transposed to [out, in]")
    baichuan2 = family == "baichuan" and arch.get("vocab_size") == 125696
    qkv_layout = _qkv_layout(scheme, cfg, nh, nkv) if scheme else "contiguous"
    split_done: set[str] = set()

    for a in assigns:
        src = ckpt.tensors[a.source]
        if a.role in BUFFERS or a.role == "rope_freqs":
            reason = BUFFERS.get(a.role, BUFFERS["rope_freqs"])
            dropped.append({"name": a.source, "reason": reason})
            continue
        pieces: list[tuple[str, TensorRef, str]] = []
        ref = src
        extra = ""
        if conv1d and len(src.shape) == 2 and a.role in LINEAR_ROLES:
            ref = layouts.transposed(src, a.source)
            extra = "; transposed from Conv1D [in, out]"
        if a.role in FUSED:
            parts = FUSED[a.role]
            try:
                idx = _fused_indices(a.role, ref, qkv_layout, nh, nkv, hd, roles, conv1d)
            except ValueError as exc:
                problems.append(f"{a.source}: cannot split ({exc})")
                unmatched.append(a.source)
                continue
            kind = a.role.replace("_bias", "")
            split_done.add(f"fused {kind} split ({qkv_layout if kind == 'qkv' else 'contiguous'} layout)")
            for part, index in zip(parts, idx):
                pieces.append(
                    (
                        part,
                        layouts.gather_rows(ref, a.source, index),
                        f"; split from fused {a.role} ({qkv_layout if kind == 'qkv' else '[gate; up]'})",
                    )
                )
        else:
            pieces.append((a.role, ref, ""))
        for role, piece, how in pieces:
            if role not in CANONICAL:
                unmatched.append(a.source)
                continue
            name = canonical_name(role, a.layer)
            if a.suffix:
                name = name[: -len(".weight")] + a.suffix
            t = piece
            if order == "meta" and hd and role in ("q", "k", "q_bias", "k_bias") and a.suffix != ".lora_A.weight":
                heads = int(nh) if role.startswith("q") else int(nkv or nh)
                t = layouts.unpermute_rotary(t, name, heads)
            if norm_offset and role in NORM_ROLES and not a.suffix:
                t = layouts.plus_one(t, name)
            if baichuan2 and role == "lm_head":
                t = layouts.l2_normalized_rows(t, name)
            tensors[name] = layouts.renamed(t, name)
            if name != a.source:
                renames.append(Rename(a.source, name, a.rule + how + extra, a.confidence))
    transforms.extend(sorted(split_done))
    for source, (name, layout, suffix) in moe.items():
        if suffix:
            name = name[: -len(".weight")] + suffix
        src = ckpt.tensors[source]
        rule = f"mixture-of-experts layout {layout} ({MOE_LAYOUTS[layout][0]})"
        if "{E}" in name:  # stacked [experts, rows, columns]: one canonical tensor per expert
            if len(src.shape) != 3:
                problems.append(f"{source}: stacked experts need a 3-D tensor, found shape {list(src.shape)}")
                continue
            for e in range(src.shape[0]):
                one = name.replace("{E}", str(e))
                tensors[one] = layouts.expert_slice(src, one, e)
                renames.append(Rename(source, one, f"{rule}; expert {e} of the stacked tensor", "high"))
            continue
        tensors[name] = layouts.renamed(src, name)
        if name != source:
            renames.append(Rename(source, name, rule, "high"))
    if moe:
        layouts_seen = sorted({v[1] for v in moe.values()})
        transforms.append(
            f"mixture of experts ({', '.join(layouts_seen)}): experts under "
            "model.layers.{L}.mlp.experts.{E}.*, router model.layers.{L}.mlp.gate"
        )
        incompatible.append("mixture-of-experts MLP (not a dense LLaMA MLP)")
    if baichuan2:
        transforms.append("Baichuan2 NormHead: lm_head rows L2-normalised")

    tied = bool(arch.get("tie_word_embeddings"))
    embed_name, head_name = CANONICAL["embed"], CANONICAL["lm_head"]
    if head_name not in tensors and embed_name in tensors:
        tensors[head_name] = layouts.renamed(tensors[embed_name], head_name)
        transforms.append("lm_head materialised from the tied embedding")
    tensors = dict(sorted(tensors.items(), key=lambda kv: _canonical_sort_key(kv[0])))

    # Family traits, the diff against LLaMA, and compatibility.
    present = roles.present()
    traits = traits_of(family, present, arch.values, cfg)
    adapter_only = bool(assigns) and all(a.suffix for a in assigns)
    if adapter_only:
        modules = sorted({CANONICAL[a.role].split(".")[-2] for a in assigns if a.role in CANONICAL})
        gd = {
            "identical": False,
            "source": "adapter",
            "differences": [f"adapter weights only (on {', '.join(modules)}); the architecture is its base model's"],
        }
        incompatible.append("adapter weights only, not a full model")
        if unmatched:
            incompatible.append(f"{len(unmatched)} tensor(s) unmatched")
    else:
        gd = (
            _graph_diff(tensors, traits, arch, roles)
            if graph
            else {"identical": None, "differences": [], "source": "not computed (graph=False)"}
        )
        if family not in LLAMA_LIKE and not gd["differences"]:
            incompatible.append(f"family {family} is not LLaMA-compatible" if family != "unknown" else "family unknown")
        incompatible.extend(gd["differences"])
        missing = _missing_roles(roles)
        if missing:
            incompatible.append("missing LLaMA tensors: " + ", ".join(missing[:6]) + (" …" if len(missing) > 6 else ""))
        if unmatched:
            incompatible.append(f"{len(unmatched)} tensor(s) unmatched")
    llama_compatible = not incompatible
    renames.sort(key=lambda r: (_canonical_sort_key(r.to), r.from_))
    return CanonicalModel(
        source=ckpt,
        tensors=tensors,
        arch=arch,
        family=family,
        llama_compatible=llama_compatible,
        tied=tied,
        renames=renames,
        unmatched=sorted(set(unmatched)),
        graph_diff=gd,
        scheme=scheme.name if scheme else None,
        family_source=family_source,
        transforms=transforms,
        dropped=sorted(dropped, key=lambda d: d["name"]),
        ambiguities=ambiguities,
        problems=problems + arch_problems(arch, order),
        traits=traits,
        incompatible=sorted(set(incompatible), key=incompatible.index),
    )


def _graph_diff(tensors: dict[str, TensorRef], traits: dict[str, Any], arch: ArchSpec, roles: _Roles) -> dict:
    shapes = {n: tuple(t.shape) for n, t in tensors.items()}
    plain_llama = {**arch.to_hf_config(), "attention_bias": False, "mlp_bias": False, "hidden_act": "silu"}
    q0 = tensors.get(canonical_name("q", roles.layers[0])) if roles.layers else None
    k0 = tensors.get(canonical_name("k", roles.layers[0])) if roles.layers else None
    if not arch.known("head_dim") and q0 is not None and k0 is not None and q0.shape[0] % k0.shape[0] == 0:
        # Head counts unknown: compare against a LLaMA with the same projection widths (one KV head of k's
        # width), so the diff speaks about architecture, not about a head split nobody knows.
        plain_llama.update(
            {"head_dim": k0.shape[0], "num_key_value_heads": 1, "num_attention_heads": q0.shape[0] // k0.shape[0]}
        )
    return graph_diff(shapes, traits, arch.values, plain_llama)


def arch_problems(arch: ArchSpec, order: str | None) -> list[str]:
    out = []
    for key in ("hidden_size", "num_hidden_layers", "vocab_size", "intermediate_size"):
        if not arch.known(key):
            out.append(f"{key} is unknown")
    if not arch.known("head_dim") and order != "meta":
        out.append("head_dim is unknown (the files do not say; give --head-dim)")
    return out


def _missing_roles(roles: _Roles) -> list[str]:
    present = {(layer, r) for (layer, r) in roles.by_key}
    for layer, r in list(present):
        for part in FUSED.get(r, ()):
            present.add((layer, part))
    out = [r for r in ("embed", "final_norm") if (None, r) not in present]
    if not roles.layers:
        out.append("layers")
    for layer in roles.layers:
        for r in LLAMA_LAYER_ROLES:
            if (layer, r) not in present:
                out.append(f"layer {layer} {r}")
    return out


def _is_conv1d(scheme: Scheme | None, roles: _Roles) -> bool:
    """GPT-2 Conv1D stores [in, out]. Decided by shape: the MLP input projection is [H, I] rather than [I, H]."""
    if scheme is None or not scheme.conv1d:
        return False
    embed, up = roles.ref("embed"), roles.ref("up")
    if embed is None or up is None or len(up.shape) != 2:
        return True
    return up.shape[0] == embed.shape[1] and up.shape[1] != embed.shape[1]


def _fused_indices(role: str, ref: TensorRef, layout: str, nh, nkv, hd, roles: _Roles, conv1d: bool):
    rows = ref.shape[0]
    if role == "gate_up":
        if rows % 2:
            raise ValueError(f"{rows} rows do not split in two")
        return np.arange(rows // 2), np.arange(rows // 2, rows)
    if layout == "contiguous":
        o = roles.ref("o")
        q_rows = None
        if hd and nh:
            q_rows = int(nh) * int(hd)
        elif o is not None and len(o.shape) == 2:
            q_rows = o.shape[0] if conv1d else o.shape[1]
        if not q_rows or (rows - q_rows) % 2 or rows <= q_rows:
            raise ValueError("query width unknown")
        kv = (rows - q_rows) // 2
        base = np.arange(rows)
        return base[:q_rows], base[q_rows : q_rows + kv], base[q_rows + kv :]
    if not (hd and nh):
        raise ValueError(f"{layout} QKV layout needs head_dim and head counts, which are unknown")
    nkv = int(nkv or nh)
    q, k, v = layouts.qkv_indices(layout, int(nh), nkv, int(hd))
    if q.size + k.size + v.size != rows:
        raise ValueError(f"{rows} rows do not match {nh} heads, {nkv} KV heads of {hd}")
    return q, k, v


def _rope_by_reference(roles: _Roles, ref_cm: CanonicalModel, nh: int) -> tuple[str | None, str]:
    q = roles.ref("q")
    layer = roles.layers[0] if roles.layers else 0
    target = ref_cm.tensors.get(canonical_name("q", layer))
    if q is None or target is None or target.shape != q.shape:
        return None, "reference has no comparable q"
    a, b = q.read(), target.read()
    perm = a[layouts.meta_to_hf_index(a.shape[0], nh)]
    c_id, c_perm = _cos(a, b), _cos(perm, b)
    if max(c_id, c_perm) < 0.5:
        return None, f"reference q does not match either order (cosine {c_id:.2f} / {c_perm:.2f})"
    return ("meta" if c_perm > c_id else "hf"), f"reference q cosine {c_id:.2f} (as is) vs {c_perm:.2f} (permuted)"


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    d = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / d) if d else 0.0


def _canonical_sort_key(name: str) -> tuple:
    from provenance.normalize.schemes import layer_key

    key, layer = layer_key(name)
    role = next((r for r, t in CANONICAL.items() if t == key or (t[: -len(".weight")] in key and ".lora" in key)), None)
    order = ROLE_ORDER.get(role, 99) if role else 99
    if layer is None:
        band = 0 if order < ROLE_ORDER["attn_norm"] else 2
        return (band, -1, order, name)
    return (1, layer, order, name)


# ---------------------------------------------------------------------------------------------------------------
# Summary


def _short(src: str, dst: str) -> tuple[str, str]:
    """The differing middle of two dotted names: ``model.layers.{L}.ln1.weight`` vs ``…input_layernorm.weight``."""
    a, b = src.split("."), dst.split(".")
    i = 0
    while i < min(len(a), len(b)) - 1 and a[i] == b[i]:
        i += 1
    j = 0
    while j < min(len(a), len(b)) - i - 1 and a[-1 - j] == b[-1 - j]:
        j += 1
    return ".".join(a[i : len(a) - j]), ".".join(b[i : len(b) - j])


def summary_lines(cm: CanonicalModel) -> list[str]:
    from provenance.normalize.schemes import layer_key

    name = DISPLAY.get(cm.family, cm.family)
    lines: list[str] = []
    if cm.graph_diff.get("source") == "adapter":
        head = f"adapter weights (no base model) named for a {name} model"
    elif cm.llama_compatible:
        head = "LLaMA architecture" if cm.family == "llama" else f"{name} architecture (LLaMA-compatible)"
    elif cm.family == "unknown":
        head = "architecture not recognised"
    else:
        head = f"{name} architecture, not LLaMA-compatible"
        if cm.incompatible:
            head += ": " + "; ".join(cm.incompatible[:4]) + ("; …" if len(cm.incompatible) > 4 else "")
    n_layers = cm.arch.get("num_hidden_layers") or 0
    per_layer: dict[tuple[str, str], set[int]] = {}
    others: list[tuple[str, str]] = []
    for r in cm.renames:
        (fk, fl), (tk, tl) = layer_key(r.from_), layer_key(r.to)
        if fl is not None and fl == tl:
            per_layer.setdefault((fk, tk), set()).add(fl)
        else:
            others.append((r.from_, r.to))
    every = [k for k, ls in per_layer.items() if n_layers and len(ls) == n_layers]
    some = [k for k, ls in per_layer.items() if k not in every]
    parts = []
    if every:
        shorts = list(dict.fromkeys(" → ".join(_short(f, t)) for f, t in every))
        parts.append(
            f"{len(every)} tensor name{'s' if len(every) != 1 else ''} differ{'s' if len(every) == 1 else ''}"
            f" per layer: " + ", ".join(shorts[:6]) + (", …" if len(shorts) > 6 else "")
        )
    if some:
        parts.append(f"{sum(len(per_layer[k]) for k in some)} more layer tensor names differ in some layers")
    if others:
        shown = ", ".join(f"{f} → {t}" for f, t in others[:3])
        parts.append(
            f"{len(others)} other name{'s' if len(others) != 1 else ''} differ: {shown}"
            + (", …" if len(others) > 3 else "")
        )
    if not cm.renames:
        parts.append("tensor names already canonical")
    lines.append(head + "; " + "; ".join(parts))
    if cm.unmatched:
        lines.append(
            f"unmatched tensors ({len(cm.unmatched)}): "
            + ", ".join(cm.unmatched[:5])
            + (", …" if len(cm.unmatched) > 5 else "")
        )
    for t in cm.transforms:
        lines.append(f"layout: {t}")
    low = [r for r in cm.renames if r.confidence != "high"]
    if low:
        lines.append(
            f"{len(low)} name(s) assigned by structure with {low[0].confidence} confidence, "
            f"e.g. {low[0].from_} → {low[0].to} ({low[0].rule})"
        )
    for a in cm.ambiguities[:5]:
        lines.append(f"ambiguity: {a}")
    return lines
