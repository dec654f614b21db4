"""Move statistics: σ estimators, floors, z and rarity — pure numpy, vectorised across series.

Layout used throughout: a matrix with one column per series and one row per *own observation*
of that series (left-aligned, NaN-padded below the series' end). Row k of a move matrix holds
the move that ends at observation k; row 0 (and rows < h for an h-day move) have no move.
Series never share a calendar here, so nothing is ever forward-filled across a holiday.

Definitions (they reproduce /shared/data/verify/expected_event_zscores_2026-01-20_SELF_COMPUTED.json):
- every σ comes from moves that end at t−1 ("forecast after observation t−1");
- w60 / w250: μ̂ = window mean, σ̂ = sample std (ddof=1) of the previous 60 / 250 1-day moves;
- ewma: μ̂ = 0; σ̂² seeded with the sample variance of the series' first 20 moves, then
  σ̂² ← λσ̂² + (1−λ)d² (λ = 0.94) for every later move up to t−1;
- mad250: μ̂ = window median, σ̂ = 1.4826 × median |d − median| of the previous 250 moves;
- floor: σ = max(σ̂, floor_abs, floor_frac × long-run σ), long-run σ = sample std of all moves
  up to t−1 (causal); see `MoveParams`;
- h-day moves (h = 2, 5): σ_h = √h·σ_1 and μ_h = h·μ_1 from the same 1-day windows (see
  docs/MOVE_STATS.md for why);
- rarity: share p of past same-horizon moves (ending before t) with |move| ≥ |this move|,
  return period = 1/(p × observations per year), normal-equivalent σ = Φ⁻¹(1 − p/2).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.stats import norm

from analytics.types import ESTIMATORS

__all__ = [
    "MoveParams", "WINDOWS", "ESTIMATORS", "sigma_forecast", "sigma_history", "ewma_variance",
    "apply_floor", "zscores", "rarity_figures", "normal_equivalent_sigma",
    "NS_PER_YEAR",
]

WINDOWS: dict[str, int] = {"w60": 60, "w250": 250}
MAD_WINDOW = 250
MAD_SCALE = 1.4826
NS_PER_YEAR = 365.25 * 86400e9


@dataclass(frozen=True)
class MoveParams:
    """Tunable choices of the move statistics (defaults are the documented desk settings)."""

    horizons: tuple[int, ...] = (1, 2, 5)
    ewma_lambda: float = 0.94
    ewma_seed: int = 20              # first σ̂² = sample variance of the first 20 moves
    # σ floor = max(floor_abs[unit], floor_frac × long-run σ). 0.5, not the BRIEF's "e.g. 0.25":
    # with 0.25 the floor does not bind on 2022-12-20 (JGB 10Y σ250 1.04 bp > 0.25 × 3.54 bp),
    # and z250 stays at 14.3 (z60 24.7, z_ewma 37) — the case the floor exists for.
    floor_abs: Mapping[str, float] = field(default_factory=lambda: {"bp": 1.0, "logpct": 0.01})
    floor_frac: float = 0.5
    longrun_min: int = 60            # moves needed before the long-run σ enters the floor
    rarity_since: pd.Timestamp | None = None   # None: all history before t
    obs_per_year: float | None = None          # None: the series' own observation rate
    tie_tol: float = 1e-9            # |past| ≥ |x| − tol: equal moves tie despite float noise
    single_print_share: float = 0.8
    profile_sessions: int = 20       # intraday: sessions the time-of-day profile averages
    profile_min_sessions: int = 5    # fewer → flat profile

    def floor_for(self, unit: str) -> float:
        return float(self.floor_abs.get(unit, 0.0))


def ewma_variance(moves: np.ndarray, lam: float, seed: int) -> np.ndarray:
    """EWMA variance forecasts: row k = σ̂² after the move of row k (moves start at row 1).

    Row `seed` = sample variance of rows 1..seed; later rows λ·prev + (1−λ)·d². Rows < seed NaN.
    Works on a 1-D array or column-wise on a 2-D matrix.
    """
    m = np.asarray(moves, dtype="float64")
    out = np.full(m.shape, np.nan)
    if m.shape[0] <= seed:
        return out
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s0 = np.var(m[1:seed + 1], axis=0, ddof=1)
    out[seed] = s0
    rest = m[seed + 1:] ** 2
    if rest.shape[0]:
        zi = np.expand_dims(lam * s0, 0)   # direct-form state: y[-1] enters as λ·y[-1]
        y, _ = lfilter([1.0 - lam], [1.0, -lam], rest, axis=0, zi=zi)
        out[seed + 1:] = y
    return out


def _gather(moves: np.ndarray, last: np.ndarray, width: int) -> np.ndarray:
    """width × S block of rows last−width+1..last per column (NaN outside the series)."""
    cols = np.arange(moves.shape[1])
    idx = last[None, :] - np.arange(width - 1, -1, -1)[:, None]
    ok = (idx >= 0) & (last[None, :] >= 0)
    block = moves[np.clip(idx, 0, moves.shape[0] - 1), cols[None, :]]
    return np.where(ok, block, np.nan)


def sigma_forecast(moves: np.ndarray, last: np.ndarray, params: MoveParams,
                   ewma: np.ndarray | None = None, longrun: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """σ̂ and μ̂ per estimator from the 1-day moves up to row `last` (per column), unfloored.

    Returns {"mu_<est>", "sigma_<est>" for est in ESTIMATORS, "longrun"}, each shape (S,).
    A window that is not full yields NaN (no z before the history exists).
    """
    moves = np.asarray(moves, dtype="float64")
    last = np.asarray(last, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, w in WINDOWS.items():
            block = _gather(moves, last, w)
            out[f"mu_{name}"] = block.mean(axis=0)
            out[f"sigma_{name}"] = block.std(axis=0, ddof=1)
        block = _gather(moves, last, MAD_WINDOW)
        med = np.median(block, axis=0)
        out["mu_mad250"] = med
        out["sigma_mad250"] = MAD_SCALE * np.median(np.abs(block - med), axis=0)
        if ewma is None:
            ewma = ewma_variance(moves, params.ewma_lambda, params.ewma_seed)
        cols = np.arange(moves.shape[1])
        e = ewma[np.clip(last, 0, moves.shape[0] - 1), cols]
        out["mu_ewma"] = np.zeros(moves.shape[1])
        out["sigma_ewma"] = np.where(last >= 0, np.sqrt(e), np.nan)
        if longrun is not None:      # caller computed it already (one pass fewer)
            out["longrun"] = longrun
            return out
        # Long-run σ: every move up to `last` (two-pass, ddof=1).
        rows = np.arange(moves.shape[0])[:, None]
        mask = (rows <= last[None, :]) & ~np.isnan(moves)
        n = mask.sum(axis=0)
        mean = np.where(mask, moves, 0.0).sum(axis=0) / n
        var = np.where(mask, (moves - mean) ** 2, 0.0).sum(axis=0) / (n - 1)
        out["longrun"] = np.where(n >= params.longrun_min, np.sqrt(var), np.nan)
        out["longrun_n"] = n
    return out


def sigma_history(moves: np.ndarray, params: MoveParams, *, mad: bool = True) -> dict[str, np.ndarray]:
    """Like `sigma_forecast` but for every row (row k: σ̂ after the move of row k), n × S.

    w60/w250 via pandas rolling, MAD via sliding windows (costly: keep `mad` for few series).
    """
    moves = np.atleast_2d(np.asarray(moves, dtype="float64").T).T
    df = pd.DataFrame(moves)
    out: dict[str, np.ndarray] = {}
    for name, w in WINDOWS.items():
        r = df.rolling(w, min_periods=w)
        out[f"mu_{name}"] = r.mean().to_numpy()
        out[f"sigma_{name}"] = r.std(ddof=1).to_numpy()
    e = ewma_variance(moves, params.ewma_lambda, params.ewma_seed)
    out["mu_ewma"] = np.where(np.isnan(e), np.nan, 0.0)
    out["sigma_ewma"] = np.sqrt(e)
    n, s = moves.shape
    mu_mad = np.full((n, s), np.nan)
    sd_mad = np.full((n, s), np.nan)
    if mad and n >= MAD_WINDOW:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            win = np.lib.stride_tricks.sliding_window_view(moves, MAD_WINDOW, axis=0)  # (n−W+1, S, W)
            med = np.median(win, axis=2)
            mu_mad[MAD_WINDOW - 1:] = med
            sd_mad[MAD_WINDOW - 1:] = MAD_SCALE * np.median(np.abs(win - med[..., None]), axis=2)
    out["mu_mad250"] = mu_mad
    out["sigma_mad250"] = sd_mad
    out["longrun"] = df.expanding(min_periods=params.longrun_min).std(ddof=1).to_numpy()
    return out


def apply_floor(sigma: np.ndarray, longrun: np.ndarray, unit: str, params: MoveParams) -> np.ndarray:
    """max(σ̂, floor_abs, floor_frac × long-run σ); NaN σ̂ stays NaN (no history, no z)."""
    floor = np.fmax(params.floor_for(unit), params.floor_frac * longrun)
    return np.where(np.isnan(sigma), np.nan, np.fmax(sigma, floor))


def zscores(x: np.ndarray, fc: Mapping[str, np.ndarray], h: int | np.ndarray, unit: str | np.ndarray,
            params: MoveParams) -> dict[str, np.ndarray]:
    """z of h-day moves `x` against 1-day forecasts `fc`: μ_h = h·μ̂, σ_h = √h·σ̂ (raw and floored).

    `unit` may be one string or an array of per-column units.
    """
    out: dict[str, np.ndarray] = {}
    rh = np.sqrt(h)
    units = np.broadcast_to(np.asarray(unit, dtype=object), np.shape(x))
    floor_abs = np.array([params.floor_for(u) for u in units.ravel()], dtype="float64").reshape(np.shape(x))
    floor = np.fmax(floor_abs, params.floor_frac * fc["longrun"])
    with np.errstate(invalid="ignore", divide="ignore"):
        for est in ESTIMATORS:
            mu = h * fc[f"mu_{est}"]
            raw = rh * fc[f"sigma_{est}"]
            fl = np.where(np.isnan(raw), np.nan, np.fmax(raw, rh * floor))
            out[f"mu_{est}"] = mu
            out[f"sigma_raw_{est}"] = raw
            out[f"sigma_{est}"] = fl
            out[f"z_raw_{est}"] = np.where(raw > 0, (x - mu) / raw, np.nan)
            out[f"z_{est}"] = np.where(fl > 0, (x - mu) / fl, np.nan)
    out["floor"] = rh * floor
    return out


def normal_equivalent_sigma(p: float | np.ndarray) -> np.ndarray:
    """Φ⁻¹(1 − p/2): the two-sided normal move as rare as share p (p = 0 → inf)."""
    return norm.isf(np.asarray(p, dtype="float64") / 2.0)


def rarity_figures(count: np.ndarray, n: np.ndarray, first_ns: np.ndarray, last_ns: np.ndarray,
                   obs_per_year: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(share, return period in years, normal-equivalent σ) from `rarity_counts`.

    Observations per year default to the series' own rate over the same history:
    (n − 1) / span. No past move as big → share 0, return period and σ-equivalent inf.
    """
    count = np.asarray(count, dtype="float64")
    n = np.asarray(n, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, count / n, np.nan)
        if obs_per_year is None:
            span = (np.asarray(last_ns, dtype="float64") - np.asarray(first_ns, dtype="float64")) / NS_PER_YEAR
            rate = np.where((n > 1) & (span > 0), (n - 1) / span, np.nan)
        else:
            rate = np.full(share.shape, float(obs_per_year))
        period = np.where(share > 0, 1.0 / (share * rate), np.where(n > 0, math.inf, np.nan))
        period = np.where(np.isnan(rate), np.nan, period)
        neq = np.where(np.isnan(share), np.nan, normal_equivalent_sigma(np.nan_to_num(share, nan=1.0)))
    return share, period, neq
