"""GGUF (llama.cpp): single files and splits (``name-00001-of-00003.gguf`` with ``split.no`` / ``split.count``).

Versions 1, 2 and 3. Headers are read by :mod:`provenance.formats.gguf_parse` (bounded, every field checked; the
``gguf`` package's reader refuses v1 and trusts declared counts); ``gguf`` supplies type sizes and dequantization.
Tensor shapes in GGUF are stored in ggml order (fastest dimension first); they are reversed here into numpy order.
Quantized tensors are stored as byte rows (one row of ``n`` values takes ``n / block_size * type_size`` bytes,
``GGML_QUANT_SIZES``), so a block of rows is a plain slice of the memory map and is dequantized alone with
``gguf.quants.dequantize``.

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

from provenance.checkpoint_types import Checkpoint, TensorRef
from provenance.errors import InputError
from provenance.formats.gguf_parse import GGUFFile, GGUFTensorInfo, ggml_type, parse_gguf

SPLIT_NAME = re.compile(r"^(?P<base>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")
MAX_LISTED = 64  # arrays longer than this are summarised in metadata
HEAD_ITEMS = 8
MAX_SPLITS = 9999  # the NNNNN-of-NNNNN naming allows five digits


def _reader(path: Path) -> GGUFFile:
    """The parsed header of one GGUF file (any version); every failure is a one-line InputError naming the file."""
    return parse_gguf(path)


def _field_value(value: Any, summarize: bool = True) -> Any:
    if isinstance(value, (np.ndarray, list)):
        n = len(value)
        if summarize and n > MAX_LISTED:
            return {"type": "array", "length": n, "head": _plain(value[:HEAD_ITEMS])}
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # keep the metadata strict JSON
    return value


def read_metadata(parsed: GGUFFile) -> dict[str, Any]:
    """Key-values of one file as plain Python, long arrays summarised (plus ``GGUF.version``). The keys the tool
    computes with are type-checked (a string ``llama.embedding_length`` is bad input, not a crash later)."""
    out: dict[str, Any] = {"GGUF.version": parsed.version}
    for key, value in parsed.kv.items():
        out[key] = _field_value(value)
    _check_types(parsed.path, out)
    return out


def _check_types(path: Path, meta: dict[str, Any]) -> None:
    from provenance.companions import _FIELD_TYPES, MAX_SIZE
    from provenance.normalize.arch import GGUF_KEYS

    arch = meta.get("general.architecture")
    if arch is not None and not isinstance(arch, str):
        raise InputError(path, f"general.architecture is {str(arch)[:40]!r}, not a string")
    checks = {f"{arch}.{k}": _FIELD_TYPES.get(hf) for k, hf in GGUF_KEYS.items()} if arch else {}
    checks.update({"tokenizer.ggml.bos_token_id": "size", "tokenizer.ggml.eos_token_id": "size"})
    for key, kind in checks.items():
        value = meta.get(key)
        if value is None or kind is None:
            continue
        if isinstance(value, dict) and value.get("type") == "array":  # a long per-layer array, summarised
            value = value.get("head")
        items = value if isinstance(value, list) else [value]  # per-layer arrays (head_count_kv …)
        ok = bool(items) and all(
            not isinstance(v, bool)
            and (isinstance(v, int) and 0 <= v <= MAX_SIZE if kind == "size" else isinstance(v, (int, float)))
            for v in items
        )
        if not ok:
            raise InputError(
                path,
                f"GGUF key {key} is {str(value)[:60]!r}; expected "
                + ("a non-negative integer" if kind == "size" else "a number"),
            )


def _dequantizable(qtype) -> bool:
    """Whether gguf.quants can turn this type into float32 (probed on one zero block)."""
    import gguf

    block, type_size = gguf.GGML_QUANT_SIZES[qtype]
    try:
        gguf.quants.dequantize(np.zeros((1, type_size), np.uint8), qtype)
    except NotImplementedError:
        return False
    except Exception:  # noqa: BLE001 - a type the package lists but cannot decode is simply not supported
        return False
    return True


# GGML types stored as plain little-endian arrays, read without gguf.quants
_TYPED = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I8": "<i1", "I16": "<i2", "I32": "<i4", "I64": "<i8"}


def _tensor_reader(path: Path, t: GGUFTensorInfo, qtype, supported: bool):
    """Rows r0:r1 of one tensor, read with a positioned read (not through a long-lived memory map, whose touched
    pages would stay resident and make memory grow with every tensor read) and converted to float32."""
    import gguf

    name = qtype.name
    shape = tuple(reversed(t.dims))  # numpy order
    if name in _TYPED:
        item = np.dtype(_TYPED[name])
    else:  # quantized: the last dim becomes bytes per row
        item = np.dtype(np.uint8)
        block, type_size = gguf.GGML_QUANT_SIZES[qtype]
        shape = shape[:-1] + ((shape[-1] if shape else 1) // block * type_size,)
    row_items = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1

    def fetch(i0: int, i1: int) -> np.ndarray:
        count = (i1 - i0) * row_items
        with open(path, "rb") as fh:
            raw = np.fromfile(fh, dtype=item, count=count, offset=t.offset + i0 * row_items * item.itemsize)
        if raw.size != count:
            raise InputError(path, f"truncated GGUF file: tensor {t.name!r} data ends past the end of the file")
        return raw.reshape((i1 - i0,) + shape[1:])

    def reader(r0: int, r1: int) -> np.ndarray:
        if name in _TYPED:
            block = fetch(r0, r1)
            return block if block.dtype == np.float32 else block.astype(np.float32)
        if not supported:
            raise InputError(
                path, f"tensor {t.name!r} has GGML type {name}, which the installed gguf package cannot dequantize"
            )
        try:
            if len(shape) <= 1:  # 1-D quantized tensor: blocks do not follow rows; dequantize all, then slice
                return (
                    gguf.quants.dequantize(fetch(0, shape[0] if shape else 1).reshape(-1), qtype)
                    .reshape(-1)[r0:r1]
                    .astype(np.float32, copy=False)
                )
            return np.asarray(gguf.quants.dequantize(fetch(r0, r1), qtype), dtype=np.float32)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - the bytes are untrusted; a decoder failure is bad input
            raise InputError(
                path, f"tensor {t.name!r}: {name} data cannot be decoded ({type(exc).__name__}: {str(exc)[:100]})"
            ) from exc

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


def _int_key(parsed: GGUFFile, key: str, default: int | None, lo: int, hi: int) -> int | None:
    """An integer key-value, checked for type and range (``split.count`` as a string is bad input, not a crash)."""
    value = parsed.kv.get(key, default)
    if value is default:
        return default
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise InputError(parsed.path, f"{key} is {_plain(value)!r}, expected an integer from {lo} to {hi}")
    return int(value)


def _split_count(parsed: GGUFFile) -> int:
    return _int_key(parsed, "split.count", 1, 1, MAX_SPLITS)


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
            no = _int_key(rd, "split.no", None, 0, MAX_SPLITS)
            if no != i:
                raise InputError(f, f"split.no is {no}, expected {i}")
        for t in rd.tensors:
            if t.name in tensors:
                raise InputError(f, f"tensor {t.name!r} appears twice")
            qtype = ggml_type(f, t.type_id)
            if qtype not in support:
                support[qtype] = qtype.name in _TYPED or _dequantizable(qtype)
            shape = tuple(reversed(t.dims))
            tensors[t.name] = TensorRef(
                name=t.name, shape=shape, dtype=qtype.name, file=f, reader=_tensor_reader(f, t, qtype, support[qtype])
            )
    expected = metadata.get("split.tensors.count")
    if count > 1 and isinstance(expected, int) and expected != len(tensors):
        raise InputError(files[0], f"split.tensors.count is {expected} but the splits hold {len(tensors)} tensors")
    for qtype, ok in sorted(support.items(), key=lambda kv: kv[0].name):
        if not ok:
            n = sum(1 for t in tensors.values() if t.dtype == qtype.name)
            warnings.append(
                f"{n} tensor(s) of GGML type {qtype.name} cannot be dequantized by the installed "
                "gguf package; reading them fails"
            )
    return Checkpoint(
        path=path, format="gguf", files=files, tensors=tensors, metadata={"gguf": metadata}, warnings=warnings
    )


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
        raise InputError(
            path, f"{len(models)} GGUF models in this directory ({', '.join(sorted(models))}); open one file"
        )
    ckpt = open_gguf(next(iter(models.values())))
    ckpt.path = path
    return ckpt


def gguf_tokens(ckpt: Checkpoint) -> list[str] | None:
    """The full ``tokenizer.ggml.tokens`` list of a GGUF checkpoint (None when the file has no vocabulary)."""
    if ckpt.format != "gguf":
        return None
    tokens = _reader(ckpt.files[0]).kv.get("tokenizer.ggml.tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        return None
    return tokens
