"""torch pickles: ``pytorch_model.bin`` (single or sharded with ``pytorch_model.bin.index.json``), ``.pt``, ``.pth``
and llama2.c training checkpoints (``ckpt.pt`` = ``{"model": state_dict, "model_args": …}``).

Safety: every file goes through ``torch.load(weights_only=True)``, whose unpickler accepts only tensors, storages
and plain containers (torch docs, "torch.load" / "weights_only"). A pickle that asks for anything else — an
``os.system`` hidden in ``__reduce__``, a custom class, an argparse Namespace — is refused with an InputError and
nothing in it runs. Zip-format files (everything torch has written since 1.6) are memory-mapped (``mmap=True``) so
only the rows that are read are paged in; legacy raw pickles cannot be mapped and are read into memory.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from provenance.checkpoint_types import Checkpoint, TensorRef
from provenance.dtypes import from_torch_dtype
from provenance.errors import InputError, require_torch

INDEX_NAME = "pytorch_model.bin.index.json"
WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
# Files that trainers put beside the weights; they are not part of the model.
NOT_WEIGHTS = re.compile(r"^(training_args|optimizer|scheduler|scaler|rng_state.*|trainer_state)\.(bin|pt|pth)$")
# Keys under which training scripts nest the state dict (nanoGPT/llama2.c "model", Lightning "state_dict",
# DeepSpeed "module").
STATE_DICT_KEYS = ("model", "state_dict", "module", "model_state_dict")
COMPILE_PREFIX = "_orig_mod."  # inserted by torch.compile into every parameter name
MAX_LISTED = 64  # containers longer than this are summarised in metadata
MAX_ZIP_MEMBERS = 1_000_000  # one member per storage; a 70B model has a few thousand


def is_torch_file(head: bytes) -> bool:
    """Zip archive (torch >= 1.6) or a raw pickle (protocol 2+ starts with 0x80)."""
    return head[:4] == b"PK\x03\x04" or head[:1] == b"\x80"


def _refusal(exc: Exception) -> str:
    """The one informative line of torch's weights-only refusal message."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("Trying to", "Unsupported", "Could not find")) or "GLOBAL" in ln:
            return ln.rstrip(".")
    for i, ln in enumerate(lines):
        if ln.startswith("WeightsUnpickler error") and i + 1 < len(lines):
            return lines[i + 1].rstrip(".")
    return lines[-1] if lines else type(exc).__name__


def load_pickle(path: Path) -> Any:
    """``torch.load`` with the weights-only unpickler, memory-mapped when the file is a zip archive.

    Every failure becomes an InputError naming the file; a refused pickle is never executed.
    """
    import pickle

    torch = require_torch(f"reading the pickled checkpoint {path.name}")

    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    mmap = head == b"PK\x03\x04"
    if mmap:
        _check_zip(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, weights_only=True, mmap=mmap, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise InputError(
            path,
            f"refused to unpickle: {_refusal(exc)} (only tensors and plain containers are "
            "allowed; nothing from the file was executed)",
        ) from exc
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    except MemoryError as exc:
        raise InputError(path, "corrupt torch file: it declares more data than can be held in memory") from exc
    except RecursionError as exc:
        raise InputError(path, "corrupt torch file: containers nested too deeply") from exc
    except Exception as exc:  # noqa: BLE001 - the unpickler and zip reader parse untrusted bytes (struct.error,
        # AttributeError, UnicodeDecodeError …): any failure is bad input, never a crash
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, f"truncated or corrupt torch file ({type(exc).__name__}: {first[:160]})") from exc


