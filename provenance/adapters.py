"""LoRA adapters applied to a given base in memory, so ``compare ADAPTER BASE`` compares the adapted model.

What peft computes (huggingface/peft ``tuners/lora/layer.py``, ``Linear.get_delta_weight`` and
``Embedding.get_delta_weight``; ``LoraConfig`` in ``tuners/lora/config.py``):

- a linear module ``W [out, in]`` with ``lora_A [r, in]`` and ``lora_B [out, r]`` becomes ``W + s · B·A``; peft
  stores ``W`` transposed for GPT-2 ``Conv1D`` layers (``fan_in_fan_out``) and transposes the delta to match — in
  the canonical ``[out, in]`` orientation normalization gives every matrix, the delta is ``B·A`` either way;
- an embedding ``E [vocab, d]`` with ``lora_embedding_A [r, vocab]`` and ``lora_embedding_B [d, r]`` becomes
  ``E + s · (B·A)ᵀ``;
- ``s = lora_alpha / r``, or ``lora_alpha / √r`` with ``use_rslora``; ``rank_pattern`` / ``alpha_pattern`` override
  r and alpha per module (a key matches a module name that ends with it, peft ``get_pattern_key``);
- ``modules_to_save`` (and ``bias="all"|"lora_only"``) store whole tensors: they replace the base's.

The adapter's ``base_model_name_or_path`` is reported as declared and never opened. Merged tensors are computed
lazily, a row block at a time, so memory stays at the base's blocks plus the small A and B.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from provenance.errors import InputError

LORA_A, LORA_B = ".lora_A.weight", ".lora_B.weight"
EMB_A, EMB_B = ".lora_embedding_A", ".lora_embedding_B"
SUPPORTED_TYPES = ("LORA",)


class MergedTensor:
    """``base + s · B·A`` (or ``+ s · (B·A)ᵀ`` for an embedding), computed when read."""

    def __init__(self, name: str, base: Any, a: np.ndarray, b: np.ndarray, scale: float, embedding: bool):
        self.name, self.base, self.scale, self.embedding = name, base, scale, embedding
        self.a, self.b = a, b
        self.shape = tuple(int(s) for s in base.shape)
        self.dtype = "F32"

    def _base_rows(self, r0: int, r1: int) -> np.ndarray:
        from fingerprints.canon import as_array

        if hasattr(self.base, "read_rows") and not isinstance(self.base, np.ndarray):
            return np.asarray(self.base.read_rows(r0, r1), dtype=np.float32).reshape(r1 - r0, -1)
        return as_array(self.base)[r0:r1]

    def read_rows(self, r0: int, r1: int) -> np.ndarray:
        if self.embedding:  # (B·A)ᵀ rows r0:r1 = A[:, r0:r1]ᵀ · Bᵀ
            delta = self.a[:, r0:r1].T @ self.b.T
        else:
            delta = self.b[r0:r1] @ self.a
        return (self._base_rows(r0, r1) + np.float32(self.scale) * delta).astype(np.float32, copy=False)

    def read(self) -> np.ndarray:
        return self.read_rows(0, self.shape[0])


def _pattern_value(pattern: Mapping[str, Any] | None, module: str, default: Any) -> Any:
    """peft ``get_pattern_key``: the first key that the module name ends with (after a dot, or the whole name)."""
    for key, value in (pattern or {}).items():
        if re.match(rf"(.*\.)?({key})$", module):
            return value
    return default


def _module_of(source: str) -> str:
    """``model.layers.0.self_attn.q_proj`` from a stored adapter tensor name."""
    from provenance.normalize.canonical import split_adapter_suffix, strip_prefixes

    base, _ = split_adapter_suffix(strip_prefixes(source)[0])
    return base[: -len(".weight")] if base.endswith(".weight") else base


def apply_adapter(
    adapter_ckpt_path: str | Path, base_tensors: Mapping[str, Any], base_arch: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The base's canonical tensors with the adapter applied, and the adapter's facts (for the report).

    Raises :class:`InputError` (exit 2, one line) naming the first mismatch: a targeted module the base lacks, a
    shape that does not fit, a rank that contradicts the config, or an adapter kind this does not merge."""
    from fingerprints.canon import as_array
    from provenance.checkpoint import open_checkpoint
    from provenance.normalize import normalize

    path = Path(adapter_ckpt_path)
    ckpt = open_checkpoint(path)
    if ckpt.format != "peft" or ckpt.adapter is None:
        raise InputError(path, "not a PEFT adapter (no adapter_config.json beside the weights)")
    cfg = ckpt.adapter.config or {}
    kind = str(cfg.get("peft_type") or "LORA").upper()
    if kind not in SUPPORTED_TYPES:
        raise InputError(path, f"PEFT type {kind} cannot be applied (only LoRA adapters are merged)")
    if cfg.get("use_dora"):
        raise InputError(path, "DoRA adapters (use_dora) cannot be applied yet: only plain LoRA is merged")
    odd = [
        n
        for n in ckpt.tensors
        if n.endswith((".lora_B.bias", "lora_magnitude_vector", ".lora_magnitude_vector.weight"))
    ]
    if odd:
        raise InputError(path, f"tensor {odd[0]}: LoRA biases and DoRA magnitudes cannot be applied yet")
    r_default = cfg.get("r")
    alpha_default = cfg.get("lora_alpha")
    if not isinstance(r_default, (int, float)) or r_default <= 0:
        raise InputError(path, "adapter_config.json has no positive rank r")
    if not isinstance(alpha_default, (int, float)):
        alpha_default = r_default  # peft's default lora_alpha is 8 with r 8; a missing value means scale 1
    rslora = bool(cfg.get("use_rslora"))

    cm = normalize(ckpt, graph=False)
    by_source = {r.from_: r.to for r in cm.renames}
    canon = dict(cm.tensors)
    unknown = [n for n in ckpt.tensors if n not in by_source and n not in canon]
    if unknown:
        raise InputError(
            path,
            f"adapter tensor {unknown[0]} targets a module this tool cannot place in the base "
            "(unknown or fused module)",
        )
    pairs: dict[str, dict[str, Any]] = {}  # target canonical name -> {"A", "B", "module", "embedding"}
    replaced: dict[str, Any] = {}
    for source in ckpt.tensors:
        name = by_source.get(source, source)
        for suffix, slot, emb in ((LORA_A, "A", False), (LORA_B, "B", False), (EMB_A, "A", True), (EMB_B, "B", True)):
            if name.endswith(suffix):
                target = name[: -len(suffix)] + ".weight"
                pairs.setdefault(target, {"module": _module_of(source), "embedding": emb})[slot] = source
                break
        else:
            replaced[name] = source
    out = dict(base_tensors)
    ranks: set[int] = set()
    alphas: set[float] = set()
    for target in sorted(pairs):
        p = pairs[target]
        if "A" not in p or "B" not in p:
            raise InputError(path, f"module {p['module']}: lora_A or lora_B is missing")
        if target not in base_tensors:
            raise InputError(path, f"module {p['module']} ({target}) is not in the base model")
        a = as_array(ckpt.tensors[p["A"]])
        b = as_array(ckpt.tensors[p["B"]])
        base = base_tensors[target]
        shape = tuple(int(s) for s in base.shape)
        r = int(_pattern_value(cfg.get("rank_pattern"), p["module"], r_default))
        alpha = float(_pattern_value(cfg.get("alpha_pattern"), p["module"], alpha_default))
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise InputError(
                path, f"module {p['module']}: lora_A {list(a.shape)} and lora_B {list(b.shape)} do not multiply"
            )
        if a.shape[0] != r:
            raise InputError(
                path, f"module {p['module']}: rank {a.shape[0]} in the tensors, {r} in adapter_config.json"
            )
        want = (b.shape[0], a.shape[1]) if not p["embedding"] else (a.shape[1], b.shape[0])
        if len(shape) != 2 or shape != want:
            raise InputError(
                path,
                f"module {p['module']}: the adapter needs a {want[0]}×{want[1]} weight, the base "
                f"has {'×'.join(map(str, shape))} ({target})",
            )
        scale = alpha / (math.sqrt(r) if rslora else r)
        out[target] = MergedTensor(target, base, a, b, scale, p["embedding"])
        ranks.add(r)
        alphas.add(alpha)
    for name, source in sorted(replaced.items()):
        t = ckpt.tensors[source]
        if name not in base_tensors:
            raise InputError(path, f"saved module tensor {source} ({name}) is not in the base model")
        if tuple(t.shape) != tuple(base_tensors[name].shape):
            raise InputError(
                path,
                f"saved module tensor {source}: shape {list(t.shape)}, the base has "
                f"{list(base_tensors[name].shape)} ({name})",
            )
        out[name] = cm.tensors.get(name, t)
    if not pairs and not replaced:
        raise InputError(path, "the adapter holds no LoRA tensors")
    head_own = "lm_head.weight" in pairs or "lm_head.weight" in replaced
    if (
        not head_own
        and "model.embed_tokens.weight" in pairs | replaced.keys()
        and (base_arch or {}).get("tie_word_embeddings")
        and "lm_head.weight" in base_tensors
    ):
        out["lm_head.weight"] = out["model.embed_tokens.weight"]  # tied: the head follows the adapted embedding
    facts = {
        "path": str(path),
        "peft_type": kind,
        "rank": int(r_default) if len(ranks) <= 1 else sorted(ranks),
        "alpha": float(alpha_default) if len(alphas) <= 1 else sorted(alphas),
        "use_rslora": rslora,
        "fan_in_fan_out": bool(cfg.get("fan_in_fan_out")),
        "target_modules": ckpt.adapter.target_modules,
        "tensors_changed": len(pairs) + len(replaced),
        "low_rank_updates": len(pairs),
        "replaced_tensors": len(replaced),
        "base_model_declared": ckpt.adapter.base_model,
    }
    if len(ranks) == 1:
        facts["rank"] = ranks.pop()
    if len(alphas) == 1:
        facts["alpha"] = alphas.pop()
    return out, facts
