"""Storage dtypes and their conversion to float32.

Names follow the safetensors header spelling (``F32``, ``BF16``, ``F8_E4M3`` …); other formats map their own
names onto these where one exists (GGUF quantized types keep their ggml names, e.g. ``Q4_K``).
"""

from __future__ import annotations

import numpy as np

# safetensors dtype name -> (numpy storage dtype, bytes per element).
# Source: safetensors `Dtype` enum (huggingface/safetensors, safetensors/src/tensor.rs).
STORAGE = {
    "F64": (np.dtype("<f8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),  # raw bits; widened by shifting into the high half of a float32
    "F8_E4M3": (np.dtype("u1"), 1),
    "F8_E5M2": (np.dtype("u1"), 1),
    "I64": (np.dtype("<i8"), 8),
    "I32": (np.dtype("<i4"), 4),
    "I16": (np.dtype("<i2"), 2),
    "I8": (np.dtype("i1"), 1),
    "U64": (np.dtype("<u8"), 8),
    "U32": (np.dtype("<u4"), 4),
    "U16": (np.dtype("<u2"), 2),
    "U8": (np.dtype("u1"), 1),
    "BOOL": (np.dtype("?"), 1),
}

FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}


def bf16_bits_to_f32(bits: np.ndarray) -> np.ndarray:
    """Widen raw bfloat16 bits (uint16) to float32 exactly: bf16 is the high half of an IEEE float32."""
    out = bits.astype(np.uint32)
    out <<= 16  # in place: one float32-sized buffer, not two
    return out.view(np.float32)


def _fp8_to_f32(raw: np.ndarray, kind: str) -> np.ndarray:
    import ml_dtypes  # small, pure-numpy dtype package; only needed for fp8 checkpoints

    dt = ml_dtypes.float8_e4m3fn if kind == "F8_E4M3" else ml_dtypes.float8_e5m2
    return raw.view(dt).astype(np.float32)


def to_float32(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Convert an array of raw storage values of safetensors dtype ``dtype`` to a new float32 array."""
    if dtype == "BF16":
        return bf16_bits_to_f32(np.ascontiguousarray(raw))
    if dtype in ("F8_E4M3", "F8_E5M2"):
        return _fp8_to_f32(np.ascontiguousarray(raw), dtype)
    return np.asarray(raw, dtype=np.float32).copy() if raw.dtype == np.float32 else raw.astype(np.float32)


_TORCH_NAMES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "uint16": "U16",
    "uint32": "U32",
    "uint64": "U64",
    "bool": "BOOL",
}


def from_torch_dtype(dtype) -> str:
    """Map a ``torch.dtype`` to the safetensors spelling used throughout the tool."""
    name = str(dtype).removeprefix("torch.")
    return _TORCH_NAMES.get(name, name.upper())
