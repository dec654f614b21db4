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

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analytics.arrays import accumulate0, cumsum0, factorize_runs, take_rows
from analytics.intraday import intraday_stats, recent_bars, session_frame
from analytics.moves import change_array, level_transform
from analytics.quality import (
    GAP, HAS_LEVEL, HAS_MOVE, IN_STATS, OK, REJECTED, SCALE_WINDOW, UNJUDGED, VERDICTS,
    build_gate_matrix, codes_from_text, gate_links, gate_rules_for, judge_matrix, market_days,
    surely_ok,
)
from analytics.stats import (
    NS_PER_YEAR, MoveParams, ewma_variance, forecast_at, normal_equivalent_sigma, rarity_figures, zscores,
)
from analytics.rankindex import RankIndex, build_index, count_at_least
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
REJUDGE_ROWS = 10      # a series' last rows the gate may still decide when new points arrive
_GATE_SLACK = 48       # rejected rows a tail window absorbs (they are not chain rows)
REWIND_ROWS = 64       # a restated or late point this close to a series' end is re-stepped
_NAT = np.iinfo(np.int64).min
_ROW_KEYS = ("L", "TS", "Q", "SRC", "PL", "SEG", "LR", "INST", "CV", "X1", "X2", "X5", "A1", "A2", "A5", "P2", "P5")
_MV_KEYS = ("V", "EW")


def _utc(ns) -> pd.DatetimeIndex:
    """int64 ns since the epoch (int64 min = NaT) → UTC timestamps (what pd.to_datetime(…,
    utc=True) gives, without its per-element parsing)."""
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("M8[ns]")).tz_localize("UTC")


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
    links: tuple[dict, dict] = ({}, {})          # gate_links: (affects, needs) per series
    rules: list = field(default_factory=list)     # GateRules per column
    col: dict[str, int] = field(default_factory=dict)
    rank: RankIndex | None = None     # the sorted rarity histories (analytics/rankindex.py)
    # Per-column facts of the universe that never change for these columns (links, splices, time
    # zone and close), as arrays for the incremental gate's fast path; built on first use.
    static: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.col = {sid: j for j, sid in enumerate(self.ids)}

    def __getattr__(self, k):
        if k in _ROW_KEYS or k in _MV_KEYS:
            return self.__dict__["buf"].a[k]
        raise AttributeError(k)

    def copy(self) -> "_Daily":
        return _Daily(list(self.ids), self.units.copy(), list(self.sources), self.minh.copy(), self.buf,
                      self.n.copy(), self.nv.copy(), dict(self.notes), list(self.src_names), self.links,
                      self.rules, rank=self.rank, static=self.static)

    def source_code(self, name: str) -> int:
        if name not in self.src_names:
            self.src_names.append(name)
        return self.src_names.index(name)


def _x_key(h: int) -> str:
    return f"X{h}"          # the h-day move ending at the row (NaN: none)


def _a_key(h: int) -> str:
    return f"A{h}"          # its size |X|, kept for the rarity counts


def _p_key(h: int) -> str:
    return f"P{h}"          # an accepted print's rank mod h where it has an h-day move (else −1)


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
        inv, uniq = factorize_runs(q)
        lut = codes_from_text(list(uniq))
        Q[rows, codes] = np.where(inv >= 0, lut[np.clip(inv, 0, None)] if len(lut) else UNJUDGED, UNJUDGED)
        notes = {}
        nt = _column(obs, "quality_note", pos)
        if nt is not None:
            ncode, nuniq = factorize_runs(nt)
            text = np.array([isinstance(x, str) and x != "" for x in nuniq] + [False])
            for i in np.flatnonzero(text[ncode]):        # −1 (missing) → the appended False
                notes[(int(rows[i]), int(codes[i]))] = str(nt[i])
        return Q, notes
    m = build_gate_matrix(ids, universe, L[:R], TS[:R], n)
    Q, notes = judge_matrix(m)
    return Q.astype(np.int8), notes


def _daily_matrices(obs: pd.DataFrame, mask: np.ndarray, sid_codes, sid_uniq, params: MoveParams):
    """(ids, ts, values, codes, rows, counts, positions in `obs`) of the daily rows since the
    history start, one row per (series, ts) — the later one when a key repeats (a restatement)."""
    used = np.flatnonzero(np.bincount(sid_codes[mask], minlength=len(sid_uniq)))
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
    used2 = np.flatnonzero(np.bincount(c, minlength=len(ids)))
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
    last_lvl = accumulate0(np.maximum, np.where(lvl, idx, -1))
    PL = np.vstack([np.full((1, S), -1), last_lvl[:-1]])
    SEG = cumsum0(lvl & (Q == GAP), np.int32)
    LR = np.where(lvl, cumsum0(lvl, np.int32) - 1, -1)
    T = _transform(a["L"], st.units)
    movable = present & HAS_MOVE[Q] | (present & (Q == REJECTED))   # rejected: the move it would be
    # The h-th accepted print back: rank of the previous accepted print − (h − 1), through the
    # table row-of-rank (one gather per horizon instead of h − 1 steps along the chain).
    ROW = np.full((R, S), -1, np.int64)
    ROW[LR[lvl], np.broadcast_to(cols, (R, S))[lvl]] = idx[lvl]
    plc = np.clip(PL, 0, None)
    rank_prev = np.where(PL >= 0, take_rows(LR, plc), -1)
    for h in params.horizons:
        if h == 1:
            back = PL
        else:
            rk = rank_prev - (h - 1)
            back = np.where(rk >= 0, take_rows(ROW, np.clip(rk, 0, None)), -1)
        okb = back >= 0
        bb = np.clip(back, 0, None)
        # Same segment (a rejected row sits in its predecessor's segment).
        same = okb & (take_rows(SEG, bb) == SEG) & movable
        with _quiet():
            a[_x_key(h)] = np.where(same, T - take_rows(T, bb), np.nan)
            a[_a_key(h)] = np.abs(a[_x_key(h)])
        if h > 1:
            a[_p_key(h)] = np.where((LR >= 0) & ~np.isnan(a[_x_key(h)]), LR % h, -1).astype(np.int8)
    X1 = a[_x_key(1)]
    INST = IN_STATS[Q] & present & ~np.isnan(X1)
    CV = cumsum0(INST, np.int32) - INST
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
        codes_, uniq = factorize_runs(srcv)
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
    st = _Daily(ids, units, sources, minh, buf, counts.astype(np.int64), np.zeros(S, np.int64), notes, src_names,
                gate_links(universe, ids), [gate_rules_for(universe.get(i), universe) for i in ids])
    _derive(st, params)
    return st, _latest_rows(st, np.arange(S), params)


