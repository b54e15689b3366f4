"""Residual-basis alignment from the embeddings of shared tokens (fingerprinting.md, section A).

Two candidates are computed: a signed permutation (linear assignment on |column correlations| — undoes
permutations and sign flips of the hidden dimensions) and an orthogonal Procrustes solution (Q = U Vᵀ from the SVD
of E_Aᵀ E_B — also undoes rotations). The one that reconstructs E_B better is used; the permutation is preferred when
it fits almost as well. The alignment itself is never taken as evidence: independent models always get *some*
alignment, and only the downstream neuron test (with a calibrated null) decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass
class Alignment:
    q: np.ndarray  # [d_reference, d_suspect]: h_suspect ≈ h_reference @ q
    kind: str  # "identity" | "signed-permutation" | "rotation" | "none-found"
    permutation_quality: float  # mean |column correlation| of the matched hidden dimensions
    fit_residual: float  # ‖s·E_A Q − E_B‖ / ‖E_B‖ for the chosen Q (0 = exact)
    procrustes_residual: float
    permutation_residual: float

    def as_dict(self) -> dict:
        return {"kind": self.kind, "permutation_quality": round(self.permutation_quality, 4),
                "fit_residual": round(self.fit_residual, 4),
                "procrustes_residual": round(self.procrustes_residual, 4),
                "permutation_residual": round(self.permutation_residual, 4)}


def _colnorm(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=0, keepdims=True)
    n = np.linalg.norm(x, axis=0, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def _residual(ea: np.ndarray, eb: np.ndarray, q: np.ndarray) -> float:
    x = ea @ q
    xx = float(np.vdot(x, x))
    s = float(np.vdot(x, eb)) / xx if xx > 0 else 0.0
    nb = float(np.linalg.norm(eb))
    return float(np.linalg.norm(s * x - eb) / nb) if nb > 0 else 1.0


def align_residual(ea: np.ndarray, eb: np.ndarray) -> Alignment:
    """``ea`` [n, d_A], ``eb`` [n, d_B]: embedding rows of the same n shared tokens."""
    ea = ea.astype(np.float64)
    eb = eb.astype(np.float64)
    da, db = ea.shape[1], eb.shape[1]
    c = _colnorm(ea).T @ _colnorm(eb)
    rows, cols = linear_sum_assignment(-np.abs(c))
    qp = np.zeros((da, db))
    qp[rows, cols] = np.sign(c[rows, cols])
    perm_quality = float(np.abs(c[rows, cols]).mean())
    u, _, vt = np.linalg.svd(ea.T @ eb, full_matrices=False)
    qo = u @ vt
    rp, ro = _residual(ea, eb, qp), _residual(ea, eb, qo)
    if rp <= 1.05 * ro + 0.01:  # Procrustes always fits a little better (d² free parameters)
        q, kind, res = qp, "signed-permutation", rp
        if da == db and np.array_equal(qp, np.eye(da)):
            kind = "identity"
    else:
        q, kind, res = qo, "rotation", ro
    if res > 0.9:
        kind = "none-found"
    return Alignment(q=q.astype(np.float32), kind=kind, permutation_quality=perm_quality, fit_residual=res,
                     procrustes_residual=ro, permutation_residual=rp)
