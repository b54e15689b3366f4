"""`verify`: run a checkpoint, normalized, in the reference LLaMA implementation and say whether it runs as LLaMA.

Steps: open → normalize (canonical HF names and layouts) → load into `reference_impl.Llama` (every canonical tensor
must be consumed) → a fixed seeded batch of token ids (finite logits, mean next-token entropy) → when config.json
declares an architecture that installed transformers implements natively, the same batch through that class loaded
from the ORIGINAL files (never remote code, never the network) and the max abs logit difference → the greedy
continuation of BOS as a small behavioural fingerprint.

"Runs as LLaMA" means: no architectural difference from LLaMA other than names and layout, every tensor consumed,
nothing missing, finite outputs, and (when a native class exists) logits equal to it within LOGIT_TOLERANCE.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from provenance.checkpoint import Checkpoint, open_checkpoint
from provenance.errors import InputError, UsageError, require_torch
from provenance.progress import counter, progress

SCHEMA_VERSION = 1
BATCH_SEED = 0
BATCH_SHAPE = (2, 16)  # two sequences of 16 token ids drawn uniformly from the vocabulary
LOGIT_TOLERANCE = 1e-3  # float32 on both sides; real differences (a wrong layout, a renamed norm) are >> 1e-2
# Classes installed transformers implements natively whose weights the reference can run (model.py covers them).
NATIVE_CLASSES = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM")
HF_LAYOUT_FORMATS = ("safetensors", "torch")  # formats whose tensor names a native class can load as they are


def verify_path(path: str | Path, steps: int = 32, head_dim: int | None = None) -> dict[str, Any]:
    """The `verify` report for a checkpoint file or directory (fields: README, section "provenance verify PATH")."""
    if steps < 0:
        raise UsageError(f"--steps must be >= 0, got {steps}")
    if head_dim is not None and head_dim <= 0:
        raise UsageError(f"--head-dim must be positive, got {head_dim}")
    return verify_checkpoint(open_checkpoint(path), steps=steps, head_dim=head_dim)


def verify_checkpoint(ckpt: Checkpoint, steps: int = 32, head_dim: int | None = None) -> dict[str, Any]:
    torch = require_torch("verify (running the model)")

    from provenance.normalize import normalize
    from reference_impl import Llama, LlamaConfig, greedy

    cm = normalize(ckpt, head_dim=head_dim)
    reasons: list[str] = list(getattr(cm, "incompatible", None) or cm.graph_diff.get("differences", []))
    reasons += [f"architecture not fully known: {p}" for p in getattr(cm, "problems", [])]
    hf_config = reference_config(cm)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "path": str(ckpt.path), "format": ckpt.format, "family": cm.family,
        "llama_compatible": cm.llama_compatible, "reference_config": hf_config,
        "canonical_tensors": len(cm.tensors), "consumed": 0, "missing": [], "unexpected": [], "mismatched": [],
        "batch": {"seed": BATCH_SEED, "shape": list(BATCH_SHAPE)}, "finite": None, "mean_entropy": None,
        "max_entropy": None, "compared_with": None, "max_abs_logit_diff": None, "logit_tolerance": LOGIT_TOLERANCE,
        "comparison_note": None, "bos_token_id": None, "steps": steps, "greedy_from_bos": [],
    }
    try:
        model = Llama(LlamaConfig.from_hf(hf_config)).eval()
    except (ValueError, NotImplementedError) as exc:
        reasons.append(f"the reference implementation cannot run it: {exc}")
        return _finish(report, reasons)

    load = model.load_canonical(_LazyTensors(cm.tensors, counter("load tensors", len(cm.tensors))), strict=False)
    report.update(consumed=len(load.consumed), missing=load.missing, unexpected=load.unexpected,
                  mismatched=load.mismatched)
    for what, keys in (("missing", load.missing), ("unexpected (no place in the LLaMA reference)", load.unexpected),
                       ("wrong shape", load.mismatched)):
        if keys:
            reasons.append(f"{len(keys)} tensor(s) {what}: " + ", ".join(keys[:5]) + (" …" if len(keys) > 5 else ""))

    ids = torch.randint(0, model.config.vocab_size, BATCH_SHAPE, generator=torch.Generator().manual_seed(BATCH_SEED))
    progress("forward pass", 0, 1)
    with torch.no_grad():
        logits = model(ids)
    progress("forward pass", 1, 1)
    finite = bool(torch.isfinite(logits).all())
    report["finite"] = finite
    if finite:
        logp = torch.log_softmax(logits, dim=-1)
        report["mean_entropy"] = round(float(-(logp.exp() * logp).sum(-1).mean()), 6)
        report["max_entropy"] = round(math.log(model.config.vocab_size), 6)
    else:
        reasons.append("logits are not finite")

    progress("transformers comparison", 0, 1)
    native, note = native_logits(ckpt, ids)
    progress("transformers comparison", 1, 1)
    report["comparison_note"] = note
    if native is not None:
        cls_name, other = native
        diff = float((logits - other).abs().max())
        report.update(compared_with=cls_name, max_abs_logit_diff=diff)
        if not diff <= LOGIT_TOLERANCE:
            reasons.append(f"logits differ from transformers {cls_name} by {diff:.3g} "
                           f"(tolerance {LOGIT_TOLERANCE:g})")

    bos = bos_token_id(ckpt, hf_config)
    report["bos_token_id"] = bos
    if finite and 0 <= bos < model.config.vocab_size:
        progress("greedy decoding", 0, 1)
        report["greedy_from_bos"] = greedy(model, [bos], steps)
        progress("greedy decoding", 1, 1)
    return _finish(report, reasons)


class _LazyTensors(Mapping):
    """name → float32 array, read from the checkpoint only when asked (one tensor in memory at a time)."""

    def __init__(self, refs: dict[str, Any], tick=None):
        self._refs = refs
        self._tick = tick

    def __getitem__(self, name: str) -> np.ndarray:
        ref = self._refs[name]
        value = ref.read()
        if self._tick is not None:
            self._tick()
        if not np.isfinite(value).all():  # a broken checkpoint, not a model that fails to run as LLaMA
            raise InputError(ref.file, f"tensor {ref.name} holds {value.size - np.count_nonzero(np.isfinite(value))} "
                                       "non-finite value(s) (NaN or infinity)")
        return value

    def __iter__(self):
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)


def _finish(report: dict[str, Any], reasons: list[str]) -> dict[str, Any]:
    reasons = sorted(dict.fromkeys(reasons))
    report["reasons"] = reasons
    report["runs_as_llama"] = not reasons and report["finite"] is True
    return report


def reference_config(cm) -> dict[str, Any]:
    """The config the reference runs with: the normalized architecture, with the bias flags and sliding window
    read from the tensors and traits themselves, so a Qwen2-style checkpoint is still run (and compared) even
    though it is reported as not LLaMA."""
    cfg = dict(cm.arch.to_hf_config())
    names = set(cm.tensors)
    cfg["attention_bias"] = "model.layers.0.self_attn.q_proj.bias" in names
    cfg["o_proj_bias"] = "model.layers.0.self_attn.o_proj.bias" in names
    cfg["mlp_bias"] = "model.layers.0.mlp.gate_proj.bias" in names
    window = (getattr(cm, "traits", None) or {}).get("sliding_window")
    if window:
        cfg["sliding_window"] = window
    return cfg


def bos_token_id(ckpt: Checkpoint, hf_config: dict[str, Any]) -> int:
    """config.json's bos_token_id, else the normalized architecture's, else 1 (LLaMA's <s>)."""
    for source in (ckpt.metadata.get("config") or {}, hf_config):
        bos = source.get("bos_token_id") if isinstance(source, dict) else None
        if isinstance(bos, list):
            bos = bos[0] if bos else None
        if isinstance(bos, int):
            return bos
    return 1


def native_logits(ckpt: Checkpoint, ids) -> tuple[tuple[str, Any] | None, str | None]:
    """((class name, logits), None) from the transformers class config.json declares, or (None, why not)."""
    config = ckpt.metadata.get("config")
    if not isinstance(config, dict):
        return None, "no config.json declares an architecture"
    declared = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    cls_name = next((a for a in declared if a in NATIVE_CLASSES), None)
    if cls_name is None:
        return None, (f"declared architecture {', '.join(declared) or '(none)'} has no native transformers "
                      "class covered by the reference (never loaded as remote code)")
    if ckpt.format not in HF_LAYOUT_FORMATS:
        return None, f"{ckpt.format} files are not in the layout transformers loads"
    try:
        import torch
        import transformers
    except ImportError:
        return None, "transformers is not installed"
    model_cls = getattr(transformers, cls_name)
    try:
        hf_config = model_cls.config_class.from_dict(dict(config))
        model = model_cls(hf_config).float().eval()
    except Exception as exc:  # noqa: BLE001 - an odd config.json is a finding, not a crash
        return None, f"transformers {cls_name} rejects config.json: {type(exc).__name__}: {exc}"
    # Copy tensor by tensor (never the whole checkpoint in memory twice), checking names and shapes first.
    target = model.state_dict()
    tied = bool(getattr(hf_config, "tie_word_embeddings", False))
    missing = [k for k in target if k not in ckpt.tensors and not (tied and k == "lm_head.weight")]
    unexpected = [k for k in ckpt.tensors if k not in target]
    misshapen = [k for k, ref in ckpt.tensors.items() if k in target and tuple(ref.shape) != tuple(target[k].shape)]
    if missing or unexpected or misshapen:
        return None, (f"the original tensors do not load into transformers {cls_name}: {len(missing)} missing, "
                      f"{len(unexpected)} unexpected, {len(misshapen)} with another shape")
    with torch.no_grad():
        for name, ref in ckpt.tensors.items():
            target[name].copy_(torch.from_numpy(np.array(ref.read())))
    if tied:
        model.tie_weights()
    with torch.no_grad():
        return (cls_name, model(ids).logits.float()), None


def render_text(report: dict[str, Any]) -> str:
    verdict = "runs as LLaMA" if report["runs_as_llama"] else "does NOT run as LLaMA"
    lines = [f"{report['path']}: {verdict}  (format {report['format']}, family {report['family']})",
             f"tensors: {report['consumed']} of {report['canonical_tensors']} canonical tensors consumed"
             + (f"; missing {len(report['missing'])}" if report["missing"] else "")
             + (f"; unexpected {len(report['unexpected'])}" if report["unexpected"] else "")]
    if report["finite"] is not None:
        ent = report["mean_entropy"]
        lines.append(f"output: finite={str(report['finite']).lower()}"
                     + (f", mean next-token entropy {ent:.3f} nats (max {report['max_entropy']:.3f})"
                        if ent is not None else ""))
    if report["compared_with"]:
        lines.append(f"vs transformers {report['compared_with']}: max abs logit diff "
                     f"{report['max_abs_logit_diff']:.3g} (tolerance {report['logit_tolerance']:g})")
    elif report["comparison_note"]:
        lines.append(f"no native comparison: {report['comparison_note']}")
    if report["greedy_from_bos"]:
        lines.append(f"greedy from BOS ({report['bos_token_id']}), {len(report['greedy_from_bos'])} steps: "
                     + " ".join(map(str, report["greedy_from_bos"])))
    lines += [f"reason: {r}" for r in report["reasons"]]
    return "\n".join(lines) + "\n"


__all__ = ["verify_path", "verify_checkpoint", "render_text", "SCHEMA_VERSION"]
