"""Entry point: every move statistic once per data update, plus an incremental path.

`compute_move_stats(observations, universe)` → `MoveTable`: the latest move per series × horizon
(daily 1/2/5-day) and the latest intraday cumulative move, as a tidy DataFrame and as `MoveStat`
records for the alert engine. `MoveTable.update(new_observations)` folds in new points without
recomputing the history; the result equals a full recompute (tests/unit/analytics).

Daily data are held as left-aligned matrices (row = own observation number, column = series), so
every series keeps its own calendar and all series are processed together by numpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.intraday import intraday_stats, recent_bars, session_frame
from analytics.stats import (
    MAD_SCALE, MAD_WINDOW, WINDOWS, _gather, MoveParams, ewma_variance, rarity_figures,
    sigma_forecast, sigma_history, zscores,
)
from analytics.types import ESTIMATORS, MoveStat

__all__ = ["MoveTable", "compute_move_stats", "TABLE_COLUMNS"]

_STAT_COLS = [f"{p}_{e}" for e in ESTIMATORS for p in ("mu", "sigma_raw", "sigma", "z_raw", "z")]
TABLE_COLUMNS = (["series_id", "kind", "horizon", "ts", "window_end", "move", "unit", "floor"]
                 + _STAT_COLS
                 + ["rarity_share", "return_period_years", "normal_equiv_sigma", "n_history",
                    "source", "single_print", "F"])
_GROW = 512


def _utc_ns(ts: pd.Series) -> np.ndarray:
    """int64 ns since the epoch, UTC (naive timestamps are taken as UTC; any resolution)."""
    idx = pd.DatetimeIndex(ts)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    return idx.as_unit("ns").asi8


@dataclass
class _Buf:
    """Append-only matrices shared by a table and the tables `update` derives from it.

    A table only appends at rows ≥ its own lengths and never reads there, so sharing is safe as
    long as only the newest table ("tip" lengths) appends; any other table copies first.
    """

    L: np.ndarray                     # levels, cap × S
    TS: np.ndarray                    # int64 ns UTC, cap × S
    R: dict[int, np.ndarray]          # |h-day move| by row (NaN: none, or before rarity_since)
    tip: np.ndarray                   # lengths of the newest table writing here

    def copy_upto(self, n: np.ndarray) -> "_Buf":
        """A private copy holding only rows < n per column (rows a newer table appended are cleared)."""
        beyond = np.arange(self.L.shape[0])[:, None] >= n[None, :]
        L = np.where(beyond, np.nan, self.L)
        TS = np.where(beyond, 0, self.TS)
        R = {h: np.where(beyond, np.nan, a) for h, a in self.R.items()}
        return _Buf(L, TS, R, n.copy())


@dataclass
class _Daily:
    """Daily matrices and the running state the incremental path needs (one column per series)."""

    ids: list[str]
    units: np.ndarray                 # object, per column
    sources: list[str]
    buf: _Buf
    n: np.ndarray                     # observations per series
    rn: dict[int, np.ndarray]         # how many valid rows in R[h]
    rfirst: dict[int, np.ndarray]
    rlast: dict[int, np.ndarray]
    win: np.ndarray                   # last 250 1-day moves, oldest first, 250 × S
    E: np.ndarray                     # EWMA variance after the latest move
    lr_n: np.ndarray                  # Welford state of all 1-day moves (long-run σ)
    lr_mean: np.ndarray
    lr_m2: np.ndarray
    col: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.col = {sid: j for j, sid in enumerate(self.ids)}

    @property
    def L(self) -> np.ndarray:
        return self.buf.L

    @property
    def TS(self) -> np.ndarray:
        return self.buf.TS

    @property
    def R(self) -> dict[int, np.ndarray]:
        return self.buf.R

    def copy(self) -> "_Daily":
        """Own copies of the small state; the big append-only buffers stay shared."""
        return _Daily(self.ids[:], self.units.copy(), self.sources[:], self.buf, self.n.copy(),
                      {h: a.copy() for h, a in self.rn.items()}, {h: a.copy() for h, a in self.rfirst.items()},
                      {h: a.copy() for h, a in self.rlast.items()}, self.win.copy(), self.E.copy(),
                      self.lr_n.copy(), self.lr_mean.copy(), self.lr_m2.copy())


def _transform(L: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Per-column level_transform (bp: 100·y, log %: 100·ln p): a move is then T_t − T_{t−h}."""
    out = 100.0 * L
    logc = units == "logpct"
    if logc.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, logc] = np.where(L[:, logc] > 0, 100.0 * np.log(L[:, logc]), np.nan)
    return out


