"""The statistics kernel's primitives: σ forecasts, floor, z, rarity — pure numpy, vectorised.

Everything here works on VALID moves: the 1-day moves the data-quality gate let into the
statistics (analytics/quality.py), compacted per series into a matrix with one column per series
and one row per valid move, oldest first, NaN-padded below each series' end. A forecast "at
position c" uses the valid moves 0..c−1 — the moves that end before the move being judged — so
today's move is never inside its own σ (windows end at t−1).

One implementation serves every caller: `forecast_at` takes any list of (position, column)
items, so the live table (each series' newest move), the incremental update (the new move),
the history of one series (every position: the backtest and the series page's as-of view) all
run the same code. `docs/MOVE_STATS.md` holds the definitions:

- w60 / w250: μ̂ = window mean, σ̂ = sample std (ddof = 1) of the previous 60 / 250 valid moves;
- ewma: μ̂ = 0; σ̂² seeded with the sample variance of the first 20 valid moves, then
  σ̂² ← λσ̂² + (1−λ)d² (λ = 0.94) for every later valid move;
- mad250: μ̂ = window median, σ̂ = 1.4826 × median |d − median| of the previous 250;
- floor (a guard against frozen markets, not a second σ): max(floor_abs, floor_frac × σ̂_w250)
  with floor_abs 0.25 bp / 0.01 log-%, floor_frac 0.25 — it binds only when the recent σ has
  collapsed to a quarter of its one-year level;
- h-day moves (2, 5 days): σ_h = σ̂₁ · √(h · VR_h), μ_h = h · μ̂₁, with VR_h the variance ratio
  Var(h-day sums)/(h · Var(1-day)) of the last 500 valid moves (clipped to [0.5, 2]): the
  autocorrelation of daily moves is in the h-day σ, not assumed away;
- rarity: share p of earlier moves on the declared base (default since 2000-01-01) with
  |move| ≥ |x|; for h-day moves only the earlier NON-overlapping ones (same phase), so one big day
  is never counted twice; return period = h / (p × valid moves per year); a move no earlier one
  matched gets its return period from the tail model (analytics/tail.py); normal-equivalent
  σ = Φ⁻¹(1 − p/2).
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
    "MoveParams", "WINDOWS", "ESTIMATORS", "MAD_WINDOW", "MAD_SCALE", "VR_WINDOW", "NS_PER_YEAR",
    "ewma_variance", "forecast_at", "zscores", "rarity_figures", "normal_equivalent_sigma", "gather",
]

WINDOWS: dict[str, int] = {"w60": 60, "w250": 250}
MAD_WINDOW = 250
MAD_SCALE = 1.4826
VR_WINDOW = 500
NS_PER_YEAR = 365.25 * 86400e9
DEFAULT_BASE = pd.Timestamp("2000-01-01", tz="UTC")


@dataclass(frozen=True)
class MoveParams:
    """Tunable choices of the move statistics (defaults are the documented desk settings)."""

    horizons: tuple[int, ...] = (1, 2, 5)
    ewma_lambda: float = 0.94
    ewma_seed: int = 20              # first σ̂² = sample variance of the first 20 valid moves
    # σ floor = max(floor_abs[unit], floor_frac × σ̂_w250): binds on < 7 % of days since 2000 for
    # every series whose typical move is ≥ 1 bp (docs/MOVE_STATS.md has the table).
    floor_abs: Mapping[str, float] = field(default_factory=lambda: {"bp": 0.25, "logpct": 0.01})
    floor_frac: float = 0.25
    rarity_since: pd.Timestamp | None = DEFAULT_BASE   # the declared rarity base (None: all history)
    history_years: int = 2           # history kept before the base (σ windows warm up there)
    obs_per_year: float | None = None          # None: the series' own valid-move rate
    tie_tol: float = 1e-9            # |past| ≥ |x| − tol: equal moves tie despite float noise
    vr_window: int = VR_WINDOW
    vr_clip: tuple[float, float] = (0.5, 2.0)
    tail_quantile: float = 0.95      # peaks over the 95th percentile of |moves| on the base
    tail_min_moves: int = 1000       # a tail fit needs ≥ 4 years of moves on the base…
    tail_min_exceed: int = 30        # …and ≥ 30 exceedances
    single_print_share: float = 0.8
    profile_sessions: int = 20       # intraday: sessions the time-of-day profile averages
    profile_min_sessions: int = 5    # fewer → flat profile

    @classmethod
    def with_base(cls, base) -> "MoveParams":
        """The defaults with another declared rarity base (a date; `CM_RARITY_BASE`)."""
        return cls(rarity_since=pd.Timestamp(base, tz="UTC"))

    def floor_for(self, unit: str) -> float:
        return float(self.floor_abs.get(unit, 0.0))

    @property
    def base(self) -> pd.Timestamp | None:
        if self.rarity_since is None:
            return None
        t = pd.Timestamp(self.rarity_since)
        return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")

    @property
    def history_start(self) -> pd.Timestamp | None:
        """Statistics read no data before this (the same in live, replay and backtest)."""
        b = self.base
        return None if b is None else b - pd.DateOffset(years=self.history_years)


def ewma_variance(moves: np.ndarray, lam: float, seed: int) -> np.ndarray:
    """EWMA variance after each valid move: row j = σ̂² after moves 0..j (column-wise on 2-D).

    Row seed−1 = sample variance of rows 0..seed−1; later rows λ·prev + (1−λ)·d². Earlier NaN.
    """
    m = np.asarray(moves, dtype="float64")
    out = np.full(m.shape, np.nan)
    if m.shape[0] < seed:
        return out
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s0 = np.var(m[:seed], axis=0, ddof=1)
    out[seed - 1] = s0
    rest = m[seed:] ** 2
    if rest.shape[0]:
        zi = np.expand_dims(lam * s0, 0)   # direct-form state: y[-1] enters as λ·y[-1]
        y, _ = lfilter([1.0 - lam], [1.0, -lam], rest, axis=0, zi=zi)
        out[seed:] = y
    return out


def gather(V: np.ndarray, pos: np.ndarray, cols: np.ndarray, width: int) -> np.ndarray:
    """K × width block: for item i the valid moves pos[i]−width … pos[i]−1 of column cols[i],
    oldest first (NaN where that is before the series' start). Items on rows: every reduction
    then runs along memory (faster than down the columns of a width × K block)."""
    pos = np.asarray(pos, dtype=np.int64)
    idx = pos[:, None] - np.arange(width, 0, -1)[None, :]
    ok = idx >= 0
    if V.shape[0] == 0:
        return np.full((len(pos), width), np.nan)
    flat = np.clip(idx, 0, V.shape[0] - 1) * V.shape[1] + np.asarray(cols, dtype=np.int64)[:, None]
    block = np.ascontiguousarray(V).reshape(-1).take(flat)     # flat: cheaper than 2-D fancy indexing
    return np.where(ok, block, np.nan)


def forecast_at(V: np.ndarray, pos: np.ndarray, cols: np.ndarray, ewma: np.ndarray,
                params: MoveParams, horizons=(1,), estimators=ESTIMATORS) -> dict[str, np.ndarray]:
    """σ̂, μ̂ per estimator (raw, before the floor), the floor and the variance ratios for each
    item (pos[i], cols[i]): from the valid moves before position pos[i] of column cols[i].

    `ewma[i]` is the EWMA variance after move pos[i]−1 (NaN when not seeded). A window that is
    not full gives NaN (no z before the history exists). `estimators` limits the work (a scan of
    one estimator over a whole history); the others come back NaN.
    """
    pos = np.asarray(pos, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    multi = [h for h in horizons if h > 1]
    # One gather of the widest window; the shorter ones are its last rows (same values).
    widths = [w for name, w in WINDOWS.items() if name in estimators or name == "w250"]
    widths += [MAD_WINDOW] if "mad250" in estimators else []
    widths += [params.vr_window] if multi else []
    big = gather(V, pos, cols, max(widths))
    last = lambda w: big[:, big.shape[1] - w:]       # noqa: E731 — the w moves before pos
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        nan = np.full(len(pos), np.nan)
        for name, w in WINDOWS.items():
            if name not in estimators and name != "w250":     # w250 is the floor's base
                out[f"mu_{name}"], out[f"sigma_{name}"] = nan, nan
                continue
            b = last(w)
            out[f"mu_{name}"] = b.mean(axis=1)
            out[f"sigma_{name}"] = b.std(axis=1, ddof=1)
        out["mu_ewma"] = np.where(np.isnan(ewma), np.nan, 0.0)
        out["sigma_ewma"] = np.sqrt(ewma)
        out["floor_base"] = out["sigma_w250"]
        if multi:
            wide = last(params.vr_window)
            full = ~np.isnan(wide[:, 0])        # the oldest slot is filled only when all are
            v1 = wide.var(axis=1, ddof=1)
            lo, hi = params.vr_clip
            for h in multi:
                sums = sum(wide[:, i:wide.shape[1] - h + 1 + i] for i in range(h))
                vr = sums.var(axis=1, ddof=1) / (h * v1)
                out[f"vr{h}"] = np.where(full, np.clip(vr, lo, hi), 1.0)
        # Last: the medians partition `big` in place (each column keeps its values, reordered).
        if "mad250" in estimators:
            b = last(MAD_WINDOW)
            med = np.median(b, axis=1, overwrite_input=True)
            out["mu_mad250"] = med
            out["sigma_mad250"] = MAD_SCALE * np.median(np.abs(b - med[:, None]), axis=1, overwrite_input=True)
        else:
            out["mu_mad250"], out["sigma_mad250"] = nan, nan
    return out


def zscores(x: np.ndarray, fc: Mapping[str, np.ndarray], h: int, unit, params: MoveParams) -> dict[str, np.ndarray]:
    """z of h-day moves `x` against the 1-day forecasts `fc` (raw and floored σ per estimator).

    σ_h = √(h·VR_h)·σ̂₁ and μ_h = h·μ̂₁; floor_h = √(h·VR_h)·max(floor_abs, floor_frac·σ̂_w250).
    `unit` may be one string or an array of per-item units.
    """
    x = np.asarray(x, dtype="float64")
    units = np.broadcast_to(np.asarray(unit, dtype=object), x.shape)
    floor_abs = np.array([params.floor_for(u) for u in units.ravel()], dtype="float64").reshape(x.shape)
    scale = np.sqrt(h * fc.get(f"vr{h}", 1.0)) if h > 1 else np.ones(x.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        floor1 = np.fmax(floor_abs, params.floor_frac * fc["floor_base"])
        out: dict[str, np.ndarray] = {"floor": scale * floor1}
        for est in ESTIMATORS:
            mu = h * fc[f"mu_{est}"]
            raw = scale * fc[f"sigma_{est}"]
            fl = np.where(np.isnan(raw), np.nan, np.fmax(raw, scale * floor1))
            out[f"mu_{est}"] = mu
            out[f"sigma_raw_{est}"] = raw
            out[f"sigma_{est}"] = fl
            out[f"z_raw_{est}"] = np.where(raw > 0, (x - mu) / raw, np.nan)
            out[f"z_{est}"] = np.where(fl > 0, (x - mu) / fl, np.nan)
    return out


def normal_equivalent_sigma(p: float | np.ndarray) -> np.ndarray:
    """Φ⁻¹(1 − p/2): the two-sided normal move as rare as share p (p = 0 → inf)."""
    return norm.isf(np.asarray(p, dtype="float64") / 2.0)


def rarity_figures(count: np.ndarray, n: np.ndarray, rate: np.ndarray, h: int | np.ndarray = 1,
                   obs_per_year: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(share, return period in years, normal-equivalent σ) from counts of earlier moves.

    `rate`: valid 1-day moves per year of the series (unless `obs_per_year` fixes it); an h-day
    history of non-overlapping moves has rate / h of them a year. No earlier move as large →
    share 0, return period and σ-equivalent inf (the caller may use the tail model instead).
    """
    count = np.asarray(count, dtype="float64")
    n = np.asarray(n, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, count / n, np.nan)
        r = np.full(share.shape, float(obs_per_year)) if obs_per_year is not None else np.asarray(rate, dtype="float64")
        r = r / np.asarray(h, dtype="float64")
        period = np.where(share > 0, 1.0 / (share * r), np.where(n > 0, math.inf, np.nan))
        period = np.where(np.isnan(r), np.nan, period)
        neq = np.where(np.isnan(share), np.nan, normal_equivalent_sigma(np.nan_to_num(share, nan=1.0)))
    return share, period, neq
