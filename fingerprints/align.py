"""Residual-basis alignment from the embeddings of shared tokens (fingerprinting.md, section A).

Two candidates are computed: a signed permutation (linear assignment on |column correlations| — undoes
permutations and sign flips of the hidden dimensions) and an orthogonal Procrustes solution (Q = U Vᵀ from the SVD
of E_Aᵀ E_B — also undoes rotations). The one that reconstructs E_B better is used; the permutation is preferred when
it fits almost as well. The alignment itself is never taken as evidence: independent models always get *some*
alignment, and only the downstream neuron test (with a calibrated null) decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

# Mean |correlation| of matched hidden dimensions above which the permutation is taken whatever Procrustes fits:
# under a real rotation every column is a mix of many, and matched correlations stay far below this.
PERMUTATION_QUALITY = 0.9


@dataclass
class Alignment:
    q: np.ndarray  # [d_reference, d_suspect]: h_suspect ≈ h_reference @ q
    kind: str  # "identity" | "signed-permutation" | "channel-subset" | "rotation" | "none-found"
    permutation_quality: float  # mean |column correlation| of the matched hidden dimensions
    fit_residual: float  # ‖s·E_A Q − E_B‖ / ‖E_B‖ for the chosen Q (0 = exact)
    procrustes_residual: float
    permutation_residual: float

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "permutation_quality": round(self.permutation_quality, 4),
            "fit_residual": round(self.fit_residual, 4),
            "procrustes_residual": round(self.procrustes_residual, 4),
            "permutation_residual": round(self.permutation_residual, 4),
        }


def _residual(ea: np.ndarray, eb: np.ndarray, x: np.ndarray) -> float:
    """‖s·X − E_B‖ / ‖E_B‖ for X = E_A·Q (given), with the best scalar s."""
    xx = float(np.vdot(x, x))
    s = float(np.vdot(x, eb)) / xx if xx > 0 else 0.0
    nb = float(np.linalg.norm(eb))
    return float(np.linalg.norm(s * x - eb) / nb) if nb > 0 else 1.0


def _residual_from(cross: float, xx: float, bb: float) -> float:
    """``_residual`` from ⟨X, E_B⟩, ‖X‖² and ‖E_B‖² (the best scalar s = ⟨X, E_B⟩ / ‖X‖²)."""
    if bb <= 0:
        return 1.0
    if xx <= 0:
        return 1.0
    return float(np.sqrt(max(0.0, bb - cross * cross / xx) / bb))


def rotation(q: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A function computing ``w @ q``: by column gather and sign when ``q`` is a signed (partial) permutation — the
    usual alignment — without the matmul; the identity returns ``w`` itself."""
    nz = q != 0
    signed_perm = (
        nz.sum(axis=0).max(initial=0) <= 1 and nz.sum(axis=1).max(initial=0) <= 1 and bool(np.all(np.abs(q[nz]) == 1))
    )
    if not signed_perm:
        return lambda w: w @ q.astype(w.dtype, copy=False)
    rows, cols = np.nonzero(nz)
    order = np.argsort(cols, kind="stable")  # output column j takes input column rows[j]
    rows, cols = rows[order], cols[order]
    signs = q[rows, cols]
    full = len(cols) == q.shape[1] and np.array_equal(cols, np.arange(q.shape[1]))
    if full and np.array_equal(rows, cols) and np.all(signs > 0):
        return lambda w: w
    if full:
        flip = bool(np.any(signs < 0))

        def gather(w: np.ndarray) -> np.ndarray:
            out = np.take(w, rows, axis=-1)  # three times faster than w[..., rows]
            if flip:
                out *= signs.astype(out.dtype)
            return out

        return gather

    def partial(w: np.ndarray) -> np.ndarray:
        out = np.zeros(w.shape[:-1] + (q.shape[1],), dtype=np.result_type(w, q))
        out[..., cols] = np.take(w, rows, axis=-1) * signs
        return out

    return partial


