"""The stored fingerprint: token-space Gram invariants, gain profiles, per-tensor hashes, architecture.

Computed in one streaming pass (each tensor read once, in row blocks of a few MB, two tensors at a time on two
threads, so memory does not grow with the model) and compared without either checkpoint (fingerprinting.md,
section C):

- anchor tokens T_a (``ANCHORS`` of them, chosen by min-hash of the token string, or of the token index when no
  tokenizer is known) give X = E[T_a] and Z = Ū[T_a] (lm_head rows with the final gain folded in). Both are centred
  and row-normalised, which keeps them invariant to any orthogonal transform of the residual stream while removing
  the token-frequency norm that independently trained models share.
- input side, for M in q, k, v, gate, up: P_M = X·W̄_Mᵀ, Gram P_M P_Mᵀ; output side, for M in o, down: P_M = Z·W_M;
  attention circuits: qk = Σ_heads P_q,h P_k,hᵀ (GQA expanded by repeat-interleave) and ov = Σ_heads P_v,h P_o,hᵀ.
  All are invariant to residual rotations/permutations, gain rescaling, MLP-neuron permutation and head permutation.
- each K×K Gram is divided by its RMS and stored as the float16 upper triangle; for a 7B model (32 layers,
  9 invariants, K = 32) that is 32·9·528·2 B ≈ 0.3 MB of Grams (4.8 MB with ``anchors=128``).

File format: a safetensors file (deterministic bytes; readable without torch) whose metadata key
``provenance-fingerprint`` holds the JSON description and whose tensors hold the arrays.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fingerprints.canon import EMBED, FINAL_NORM, LM_HEAD, ModelView, as_array, expand_kv, shape_of, widen_bf16
from fingerprints.hashing import HASH_NAME, StreamingHash

FORMAT = "provenance-fingerprint"
# Version 2 (streaming computation): the o/down projections accumulate over row blocks, so the bytes differ slightly
# from version 1 for the same weights. Version 3 (speed): 32 anchors instead of 128 (the anchors are a min-hash
# prefix, so the 32 are the first 32 of the 128 and old and new files share them), BLAKE3 content hashes (recorded
# in ``content_hash``; SHA-1 before) and one sum of squares per block in the layout signatures. Older files are
# still read and compared; their hashes are not compared with version-3 hashes.
# Version 4 (issue 10): tensor hashes carry min, max, sum of squares and a distinct-value count (copy evidence);
# a fingerprint whose anchors were chosen by token string also holds Grams on the index-chosen anchors
# (``index_anchors``, array ``grams_index``), so it compares with a side that has no vocabulary strings.
VERSION = 4
# Anchor tokens: the projection through them is most of the fingerprint's arithmetic (2·K FLOP per weight), so K sets
# the speed. 32 gives 496 anchor pairs per Gram, enough that derived scores move by under 0.03 from K = 128 on the
# toy zoo (the null is calibrated at this K); ``compute_fingerprint(anchors=...)`` and ``--anchors`` take more.
ANCHORS = 32
MIN_ANCHORS = 32  # fewer would leave the calibrated null (measured at 32) optimistic
# Anchor indices without a tokenizer are drawn from the first INDEX_ANCHOR_RANGE ids, so every vocabulary at least
# this large (and any extension of one) uses the same anchors.
INDEX_ANCHOR_RANGE = 32000
INVARIANTS = ("q", "k", "v", "gate", "up", "o", "down", "qk", "ov")
ARCH_KEYS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "vocab_size",
    "tie_word_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "hidden_act",
    "model_type",
)

Progress = Callable[[int, int], None]


class NonFiniteTensor(ValueError):
    """A weight holds NaN or infinity: a broken checkpoint, on which no statistic means anything."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"tensor {name} holds non-finite values (NaN or infinity)")


