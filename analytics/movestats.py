"""The statistics kernel: every move statistic once per data update, plus an incremental path.

`compute_move_stats(observations, universe)` → `MoveTable`: the latest move per series × horizon
(daily 1/2/5-day) and the latest intraday cumulative move, as a tidy DataFrame and as `MoveStat`
records for the alert engine. `MoveTable.update(new_observations)` folds in new points without
recomputing the history; the result equals a full recompute (tests/unit/analytics).
`MoveTable.history(id)` gives every daily move of one series with the same numbers — the
backtest and the series page's as-of view read it, so there is ONE definition of σ/z/rarity.

Only what the data-quality gate accepted enters a statistic (analytics/quality.py): the stored
verdict (`quality` column) is used when present, otherwise the gate judges the frame itself.
Levels of rejected prints are skipped (the next move is measured from the last accepted print),
a `gap` verdict starts a new segment (no move across it), and only `ok`/`splice` moves enter
the σ windows and the rarity history. Nothing before `MoveParams.history_start` is read, so the
live store, a replay and the backtest see the same history.

Daily data are held as left-aligned matrices (row = the series' own observation number, column =
series), so every series keeps its own calendar and all series are processed together by numpy.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analytics.intraday import intraday_stats, recent_bars, session_frame
from analytics.moves import level_transform
from analytics.quality import (
    CODE, GAP, HAS_LEVEL, HAS_MOVE, IN_STATS, OK, REJECTED, UNJUDGED, VERDICTS, build_gate_matrix,
    codes_from_text, judge_matrix, market_days,
)
from analytics.stats import (
    NS_PER_YEAR, MoveParams, ewma_variance, forecast_at, rarity_figures, zscores,
)
from analytics.tail import fit_tail, tail_probability
from analytics.types import ESTIMATORS, MoveStat

__all__ = ["MoveTable", "compute_move_stats", "TABLE_COLUMNS", "gate_codes"]

_STAT_COLS = [f"{p}_{e}" for e in ESTIMATORS for p in ("mu", "sigma_raw", "sigma", "z_raw", "z")]
TABLE_COLUMNS = (["series_id", "kind", "horizon", "ts", "window_end", "move", "unit", "floor"]
                 + _STAT_COLS
                 + ["rarity_share", "return_period_years", "normal_equiv_sigma", "n_history",
                    "source", "single_print", "F", "quality", "quality_note", "n_valid", "min_history",
                    "tail", "return_period_low", "return_period_high", "largest_since",
                    "largest_since_signed", "series_start"])
_GROW = 512
_NAT = np.iinfo(np.int64).min
_ROW_KEYS = ("L", "TS", "Q", "SRC", "PL", "SEG", "LR", "INST", "CV", "X1", "X2", "X5")
_MV_KEYS = ("V", "EW")


def _utc_ns(ts) -> np.ndarray:
    """int64 ns since the epoch, UTC (naive timestamps are taken as UTC; any resolution)."""
    idx = pd.DatetimeIndex(ts)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    return idx.as_unit("ns").asi8


class _quiet:
    def __enter__(self):
        self._c = warnings.catch_warnings()
        self._c.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)
        self._e = np.errstate(invalid="ignore", divide="ignore")
        self._e.__enter__()

    def __exit__(self, *a):
        self._e.__exit__(*a)
        return self._c.__exit__(*a)


# ------------------------------------------------------------------------------------ state
@dataclass
class _Buf:
    """Append-only matrices shared by a table and the tables `update` derives from it.

    A table only appends at rows ≥ its own lengths and never reads there, so sharing is safe as
    long as only the newest table ("tip" lengths) appends; any other table copies first.
    """

    a: dict[str, np.ndarray]          # per-row matrices (cap × S) and per-valid-move ones (vcap × S)
    tip_n: np.ndarray
    tip_nv: np.ndarray

    def copy_upto(self, n: np.ndarray, nv: np.ndarray) -> "_Buf":
        out = {}
        for k, v in self.a.items():
            lim = nv if k in _MV_KEYS else n
            beyond = np.arange(v.shape[0])[:, None] >= lim[None, :]
            fill = np.nan if v.dtype.kind == "f" else (False if v.dtype == bool else -1)
            out[k] = np.where(beyond, fill, v).astype(v.dtype)
        return _Buf(out, n.copy(), nv.copy())


@dataclass
class _Daily:
    """Daily matrices and the running state the incremental path needs (one column per series)."""

    ids: list[str]
    units: np.ndarray                 # object, per column
    sources: list[str]                # the newest row's source per column
    minh: np.ndarray                  # min_history per column
    buf: _Buf
    n: np.ndarray                     # rows (observations) per series
    nv: np.ndarray                    # valid moves per series
    notes: dict[tuple[int, int], str] = field(default_factory=dict)   # (row, col) → gate note
    src_names: list[str] = field(default_factory=list)                # SRC codes → source names
    col: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.col = {sid: j for j, sid in enumerate(self.ids)}

    def __getattr__(self, k):
        if k in _ROW_KEYS or k in _MV_KEYS:
            return self.__dict__["buf"].a[k]
        raise AttributeError(k)

    def copy(self) -> "_Daily":
        return _Daily(list(self.ids), self.units.copy(), list(self.sources), self.minh.copy(), self.buf,
                      self.n.copy(), self.nv.copy(), dict(self.notes), list(self.src_names))

    def source_code(self, name: str) -> int:
        if name not in self.src_names:
            self.src_names.append(name)
        return self.src_names.index(name)


def _x_key(h: int) -> str:
    return f"X{h}"


def _grow(st: _Daily, rows: int, mv: int) -> None:
    b = st.buf
    for k, v in list(b.a.items()):
        need = mv if k in _MV_KEYS else rows
        if v.shape[0] >= need:
            continue
        add = max(_GROW, v.shape[0] // 2, need - v.shape[0])
        fill = np.nan if v.dtype.kind == "f" else (False if v.dtype == bool else -1)
        b.a[k] = np.vstack([v, np.full((add, v.shape[1]), fill, dtype=v.dtype)])


# ------------------------------------------------------------------------------------ building
def _column(obs: pd.DataFrame, name: str, pos: np.ndarray) -> np.ndarray | None:
    """One column of the frame at row positions `pos` (object array), or None when absent."""
    if name not in obs.columns:
        return None
    return obs[name].to_numpy(dtype=object)[pos]


def gate_codes(obs: pd.DataFrame, universe, ids: list[str], L: np.ndarray, TS: np.ndarray, n: np.ndarray,
               rows: np.ndarray | None = None, codes: np.ndarray | None = None,
               pos: np.ndarray | None = None) -> tuple[np.ndarray, dict[tuple[int, int], str]]:
    """Verdict matrix: the stored `quality` column when the frame has one (rows at `pos`), else
    the gate's."""
    R, S = L.shape
    if "quality" in obs.columns and rows is not None:
        Q = np.full((R, S), UNJUDGED, np.int8)
        q = _column(obs, "quality", pos)
        inv, uniq = pd.factorize(pd.Series(q, dtype=object), use_na_sentinel=True)
        lut = codes_from_text(list(uniq))
        Q[rows, codes] = np.where(inv >= 0, lut[np.clip(inv, 0, None)] if len(lut) else UNJUDGED, UNJUDGED)
        notes = {}
        nt = _column(obs, "quality_note", pos)
        if nt is not None:
            has = pd.notna(pd.Series(nt, dtype=object)).to_numpy() & (pd.Series(nt, dtype=object) != "").to_numpy()
            for i in np.flatnonzero(has):
                notes[(int(rows[i]), int(codes[i]))] = str(nt[i])
        return Q, notes
    m = build_gate_matrix(ids, universe, L[:R], TS[:R], n)
    Q, notes = judge_matrix(m)
    return Q.astype(np.int8), notes


