"""Function-preserving and lineage-preserving transforms of a state dict (HF LLaMA names) — the attacks and
derivations the lineage tests and the calibration are built from. Each returns a new dict of float32 arrays."""

from __future__ import annotations

import re

import numpy as np

from fingerprints.canon import ROLES

_L = re.compile(r"^model\.layers\.(\d+)\.(.+)$")


def _n_layers(sd: dict) -> int:
    return 1 + max(int(m.group(1)) for k in sd for m in [_L.match(k)] if m)


def _k(layer: int, role: str) -> str:
    return f"model.layers.{layer}.{ROLES[role]}"


def permute_neurons(sd: dict, seed: int = 0) -> dict:
    """Shuffle the MLP hidden units of every layer (gate/up rows and down columns together)."""
    rng = np.random.default_rng(seed)
    out = dict(sd)
    for L in range(_n_layers(sd)):
        p = rng.permutation(sd[_k(L, "up")].shape[0])
        out[_k(L, "gate")], out[_k(L, "up")] = sd[_k(L, "gate")][p], sd[_k(L, "up")][p]
        out[_k(L, "down")] = sd[_k(L, "down")][:, p]
    return out


def permute_heads(sd: dict, n_heads: int, n_kv_heads: int, seed: int = 0) -> dict:
    """Shuffle kv groups, and query heads within each group, consistently across q, k, v and o."""
    rng = np.random.default_rng(seed)
    g = n_heads // n_kv_heads
    out = dict(sd)
    for L in range(_n_layers(sd)):
        q, k, v, o = (sd[_k(L, r)] for r in ("q", "k", "v", "o"))
        hd = q.shape[0] // n_heads
        kv_perm = rng.permutation(n_kv_heads)
        q_heads = np.concatenate([kv * g + rng.permutation(g) for kv in kv_perm])
        rows = lambda heads, hd=hd: np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in heads])  # noqa: E731
        out[_k(L, "q")], out[_k(L, "o")] = q[rows(q_heads)], o[:, rows(q_heads)]
        out[_k(L, "k")], out[_k(L, "v")] = k[rows(kv_perm)], v[rows(kv_perm)]
    return out


def rotate_residual(sd: dict, seed: int = 0) -> dict:
    """Fold every norm gain into the next weights, then rotate the residual stream by a random orthogonal Q.

    Function-preserving for RMSNorm models (‖xQ‖ = ‖x‖); every gain becomes 1.
    """
    rng = np.random.default_rng(seed)
    d = sd["model.embed_tokens.weight"].shape[1]
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    out = {
        "model.embed_tokens.weight": sd["model.embed_tokens.weight"] @ q,
        "model.norm.weight": np.ones(d),
        "lm_head.weight": (sd["lm_head.weight"] * sd["model.norm.weight"]) @ q,
    }
    for L in range(_n_layers(sd)):
        ga, gm = sd[_k(L, "attn_norm")], sd[_k(L, "mlp_norm")]
        for r in ("q", "k", "v"):
            out[_k(L, r)] = (sd[_k(L, r)] * ga) @ q
        for r in ("gate", "up"):
            out[_k(L, r)] = (sd[_k(L, r)] * gm) @ q
        out[_k(L, "o")], out[_k(L, "down")] = q.T @ sd[_k(L, "o")], q.T @ sd[_k(L, "down")]
        out[_k(L, "attn_norm")], out[_k(L, "mlp_norm")] = np.ones(d), np.ones(d)
    return {k: np.asarray(v, np.float32) for k, v in out.items()}


def rescale_norms(sd: dict, seed: int = 0) -> dict:
    """Move a random positive per-channel scale from each norm gain into the next weights (function-preserving)."""
    rng = np.random.default_rng(seed)
    out = dict(sd)
    for L in range(_n_layers(sd)):
        for norm, roles in (("attn_norm", ("q", "k", "v")), ("mlp_norm", ("gate", "up"))):
            c = np.exp(rng.normal(0, 0.7, sd[_k(L, norm)].shape)).astype(np.float32)
            out[_k(L, norm)] = sd[_k(L, norm)] * c
            for r in roles:
                out[_k(L, r)] = sd[_k(L, r)] / c
    return out


