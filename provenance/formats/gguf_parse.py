"""A bounded parser for the GGUF container, versions 1, 2 and 3: header, metadata key-values and tensor infos.

Why not ``gguf.GGUFReader``: it refuses version 1, and it builds Python objects per declared array element before
anything is checked, so a 26 KB file declaring an array of 10^8 elements costs seconds and gigabytes. Here every
count, length, dimension and offset is checked against the bytes that remain in the file (and against fixed caps)
before anything is allocated or looped over; numeric arrays are read in one ``numpy.frombuffer`` call.

Layout (ggml ``docs/gguf.md``, "File Structure" and "Version History"; llama.cpp ``gguf-py``):

- header: magic ``GGUF``, uint32 version, tensor count, key-value count;
- each key-value: key string, uint32 value type, value (strings: length + UTF-8 bytes; arrays: uint32 element
  type, element count, elements);
- each tensor info: name string, uint32 number of dimensions, the dimensions (ggml order, fastest first),
  uint32 ggml type, uint64 offset relative to the start of the data section;
- the data section starts at the next multiple of ``general.alignment`` (default 32) after the tensor infos.

Version 1 stores the tensor and key-value counts, string lengths, array lengths and dimensions as uint32;
version 2 changed them to uint64 ("most countable values (lengths, etc) were changed from uint32 to uint64");
version 3 only added big-endian files, which this tool does not read.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from provenance.errors import InputError

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (1, 2, 3)
DEFAULT_ALIGNMENT = 32

# Caps far above any published model, low enough that a lying header cannot make the parser loop or allocate much.
MAX_TENSORS = 1_000_000
MAX_KV = 100_000
MAX_ARRAY_ITEMS = 1 << 24  # a 256k-token vocabulary and its merges are < 1M items
MAX_STRING_BYTES = 64 << 20  # tokenizer.huggingface.json / chat templates are at most a few MB
MAX_KEY_BYTES = 65_535  # the spec's limit for keys
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_NESTING = 4  # arrays of arrays

# value type id -> (struct code, size) for fixed-size scalars (gguf_metadata_value_type)
_SCALARS = {
    0: ("<B", 1),
    1: ("<b", 1),
    2: ("<H", 2),
    3: ("<h", 2),
    4: ("<I", 4),
    5: ("<i", 4),
    6: ("<f", 4),
    7: ("<?", 1),
    10: ("<Q", 8),
    11: ("<q", 8),
    12: ("<d", 8),
}
_NUMPY = {
    0: "<u1",
    1: "<i1",
    2: "<u2",
    3: "<i2",
    4: "<u4",
    5: "<i4",
    6: "<f4",
    7: "<u1",
    10: "<u8",
    11: "<i8",
    12: "<f8",
}
STRING, ARRAY = 8, 9


@dataclass
class GGUFTensorInfo:
    name: str
    dims: tuple[int, ...]  # ggml order (fastest dimension first)
    type_id: int
    offset: int  # absolute file offset of the data
    nbytes: int


@dataclass
class GGUFFile:
    path: Path
    version: int
    kv: dict[str, Any] = field(default_factory=dict)  # arrays: numpy arrays (numeric) or lists (strings, nested)
    tensors: list[GGUFTensorInfo] = field(default_factory=list)
    data_start: int = 0
    alignment: int = DEFAULT_ALIGNMENT


class _Cursor:
    """Reads little-endian values from a byte buffer, refusing to run past its end."""

    def __init__(self, path: Path, buf, version: int):
        self.path, self.buf, self.pos, self.size = path, buf, 0, len(buf)
        self.wide = version >= 2  # uint64 counts and lengths

    def fail(self, problem: str) -> InputError:
        return InputError(self.path, f"corrupt GGUF file: {problem} (at byte {self.pos})")

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise InputError(
                self.path,
                f"truncated or corrupt GGUF file: {what} needs {n} bytes at byte {self.pos}, the file has {self.size}",
            )

    def unpack(self, code: str, size: int, what: str):
        self.need(size, what)
        (v,) = struct.unpack_from(code, self.buf, self.pos)
        self.pos += size
        return v

    def u32(self, what: str) -> int:
        return self.unpack("<I", 4, what)

    def count(self, what: str) -> int:
        return self.unpack("<Q", 8, what) if self.wide else self.unpack("<I", 4, what)

    def raw_string(self, what: str, cap: int = MAX_STRING_BYTES) -> bytes:
        n = self.count(f"{what} length")
        if n > cap:
            raise self.fail(f"{what} declares {n} bytes, above the {cap}-byte limit")
        self.need(n, what)
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    def string(self, what: str) -> str:
        return self.raw_string(what).decode("utf-8", errors="replace")

    def value(self, vtype: int, what: str, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            code, size = _SCALARS[vtype]
            return self.unpack(code, size, what)
        if vtype == STRING:
            return self.string(what)
        if vtype == ARRAY:
            if depth >= MAX_NESTING:
                raise self.fail(f"{what}: arrays nested deeper than {MAX_NESTING}")
            etype = self.u32(f"{what} element type")
            n = self.count(f"{what} element count")
            if n > MAX_ARRAY_ITEMS:
                raise self.fail(f"{what} declares {n} elements, above the {MAX_ARRAY_ITEMS} limit")
            if etype in _SCALARS:
                size = _SCALARS[etype][1]
                self.need(n * size, f"{what} ({n} elements)")
                arr = np.frombuffer(self.buf, dtype=_NUMPY[etype], count=n, offset=self.pos).copy()
                self.pos += n * size
                return arr.astype(bool) if etype == 7 else arr
            if etype not in (STRING, ARRAY):
                raise self.fail(f"{what} has unknown element type {etype}")
            # every element takes at least its length field: refuse counts the remaining bytes cannot hold
            self.need(n * (8 if self.wide else 4), f"{what} ({n} elements)")
            return [self.value(etype, what, depth + 1) for _ in range(n)]
        raise self.fail(f"{what} has unknown value type {vtype}")


def ggml_type(path: Path, type_id: int):
    """The gguf package's GGMLQuantizationType for an id, or an InputError naming the id."""
    import gguf

    try:
        return gguf.GGMLQuantizationType(type_id)
    except ValueError:
        raise InputError(
            path, f"unknown GGML tensor type id {type_id} (not a type the installed gguf package knows)"
        ) from None