@dataclass
class Fingerprint:
    """A compact, comparable summary of one model's weights."""

    meta: dict[str, Any]
    grams: np.ndarray  # [layers, invariants, K(K+1)/2] float16, upper triangles of RMS-normalised Grams
    gain_profiles: np.ndarray  # [layers, 2, hidden] float16: sorted attention / MLP norm gains
    norms: np.ndarray = field(default_factory=lambda: np.zeros((0, 7), np.float32))  # Frobenius norms per matrix
    # Version 4, when the anchors were chosen by token string: the same Grams on index-chosen anchors
    # (``meta["index_anchors"]``), so a side without vocabulary strings can still be compared on shared anchors.
    grams_index: np.ndarray | None = None
    # Version 4: per-MLP-neuron features [layers, 2 views, neurons, NEURON_ANCHORS] int8 — each neuron's two views
    # (gate and up rows, or up rows and down columns) seen through the first anchors — on the primary anchors and,
    # with strings, on the index-chosen ones. Permutation-invariant lineage evidence (see compare.neuron_evidence).
    neurons: np.ndarray | None = None
    neurons_index: np.ndarray | None = None

    @property
    def anchors(self) -> list[int]:
        return list(self.meta["anchors"])

    @property
    def anchor_strings(self) -> list[str] | None:
        return self.meta.get("anchor_strings")

    @property
    def layers(self) -> list[int]:
        return list(self.meta["layers"])

    def gram(self, layer_pos: int, inv: int) -> np.ndarray:
        """The full symmetric K×K Gram of one invariant (float64)."""
        k = len(self.meta["anchors"])
        out = np.zeros((k, k))
        iu = np.triu_indices(k)
        out[iu] = self.grams[layer_pos, inv].astype(np.float64)
        return out + np.triu(out, 1).T

    # serialisation ----------------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        from safetensors.numpy import save

        arrays = {
            "grams": np.ascontiguousarray(self.grams, np.float16),
            "gain_profiles": np.ascontiguousarray(self.gain_profiles, np.float16),
            "norms": np.ascontiguousarray(self.norms, np.float32),
        }
        for key in ("grams_index", "neurons", "neurons_index"):
            if getattr(self, key) is not None:
                arrays[key] = np.ascontiguousarray(getattr(self, key))
        return save(arrays, metadata={FORMAT: json.dumps(self.meta, sort_keys=True, separators=(",", ":"))})

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_bytes(self.to_bytes())
        return path

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        from safetensors.numpy import load

        meta = cls.meta_from_bytes(data)
        if int(meta.get("version", 0)) > VERSION:
            raise ValueError(f"fingerprint version {meta.get('version')} is newer than this tool ({VERSION})")
        arrays = load(data)
        return cls(
            meta=meta,
            grams=arrays["grams"],
            gain_profiles=arrays["gain_profiles"],
            norms=arrays["norms"],
            grams_index=arrays.get("grams_index"),
            neurons=arrays.get("neurons"),
            neurons_index=arrays.get("neurons_index"),
        )

    @staticmethod
    def meta_from_bytes(data: bytes) -> dict:
        """The JSON description of a fingerprint file, from its header only (no arrays are decoded)."""
        meta = json.loads(_header_metadata(data)[FORMAT])
        if meta.get("format") != FORMAT:
            raise ValueError("not a provenance fingerprint")
        return meta

    @classmethod
    def load(cls, path: str | Path) -> Fingerprint:
        return cls.from_bytes(Path(path).read_bytes())

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()


def _header_metadata(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]).get("__metadata__", {}) or {}


