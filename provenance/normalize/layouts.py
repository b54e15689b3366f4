"""Layout transforms, applied lazily: each returns a new TensorRef whose reader computes the canonical rows.

Everything here is a row gather (rotary permutation, fused splits), a transpose (Conv1D), or an elementwise fix
(norm offsets, row normalisation). A gather reads only the span of source rows it needs, so memory stays bounded
by one source tensor. Sources for each layout are cited at the function.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from provenance.checkpoint_types import TensorRef


def derived(src: TensorRef, name: str, shape: tuple[int, ...], reader) -> TensorRef:
    return TensorRef(name=name, shape=tuple(shape), dtype=src.dtype, file=src.file, reader=reader)


def renamed(src: TensorRef, name: str) -> TensorRef:
    return TensorRef(name=name, shape=src.shape, dtype=src.dtype, file=src.file, reader=src.reader)


def gather_rows(src: TensorRef, name: str, index: np.ndarray) -> TensorRef:
    """Rows ``src[index]``; a read of rows a:b touches only source rows min(index[a:b])..max(index[a:b])."""
    index = np.asarray(index, dtype=np.int64)
    inner = tuple(src.shape[1:])

    def reader(r0: int, r1: int) -> np.ndarray:
        idx = index[r0:r1]
        if idx.size == 0:
            return np.zeros((0,) + inner, dtype=np.float32)
        lo, hi = int(idx.min()), int(idx.max()) + 1
        if hi - lo == idx.size and np.all(np.diff(idx) == 1):
            return src.read_rows(lo, hi)
        return src.read_rows(lo, hi)[idx - lo]

    return derived(src, name, (len(index),) + inner, reader)


def meta_to_hf_index(rows: int, n_heads: int) -> np.ndarray:
    """Source-row index that turns Meta (interleaved) rotary order into HF (half-split) order.

    transformers ``convert_llama_weights_to_hf.py``: ``permute(w) = w.view(n_heads, d/n_heads/2, 2, d_in)
    .transpose(1, 2)``; per head, HF row j is Meta row 2j for j < hd/2 and 2(j - hd/2) + 1 otherwise.
    """
    hd = rows // n_heads
    idx = np.arange(rows).reshape(n_heads, hd // 2, 2).transpose(0, 2, 1)
    return idx.reshape(rows)


def hf_to_meta_index(rows: int, n_heads: int) -> np.ndarray:
    """The inverse: llama.cpp ``LlamaModel.permute`` (HF → Meta/GGUF order)."""
    hd = rows // n_heads
    idx = np.arange(rows).reshape(n_heads, 2, hd // 2).transpose(0, 2, 1)
    return idx.reshape(rows)


def unpermute_rotary(src: TensorRef, name: str, n_heads: int) -> TensorRef:
    """Meta/GGUF-llama/llama2.c Q or K rows (or 1-D bias) → HF rotary order."""
    return gather_rows(src, name, meta_to_hf_index(src.shape[0], n_heads))


def qkv_indices(layout: str, n_heads: int, n_kv: int, head_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of Q, K and V inside a fused QKV tensor.

    - ``contiguous``: [Q; K; V] (Phi-3 qkv_proj, Qwen-1 c_attn, Baichuan W_pack, ChatGLM query_key_value, GPT-2
      c_attn after transposing, GGUF attn_qkv).
    - ``grouped``: view(n_kv, n_heads/n_kv + 2, head_dim): per KV group its query heads, then K, then V
      (InternLM2 wqkv, Megatron linear_qkv, Falcon new decoder architecture; Falcon-7B multi-query is n_kv = 1).
    - ``neox``: view(n_heads, 3, head_dim): per head q, k, v (GPT-NeoX; Falcon-RW). Requires n_kv == n_heads.
    """
    q_rows, kv_rows = n_heads * head_dim, n_kv * head_dim
    if layout == "contiguous":
        base = np.arange(q_rows + 2 * kv_rows)
        return base[:q_rows], base[q_rows : q_rows + kv_rows], base[q_rows + kv_rows :]
    if layout == "grouped":
        group = n_heads // n_kv
        idx = np.arange(q_rows + 2 * kv_rows).reshape(n_kv, group + 2, head_dim)
        return idx[:, :group].reshape(-1), idx[:, group].reshape(-1), idx[:, group + 1].reshape(-1)
    if layout == "neox":
        idx = np.arange(3 * q_rows).reshape(n_heads, 3, head_dim)
        return idx[:, 0].reshape(-1), idx[:, 1].reshape(-1), idx[:, 2].reshape(-1)
    raise ValueError(f"unknown fused QKV layout {layout!r}")