def _daily_matrices(obs: pd.DataFrame, mask: np.ndarray, sid_codes, sid_uniq, params: MoveParams):
    """(ids, ts, values, codes, rows, counts, positions in `obs`) of the daily rows since the
    history start, one row per (series, ts) — the later one when a key repeats (a restatement)."""
    used = np.unique(sid_codes[mask])
    remap = np.full(len(sid_uniq), -1, np.int64)
    remap[used] = np.arange(len(used))
    ids = [str(sid_uniq[u]) for u in used]
    pos = np.flatnonzero(mask)
    ts = _utc_ns(obs["ts"].to_numpy()[pos] if not isinstance(obs["ts"].dtype, pd.DatetimeTZDtype)
                 else obs["ts"].array[pos])
    vals = obs["value"].to_numpy(dtype="float64")[pos]
    c = remap[sid_codes[pos]]
    keep = ~np.isnan(vals)
    start = params.history_start
    if start is not None:
        keep &= ts >= start.value
    if not keep.all():
        pos, ts, vals, c = pos[keep], ts[keep], vals[keep], c[keep]
    dc, dt_ = np.diff(c), np.diff(ts)
    if not bool(np.all((dc > 0) | ((dc == 0) & (dt_ >= 0)))):     # cache frames come sorted
        o = np.lexsort((np.arange(len(c)), ts, c))
        pos, ts, vals, c = pos[o], ts[o], vals[o], c[o]
    last = np.r_[(c[1:] != c[:-1]) | (ts[1:] != ts[:-1]), True]
    if not last.all():
        pos, ts, vals, c = pos[last], ts[last], vals[last], c[last]
    used2 = np.unique(c)
    if len(used2) != len(ids):           # a series whose rows all lie before history_start
        remap2 = np.full(len(ids), -1, np.int64)
        remap2[used2] = np.arange(len(used2))
        ids = [ids[u] for u in used2]
        c = remap2[c]
    S = len(ids)
    counts = np.bincount(c, minlength=S)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rows = np.arange(len(c)) - starts[c]
    return ids, ts, vals, c, rows, counts, pos


def _derive(st: _Daily, params: MoveParams) -> None:
    """Per-row chains, moves, valid-move compaction and EWMA from L/TS/Q (whole matrices)."""
    a = st.buf.a
    R, S = a["L"].shape
    rows = np.arange(R)[:, None]
    cols = np.arange(S)[None, :]
    present = rows < st.n[None, :]
    Q = a["Q"]
    lvl = HAS_LEVEL[Q] & present
    idx = np.broadcast_to(rows, (R, S))
    last_lvl = np.maximum.accumulate(np.where(lvl, idx, -1), axis=0)
    PL = np.vstack([np.full((1, S), -1), last_lvl[:-1]])
    SEG = np.cumsum(lvl & (Q == GAP), axis=0).astype(np.int32)
    LR = np.where(lvl, np.cumsum(lvl, axis=0) - 1, -1)
    T = _transform(a["L"], st.units)
    movable = present & HAS_MOVE[Q] | (present & (Q == REJECTED))   # rejected: the move it would be
    for h in params.horizons:
        back = PL.copy()
        for _ in range(h - 1):
            back = np.where(back >= 0, PL[np.clip(back, 0, None), cols], -1)
        okb = back >= 0
        bb = np.clip(back, 0, None)
        # Same segment (a rejected row sits in its predecessor's segment).
        same = okb & (SEG[bb, cols] == SEG) & movable
        with _quiet():
            a[_x_key(h)] = np.where(same, T - T[bb, cols], np.nan)
    X1 = a[_x_key(1)]
    INST = IN_STATS[Q] & present & ~np.isnan(X1)
    CV = (np.cumsum(INST, axis=0) - INST).astype(np.int32)
    nv = INST.sum(axis=0)
    vcap = int(nv.max() if S else 0) + _GROW
    V = np.full((vcap, S), np.nan)
    vi = CV[INST]
    V[vi, np.broadcast_to(cols, (R, S))[INST]] = X1[INST]
    a.update(PL=PL.astype(np.int32), SEG=SEG, LR=LR.astype(np.int32), INST=INST, CV=CV, V=V)
    a["EW"] = ewma_variance(V, params.ewma_lambda, params.ewma_seed)
    st.nv = nv.astype(np.int64)
    st.buf.tip_n, st.buf.tip_nv = st.n.copy(), st.nv.copy()