def is_fingerprint_file(path: str | Path) -> bool:
    """True when ``path`` is a fingerprint file written by :meth:`Fingerprint.save` (reads the header only)."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with p.open("rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little")
            if len(head) < 8 or n <= 0 or n > 64 * 1024 * 1024:
                return False
            header = json.loads(f.read(n))
        meta = header.get("__metadata__") if isinstance(header, dict) else None
        return isinstance(meta, dict) and FORMAT in meta
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):  # any header that is not ours: not ours
        return False


# anchors ---------------------------------------------------------------------------------------------------------
def _min_hash_key(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def anchor_tokens(
    vocab_size: int, token_strings: list[str] | None = None, k: int = ANCHORS
) -> tuple[list[int], list[str] | None]:
    """Anchor token ids (and strings): the k tokens with the smallest hash of their string (min-hash), so two
    vocabularies that share most tokens share most anchors; by index when no strings are known."""
    if token_strings is not None and len(token_strings) >= min(vocab_size, 8):
        n = min(vocab_size, len(token_strings))
        seen: dict[str, int] = {}
        for i in range(n):
            seen.setdefault(token_strings[i], i)  # duplicates (e.g. padding tokens) keep their first id
        keyed = sorted((_min_hash_key(s), s, i) for s, i in seen.items())[:k]
        return [i for _, _, i in keyed], [s for _, s, _ in keyed]
    order = np.random.default_rng(20251125).permutation(INDEX_ANCHOR_RANGE)
    ids = [int(i) for i in order if i < vocab_size][:k]
    return ids, None


# computation -----------------------------------------------------------------------------------------------------
def _prep(rows: np.ndarray) -> np.ndarray:
    """Centre and row-normalise anchor vectors (commutes with any orthogonal map of the residual stream). The centre
    is the mean of the first ``MIN_ANCHORS`` anchors, a prefix every fingerprint of the model holds, so fingerprints
    made with different anchor counts agree exactly on the anchors they share."""
    x = rows.astype(np.float64)
    x = x - x[:MIN_ANCHORS].mean(axis=0, keepdims=True)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(n > 0, n, 1.0)).astype(np.float32)


def _prep_sets(rows: np.ndarray, k: int) -> np.ndarray:
    """``_prep`` of the first k anchors and, separately, of the rest (the index-chosen set, when present)."""
    return _prep(rows) if rows.shape[0] == k else np.concatenate([_prep(rows[:k]), _prep(rows[k:])])


_TRIU: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _pack(g: np.ndarray) -> np.ndarray:
    g = (g + g.T) * 0.5
    rms = float(np.sqrt(np.mean(g * g)))
    g = g / rms if rms > 0 else g
    k = g.shape[0]
    if k not in _TRIU:
        _TRIU[k] = np.triu_indices(k)
    return g[_TRIU[k]].astype(np.float16)


DISTINCT_HEAD = 4096  # distinct values counted among a tensor's first values: tells trained floats from constants

# float32 bytes per block: the several passes over a block stay in cache, and the matmuls stay efficient
CHUNK_BYTES = 2 << 20


def _row_step(t: Any) -> int:
    shape = shape_of(t)
    inner = 1
    for d in shape[1:]:
        inner *= d
    return max(1, CHUNK_BYTES // (4 * max(1, inner)))


class _Blocks:
    """A tensor as consecutive float32 row blocks [rows, inner] (C order), read lazily when it can be.

    Yields ``(first_row, block, bits)``. Objects with ``bf16_rows(r0, r1)`` (raw bfloat16 storage as uint16) are
    read block by block as bits, widened here (bits are hashed as they are); objects with ``read_rows`` are read
    block by block as float32; anything else (arrays, objects with ``read()`` only) is read once and sliced. Block
    boundaries depend on the shape only, so every source of the same values gives the same fingerprint bytes.
    """

    def __init__(self, t: Any):
        self.t = t
        self.shape = shape_of(t)
        self.rows = self.shape[0] if len(self.shape) >= 2 else 1
        self.step = _row_step(t) if len(self.shape) >= 2 else 1
        self._whole: np.ndarray | None = None
        two_d = len(self.shape) >= 2 and not isinstance(t, np.ndarray)
        self.bits = two_d and callable(getattr(t, "bf16_rows", None))
        self.lazy = two_d and hasattr(t, "read_rows")

    def __iter__(self):
        if not (self.bits or self.lazy) and self._whole is None:
            arr = np.ascontiguousarray(as_array(self.t), dtype=np.float32)
            self._whole = arr.reshape(self.rows, -1) if arr.size else arr.reshape(self.rows, 0)
        for r0 in range(0, self.rows, self.step):
            r1 = min(self.rows, r0 + self.step)
            if self._whole is not None:
                yield r0, self._whole[r0:r1], None
            elif self.bits:
                bits = np.ascontiguousarray(self.t.bf16_rows(r0, r1), dtype=np.uint16).reshape(r1 - r0, -1)
                yield r0, widen_bf16(bits), bits
            else:
                blk = np.asarray(self.t.read_rows(r0, r1), dtype=np.float32)
                yield r0, blk.reshape(r1 - r0, -1), None


def _scan(t: Any, each: Callable[[int, np.ndarray], None] | None = None) -> tuple[dict, float]:
    """One pass over a tensor: content hash, layout signature and Frobenius norm; ``each(first_row, block)`` sees
    every block on the way (for the projections)."""
    blocks = _Blocks(t)
    h = StreamingHash(restart=lambda: (b for _, b, _ in blocks))
    distinct = 0
    for r0, blk, bits in blocks:
        if r0 == 0:
            distinct = int(np.unique(blk.reshape(-1)[:DISTINCT_HEAD]).size)
        h.update(blk, bits)
        if each is not None:
            each(r0, blk)
    info = dict(h.result(), shape=list(shape_of(t)), distinct_head=distinct)
    if h.size and h.finite:  # copy evidence needs to know constant and low-entropy tensors (version 4)
        info["min"], info["max"] = float(h.value_min), float(h.value_max)
        info["sumsq"] = float(f"{h.sum_squares:.9e}")
    if not h.finite:
        info["non_finite"] = True  # turned into NonFiniteTensor by the caller, which knows the name
    return info, float(np.sqrt(h.sum_squares))


class _RowPicker:
    """Collects rows ``idx`` (any order, repeats allowed) of a 2-D tensor from its row blocks as they go by."""

    def __init__(self, t: Any, idx: np.ndarray):
        idx = np.asarray(idx, dtype=np.int64)
        self.out = np.zeros((len(idx), shape_of(t)[1]), np.float32)
        self.order = np.argsort(idx, kind="stable")
        self.sidx = idx[self.order]

    def __call__(self, r0: int, blk: np.ndarray) -> None:
        lo, hi = np.searchsorted(self.sidx, [r0, r0 + blk.shape[0]])
        if hi > lo:
            self.out[self.order[lo:hi]] = blk[self.sidx[lo:hi] - r0]


def _anchor_rows(t: Any, idx: np.ndarray) -> tuple[dict, np.ndarray]:
    """Hash a [vocab, hidden] tensor and keep its rows ``idx`` (the anchors), block by block."""
    pick = _RowPicker(t, idx)
    info, _ = _scan(t, pick)
    return info, pick.out


def select_rows(t: Any, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of a 2-D tensor as float32, read block by block (the tensor is never whole in memory; fresh
    multi-MB allocations are what makes a whole-tensor read slow)."""
    pick = _RowPicker(t, idx)
    for r0, blk, _ in _Blocks(t):
        pick(r0, blk)
    return pick.out


