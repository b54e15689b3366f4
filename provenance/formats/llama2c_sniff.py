"""Content sniffing for llama2.c ``model.bin`` exports (kept apart so detection needs no format import).

v1+ files start with the magic 0x616b3432 ("ak42" as a little-endian int32); legacy v0 files have no magic, only
seven int32 config values, so v0 is recognised by checking that the file size equals the size those values imply
(karpathy/llama2.c ``export.py`` ``legacy_export`` / ``version1_export``).
"""

from __future__ import annotations

import struct

MAGIC = 0x616B3432


def v0_expected_size(dim: int, hidden: int, layers: int, heads: int, kv_heads: int, vocab: int, seq: int) -> int | None:
    if min(dim, hidden, layers, heads, kv_heads, seq) <= 0 or vocab == 0 or dim % heads or heads % kv_heads:
        return None
    hd = dim // heads
    v = abs(vocab)
    floats = (v * dim + layers * dim * 2 + layers * dim * dim * 2 + layers * dim * kv_heads * hd * 2
              + layers * hidden * dim * 3 + dim + seq * hd)  # embed, norms, wq/wo, wk/wv, w1/w2/w3, final, freq_cis
    if vocab < 0:
        floats += v * dim  # separate classifier
    return 28 + 4 * floats


def looks_like_llama2c(head: bytes, file_size: int) -> bool:
    if len(head) < 28:
        return False
    if struct.unpack("<I", head[:4])[0] == MAGIC:
        return True
    values = struct.unpack("<7i", head[:28])
    return v0_expected_size(*values) == file_size
