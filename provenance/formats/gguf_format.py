"""GGUF (llama.cpp): single files and splits (``name-00001-of-00003.gguf`` with ``split.no`` / ``split.count``).

Read through ``gguf.GGUFReader``, which memory-maps the file (gguf-py, ``gguf_reader.py``). Tensor shapes in GGUF
are stored in ggml order (fastest dimension first); they are reversed here into numpy order. Quantized tensors are
stored as byte rows (one row of ``n`` values takes ``n / block_size * type_size`` bytes, ``GGML_QUANT_SIZES``), so
a block of rows is a plain slice of the memory map and is dequantized alone with ``gguf.quants.dequantize``.

Metadata key-values go to ``metadata["gguf"]`` as plain Python values; long arrays (the tokenizer's tokens, scores
and merges) are summarised there as ``{"type": "array", "length": N, "head": [first 8]}``. The full token list is
available through :func:`gguf_tokens`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from provenance.checkpoint import Checkpoint, TensorRef
from provenance.errors import InputError

SPLIT_NAME = re.compile(r"^(?P<base>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")
MAX_LISTED = 64  # arrays longer than this are summarised in metadata
HEAD_ITEMS = 8


def _reader(path: Path):
    """A GGUFReader, with every parse failure turned into a one-line InputError naming the file."""
    import gguf

    try:
        size = path.stat().st_size
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    if size < 24:
        raise InputError(path, f"truncated GGUF file: {size} bytes, too short for a header")
    try:
        reader = gguf.GGUFReader(path, "r")
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    except Exception as exc:  # noqa: BLE001 - GGUFReader parses untrusted bytes; any failure is bad input
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        m = re.search(r"(\d+)\)? is not a valid GGMLQuantizationType", msg)
        if m:
            raise InputError(path, f"unknown GGML tensor type id {m.group(1)} (not a type the installed gguf "
                                   f"package knows)") from exc
        if "version" in msg.lower() and "handle" in msg.lower():
            raise InputError(path, f"unsupported GGUF version ({msg})") from exc
        raise InputError(path, f"truncated or corrupt GGUF file ({type(exc).__name__}: {msg[:160]})") from exc
    if reader.byte_order != "I":
        raise InputError(path, "big-endian GGUF files are not supported")
    end = max((t.data_offset + t.n_bytes for t in reader.tensors), default=0)
    if end > size:
        raise InputError(path, f"truncated GGUF file: tensor data ends at byte {end}, the file has {size}")
    return reader


def _field_value(field, summarize: bool = True) -> Any:
    import gguf

    types = field.types
    if not types:
        return None
    try:
        if types[0] == gguf.GGUFValueType.ARRAY:
            n = len(field.data)
            if summarize and n > MAX_LISTED:
                head = field.contents(slice(0, HEAD_ITEMS))
                return {"type": "array", "length": n, "head": _plain(head)}
            return _plain(field.contents())
        return _plain(field.contents())
    except UnicodeDecodeError:
        return bytes(field.parts[-1]).decode("utf-8", errors="replace")


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # keep the metadata strict JSON
    return value


def read_metadata(reader) -> dict[str, Any]:
    """Key-values of one file as plain Python, long arrays summarised."""
    out: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") and key != "GGUF.version":
            continue  # tensor and key-value counts: bookkeeping of the container
        out[key] = _field_value(field)
    return out


def _dequantizable(qtype) -> bool:
    """Whether gguf.quants can turn this type into float32 (probed on one zero block)."""
    import gguf

    block, type_size = gguf.GGML_QUANT_SIZES[qtype]
    try:
        gguf.quants.dequantize(np.zeros((1, type_size), np.uint8), qtype)
    except NotImplementedError:
        return False
    return True


_TYPED = {"F32", "F16", "F64", "I8", "I16", "I32", "I64"}  # GGUFReader already gives these as typed arrays


def _tensor_reader(path: Path, t, supported: bool):
    """Rows r0:r1 of one tensor, read with a positioned read (not through the reader's long-lived memory map, whose
    touched pages would stay resident and make memory grow with every tensor read) and converted to float32."""
    import gguf

    qtype = t.tensor_type
    name = qtype.name
    item = t.data.dtype                      # typed element (F32, F16, I32 …) or uint8 bytes for quantized types
    shape = tuple(t.data.shape)              # numpy order; the last dim is bytes per row for quantized types
    row_items = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1

    def fetch(i0: int, i1: int) -> np.ndarray:
        count = (i1 - i0) * row_items
        with open(path, "rb") as fh:
            raw = np.fromfile(fh, dtype=item, count=count, offset=t.data_offset + i0 * row_items * item.itemsize)
        if raw.size != count:
            raise InputError(path, f"truncated GGUF file: tensor {t.name!r} data ends past the end of the file")
        return raw.reshape((i1 - i0,) + shape[1:])

    def reader(r0: int, r1: int) -> np.ndarray:
        if name in _TYPED:
            block = fetch(r0, r1)
            return block if block.dtype == np.float32 else block.astype(np.float32)
        if not supported:
            raise InputError(path, f"tensor {t.name!r} has GGML type {name}, which the installed gguf package "
                                   "cannot dequantize")
        if len(shape) <= 1:  # 1-D quantized tensor: blocks do not follow rows; dequantize all, then slice
            return gguf.quants.dequantize(fetch(0, shape[0] if shape else 1).reshape(-1), qtype).reshape(-1)[r0:r1] \
                .astype(np.float32, copy=False)
        return np.asarray(gguf.quants.dequantize(fetch(r0, r1), qtype), dtype=np.float32)

    return reader


def split_files(path: Path, count: int) -> list[Path]:
    m = SPLIT_NAME.match(path.name)
    if not m:
        raise InputError(path, f"split.count is {count} but the name does not follow NAME-00001-of-{count:05d}.gguf")
    if int(m.group("count")) != count:
        raise InputError(path, f"split.count is {count} but the name says {int(m.group('count'))}")
    files = [path.with_name(f"{m.group('base')}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
    for f in files:
        if not f.is_file():
            raise InputError(f, f"split {f.name} of {count} is missing")
    return files


def _split_count(reader) -> int:
    field = reader.fields.get("split.count")
    return int(field.contents()) if field is not None else 1


def open_gguf(path: Path) -> Checkpoint:
    """One GGUF file, or every split of a split model when ``path`` is one of its splits."""
    first = _reader(path)
    count = _split_count(first)
    files = split_files(path, count) if count > 1 else [path]
    readers = [first if f == path else _reader(f) for f in files]
    if files[0] != path:
        first = readers[0]
    metadata = read_metadata(first)
    tensors: dict[str, TensorRef] = {}
    warnings: list[str] = []
    support: dict[Any, bool] = {}
    for i, (f, rd) in enumerate(zip(files, readers)):
        if count > 1:
            no = rd.fields.get("split.no")
            if no is None or int(no.contents()) != i:
                raise InputError(f, f"split.no is {None if no is None else int(no.contents())}, expected {i}")
        for t in rd.tensors:
            if t.name in tensors:
                raise InputError(f, f"tensor {t.name!r} appears twice")
            if t.tensor_type not in support:
                support[t.tensor_type] = t.tensor_type.name in _TYPED or _dequantizable(t.tensor_type)
            shape = tuple(int(d) for d in reversed(t.shape.tolist()))
            tensors[t.name] = TensorRef(name=t.name, shape=shape, dtype=t.tensor_type.name, file=f,
                                        reader=_tensor_reader(f, t, support[t.tensor_type]))
    expected = metadata.get("split.tensors.count")
    if count > 1 and isinstance(expected, int) and expected != len(tensors):
        raise InputError(files[0], f"split.tensors.count is {expected} but the splits hold {len(tensors)} tensors")
    for qtype, ok in sorted(support.items(), key=lambda kv: kv[0].name):
        if not ok:
            n = sum(1 for t in tensors.values() if t.dtype == qtype.name)
            warnings.append(f"{n} tensor(s) of GGML type {qtype.name} cannot be dequantized by the installed "
                            "gguf package; reading them fails")
    return Checkpoint(path=path, format="gguf", files=files, tensors=tensors, metadata={"gguf": metadata},
                      warnings=warnings)


def open_path(path: Path) -> Checkpoint:
    """A ``.gguf`` file (with its sibling splits), or a directory holding exactly one GGUF model."""
    if path.is_file():
        return open_gguf(path)
    ggufs = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(".gguf"))
    models: dict[str, Path] = {}
    for p in ggufs:
        m = SPLIT_NAME.match(p.name)
        key = m.group("base") if m else p.name
        if m is None or m.group("no") == "00001" or key not in models:
            models.setdefault(key, p)
            if m is not None and m.group("no") == "00001":
                models[key] = p
    if not models:
        raise InputError(path, "no .gguf file in this directory")
    if len(models) > 1:
        raise InputError(path, f"{len(models)} GGUF models in this directory ({', '.join(sorted(models))}); "
                               "open one file")
    ckpt = open_gguf(next(iter(models.values())))
    ckpt.path = path
    return ckpt


def gguf_tokens(ckpt: Checkpoint) -> list[str] | None:
    """The full ``tokenizer.ggml.tokens`` list of a GGUF checkpoint (None when the file has no vocabulary)."""
    if ckpt.format != "gguf":
        return None
    reader = _reader(ckpt.files[0])
    field = reader.fields.get("tokenizer.ggml.tokens")
    return None if field is None else list(_field_value(field, summarize=False))