def _diff(T: np.ndarray, h: int) -> np.ndarray:
    out = np.empty_like(T)
    out[:h] = np.nan
    np.subtract(T[h:], T[:-h], out=out[h:])
    return out


def _moves(L: np.ndarray, units: np.ndarray, h: int) -> np.ndarray:
    return _diff(_transform(L, units), h)


def _build_daily(codes: np.ndarray, ids: list[str], ts: np.ndarray, vals: np.ndarray, src: np.ndarray | None,
                 universe, params: MoveParams) -> tuple[_Daily, pd.DataFrame]:
    """Daily rows as arrays (series code, ts ns, value) → matrices + state + latest table rows."""
    # Cache frames come sorted by (series_id, ts); sort only when they are not.
    dc, dt_ = np.diff(codes), np.diff(ts)
    if not bool(np.all((dc > 0) | ((dc == 0) & (dt_ > 0)))):
        o = np.lexsort((ts, codes))
        codes, ts, vals = codes[o], ts[o], vals[o]
        src = src[o] if src is not None else None
        # Same key twice: the later row wins (a restatement).
        keep = np.r_[(codes[1:] != codes[:-1]) | (ts[1:] != ts[:-1]), True]
        codes, ts, vals = codes[keep], ts[keep], vals[keep]
        src = src[keep] if src is not None else None
    S = len(ids)
    counts = np.bincount(codes, minlength=S)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rows = np.arange(len(codes)) - starts[codes]
    cap = int(counts.max() if S else 0) + _GROW
    L = np.full((cap, S), np.nan)
    TS = np.zeros((cap, S), np.int64)
    L[rows, codes] = vals
    TS[rows, codes] = ts
    units = np.array([universe.get(i).unit for i in ids], dtype=object)
    sources = [universe.get(i).source for i in ids]
    if src is not None:
        last_rows = starts + counts - 1
        sources = [str(src[r]) if isinstance(src[r], str) and src[r] else sources[j]
                   for j, r in enumerate(last_rows)]
    return _state_from_matrices(ids, units, sources, L, TS, counts.astype(np.int64), params)