def select_layers(sd: dict, layers: list[int]) -> dict:
    """Keep/duplicate/reorder layers: new layer i is old layer ``layers[i]`` (pruning, depth up-scaling)."""
    out = {k: v for k, v in sd.items() if not _L.match(k)}
    for new, old in enumerate(layers):
        for k, v in sd.items():
            m = _L.match(k)
            if m and int(m.group(1)) == old:
                out[f"model.layers.{new}.{m.group(2)}"] = v.copy()
    return out


def prune_neurons(sd: dict, keep_fraction: float = 0.75, seed: int = 0) -> dict:
    """Drop MLP hidden units (lowest down-projection norm first, like magnitude pruning)."""
    out = dict(sd)
    for L in range(_n_layers(sd)):
        f = sd[_k(L, "up")].shape[0]
        keep = np.sort(np.argsort(-np.linalg.norm(sd[_k(L, "down")], axis=0))[: int(f * keep_fraction)])
        out[_k(L, "gate")], out[_k(L, "up")] = sd[_k(L, "gate")][keep], sd[_k(L, "up")][keep]
        out[_k(L, "down")] = sd[_k(L, "down")][:, keep]
    return out


def extend_vocab(sd: dict, extra: int, seed: int = 0) -> dict:
    """Append ``extra`` new tokens (rows initialised around the mean embedding, as resize_token_embeddings does)."""
    rng = np.random.default_rng(seed)
    out = dict(sd)
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        w = sd[name]
        new = w.mean(0) + 0.02 * rng.standard_normal((extra, w.shape[1]))
        out[name] = np.concatenate([w, new.astype(np.float32)])
    return out


def merge(a: dict, b: dict, weight: float = 0.5) -> dict:
    """Linear merge (model soup) of two state dicts of one shape."""
    return {k: (weight * a[k] + (1 - weight) * b[k]).astype(np.float32) for k in a}


def add_noise(sd: dict, relative: float = 0.2, seed: int = 0) -> dict:
    """Add Gaussian noise with standard deviation ``relative`` × each matrix's own standard deviation."""
    rng = np.random.default_rng(seed)
    return {
        k: (v + relative * v.std() * rng.standard_normal(v.shape)).astype(np.float32) if v.ndim == 2 else v
        for k, v in sd.items()
    }


def lora_merge(sd: dict, rank: int = 4, scale: float = 0.5, seed: int = 0) -> dict:
    """Merge a random low-rank update B·A into q, k, v, o, gate, up, down (a LoRA fine-tune folded in)."""
    rng = np.random.default_rng(seed)
    out = dict(sd)
    for k, v in sd.items():
        m = _L.match(k)
        if m and v.ndim == 2:
            b = rng.standard_normal((v.shape[0], rank))
            a = rng.standard_normal((rank, v.shape[1]))
            delta = b @ a
            out[k] = (v + scale * v.std() * delta / delta.std()).astype(np.float32)
    return out


def _head_rows(head: int, hd: int) -> slice:
    return slice(head * hd, (head + 1) * hd)


