"""llama2.c ``model.bin`` exports: legacy v0, v1 (fp32) and v2 (Q8_0 int8 with per-group scales).

Layouts follow karpathy/llama2.c ``export.py`` (``legacy_export``, ``version1_export``, ``version2_export``) and the
readers in ``run.c`` / ``runq.c``:

- v0: seven int32 values (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative
  vocab_size means the classifier is stored separately), then float32 arrays: embedding, every layer's attention
  norm, wq, wk, wv, wo, ffn norm, w1, w2, w3, final norm, freq_cis real [seq, hd/2], freq_cis imag, classifier.
- v1: a 256-byte header: magic 0x616b3432, int32 version 1, the seven ints, a shared-classifier byte, zero padding;
  then float32 arrays: attention norms, ffn norms, final norm, embedding, wq, wk, wv, wo, w1, w2, w3, classifier if
  not shared.
- v2: as v1 with version 2 and an int32 group_size after the shared byte; the norms are float32 (same order), then
  each of embedding, wq…w3 (per layer), classifier if not shared, stored as int8 values followed by one float32
  scale per group of ``group_size`` values (value = int8 · scale).

Tensors keep Meta names (``tok_embeddings.weight``, ``layers.L.attention.wq.weight`` …) and are read straight from a
memory map. The classifier is exposed as ``output.weight`` only when the file stores it.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from provenance.checkpoint_types import Checkpoint, TensorRef
from provenance.errors import InputError
from provenance.formats.llama2c_sniff import MAGIC, plausible_config

HEADER_V1 = 256
WEIGHT_NAMES = ("model.bin",)
TOKENIZER_NAME = re.compile(r"^(tokenizer|tok\d+)\.bin$")  # llama2.c's tokenizer files, never weights


def _shapes(cfg: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    dim, hidden = cfg["dim"], cfg["hidden_dim"]
    kv_dim = cfg["n_kv_heads"] * (dim // cfg["n_heads"])
    return {
        "tok_embeddings": (cfg["vocab_size"], dim),
        "attention_norm": (dim,),
        "ffn_norm": (dim,),
        "wq": (dim, dim),
        "wk": (kv_dim, dim),
        "wv": (kv_dim, dim),
        "wo": (dim, dim),
        "w1": (hidden, dim),
        "w2": (dim, hidden),
        "w3": (hidden, dim),
        "norm": (dim,),
        "output": (cfg["vocab_size"], dim),
        "freq_cis": (cfg["seq_len"], dim // cfg["n_heads"] // 2),
    }


_FULL_NAMES = {
    "attention_norm": "layers.{}.attention_norm.weight",
    "ffn_norm": "layers.{}.ffn_norm.weight",
    "wq": "layers.{}.attention.wq.weight",
    "wk": "layers.{}.attention.wk.weight",
    "wv": "layers.{}.attention.wv.weight",
    "wo": "layers.{}.attention.wo.weight",
    "w1": "layers.{}.feed_forward.w1.weight",
    "w2": "layers.{}.feed_forward.w2.weight",
    "w3": "layers.{}.feed_forward.w3.weight",
}


def _layout(cfg: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """Tensor (name, shape) pairs in file order for this version."""
    shp = _shapes(cfg)
    n = cfg["n_layers"]

    def per_layer(kind: str) -> list[tuple[str, tuple[int, ...]]]:
        return [(_FULL_NAMES[kind].format(i), shp[kind]) for i in range(n)]

    cls = [] if cfg["shared_classifier"] else [("output.weight", shp["output"])]
    if cfg["version"] == 0:
        return (
            [("tok_embeddings.weight", shp["tok_embeddings"])]
            + per_layer("attention_norm")
            + per_layer("wq")
            + per_layer("wk")
            + per_layer("wv")
            + per_layer("wo")
            + per_layer("ffn_norm")
            + per_layer("w1")
            + per_layer("w2")
            + per_layer("w3")
            + [("norm.weight", shp["norm"])]
            + [("freq_cis_real", shp["freq_cis"]), ("freq_cis_imag", shp["freq_cis"])]
            + cls
        )
    return (
        per_layer("attention_norm")
        + per_layer("ffn_norm")
        + [("norm.weight", shp["norm"])]
        + [("tok_embeddings.weight", shp["tok_embeddings"])]
        + per_layer("wq")
        + per_layer("wk")
        + per_layer("wv")
        + per_layer("wo")
        + per_layer("w1")
        + per_layer("w2")
        + per_layer("w3")
        + cls
    )


def read_config(path: Path) -> tuple[dict[str, Any], int]:
    """Parse the header; return (config, offset of the first weight)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(HEADER_V1)
    if len(head) >= 8 and struct.unpack("<I", head[:4])[0] == MAGIC:
        if len(head) < HEADER_V1:
            raise InputError(path, f"truncated llama2.c file: {size} bytes, shorter than the 256-byte header")
        (version,) = struct.unpack("<i", head[4:8])
        if version not in (1, 2):
            raise InputError(path, f"llama2.c file version {version} is not supported (known: 0, 1, 2)")
        ints = struct.unpack("<7i", head[8:36])
        shared = bool(head[36])
        group_size = struct.unpack("<i", head[37:41])[0] if version == 2 else None
        offset = HEADER_V1
    else:
        if len(head) < 28:
            raise InputError(path, f"truncated llama2.c file: {size} bytes, shorter than the 28-byte header")
        version, group_size, offset = 0, None, 28
        ints = struct.unpack("<7i", head[:28])
        shared = ints[5] > 0
    dim, hidden, layers, heads, kv_heads, vocab, seq = ints
    if not plausible_config(dim, hidden, layers, heads, kv_heads, vocab, seq):
        raise InputError(
            path,
            f"llama2.c header has implausible values {list(ints)} "
            "(dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len)",
        )
    cfg = {
        "version": version,
        "dim": dim,
        "hidden_dim": hidden,
        "n_layers": layers,
        "n_heads": heads,
        "n_kv_heads": kv_heads,
        "vocab_size": abs(vocab),
        "seq_len": seq,
        "shared_classifier": shared,
    }
    if version == 2:
        if group_size is None or group_size <= 0:
            raise InputError(path, f"llama2.c v2 header has group_size {group_size}")
        cfg["group_size"] = group_size
    return cfg, offset


