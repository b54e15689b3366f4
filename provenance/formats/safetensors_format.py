"""safetensors: single files and sharded checkpoints with ``model.safetensors.index.json``.

The header is parsed here rather than through ``safe_open`` so that every check (header size cap, offsets inside
the file, shapes matching byte counts) gives a clear error, and so that BF16/FP8 work without a torch import.
Data are memory-mapped; a read touches only the rows asked for.

Format (huggingface/safetensors README): 8-byte little-endian header length N, N bytes of UTF-8 JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}``, then the byte buffer;
offsets are relative to the start of the buffer (byte 8 + N).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from provenance.checkpoint_types import Checkpoint, TensorRef
from provenance.dtypes import STORAGE, to_float32
from provenance.errors import InputError

# The reference implementation refuses headers above 100 MB (safetensors `MAX_HEADER_SIZE`); so do we.
MAX_HEADER_BYTES = 100_000_000
MAX_DIMS = 64  # more dimensions than any framework allows (PyTorch and numpy cap at 64 or fewer)

INDEX_NAMES = ("model.safetensors.index.json",)


def looks_like_safetensors(head: bytes, file_size: int) -> bool:
    """Content sniff: a plausible 8-byte header length followed by a JSON object."""
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    # An oversized or truncated header still counts as safetensors here, so read_header can say what is wrong.
    return n >= 2 and head[8:9] == b"{"


def read_header(path: Path) -> tuple[dict[str, Any], dict[str, str], int]:
    """Return ``(tensor entries, __metadata__, data start offset)`` after validating the header."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            raw_len = fh.read(8)
            if len(raw_len) < 8:
                raise InputError(path, f"truncated safetensors file: {size} bytes, too short for a header")
            (n,) = struct.unpack("<Q", raw_len)
            if n > MAX_HEADER_BYTES:
                raise InputError(path, f"safetensors header claims {n} bytes, above the {MAX_HEADER_BYTES}-byte cap")
            if 8 + n > size:
                raise InputError(path, f"truncated safetensors file: header claims {n} bytes but the file has {size}")
            blob = fh.read(n)
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    from provenance.companions import parse_json_bytes

    header = parse_json_bytes(path, blob, prefix="corrupt safetensors header: ")
    if not isinstance(header, dict):
        raise InputError(path, "corrupt safetensors header: not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise InputError(path, "corrupt safetensors header: __metadata__ is not an object")
    start = 8 + n
    buffer_len = size - start
    for name, entry in header.items():
        _check_entry(path, name, entry, buffer_len)
    reach, last = 0, None  # empty tensors occupy no bytes and overlap nothing
    for b0, b1, bn in sorted((e["data_offsets"][0], e["data_offsets"][1], k) for k, e in header.items()):
        if b1 > b0:
            if b0 < reach:
                raise InputError(path, f"corrupt safetensors header: the data of tensors {last!r} and {bn!r} overlap")
            reach, last = b1, bn
    return header, {str(k): str(v) for k, v in meta.items()}, start


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_entry(path: Path, name: str, entry: Any, buffer_len: int) -> None:
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise InputError(path, f"corrupt safetensors header: entry {name[:80]!r} lacks dtype/shape/data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in STORAGE:
        raise InputError(path, f"tensor {name!r} has unsupported dtype {str(dtype)[:40]!r}")
    if not (isinstance(shape, list) and len(shape) <= MAX_DIMS and all(_is_int(d) and d >= 0 for d in shape)):
        raise InputError(
            path,
            f"corrupt safetensors header: tensor {name!r} has shape {str(shape)[:80]} "
            f"(expected at most {MAX_DIMS} non-negative integers)",
        )
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        raise InputError(path, f"corrupt safetensors header: tensor {name!r} has data_offsets {str(offsets)[:80]}")
    begin, end = offsets
    numel = math.prod(shape)  # Python integers: a product of huge dims cannot wrap around
    if end - begin != numel * STORAGE[dtype][1] or begin < 0:
        raise InputError(
            path,
            f"tensor {name!r}: shape {shape} {dtype} needs {numel * STORAGE[dtype][1]} bytes, "
            f"offsets give {end - begin}",
        )
    if end > buffer_len:
        raise InputError(
            path, f"truncated safetensors file: tensor {name!r} ends at byte {end} of a {buffer_len}-byte data section"
        )


def _make_reader(path: Path, start: int, begin: int, dtype: str, shape: list[int]):
    np_dtype, itemsize = STORAGE[dtype]
    row_elems = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1

    def reader(r0: int, r1: int) -> np.ndarray:
        count = (r1 - r0) * row_elems
        if count <= 0:
            return np.zeros((0,), dtype=np.float32)
        # A positioned read per call: a long-lived memory map would keep every page it ever touched resident.
        with open(path, "rb") as fh:
            raw = np.fromfile(fh, dtype=np_dtype, count=count, offset=start + begin + r0 * row_elems * itemsize)
        return to_float32(raw, dtype)

    return reader


def tensors_of_file(path: Path) -> tuple[dict[str, TensorRef], dict[str, str]]:
    header, meta, start = read_header(path)
    refs = {}
    # Keep the order of the data section (offsets), which is the order the writer stored them in.
    for name, entry in sorted(header.items(), key=lambda kv: (kv[1]["data_offsets"][0], kv[0])):
        shape = entry["shape"]
        refs[name] = TensorRef(
            name=name,
            shape=tuple(shape),
            dtype=entry["dtype"],
            file=path,
            reader=_make_reader(path, start, entry["data_offsets"][0], entry["dtype"], shape),
        )
    return refs, meta


def open_safetensors(path: Path, index: Path | None = None) -> Checkpoint:
    """Open one ``.safetensors`` file, or the shards listed by an index file."""
    if index is None:
        refs, meta = tensors_of_file(path)
        return Checkpoint(
            path=path, format="safetensors", files=[path], tensors=refs, metadata={"safetensors": meta} if meta else {}
        )
    from provenance.formats.sharded import read_shards

    sh = read_shards(index, tensors_of_file)
    metadata: dict[str, Any] = {"index": sh.index.get("metadata", {})}
    if sh.shard_meta:
        metadata["safetensors"] = next(iter(sh.shard_meta.values()))
    return Checkpoint(path=index.parent, format="safetensors", files=sh.files, tensors=sh.tensors, metadata=metadata)


def open_path(path: Path) -> Checkpoint:
    """A ``.safetensors`` file, or a directory: its index if present, else its one (or several) shard files."""
    if path.is_file():
        return open_safetensors(path)
    for name in INDEX_NAMES:
        if (path / name).is_file():
            return open_safetensors(path, index=path / name)
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(".safetensors"))
    if len(files) == 1:
        ckpt = open_safetensors(files[0])
        ckpt.path = path
        return ckpt
    # Several files and no index (e.g. shards copied without it): read them all, refusing duplicate names.
    tensors: dict[str, TensorRef] = {}
    for f in files:
        refs, _ = tensors_of_file(f)
        for name, ref in refs.items():
            if name in tensors:
                raise InputError(
                    f,
                    f"tensor {name!r} also appears in {tensors[name].file.name}; "
                    "several checkpoints in one directory? open one file directly",
                )
            tensors[name] = ref
    return Checkpoint(
        path=path,
        format="safetensors",
        files=files,
        tensors=tensors,
        warnings=[f"{len(files)} safetensors files without an index; read them as one checkpoint"],
    )


def with_raw_bf16(ckpt, tensors: dict[str, Any]) -> dict[str, Any]:
    """Canonical tensors that are BF16 safetensors entries read as stored (renamed at most: same reader as a source
    tensor) also offer ``bf16_rows(r0, r1)``, their raw bits by a positioned read. The fingerprint then hashes the
    bits as stored and widens them itself, instead of reading float32 and finding the bits again (a third faster)."""
    if ckpt.format != "safetensors":
        return tensors
    sources = {id(t.reader): t for t in ckpt.tensors.values() if t.dtype == "BF16" and len(t.shape) >= 2}
    headers: dict[Any, Any] = {}
    out = {}
    for name, t in tensors.items():
        src = sources.get(id(getattr(t, "reader", None)))
        if src is None or tuple(t.shape) != tuple(src.shape):
            out[name] = t
            continue
        if src.file not in headers:
            headers[src.file] = read_header(src.file)
        entries, _, start = headers[src.file]
        entry = entries.get(src.name)
        if not entry or entry.get("dtype") != "BF16":
            out[name] = t
            continue
        out[name] = RawBF16(t, src.file, start + int(entry["data_offsets"][0]))
    return out


class RawBF16:
    """A TensorRef (delegated to) that can also return its raw bfloat16 bits."""

    def __init__(self, ref, file: Path, offset: int):
        self.ref, self.file, self.offset = ref, file, offset
        self.row_elems = 1
        for d in ref.shape[1:]:
            self.row_elems *= d

    def __getattr__(self, attr: str):
        return getattr(self.ref, attr)

    def read(self):
        return self.ref.read()

    def read_rows(self, start: int, stop: int):
        return self.ref.read_rows(start, stop)

    def bf16_rows(self, start: int, stop: int):
        start, stop = max(0, start), min(self.ref.shape[0], stop)
        out = np.empty(max(0, stop - start) * self.row_elems, dtype="<u2")  # a fresh buffer reads fastest here
        with open(self.file, "rb", buffering=0) as fh:
            fh.seek(self.offset + 2 * start * self.row_elems)
            view, got = memoryview(out).cast("B"), 0
            while got < out.nbytes:
                n = fh.readinto(view[got:])
                if not n:
                    raise InputError(self.file, f"truncated: tensor {self.ref.name!r} ends past the end of the file")
                got += n
        return out
