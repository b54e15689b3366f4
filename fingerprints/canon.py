"""Canonical views of a LLaMA-shaped model for the statistics: gain folding, GQA expansion, tensor access.

Input is any mapping from Hugging Face ``LlamaForCausalLM`` names to either numpy arrays or lazy objects with a
``.read()`` method returning float32 (``provenance``'s TensorRef, for instance), plus an architecture dict with HF
config field names. Nothing here knows about file formats.

Why fold the gains: RMSNorm multiplies by a gain γ before the next linear map, so (γ·c, W/c) computes the same
function for any per-channel c. Folding W·diag(γ) removes that freedom (fingerprinting.md, "Step 0"); a
residual rotation applied after folding then leaves every gain at 1 and is undone by the alignment step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

EMBED = "model.embed_tokens.weight"
LM_HEAD = "lm_head.weight"
FINAL_NORM = "model.norm.weight"
LAYER_PREFIX = "model.layers.{}."
ROLES = {
    "attn_norm": "input_layernorm.weight",
    "mlp_norm": "post_attention_layernorm.weight",
    "q": "self_attn.q_proj.weight",
    "k": "self_attn.k_proj.weight",
    "v": "self_attn.v_proj.weight",
    "o": "self_attn.o_proj.weight",
    "gate": "mlp.gate_proj.weight",
    "up": "mlp.up_proj.weight",
    "down": "mlp.down_proj.weight",
}
# Which gain is folded into which input-side matrix (fingerprinting.md, Step 0).
FOLDED_BY = {"q": "attn_norm", "k": "attn_norm", "v": "attn_norm", "gate": "mlp_norm", "up": "mlp_norm"}
_LAYER_RE = re.compile(r"^model\.layers\.(\d+)\.")


def as_array(t: Any) -> np.ndarray:
    """Read a tensor-like object as a float32 numpy array (ndarray, object with .read(), or torch tensor)."""
    if isinstance(t, np.ndarray):
        return t if t.dtype == np.float32 else t.astype(np.float32)
    bits_fn = getattr(t, "bf16_rows", None)
    if callable(bits_fn) and len(shape_of(t)) >= 2:  # raw bfloat16 storage: widen here (faster than the reader)
        return widen_bf16(np.asarray(bits_fn(0, shape_of(t)[0]), dtype=np.uint16)).reshape(shape_of(t))
    if hasattr(t, "read"):
        return np.asarray(t.read(), dtype=np.float32)
    if hasattr(t, "detach"):  # torch.Tensor, without importing torch here
        return t.detach().float().cpu().numpy()
    return np.asarray(t, dtype=np.float32)


def widen_bf16(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bits (uint16) → float32, exactly (bf16 is the high half of a float32). One numpy shift into a
    uint32 result: faster than ml_dtypes' cast with numpy 2 here, and it spares the fingerprint command the
    ~0.5 s import of ml_dtypes."""
    return np.left_shift(bits, 16, dtype=np.uint32).view(np.float32)


def shape_of(t: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape)


def read_rows(t: Any, rows: np.ndarray) -> np.ndarray:
    """Selected rows of a 2-D tensor; lazy objects are asked for row blocks only when they can (read_rows)."""
    rows = np.asarray(rows, dtype=np.int64)
    if isinstance(t, np.ndarray) or not hasattr(t, "read_rows"):
        return as_array(t)[rows]
    out = np.empty((len(rows),) + shape_of(t)[1:], dtype=np.float32)
    for i, r in enumerate(rows):
        out[i] = t.read_rows(int(r), int(r) + 1)[0]
    return out


def expand_kv(w: np.ndarray, n_heads: int, n_kv_heads: int) -> np.ndarray:
    """GQA: query head i uses kv head floor(i / g), g = n_heads / n_kv_heads — repeat-interleave, not tile.

    ``w`` is [n_kv_heads * head_dim, ...] (k or v rows); the result is [n_heads * head_dim, ...].
    """
    if n_kv_heads == n_heads:
        return w
    g = n_heads // n_kv_heads
    hd = w.shape[0] // n_kv_heads
    return np.repeat(w.reshape((n_kv_heads, hd) + w.shape[1:]), g, axis=0).reshape((n_heads * hd,) + w.shape[1:])