def split_rows(src: TensorRef, names: tuple[str, ...], indices: tuple[np.ndarray, ...]) -> list[TensorRef]:
    return [gather_rows(src, n, i) for n, i in zip(names, indices)]


def transposed(src: TensorRef, name: str) -> TensorRef:
    """A 2-D tensor stored [in, out] (GPT-2 Conv1D) as [out, in]. Reads the source whole: it is one tensor."""
    rows, cols = src.shape
    cache: list[np.ndarray] = []

    def reader(r0: int, r1: int) -> np.ndarray:
        if not cache:
            cache.append(np.ascontiguousarray(src.read().T))
        out = cache[0][r0:r1]
        if r0 == 0 and r1 >= cols:
            cache.clear()  # a full read (the usual case when writing) need not keep the copy
        return out

    return derived(src, name, (cols, rows), reader)


def elementwise(src: TensorRef, name: str, fn: Callable[[np.ndarray], np.ndarray]) -> TensorRef:
    def reader(r0: int, r1: int) -> np.ndarray:
        return fn(src.read_rows(r0, r1) if src.shape else src.read())

    return derived(src, name, src.shape, reader)


def plus_one(src: TensorRef, name: str) -> TensorRef:
    """Gemma stores w and computes x * (1 + w) (transformers ``GemmaRMSNorm``); canonical stores the gain 1 + w."""
    return elementwise(src, name, lambda x: x + np.float32(1.0))


def l2_normalized_rows(src: TensorRef, name: str) -> TensorRef:
    """Baichuan2 ``NormHead`` normalises lm_head rows at run time; canonical stores them normalised."""

    def fn(x: np.ndarray) -> np.ndarray:
        n = np.linalg.norm(x, axis=-1, keepdims=True)
        return x / np.maximum(n, np.float32(1e-12))

    return elementwise(src, name, fn)


def scaled(src: TensorRef, name: str, factor: float) -> TensorRef:
    return elementwise(src, name, lambda x: x * np.float32(factor))


def zeros(name: str, shape: tuple[int, ...], like: TensorRef) -> TensorRef:
    inner = tuple(shape[1:])

    def reader(r0: int, r1: int) -> np.ndarray:
        return np.zeros((r1 - r0,) + inner, dtype=np.float32)

    return derived(like, name, shape, reader)


def rotary_pair_score(w: np.ndarray, n_heads: int) -> tuple[float, float]:
    """How strongly rows pair up under each rotary convention: (HF score, Meta score); lower = stronger pairing.

    RoPE rotates pairs of Q/K rows together, so in a trained model the two rows of a pair carry similar energy:
    rows (j, j + hd/2) of each head in HF order, rows (2j, 2j+1) in Meta order. The score is the mean absolute
    log-ratio of the row norms within pairs. In a freshly initialised model neither convention pairs better.
    """
    rows = w.shape[0]
    hd = rows // n_heads
    norms = np.log(np.linalg.norm(w.reshape(rows, -1), axis=1) + 1e-12).reshape(n_heads, hd)
    hf = np.abs(norms[:, : hd // 2] - norms[:, hd // 2 :]).mean()
    meta = np.abs(norms[:, 0::2] - norms[:, 1::2]).mean()
    return float(hf), float(meta)


# Expert slabs of stacked mixture-of-experts tensors, least recently used first: a reader returns rows of one
# expert, and a source reads whole experts, so the last few slabs are kept (bounded, shared by all tensors).
_SLABS: OrderedDict = OrderedDict()
_SLABS_KEPT = 3
_SLABS_LOCK = threading.Lock()


def expert_slice(src: TensorRef, name: str, expert: int) -> TensorRef:
    """Expert ``expert`` of a stacked ``[experts, rows, columns]`` tensor (llama.cpp ``ffn_*_exps``) as a 2-D
    tensor; the slab is read once per expert while its row blocks are consumed."""
    inner = tuple(src.shape[1:])
    key = (id(src), src.file, src.name, expert)

    def reader(r0: int, r1: int) -> np.ndarray:
        with _SLABS_LOCK:
            slab = _SLABS.get(key)
            if slab is not None:
                _SLABS.move_to_end(key)
        if slab is None:
            slab = np.asarray(src.read_rows(expert, expert + 1), dtype=np.float32).reshape(inner)
            with _SLABS_LOCK:
                _SLABS[key] = slab
                while len(_SLABS) > _SLABS_KEPT:
                    _SLABS.popitem(last=False)
        return slab[r0:r1]

    return derived(src, name, inner, reader)