def _input_projection(t: Any, x: np.ndarray, g: np.ndarray) -> tuple[dict, float, np.ndarray]:
    """P = (X·diag γ)·Wᵀ, [K, out], from row blocks of W [out, in] (no folded copy of W is made)."""
    xg = x * g[None, :]
    p = np.zeros((xg.shape[0], shape_of(t)[0]), np.float32)

    def each(r0: int, blk: np.ndarray) -> None:
        np.matmul(xg, blk.T, out=p[:, r0 : r0 + blk.shape[0]])

    info, norm = _scan(t, each)
    return info, norm, p


def _output_projection(t: Any, z: np.ndarray) -> tuple[dict, float, np.ndarray]:
    """P = Z·W, [K, in], accumulated over row blocks of W [hidden, in] (the reduction runs over W's rows)."""
    p = np.zeros((z.shape[0], shape_of(t)[1]), np.float32)

    def each(r0: int, blk: np.ndarray) -> None:
        np.add(p, z[:, r0 : r0 + blk.shape[0]] @ blk, out=p)

    info, norm = _scan(t, each)
    return info, norm, p


@contextmanager
def blas_threads(n: int | None):
    """Hold numpy's OpenBLAS to ``n`` threads inside the block (no-op when ``n`` is None or the library's thread
    control cannot be found). Used while several Python threads run BLAS calls at once, so they do not oversubscribe
    the cores; results do not depend on the thread count. Blocks may nest and overlap across threads: the first
    to enter sets the count, the last to leave restores it."""
    lib = _openblas() if n else None
    if lib is None:
        yield
        return
    with _BLAS_LOCK:
        if not _BLAS_STATE:
            _BLAS_STATE.append(int(lib[1]()))
            lib[0](int(n))
        _BLAS_STATE.append(n)
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_STATE.pop()
            if len(_BLAS_STATE) == 1:
                lib[0](_BLAS_STATE.pop())


