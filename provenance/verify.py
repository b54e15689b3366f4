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


# Sizes the reference needs and never guesses: a default would build a 7B-sized model out of nothing.
REQUIRED_SIZES = (
    "hidden_size",
    "num_hidden_layers",
    "vocab_size",
    "intermediate_size",
    "num_attention_heads",
    "head_dim",
)
# Block traits the reference has no code for: a checkpoint with any of them is refused, not run (see family.py).
UNRUNNABLE_TRAITS = ("norm", "mlp", "positions", "parallel_block", "pre_norm", "partial_rotary_factor")
# Stored dtypes kept as they are in memory (widened one layer at a time); others are re-read when their layer runs.
KEPT_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


def verify_path(
    path: str | Path, steps: int = 32, head_dim: int | None = None, base: str | Path | None = None
) -> dict[str, Any]:
    """The `verify` report for a checkpoint file or directory (fields: README, section "provenance verify PATH").

    With ``base``, ``path`` must be a PEFT LoRA adapter: it is applied to the base in memory
    (:func:`provenance.adapters.apply_adapter`) and the adapted model is verified.

    Raises InputError (exit 2) for unreadable input and for inputs it cannot run, decided from headers and shapes
    before any tensor is read: a fingerprint file, a PEFT/LoRA adapter without ``base``, an adapter whose shapes do
    not fit the base, a non-LLM, blocks the reference has no code for, sizes the files do not state. UsageError
    (exit 2) for ``base`` given with a path that is not an adapter."""
    if steps < 0:
        raise UsageError(f"--steps must be >= 0, got {steps}")
    if head_dim is not None and head_dim <= 0:
        raise UsageError(f"--head-dim must be positive, got {head_dim}")
    _refuse_fingerprint(Path(path))
    if base is None:
        return verify_checkpoint(open_checkpoint(path), steps=steps, head_dim=head_dim)
    adapter = open_checkpoint(path)
    if adapter.format != "peft" or adapter.adapter is None:
        raise UsageError(
            f"--base applies a PEFT adapter to its base, but {path} is not an adapter (no "
            "adapter_config.json beside its weights): verify it without --base"
        )
    _refuse_fingerprint(Path(base))
    return verify_checkpoint(open_checkpoint(base), steps=steps, head_dim=head_dim, adapter=Path(path))


