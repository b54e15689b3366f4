"""write_canonical: stream a CanonicalModel to config.json + safetensors, one tensor (block of rows) at a time.

The safetensors files are written directly: the header (names, dtypes, shapes, offsets) is computed from the
shapes before any data is read, then each tensor's rows are converted and appended. Memory stays bounded by one
block of rows. Format: huggingface/safetensors README (8-byte little-endian header length, JSON header padded
with spaces to a multiple of 8, then the data in header order). Shards follow transformers' naming
(``model-00001-of-00002.safetensors`` + ``model.safetensors.index.json``).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from provenance.errors import InputError

if TYPE_CHECKING:
    from provenance.normalize.canonical import CanonicalModel

DEFAULT_MAX_SHARD_BYTES = 5 * 1000**3  # transformers save_pretrained default max_shard_size "5GB"
_BYTES = {"F32": 4, "BF16": 2, "F16": 2}
_TORCH_DTYPE = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}
CHUNK_BYTES = 64 * 1024 * 1024


def parse_size(text: str) -> int:
    """``"5GB"`` → 5_000_000_000 (also KB, MB, GiB …, or a plain byte count)."""
    t = text.strip().upper().replace(" ", "")
    units = {
        "KIB": 1024,
        "MIB": 1024**2,
        "GIB": 1024**3,
        "TIB": 1024**4,
        "KB": 1000,
        "MB": 1000**2,
        "GB": 1000**3,
        "TB": 1000**4,
        "B": 1,
    }
    for u, m in units.items():
        if t.endswith(u):
            return int(float(t[: -len(u)]) * m)
    return int(t)


def output_dtype(source_dtype: str, dtype: str) -> str:
    if dtype == "bfloat16":
        return "BF16"
    if dtype == "keep" and source_dtype in _BYTES:
        return source_dtype
    return "F32"


def _encode(block: np.ndarray, st_dtype: str) -> bytes:
    block = np.ascontiguousarray(block, dtype=np.float32)
    if st_dtype == "F32":
        return block.astype("<f4").tobytes()
    if st_dtype == "F16":
        return block.astype("<f2").tobytes()
    import ml_dtypes  # round-to-nearest-even float32 → bfloat16

    return block.astype(ml_dtypes.bfloat16).view("<u2").tobytes()


def _check_finite(ref, name: str, block: np.ndarray) -> None:
    """A NaN or infinity in a weight is a broken checkpoint, not something to copy into a new one."""
    if not np.isfinite(block).all():
        bad = int(block.size - np.count_nonzero(np.isfinite(block)))
        label = ref.name if ref.name == name else f"{ref.name} (canonical {name})"
        raise InputError(
            ref.file,
            f"tensor {label} holds non-finite values (NaN or infinity; {bad} in the first "
            "block of rows that has any); refusing to write a normalized copy",
        )


def write_canonical(
    cm: CanonicalModel,
    outdir: Path,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    dtype: str = "float32",
    progress=None,
    force: bool = False,
) -> list[Path]:
    """Write ``config.json`` and the canonical tensors (sharded above ``max_shard_bytes``); return paths written.

    Every file goes through a temp file in ``outdir`` and an atomic rename (:mod:`provenance.safeio`): a symlink at
    an output name is refused (InputError) before anything is written, a hard-linked one is replaced by a new
    inode, and an existing file is replaced only with ``force``."""
    from provenance import safeio

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    plan = []
    for name, ref in cm.tensors.items():
        st = output_dtype(ref.dtype, dtype)
        plan.append((name, ref, st, int(np.prod(ref.shape, dtype=np.int64)) * _BYTES[st]))
    shards: list[list] = [[]]
    size = 0
    for item in plan:
        if shards[-1] and size + item[3] > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(item)
        size += item[3]
    n = len(shards)
    names = ["model.safetensors"] if n == 1 else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
    for fname in [*names, "model.safetensors.index.json", "config.json"]:
        target = safeio.check_target(outdir, fname)  # refuse symlinks before the first byte is written
        if not force and os.path.lexists(target) and (fname in names or fname == "config.json" or n > 1):
            raise InputError(target, "exists; not overwritten without --force")
    written: list[Path] = []
    weight_map: dict[str, str] = {}
    for fname, items in zip(names, shards):
        path = _write_file(outdir, fname, items, progress, force)
        written.append(path)
        for item in items:
            weight_map[item[0]] = fname
    if n > 1:
        index = {"metadata": {"total_size": sum(i[3] for i in plan)}, "weight_map": dict(sorted(weight_map.items()))}
        written.append(
            safeio.write_bytes(
                outdir,
                "model.safetensors.index.json",
                (json.dumps(index, indent=2, sort_keys=True) + "\n").encode(),
                force,
            )
        )
    cfg = cm.arch.to_hf_config()
    kinds = [i[2] for i in plan]
    cfg["torch_dtype"] = _TORCH_DTYPE[max(set(kinds), key=kinds.count)] if kinds else "float32"
    written.append(
        safeio.write_bytes(outdir, "config.json", (json.dumps(cfg, indent=2, sort_keys=True) + "\n").encode(), force)
    )
    return written


def _write_file(outdir: Path, fname: str, items: list, progress, force: bool) -> Path:
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, ref, st, nbytes in items:
        header[name] = {"dtype": st, "shape": list(ref.shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)
    from provenance import safeio

    fd, tmp = safeio.open_temp(outdir, fname)
    try:
        _write_data(os.fdopen(fd, "wb"), blob, items, progress)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a half-written shard that looks like a checkpoint
        raise
    return safeio.install(outdir, fname, tmp, overwrite=force)


def _write_data(fh, blob: bytes, items: list, progress) -> None:
    with fh:
        fh.write(struct.pack("<Q", len(blob)))
        fh.write(blob)
        for name, ref, st, nbytes in items:
            done = 0
            blocks = [ref.read().reshape(())] if not ref.shape else (b for _, b in ref.iter_rows(CHUNK_BYTES))
            for block in blocks:
                _check_finite(ref, name, block)
                data = _encode(block, st)
                fh.write(data)
                done += len(data)
            if done != nbytes:
                raise RuntimeError(f"{name}: wrote {done} bytes, expected {nbytes}")
            if progress is not None:
                progress(name)