def _transform(L: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Levels → the space where a move is a difference (bp: 100·y; log %: 100·ln p), per column."""
    logc = (np.asarray(units) == "logpct")
    out = np.empty_like(L, dtype="float64")
    if logc.any():
        out[:, logc] = level_transform(L[:, logc], "logpct")
    if (~logc).any():
        out[:, ~logc] = level_transform(L[:, ~logc], "bp")
    return out


def _build_daily(obs: pd.DataFrame, mask, sid_codes, sid_uniq, universe, params: MoveParams) -> tuple[_Daily, pd.DataFrame]:
    ids, ts, vals, c, rows, counts, pos = _daily_matrices(obs, mask, sid_codes, sid_uniq, params)
    S = len(ids)
    cap = int(counts.max() if S else 0) + _GROW
    L = np.full((cap, S), np.nan)
    TS = np.zeros((cap, S), np.int64)
    L[rows, c] = vals
    TS[rows, c] = ts
    units = np.array([universe.get(i).unit for i in ids], dtype=object)
    sources = [universe.get(i).source for i in ids]
    SRC = np.full((cap, S), -1, np.int16)
    src_names: list[str] = sorted(set(sources))
    srcv = _column(obs, "source", pos)
    if srcv is not None and S:
        codes_, uniq = pd.factorize(pd.Series(srcv, dtype=object), use_na_sentinel=True)
        names = sorted(set(src_names) | {str(x) for x in uniq if isinstance(x, str) and x})
        lut = np.array([names.index(str(x)) if isinstance(x, str) and x else -1 for x in uniq], dtype=np.int16)
        SRC[rows, c] = np.where(codes_ >= 0, lut[np.clip(codes_, 0, None)] if len(lut) else -1, -1)
        src_names = names
        last_rows = np.r_[0, np.cumsum(counts)[:-1]] + counts - 1
        sources = [str(srcv[r]) if isinstance(srcv[r], str) and srcv[r] else sources[j] for j, r in enumerate(last_rows)]
    minh = np.array([getattr(universe.get(i), "min_history", 250) for i in ids], dtype=np.int64)
    R = int(counts.max() if S else 0)
    Q, notes = gate_codes(obs, universe, ids, L[:R], TS[:R], counts, rows, c, pos)
    Qm = np.full((cap, S), UNJUDGED, np.int8)
    Qm[:R] = Q
    buf = _Buf({"L": L, "TS": TS, "Q": Qm, "SRC": SRC}, counts.copy(), np.zeros(S, np.int64))
    st = _Daily(ids, units, sources, minh, buf, counts.astype(np.int64), np.zeros(S, np.int64), notes, src_names)
    _derive(st, params)
    return st, _latest_rows(st, np.arange(S), params)


# ------------------------------------------------------------------------------------ rows
def _last_level(st: _Daily, J: np.ndarray) -> np.ndarray:
    """Row of each column's newest accepted print (−1: none)."""
    R = st.L.shape[0]
    rows = np.arange(R)[:, None]
    lvl = HAS_LEVEL[st.Q[:, J]] & (rows < st.n[J][None, :])
    any_ = lvl.any(axis=0)
    last = R - 1 - np.argmax(lvl[::-1], axis=0)
    return np.where(any_, last, -1)


def _ewma_at(st: _Daily, J: np.ndarray, pos: np.ndarray) -> np.ndarray:
    p = np.clip(pos - 1, 0, None)
    e = st.EW[p, J] if st.EW.shape[0] else np.full(len(J), np.nan)
    return np.where(pos >= 1, e, np.nan)


def _rates(st: _Daily, J: np.ndarray, K: np.ndarray, params: MoveParams) -> tuple[np.ndarray, ...]:
    """Base mask pieces for items (column J[i], row K[i]): valid-move rate per year on the base."""
    R = st.L.shape[0]
    rows = np.arange(R)[:, None]
    base = params.base
    inbase = st.INST[:, J] & (rows < K[None, :])
    if base is not None:
        inbase &= st.TS[:, J] >= base.value
    n1 = inbase.sum(axis=0)
    any_ = n1 > 0
    first = np.where(any_, st.TS[np.argmax(inbase, axis=0), J], 0)
    lastr = R - 1 - np.argmax(inbase[::-1], axis=0)
    last = np.where(any_, st.TS[lastr, J], 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        span = (last - first) / NS_PER_YEAR
        rate = np.where((n1 > 1) & (span > 0), (n1 - 1) / span, np.nan)
    return inbase, rate


def _rarity(st: _Daily, J: np.ndarray, K: np.ndarray, x: np.ndarray, h: int, params: MoveParams) -> dict[str, np.ndarray]:
    """Rarity, return period (tail model for records), largest-since for items (J[i], K[i], x[i])."""
    R = st.L.shape[0]
    rows = np.arange(R)[:, None]
    X = st.buf.a[_x_key(h)][:, J]
    A = np.abs(X)
    inbase, rate = _rates(st, J, K, params)
    before = st.INST[:, J] & (rows < K[None, :]) & ~np.isnan(X)
    hist_mask = inbase & ~np.isnan(X)
    if h > 1:   # non-overlapping: the same phase on the accepted-print calendar, ending ≤ k − h
        lr = st.LR[:, J]
        lk = st.LR[np.clip(K, 0, None), J]
        hist_mask &= (lr >= 0) & ((lr % h) == (lk % h)[None, :]) & (lr <= (lk - h)[None, :])
    with _quiet():
        thr = np.abs(x) - params.tie_tol * np.fmax(1.0, np.abs(x))
        hit = A >= thr[None, :]
        cnt = np.count_nonzero(hist_mask & hit, axis=0)
        nh = np.count_nonzero(hist_mask, axis=0)
        share, period, neq = rarity_figures(cnt, nh, rate, h, params.obs_per_year)
        # Largest since: the last earlier accepted move at least as large (either sign / same sign).
        big = before & hit
        sgn = np.sign(x)
        big_s = before & (sgn[None, :] * X >= thr[None, :])
    last_big = np.where(big.any(axis=0), st.TS[R - 1 - np.argmax(big[::-1], axis=0), J], _NAT)
    last_big_s = np.where(big_s.any(axis=0), st.TS[R - 1 - np.argmax(big_s[::-1], axis=0), J], _NAT)
    tail = np.zeros(len(J), bool)
    lo = np.full(len(J), np.nan)
    hi = np.full(len(J), np.nan)
    # No earlier move as large: the history says only "rarer than its own length" (a lower
    # bound kept as the return period: a short history never earns a rarity tier it cannot see),
    # and the tail model, where there is enough history for it, gives the estimate.
    r_h = (np.full(len(J), float(params.obs_per_year)) if params.obs_per_year else rate) / h
    with _quiet():
        period = np.where((cnt == 0) & (nh > 0), nh / r_h, period)
    for i in np.flatnonzero((cnt == 0) & (nh >= params.tail_min_moves) & ~np.isnan(x) & ~np.isnan(rate)):
        fit = fit_tail(A[hist_mask[:, i], i], quantile=params.tail_quantile, min_exceed=params.tail_min_exceed)
        p, p_lo, p_hi = tail_probability(fit, abs(x[i]))
        if not (p > 0) or not (p_lo > 0) or p_hi / p_lo > 1e4:   # an interval over 4 decades says nothing
            continue
        r = (params.obs_per_year or rate[i]) / h
        share[i] = p
        period[i] = 1.0 / (p * r)
        lo[i] = 1.0 / (p_hi * r) if p_hi > 0 else np.nan
        hi[i] = 1.0 / (p_lo * r) if p_lo > 0 else math.inf
        from analytics.stats import normal_equivalent_sigma
        neq[i] = float(normal_equivalent_sigma(p))
        tail[i] = True
    return {"rarity_share": share, "return_period_years": period, "normal_equiv_sigma": neq,
            "n_history": nh.astype(np.int64), "tail": tail, "return_period_low": lo, "return_period_high": hi,
            "largest_since": last_big, "largest_since_signed": last_big_s}


def _latest_rows(st: _Daily, J: np.ndarray, params: MoveParams) -> pd.DataFrame:
    """Table rows (every horizon) for the newest accepted print of each column in J."""
    if len(J) == 0:
        return _empty_table()
    K = _last_level(st, J)
    ok = K >= 0
    J, K = J[ok], K[ok]
    if len(J) == 0:
        return _empty_table()
    return _rows_for(st, J, K, params, newest=True)


def _rows_for(st: _Daily, J: np.ndarray, K: np.ndarray, params: MoveParams, *, newest: bool = False,
              horizons=None) -> pd.DataFrame:
    parts = _columns_for(st, J, K, params, newest=newest, horizons=horizons)
    return pd.concat([pd.DataFrame(p) for p in parts], ignore_index=True)


def _columns_for(st: _Daily, J: np.ndarray, K: np.ndarray, params: MoveParams, *, newest: bool = False,
                 horizons=None) -> list[dict]:
    """Table columns (one dict of arrays per horizon) for items (column J[i], row K[i])."""
    pos = st.CV[K, J].astype(np.int64)
    fc = forecast_at(st.V, pos, J, _ewma_at(st, J, pos), params, params.horizons)
    ids = [st.ids[j] for j in J]
    units = st.units[J]
    q = st.Q[K, J]
    note = [st.notes.get((int(k), int(j)), "") for k, j in zip(K, J)]
    if newest:   # a newer print the gate rejected: say so beside the last accepted one
        for i, (k, j) in enumerate(zip(K, J)):
            last = int(st.n[j]) - 1
            if last > k and st.Q[last, j] == REJECTED:
                t = pd.Timestamp(int(st.TS[last, j]), tz="UTC")
                note[i] = f"newest print ({t:%Y-%m-%d}) rejected: {st.notes.get((last, int(j)), '')}"
    prev_lvl = st.PL[K, J]
    we = np.where(prev_lvl >= 0, st.TS[np.clip(prev_lvl, 0, None), J], _NAT)
    parts = []
    for h in (horizons or params.horizons):
        x = st.buf.a[_x_key(h)][K, J]
        z = zscores(x, fc, h, units, params)
        rr = _rarity(st, J, K, x, h, params)
        parts.append(({
            "series_id": ids, "kind": "daily", "horizon": h,
            "ts": pd.to_datetime(st.TS[K, J], utc=True),
            "window_end": pd.to_datetime(we, utc=True),
            "move": x, "unit": list(units), "floor": z["floor"],
            **{c: z[c] for c in _STAT_COLS},
            "rarity_share": rr["rarity_share"], "return_period_years": rr["return_period_years"],
            "normal_equiv_sigma": rr["normal_equiv_sigma"], "n_history": rr["n_history"],
            "source": _row_sources(st, J, K), "single_print": False, "F": np.nan,
            "quality": np.asarray(VERDICTS, dtype=object)[q], "quality_note": note,
            "n_valid": pos, "min_history": st.minh[J], "tail": rr["tail"],
            "return_period_low": rr["return_period_low"], "return_period_high": rr["return_period_high"],
            "largest_since": pd.to_datetime(rr["largest_since"], utc=True),
            "largest_since_signed": pd.to_datetime(rr["largest_since_signed"], utc=True),
            "series_start": pd.to_datetime(st.TS[0, J], utc=True),
        }))
    return parts


def _row_sources(st: _Daily, J: np.ndarray, K: np.ndarray) -> list[str]:
    """Where each item's value came from: the row's own source, else the column's."""
    codes = st.SRC[K, J]
    return [st.src_names[c] if c >= 0 else st.sources[j] for c, j in zip(codes, J)]


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in TABLE_COLUMNS})