def verify_checkpoint(
    ckpt: Checkpoint, steps: int = 32, head_dim: int | None = None, adapter: Path | None = None
) -> dict[str, Any]:
    """The `verify` report for an opened checkpoint; ``adapter`` (a PEFT adapter directory) is applied to it in
    memory first, and the adapted model is what runs."""
    from provenance.normalize import normalize

    for f in ckpt.files:
        _refuse_fingerprint(f)
    _refuse_adapter(ckpt)
    torch = require_torch("verify (running the model)")  # normalization's architecture graph traces a model too
    cm = normalize(ckpt, head_dim=head_dim)
    refuse_unrunnable(ckpt, cm)
    canonical = _raw_bf16(ckpt, cm.tensors)
    tensors: dict[str, Any] = canonical
    facts: dict[str, Any] | None = None
    if adapter is not None:  # shapes are checked against the base before any tensor is read (one line, exit 2)
        from provenance.adapters import apply_adapter

        tensors, applied = apply_adapter(adapter, canonical, cm.arch.values)
        facts = dict(applied, base=str(ckpt.path))

    from reference_impl import Llama, LlamaConfig, greedy
    from reference_impl.model import streamed

    reasons: list[str] = list(getattr(cm, "incompatible", None) or cm.graph_diff.get("differences", []))
    reasons += [f"architecture not fully known: {p}" for p in getattr(cm, "problems", [])]
    hf_config = reference_config(cm)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "path": str(ckpt.path),
        "format": ckpt.format,
        "family": cm.family,
        "llama_compatible": cm.llama_compatible,
        "reference_config": hf_config,
        "canonical_tensors": len(cm.tensors),
        "consumed": 0,
        "missing": [],
        "unexpected": [],
        "mismatched": [],
        "batch": {"seed": BATCH_SEED, "shape": list(BATCH_SHAPE)},
        "finite": None,
        "mean_entropy": None,
        "max_entropy": None,
        "compared_with": None,
        "max_abs_logit_diff": None,
        "logit_tolerance": LOGIT_TOLERANCE,
        "comparison_note": None,
        "bos_token_id": None,
        "steps": steps,
        "greedy_from_bos": [],
        "adapter": facts,
    }
    if facts is not None:
        report["path"] = facts["path"]
    try:
        model = Llama.empty(LlamaConfig.from_hf(hf_config)).eval()  # meta device: no memory, nothing initialised
    except (ValueError, NotImplementedError) as exc:
        reasons.append(f"the reference implementation cannot run it: {exc}")
        return _finish(report, reasons)

    # Names and shapes decide what fits before any tensor is read.
    load = model.check_shapes({n: tuple(t.shape) for n, t in tensors.items()})
    weights = stored_weights(tensors, load.consumed)
    mismatched = list(load.mismatched)
    if model.config.tie_word_embeddings:
        head, embed = weights.get("lm_head.weight"), weights.get("model.embed_tokens.weight")
        if head is not None and head is not embed and not _equal(head, embed):
            mismatched.append("lm_head.weight: differs from model.embed_tokens.weight but config ties them")
        if embed is not None:
            weights["lm_head.weight"] = embed
    consumed = [n for n in load.consumed if not any(m.startswith(n + ":") for m in mismatched)]
    report.update(consumed=len(consumed), missing=load.missing, unexpected=load.unexpected, mismatched=mismatched)
    for what, keys in (
        ("missing", load.missing),
        ("unexpected (no place in the LLaMA reference)", load.unexpected),
        ("wrong shape", mismatched),
    ):
        if keys:
            reasons.append(f"{len(keys)} tensor(s) {what}: " + ", ".join(keys[:5]) + (" …" if len(keys) > 5 else ""))
    if load.missing or load.mismatched:  # nothing random is ever put in their place: the model is not run
        return _finish(report, reasons)
    streamed(model, weights)

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
        del logp
    else:
        reasons.append("logits are not finite")

    progress("transformers comparison", 0, 1)
    sizes = {k: hf_config[k] for k in ("num_hidden_layers", "hidden_size", "intermediate_size", "vocab_size")}
    # transformers runs the original files; an adapted tensor takes part only where its base tensor is one of them
    # unchanged (same reader), else that class would run the base, not the adapted model.
    rewritten = [
        n
        for n, t in tensors.items()
        if t is not canonical.get(n)
        and not (n in ckpt.tensors and _reader(canonical.get(n)) is _reader(ckpt.tensors[n]))
    ]
    if rewritten:
        native, note = (
            None,
            (
                f"the adapter changes {rewritten[0]}, which is not stored as the base's original "
                "tensor of that name; transformers not run on the adapted model"
            ),
        )
    else:
        native, note = native_logits(ckpt, ids, canonical, weights, sizes)
    progress("transformers comparison", 1, 1)
    report["comparison_note"] = note
    if native is not None:
        cls_name, other = native
        diff = float((logits - other).abs().max())
        report.update(compared_with=cls_name, max_abs_logit_diff=diff)
        if not diff <= LOGIT_TOLERANCE:
            reasons.append(f"logits differ from transformers {cls_name} by {diff:.3g} (tolerance {LOGIT_TOLERANCE:g})")
    del logits, native

    bos = bos_token_id(ckpt, hf_config)
    report["bos_token_id"] = bos
    if finite and 0 <= bos < model.config.vocab_size:
        progress("greedy decoding", 0, 1)
        report["greedy_from_bos"] = greedy(model, [bos], steps)
        progress("greedy decoding", 1, 1)
    return _finish(report, reasons)


# ------------------------------------------------------------------------------------------------ refusals
def _refuse_fingerprint(path: Path) -> None:
    from fingerprints.fingerprint import is_fingerprint_file

    if is_fingerprint_file(path):
        raise InputError(
            path,
            "a fingerprint file holds weight statistics, not weights: verify needs the "
            "checkpoint itself (compare and identify accept fingerprints)",
        )