def rescale_heads(
    sd: dict, n_heads: int, n_kv_heads: int, seed: int = 0, spread: float = 0.7, qk: bool = True, vo: bool = True
) -> dict:
    """Per-head attention rescaling (function-preserving): per kv group g, query rows of every head in g × a_g and
    key rows of g ÷ a_g (the score q·k is unchanged, and a scalar per head commutes with the rotary rotation); value
    rows of g × b_g and the output-projection columns of every query head in g ÷ b_g."""
    rng = np.random.default_rng(seed)
    g = n_heads // n_kv_heads
    out = dict(sd)
    for L in range(_n_layers(sd)):
        q, k, v, o = (sd[_k(L, r)].copy() for r in ("q", "k", "v", "o"))
        hd = q.shape[0] // n_heads
        a = np.exp(rng.normal(0, spread, n_kv_heads)).astype(np.float32) if qk else np.ones(n_kv_heads, np.float32)
        b = np.exp(rng.normal(0, spread, n_kv_heads)).astype(np.float32) if vo else np.ones(n_kv_heads, np.float32)
        for kv in range(n_kv_heads):
            k[_head_rows(kv, hd)] /= a[kv]
            v[_head_rows(kv, hd)] *= b[kv]
            for h in range(kv * g, (kv + 1) * g):
                q[_head_rows(h, hd)] *= a[kv]
                o[:, _head_rows(h, hd)] /= b[kv]
        out[_k(L, "q")], out[_k(L, "k")], out[_k(L, "v")], out[_k(L, "o")] = q, k, v, o
    return out


def change_kv_heads(sd: dict, n_heads: int, n_kv_heads: int, new_kv_heads: int) -> dict:
    """GQA ↔ MHA: more kv heads by repeating each (function-preserving), fewer by averaging each group of kv heads
    (the GQA uptraining recipe of Ainslie et al. 2023, "mean pooling"; changes the function)."""
    out = dict(sd)
    for L in range(_n_layers(sd)):
        for r in ("k", "v"):
            w = sd[_k(L, r)]
            hd = w.shape[0] // n_kv_heads
            heads = w.reshape(n_kv_heads, hd, -1)
            if new_kv_heads >= n_kv_heads:
                heads = np.repeat(heads, new_kv_heads // n_kv_heads, axis=0)
            else:
                heads = heads.reshape(new_kv_heads, n_kv_heads // new_kv_heads, hd, -1).mean(axis=1)
            out[_k(L, r)] = np.ascontiguousarray(heads.reshape(new_kv_heads * hd, -1), dtype=np.float32)
    return out


def prune_width(sd: dict, keep_fraction: float = 0.75) -> dict:
    """Residual-stream width pruning (Minitron, Sheared-LLaMA): keep the hidden channels with the largest embedding
    column norms, and slice every matrix and gain to them."""
    emb = sd["model.embed_tokens.weight"]
    d = emb.shape[1]
    keep = np.sort(np.argsort(-np.linalg.norm(emb, axis=0))[: int(d * keep_fraction)])
    out = {}
    for name, w in sd.items():
        w = np.asarray(w)
        if w.ndim == 1 and w.shape[0] == d or name.endswith(("o_proj.weight", "down_proj.weight")):
            out[name] = w[keep]
        elif w.ndim == 2 and w.shape[1] == d:
            out[name] = w[:, keep]
        else:
            out[name] = w
        out[name] = np.ascontiguousarray(out[name], dtype=np.float32)
    return out


def upcycle_moe(
    sd: dict, n_experts: int = 4, relative: float = 0.05, shared_expert: bool = False, seed: int = 0
) -> dict:
    """Sparse upcycling (Komatsuzaki et al. 2022): every expert a copy of the dense MLP, each then moved by its own
    small noise (standing in for the training that follows), plus a fresh router; canonical (Qwen2-MoE) names."""
    rng = np.random.default_rng(seed)
    out = {k: v for k, v in sd.items() if ".mlp." not in k}
    for L in range(_n_layers(sd)):
        p = f"model.layers.{L}.mlp."
        dense = {r: sd[_k(L, r)] for r in ("gate", "up", "down")}
        units = [f"experts.{e}." for e in range(n_experts)] + (["shared_expert."] if shared_expert else [])
        for u in units:
            for r, w in dense.items():
                noise = relative * w.std() * rng.standard_normal(w.shape)
                out[f"{p}{u}{r}_proj.weight"] = (w + noise).astype(np.float32)
        d = dense["gate"].shape[1]
        out[p + "gate.weight"] = (0.02 * rng.standard_normal((n_experts, d))).astype(np.float32)
        if shared_expert:
            out[p + "shared_expert_gate.weight"] = (0.02 * rng.standard_normal((1, d))).astype(np.float32)
    return out
