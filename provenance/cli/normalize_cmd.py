"""`provenance normalize PATH -o OUTDIR`: write a canonical LLaMA checkpoint that stock transformers loads."""

from __future__ import annotations

import enum
import sys
from pathlib import Path

import typer


class OutDtype(str, enum.Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    keep = "keep"


class RopeOrder(str, enum.Enum):
    hf = "hf"
    meta = "meta"


def normalize(
    path: Path = typer.Argument(..., help="A checkpoint file or directory in any format `inspect` reads."),
    out: Path = typer.Option(..., "--output", "-o", help="Directory to write config.json and model*.safetensors."),
    head_dim: int | None = typer.Option(
        None,
        "--head-dim",
        help="Attention head size, when the files do not "
        "say (needed to undo the rotary permutation and to write the config).",
    ),
    rope_order: RopeOrder | None = typer.Option(
        None,
        "--rope-order",
        help="Q/K row order of the input when the format does not say: hf (half-split) or meta (interleaved).",
    ),
    reference: Path | None = typer.Option(
        None,
        "--reference",
        help="A checkpoint of the same architecture used to resolve structural ambiguities (q vs o, gate vs up, …).",
    ),
    rms_norm_eps: float | None = typer.Option(
        None,
        "--rms-norm-eps",
        help="RMSNorm epsilon, when the files do not say (else LLaMA's default 1e-6 is written, with a warning).",
    ),
    rope_theta: float | None = typer.Option(
        None,
        "--rope-theta",
        help="RoPE base, when the files do not say (else LLaMA's default 10000 is written, with a warning).",
    ),
    max_shard_size: str = typer.Option("5GB", "--max-shard-size", help="Shard the output above this size."),
    dtype: OutDtype = typer.Option(
        OutDtype.float32, "--dtype", help="Output dtype (keep: F32/F16/BF16 as stored, anything else as float32)."
    ),
    force: bool = typer.Option(False, "--force", help="Write into OUTDIR even if it already holds files."),
) -> None:
    """Rename and re-layout a LLaMA-compatible checkpoint into Hugging Face LlamaForCausalLM form.

    Refuses (exit 2) when the model is not LLaMA-compatible, when any tensor is unmatched, or when a value needed
    for a correct config is unknown. What was renamed and transformed is printed to stderr.

    Example: provenance normalize ./Yi-34B-original -o ./yi-as-llama
    """
    from provenance.checkpoint import open_checkpoint
    from provenance.errors import UsageError
    from provenance.normalize import normalize as run_normalize
    from provenance.normalize import write_canonical
    from provenance.normalize.write import parse_size

    try:
        max_bytes = parse_size(max_shard_size)
    except (ValueError, OverflowError):
        raise UsageError(f"--max-shard-size: cannot read {max_shard_size!r} (e.g. 5GB, 500MB)") from None
    if max_bytes <= 0:
        raise UsageError(f"--max-shard-size must be a positive size, got {max_shard_size!r} (e.g. 5GB, 500MB)")
    if out.exists() and any(out.iterdir()) and not force:
        raise UsageError(f"{out} is not empty (use --force to write into it)")
    ckpt = open_checkpoint(path)
    ref = open_checkpoint(reference) if reference is not None else None
    cm = run_normalize(ckpt, head_dim=head_dim, reference=ref, rope_order=rope_order.value if rope_order else None)
    for key, value in (("rms_norm_eps", rms_norm_eps), ("rope_theta", rope_theta)):
        if value is not None:
            if cm.arch.known(key) and cm.arch.values[key] != value:
                log(f"{key}: the files say {cm.arch.values[key]}; using {value} as given")
            cm.arch.set(key, value, "metadata")
            cm.arch.notes.append(f"{key} {value} given by option")
    for line in cm.summary_lines():
        log(line)
    check_writable(cm, head_dim)
    for line in rename_lines(cm):
        log(line)
    for d in cm.dropped:
        log(f"drop {d['name']}  [{d['reason']}]")
    if cm.arch.defaulted:
        cfg = cm.arch.to_hf_config()
        log("not in the files, written with LLaMA defaults: " + ", ".join(f"{k}={cfg[k]}" for k in cm.arch.defaulted))
    from provenance.progress import counter

    written = write_canonical(
        cm,
        out,
        max_shard_bytes=max_bytes,
        dtype=dtype.value,
        force=force,
        progress=counter("write tensors", len(cm.tensors)),
    )
    log(f"wrote {len(cm.tensors)} tensors to {out} ({', '.join(p.name for p in written)})")


def log(line: str) -> None:
    sys.stderr.write(line + "\n")


def rename_lines(cm) -> list[str]:
    """One line per rename pattern: per-layer renames are shown once with {L} and a layer count."""
    from provenance.normalize.schemes import layer_key

    groups: dict[tuple[str, str, str, str], int] = {}
    for r in cm.renames:
        (fk, fl), (tk, tl) = layer_key(r.from_), layer_key(r.to)
        key = (fk, tk, r.rule, r.confidence) if fl is not None and fl == tl else (r.from_, r.to, r.rule, r.confidence)
        groups[key] = groups.get(key, 0) + 1
    out = []
    for (f, t, rule, conf), n in groups.items():
        times = f" (x{n} layers)" if "{L}" in f else ""
        out.append(f"rename {f} → {t}{times}  [{rule}; confidence {conf}]")
    return out


def check_writable(cm, head_dim: int | None) -> None:
    """Raise UsageError with one clear line when the canonical checkpoint would not be a faithful LLaMA."""
    from provenance.errors import UsageError
    from provenance.normalize.family import DISPLAY

    if cm.unmatched:
        shown = ", ".join(cm.unmatched[:3]) + (" …" if len(cm.unmatched) > 3 else "")
        raise UsageError(
            f"refusing to normalize: {len(cm.unmatched)} tensor(s) match no LLaMA role ({shown}); "
            "nothing is dropped silently"
        )
    if not cm.llama_compatible:
        why = "; ".join(cm.incompatible[:3]) or "architecture differs from LLaMA"
        raise UsageError(
            f"refusing to normalize: {DISPLAY.get(cm.family, cm.family)} model is not LLaMA-compatible ({why})"
        )
    if cm.problems:
        raise UsageError(f"refusing to normalize: {cm.problems[0]}")


def register(app: typer.Typer) -> None:
    app.command("normalize")(normalize)