def _check_zip(path: Path) -> None:
    """torch zip checkpoints end with a zip central directory; a cut-off file has none (or one past the end)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            size = path.stat().st_size
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise InputError(path, f"torch archive has {len(infos)} members (limit {MAX_ZIP_MEMBERS})")
            for info in infos:
                if info.header_offset + info.compress_size > size:
                    raise InputError(path, f"truncated torch file: member {info.filename!r} ends past the file end")
                if info.compress_type != zipfile.ZIP_STORED:
                    raise InputError(
                        path,
                        f"torch archive member {info.filename!r} is compressed; torch.save stores members uncompressed",
                    )
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile parses untrusted bytes (BadZipFile, struct.error,
        # NotImplementedError for an unknown "version needed" …): any failure is bad input
        raise InputError(
            path, f"truncated or corrupt torch file (zip archive unreadable: {type(exc).__name__}: {str(exc)[:120]})"
        ) from exc


_MADV_PAGEOUT = 21  # Linux >= 5.4: reclaim these pages; data stay intact (file pages are re-read on access)


def _release(part) -> None:
    """Let the kernel take back the memory-mapped pages just read, so resident memory does not grow with every
    tensor read (a torch mmap keeps every touched page mapped for as long as the checkpoint is open). Only whole
    pages inside the block are advised; on other systems, or if the kernel refuses, this does nothing."""
    import mmap
    import sys

    if not sys.platform.startswith("linux") or not part.is_contiguous():
        return
    libc = _libc()
    if libc is None:
        return
    start = part.data_ptr()
    end = start + part.numel() * part.element_size()
    page = mmap.PAGESIZE
    lo, hi = -(-start // page) * page, end // page * page
    if hi > lo:
        libc.madvise(lo, hi - lo, _MADV_PAGEOUT)


_LIBC: list = []


def _libc():
    if not _LIBC:
        try:
            import ctypes

            lib = ctypes.CDLL(None, use_errno=True)
            lib.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            _LIBC.append(lib)
        except (OSError, AttributeError):
            _LIBC.append(None)
    return _LIBC[0]


def tensor_reader(t):
    """A RowReader over a (memory-mapped) torch tensor: converts only the requested rows to float32."""
    import torch

    t = t.detach()  # a saved nn.Parameter (or a pickle flag) may ask for gradients; reading never needs them

    def reader(r0: int, r1: int) -> np.ndarray:
        part = t.reshape(1) if t.dim() == 0 else t[r0:r1]
        if part.is_complex():
            raise InputError(None, "complex tensors are not supported")
        out = part.to(dtype=torch.float32, copy=True).contiguous().numpy()
        _release(part)
        return out

    return reader


def _INTEGER_DTYPES() -> set:  # noqa: N802 - a constant that needs torch imported lazily
    import torch

    names = ("bool", "int8", "uint8", "int16", "int32", "int64", "uint16", "uint32", "uint64")
    return {getattr(torch, n) for n in names if hasattr(torch, n)}


def check_tensor(name: str, t, path: Path) -> None:
    """Refuse tensors that are not plain dense real arrays (sparse, quantized, nested, complex, meta)."""
    import torch

    kind = None
    if t.is_nested:
        kind = "a nested tensor"
    elif t.layout != torch.strided:
        kind = f"a {str(t.layout).removeprefix('torch.')} (sparse) tensor"
    elif t.is_quantized:
        kind = "a quantized torch tensor"
    elif t.is_complex():
        kind = "a complex tensor"
    elif t.is_meta or t.device.type != "cpu":
        kind = f"a tensor on device {t.device}"
    elif not (t.is_floating_point() or t.dtype in _INTEGER_DTYPES()):
        kind = f"a tensor of dtype {t.dtype}"
    if kind:
        raise InputError(path, f"tensor {name!r} is {kind}; only dense real tensors are supported")


def tensor_ref(name: str, t, path: Path) -> TensorRef:
    check_tensor(name, t, path)
    return TensorRef(
        name=name,
        shape=tuple(int(d) for d in t.shape),
        dtype=from_torch_dtype(t.dtype),
        file=path,
        reader=tensor_reader(t),
    )


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON-serialisable summary of a non-tensor value found in a pickle (tensors become shape/dtype records)."""
    import torch

    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, torch.Tensor):
        out: dict[str, Any] = {"type": "tensor", "shape": list(value.shape), "dtype": from_torch_dtype(value.dtype)}
        if value.numel() == 1 and not value.is_complex():
            out["value"] = plain(value.item())
        return out
    if isinstance(value, torch.Size):
        return list(value)
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if isinstance(value, Mapping):
        if depth >= 4 or len(value) > MAX_LISTED:
            return {"type": "dict", "length": len(value)}
        return {_text(str(k)): plain(v, depth + 1) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple, set)):
        items = sorted(value, key=str) if isinstance(value, set) else list(value)
        if depth >= 4 or len(items) > MAX_LISTED:
            return {"type": type(value).__name__, "length": len(items), "head": [plain(v, 5) for v in items[:8]]}
        return [plain(v, depth + 1) for v in items]
    text = _text(repr(value))
    return text if len(text) <= 200 else text[:197] + "..."


def _text(s: str) -> str:
    """A pickle can hold strings with lone surrogates, which no UTF-8 report can carry: replace them."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", errors="replace").decode("utf-8")


def _has_tensors(obj: Mapping) -> int:
    import torch

    return sum(isinstance(v, torch.Tensor) for v in obj.values())


def find_state_dict(obj: Any, path: Path) -> tuple[Mapping, str | None]:
    """The mapping holding the weights, and the key it was found under (None: the top level)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return {path.stem: obj}, None
    if not isinstance(obj, Mapping):
        raise InputError(path, f"torch file holds a {type(obj).__name__}, not a state dict")
    for key in STATE_DICT_KEYS:
        sub = obj.get(key)
        if isinstance(sub, Mapping) and _has_tensors(sub) and _has_tensors(sub) >= _has_tensors(obj):
            inner, where = find_state_dict(sub, path)
            return inner, key if where is None else f"{key}.{where}"
    if _has_tensors(obj):
        return obj, None
    # Nested one level deeper under an unusual key, e.g. {"weights": {"model": {...}}}.
    for key, sub in obj.items():
        if isinstance(sub, Mapping) and any(isinstance(v, Mapping) and _has_tensors(v) for v in sub.values()):
            inner, where = find_state_dict(sub, path)
            return inner, f"{key}.{where}" if where else str(key)
    raise InputError(
        path,
        "no tensors found in this torch file (looked at the top level and under "
        + ", ".join(repr(k) for k in STATE_DICT_KEYS)
        + ")",
    )