class ModelView:
    """Named access to the parts of a LLaMA-shaped model the statistics need."""

    def __init__(self, tensors: Mapping[str, Any], arch: Mapping[str, Any] | None = None):
        self.tensors = tensors
        self.arch = dict(arch or {})
        if EMBED not in tensors and LM_HEAD not in tensors:
            raise ValueError("no token embedding (model.embed_tokens.weight) or lm_head.weight")
        layers = sorted({int(m.group(1)) for n in tensors for m in [_LAYER_RE.match(n)] if m})
        self.layers = [L for L in layers if self.has(L, "q") or self.has(L, "up")]
        emb = tensors.get(EMBED, tensors.get(LM_HEAD))
        self.vocab_size, self.hidden_size = shape_of(emb)
        self.n_heads = int(self.arch.get("num_attention_heads") or 0)
        hd = self.arch.get("head_dim")
        q0 = self.shape(self.layers[0], "q") if self.layers and self.has(self.layers[0], "q") else None
        # Without a head count or head size the heads cannot be told apart (32×64 and 16×128 look alike): the
        # per-head invariants (qk, ov) are then left out rather than computed on a guess.
        self.heads_known = bool(self.n_heads or hd)
        if not self.n_heads:
            self.n_heads = max(1, self.hidden_size // 64) if q0 is None else max(1, q0[0] // int(hd or 64) or 1)
        self.head_dim = int(hd) if hd else (q0[0] // self.n_heads if q0 else self.hidden_size // self.n_heads)
        k0 = self.shape(self.layers[0], "k") if self.layers and self.has(self.layers[0], "k") else None
        self.n_kv_heads = int(self.arch.get("num_key_value_heads") or (k0[0] // self.head_dim if k0 else self.n_heads))
        if self.n_kv_heads <= 0 or self.n_heads % self.n_kv_heads:
            self.n_kv_heads = self.n_heads

    # names and shapes -----------------------------------------------------------------------------------------
    @staticmethod
    def name(layer: int, role: str) -> str:
        return LAYER_PREFIX.format(layer) + ROLES[role]

    def has(self, layer: int, role: str) -> bool:
        return self.name(layer, role) in self.tensors

    def shape(self, layer: int, role: str) -> tuple[int, ...]:
        return shape_of(self.tensors[self.name(layer, role)])

    @property
    def tied(self) -> bool:
        return LM_HEAD not in self.tensors or bool(self.arch.get("tie_word_embeddings", False))

    # reads ------------------------------------------------------------------------------------------------------
    def raw(self, layer: int, role: str) -> np.ndarray:
        return as_array(self.tensors[self.name(layer, role)])

    def gain(self, layer: int, role: str) -> np.ndarray:
        n = self.name(layer, role)
        if n not in self.tensors:
            return np.ones(self.hidden_size, dtype=np.float32)
        return as_array(self.tensors[n]).reshape(-1)

    def folded(self, layer: int, role: str, gain: np.ndarray | None = None) -> np.ndarray:
        """The weight with its preceding norm gain folded in (input side) or as stored (o, down)."""
        w = self.raw(layer, role)
        if role in FOLDED_BY:
            g = self.gain(layer, FOLDED_BY[role]) if gain is None else gain
            w = w * g[None, :]
        return w

    def embedding(self) -> Any:
        return self.tensors[EMBED] if EMBED in self.tensors else self.tensors[LM_HEAD]

    def head(self) -> Any:
        return self.tensors[LM_HEAD] if LM_HEAD in self.tensors else self.tensors[EMBED]

    def final_gain(self) -> np.ndarray:
        return (
            as_array(self.tensors[FINAL_NORM]).reshape(-1)
            if FINAL_NORM in self.tensors
            else np.ones(self.hidden_size, dtype=np.float32)
        )