def rotate(w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``w @ q``, cheaply when ``q`` is a signed permutation (see :func:`rotation`)."""
    return rotation(q)(w)


def _centred_norms(x: np.ndarray, mu: np.ndarray, rows: int = 2048) -> np.ndarray:
    """‖x[:, j] − μ_j‖ per column, a block of rows at a time (no n×d temporary)."""
    acc = np.zeros(x.shape[1])
    m = mu.astype(x.dtype)
    for r in range(0, x.shape[0], rows):
        d = x[r : r + rows] - m
        acc += np.einsum("ij,ij->j", d, d)
    return np.sqrt(acc)


def _order_preserving(rows: np.ndarray, cols: np.ndarray, qp: np.ndarray) -> bool:
    """The matched channels keep their order and sign on both sides (one side is a subset of the other's)."""
    order = np.argsort(rows, kind="stable")
    return bool(np.all(np.diff(cols[order]) > 0) and np.all(qp[rows, cols] > 0))


def align_residual(ea: np.ndarray, eb: np.ndarray) -> Alignment:
    """``ea`` [n, d_A], ``eb`` [n, d_B]: embedding rows of the same n shared tokens.

    Works in the inputs' precision (float32 for checkpoints, so the n×d products run at float32 speed; reductions
    in float64). One product E_Aᵀ E_B serves both candidates: the column correlations are it, centred and scaled.
    """
    dt = np.result_type(ea.dtype, eb.dtype, np.float32)
    ea = np.ascontiguousarray(ea, dtype=dt)
    eb = np.ascontiguousarray(eb, dtype=dt)
    n = ea.shape[0]
    da, db = ea.shape[1], eb.shape[1]
    m = ea.T @ eb
    mu_a, mu_b = ea.mean(axis=0, dtype=np.float64), eb.mean(axis=0, dtype=np.float64)
    sd_a, sd_b = _centred_norms(ea, mu_a), _centred_norms(eb, mu_b)
    cov = m.astype(np.float64) - n * np.outer(mu_a, mu_b)
    c = cov / np.outer(np.where(sd_a > 0, sd_a, 1.0), np.where(sd_b > 0, sd_b, 1.0))
    rows, cols = linear_sum_assignment(-np.abs(c))
    qp = np.zeros((da, db))
    qp[rows, cols] = np.sign(c[rows, cols])
    perm_quality = float(np.abs(c[rows, cols]).mean())
    u, _, vt = np.linalg.svd(m, full_matrices=False)  # in the working precision: float32 is half the time
    qo = (u @ vt).astype(np.float64)
    # Both residuals from M = E_Aᵀ E_B and column norms, without another n×d product:
    # ‖s·E_A Q − E_B‖² = s²‖E_A Q‖² − 2s⟨E_A Q, E_B⟩ + ‖E_B‖², with ⟨E_A Q, E_B⟩ = Σ Q∘M.
    m64 = m.astype(np.float64)
    col_sq_a = _centred_norms(ea, np.zeros(da)) ** 2
    nb2 = float((_centred_norms(eb, np.zeros(db)) ** 2).sum())
    rp = _residual_from(float((qp * m64).sum()), float(col_sq_a[rows].sum()), nb2)
    if da == db:  # Q orthogonal: ‖E_A Q‖ = ‖E_A‖
        ro = _residual_from(float((qo * m64).sum()), float(col_sq_a.sum()), nb2)
    else:
        ro = _residual(ea, eb, ea @ qo.astype(dt))
    # Procrustes always fits a little better (d² free parameters fit noise too, e.g. 4-bit quantization noise);
    # columns that already match one to one with high correlation mean the bases are a signed permutation.
    if rp <= 1.05 * ro + 0.01 or perm_quality >= PERMUTATION_QUALITY:
        q, kind, res = qp, "signed-permutation", rp
        if da == db and np.array_equal(qp, np.eye(da)):
            kind = "identity"
        elif da != db and _order_preserving(rows, cols, qp):
            kind = "channel-subset"  # width pruning: a subset of channels kept in their order, nothing permuted
    else:
        q, kind, res = qo, "rotation", ro
    if res > 0.9:
        kind = "none-found"
    return Alignment(
        q=q.astype(np.float32),
        kind=kind,
        permutation_quality=perm_quality,
        fit_residual=res,
        procrustes_residual=ro,
        permutation_residual=rp,
    )