_BLAS_LOCK = threading.Lock()
_BLAS_STATE: list[int] = []  # [thread count before the first block, one entry per open block]
_OPENBLAS: list = []


def _openblas():
    if not _OPENBLAS:
        found = None
        libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
        for path in sorted(glob.glob(os.path.join(libdir, "*openblas*"))):
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for prefix in ("scipy_openblas", "openblas"):
                for suffix in ("64_", ""):
                    setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                    getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                    if setter is not None and getter is not None and found is None:
                        setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
                        found = (setter, getter)
        _OPENBLAS.append(found)
    return _OPENBLAS[0]


WORKERS = 2  # tensors processed at once, each on one BLAS thread (reads, hashing and matmuls all release the GIL)


def compute_fingerprint(
    tensors: Mapping[str, Any],
    arch: Mapping[str, Any] | None = None,
    *,
    token_strings: list[str] | None = None,
    extra_meta: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    anchors: int = ANCHORS,
    workers: int = WORKERS,
) -> Fingerprint:
    """One streaming pass over ``tensors`` (canonical HF names → arrays or lazy tensors) → :class:`Fingerprint`.

    Each tensor is read once, in row blocks when the object offers ``read_rows`` (so memory stays at a few blocks
    per worker whatever the model size); ``workers`` tensors are processed concurrently, with BLAS held to one
    thread each. The result does not depend on ``workers``.
    """
    view = ModelView(tensors, arch)
    total = sum(_nbytes(t) for t in tensors.values())
    done = 0
    hashes: dict[str, dict] = {}

    def record(name: str, info: dict) -> None:
        nonlocal done
        if info.pop("non_finite", False):
            raise NonFiniteTensor(name)
        hashes[name] = info
        done += _nbytes(tensors[name])
        if progress:
            progress(done, total)

    def small(name: str, default: int) -> np.ndarray:
        """A 1-D gain vector (hashed on the way), ones when absent."""
        if name not in tensors:
            return np.ones(default, np.float32)
        blocks = []
        info, _ = _scan(tensors[name], lambda r0, b: blocks.append(b))
        record(name, info)
        return np.concatenate([b.reshape(-1) for b in blocks]) if blocks else np.zeros(0, np.float32)

    if anchors < MIN_ANCHORS:
        raise ValueError(f"at least {MIN_ANCHORS} anchors are needed (the null distribution is calibrated there)")
    vocab = view.vocab_size
    ids, strings = anchor_tokens(vocab, token_strings, anchors)
    index_ids = anchor_tokens(vocab, None, anchors)[0] if strings is not None else []
    K = len(ids)
    idx = np.asarray(ids + index_ids, dtype=np.int64)  # both anchor sets go through one pass
    n_layers = len(view.layers)
    ntri = len(ids) * (len(ids) + 1) // 2
    grams = np.zeros((n_layers, len(INVARIANTS), ntri), np.float16)
    grams_index = np.zeros((n_layers, len(INVARIANTS), len(index_ids) * (len(index_ids) + 1) // 2), np.float16)

    feats: dict[tuple[int, str], np.ndarray] = {}

    def put(pos: int, inv: str, g: np.ndarray) -> None:
        grams[pos, INVARIANTS.index(inv)] = _pack(g[:K, :K])
        if index_ids:
            grams_index[pos, INVARIANTS.index(inv)] = _pack(g[K:, K:])
        present[pos, INVARIANTS.index(inv)] = True

    profiles = np.zeros((n_layers, 2, view.hidden_size), np.float16)
    norms = np.zeros((n_layers, 7), np.float32)
    present = np.zeros((n_layers, len(INVARIANTS)), bool)
    H, Hkv = view.n_heads, view.n_kv_heads
    head_name = LM_HEAD if LM_HEAD in tensors else EMBED

    with blas_threads(1 if workers > 1 else None), ThreadPoolExecutor(max(1, workers)) as pool:
        # Output side first: final gain and the anchor rows of the head and of the embedding (the same when tied).
        g_final = small(FINAL_NORM, view.hidden_size)
        gains = {}
        for pos, layer in enumerate(view.layers):
            for j, role in enumerate(("attn_norm", "mlp_norm")):
                gains[pos, role] = small(view.name(layer, role), view.hidden_size).reshape(-1)
                profiles[pos, j] = np.sort(gains[pos, role]).astype(np.float16)
        futs = {
            n: pool.submit(_anchor_rows, tensors[n], idx) for n in dict.fromkeys([head_name, EMBED]) if n in tensors
        }
        rows = {}
        for n, f in futs.items():
            info, rows[n] = f.result()
            record(n, info)
        z = _prep_sets(rows[head_name] * g_final[None, :], K)
        x = _prep_sets(rows[EMBED] if EMBED in rows else rows[head_name], K)
        del rows

        roles = ("q", "k", "v", "gate", "up", "o", "down")
        jobs = []
        for pos, layer in enumerate(view.layers):
            for j, role in enumerate(roles):
                nm = view.name(layer, role)
                if nm not in tensors:
                    continue
                if role in ("o", "down"):
                    jobs.append((pos, j, role, nm, _output_projection, (z,)))
                else:
                    g = gains[pos, "attn_norm" if role in ("q", "k", "v") else "mlp_norm"]
                    jobs.append((pos, j, role, nm, _input_projection, (x, g)))
        # A bounded window of submitted jobs keeps memory at a few blocks and projections per worker; it is wide
        # enough that the small k and v jobs do not leave a worker waiting while the oldest job still runs.
        window = max(4, 4 * workers)
        pending: list = []
        proj: dict[tuple[int, str], np.ndarray] = {}

        def finish(job, fut) -> None:
            pos, j, role, nm, _, _ = job
            info, nrm, p = fut.result()
            record(nm, info)
            norms[pos, j] = nrm
            put(pos, role, p @ p.T)
            if role in ("gate", "up", "down"):
                # each column of p is one neuron seen through the anchors: kept compact (int8) right away
                feats[pos, role] = (_compact(p, 0, K), _compact(p, K, len(index_ids)) if index_ids else None)
            if role in ("q", "k", "v", "o"):
                proj[pos, role] = p
            circuits(pos)

        def circuits(pos: int) -> None:
            """qk = Σ_heads P_q,h P_k,hᵀ and ov = Σ_heads P_v,h P_o,hᵀ (GQA: repeat-interleave), once both are in.
            Left out when the head layout is unknown."""
            for inv, a, b in (("qk", "q", "k"), ("ov", "v", "o")):
                if not view.heads_known:
                    proj.pop((pos, a), None)
                    proj.pop((pos, b), None)
                    continue
                if (pos, a) not in proj or (pos, b) not in proj:
                    continue
                pa, pb = proj.pop((pos, a)), proj.pop((pos, b))
                try:
                    if inv == "qk":
                        g = pa @ expand_kv(pb.T, H, Hkv)
                    else:
                        g = expand_kv(pa.T, H, Hkv).T @ pb.T
                except ValueError:  # head counts that do not divide the shapes: skip the circuit invariant
                    continue
                put(pos, inv, g)

        for job in jobs:
            pending.append((job, pool.submit(job[4], tensors[job[3]], *job[5])))
            if len(pending) >= window:
                finish(*pending.pop(0))
        while pending:
            finish(*pending.pop(0))
        rest = [n for n in tensors if n not in hashes]  # biases, extra norms, unknown tensors: hashed too
        for n, f in [(n, pool.submit(_scan, tensors[n])) for n in rest]:
            record(n, f.result()[0])
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "arch": {k: (dict(arch or {}).get(k)) for k in ARCH_KEYS if (arch or {}).get(k) is not None},
        "hidden_size": view.hidden_size,
        "vocab_size": vocab,
        "layers": view.layers,
        "n_heads": H,
        "n_kv_heads": Hkv,
        "heads_known": view.heads_known,
        "intermediate_size": (
            view.shape(view.layers[0], "up")[0] if view.layers and view.has(view.layers[0], "up") else None
        ),
        "anchors": ids,
        "anchor_strings": strings,
        "anchor_mode": "token-string" if strings is not None else "token-index",
        "index_anchors": index_ids or ids,
        "invariants": list(INVARIANTS),
        "present": present.astype(int).tolist(),
        "tensor_hashes": dict(sorted(hashes.items())),
        "content_hash": HASH_NAME,
        "tied": head_name == EMBED,
        "all_gains_one": bool(np.allclose(profiles.astype(np.float32), 1.0)) if n_layers else False,
    }
    if extra_meta:
        meta.update({k: v for k, v in extra_meta.items()})
    neurons, views = _neuron_features(feats, n_layers, 0)
    meta["neuron_views"] = views
    meta["neuron_anchors"] = NEURON_ANCHORS
    meta["neuron_counts"] = [
        int(feats[pos, views[0]][0].shape[0]) if views and (pos, views[0]) in feats else 0 for pos in range(n_layers)
    ]
    neurons_index = _neuron_features(feats, n_layers, 1)[0] if index_ids else None
    return Fingerprint(
        meta=meta,
        grams=grams,
        gain_profiles=profiles,
        norms=norms,
        grams_index=grams_index if index_ids else None,
        neurons=neurons,
        neurons_index=neurons_index,
    )


NEURON_ANCHORS = 16  # anchors per neuron feature: 7B (32 layers × 11008 neurons × 2 views) = 11 MB per set, int8


def _compact(p: np.ndarray, start: int, k: int) -> np.ndarray:
    """int8 [neurons, ≤NEURON_ANCHORS]: columns of a projection through anchors start.. of one set, each neuron's
    vector scaled to unit length."""
    f = p[start : start + min(NEURON_ANCHORS, k)].T.astype(np.float64)
    n = np.linalg.norm(f, axis=1, keepdims=True)
    f = f / np.where(n > 0, n, 1.0)
    return np.clip(np.rint(f * 127), -127, 127).astype(np.int8)


def _neuron_features(feats: dict, n_layers: int, which: int) -> tuple[np.ndarray | None, list[str]]:
    """int8 [layers, 2, max neurons, anchors]: each layer's two neuron views (gate and up for a gated MLP, up and
    down otherwise) from one anchor set (``which``: 0 primary, 1 index-chosen); zero rows pad narrower layers."""
    layers = sorted({pos for pos, _ in feats})
    gated = any((pos, "gate") in feats for pos in layers)
    views = ["gate", "up"] if gated else ["up", "down"]
    if not layers or not all((pos, v) in feats for pos in layers for v in views):
        return None, []
    width = max(feats[pos, views[0]][which].shape[0] for pos in layers)
    ka = feats[layers[0], views[0]][which].shape[1]
    out = np.zeros((n_layers, 2, width, ka), np.int8)
    for pos in layers:
        for j, v in enumerate(views):
            f = feats[pos, v][which]
            out[pos, j, : f.shape[0]] = f
    return out, views


def _nbytes(t: Any) -> int:
    n = 1
    for s in shape_of(t):
        n *= s
    return 4 * n
