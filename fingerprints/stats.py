"""Small statistics kept in log space: unbiased CKA, Spearman z-scores, Fisher's combination.

p-values for derived models are far below the smallest float64 (1e-308), so everything is carried as natural-log
p (``ln_p``) and converted to log10 only for reporting (fingerprinting.md, section B).
"""

from __future__ import annotations

import math

import numpy as np

LN10 = math.log(10.0)
_LN_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


# Plain-math versions of the three scipy functions used here: importing scipy.stats costs about a second, which is
# most of a fingerprint-against-fingerprint `provenance compare` process. The tests check them against scipy.
def norm_logsf(z: float) -> float:
    """ln P(Z > z) for a standard normal Z, finite for any z (no underflow in the far tail)."""
    z = float(z)
    if z < 0:
        return math.log1p(-0.5 * math.erfc(-z / math.sqrt(2.0)))
    if z < 30.0:
        return math.log(0.5 * math.erfc(z / math.sqrt(2.0)))
    # Mills-ratio expansion: sf(z) = φ(z)/z · (1 - 1/z² + 3/z⁴ - 15/z⁶ + 105/z⁸ …); relative error < 1e-12 here.
    w = 1.0 / (z * z)
    series = 1.0 - w * (1.0 - 3.0 * w * (1.0 - 5.0 * w * (1.0 - 7.0 * w)))
    return -0.5 * z * z - math.log(z) - _LN_SQRT_2PI + math.log(series)


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (scipy.stats.rankdata's default)."""
    x = np.asarray(x).reshape(-1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)  # rank of the last member of each group of equal values
    return (ends - (counts - 1) / 2.0)[inverse].astype(np.float64)


def _logsumexp(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    m = float(a.max())
    return m + math.log(float(np.exp(a - m).sum()))


def hsic_u_matrix(ks: np.ndarray, ls: np.ndarray) -> np.ndarray:
    """Unbiased HSIC between every pair of Gram matrices: ks [a, n, n], ls [b, n, n] -> [a, b].

    Song et al. (2012) estimator with zeroed diagonals, as written in fingerprinting.md (A.4):
    HSIC_u = [tr(KL) + (1'K1)(1'L1)/((n-1)(n-2)) - 2 1'KL1/(n-2)] / (n(n-3)).
    """
    ks = np.array(ks, dtype=np.float64)
    ls = np.array(ls, dtype=np.float64)
    n = ks.shape[-1]
    idx = np.arange(n)
    ks[:, idx, idx] = 0.0
    ls[:, idx, idx] = 0.0
    a, b = ks.reshape(len(ks), -1), ls.reshape(len(ls), -1)
    tr = a @ b.T  # tr(K L) = sum_ij K_ij L_ji = sum_ij K_ij L_ij for symmetric L
    rk, rl = ks.sum(axis=2), ls.sum(axis=2)  # K1, L1
    sk, sl = rk.sum(axis=1), rl.sum(axis=1)  # 1'K1, 1'L1
    cross = rk @ rl.T  # 1'K L 1 = (K1)·(L1)
    return (tr + np.outer(sk, sl) / ((n - 1) * (n - 2)) - 2.0 * cross / (n - 2)) / (n * (n - 3))


def u_center(ks: np.ndarray) -> np.ndarray:
    """U-centring of Gram matrices [a, n, n] (Székely & Rizzo 2014): with K̃ U-centred,
    HSIC_u(K, L) = <K̃, L̃> / (n(n-3)), the same estimator as :func:`hsic_u_matrix`, but one matmul for all pairs."""
    ks = np.array(ks, dtype=np.float64)
    n = ks.shape[-1]
    idx = np.arange(n)
    ks[:, idx, idx] = 0.0
    r = ks.sum(axis=2)
    s = r.sum(axis=1)
    out = ks - r[:, :, None] / (n - 2) - r[:, None, :] / (n - 2) + (s / ((n - 1) * (n - 2)))[:, None, None]
    out[:, idx, idx] = 0.0
    return out


def cka_u_matrix(ks: np.ndarray, ls: np.ndarray) -> np.ndarray:
    """Unbiased CKA for every pair (a, b) of Grams ks [a, n, n], ls [b, n, n]; 0 where a self-HSIC is not positive."""
    if ks.shape[-1] < 4:
        return np.zeros((len(ks), len(ls)))
    a = u_center(ks).reshape(len(ks), -1)
    b = u_center(ls).reshape(len(ls), -1)
    na, nb = np.einsum("ij,ij->i", a, a), np.einsum("ij,ij->i", b, b)
    den = np.sqrt(np.clip(np.outer(na, nb), 0.0, None))
    kl = a @ b.T
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, kl / np.where(den > 0, den, 1.0), 0.0)
    return np.clip(out, -1.0, 1.0)


def cka_u(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741 (k, l: the usual names of the two Gram matrices)
    return float(cka_u_matrix(k[None], l[None])[0, 0])


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    rx, ry = rankdata(x), rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    den = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / den if den > 0 else 0.0


def spearman_ln_p(rho: float, n: int, inflation: float = 1.0) -> float:
    """One-sided ln p of Spearman rho under independence: z = rho·sqrt(n-1) is ~N(0,1) for large n.

    ``inflation`` (≥ 1) widens the null when calibration on independent models shows a wider spread.
    """
    if n < 3:
        return 0.0
    return norm_logsf(rho * math.sqrt(n - 1) / max(1.0, inflation))


def fisher_ln_p(ln_ps: list[float] | np.ndarray) -> float:
    """Fisher's method in log space: X = -2 Σ ln p_i ~ χ²(2k) under the null; returns ln P(χ²_2k ≥ X).

    For even degrees of freedom the survival function is exact and finite:
    sf(x; 2k) = e^{-x/2} Σ_{i<k} (x/2)^i / i!, so ln sf = -x/2 + logsumexp_i(i ln(x/2) - ln i!).
    """
    ln_ps = np.asarray(ln_ps, dtype=np.float64)
    k = len(ln_ps)
    if k == 0:
        return 0.0
    half = -float(ln_ps.sum())  # x/2
    if half <= 0:
        return 0.0
    i = np.arange(k)
    ln_fact = np.array([math.lgamma(j + 1.0) for j in range(k)])
    return float(min(0.0, -half + _logsumexp(i * math.log(half) - ln_fact)))


def log10_p(ln_p: float) -> float:
    return ln_p / LN10


def p_value(ln_p: float) -> float:
    """The p-value as a float (0.0 once it underflows; log10 is reported beside it)."""
    return float(math.exp(ln_p)) if ln_p > -745 else 0.0
