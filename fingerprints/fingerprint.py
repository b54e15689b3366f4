"""The stored fingerprint: token-space Gram invariants, gain profiles, per-tensor hashes, architecture.

Computed in one streaming pass (each tensor read once, one tensor in memory at a time) and compared without either
checkpoint (fingerprinting.md, section C):

- anchor tokens T_a (``ANCHORS`` of them, chosen by min-hash of the token string, or of the token index when no
  tokenizer is known) give X = E[T_a] and Z = Ū[T_a] (lm_head rows with the final gain folded in). Both are centred
  and row-normalised, which keeps them invariant to any orthogonal transform of the residual stream while removing
  the token-frequency norm that independently trained models share.
- input side, for M in q, k, v, gate, up: P_M = X·W̄_Mᵀ, Gram P_M P_Mᵀ; output side, for M in o, down: P_M = Z·W_M;
  attention circuits: qk = Σ_heads P_q,h P_k,hᵀ (GQA expanded by repeat-interleave) and ov = Σ_heads P_v,h P_o,hᵀ.
  All are invariant to residual rotations/permutations, gain rescaling, MLP-neuron permutation and head permutation.
- each K×K Gram is divided by its RMS and stored as the float16 upper triangle; for a 7B model (32 layers,
  9 invariants, K = 128) that is 32·9·8256·2 B ≈ 4.8 MB.

File format: a safetensors file (deterministic bytes; readable without torch) whose metadata key
``provenance-fingerprint`` holds the JSON description and whose tensors hold the arrays.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from fingerprints.canon import EMBED, FINAL_NORM, LM_HEAD, ModelView, as_array, expand_kv, shape_of
from fingerprints.hashing import tensor_hash

FORMAT = "provenance-fingerprint"
VERSION = 1
ANCHORS = 128
# Anchor indices without a tokenizer are drawn from the first INDEX_ANCHOR_RANGE ids, so every vocabulary at least
# this large (and any extension of one) uses the same anchors.
INDEX_ANCHOR_RANGE = 32000
INVARIANTS = ("q", "k", "v", "gate", "up", "o", "down", "qk", "ov")
ARCH_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
             "head_dim", "vocab_size", "tie_word_embeddings", "rms_norm_eps", "rope_theta", "hidden_act",
             "model_type")

Progress = Callable[[int, int], None]


@dataclass
class Fingerprint:
    """A compact, comparable summary of one model's weights."""

    meta: dict[str, Any]
    grams: np.ndarray  # [layers, invariants, K(K+1)/2] float16, upper triangles of RMS-normalised Grams
    gain_profiles: np.ndarray  # [layers, 2, hidden] float16: sorted attention / MLP norm gains
    norms: np.ndarray = field(default_factory=lambda: np.zeros((0, 7), np.float32))  # Frobenius norms per matrix

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

        arrays = {"grams": np.ascontiguousarray(self.grams, np.float16),
                  "gain_profiles": np.ascontiguousarray(self.gain_profiles, np.float16),
                  "norms": np.ascontiguousarray(self.norms, np.float32)}
        return save(arrays, metadata={FORMAT: json.dumps(self.meta, sort_keys=True, separators=(",", ":"))})

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_bytes(self.to_bytes())
        return path

    @classmethod
    def from_bytes(cls, data: bytes) -> "Fingerprint":
        from safetensors.numpy import load

        meta = json.loads(_header_metadata(data)[FORMAT])
        if meta.get("format") != FORMAT:
            raise ValueError("not a provenance fingerprint")
        if int(meta.get("version", 0)) > VERSION:
            raise ValueError(f"fingerprint version {meta.get('version')} is newer than this tool ({VERSION})")
        arrays = load(data)
        return cls(meta=meta, grams=arrays["grams"], gain_profiles=arrays["gain_profiles"], norms=arrays["norms"])

    @classmethod
    def load(cls, path: str | Path) -> "Fingerprint":
        return cls.from_bytes(Path(path).read_bytes())

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()


def _header_metadata(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n]).get("__metadata__", {}) or {}


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
            meta = json.loads(f.read(n)).get("__metadata__", {}) or {}
        return FORMAT in meta
    except (OSError, ValueError, UnicodeDecodeError):
        return False