def _state_from_matrices(ids, units, sources, L, TS, n, params: MoveParams) -> tuple[_Daily, pd.DataFrame]:
    S = len(ids)
    k = n - 1                                   # latest observation per series
    kc = np.clip(k, 0, None)
    cols = np.arange(S)
    T = _transform(L, units)
    M1 = _diff(T, 1)
    E = ewma_variance(M1, params.ewma_lambda, params.ewma_seed)
    # Long-run σ over all moves (state) and over all but the latest (the latest move's floor),
    # from one centred pass: Σ(m−c)² over a subset = Σ_all − (m_k−c)² and M2 = Σ(m−c)² − n(mean−c)².
    valid1 = ~np.isnan(M1)
    lr_n = np.count_nonzero(valid1, axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        filled = np.where(valid1, M1, 0.0)
        s1 = filled.sum(axis=0)
        c = s1 / lr_n
        s2 = np.where(valid1, (M1 - c) ** 2, 0.0).sum(axis=0)
        lr_mean = c
        lr_m2 = s2
        mk = M1[kc, cols]
        has_k = ~np.isnan(mk) & (k >= 1)
        n_b = lr_n - has_k
        mean_b = (s1 - np.where(has_k, mk, 0.0)) / n_b
        s2_b = s2 - np.where(has_k, (mk - c) ** 2, 0.0)
        m2_b = np.maximum(s2_b - n_b * (mean_b - c) ** 2, 0.0)
        longrun_b = np.where(n_b >= params.longrun_min, np.sqrt(m2_b / (n_b - 1)), np.nan)
    fc = sigma_forecast(M1, k - 1, params, ewma=E, longrun=longrun_b)    # windows end at t−1
    since = _since_ns(params)
    R, rn, rfirst, rlast = {}, {}, {}, {}
    parts = []
    we = np.where(k >= 1, TS[np.clip(k - 1, 0, None), cols], 0)
    for h in params.horizons:
        A = np.abs(M1) if h == 1 else np.abs(_diff(T, h))
        if since is not None:
            A[TS < since] = np.nan
        x = T[kc, cols] - np.where(k >= h, T[np.clip(k - h, 0, None), cols], np.nan)
        # Rarity: past = every valid row but the latest (rows are contiguous: levels are finite
        # and prices positive, so a series has no NaN moves after its first h rows).
        valid = ~np.isnan(A)
        nvalid = np.count_nonzero(valid, axis=0)
        cur = valid[kc, cols] & (k >= 0)
        with np.errstate(invalid="ignore"):
            thr = np.abs(x) - params.tie_tol * np.fmax(1.0, np.abs(x))
            hit = np.count_nonzero(A >= thr[None, :], axis=0) - (cur & (A[kc, cols] >= thr))
        nh = nvalid - cur
        first_row = np.argmax(valid, axis=0)
        first = TS[first_row, cols]
        parts.append(_rows(ids, units, sources, h, x, fc, hit, nh, first, we, TS[kc, cols], we, params))
        R[h] = A
        rn[h] = nvalid
        rfirst[h] = np.where(nvalid > 0, first, np.iinfo(np.int64).max)
        rlast[h] = np.where(nvalid > 0, TS[kc, cols], -np.iinfo(np.int64).max)
    win = _win_block(M1, k)
    e_last = E[kc, cols]
    buf = _Buf(L, TS, R, n.copy())
    st = _Daily(list(ids), units, list(sources), buf, n.copy(), rn, rfirst, rlast, win, e_last,
                lr_n, np.nan_to_num(lr_mean), lr_m2)
    return st, pd.concat(parts, ignore_index=True) if parts else _empty_table()


def _win_block(M1: np.ndarray, last: np.ndarray) -> np.ndarray:
    return _gather(M1, last, MAD_WINDOW)


def _rows(ids, units, sources, h, x, fc, cnt, nh, first, lastt, ts_ns, we_ns, params) -> pd.DataFrame:
    z = zscores(x, fc, h, units, params)
    share, period, neq = rarity_figures(cnt, nh, first, lastt, params.obs_per_year)
    df = pd.DataFrame({
        "series_id": ids, "kind": "daily", "horizon": h,
        "ts": pd.to_datetime(ts_ns, utc=True),
        "window_end": pd.to_datetime(np.where(we_ns != 0, we_ns, np.iinfo(np.int64).min), utc=True),
        "move": x, "unit": list(units), "floor": z["floor"],
        **{c: z[c] for c in _STAT_COLS},
        "rarity_share": share, "return_period_years": period, "normal_equiv_sigma": neq,
        "n_history": np.asarray(nh, dtype=np.int64), "source": list(sources),
        "single_print": False, "F": np.nan,
    })
    return df


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in TABLE_COLUMNS})


