"""Tail model for moves at or beyond the largest seen: peaks over threshold, generalized Pareto.

The empirical rarity of a move no past move has matched is "never seen in n moves": it says
only how long the history is. Above a high threshold u (the 95th percentile of |moves| on the
rarity base) the exceedances y = |x| − u follow a generalized Pareto law (Pickands–Balkema–de
Haan); fitted by maximum likelihood (location 0; the profile likelihood in θ = ξ/β of Grimshaw
1993, searched on a grid and refined by Brent — the optimum scipy's generic `genpareto.fit`
approaches, in ~1 ms instead of ~25 ms: tests/unit/analytics/test_stats.py) it gives

    P(|X| ≥ x) = ζ_u · (1 + ξ (x − u) / β)^(−1/ξ)        (ζ_u = share of moves above u)

and a 95 % interval from the delta method on log P with the GPD's expected information
(Smith 1985, valid for ξ > −½) plus the binomial variance of ζ_u.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = ["TailFit", "fit_tail", "tail_probability"]


@dataclass(frozen=True)
class TailFit:
    u: float          # threshold
    xi: float         # shape
    beta: float       # scale
    zeta: float       # share of moves above u
    n: int            # moves the fit saw
    n_u: int          # exceedances

    def probability(self, x: float, z: float = 0.0) -> float:
        """P(|X| ≥ x), shifted by z standard errors on the log scale (z = ±1.96: the interval)."""
        y = max(float(x) - self.u, 0.0)
        xi, b = self.xi, self.beta
        if abs(xi) < 1e-9:
            logp = math.log(self.zeta) - y / b
            g_xi, g_b = 0.5 * (y / b) ** 2, y / b ** 2
        else:
            t = 1.0 + xi * y / b
            if t <= 0.0:          # beyond the end of a bounded (ξ < 0) tail
                return 0.0
            logp = math.log(self.zeta) - math.log(t) / xi
            g_xi = math.log(t) / xi ** 2 - (y / b) / (xi * t)
            g_b = (y / b ** 2) / t
        if z:
            logp += z * self._se(g_xi, g_b)
        return min(math.exp(logp), 1.0)

    def _se(self, g_xi: float, g_b: float) -> float:
        xi, b = max(self.xi, -0.45), self.beta
        c = 1.0 / ((1.0 + xi) * (1.0 + 2.0 * xi))
        info = np.array([[2.0 * c, c / b], [c / b, 1.0 / (b ** 2 * (1.0 + 2.0 * xi))]]) * self.n_u
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            return math.inf
        g = np.array([g_xi, g_b])
        var = float(g @ cov @ g) + (1.0 - self.zeta) / (self.zeta * self.n)
        return math.sqrt(max(var, 0.0))


def _profile(theta: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log-likelihood, ξ) of the GPD (location 0) at θ = ξ/β with ξ at its optimum for θ:
    ξ(θ) = mean log(1 + θy), β = ξ/θ, ℓ = −n log β − n − n ξ (θ → 0: the exponential law)."""
    t = np.asarray(theta, dtype="float64")[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        xi = np.log1p(t * y).mean(axis=-1)
        tt = t[..., 0]
        beta = np.where(np.abs(tt) * y.max() < 1e-12, y.mean(), xi / tt)
        ll = -len(y) * (np.log(beta) + 1.0 + xi)
    # Only −1 < ξ < 1: for ξ ≤ −1 the likelihood grows without bound towards θ = −1/max y, and with
    # near-zero exceedances (ties at the threshold, float noise) it does again as β → 0 with ξ ≫ 1;
    # the optimum sought is the interior one (a fit with ξ ≥ 1 is refused by `fit_tail` anyway).
    return np.where(np.isfinite(ll) & (beta > 0) & (xi > -1.0) & (xi < 1.0), ll, -np.inf), xi


def gpd_mle(y: np.ndarray) -> tuple[float, float]:
    """(ξ, β) maximising the GPD log-likelihood of exceedances y > 0 (location 0); (nan, nan)
    when there is no interior optimum. θ = ξ/β lives on (−1/max y, ∞): a grid over both signs
    (dense near −1/max y and near 0), then bounded Brent between the best point's neighbours;
    the region ξ ≤ −1, where the likelihood is unbounded, is left out."""
    y = np.asarray(y, dtype="float64")
    if len(y) < 2 or not np.all(y > 0):
        return math.nan, math.nan
    lo, scale = -1.0 / y.max(), 1.0 / y.mean()
    grid = np.unique(np.concatenate([
        lo * (1.0 - np.geomspace(1e-9, 1.0, 48)[:-1]),            # (−1/max y, 0)
        np.geomspace(1e-6, 1e6, 73) * scale]))                     # (0, 10⁶/mean y]
    ll, _ = _profile(grid, y)
    i = int(np.argmax(ll))
    if not np.isfinite(ll[i]) or i in (0, len(grid) - 1):         # on the edge: no interior optimum
        return math.nan, math.nan
    a, b = grid[i - 1], grid[i + 1]
    tol = 1e-12 * max(abs(a), abs(b))
    res = minimize_scalar(lambda t: min(-float(_profile(np.array([t]), y)[0][0]), 1e300), bounds=(a, b),
                          method="bounded", options={"xatol": tol})
    t = float(res.x) if res.success and -res.fun >= ll[i] else float(grid[i])
    for edge, v in ((a, ll[i - 1]), (b, ll[i + 1])):
        if not np.isfinite(v) and abs(t - edge) <= 1e3 * tol + 1e-9 * abs(edge):
            return math.nan, math.nan          # climbing into the region left out: no interior optimum
    ll_t, xi = _profile(np.array([t]), y)
    xi = float(xi[0])
    beta = xi / t if abs(t) * y.max() >= 1e-12 else float(y.mean())
    return xi, beta


def fit_tail(abs_moves: np.ndarray, *, quantile: float = 0.95, min_exceed: int = 30) -> TailFit | None:
    """Fit the exceedances of |moves| over their `quantile`; None when too few or the fit fails."""
    a = np.asarray(abs_moves, dtype="float64")
    a = a[np.isfinite(a)]
    if len(a) == 0:
        return None
    u = float(np.quantile(a, quantile))
    exc = a[a > u] - u
    if len(exc) < min_exceed or not np.any(exc > 0):
        return None
    xi, beta = gpd_mle(exc)
    # A shape outside (−½, 1) is a degenerate fit (a grid of tick-sized moves, a few huge ones):
    # no estimate rather than "once in 10^25 years".
    if not (math.isfinite(xi) and math.isfinite(beta) and beta > 0 and -0.5 < xi < 1.0):
        return None
    return TailFit(u=u, xi=float(xi), beta=float(beta), zeta=len(exc) / len(a), n=len(a), n_u=len(exc))


def tail_probability(fit: TailFit | None, x: float) -> tuple[float, float, float]:
    """(P, P_low, P_high) of |X| ≥ x: the estimate and its 95 % interval (NaN without a fit)."""
    if fit is None:
        return math.nan, math.nan, math.nan
    return fit.probability(x), fit.probability(x, -1.96), fit.probability(x, 1.96)
