"""The tail model's GPD fit (analytics/tail.py) against scipy's generic maximum likelihood, on
simulated laws with known parameters and on the real JGB/UST histories."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import genpareto

from analytics.moves import level_transform
from analytics.tail import fit_tail, gpd_mle, tail_probability


def _ll(y, xi, beta) -> float:
    return float(genpareto.logpdf(y, xi, 0.0, beta).sum())


def _scipy_fit(y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xi, _, beta = genpareto.fit(y, floc=0.0)
    return xi, beta


@pytest.mark.parametrize("xi", [-0.3, 0.0, 0.2, 0.5, 0.8])
def test_the_fit_is_scipys_optimum_or_better(xi):
    rng = np.random.default_rng(11)
    for n in (40, 125, 600):
        y = genpareto.rvs(xi, scale=rng.uniform(0.2, 5.0), size=n, random_state=rng)
        ours, theirs = gpd_mle(y), _scipy_fit(y)
        assert _ll(y, *ours) >= _ll(y, *theirs) - 1e-9 * abs(_ll(y, *theirs))
        assert ours[0] == pytest.approx(theirs[0], abs=2e-3)
        assert ours[1] == pytest.approx(theirs[1], rel=2e-3)


def test_it_recovers_known_parameters():
    y = genpareto.rvs(0.25, scale=2.0, size=20000, random_state=np.random.default_rng(5))
    xi, beta = gpd_mle(y)
    assert xi == pytest.approx(0.25, abs=0.03) and beta == pytest.approx(2.0, rel=0.04)


def test_exponential_and_degenerate_samples():
    y = np.random.default_rng(2).exponential(3.0, 5000)
    xi, beta = gpd_mle(y)
    assert abs(xi) < 0.04 and beta == pytest.approx(3.0, rel=0.05)
    assert all(math.isnan(v) for v in gpd_mle(np.array([1.0])))
    assert all(math.isnan(v) for v in gpd_mle(np.array([1.0, 0.0, 2.0])))     # not all > 0


@pytest.mark.parametrize("sid", ["jgb_10y", "jgb_30y", "ust_10y"])
def test_on_the_real_histories_the_tail_probability_matches_scipys_fit(sid, jgb_obs, fred_obs):
    o = jgb_obs if sid.startswith("jgb") else fred_obs
    v = o[(o["series_id"] == sid) & (o["ts"] >= "2000-01-01")].sort_values("ts")["value"].to_numpy(float)
    moves = np.abs(np.diff(level_transform(v, "bp")))
    fit = fit_tail(moves)
    assert fit is not None and -0.5 < fit.xi < 1.0 and fit.n_u >= 100
    u = float(np.quantile(moves, 0.95))
    exc = moves[moves > u] - u
    xi_s, beta_s = _scipy_fit(exc)
    assert fit.xi == pytest.approx(xi_s, abs=2e-3) and fit.beta == pytest.approx(beta_s, rel=2e-3)
    record = float(moves.max())
    p, lo, hi = tail_probability(fit, record)
    y = record - u
    p_scipy = fit.zeta * float(genpareto.sf(y, xi_s, 0.0, beta_s))
    assert p == pytest.approx(p_scipy, rel=0.02)
    assert lo < p < hi


def test_tick_sized_ties_at_the_largest_move_do_not_send_the_fit_to_the_unbounded_edge():
    """Moves in whole basis points (the Treasury file): several exceedances tie at the largest, and
    towards θ = −1/max y the likelihood grows without bound (ξ ≤ −1). The fit must find the interior
    optimum scipy finds (UST 20Y, 2000 → 2008-09-18: ξ ≈ 0.33), not give up. Near-zero exceedances
    (float noise at the threshold) make it unbounded again as β → 0."""
    rng = np.random.default_rng(2)
    level = 4.0 + np.cumsum(np.round(rng.standard_t(3, 2200) * 3.0)) / 100.0   # yields in whole bp
    moves = np.abs(np.diff(level_transform(level, "bp")))
    u = float(np.quantile(moves, 0.95))
    y = moves[moves > u] - u
    assert y.min() < 1e-9                                        # the threshold's float noise
    ours, theirs = gpd_mle(y), _scipy_fit(y)
    assert math.isfinite(ours[0]) and -1.0 < ours[0] < 1.0 and ours[0] == pytest.approx(theirs[0], abs=2e-3)
    assert _ll(y, *ours) >= _ll(y, *theirs) - 1e-9 * abs(_ll(y, *theirs))
