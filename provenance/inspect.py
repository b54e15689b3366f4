"""`inspect`: what a checkpoint holds, as a plain dict (the JSON report) built from a Checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provenance.checkpoint_types import Checkpoint

SCHEMA_VERSION = 1


def declared_architecture(ckpt: Checkpoint) -> dict[str, Any]:
    """What the files say the model is, before looking at any tensor: config.json, params.json, GGUF, llama2c."""
    out: dict[str, Any] = {}
    cfg = ckpt.metadata.get("config")
    if isinstance(cfg, dict):
        if cfg.get("architectures"):
            out["architectures"] = list(cfg["architectures"])
        if cfg.get("model_type"):
            out["model_type"] = cfg["model_type"]
        out["source"] = "config.json"
    gguf = ckpt.metadata.get("gguf")
    if isinstance(gguf, dict) and "general.architecture" in gguf:
        out.setdefault("model_type", gguf["general.architecture"])
        out.setdefault("source", "gguf general.architecture")
    if "params" in ckpt.metadata and "source" not in out:
        out["model_type"] = "llama"
        out["source"] = "params.json (Meta original layout)"
    if "llama2c" in ckpt.metadata and "source" not in out:
        out["model_type"] = "llama"
        out["source"] = "llama2.c header"
    return out


def card_facts(ckpt: Checkpoint) -> dict[str, Any]:
    fm = ckpt.card.front_matter if ckpt.card else {}
    facts = {
        k: fm[k]
        for k in ("license", "license_name", "license_link", "base_model", "base_model_relation", "model_name")
        if k in fm
    }
    gguf = ckpt.metadata.get("gguf") or {}
    if "license" not in facts and gguf.get("general.license"):
        facts["license"] = gguf["general.license"]
    return facts


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root if root.is_dir() else root.parent))
    except ValueError:
        return str(path)


def inspect_report(ckpt: Checkpoint, with_architecture: bool = True) -> dict[str, Any]:
    """The `inspect` JSON report. Normalization fields are added when the normalization layer is available."""
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "path": str(ckpt.path),
        "format": ckpt.format,
        "files": [_rel(f, ckpt.path) for f in ckpt.files],
        "num_tensors": len(ckpt.tensors),
        "num_parameters": ckpt.num_parameters,
        "dtypes": ckpt.dtype_counts(),
        "metadata": ckpt.metadata,
        "declared_architecture": declared_architecture(ckpt),
        "card": card_facts(ckpt),
        "companions": {k: [_rel(p, ckpt.path) for p in v] for k, v in sorted(ckpt.companions.items())},
        "adapter": None,
        "tensors": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in ckpt.tensors.values()],
        "warnings": list(ckpt.warnings),
    }
    if ckpt.adapter is not None:
        a = ckpt.adapter
        report["adapter"] = {
            "base_model": a.base_model,
            "rank": a.rank,
            "alpha": a.alpha,
            "peft_type": a.peft_type,
            "target_modules": sorted(a.target_modules),
        }
    if with_architecture:
        report.update(normalization_fields(ckpt))
    return report


def normalization_fields(ckpt: Checkpoint) -> dict[str, Any]:
    """family, llama_compatible, architecture, renames, unmatched, graph_diff (+ summary_lines for text mode).

    A checkpoint that is not a language model (or that normalization cannot make sense of) still inspects: it is
    reported as family "unknown" with every tensor unmatched.
    """
    from provenance.normalize import normalize

    try:
        cm = normalize(ckpt)
    except Exception as exc:  # noqa: BLE001 - inspect must describe any readable checkpoint
        return {
            "family": "unknown",
            "llama_compatible": False,
            "architecture": {},
            "renames": [],
            "unmatched": sorted(ckpt.tensors),
            "graph_diff": {"identical": False, "differences": []},
            "summary_lines": [f"architecture not recognised (normalization failed: {type(exc).__name__}: {exc})"],
        }
    fields = cm.report_fields()
    fields["summary_lines"] = cm.summary_lines()
    return fields
