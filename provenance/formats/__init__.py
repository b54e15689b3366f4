"""Format detection and dispatch: one module per format behind one ``open`` function.

Detection looks at content first (magic bytes, header shape) and at names only to choose among files in a
directory. Format modules are imported lazily so that reading safetensors or GGUF never imports torch.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from provenance.checkpoint_types import Checkpoint
from provenance.companions import read_companions
from provenance.errors import InputError

# format name -> "module:function". Each function takes a Path (file or directory, as documented there) and
# returns a Checkpoint whose metadata holds what the format itself carries; companions are added here.
OPENERS = {
    "safetensors": "provenance.formats.safetensors_format:open_path",
    "torch": "provenance.formats.torch_format:open_path",
    "meta": "provenance.formats.meta_format:open_path",
    "gguf": "provenance.formats.gguf_format:open_path",
    "peft": "provenance.formats.peft_format:open_path",
    "llama2c": "provenance.formats.llama2c_format:open_path",
}

HEAD_BYTES = 64


def _opener(fmt: str):
    module, func = OPENERS[fmt].split(":")
    return getattr(importlib.import_module(module), func)


def sniff_file(path: Path) -> str | None:
    """Name the format of a single file from its first bytes (and size), or None."""
    from provenance.formats import llama2c_sniff
    from provenance.formats.safetensors_format import looks_like_safetensors

    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    if head[:4] == b"GGUF":
        return "gguf"
    if looks_like_safetensors(head, size):
        return "safetensors"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":  # torch zip archive, or a legacy raw pickle
        return "meta" if path.name.startswith("consolidated.") else "torch"
    if llama2c_sniff.looks_like_llama2c(head, size):
        return "llama2c"
    return None


def classify_directory(directory: Path) -> str:
    """Name the format of a checkpoint directory from the files it holds."""
    names = {p.name for p in directory.iterdir() if p.is_file()}
    if "adapter_config.json" in names:
        return "peft"
    if any(n.endswith(".gguf") for n in names):
        return "gguf"
    if any(n.startswith("consolidated.") and n.endswith(".pth") for n in names):
        return "meta"
    if any(n.endswith(".safetensors") for n in names):
        return "safetensors"
    for n in sorted(names):
        if n.endswith((".bin", ".pt", ".pth", ".ckpt")):
            fmt = sniff_file(directory / n)
            if fmt in ("torch", "llama2c", "safetensors", "gguf"):
                return fmt
    raise InputError(
        directory,
        "no model weights found (looked for .safetensors, .bin, .pt, .pth, .gguf, "
        "consolidated.*.pth and llama2c model.bin)",
    )


def open_path(path: Path) -> Checkpoint:
    """Open a file or a directory; add the companion files (config, card, legal texts) of its directory."""
    if path.is_dir():
        fmt = classify_directory(path)
        directory = path
    else:
        fmt = sniff_file(path)
        if (
            fmt in ("safetensors", "torch")
            and path.name.startswith("adapter_model.")
            and (path.parent / "adapter_config.json").is_file()
        ):
            fmt = "peft"  # the weights file of a PEFT adapter, opened directly
        if fmt is None:
            raise InputError(path, "not a recognised checkpoint file (no safetensors, GGUF, torch or llama2c header)")
        directory = path.parent
    ckpt = _opener(fmt)(path)
    metadata, card, legal = read_companions(directory)
    for key, value in metadata.items():
        ckpt.metadata.setdefault(key, value)
    if ckpt.card is None:
        ckpt.card = card
    for kind, files in legal.items():
        ckpt.companions.setdefault(kind, files)
    return ckpt