def _refuse_adapter(ckpt: Checkpoint) -> None:
    if ckpt.format == "peft" or ckpt.adapter is not None:
        base = ckpt.adapter.base_model if ckpt.adapter is not None else None
        raise InputError(
            ckpt.path,
            "a PEFT/LoRA adapter holds low-rank deltas, not a model: it cannot run on its "
            "own; give its base with --base BASE, or compare it with its base" + (f" ({base})" if base else ""),
        )


def refuse_unrunnable(ckpt: Checkpoint, cm) -> None:
    """InputError unless the normalized checkpoint is a decoder the reference can run: adapter deltas only, no
    embedding or attention, blocks the reference has no code for, or sizes the files do not state."""
    if (cm.graph_diff or {}).get("source") == "adapter":
        raise InputError(
            ckpt.path, "holds LoRA adapter deltas only, not a model: it cannot run on its own; compare it with its base"
        )
    names = set(cm.tensors)
    lacking = [
        what
        for what, present in (
            ("a token embedding", "model.embed_tokens.weight" in names),
            ("attention projections", any(n.endswith("self_attn.q_proj.weight") for n in names)),
        )
        if not present
    ]
    if lacking:
        raise InputError(
            ckpt.path,
            f"not a language model the reference can run: no {' and no '.join(lacking)} "
            f"among its {len(ckpt.tensors)} tensor(s) (family {cm.family})",
        )
    from provenance.normalize.family import _LLAMA_TRAITS, builtin_diff

    llama = {key: value for key, value, _ in _LLAMA_TRAITS}
    blocks = builtin_diff({**llama, **{k: cm.traits[k] for k in UNRUNNABLE_TRAITS if k in (cm.traits or {})}})
    if blocks:
        raise InputError(ckpt.path, f"family {cm.family} is not supported by the reference LLaMA: " + "; ".join(blocks))
    unknown = []
    for key in REQUIRED_SIZES:
        value = cm.arch.get(key)
        if not cm.arch.known(key):
            unknown.append(f"{key} unknown")
        elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            unknown.append(f"{key} = {value!r} is not a positive integer")
    if unknown:
        hint = " (give --head-dim)" if any(k.split()[0] in ("head_dim", "num_attention_heads") for k in unknown) else ""
        raise InputError(
            ckpt.path,
            "cannot size the model from its files: "
            + ", ".join(unknown)
            + hint
            + "; verify never falls back to a default size",
        )


# ------------------------------------------------------------------------------------------------ weights
def _reader(ref) -> Any:
    return getattr(ref, "reader", None) if ref is not None else None


def _raw_bf16(ckpt: Checkpoint, tensors: dict[str, Any]) -> dict[str, Any]:
    from provenance.formats.safetensors_format import with_raw_bf16

    return with_raw_bf16(ckpt, tensors)