def tensor_nbytes(path: Path, name: str, dims: tuple[int, ...], type_id: int) -> int:
    """Bytes of one tensor's data: whole blocks of ``block`` values, ``type_size`` bytes each (GGML_QUANT_SIZES)."""
    import gguf

    qtype = ggml_type(path, type_id)
    block, type_size = gguf.GGML_QUANT_SIZES[qtype]
    ne0 = dims[0] if dims else 1
    if ne0 % block:
        raise InputError(
            path, f"tensor {name!r}: row length {ne0} is not a multiple of the {qtype.name} block size {block}"
        )
    numel = 1
    for d in dims:
        numel *= d
    return numel // block * type_size


def _open_buffer(path: Path):
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed by the `with fh` below; only open() may raise PermissionError)
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    with fh:
        size = fh.seek(0, 2)
        if size < 16:
            raise InputError(path, f"truncated GGUF file: {size} bytes, too short for a header")
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def parse_gguf(path: Path) -> GGUFFile:
    """Header, key-values and tensor infos of one GGUF file, every field checked. Raises only InputError."""
    buf = _open_buffer(path)
    try:
        if bytes(buf[:4]) != MAGIC:
            raise InputError(path, "not a GGUF file (no GGUF magic)")
        (version,) = struct.unpack_from("<I", buf, 4)
        if version not in SUPPORTED_VERSIONS:
            if struct.unpack_from(">I", buf, 4)[0] in SUPPORTED_VERSIONS:
                raise InputError(path, "big-endian GGUF files are not supported")
            raise InputError(path, f"unsupported GGUF version {version} (known: 1, 2, 3)")
        cur = _Cursor(path, buf, version)
        cur.pos = 8
        n_tensors = cur.count("tensor count")
        n_kv = cur.count("key-value count")
        if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
            raise cur.fail(
                f"header declares {n_tensors} tensors and {n_kv} key-values (limits {MAX_TENSORS}, {MAX_KV})"
            )
        out = GGUFFile(path=path, version=version)
        for _ in range(n_kv):
            key = cur.raw_string("key", MAX_KEY_BYTES)
            try:
                name = key.decode("utf-8")
            except UnicodeDecodeError:
                raise cur.fail(f"key {key[:40]!r} is not UTF-8") from None
            if name in out.kv:
                raise cur.fail(f"key {name!r} appears twice")
            vtype = cur.u32(f"type of {name!r}")
            out.kv[name] = cur.value(vtype, f"value of {name!r}")
        align = out.kv.get("general.alignment", DEFAULT_ALIGNMENT)
        if (
            not isinstance(align, int)
            or isinstance(align, bool)
            or align <= 0
            or align & (align - 1)
            or align > 1 << 20
        ):
            raise InputError(path, f"general.alignment is {align!r}, not a power of two up to 1 MiB")
        out.alignment = align
        infos = []
        for _ in range(n_tensors):
            tname = cur.string("tensor name")
            nd = cur.u32(f"dimension count of {tname!r}")
            if nd > MAX_DIMS:
                raise cur.fail(f"tensor {tname!r} declares {nd} dimensions (at most {MAX_DIMS})")
            dims = tuple(cur.count(f"dimension of {tname!r}") for _ in range(nd))
            type_id = cur.u32(f"type of {tname!r}")
            offset = cur.unpack("<Q", 8, f"offset of {tname!r}")
            infos.append((tname, dims, type_id, offset))
        out.data_start = -(-cur.pos // align) * align
        size = cur.size
        seen: set[str] = set()
        for tname, dims, type_id, offset in infos:
            if tname in seen:
                raise InputError(path, f"tensor {tname!r} appears twice")
            seen.add(tname)
            if any(d == 0 for d in dims):
                raise InputError(path, f"tensor {tname!r} has a zero dimension {list(dims)}")
            nbytes = tensor_nbytes(path, tname, dims, type_id)
            start = out.data_start + offset
            if start + nbytes > size:
                raise InputError(
                    path,
                    f"truncated GGUF file: tensor {tname!r} data ends at byte {start + nbytes}, the file has {size}",
                )
            out.tensors.append(GGUFTensorInfo(tname, dims, type_id, start, nbytes))
        spans = sorted((t.offset, t.offset + t.nbytes, t.name) for t in out.tensors)
        for (_a0, a1, an), (b0, _, bn) in zip(spans, spans[1:]):
            if b0 < a1:
                raise InputError(path, f"corrupt GGUF file: the data of tensors {an!r} and {bn!r} overlap")
        return out
    finally:
        buf.close()