# ------------------------------------------------------------------------------------ rows
def _last_level(st: _Daily, J: np.ndarray) -> np.ndarray:
    """Row of each column's newest accepted print (−1: none): the last row, or the accepted
    print before it."""
    last = np.clip(st.n[J] - 1, 0, None)
    k = np.where(HAS_LEVEL[st.Q[last, J]], last, st.PL[last, J])
    return np.where(st.n[J] > 0, k, -1)


def _ewma_at(st: _Daily, J: np.ndarray, pos: np.ndarray) -> np.ndarray:
    p = np.clip(pos - 1, 0, None)
    e = st.EW[p, J] if st.EW.shape[0] else np.full(len(J), np.nan)
    return np.where(pos >= 1, e, np.nan)


def _cols(M: np.ndarray, J: np.ndarray, R: int) -> np.ndarray:
    """M[:R, J] — a view when J is a run of consecutive columns (the whole table), else a copy."""
    if len(J) and J[-1] - J[0] == len(J) - 1 and np.all(np.diff(J) == 1):
        return M[:R, J[0]: J[-1] + 1]
    return M[:R][:, J]


def _base_rows(st: _Daily, J: np.ndarray, params: MoveParams) -> np.ndarray:
    """First row of each column on the declared rarity base (0: the whole history)."""
    base = params.base
    if base is None:
        return np.zeros(len(J), np.int64)
    if st.rank is not None:
        return st.rank.b0[J]
    return np.array([np.searchsorted(st.TS[: int(st.n[j]), j], base.value) for j in J], dtype=np.int64)


def _refresh_index(st: _Daily, J: np.ndarray, params: MoveParams) -> None:
    """(Re)build the rank index when there is none or a column in J has run too far past it."""
    if not len(J) or (st.rank is not None and not st.rank.behind(J, st.n[J])):
        return
    st.rank = None
    H = params.horizons
    a = st.buf.a
    st.rank = build_index(st.INST, st.TS, {h: a[_a_key(h)] for h in H}, {h: a[_p_key(h)] for h in H if h > 1},
                          st.n, _base_rows(st, np.arange(len(st.ids)), params), H)


def _hist_direct(st: _Daily, ix, J, end, b0, h: int, ph, thr):
    """(count ≥ thr, history size, ts of its first and last move) of items' rarity histories — the
    valid moves in rows [b0, end) (h > 1: of phase ph) — by comparing against every row."""
    R = int(end.max()) if len(end) else 0
    zero = np.zeros(len(J), np.int64)
    if R == 0:
        return zero, zero.copy(), zero.copy(), zero.copy()
    rows = np.arange(R)[:, None]
    m = _cols(st.INST, J, R) & (rows < end[None, :]) & (rows >= b0[None, :])
    if h > 1:
        m &= _cols(st.buf.a[_p_key(h)], J, R) == ph.astype(np.int8)[None, :]
    nh = np.count_nonzero(m, axis=0)
    cnt = zero
    if thr is not None:
        with _quiet():
            cnt = np.count_nonzero(m & (_cols(st.buf.a[_a_key(h)], J, R) >= thr[None, :]), axis=0)
    any_ = nh > 0
    first = np.where(any_, st.TS[np.argmax(m, axis=0), J], 0)
    last = np.where(any_, st.TS[R - 1 - np.argmax(m[::-1], axis=0), J], 0)
    return cnt, nh, first, last


def _hist_indexed(st: _Daily, ix: RankIndex, J, end, b0, h: int, ph, thr):
    """`_hist_direct` through the rank index: a binary search below row F, a scan from F on."""
    F = ix.F[J]
    T = int((end - F).max()) if len(J) else 0
    r = F[None, :] + np.arange(T)[:, None]
    flat = np.clip(r, 0, st.INST.shape[0] - 1) * st.INST.shape[1] + J[None, :]
    m = (r < end[None, :]) & st.INST.reshape(-1).take(flat) & (r >= b0[None, :])
    if h > 1:
        m &= st.buf.a[_p_key(h)].reshape(-1).take(flat) == ph.astype(np.int8)[None, :]
    tail_n = np.count_nonzero(m, axis=0)
    nh = tail_n.copy()
    cnt = np.zeros(len(J), np.int64)
    for p in (np.unique(ph) if h > 1 else [0]):
        sel = np.flatnonzero(ph == p) if h > 1 else np.arange(len(J))
        srt, c = ix.sizes[(h, int(p))]
        nh[sel] += c[J[sel]]
        if thr is not None:
            cnt[sel] = count_at_least(srt, c, J[sel], thr[sel])
    if thr is not None:
        with _quiet():
            cnt += np.count_nonzero(m & (st.buf.a[_a_key(h)].reshape(-1).take(flat) >= thr[None, :]), axis=0)
    first = last = np.zeros(len(J), np.int64)
    if h == 1:
        has_t = tail_n > 0
        t_first = st.TS[r[np.argmax(m, axis=0), np.arange(len(J))], J] if T else np.zeros(len(J), np.int64)
        t_last = st.TS[r[T - 1 - np.argmax(m[::-1], axis=0), np.arange(len(J))], J] if T else t_first
        old = ix.n1[J] > 0
        first = np.where(old, ix.first[J], np.where(has_t, t_first, 0))
        last = np.where(has_t, t_last, np.where(old, ix.last[J], 0))
    return cnt, nh, first, last