def _f(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


@dataclass
class MoveTable:
    """Latest move statistics (tidy `frame`), the daily state behind them, and the intraday bars."""

    frame: pd.DataFrame
    universe: object
    params: MoveParams
    _daily: _Daily | None = None
    _bars: dict[str, pd.Series] = field(default_factory=dict)

    # ------------------------------------------------------------------ read side
    def latest(self) -> list[MoveStat]:
        """One MoveStat per series × horizon (daily) and per intraday series."""
        return [self._stat(r) for r in self.frame.itertuples(index=False)]

    def for_series(self, series_id: str) -> list[MoveStat]:
        return [self._stat(r) for r in self.frame[self.frame["series_id"] == series_id].itertuples(index=False)]

    def _stat(self, r) -> MoveStat:
        d = r._asdict()
        sig = {e: float(d[f"sigma_{e}"]) for e in ESTIMATORS if pd.notna(d[f"sigma_{e}"])}
        z = {e: float(d[f"z_{e}"]) for e in ESTIMATORS if pd.notna(d[f"z_{e}"])}
        we = d["window_end"]
        return MoveStat(
            series_id=d["series_id"], ts=pd.Timestamp(d["ts"]).to_pydatetime(), kind=d["kind"],
            horizon=int(d["horizon"]), move=float(d["move"]), unit=d["unit"], sigma=sig, z=z,
            window_end=None if pd.isna(we) else pd.Timestamp(we).to_pydatetime(),
            rarity_share=_f(d["rarity_share"]), return_period_years=_f(d["return_period_years"]),
            normal_equiv_sigma=_f(d["normal_equiv_sigma"]), n_history=int(d["n_history"]),
            source=str(d["source"]), single_print=bool(d["single_print"]),
        )

    def history(self, series_id: str) -> pd.DataFrame:
        """Every daily move of one series with its σ's and z's (for charts), all horizons.

        Same definitions as the latest rows; the last row per horizon equals `frame`'s.
        """
        st = self._daily
        if st is None or series_id not in st.col:
            return _empty_table()
        j = st.col[series_id]
        n = int(st.n[j])
        L = st.L[:n, j:j + 1]
        TS = st.TS[:n, j]
        unit = st.units[j]
        M1 = _moves(L, np.array([unit], dtype=object), 1)
        hist = sigma_history(M1, self.params)
        # σ for the move at row k comes from row k−1.
        fc = {key: np.r_[np.nan, arr[:-1, 0]] for key, arr in hist.items()}
        out = []
        for h in self.params.horizons:
            x = _moves(L, np.array([unit], dtype=object), h)[:, 0]
            z = zscores(x, fc, h, unit, self.params)
            out.append(pd.DataFrame({
                "series_id": series_id, "horizon": h, "ts": pd.to_datetime(TS, utc=True),
                "window_end": pd.to_datetime(np.r_[np.iinfo(np.int64).min, TS[:-1]], utc=True),
                "move": x, "unit": unit, "floor": z["floor"], **{c: z[c] for c in _STAT_COLS},
            }).iloc[h:])
        return pd.concat(out, ignore_index=True)

    # ------------------------------------------------------------------ write side
    def update(self, new_observations: pd.DataFrame) -> "MoveTable":
        """A new MoveTable with `new_observations` folded in (this one is left unchanged).

        Points later than a series' last observation take the incremental path; a restatement,
        an out-of-order point or a new series triggers a full recompute of the daily part.
        """
        new = new_observations
        out = MoveTable(self.frame, self.universe, self.params,
                        self._daily.copy() if self._daily is not None else None, dict(self._bars))
        known = self.universe.ids if hasattr(self.universe, "ids") else None
        if known is not None:
            new = new[new["series_id"].isin(known)]
        daily = new[new["freq"] == "D"]
        intra = new[new["freq"] == "I"]
        rows = out.frame
        if len(daily):
            rows = out._update_daily(daily)
        if len(intra):
            for sid, g in intra.groupby("series_id", sort=False):
                s = pd.Series(g["value"].to_numpy(dtype="float64"), index=pd.DatetimeIndex(g["ts"]))
                old = out._bars.get(sid)
                merged = s if old is None else pd.concat([old, s])
                merged = merged[~merged.index.duplicated(keep="last")].sort_index()
                out._bars[sid] = recent_bars(merged)
        touched_intra = set(intra["series_id"]) | (set(daily["series_id"]) & set(out._bars))
        rows = rows[~((rows["kind"] == "intraday") & rows["series_id"].isin(touched_intra))]
        irows = [out._intraday_row(sid) for sid in sorted(touched_intra)]
        irows = [r for r in irows if r is not None]
        out.frame = _sorted(pd.concat([rows, *irows], ignore_index=True) if irows else rows)
        return out

    def _update_daily(self, daily: pd.DataFrame) -> pd.DataFrame:
        st = self._daily
        ts = _utc_ns(daily["ts"])
        sid = daily["series_id"].to_numpy()
        vals = daily["value"].to_numpy(dtype="float64")
        srcs = daily["source"].to_numpy() if "source" in daily.columns else np.full(len(sid), None)
        if st is None or any(s not in st.col for s in np.unique(sid)):
            return self._recompute_with(daily)
        cols = np.array([st.col[s] for s in sid])
        o = np.lexsort((ts, cols))
        cols, ts, vals, srcs = cols[o], ts[o], vals[o], srcs[o]
        last_ts = st.TS[np.clip(st.n[cols] - 1, 0, None), cols]
        dup = np.r_[(cols[1:] == cols[:-1]) & (ts[1:] == ts[:-1]), False]
        if np.any((st.n[cols] > 0) & (ts <= last_ts)) or dup.any():
            return self._recompute_with(daily)
        if np.any(st.buf.tip != st.n):
            st.buf = st.buf.copy_upto(st.n)    # not the newest table: append into our own copy
        # Rounds: the r-th new point of every series, vectorised across series.
        first = np.r_[True, cols[1:] != cols[:-1]]
        grp_start = np.maximum.accumulate(np.where(first, np.arange(len(cols)), 0))
        rnd = np.arange(len(cols)) - grp_start
        new_rows: list[pd.DataFrame] = []
        for r in range(int(rnd.max()) + 1):
            sel = rnd == r
            new_rows.extend(self._step(cols[sel], vals[sel], ts[sel], srcs[sel]).values())
        touched = {st.ids[c] for c in np.unique(cols)}
        frame = self.frame[~((self.frame["kind"] == "daily") & self.frame["series_id"].isin(touched))]
        # Rounds run in time order per series: the last row per series × horizon is the latest.
        latest = pd.concat(new_rows, ignore_index=True).drop_duplicates(["series_id", "horizon"], keep="last")
        return pd.concat([frame, latest], ignore_index=True)

    def _step(self, J: np.ndarray, v: np.ndarray, t: np.ndarray, srcs: np.ndarray) -> dict[int, pd.DataFrame]:
        """One new point for each column in J (strictly after its last point)."""
        st, p = self._daily, self.params
        if int(st.n[J].max()) + 1 > st.L.shape[0]:
            _grow(st)
        nJ = st.n[J]
        units = st.units[J]
        # Forecasts from the state before the new move (windows end at t−1).
        win = st.win[:, J]
        fc: dict[str, np.ndarray] = {}
        with np.errstate(invalid="ignore", divide="ignore"), _quiet():
            for name, w in WINDOWS.items():
                b = win[-w:]
                fc[f"mu_{name}"] = b.mean(axis=0)
                fc[f"sigma_{name}"] = b.std(axis=0, ddof=1)
            med = np.median(win, axis=0)
            fc["mu_mad250"] = med
            fc["sigma_mad250"] = MAD_SCALE * np.median(np.abs(win - med), axis=0)
            fc["mu_ewma"] = np.zeros(len(J))
            fc["sigma_ewma"] = np.sqrt(st.E[J])
            lrn = st.lr_n[J]
            fc["longrun"] = np.where(lrn >= p.longrun_min, np.sqrt(st.lr_m2[J] / (lrn - 1)), np.nan)
        since = _since_ns(p)
        out = {}
        tv = _transform(v[None, :], units)[0]
        rmax = int(nJ.max())
        for h in p.horizons:
            prev = st.L[np.clip(nJ - h, 0, None), J]
            prev = np.where(nJ - h >= 0, prev, np.nan)
            x = tv - _transform(prev[None, :], units)[0]     # same arithmetic as the full path
            with np.errstate(invalid="ignore"):
                thr = np.abs(x) - p.tie_tol * np.fmax(1.0, np.abs(x))
                # Compare whole rows (no column gather); columns not in J get +inf thresholds.
                thr_all = np.full(st.L.shape[1], np.inf)
                thr_all[J] = np.where(np.isnan(thr), np.inf, thr)
                cnt = np.count_nonzero(st.R[h][:rmax] >= thr_all[None, :], axis=0)[J]
            we = np.where(nJ >= 1, st.TS[np.clip(nJ - 1, 0, None), J], 0)
            out[h] = _rows([st.ids[c] for c in J], units,
                           [str(s) if s else st.sources[c] for s, c in zip(srcs, J)], h, x, fc, cnt,
                           st.rn[h][J], st.rfirst[h][J], st.rlast[h][J], t, we, p)
            # State: this move joins the rarity history.
            ok = ~np.isnan(x) & ((t >= since) if since is not None else True)
            st.R[h][nJ, J] = np.where(ok, np.abs(x), np.nan)
            st.rn[h][J] += ok
            st.rfirst[h][J] = np.where(ok & (st.rn[h][J] == 1), t, st.rfirst[h][J])
            st.rlast[h][J] = np.where(ok, t, st.rlast[h][J])
            if h == 1:
                m1 = x
        if 1 not in p.horizons:
            prev = np.where(nJ >= 1, st.L[np.clip(nJ - 1, 0, None), J], np.nan)
            m1 = tv - _transform(prev[None, :], units)[0]
        st.L[nJ, J] = v
        st.TS[nJ, J] = t
        st.n[J] = nJ + 1
        st.buf.tip[J] = nJ + 1
        st.win[:, J] = np.vstack([win[1:], m1[None, :]])
        # EWMA: seed when the 20th move arrives, recursion afterwards.
        nmoves = st.n[J] - 1
        seed = p.ewma_seed
        with np.errstate(invalid="ignore"), _quiet():
            seeded = np.var(st.win[-seed:, J], axis=0, ddof=1)
        E = st.E[J]
        E = np.where(nmoves == seed, seeded,
                     np.where(nmoves > seed, p.ewma_lambda * E + (1 - p.ewma_lambda) * m1 ** 2, np.nan))
        st.E[J] = E
        # Welford for the long-run σ.
        ok = ~np.isnan(m1)
        n1 = st.lr_n[J] + ok
        d = np.where(ok, m1 - st.lr_mean[J], 0.0)
        mean1 = st.lr_mean[J] + np.where(ok, d / np.where(n1 > 0, n1, 1), 0.0)
        st.lr_m2[J] = st.lr_m2[J] + np.where(ok, d * (m1 - mean1), 0.0)
        st.lr_mean[J] = mean1
        st.lr_n[J] = n1
        for c, s in zip(J, srcs):
            if s:
                st.sources[c] = str(s)
        return out

    def _recompute_with(self, daily: pd.DataFrame) -> pd.DataFrame:
        """Fallback: rebuild the daily part from the stored matrices plus `daily`."""
        old = self._daily_long()
        cols = ["series_id", "freq", "ts", "value"] + (["source"] if "source" in daily.columns else [])
        both = pd.concat([old, daily[cols]], ignore_index=True)
        both = both.drop_duplicates(["series_id", "ts"], keep="last")
        st, rows = _build_daily(*_daily_arrays(both), self.universe, self.params)
        self._daily = st
        return pd.concat([self.frame[self.frame["kind"] != "daily"], rows], ignore_index=True)

    def _daily_long(self) -> pd.DataFrame:
        st = self._daily
        if st is None:
            return pd.DataFrame(columns=["series_id", "freq", "ts", "value", "source"])
        parts = []
        for j, sid in enumerate(st.ids):
            n = int(st.n[j])
            src = [None] * n
            if n:
                src[-1] = st.sources[j]
            parts.append(pd.DataFrame({"series_id": sid, "freq": "D",
                                       "ts": pd.to_datetime(st.TS[:n, j], utc=True),
                                       "value": st.L[:n, j], "source": src}))
        return pd.concat(parts, ignore_index=True)

    # ------------------------------------------------------------------ intraday
    def _intraday_row(self, sid: str) -> pd.DataFrame | None:
        bars = self._bars.get(sid)
        if bars is None or bars.empty or sid not in self.universe:
            return None
        s = self.universe.get(sid)
        p = self.params
        fr = session_frame(bars, s.timezone, s.close, s.unit)   # once: the costly step per tick
        sig_day, raw = self._daily_sigma_before(sid, fr, s)
        res = intraday_stats(bars, {e: sig_day.get(e, np.nan) for e in ESTIMATORS}, timezone=s.timezone,
                             close=s.close, unit=s.unit, profile_sessions=p.profile_sessions,
                             profile_min_sessions=p.profile_min_sessions,
                             single_print_share=p.single_print_share, frame=fr)
        if res.empty:
            return None
        last = res.iloc[-1]
        row = {c: np.nan for c in TABLE_COLUMNS}
        row.update({"series_id": sid, "kind": "intraday", "horizon": 1, "ts": last["ts"],
                    "window_end": sig_day.get("_window_end", pd.NaT), "move": last["cum_move"],
                    "unit": s.unit, "n_history": 0, "source": s.source,
                    "single_print": bool(last["single_print"]), "F": last["F"],
                    "floor": sig_day.get("_floor", np.nan) * math.sqrt(last["F"])})
        for e in ESTIMATORS:
            row[f"sigma_{e}"] = last[f"sigma_{e}"]
            row[f"z_{e}"] = last[f"z_{e}"]
            row[f"mu_{e}"] = 0.0
            rs = raw.get(e, np.nan) * math.sqrt(last["F"])
            row[f"sigma_raw_{e}"] = rs
            row[f"z_raw_{e}"] = last["cum_move"] / rs if rs and rs > 0 else np.nan
        return pd.DataFrame([row], columns=TABLE_COLUMNS)

    def _daily_sigma_before(self, sid: str, fr: pd.DataFrame, s) -> tuple[dict, dict]:
        """Daily σ per estimator — floored and raw — from the daily moves up to the previous
        close's date (`fr`: the series' session frame)."""
        st = self._daily
        if st is None or sid not in st.col or fr.empty:
            return {}, {}
        j = st.col[sid]
        n = int(st.n[j])
        pc = fr["prev_close_ts"].iloc[-1]
        if pd.isna(pc):
            return {}, {}
        pc_day = pc.tz_convert(s.timezone).date()
        days = pd.to_datetime(st.TS[:n, j], utc=True).tz_convert(s.timezone).date
        q = int(np.searchsorted(np.array(days), pc_day, side="right")) - 1
        if q < 1:
            return {}, {}
        L = st.L[:q + 1, j:j + 1]
        M1 = _moves(L, np.array([s.unit], dtype=object), 1)
        fc = sigma_forecast(M1, np.array([q]), self.params)
        z = zscores(np.zeros(1), fc, 1, s.unit, self.params)
        out = {e: float(z[f"sigma_{e}"][0]) for e in ESTIMATORS}
        out["_window_end"] = pd.Timestamp(int(st.TS[q, j]), tz="UTC")
        out["_floor"] = float(z["floor"][0])
        return out, {e: float(z[f"sigma_raw_{e}"][0]) for e in ESTIMATORS}


class _quiet:
    def __enter__(self):
        import warnings
        self._c = warnings.catch_warnings()
        self._c.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *a):
        return self._c.__exit__(*a)