def stored_weights(tensors: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """name → the tensor in its stored dtype (read once; F32/F16/BF16, when that dtype holds the canonical values
    exactly), or a reader returning it as float32 (quantized and other dtypes: dequantized when its layer runs).
    Canonical names that share one source (a tied head) share one stored tensor."""
    out: dict[str, Any] = {}
    shared: dict[tuple, Any] = {}
    tick = counter("load tensors", len(names))
    for name in names:
        ref = tensors[name]
        key = (id(getattr(getattr(ref, "ref", ref), "reader", ref)), tuple(ref.shape))
        if key not in shared:
            shared[key] = _read_stored(ref) if ref.dtype in KEPT_DTYPES else _Reread(ref)
        out[name] = shared[key]
        tick()
    return out


def _read_stored(ref):
    """One tensor, read in blocks of rows straight into its stored dtype (float32 when a transform made values
    that dtype cannot hold), checked finite block by block."""
    import torch

    dtype = getattr(torch, KEPT_DTYPES[ref.dtype])
    shape = tuple(ref.shape)
    out = torch.empty(shape, dtype=dtype)
    flat = out.reshape(out.shape[0] if shape else 1, -1)
    raw = getattr(ref, "bf16_rows", None) if dtype == torch.bfloat16 else None
    for start, block in _blocks(ref, raw):
        # A non-finite value is a broken checkpoint, not a model that fails to run as LLaMA. bfloat16: some value
        # has all exponent bits set; checked on the bits (one masked copy and a max), far faster than isfinite.
        if raw is not None:
            finite = block.size == 0 or int(np.bitwise_and(block, 0x7F80).max()) != 0x7F80
        else:
            finite = bool(np.isfinite(block).all())
        if not finite:
            raise InputError(
                getattr(ref, "file", ref.name), f"tensor {ref.name} holds non-finite value(s) (NaN or infinity)"
            )
        value = (
            torch.from_numpy(block.view(np.int16)).view(torch.bfloat16) if raw is not None else torch.from_numpy(block)
        )
        value = value.reshape(value.shape[0] if shape else 1, -1)
        narrow = value.to(dtype)
        if narrow.dtype != value.dtype and not torch.equal(narrow.to(value.dtype), value):
            out = out.float()  # a transform (1 + w, a normalised row) left the stored dtype: keep float32
            flat, dtype = out.reshape(flat.shape), torch.float32
            narrow = value
        flat[start : start + narrow.shape[0]] = narrow
    return out


def _blocks(ref, raw, max_bytes: int = 64 * 1024 * 1024):
    if raw is None and hasattr(ref, "iter_rows"):
        yield from ref.iter_rows(max_bytes)
        return
    row = max(1, math.prod(ref.shape) // max(1, ref.shape[0]))
    if raw is None:  # a tensor computed on read (an applied adapter's W + s·B·A) offers read_rows
        raw = ref.read_rows
    step = max(1, max_bytes // (4 * row))
    for start in range(0, ref.shape[0], step):
        yield start, raw(start, min(start + step, ref.shape[0])).reshape(-1, row)


class _Reread:
    """A tensor kept in the file (quantized blocks, other dtypes): read and dequantized each time it is needed."""

    def __init__(self, ref):
        self.ref = ref

    def __call__(self):
        import torch

        value = self.ref.read()
        if not np.isfinite(value).all():
            raise InputError(self.ref.file, f"tensor {self.ref.name} holds non-finite value(s) (NaN or infinity)")
        return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))


def _equal(a, b) -> bool:
    import torch

    a = a() if callable(a) else a
    b = b() if callable(b) else b
    return tuple(a.shape) == tuple(b.shape) and bool(torch.equal(a.float(), b.float()))


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


def native_logits(
    ckpt: Checkpoint,
    ids,
    canonical: Mapping[str, Any] | None = None,
    weights: Mapping[str, Any] | None = None,
    sizes: Mapping[str, Any] | None = None,
) -> tuple[tuple[str, Any] | None, str | None]:
    """((class name, logits), None) from the transformers class config.json declares, or (None, why not).

    The class is built with its parameters on the meta device (never initialised) and run from the ORIGINAL
    tensors, widened one layer at a time; tensors the canonical ``weights`` already hold unchanged (same source
    reader, same name) are shared, the rest are read once here. ``sizes`` (what the tensors show) must agree
    with config.json before the class is even built: a config declaring a million layers builds nothing."""
    config = ckpt.metadata.get("config")
    if not isinstance(config, dict):
        return None, "no config.json declares an architecture"
    declared = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    cls_name = next((a for a in declared if a in NATIVE_CLASSES), None)
    if cls_name is None:
        return None, (
            f"declared architecture {', '.join(declared) or '(none)'} has no native transformers "
            "class covered by the reference (never loaded as remote code)"
        )
    if ckpt.format not in HF_LAYOUT_FORMATS:
        return None, f"{ckpt.format} files are not in the layout transformers loads"
    differ = [
        f"{key} {config.get(key)!r} vs {value!r}"
        for key, value in (sizes or {}).items()
        if key in config and config.get(key) != value
    ]
    if differ:
        return None, f"config.json disagrees with the tensors ({', '.join(differ)}); transformers not run"
    try:
        import torch
        import transformers
    except ImportError:
        return None, "transformers is not installed"
    from reference_impl.model import parameters_on_meta, stream_weights

    model_cls = getattr(transformers, cls_name)
    try:
        hf_config = model_cls.config_class.from_dict(dict(config))
        with parameters_on_meta():
            model = model_cls(hf_config).eval()
    except Exception as exc:  # noqa: BLE001 - an odd config.json is a finding, not a crash
        return None, f"transformers {cls_name} rejects config.json: {type(exc).__name__}: {exc}"
    target = model.state_dict()
    tied = bool(getattr(hf_config, "tie_word_embeddings", False))
    missing = [k for k in target if k not in ckpt.tensors and not (tied and k == "lm_head.weight")]
    unexpected = [k for k in ckpt.tensors if k not in target]
    misshapen = [k for k, ref in ckpt.tensors.items() if k in target and tuple(ref.shape) != tuple(target[k].shape)]
    if missing or unexpected or misshapen:
        return None, (
            f"the original tensors do not load into transformers {cls_name}: {len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(misshapen)} with another shape"
        )
    backbone = getattr(model, "model", None)
    units = [
        (model.get_input_embeddings(), True),
        *[(layer, True) for layer in getattr(backbone, "layers", [])],
        (getattr(backbone, "norm", None), True),
        (model.get_output_embeddings(), True),
    ]
    units = [(u, w) for u, w in units if u is not None]
    covered = {id(p) for u, _ in units for p in u.parameters()}
    if any(id(p) not in covered for p in model.parameters()):
        return None, f"transformers {cls_name} has parameters outside its layers; not run layer by layer"
    canonical, weights = canonical or {}, weights or {}
    mine = {
        name: weights[name]
        for name, ref in ckpt.tensors.items()
        if name in weights and name in canonical and canonical[name].reader is ref.reader
    }
    rest = [name for name in ckpt.tensors if name not in mine]
    original = {**mine, **stored_weights(_raw_bf16(ckpt, ckpt.tensors), rest)}
    if tied:
        original["lm_head.weight"] = original["model.embed_tokens.weight"]
    stream_weights(units, model, original)
    with torch.no_grad():
        return (cls_name, model(ids).logits.float()), None


def render_text(report: dict[str, Any]) -> str:
    verdict = "runs as LLaMA" if report["runs_as_llama"] else "does NOT run as LLaMA"
    lines = [
        f"{report['path']}: {verdict}  (format {report['format']}, family {report['family']})",
        f"tensors: {report['consumed']} of {report['canonical_tensors']} canonical tensors consumed"
        + (f"; missing {len(report['missing'])}" if report["missing"] else "")
        + (f"; unexpected {len(report['unexpected'])}" if report["unexpected"] else ""),
    ]
    if report["finite"] is not None:
        ent = report["mean_entropy"]
        lines.append(
            f"output: finite={str(report['finite']).lower()}"
            + (f", mean next-token entropy {ent:.3f} nats (max {report['max_entropy']:.3f})" if ent is not None else "")
        )
    if report["compared_with"]:
        lines.append(
            f"vs transformers {report['compared_with']}: max abs logit diff "
            f"{report['max_abs_logit_diff']:.3g} (tolerance {report['logit_tolerance']:g})"
        )
    elif report["comparison_note"]:
        lines.append(f"no native comparison: {report['comparison_note']}")
    if report.get("adapter"):
        a = report["adapter"]
        lines.append(
            f"adapter: {a['path']} ({a['peft_type']}, rank {a['rank']}, alpha {a['alpha']}, "
            f"{a['tensors_changed']} tensor(s) changed) applied in memory to {a['base']}"
        )
    if report["greedy_from_bos"]:
        lines.append(
            f"greedy from BOS ({report['bos_token_id']}), {len(report['greedy_from_bos'])} steps: "
            + " ".join(map(str, report["greedy_from_bos"]))
        )
    lines += [f"reason: {r}" for r in report["reasons"]]
    return "\n".join(lines) + "\n"


__all__ = ["verify_path", "verify_checkpoint", "render_text", "SCHEMA_VERSION"]