def _f(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _t(v):
    return None if v is None or pd.isna(v) else pd.Timestamp(v).to_pydatetime()


# ------------------------------------------------------------------------------------ table
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
        return stat_from_row(r._asdict(), self.params)

    def history(self, series_id: str, *, horizons=None, estimators=ESTIMATORS) -> pd.DataFrame:
        """Every daily move of one series with its σ's, z's and verdict, all horizons — the same
        numbers the latest rows (and every earlier day's latest rows) had. Rarity per row is
        on demand (`rarity_at`): it is a count over every earlier move."""
        st = self._daily
        if st is None or series_id not in st.col:
            return _empty_table()
        j = st.col[series_id]
        n = int(st.n[j])
        K = np.arange(n)
        J = np.full(n, j)
        pos = st.CV[K, J].astype(np.int64)
        hs = tuple(horizons or self.params.horizons)
        fc = forecast_at(st.V, pos, J, _ewma_at(st, J, pos), self.params, hs, estimators)
        unit = st.units[j]
        q = st.Q[K, J]
        prev_lvl = st.PL[K, J]
        we = np.where(prev_lvl >= 0, st.TS[np.clip(prev_lvl, 0, None), J], _NAT)
        notes = [st.notes.get((int(k), j), "") for k in K]
        out = []
        for h in hs:
            x = st.buf.a[_x_key(h)][K, J]
            z = zscores(x, fc, h, unit, self.params)
            out.append(pd.DataFrame({
                "series_id": series_id, "horizon": h, "row": K, "ts": pd.to_datetime(st.TS[K, J], utc=True),
                "window_end": pd.to_datetime(we, utc=True), "value": st.L[K, J],
                "move": x, "unit": unit, "floor": z["floor"], **{c: z[c] for c in _STAT_COLS},
                "quality": np.asarray(VERDICTS, dtype=object)[q], "quality_note": notes,
                "n_valid": pos, "min_history": int(st.minh[j]),
            }))
        return pd.concat(out, ignore_index=True)

    def rarity_at(self, series_id: str, rows, horizon: int) -> pd.DataFrame:
        """Rarity columns (share, return period, tail interval, n_history, largest since) of the
        `horizon`-day moves ending at `rows` of `series_id` — counted over earlier moves only."""
        st = self._daily
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        if st is None or series_id not in st.col or not len(rows):
            return pd.DataFrame()
        j = st.col[series_id]
        out = []
        for chunk in np.array_split(rows, max(1, len(rows) // 200)):
            J = np.full(len(chunk), j)
            x = st.buf.a[_x_key(horizon)][chunk, J]
            rr = _rarity(st, J, chunk, x, horizon, self.params)
            df = pd.DataFrame({k: v for k, v in rr.items()})
            df["row"] = chunk
            out.append(df)
        res = pd.concat(out, ignore_index=True)
        for c in ("largest_since", "largest_since_signed"):
            res[c] = pd.to_datetime(res[c], utc=True)
        return res

    def stat_at(self, series_id: str, row: int, horizon: int, *, quality: str | None = None) -> MoveStat | None:
        """The MoveStat the live path shows for the move ending at `row` (the backtest's and the
        pipeline's catch-up view of one earlier day)."""
        out = self.stats_at(series_id, [row], horizon)
        if not out:
            return None
        st = out[0]
        return st if quality is None else replace(st, quality=quality)

    def stats_at(self, series_id: str, rows, horizon: int) -> list[MoveStat]:
        """MoveStats of the `horizon`-day moves ending at `rows` (batched: one pass per 256 rows)."""
        st = self._daily
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        if st is None or series_id not in st.col or not len(rows):
            return []
        j = st.col[series_id]
        out: list[MoveStat] = []
        for chunk in np.array_split(rows, max(1, -(-len(rows) // 256))):
            cols = _columns_for(st, np.full(len(chunk), j), chunk, self.params, horizons=(horizon,))[0]
            n = len(chunk)
            keys = [k for k, v in cols.items() if not np.isscalar(v) and not isinstance(v, str)]
            arr = {k: (cols[k].to_numpy() if hasattr(cols[k], "to_numpy") else np.asarray(cols[k], dtype=object))
                   for k in keys}
            scal = {k: v for k, v in cols.items() if k not in keys}
            for i in range(n):
                d = dict(scal)
                d.update({k: a[i] for k, a in arr.items()})
                out.append(stat_from_row(d, self.params))
        return out

    def rows_of(self, series_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ts ns, verdict codes, values) of every stored daily row of a series."""
        st = self._daily
        if st is None or series_id not in st.col:
            return np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0)
        j = st.col[series_id]
        n = int(st.n[j])
        return st.TS[:n, j].copy(), st.Q[:n, j].copy(), st.L[:n, j].copy()

    # ------------------------------------------------------------------ write side
    def update(self, new_observations: pd.DataFrame) -> "MoveTable":
        """A new MoveTable with `new_observations` folded in (this one is left unchanged).

        Points later than a series' last observation take the incremental path; a restatement
        (a new value or a new verdict for a stored point), an out-of-order point or a new series
        triggers a full recompute of the daily part.
        """
        new = new_observations
        out = MoveTable(self.frame, self.universe, self.params,
                        self._daily.copy() if self._daily is not None else None, dict(self._bars))
        known = self.universe.ids if hasattr(self.universe, "ids") else None
        if known is not None:
            new = new[new["series_id"].isin(known)]
        daily = new[new["freq"] == "D"]
        intra = new[new["freq"] == "I"]
        start = self.params.history_start
        if start is not None and len(daily):
            daily = daily[_utc_ns(daily["ts"]) >= start.value]
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
        good = ~np.isnan(vals)
        daily, ts, sid, vals = daily[good], ts[good], sid[good], vals[good]
        if not len(daily):
            return self.frame
        srcs = daily["source"].to_numpy() if "source" in daily.columns else np.full(len(sid), None)
        if st is None or any(s not in st.col for s in np.unique(sid)):
            return self._recompute_with(daily)
        cols = np.array([st.col[s] for s in sid])
        o = np.lexsort((ts, cols))
        cols, ts, vals, srcs = cols[o], ts[o], vals[o], srcs[o]
        daily = daily.iloc[o]
        last_ts = st.TS[np.clip(st.n[cols] - 1, 0, None), cols]
        dup = np.r_[(cols[1:] == cols[:-1]) & (ts[1:] == ts[:-1]), False]
        if np.any((st.n[cols] > 0) & (ts <= last_ts)) or dup.any():
            return self._recompute_with(daily)
        # Verdicts for the new points: stored ones, or the gate's on a tail window (which must
        # leave the stored verdicts as they are — else a full recompute).
        if "quality" in daily.columns:
            qv = codes_from_text(daily["quality"].to_numpy(dtype=object))
            nv_ = daily["quality_note"].to_numpy(dtype=object) if "quality_note" in daily.columns else \
                np.full(len(daily), None, dtype=object)
        else:
            judged = self._gate_tail(cols, ts, vals)
            if judged is None:
                return self._recompute_with(daily)
            qv, nv_ = judged
        if np.any(st.buf.tip_n != st.n) or np.any(st.buf.tip_nv != st.nv):
            st.buf = st.buf.copy_upto(st.n, st.nv)    # not the newest table: append into our own copy
        first = np.r_[True, cols[1:] != cols[:-1]]
        grp_start = np.maximum.accumulate(np.where(first, np.arange(len(cols)), 0))
        rnd = np.arange(len(cols)) - grp_start
        for r in range(int(rnd.max()) + 1):
            sel = rnd == r
            self._step(cols[sel], vals[sel], ts[sel], qv[sel], nv_[sel], srcs[sel])
        touched = np.unique(cols)
        frame = self.frame[~((self.frame["kind"] == "daily") & self.frame["series_id"].isin([st.ids[c] for c in touched]))]
        return pd.concat([frame, _latest_rows(st, touched, self.params)], ignore_index=True)

    def _gate_tail(self, cols: np.ndarray, ts: np.ndarray, vals: np.ndarray):
        """The gate on the last 400 rows (+ the new ones) of the touched series, their curve peers
        and references: verdicts for the new rows, or None when it would change a stored one."""
        st = self._daily
        touched = {st.ids[c] for c in np.unique(cols)}
        scope = set(touched)
        for sid in touched:
            s = self.universe.get(sid)
            scope |= {x.id for x in self.universe if x.group == s.group and s.group in ("jgb_curve", "ust_curve")}
            scope |= {r["series"] for r in getattr(s, "quality", {}).get("references", []) if r.get("series")}
        ids = sorted(x for x in scope if x in st.col)
        W = 400
        idx = [st.col[i] for i in ids]
        extra = {st.col[s]: (ts[cols == st.col[s]], vals[cols == st.col[s]]) for s in touched}
        lens = []
        Ls, TSs = [], []
        for j in idx:
            n = int(st.n[j])
            lo = max(0, n - W)
            t_old, v_old = st.TS[lo:n, j], st.L[lo:n, j]
            t_new, v_new = extra.get(j, (np.zeros(0, np.int64), np.zeros(0)))
            Ls.append(np.r_[v_old, v_new])
            TSs.append(np.r_[t_old, t_new])
            lens.append(len(Ls[-1]))
        R = max(lens)
        Lm = np.full((R, len(ids)), np.nan)
        Tm = np.zeros((R, len(ids)), np.int64)
        for c, (lv, tv) in enumerate(zip(Ls, TSs)):
            Lm[: len(lv), c], Tm[: len(tv), c] = lv, tv
        m = build_gate_matrix(ids, self.universe, Lm, Tm, np.array(lens))
        code, notes = judge_matrix(m)
        qv = np.zeros(len(cols), np.int8)
        nv_ = np.full(len(cols), None, dtype=object)
        for c, j in enumerate(idx):
            n = int(st.n[j])
            lo = max(0, n - W)
            k_old = n - lo
            # Stored rows the new data would re-judge (beyond the window's first, context rows).
            stored = st.Q[lo + 1:n, j]
            if len(stored) and np.any(code[1:k_old, c] != stored):
                return None
            if j in extra:
                sel = np.flatnonzero(cols == j)
                qv[sel] = code[k_old:lens[c], c]
                for i, r in zip(sel, range(k_old, lens[c])):
                    nv_[i] = notes.get((r, c), None)
        return qv, nv_

    def _step(self, J: np.ndarray, v: np.ndarray, t: np.ndarray, q: np.ndarray, notes: np.ndarray,
              srcs: np.ndarray) -> None:
        """One new point for each column in J (strictly after its last point)."""
        st, p = self._daily, self.params
        _grow(st, int(st.n[J].max()) + 1, int(st.nv[J].max()) + 1)
        a = st.buf.a
        k = st.n[J].copy()
        cols = J
        a["L"][k, cols] = v
        a["TS"][k, cols] = t
        a["Q"][k, cols] = q
        for i, (kk, j) in enumerate(zip(k, cols)):
            if isinstance(notes[i], str) and notes[i]:
                st.notes[(int(kk), int(j))] = notes[i]
        lvl = HAS_LEVEL[q]
        # Previous accepted print, segment, accepted-print rank.
        prev_rows = np.clip(k - 1, 0, None)
        prev_is_lvl = (k >= 1) & HAS_LEVEL[a["Q"][prev_rows, cols]]
        pl = np.where(k >= 1, np.where(prev_is_lvl, prev_rows, a["PL"][prev_rows, cols]), -1)
        a["PL"][k, cols] = pl
        seg_prev = np.where(k >= 1, a["SEG"][prev_rows, cols], 0)
        seg = seg_prev + (lvl & (q == GAP))
        a["SEG"][k, cols] = seg
        lr_prev = np.where(pl >= 0, a["LR"][np.clip(pl, 0, None), cols], -1)
        a["LR"][k, cols] = np.where(lvl, lr_prev + 1, -1)
        T_new = _transform(v[None, :], st.units[cols])[0]
        movable = HAS_MOVE[q] | (q == REJECTED)
        for h in p.horizons:
            back = pl.copy()
            for _ in range(h - 1):
                back = np.where(back >= 0, a["PL"][np.clip(back, 0, None), cols], -1)
            bb = np.clip(back, 0, None)
            same = (back >= 0) & (a["SEG"][bb, cols] == seg) & movable
            Tb = _transform(a["L"][bb, cols][None, :], st.units[cols])[0]
            with _quiet():
                a[_x_key(h)][k, cols] = np.where(same, T_new - Tb, np.nan)
        x1 = a["X1"][k, cols]
        inst = IN_STATS[q] & ~np.isnan(x1)
        a["INST"][k, cols] = inst
        a["CV"][k, cols] = st.nv[cols]
        st.n[cols] = k + 1
        st.buf.tip_n[cols] = k + 1
        # The move joins the valid moves (and the EWMA) after its own statistics were taken.
        vi = st.nv[cols]
        sel = np.flatnonzero(inst)
        if len(sel):
            cj, vj = cols[sel], vi[sel]
            a["V"][vj, cj] = x1[sel]
            seed, lam = p.ewma_seed, p.ewma_lambda
            with _quiet():
                seeded = np.array([np.var(a["V"][:seed, c], ddof=1) for c in cj])
                prev_e = np.where(vj >= 1, a["EW"][np.clip(vj - 1, 0, None), cj], np.nan)
                e = np.where(vj + 1 == seed, seeded,
                             np.where(vj + 1 > seed, lam * prev_e + (1 - lam) * x1[sel] ** 2, np.nan))
            a["EW"][vj, cj] = e
            st.nv[cj] = vj + 1
            st.buf.tip_nv[cj] = vj + 1
        for kk, c, s in zip(k, cols, srcs):
            if s:
                st.sources[c] = str(s)
                a["SRC"][kk, c] = st.source_code(str(s))

    def _recompute_with(self, daily: pd.DataFrame) -> pd.DataFrame:
        """Fallback: rebuild the daily part from the stored matrices plus `daily`."""
        old = self._daily_long()
        has_q = "quality" in daily.columns
        cols = ["series_id", "freq", "ts", "value"] + (["source"] if "source" in daily.columns else []) \
            + (["quality", "quality_note"] if has_q else [])
        d = daily.copy()
        if has_q and "quality_note" not in d.columns:
            d["quality_note"] = None
        both = pd.concat([old[[c for c in cols if c in old.columns]], d[cols]], ignore_index=True)
        both = both.drop_duplicates(["series_id", "ts"], keep="last")
        if not has_q:
            both = both.drop(columns=[c for c in ("quality", "quality_note") if c in both.columns])
        codes, uniq = pd.factorize(both["series_id"])
        st, rows = _build_daily(both, np.ones(len(both), bool), codes, uniq, self.universe, self.params)
        self._daily = st
        return pd.concat([self.frame[self.frame["kind"] != "daily"], rows], ignore_index=True)

    def _daily_long(self) -> pd.DataFrame:
        st = self._daily
        if st is None:
            return pd.DataFrame(columns=["series_id", "freq", "ts", "value", "source", "quality", "quality_note"])
        parts = []
        for j, sid in enumerate(st.ids):
            n = int(st.n[j])
            src = [st.src_names[c] if c >= 0 else None for c in st.SRC[:n, j]]
            if n and src[-1] is None:
                src[-1] = st.sources[j]
            parts.append(pd.DataFrame({"series_id": sid, "freq": "D",
                                       "ts": pd.to_datetime(st.TS[:n, j], utc=True),
                                       "value": st.L[:n, j], "source": src,
                                       "quality": np.asarray(VERDICTS, dtype=object)[st.Q[:n, j]],
                                       "quality_note": [st.notes.get((k, j)) for k in range(n)]}))
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
                    "floor": sig_day.get("_floor", np.nan) * math.sqrt(last["F"]),
                    "quality": "ok", "quality_note": "", "n_valid": sig_day.get("_n_valid", 0),
                    "min_history": sig_day.get("_min_history", 0), "tail": False,
                    "largest_since": pd.NaT, "largest_since_signed": pd.NaT, "series_start": pd.NaT})
        for e in ESTIMATORS:
            row[f"sigma_{e}"] = last[f"sigma_{e}"]
            row[f"z_{e}"] = last[f"z_{e}"]
            row[f"mu_{e}"] = 0.0
            rs = raw.get(e, np.nan) * math.sqrt(last["F"])
            row[f"sigma_raw_{e}"] = rs
            row[f"z_raw_{e}"] = last["cum_move"] / rs if rs and rs > 0 else np.nan
        return pd.DataFrame([row], columns=TABLE_COLUMNS)

    def _daily_sigma_before(self, sid: str, fr: pd.DataFrame, s) -> tuple[dict, dict]:
        """Daily σ per estimator — floored and raw — from the valid daily moves up to the previous
        close's market date (`fr`: the series' session frame)."""
        st = self._daily
        if st is None or sid not in st.col or fr.empty:
            return {}, {}
        j = st.col[sid]
        n = int(st.n[j])
        pc = fr["prev_close_ts"].iloc[-1]
        if pd.isna(pc) or n == 0:
            return {}, {}
        pc_day = np.datetime64(pc.tz_convert(s.timezone).date(), "D")
        days = market_days(st.TS[:n, j], s.timezone, s.close)
        q = int(np.searchsorted(days, pc_day, side="right")) - 1
        if q < 1:
            return {}, {}
        pos = np.array([int(st.CV[q, j]) + int(st.INST[q, j])])
        J = np.array([j])
        fc = forecast_at(st.V, pos, J, _ewma_at(st, J, pos), self.params)
        z = zscores(np.zeros(1), fc, 1, s.unit, self.params)
        out = {e: float(z[f"sigma_{e}"][0]) for e in ESTIMATORS}
        out["_window_end"] = pd.Timestamp(int(st.TS[q, j]), tz="UTC")
        out["_floor"] = float(z["floor"][0])
        out["_n_valid"] = int(pos[0])
        out["_min_history"] = int(st.minh[j])
        return out, {e: float(z[f"sigma_raw_{e}"][0]) for e in ESTIMATORS}


def stat_from_row(d: dict, params: MoveParams | None = None) -> MoveStat:
    """A table row (dict of TABLE_COLUMNS) → MoveStat."""
    sig = {e: float(d[f"sigma_{e}"]) for e in ESTIMATORS if pd.notna(d.get(f"sigma_{e}"))}
    sraw = {e: float(d[f"sigma_raw_{e}"]) for e in ESTIMATORS if pd.notna(d.get(f"sigma_raw_{e}"))}
    z = {e: float(d[f"z_{e}"]) for e in ESTIMATORS if pd.notna(d.get(f"z_{e}"))}
    base = params.base if params is not None else None
    q = d.get("quality")
    return MoveStat(
        series_id=d["series_id"], ts=pd.Timestamp(d["ts"]).to_pydatetime(), kind=d["kind"],
        horizon=int(d["horizon"]), move=float(d["move"]), unit=d["unit"], sigma=sig, z=z,
        window_end=_t(d.get("window_end")),
        rarity_share=_f(d.get("rarity_share")), return_period_years=_f(d.get("return_period_years")),
        normal_equiv_sigma=_f(d.get("normal_equiv_sigma")),
        n_history=int(d["n_history"]) if pd.notna(d.get("n_history")) else 0,
        source=str(d["source"]), single_print=bool(d["single_print"]) if pd.notna(d.get("single_print")) else False,
        sigma_raw=sraw, floor=_f(d.get("floor")), quality=q if isinstance(q, str) else "ok",
        quality_note=d.get("quality_note") if isinstance(d.get("quality_note"), str) else "",
        n_valid=int(d["n_valid"]) if pd.notna(d.get("n_valid")) else 0,
        min_history=int(d["min_history"]) if pd.notna(d.get("min_history")) else 0,
        rarity_base=None if base is None else base.to_pydatetime(),
        tail=bool(d.get("tail")) if pd.notna(d.get("tail")) else False,
        return_period_low=_f(d.get("return_period_low")), return_period_high=_f(d.get("return_period_high")),
        largest_since=_t(d.get("largest_since")), largest_since_signed=_t(d.get("largest_since_signed")),
        series_start=_t(d.get("series_start")),
    )


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    kind = frame["kind"].map({"daily": 0, "intraday": 1})
    return (frame.assign(_k=kind).sort_values(["series_id", "_k", "horizon"], kind="stable")
            .drop(columns="_k").reset_index(drop=True))


def compute_move_stats(observations: pd.DataFrame, universe, params: MoveParams | None = None) -> MoveTable:
    """All move statistics from a long observation frame (series_id, freq, ts UTC, value[, source,
    quality, quality_note]).

    Series not in `universe` are ignored. Daily rows (freq "D") give the 1/2/5-day moves on each
    series' own calendar, after the data-quality gate (the stored `quality` verdicts, or the gate
    run here when the frame has none); intraday rows (freq "I") give the cumulative move since the
    previous close, against the same series' daily σ.
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
    st, rows = None, _empty_table()
    if is_d.any():
        st, rows = _build_daily(obs, is_d, sid_codes, sid_uniq, universe, p)
        if not st.ids:
            st = None
    intra = obs[is_i] if is_i.any() else obs.iloc[:0]
    table = MoveTable(rows, universe, p, st, {})
    for sid, g in intra.groupby("series_id", sort=True):
        s = pd.Series(g["value"].to_numpy(dtype="float64"), index=pd.DatetimeIndex(g["ts"]))
        table._bars[sid] = recent_bars(s[~s.index.duplicated(keep="last")].sort_index())
    irows = [table._intraday_row(sid) for sid in sorted(table._bars)]
    irows = [r for r in irows if r is not None]
    table.frame = _sorted(pd.concat([rows, *irows], ignore_index=True) if irows else rows)
    return table