def _f32_reader(path: Path, offset: int, shape: tuple[int, ...]):
    row = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1

    def reader(r0: int, r1: int) -> np.ndarray:
        mm = np.memmap(path, dtype=np.uint8, mode="r")
        a, b = offset + 4 * r0 * row, offset + 4 * r1 * row
        return np.array(mm[a:b].view("<f4"), dtype=np.float32)

    return reader


def _q80_reader(path: Path, offset: int, shape: tuple[int, ...], gs: int):
    numel = int(np.prod(shape, dtype=np.int64))
    row = numel // shape[0]
    scales_at = offset + numel  # int8 values first, then float32 scales

    def reader(r0: int, r1: int) -> np.ndarray:
        mm = np.memmap(path, dtype=np.uint8, mode="r")
        e0, e1 = r0 * row, r1 * row
        g0, g1 = e0 // gs, -(-e1 // gs)
        q = mm[offset + g0 * gs : offset + g1 * gs].view(np.int8).astype(np.float32).reshape(-1, gs)
        s = mm[scales_at + 4 * g0 : scales_at + 4 * g1].view("<f4").astype(np.float32)
        vals = (q * s[:, None]).reshape(-1)
        return vals[e0 - g0 * gs : e1 - g0 * gs]

    return reader


def open_path(path: Path) -> Checkpoint:
    """A llama2.c ``model.bin`` file, or a directory holding one."""
    if path.is_dir():
        found = [path / n for n in WEIGHT_NAMES if (path / n).is_file()]
        if not found:  # any .bin whose header is a llama2.c header (tokenizer.bin / tok<N>.bin are not)
            from provenance.formats import sniff_file

            found = [
                p
                for p in sorted(path.iterdir())
                if p.is_file()
                and p.suffix == ".bin"
                and not TOKENIZER_NAME.match(p.name)
                and sniff_file(p) == "llama2c"
            ]
        if not found:
            raise InputError(path, "no llama2.c model.bin in this directory")
        ckpt = open_path(found[0])
        ckpt.path = path
        return ckpt
    cfg, offset = read_config(path)
    size = path.stat().st_size
    tensors: dict[str, TensorRef] = {}
    pos = offset
    gs = cfg.get("group_size")
    for name, shape in _layout(cfg):
        numel = int(np.prod(shape, dtype=np.int64))
        quantized = gs is not None and len(shape) == 2
        if quantized:
            if numel % gs:
                raise InputError(path, f"llama2.c v2: {name} has {numel} values, not a multiple of group_size {gs}")
            reader, nbytes, dtype = _q80_reader(path, pos, shape, gs), numel + 4 * (numel // gs), "Q8_0"
        else:
            reader, nbytes, dtype = _f32_reader(path, pos, shape), 4 * numel, "F32"
        tensors[name] = TensorRef(name=name, shape=shape, dtype=dtype, file=path, reader=reader)
        pos += nbytes
    if pos != size:
        what = "truncated llama2.c file" if pos > size else "llama2.c file has trailing bytes"
        raise InputError(
            path,
            f"{what}: header (v{cfg['version']}, dim {cfg['dim']}, {cfg['n_layers']} layers, "
            f"vocab {cfg['vocab_size']}) implies {pos} bytes, the file has {size}",
        )
    return Checkpoint(path=path, format="llama2c", files=[path], tensors=tensors, metadata={"llama2c": cfg})