def read_torch_file(path: Path) -> tuple[dict[str, TensorRef], dict[str, Any]]:
    """Tensors (file order, ``_orig_mod.`` removed) and a JSON-able description of everything else in the pickle."""
    torch = require_torch(f"reading the pickled checkpoint {path.name}")

    obj = load_pickle(path)
    sd, where = find_state_dict(obj, path)
    tensors: dict[str, TensorRef] = {}
    extra: dict[str, Any] = {}
    stripped = 0

    def walk(mapping: Mapping, prefix: str) -> None:
        nonlocal stripped
        for key, value in mapping.items():
            name = prefix + str(key)
            if isinstance(value, torch.Tensor):
                if _text(name) != name:
                    raise InputError(
                        path,
                        f"tensor name {_text(name)[:60]!r} holds a lone surrogate, which is not valid Unicode text",
                    )
                if COMPILE_PREFIX in name:
                    name = name.replace(COMPILE_PREFIX, "")
                    stripped += 1
                if name in tensors:
                    raise InputError(path, f"tensor {name!r} appears twice (once with the {COMPILE_PREFIX!r} prefix)")
                tensors[name] = tensor_ref(name, value, path)
            elif isinstance(value, Mapping) and _has_tensors(value):
                walk(value, name + ".")
            else:
                extra[_text(name)] = plain(value, 1)

    walk(sd, "")
    meta: dict[str, Any] = {}
    if where is not None:
        meta["state_dict_key"] = _text(where)
        top = where.split(".")[0]
        for key, value in sorted(obj.items(), key=lambda kv: str(kv[0])):
            if key != top:
                meta[_text(str(key))] = plain(value, 1)
    if extra:
        meta["non_tensor_entries"] = extra
    if stripped:
        meta["stripped_prefix"] = {"prefix": COMPILE_PREFIX, "count": stripped}
    return tensors, meta


def open_torch_file(path: Path) -> Checkpoint:
    tensors, meta = read_torch_file(path)
    return Checkpoint(
        path=path, format="torch", files=[path], tensors=tensors, metadata={"torch": meta} if meta else {}
    )


def open_sharded(index: Path) -> Checkpoint:
    """Shards listed by ``pytorch_model.bin.index.json``; index and shards must agree exactly."""
    from provenance.formats.sharded import read_shards

    sh = read_shards(index, read_torch_file)
    metadata: dict[str, Any] = {"index": plain(sh.index.get("metadata", {}))}
    if sh.shard_meta:
        metadata["torch"] = {"shards": sh.shard_meta}
    return Checkpoint(path=index.parent, format="torch", files=sh.files, tensors=sh.tensors, metadata=metadata)


def weight_files(directory: Path) -> list[Path]:
    """Torch weight files in a directory, leaving out trainer state (optimizer.pt, training_args.bin …)."""
    out = []
    for p in sorted(directory.iterdir()):
        if not p.is_file() or not p.name.endswith(WEIGHT_SUFFIXES) or NOT_WEIGHTS.match(p.name):
            continue
        try:
            with open(p, "rb") as fh:
                head = fh.read(4)
        except PermissionError as exc:
            raise InputError(p, "permission denied") from exc
        if is_torch_file(head):
            out.append(p)
    return out


def open_path(path: Path) -> Checkpoint:
    """A torch file, or a directory: its index if present, else ``pytorch_model.bin``, else its torch files."""
    if path.is_file():
        return open_torch_file(path)
    if (path / INDEX_NAME).is_file():
        return open_sharded(path / INDEX_NAME)
    files = weight_files(path)
    if (path / "pytorch_model.bin").is_file():
        files = [path / "pytorch_model.bin"]
    if not files:
        raise InputError(path, "no torch weight files in this directory")
    if len(files) == 1:
        ckpt = open_torch_file(files[0])
        ckpt.path = path
        return ckpt
    tensors: dict[str, TensorRef] = {}
    for f in files:
        refs, _ = read_torch_file(f)
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
        format="torch",
        files=files,
        tensors=tensors,
        warnings=[f"{len(files)} torch files without an index; read them as one checkpoint"],
    )
