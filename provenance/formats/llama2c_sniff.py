"""Content sniffing for llama2.c ``model.bin`` exports (kept apart so detection needs no format import).

v1+ files start with the magic 0x616b3432 ("ak42" as a little-endian int32); legacy v0 files have no magic, only
seven int32 config values, so v0 is recognised by checking that the file size equals the size those values imply
(karpathy/llama2.c ``export.py`` ``legacy_export`` / ``version1_export``).

A header whose seven values are plausible but whose file is the wrong size is also claimed, so that the reader
can report the truncation instead of "unrecognised file".
"""

from __future__ import annotations

import struct

MAGIC = 0x616B3432

# Generous upper bounds for a plausible header (far above any published llama2.c model).
_LIMITS = {"dim": 1 << 16, "hidden": 1 << 20, "layers": 1 << 10, "heads": 1 << 10, "vocab": 1 << 22, "seq": 1 << 22}


def plausible_config(dim: int, hidden: int, layers: int, heads: int, kv_heads: int, vocab: int, seq: int) -> bool:
    """True when the seven header values could describe a llama2.c model."""
    if min(dim, hidden, layers, heads, kv_heads, seq) <= 0 or vocab == 0:
        return False
    if dim % heads or heads % kv_heads or (dim // heads) % 2:
        return False
    return (
        dim <= _LIMITS["dim"]
        and hidden <= _LIMITS["hidden"]
        and layers <= _LIMITS["layers"]
        and heads <= _LIMITS["heads"]
        and abs(vocab) <= _LIMITS["vocab"]
        and seq <= _LIMITS["seq"]
    )


def v0_float_count(dim: int, hidden: int, layers: int, heads: int, kv_heads: int, vocab: int, seq: int) -> int:
    """Number of float32 values after the 28-byte v0 header (negative vocab: a separate classifier follows)."""
    hd = dim // heads
    kv_dim = kv_heads * hd
    v = abs(vocab)
    floats = (
        v * dim  # token embedding
        + layers * dim * 2  # attention and ffn norms
        + layers * dim * dim * 2  # wq, wo
        + layers * dim * kv_dim * 2  # wk, wv
        + layers * hidden * dim * 3  # w1, w2, w3
        + dim  # final norm
        + seq * hd
    )  # freq_cis real and imag, each [seq, hd/2]
    if vocab < 0:
        floats += v * dim
    return floats


def v0_expected_size(dim: int, hidden: int, layers: int, heads: int, kv_heads: int, vocab: int, seq: int) -> int | None:
    if not plausible_config(dim, hidden, layers, heads, kv_heads, vocab, seq):
        return None
    return 28 + 4 * v0_float_count(dim, hidden, layers, heads, kv_heads, vocab, seq)


def looks_like_llama2c(head: bytes, file_size: int) -> bool:
    if len(head) < 28:
        return False
    if struct.unpack("<I", head[:4])[0] == MAGIC:
        return True
    values = struct.unpack("<7i", head[:28])
    # Exact size match, or a plausible header on a file of the wrong size (let the reader say what is wrong).
    return v0_expected_size(*values) is not None
