"""The neuron-matching test shared by the stored-feature comparison (``compare``) and the deep comparison (``deep``),
in its own module so neither of those imports the other."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from fingerprints.stats import spearman, spearman_ln_p

MAX_NEURONS = 512  # suspect neurons tested per layer (z grows as √n; 512 gives z ≈ 22 for an exact match)


def _rownorm(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def neuron_test(ga: np.ndarray, ua: np.ndarray, gb: np.ndarray, ub: np.ndarray, inflation: float) -> dict:
    """Matchings of MLP neurons from two independent views of each neuron (already in one residual basis) and their
    agreement: gate rows and up rows for a gated MLP; up rows and down columns for a plain one."""
    fb, fa = gb.shape[0], ga.shape[0]
    n = min(MAX_NEURONS, fb, fa)
    sub = np.unique(np.linspace(0, fb - 1, n).round().astype(int))
    n = len(sub)
    sg = _rownorm(gb[sub]) @ _rownorm(ga).T
    _, pg = linear_sum_assignment(sg, maximize=True)
    _, pu = linear_sum_assignment(_rownorm(ub[sub]) @ _rownorm(ua).T, maximize=True)
    rho = spearman(pg, pu)
    return {
        "rho": rho,
        "n": n,
        "agreement": float(np.mean(pg == pu)),
        "matched_cos": float(np.min(sg[np.arange(n), pg])),
        "ln_p": spearman_ln_p(rho, n, inflation),
        "identity_fraction": float(np.mean(pg == sub)) if fa == fb else None,
    }