def _since_ns(p: MoveParams) -> int | None:
    if p.rarity_since is None:
        return None
    t = pd.Timestamp(p.rarity_since)
    return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).value


def _grow(st: _Daily) -> None:
    b = st.buf
    add = max(_GROW, b.L.shape[0] // 2)
    S = b.L.shape[1]
    b.L = np.vstack([b.L, np.full((add, S), np.nan)])
    b.TS = np.vstack([b.TS, np.zeros((add, S), np.int64)])
    for h in b.R:
        b.R[h] = np.vstack([b.R[h], np.full((add, S), np.nan)])


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    kind = frame["kind"].map({"daily": 0, "intraday": 1})
    return (frame.assign(_k=kind).sort_values(["series_id", "_k", "horizon"], kind="stable")
            .drop(columns="_k").reset_index(drop=True))


def _daily_arrays(obs: pd.DataFrame, mask: np.ndarray | None = None, codes: np.ndarray | None = None,
                  uniq=None) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray, np.ndarray | None]:
    """(codes 0..S−1, ids, ts ns, values, sources) of the rows in `mask` (default: all)."""
    if codes is None:
        codes, uniq = pd.factorize(obs["series_id"])
    if mask is None:
        mask = np.ones(len(obs), bool)
    used = np.unique(codes[mask])
    remap = np.full(len(uniq), -1, np.int64)
    remap[used] = np.arange(len(used))
    ids = [str(uniq[u]) for u in used]
    ts = _utc_ns(obs["ts"])[mask]
    vals = obs["value"].to_numpy(dtype="float64")[mask]
    src = obs["source"].to_numpy(dtype=object)[mask] if "source" in obs.columns else None
    good = ~np.isnan(vals)
    c = remap[codes[mask]]
    return c[good], ids, ts[good], vals[good], (src[good] if src is not None else None)