class _Base:
    """The rarity base of items (column J[i], newest row K[i]): which earlier valid moves count
    (on the declared base; for an h-day move the non-overlapping ones of its phase) and how many
    there are a year — through the rank index where it answers, else row by row."""

    def __init__(self, st: _Daily, J: np.ndarray, K: np.ndarray, params: MoveParams):
        self.st, self.J, self.K, self.params = st, J, K, params
        self.b0 = _base_rows(st, J, params)
        self.ends: dict[int, tuple[np.ndarray, np.ndarray]] = {1: (K.astype(np.int64), np.zeros(len(J), np.int64))}
        _, n1, first, last = self._over(1, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            span = (last - first) / NS_PER_YEAR
            self.rate = np.where((n1 > 1) & (span > 0), (n1 - 1) / span, np.nan)

    def _over(self, h: int, thr) -> list[np.ndarray]:
        """(count ≥ thr, history size, first and last move's ts) per item, each by its path."""
        end, ph = self.ends[h]
        J, ix = self.J, self.st.rank
        fast = ix.usable(J, end) if ix is not None else np.zeros(len(J), bool)
        out = [np.zeros(len(J), np.int64) for _ in range(4)]
        for sel, how in ((fast, _hist_indexed), (~fast, _hist_direct)):
            i = np.flatnonzero(sel)
            if len(i):
                for o, v in zip(out, how(self.st, ix, J[i], end[i], self.b0[i], h, ph[i],
                                         None if thr is None else thr[i])):
                    o[i] = v
        return out

    def counts(self, h: int, thr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(earlier moves ≥ thr, history size) per item for the h-day moves."""
        if h not in self.ends:   # the accepted print h ranks back; the history ends at it
            st, J, K = self.st, self.J, self.K
            lk = st.LR[np.clip(K, 0, None), J].astype(np.int64)
            back = K.astype(np.int64).copy()
            for _ in range(h):
                back = np.where(back >= 0, st.PL[np.clip(back, 0, None), J], -1)
            end = np.where((lk >= h) & (back >= 0), back + 1, 0)
            self.ends[h] = (end, lk % h)
        cnt, nh, _, _ = self._over(h, thr)
        return cnt, nh

    def history(self, i: int, h: int) -> np.ndarray:
        """The sizes in item i's h-day history, in row order (for the tail fit)."""
        st, j = self.st, int(self.J[i])
        end, ph = self.ends[h]
        e = int(end[i])
        m = st.INST[:e, j] & (np.arange(e) >= self.b0[i])
        if h > 1:
            m &= st.buf.a[_p_key(h)][:e, j] == ph[i]
        return st.buf.a[_a_key(h)][:e, j][m]


def _last_as_large(st: _Daily, X: np.ndarray, J: np.ndarray, K: np.ndarray, thr: np.ndarray,
                   sgn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time of the last valid move before row K[i] of column J[i] of X (a whole X matrix) at
    least `thr[i]` in size (either sign) and with the sign `sgn[i]` (ns; _NAT: none). Searched backwards in growing blocks: an ordinary
    move stops within a few rows, only a record reads the whole history."""
    m = len(J)
    out = np.full(m, _NAT, np.int64)
    out_s = np.full(m, _NAT, np.int64)
    todo = np.flatnonzero(~np.isnan(thr))
    todo_s = np.ones(m, bool)        # items whose signed search is still open
    hi = K.astype(np.int64).copy()
    span = 8
    INST, TS = st.INST, st.TS
    S = X.shape[1]
    Xf, If = X.reshape(-1), INST.reshape(-1)          # flat gathers: cheaper than 2-D fancy indexing
    while len(todo):
        span = min(span, int(hi[todo].max()))          # never past the first row
        rr = hi[todo][None, :] - 1 - np.arange(span)[:, None]
        valid = rr >= 0
        flat = np.clip(rr, 0, None) * S + J[todo][None, :]
        xc = Xf.take(flat)
        ok = valid & If.take(flat)
        with _quiet():
            hit = ok & (np.abs(xc) >= thr[todo][None, :])
            hit_s = ok & (sgn[todo][None, :] * xc >= thr[todo][None, :])
        f, fs = hit.any(axis=0), hit_s.any(axis=0) & todo_s[todo]
        if f.any():
            r = rr[np.argmax(hit, axis=0), np.arange(len(todo))]
            sel = f & (out[todo] == _NAT)
            out[todo[sel]] = TS[r[sel], J[todo[sel]]]
        if fs.any():
            r = rr[np.argmax(hit_s, axis=0), np.arange(len(todo))]
            out_s[todo[fs]] = TS[r[fs], J[todo[fs]]]
            todo_s[todo[fs]] = False
        hi[todo] -= span
        open_ = ((out[todo] == _NAT) | todo_s[todo]) & (hi[todo] > 0)
        todo = todo[open_]
        span *= 16
    return out, out_s


def _rarity(st: _Daily, J: np.ndarray, K: np.ndarray, x: np.ndarray, h: int, params: MoveParams,
            base: _Base | None = None) -> dict[str, np.ndarray]:
    """Rarity, return period (tail model for records), largest-since for items (J[i], K[i], x[i]).
    `base`: `_Base(st, J, K, params)` when the caller computes several horizons."""
    base = base if base is not None else _Base(st, J, K, params)
    rate = base.rate
    Xfull = st.buf.a[_x_key(h)]
    with _quiet():
        thr = np.abs(x) - params.tie_tol * np.fmax(1.0, np.abs(x))
        cnt, nh = base.counts(h, thr)
        share, period, neq = rarity_figures(cnt, nh, rate, h, params.obs_per_year)
        # Largest since: the last earlier accepted move at least as large (either sign / same sign).
        last_big, last_big_s = _last_as_large(st, Xfull, J, K, thr, np.sign(x))
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
        fit = fit_tail(base.history(i, h), quantile=params.tail_quantile, min_exceed=params.tail_min_exceed)
        p, p_lo, p_hi = tail_probability(fit, abs(x[i]))
        if not (p > 0) or not (p_lo > 0) or p_hi / p_lo > 1e4:   # an interval over 4 decades says nothing
            continue
        r = (params.obs_per_year or rate[i]) / h
        share[i] = p
        period[i] = 1.0 / (p * r)
        lo[i] = 1.0 / (p_hi * r) if p_hi > 0 else np.nan
        hi[i] = 1.0 / (p_lo * r) if p_lo > 0 else math.inf
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
    if len(parts) == 1:
        return pd.DataFrame(parts[0])
    # One frame from the horizons' columns joined (not a frame per horizon and a concat).
    n = len(J)
    return pd.DataFrame({k: _joined([p[k] for p in parts], n) for k in parts[0]})


def _joined(vals: list, n: int):
    """The horizons' values of one column, one after the other (each part has n rows)."""
    v0 = vals[0]
    if isinstance(v0, pd.DatetimeIndex):
        return v0.append(list(vals[1:]))
    if isinstance(v0, np.ndarray):
        return np.concatenate(vals)
    if isinstance(v0, (list, tuple)):
        return [x for v in vals for x in v]
    if all(v is v0 or v == v0 for v in vals):
        return v0                                        # the same scalar for every row
    return np.repeat(np.asarray(vals), n)


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
    we = _utc(np.where(prev_lvl >= 0, st.TS[np.clip(prev_lvl, 0, None), J], _NAT))
    ts_k = _utc(st.TS[K, J])
    start = _utc(st.TS[0, J])
    sources = _row_sources(st, J, K)
    verdicts = np.asarray(VERDICTS, dtype=object)[q]
    parts = []
    base = _Base(st, J, K, params)
    for h in (horizons or params.horizons):
        x = st.buf.a[_x_key(h)][K, J]
        z = zscores(x, fc, h, units, params)
        rr = _rarity(st, J, K, x, h, params, base)
        parts.append(({
            "series_id": ids, "kind": "daily", "horizon": h,
            "ts": ts_k,
            "window_end": we,
            "move": x, "unit": list(units), "floor": z["floor"],
            **{c: z[c] for c in _STAT_COLS},
            "rarity_share": rr["rarity_share"], "return_period_years": rr["return_period_years"],
            "normal_equiv_sigma": rr["normal_equiv_sigma"], "n_history": rr["n_history"],
            "source": sources, "single_print": False, "F": np.nan,
            "quality": verdicts, "quality_note": note,
            "n_valid": pos, "min_history": st.minh[J], "tail": rr["tail"],
            "return_period_low": rr["return_period_low"], "return_period_high": rr["return_period_high"],
            "largest_since": _utc(rr["largest_since"]),
            "largest_since_signed": _utc(rr["largest_since_signed"]),
            "series_start": start,
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
    # Who sent each series' newest bar (a series may take prints from its source and from the
    # push feed): the source its intraday row and alert name.
    _bar_src: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ read side
    def latest(self) -> list[MoveStat]:
        """One MoveStat per series × horizon (daily) and per intraday series."""
        return [self._stat(r) for r in self.frame.itertuples(index=False)]

    def for_series(self, series_id: str) -> list[MoveStat]:
        return [self._stat(r) for r in self.frame[self.frame["series_id"] == series_id].itertuples(index=False)]

    def _stat(self, r) -> MoveStat:
        return stat_from_row(r._asdict(), self.params)

    def frame_at(self, cut: pd.Timestamp) -> pd.DataFrame:
        """The daily rows `frame` had when the data ended at `cut`: per series, the newest
        accepted print at or before `cut`, every horizon, rarity counted over earlier moves only
        — the same numbers the live table showed then (a pinned view: `?asof=`). No intraday rows."""
        st = self._daily
        if st is None or not len(st.ids):
            return _empty_table()
        cut_ns = pd.Timestamp(cut).tz_convert("UTC").value if pd.Timestamp(cut).tzinfo else pd.Timestamp(cut, tz="UTC").value
        J, K = [], []
        for j in range(len(st.ids)):
            n = int(st.n[j])
            if n == 0:
                continue
            k = int(np.searchsorted(st.TS[:n, j], cut_ns, side="right")) - 1
            while k >= 0 and not HAS_LEVEL[st.Q[k, j]]:       # a rejected print is not a level
                k -= 1
            if k >= 0:
                J.append(j)
                K.append(k)
        if not J:
            return _empty_table()
        J, K = np.asarray(J, dtype=np.int64), np.asarray(K, dtype=np.int64)
        out = _rows_for(st, J, K, self.params)
        level = {st.ids[j]: float(st.L[k, j]) for j, k in zip(J, K)}    # the close itself, for the tile
        out["value"] = out["series_id"].map(level)
        return out

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
                        self._daily.copy() if self._daily is not None else None, dict(self._bars),
                        dict(self._bar_src))
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
                _note_bar_source(out._bar_src, sid, g, merged)
        # An intraday row is recomputed on a new bar, and on a new close of the daily series that
        # scales it (its own, or the close of record it takes σ from: universe `sigma_from`).
        new_daily = set(daily["series_id"].unique())
        touched_intra = set(intra["series_id"].unique()) | {sid for sid in out._bars
                                                            if _daily_id(self.universe, sid) in new_daily}
        if touched_intra:
            rows = rows[~((rows["kind"] == "intraday") & rows["series_id"].isin(touched_intra))]
        irows = [out._intraday_row(sid) for sid in sorted(touched_intra)]
        irows = [r for r in irows if r is not None]
        out.frame = _sorted(pd.concat([rows, *irows], ignore_index=True) if irows else rows)
        return out

    def _update_daily(self, daily: pd.DataFrame) -> pd.DataFrame:
        """Fold daily points in. New points after a series' last one are appended; a point at or
        before it (a restated value or verdict, a late print) re-steps the series from the first
        stored row at or after it when that lies within REWIND_ROWS of the end; anything further
        back, or a restated value without a stored verdict (the gate must see the whole history),
        is a full recompute."""
        st = self._daily
        ts = _utc_ns(daily["ts"])
        vals = daily["value"].to_numpy(dtype="float64")
        good = ~np.isnan(vals)
        daily, ts, vals = daily[good], ts[good], vals[good]
        if not len(daily):
            return self.frame
        sid = daily["series_id"].to_numpy(dtype=object)
        if st is None or any(s not in st.col for s in pd.unique(sid)):
            return self._recompute_with(daily)
        srcs = daily["source"].to_numpy(dtype=object) if "source" in daily.columns else np.full(len(sid), None)
        has_q = "quality" in daily.columns
        qv = codes_from_text(daily["quality"].to_numpy(dtype=object)) if has_q else np.full(len(sid), UNJUDGED, np.int8)
        nts = daily["quality_note"].to_numpy(dtype=object) if has_q and "quality_note" in daily.columns \
            else np.full(len(sid), None, dtype=object)
        cols = pd.Series(sid).map(st.col).to_numpy(dtype=np.int64)
        o = np.lexsort((np.arange(len(cols)), ts, cols))          # a repeated key: its last row wins
        cols, ts, vals, srcs, qv, nts = cols[o], ts[o], vals[o], srcs[o], qv[o], nts[o]
        last = np.r_[(cols[1:] != cols[:-1]) | (ts[1:] != ts[:-1]), True]
        if not last.all():
            cols, ts, vals, srcs, qv, nts = cols[last], ts[last], vals[last], srcs[last], qv[last], nts[last]
        n_c = st.n[cols]
        late = (n_c > 0) & (ts <= st.TS[np.clip(n_c - 1, 0, None), cols])
        rewind: dict[int, int] = {}
        redo: dict[int, tuple[int, np.ndarray, list]] = {}
        if late.any():
            if not has_q:
                return self._recompute_with(daily)
            last_row = np.clip(n_c - 1, 0, None)
            # A new verdict for a series' last print (same instant, same value): a restatement.
            same = late & (ts == st.TS[last_row, cols]) & (vals == st.L[last_row, cols])
            same_done = np.zeros(len(cols), bool)
            for i in np.flatnonzero(same):
                j = int(cols[i])
                k = int(last_row[i])
                code = int(st.SRC[k, j])
                if isinstance(srcs[i], str) and srcs[i] and srcs[i] != (st.src_names[code] if code >= 0 else None):
                    continue                          # another publisher's value: re-step it
                if np.count_nonzero(late & (cols == j)) == 1:
                    note = nts[i] if isinstance(nts[i], str) and nts[i] else None
                    if not (qv[i] == st.Q[k, j] and note == st.notes.get((k, j))):   # else: nothing new
                        redo[j] = (k, np.array([qv[i]], np.int8), [nts[i]])
                    late[i] = False
                    same_done[i] = True
            if same_done.any():
                keep = ~same_done
                cols, ts, vals, srcs, qv, nts, late = (x[keep] for x in (cols, ts, vals, srcs, qv, nts, late))
            for j in np.unique(cols[late]):
                r = int(np.searchsorted(st.TS[: st.n[j], j], ts[cols == j].min()))
                if st.n[j] - r > REWIND_ROWS:
                    return self._recompute_with(daily)
                rewind[int(j)] = r
        if not len(cols) and not redo:
            return self.frame                       # only re-deliveries of what the table holds
        if not has_q and len(cols):
            judged = self._gate_tail(cols, ts, vals)
            if judged is None:
                return self._recompute_with(daily)
            qv, nts, redo = judged
        if redo and not rewind and self._restate_last(redo):
            pass
        elif rewind or redo:
            cols, ts, vals, srcs, qv, nts = self._restep_rows(rewind, redo, cols, ts, vals, srcs, qv, nts)
        elif np.any(st.buf.tip_n != st.n) or np.any(st.buf.tip_nv != st.nv):
            st.buf = st.buf.copy_upto(st.n, st.nv)    # not the newest table: append into our own copy
        if len(cols):
            first = np.r_[True, cols[1:] != cols[:-1]]
            grp_start = np.maximum.accumulate(np.where(first, np.arange(len(cols)), 0))
            rnd = np.arange(len(cols)) - grp_start
            for r in range(int(rnd.max()) + 1):
                sel = rnd == r
                self._step(cols[sel], vals[sel], ts[sel], qv[sel], nts[sel], srcs[sel])
        touched = np.union1d(np.unique(cols), np.array(sorted(redo), dtype=np.int64))
        _refresh_index(st, touched, self.params)
        frame = self.frame[~((self.frame["kind"] == "daily") & self.frame["series_id"].isin([st.ids[c] for c in touched]))]
        fresh = _latest_rows(st, touched, self.params)
        # Every series touched (a market day): nothing of the old frame's daily rows is kept, and
        # a concat with an empty frame would cost more than the new rows (dtype reconciliation).
        return fresh if frame.empty else pd.concat([frame, fresh], ignore_index=True)

    def _restate_last(self, redo: dict) -> bool:
        """New verdicts for series' last stored rows (a held print decided by the next one, a
        close a peer or second source now confirms) applied in place — False, leaving everything
        as it was, when a change is not of that kind (a gap verdict, a move leaving the σ window)
        and the series must be re-stepped instead. Such a restatement changes no level, move or
        segment, so only the verdict, rank and in-window matrices are copied (older tables keep
        theirs); the table we came from may no longer append into the buffers it shares."""
        st = self._daily
        a = st.buf.a
        items = []
        for j, (r0, codes, notes) in redo.items():
            if r0 != int(st.n[j]) - 1:
                return False
            old, new = int(a["Q"][r0, j]), int(codes[0])
            if GAP in (old, new) or UNJUDGED in (old, new):
                return False
            inst_old = bool(a["INST"][r0, j])
            inst_new = bool(IN_STATS[new]) and not np.isnan(a["X1"][r0, j])
            if inst_old and not inst_new:
                return False
            items.append((j, r0, new, notes[0], inst_old, inst_new))
            if st.rank is not None and r0 < st.rank.F[j]:
                st.rank = None
        # The cells each item rewrites: its verdict, and where that changes them its rank, phases
        # and in-window flag. Only the matrices with a changed cell are copied (the verdicts
        # always; the rest rarely: a print accepted or rejected, a move joining the window).
        cells: dict[str, list[tuple[int, int, int]]] = {"Q": [], "LR": [], "INST": []}
        for j, r0, new, note, inst_old, inst_new in items:
            cells["Q"].append((r0, j, new))
            pl = int(a["PL"][r0, j])
            rank = ((int(a["LR"][pl, j]) + 1) if pl >= 0 else 0) if HAS_LEVEL[new] else -1
            cells["LR"].append((r0, j, rank))
            for h in self.params.horizons:
                if h > 1:
                    ph = rank % h if rank >= 0 and not np.isnan(a[_x_key(h)][r0, j]) else -1
                    cells.setdefault(_p_key(h), []).append((r0, j, ph))
            cells["INST"].append((r0, j, inst_new))
        changed = {k for k, cs in cells.items() if any(a[k][r, j] != v for r, j, v in cs)}
        old_buf = st.buf
        if np.any(old_buf.tip_n != st.n) or np.any(old_buf.tip_nv != st.nv):
            st.buf = old_buf.copy_upto(st.n, st.nv)
        else:
            st.buf = _Buf({**old_buf.a, **{k: a[k].copy() for k in changed}},
                          old_buf.tip_n.copy(), old_buf.tip_nv.copy())
            old_buf.tip_n[:] = -1          # the older tables copy before they append
        a = st.buf.a
        for k in changed:
            for r, j, v in cells[k]:
                a[k][r, j] = v
        for j, r0, new, note, inst_old, inst_new in items:
            if inst_new and not inst_old:
                _grow(st, int(st.n.max()), int(st.nv[j]) + 1)
                self._append_moves(np.array([j]), np.array([st.buf.a["X1"][r0, j]]))
            if isinstance(note, str) and note:
                st.notes[(r0, j)] = note
            else:
                st.notes.pop((r0, j), None)
        return True

    def _restep_rows(self, rewind: dict[int, int], redo: dict, cols, ts, vals, srcs, qv, nts):
        """Cut the columns back (on a private copy of the buffers: older tables keep theirs) and
        return the stored rows from the cut, with their verdict or the gate's new one, merged with
        the new points (a new point replaces a stored one at the same instant)."""
        st = self._daily
        st.buf = st.buf.copy_upto(st.n, st.nv)
        parts = [(cols, ts, vals, srcs, qv, nts)]
        for j in sorted(set(rewind) | set(redo)):
            n = int(st.n[j])
            r = min(rewind.get(j, n), redo[j][0] if j in redo else n)
            k = np.arange(r, n)
            q = st.Q[r:n, j].copy()
            nt = np.array([st.notes.get((int(i), j)) for i in k], dtype=object)
            if j in redo:
                r0, codes, notes = redo[j]
                q[r0 - r:] = codes
                nt[r0 - r:] = np.array(notes, dtype=object)
            t = st.TS[r:n, j].copy()
            keep = ~np.isin(t, ts[cols == j])
            sc = st.SRC[r:n, j]
            src = np.array([st.src_names[c] if c >= 0 else None for c in sc], dtype=object)
            parts.append((np.full(int(keep.sum()), j, np.int64), t[keep], st.L[r:n, j][keep].copy(),
                          src[keep], q[keep], nt[keep]))
            self._truncate(j, r)
        cols, ts, vals, srcs, qv, nts = (np.concatenate([p_[i] for p_ in parts]) for i in range(6))
        o = np.lexsort((ts, cols))
        return cols[o], ts[o], vals[o], srcs[o], qv[o].astype(np.int8), nts[o]

    def _truncate(self, j: int, r: int) -> None:
        """Column j back to its first r rows (the buffers must be private to this table)."""
        st = self._daily
        a = st.buf.a
        n = int(st.n[j])
        if st.rank is not None and r < st.rank.F[j]:
            st.rank = None                     # rows it sorted change: built again when needed
        nv_r = int(a["CV"][r, j]) if r < n else int(st.nv[j])
        for k in _ROW_KEYS:
            v = a[k]
            v[r:, j] = np.nan if v.dtype.kind == "f" else (False if v.dtype == bool else -1)
        a["Q"][r:, j] = UNJUDGED
        for k in _MV_KEYS:
            a[k][nv_r:, j] = np.nan
        st.n[j] = st.buf.tip_n[j] = r
        st.nv[j] = st.buf.tip_nv[j] = nv_r
        st.notes = {key: v for key, v in st.notes.items() if not (key[1] == j and key[0] >= r)}

    def _gate_tail(self, cols: np.ndarray, ts: np.ndarray, vals: np.ndarray):
        """The gate for new points: (codes, notes) of the points and {column: (first stored row
        whose verdict changed, codes and notes from there)}, or None when only a full recompute
        can judge them like a full recompute would. Points the gate would certainly call `ok`
        are settled at once (`_plain_points`); the others are judged on a tail window."""
        qv = np.full(len(cols), OK, np.int8)
        nts = np.full(len(cols), None, dtype=object)
        fast = self._plain_points(cols, ts, vals)
        if fast.all():
            return qv, nts, {}
        slow = ~fast
        out = self._gate_window(cols[slow], ts[slow], vals[slow])
        if out is None:
            return None
        qv[slow], nts[slow], redo = out
        return qv, nts, redo

    def _plain_points(self, cols: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """New points the gate would certainly call `ok` (analytics.quality.surely_ok): the only
        new point of a series nothing links to, without splices, after a clean stored tail."""
        st = self._daily
        plain, zone, zones = self._plain_static()
        one = np.bincount(cols, minlength=len(st.ids))[cols] == 1
        cand = np.flatnonzero(one & (st.n[cols] >= 1) & plain[cols])
        fast = np.zeros(len(cols), bool)
        if not len(cand):
            return fast
        J = cols[cand]
        n = st.n[J]
        rows = n[None, :] - (SCALE_WINDOW + 1) + np.arange(SCALE_WINDOW + 1)[:, None]
        inside = rows >= 0
        flat = np.clip(rows, 0, None) * st.L.shape[1] + J[None, :]   # flat gathers: cheaper than 2-D
        values = np.where(inside, st.L.reshape(-1).take(flat), np.nan)
        codes = np.where(inside, st.Q.reshape(-1).take(flat), UNJUDGED).astype(np.int8)
        last_ts = st.TS[n - 1, J]
        gap = np.zeros(len(J))
        zc = zone[J]
        for z in np.unique(zc):
            i = np.flatnonzero(zc == z)
            tz, eod = zones[z]
            d = market_days(np.r_[ts[cand][i], last_ts[i]], tz, "24:00" if eod else "00:00").astype(np.int64)
            gap[i] = d[: len(i)] - d[len(i):]
        fast[cand] = surely_ok(values, codes, vals[cand], gap, [st.rules[j] for j in J])
        return fast

    def _plain_static(self) -> tuple[np.ndarray, np.ndarray, list[tuple[str, bool]]]:
        """(may take the fast path, time-zone group, the groups' (timezone, 24:00 close)) per
        column: a series nothing links to and without splices; the same for every table that
        shares these columns, so computed once."""
        st = self._daily
        if "plain" not in st.static:
            affects, needs = st.links
            plain = np.array([len(affects.get(i, ())) <= 1 and len(needs.get(i, ())) <= 1 and not st.rules[j].splices
                              for j, i in enumerate(st.ids)], dtype=bool)
            keys = [(s.timezone, s.close == "24:00") for s in (self.universe.get(i) for i in st.ids)]
            zones = sorted(set(keys))
            code = {k: z for z, k in enumerate(zones)}
            st.static["plain"] = (plain, np.array([code[k] for k in keys], dtype=np.int64), zones)
        return st.static["plain"]

    def _gate_window(self, cols: np.ndarray, ts: np.ndarray, vals: np.ndarray):
        """The gate on a tail window of the series the points concern (the touched ones, their
        curve peers, their references and the series that take them as a reference).

        Stored verdicts are kept as they are (`given`) except those of each series' last
        REJUDGE_ROWS rows, which the new points may still decide (a held print, the print before
        a reversal, a close a second source or a peer now confirms); the window reaches
        SCALE_WINDOW + 1 rows further back (plus the rejected rows among them), so every row it
        decides sees exactly the history a full recompute would. None where it cannot (a series
        with more rejected rows than the slack, or a point so late that it would decide an older
        stored row)."""
        st = self._daily
        affects, needs = st.links
        judged: set[str] = set()
        for c in np.unique(cols):
            judged |= affects.get(st.ids[c], {st.ids[c]})
        scope = set(judged)
        for x in judged:
            scope |= needs.get(x, {x})
        ids = sorted(x for x in scope if x in st.col)
        idx = np.array([st.col[i] for i in ids], dtype=np.int64)
        wpos = np.full(len(st.ids), -1, np.int64)
        wpos[idx] = np.arange(len(idx))
        n = st.n[idx]
        cap = st.L.shape[0]
        # A late point (older than the rows the window re-judges in a linked series): full recompute.
        jm = np.array([i in judged for i in ids])
        cut = np.where((n > REJUDGE_ROWS) & jm, st.TS[np.clip(n - REJUDGE_ROWS, 0, cap - 1), idx], _NAT)
        if len(ts) and int(ts.min()) < int(cut.max()) - 2 * 86_400_000_000_000:
            return None
        W = SCALE_WINDOW + 1 + REJUDGE_ROWS
        lo0 = np.maximum(n - W - _GATE_SLACK, 0)
        rr = np.arange(W + _GATE_SLACK)[:, None]
        src = lo0[None, :] + rr
        nrej = ((src < n[None, :]) & (st.Q[np.clip(src, 0, cap - 1), idx[None, :]] == REJECTED)).sum(axis=0)
        if np.any(nrej > _GATE_SLACK):
            return None
        lo = np.maximum(n - W - nrej, 0)
        k_old = n - lo
        wc = wpos[cols]
        new_cnt = np.bincount(wc, minlength=len(idx))
        first = np.r_[True, cols[1:] != cols[:-1]]
        rnk = np.arange(len(cols)) - np.maximum.accumulate(np.where(first, np.arange(len(cols)), 0))
        wr = k_old[wc] + rnk
        lens = k_old + new_cnt
        R = int(lens.max())
        rr = np.arange(R)[:, None]
        src = np.clip(lo[None, :] + rr, 0, cap - 1)
        stored = rr < k_old[None, :]
        Lm = np.where(stored, st.L[src, idx[None, :]], np.nan)
        Tm = np.where(stored, st.TS[src, idx[None, :]], 0)
        Qs = np.where(stored, st.Q[src, idx[None, :]], UNJUDGED).astype(np.int8)
        Lm[wr, wc], Tm[wr, wc] = vals, ts
        rejudge = stored & (rr >= (k_old - REJUDGE_ROWS)[None, :]) & jm[None, :]
        G = np.where(stored & ~rejudge & (Qs != UNJUDGED), Qs, -1).astype(np.int8)
        m = build_gate_matrix(ids, self.universe, Lm, Tm, lens, rules=[st.rules[j] for j in idx])
        code, notes = judge_matrix(m, given=G)
        qv = code[wr, wc].astype(np.int8)
        nts = np.array([notes.get((int(r), int(c))) for r, c in zip(wr, wc)], dtype=object)
        redo: dict[int, tuple[int, np.ndarray, list]] = {}
        changed = rejudge & (code != Qs)
        for (r, c), text in notes.items():
            if rejudge[r, c] and st.notes.get((int(lo[c] + r), int(idx[c]))) != text:
                changed[r, c] = True
        for (g, j), text in st.notes.items():
            c = wpos[j] if j < len(wpos) else -1
            if c >= 0 and 0 <= g - lo[c] < k_old[c] and rejudge[g - lo[c], c] and (g - lo[c], c) not in notes:
                changed[g - lo[c], c] = True
        for c in np.flatnonzero(changed.any(axis=0)):
            r0 = int(np.argmax(changed[:, c]))
            k = range(r0, int(k_old[c]))
            redo[int(idx[c])] = (int(lo[c] + r0), code[r0:k_old[c], c].astype(np.int8),
                                 [notes.get((r, int(c))) for r in k])
        return qv, nts, redo

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
                xh = np.where(same, T_new - Tb, np.nan)
            a[_x_key(h)][k, cols] = xh
            a[_a_key(h)][k, cols] = np.abs(xh)
            if h > 1:
                a[_p_key(h)][k, cols] = np.where(lvl & ~np.isnan(xh), (lr_prev + 1) % h, -1)
        x1 = a["X1"][k, cols]
        inst = IN_STATS[q] & ~np.isnan(x1)
        a["INST"][k, cols] = inst
        a["CV"][k, cols] = st.nv[cols]
        st.n[cols] = k + 1
        st.buf.tip_n[cols] = k + 1
        # The move joins the valid moves (and the EWMA) after its own statistics were taken.
        sel = np.flatnonzero(inst)
        if len(sel):
            self._append_moves(cols[sel], x1[sel])
        has = np.array([bool(x) for x in srcs], dtype=bool)
        if has.any():
            names = np.array([str(x) for x in srcs[has]], dtype=object)
            uniq, inv = np.unique(names, return_inverse=True)
            codes = np.array([st.source_code(u) for u in uniq], dtype=a["SRC"].dtype)
            a["SRC"][k[has], cols[has]] = codes[inv]
            for c, name in zip(cols[has], names):
                st.sources[c] = name

    def _append_moves(self, cj: np.ndarray, x: np.ndarray) -> None:
        """Valid moves x join the columns cj (one each): V, and the EWMA variance after them."""
        st, p = self._daily, self.params
        a = st.buf.a
        vj = st.nv[cj]
        a["V"][vj, cj] = x
        seed, lam = p.ewma_seed, p.ewma_lambda
        with _quiet():
            prev_e = np.where(vj >= 1, a["EW"][np.clip(vj - 1, 0, None), cj], np.nan)
            e = np.where(vj + 1 > seed, lam * prev_e + (1 - lam) * x ** 2, np.nan)
            for i in np.flatnonzero(vj + 1 == seed):
                e[i] = np.var(a["V"][:seed, cj[i]], ddof=1)
        a["EW"][vj, cj] = e
        st.nv[cj] = vj + 1
        st.buf.tip_nv[cj] = vj + 1

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
        if s.sigma_from:
            fr = self._anchor_on_record(fr, s)
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
                    "unit": s.unit, "n_history": 0, "source": self._bar_src.get(sid, s.source),
                    "single_print": bool(last["single_print"]), "F": last["F"],
                    "floor": sig_day.get("_floor", np.nan) * math.sqrt(last["F"]),
                    "quality": "ok", "quality_note": "", "n_valid": sig_day.get("_n_valid", 0),
                    "min_history": sig_day.get("_min_history", 0), "tail": False,
                    "largest_since": pd.NaT, "largest_since_signed": pd.NaT, "series_start": pd.NaT})
        rr = self._intraday_rarity(sig_day, float(last["cum_move"]))
        for k in ("rarity_share", "return_period_years", "normal_equiv_sigma", "n_history", "tail",
                  "return_period_low", "return_period_high"):
            if k in rr:
                row[k] = rr[k]
        for k in ("largest_since", "largest_since_signed"):
            if k in rr and rr[k] != _NAT:
                row[k] = pd.Timestamp(int(rr[k]), tz="UTC")
        for e in ESTIMATORS:
            row[f"sigma_{e}"] = last[f"sigma_{e}"]
            row[f"z_{e}"] = last[f"z_{e}"]
            row[f"mu_{e}"] = 0.0
            rs = raw.get(e, np.nan) * math.sqrt(last["F"])
            row[f"sigma_raw_{e}"] = rs
            row[f"z_raw_{e}"] = last["cum_move"] / rs if rs and rs > 0 else np.nan
        return pd.DataFrame([row], columns=TABLE_COLUMNS)

    def _anchor_on_record(self, fr: pd.DataFrame, s) -> pd.DataFrame:
        """Exchange quotes (`sigma_from`): the latest session's move runs from the close of record
        — the daily series' last accepted close before the session's day (the MOF fixing) — so a
        desk feed that posts only today's prints still has its move, and it reads as the day's move
        the MOF close will show. Kept on the quotes' own previous close when that is of a later day
        (the MOF file for it is not out yet), and none when the close of record is older than its
        series' `stale_after` (+1 day): a move of several days is never shown as one session's."""
        st = self._daily
        if st is None or s.sigma_from not in st.col or fr.empty:
            return fr
        j = st.col[s.sigma_from]
        n = int(st.n[j])
        if n == 0:
            return fr
        last = fr["ts"].iloc[-1].tz_convert(s.timezone)
        hh, mm = (int(x) for x in s.close.split(":"))
        day = last.date() + dt.timedelta(days=1 if (last.hour, last.minute) >= (hh, mm) and (hh, mm) != (0, 0) else 0)
        days = market_days(st.TS[:n, j], s.timezone, s.close)
        k = int(np.searchsorted(days, np.datetime64(day, "D"), side="left")) - 1
        while k >= 0 and not HAS_LEVEL[st.Q[k, j]]:          # a rejected print is not a close
            k -= 1
        # A close of record older than its series may be before it is stale (MOF not publishing):
        # no anchor — months of moves would read as one session's.
        limit = max(self.universe.get(s.sigma_from).stale_after.days, 1) + 1
        if k < 0 or (np.datetime64(day, "D") - days[k]).astype(int) > limit:
            return fr
        today = fr["session"].to_numpy() == fr["session"].iloc[-1]
        own = fr["prev_close_ts"].iloc[-1]
        rec_ts = pd.Timestamp(int(st.TS[k, j]), tz="UTC")
        if not pd.isna(own) and np.datetime64(own.tz_convert(s.timezone).date(), "D") > days[k]:
            return fr
        fr = fr.copy()
        level = float(st.L[k, j])
        vals = fr.loc[today, "value"].to_numpy(dtype="float64")
        fr.loc[today, "prev_close"] = level
        fr.loc[today, "prev_close_ts"] = rec_ts
        fr.loc[today, "cum_move"] = change_array(np.full(len(vals), level), vals, s.unit)
        first = int(np.flatnonzero(today)[0])
        fr.iloc[first, fr.columns.get_loc("bar_move")] = change_array(np.array([level]), vals[:1], s.unit)[0]
        return fr

    def _daily_sigma_before(self, sid: str, fr: pd.DataFrame, s) -> tuple[dict, dict]:
        """Daily σ per estimator — floored and raw — from the valid daily moves up to the previous
        close's market date (`fr`: the series' session frame). The daily series is the series
        itself, or for an intraday-only one (exchange quotes) the close of record it names
        (`sigma_from`: same unit, market, timezone and close, checked by the universe)."""
        st = self._daily
        base = s.daily_id
        if st is None or base not in st.col or fr.empty:
            return {}, {}
        j = st.col[base]
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
        out["_col"], out["_row"] = j, q
        return out, {e: float(z[f"sigma_raw_{e}"][0]) for e in ESTIMATORS}

    def _intraday_rarity(self, sig_day: dict, move: float) -> dict:
        """How rare the move since the previous close is as a one-day move of the daily series
        (its own, or the close of record): earlier valid daily moves up to and including the
        previous close's, on the declared base — the figure a daily close of this size would get.
        Empty when there is no daily history to count."""
        st = self._daily
        if st is None or "_col" not in sig_day or not math.isfinite(move):
            return {}
        J = np.array([sig_day["_col"]])
        K = np.array([sig_day["_row"] + 1])        # the history ends after the previous close's move
        rr = _rarity(st, J, K, np.array([move]), 1, self.params)
        return {k: v[0] for k, v in rr.items()}


def _note_bar_source(sources: dict[str, str], sid: str, new: pd.DataFrame, bars: pd.Series) -> None:
    """Remember the source of `sid`'s newest bar when these new rows hold it."""
    if "source" not in new.columns or bars.empty or not len(new):
        return
    i = int(np.argmax(_utc_ns(new["ts"])))
    if _utc_ns(new["ts"].iloc[[i]])[0] >= pd.Timestamp(bars.index[-1]).value:
        src = new["source"].iloc[i]
        if isinstance(src, str) and src:
            sources[sid] = src


def _daily_id(universe, sid: str) -> str:
    """The daily series that scales `sid`'s intraday moves (itself unless universe says)."""
    return universe.get(sid).daily_id if sid in universe else sid


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
    """Rows by series, daily before intraday, then horizon (stable; one numpy lexsort)."""
    codes, _ = pd.factorize(frame["series_id"].to_numpy(dtype=object), sort=True)
    intraday = frame["kind"].to_numpy(dtype=object) == "intraday"
    h = frame["horizon"].to_numpy(dtype="float64", na_value=np.nan)
    order = np.lexsort((np.arange(len(frame)), h, intraday, codes))
    return frame.take(order).reset_index(drop=True)


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
    sid_codes, sid_uniq = factorize_runs(obs["series_id"].to_numpy(dtype=object))
    freq = obs["freq"].to_numpy(dtype=object)
    known = np.array([s in universe for s in sid_uniq], dtype=bool)
    ok = known[sid_codes] if len(obs) else np.zeros(0, bool)
    is_d = (freq == "D") & ok if len(obs) else ok
    is_i = (freq == "I") & ok if len(obs) else ok
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
        _note_bar_source(table._bar_src, sid, g, table._bars[sid])
    irows = [table._intraday_row(sid) for sid in sorted(table._bars)]
    irows = [r for r in irows if r is not None]
    table.frame = _sorted(pd.concat([rows, *irows], ignore_index=True) if irows else rows)
    return table