# anchors ---------------------------------------------------------------------------------------------------------
def _min_hash_key(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def anchor_tokens(vocab_size: int, token_strings: list[str] | None = None, k: int = ANCHORS
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
    """Centre and row-normalise anchor vectors (commutes with any orthogonal map of the residual stream)."""
    x = rows.astype(np.float64) - rows.astype(np.float64).mean(axis=0, keepdims=True)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(n > 0, n, 1.0)).astype(np.float32)


def _pack(g: np.ndarray) -> np.ndarray:
    g = (g + g.T) * 0.5
    rms = float(np.sqrt(np.mean(g * g)))
    g = g / rms if rms > 0 else g
    return g[np.triu_indices(g.shape[0])].astype(np.float16)


def _read(t: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a tensor; objects offering ``bf16_bits()`` give their raw bits too (hashing fast path)."""
    bits_fn = getattr(t, "bf16_bits", None)
    if callable(bits_fn):
        bits = bits_fn()
        if bits is not None:
            return (bits.astype(np.uint32) << 16).view(np.float32), bits
    return as_array(t), None


def compute_fingerprint(tensors: Mapping[str, Any], arch: Mapping[str, Any] | None = None, *,
                        token_strings: list[str] | None = None, extra_meta: Mapping[str, Any] | None = None,
                        progress: Progress | None = None, anchors: int = ANCHORS) -> Fingerprint:
    """One streaming pass over ``tensors`` (canonical HF names → arrays or lazy tensors) → :class:`Fingerprint`."""
    view = ModelView(tensors, arch)
    total = sum(_nbytes(t) for t in tensors.values())
    done = 0
    hashes: dict[str, dict] = {}

    def take(name: str) -> np.ndarray:
        nonlocal done
        arr, bits = _read(tensors[name])
        if name not in hashes:
            hashes[name] = dict(tensor_hash(arr, bits), shape=list(shape_of(tensors[name])))
            done += _nbytes(tensors[name])
            if progress:
                progress(done, total)
        return arr

    vocab = view.vocab_size
    ids, strings = anchor_tokens(vocab, token_strings, anchors)
    idx = np.asarray(ids, dtype=np.int64)
    # Output side first: final gain and the head rows (the head is the embedding when tied).
    g_final = take(FINAL_NORM).reshape(-1) if FINAL_NORM in tensors else np.ones(view.hidden_size, np.float32)
    head_name = LM_HEAD if LM_HEAD in tensors else EMBED
    head = take(head_name)
    z = _prep(head[idx] * g_final[None, :])
    emb = head if head_name == EMBED else take(EMBED) if EMBED in tensors else head
    x = _prep(emb[idx])
    del head, emb

    n_layers = len(view.layers)
    ntri = len(ids) * (len(ids) + 1) // 2
    grams = np.zeros((n_layers, len(INVARIANTS), ntri), np.float16)
    profiles = np.zeros((n_layers, 2, view.hidden_size), np.float16)
    norms = np.zeros((n_layers, 7), np.float32)
    present = np.zeros((n_layers, len(INVARIANTS)), bool)
    H, Hkv = view.n_heads, view.n_kv_heads
    for pos, layer in enumerate(view.layers):
        gains = {}
        for j, role in enumerate(("attn_norm", "mlp_norm")):
            nm = view.name(layer, role)
            gains[role] = take(nm).reshape(-1) if nm in tensors else np.ones(view.hidden_size, np.float32)
            profiles[pos, j] = np.sort(gains[role]).astype(np.float16)
        proj: dict[str, np.ndarray] = {}
        for j, role in enumerate(("q", "k", "v", "gate", "up", "o", "down")):
            nm = view.name(layer, role)
            if nm not in tensors:
                continue
            w = take(nm)
            if role in ("o", "down"):
                p = z @ w
            else:
                g = gains["attn_norm" if role in ("q", "k", "v") else "mlp_norm"]
                p = (x * g[None, :]) @ w.T  # X·(W diag γ)ᵀ without materialising the folded weight
            norms[pos, j] = float(np.linalg.norm(w))
            del w
            proj[role] = p
            grams[pos, INVARIANTS.index(role)] = _pack(p @ p.T)
            present[pos, INVARIANTS.index(role)] = True
        try:
            if {"q", "k"} <= proj.keys():
                pk = expand_kv(proj["k"].T, H, Hkv).T
                grams[pos, INVARIANTS.index("qk")] = _pack(proj["q"] @ pk.T)
                present[pos, INVARIANTS.index("qk")] = True
            if {"v", "o"} <= proj.keys():
                pv = expand_kv(proj["v"].T, H, Hkv).T
                grams[pos, INVARIANTS.index("ov")] = _pack(pv @ proj["o"].T)
                present[pos, INVARIANTS.index("ov")] = True
        except ValueError:  # head counts that do not divide the shapes: skip the circuit invariants
            pass
    for name in tensors:  # everything else (biases, extra norms, unknown tensors) is hashed too
        if name not in hashes:
            take(name)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "arch": {k: (dict(arch or {}).get(k)) for k in ARCH_KEYS if (arch or {}).get(k) is not None},
        "hidden_size": view.hidden_size,
        "vocab_size": vocab,
        "layers": view.layers,
        "n_heads": H,
        "n_kv_heads": Hkv,
        "intermediate_size": view.shape(view.layers[0], "up")[0] if view.layers and view.has(view.layers[0], "up") else None,
        "anchors": ids,
        "anchor_strings": strings,
        "anchor_mode": "token-string" if strings is not None else "token-index",
        "invariants": list(INVARIANTS),
        "present": present.astype(int).tolist(),
        "tensor_hashes": dict(sorted(hashes.items())),
        "tied": head_name == EMBED,
        "all_gains_one": bool(np.allclose(profiles.astype(np.float32), 1.0)) if n_layers else False,
    }
    if extra_meta:
        meta.update({k: v for k, v in extra_meta.items()})
    return Fingerprint(meta=meta, grams=grams, gain_profiles=profiles, norms=norms)


def _nbytes(t: Any) -> int:
    n = 1
    for s in shape_of(t):
        n *= s
    return 4 * n