def compute_move_stats(observations: pd.DataFrame, universe, params: MoveParams | None = None) -> MoveTable:
    """All move statistics from a long observation frame (series_id, freq, ts UTC, value[, source]).

    Series not in `universe` are ignored. Daily rows (freq "D") give the 1/2/5-day moves on each
    series' own calendar; intraday rows (freq "I") give the cumulative move since the previous
    close, against the same series' daily σ.
    """
    p = params or MoveParams()
    obs = observations
    # Filter on factorised codes: comparing 2.5M strings row by row costs more than all the maths.
    sid_codes, sid_uniq = pd.factorize(obs["series_id"])
    f_codes, f_uniq = pd.factorize(obs["freq"])
    known = np.array([s in universe for s in sid_uniq], dtype=bool)
    ok = known[sid_codes] if len(obs) else np.zeros(0, bool)
    is_d = (np.asarray(f_uniq) == "D")[f_codes] & ok if len(obs) else ok
    is_i = (np.asarray(f_uniq) == "I")[f_codes] & ok if len(obs) else ok
    if is_d.any():
        st, rows = _build_daily(*_daily_arrays(obs, is_d, sid_codes, sid_uniq), universe, p)
    else:
        st, rows = None, _empty_table()
    intra = obs[is_i] if is_i.any() else obs.iloc[:0]
    table = MoveTable(rows, universe, p, st, {})
    for sid, g in intra.groupby("series_id", sort=True):
        s = pd.Series(g["value"].to_numpy(dtype="float64"), index=pd.DatetimeIndex(g["ts"]))
        table._bars[sid] = recent_bars(s[~s.index.duplicated(keep="last")].sort_index())
    irows = [table._intraday_row(sid) for sid in sorted(table._bars)]
    irows = [r for r in irows if r is not None]
    table.frame = _sorted(pd.concat([rows, *irows], ignore_index=True) if irows else rows)
    return table
