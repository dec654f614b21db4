"""The data-quality gate: every daily close is judged before it may enter a statistic.

Pure numpy/pandas, no I/O. Series are held as left-aligned matrices (row = the series' own
observation number, column = series, NaN-padded), like the statistics kernel, so 1,000 series
are judged in a few vectorised passes. `judge_matrix` decides a verdict per cell from what is
known about it; `judge_frame` applies it to a long observation frame; `verdict_timeline` gives,
for the backtest, the verdict each observation had at every moment of its life (the live gate at
time T and the timeline read at T are the same decision on the same inputs — tests pin it).

Verdicts (stored beside the observation as text, shown on screen):

| verdict       | level | move | σ windows / rarity | meaning |
|---------------|-------|------|--------------------|---------|
| `ok`          | yes   | yes  | yes | judged, nothing wrong |
| `gap`         | yes   | no   | no  | the series' first print, or the first after a gap longer than its calendar allows, or a splice boundary: a new segment starts; not a move |
| `splice`      | yes   | yes  | yes | inside a known splice (another quantity fills a hole, e.g. UST 30Y 2002–2006): flagged |
| `unconfirmed` | yes   | yes  | no  | held: an extreme move no peer, second source or next print confirmed yet; an alert may go Pending, never Firing, on it |
| `rejected`    | no    | no   | no  | judged wrong: contradicted by a second source, or a spike the next print reverses; the next move skips it |

Checks for observation k of a series (own calendar, market-local dates), judged on the chain of
the series' accepted prints (a rejected spike does not distort the prints after it):
- **gap**: more than `max_gap_days` calendar days since the previous accepted print.
- **second source** (`references`): another series, or the fallback publisher, for the same
  market date; a level further away than the tolerance → `rejected` ("FRED DEXJPUS 102.30
  disagrees: 110.19 is 7.4 % away"); within half of it → confirms a held move.
- **extreme move**: |move| ≥ `hold` (8) × scale, scale = √(π/2) × mean |move| of the previous 250
  accepted moves (≈ σ for a normal law; floored at 0.25 bp / 0.01 log-%) → held `unconfirmed`
  unless confirmed at once by a peer (another tenor of the same curve moving the same way by at
  least a quarter of the move and 3 of its own scales) or a reference within tolerance. Once the
  next print is known: `rejected` if it reverses ≥ 60 % of the move, else `ok`.
- **spike**: a smaller move (≥ 4 scales, not held) that the next print takes ≥ 80 % back by a
  move as large, while a second source for that date sits more than half its tolerance away and
  no peer vouches for it → `rejected` once that next print is known (it was `ok` until then).
- **decimal shift**: a held move to ~10× or ~1/10 of the previous level (12.35 for 1.235) is
  never confirmed by the next print alone — only by a peer or a reference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from analytics.arrays import accumulate0, cumsum0

__all__ = [
    "OK", "GAP", "SPLICE", "UNCONFIRMED", "REJECTED", "UNJUDGED", "VERDICTS", "CODE",
    "HAS_LEVEL", "HAS_MOVE", "IN_STATS", "UNIT_FLOOR", "PEER_GROUPS", "gate_links", "surely_ok", "Reference", "Splice", "GateRules",
    "GateMatrix", "gate_rules_for", "judge_matrix", "verdict_timeline", "verdict_at", "judge_frame",
    "market_days", "codes_from_text", "build_gate_matrix",
]

OK, GAP, SPLICE, UNCONFIRMED, REJECTED, UNJUDGED = 0, 1, 2, 3, 4, 5
VERDICTS = ("ok", "gap", "splice", "unconfirmed", "rejected", "unjudged")
CODE = {name: i for i, name in enumerate(VERDICTS)}
# What each verdict lets through (indexed by code). "unjudged" (no verdict stored yet) is shown
# but enters nothing, like "unconfirmed".
HAS_LEVEL = np.array([True, True, True, True, False, True])
HAS_MOVE = np.array([True, False, True, True, False, True])
IN_STATS = np.array([True, False, True, False, False, False])

UNIT_FLOOR = {"bp": 0.25, "logpct": 0.01}
SCALE_WINDOW = 250
SCALE_MIN = 20
MEAN_ABS_TO_SIGMA = math.sqrt(math.pi / 2.0)
PEER_SHARE, PEER_MIN_SCALES = 0.25, 3.0
REVERSAL = 0.6
# A smaller spike (≥ 4 scales, not held) is rejected when the next print takes ≥ 80 % of it back
# by a move as large, and nothing (peer, second source) vouched for it.
SPIKE, SPIKE_REVERSAL = 4.0, 0.8
DECIMAL_TOL = 0.03
_BIG = np.iinfo(np.int64).max
PEER_GROUPS = ("jgb_curve", "ust_curve")      # groups whose members confirm each other's moves


@dataclass(frozen=True)
class Reference:
    """A second source for the same quantity: another series (`series`), or the series' own
    fallback publisher (`series=None`). `tolerance` in the series' unit (bp, or log-%)."""

    label: str
    tolerance: float
    series: str | None = None


@dataclass(frozen=True)
class Splice:
    start: np.datetime64          # first market date (inclusive)
    end: np.datetime64            # last market date (inclusive)
    note: str


@dataclass(frozen=True)
class GateRules:
    unit: str
    max_gap_days: float = 10.0
    hold: float = 8.0
    references: tuple[Reference, ...] = ()
    splices: tuple[Splice, ...] = ()

    @property
    def floor(self) -> float:
        return UNIT_FLOOR.get(self.unit, 0.0)


def gate_rules_for(s, universe=None) -> GateRules:
    """A series' gate rules from its universe entry (`quality` keys; defaults by market)."""
    q = getattr(s, "quality", None) or {}
    refs = []
    for ref in q.get("references", ()):
        other = ref.get("series")
        if other is None:
            fb = getattr(s, "fallback", None)
            label = f"{fb.source.upper()} {fb.symbol}" if fb else "fallback"
        else:
            label = universe.get(other).label if universe is not None and other in universe else other
        refs.append(Reference(label=ref.get("label", label), tolerance=float(ref["tolerance"]), series=other))
    splices = tuple(Splice(np.datetime64(sp["from"], "D"), np.datetime64(sp["to"], "D"), sp["note"])
                    for sp in q.get("splices", ()))
    default_gap = 14.0 if s.timezone == "Asia/Tokyo" else 10.0
    return GateRules(unit=s.unit, max_gap_days=float(q.get("max_gap_days", default_gap)),
                     hold=float(q.get("hold", 8.0)), references=tuple(refs), splices=splices)


_DAY_NS = 86_400_000_000_000


def market_days(ts_ns: np.ndarray, timezone: str, close: str = "00:00") -> np.ndarray:
    """Market-local calendar dates of UTC instants. A "24:00" close (the end of the local day,
    e.g. USD/JPY's close of record at the London midnight) belongs to the day it ends."""
    t = np.asarray(ts_ns, dtype="int64")
    if timezone not in ("UTC", "Etc/UTC"):
        idx = pd.DatetimeIndex(t.view("M8[ns]")).tz_localize("UTC").tz_convert(timezone)
        t = idx.tz_localize(None).asi8
    if close == "24:00":
        t = t - 60_000_000_000
    return (t // _DAY_NS).astype("datetime64[D]")


def codes_from_text(values: Iterable) -> np.ndarray:
    """Stored verdict strings (None/NaN = not judged yet) → int8 codes."""
    return np.array([CODE.get(v, UNJUDGED) if isinstance(v, str) else UNJUDGED for v in values], dtype=np.int8)


def _transform(v: np.ndarray, units: np.ndarray) -> np.ndarray:
    """bp: 100·y; log %: 100·ln p (per column)."""
    logc = (np.asarray(units) == "logpct")[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(logc, np.where(v > 0, 100.0 * np.log(np.where(v > 0, v, 1.0)), np.nan), 100.0 * v)


# ------------------------------------------------------------------------------------ matrices
@dataclass
class GateMatrix:
    """Series side by side: row = own observation number, column = series (NaN-padded)."""

    ids: list[str]
    rules: list[GateRules]
    value: np.ndarray            # float64 (R × S)
    day: np.ndarray              # int64 market-local days since the epoch (R × S)
    n: np.ndarray                # rows per column (S,)
    avail: np.ndarray | None = None       # int64 ns (timeline)
    # references: one slot per (column, reference) pair, as matrices aligned with `value`
    ref_val: list[np.ndarray] = field(default_factory=list)    # each R × S (NaN: none)
    ref_avail: list[np.ndarray] = field(default_factory=list)  # each R × S int64 (timeline)
    ref_tol: list[np.ndarray] = field(default_factory=list)    # each (S,) (NaN: slot unused)
    ref_label: list[list[str]] = field(default_factory=list)   # each S labels
    peer_ok: np.ndarray | None = None     # bool R × S
    peer_note: dict[tuple[int, int], str] = field(default_factory=dict)
    _T: np.ndarray | None = field(default=None, repr=False)

    @property
    def units(self) -> np.ndarray:
        return np.array([r.unit for r in self.rules], dtype=object)

    @property
    def T(self) -> np.ndarray:
        """Levels in the space where a move is a difference (computed once)."""
        if self._T is None:
            self._T = _transform(self.value, self.units)
        return self._T


@dataclass
class _Prep:
    raw: np.ndarray
    prev: np.ndarray
    nxt: np.ndarray
    gap_days: np.ndarray
    gap: np.ndarray
    first: np.ndarray
    splice_in: np.ndarray
    splice_edge: np.ndarray
    scale: np.ndarray
    held: np.ndarray
    spike: np.ndarray
    decimal: np.ndarray
    rev_next: np.ndarray
    rev_spike: np.ndarray
    next_move: np.ndarray
    ref_diff: list[np.ndarray]


class _Preps:
    """Per-cell facts across the passes of the fixed point: the no-rejection facts are computed
    once; each pass recomputes only the columns whose rejected rows changed."""

    def __init__(self, m: GateMatrix) -> None:
        self.m = m
        self.p = _prepare_chain(m, None)
        self.rejected = np.zeros(m.value.shape, bool)

    def _write(self, cols: np.ndarray, sub: _Prep) -> None:
        for f in _Prep.__dataclass_fields__:
            if f == "ref_diff":
                for a_, b_ in zip(self.p.ref_diff, sub.ref_diff):
                    a_[:, cols] = b_
            else:
                getattr(self.p, f)[:, cols] = getattr(sub, f)

    def at(self, rejected: np.ndarray) -> _Prep:
        changed = np.flatnonzero((rejected != self.rejected).any(axis=0))
        if len(changed):
            bad = changed[rejected[:, changed].any(axis=0)]
            clean = changed[~rejected[:, changed].any(axis=0)]
            if len(bad):
                self._write(bad, _prepare_chain(_columns(self.m, bad), rejected[:, bad]))
            if len(clean):
                self._write(clean, _prepare_chain(_columns(self.m, clean), None))
            self.rejected = rejected.copy()
        return self.p


def _prepare(m: GateMatrix, rejected: np.ndarray) -> _Prep:
    """Per-cell facts for a rejected set: columns without a rejection take the shifted-array
    path (the common case, no gathers); the others the chain path."""
    return _Preps(m).at(rejected)


def _columns(m: GateMatrix, cols: np.ndarray) -> GateMatrix:
    """The same gate matrix restricted to some columns (notes keyed by the new positions)."""
    pos = {int(c): i for i, c in enumerate(cols)}
    return GateMatrix(
        ids=[m.ids[c] for c in cols], rules=[m.rules[c] for c in cols], value=m.value[:, cols],
        day=m.day[:, cols], n=m.n[cols], avail=None if m.avail is None else m.avail[:, cols],
        ref_val=[v[:, cols] for v in m.ref_val], ref_avail=[v[:, cols] for v in m.ref_avail],
        ref_tol=[t[cols] for t in m.ref_tol], ref_label=[[lb[c] for c in cols] for lb in m.ref_label],
        peer_ok=None if m.peer_ok is None else m.peer_ok[:, cols],
        peer_note={(i, pos[j]): v for (i, j), v in m.peer_note.items() if j in pos}, _T=None)


def _shift_down(a: np.ndarray, fill) -> np.ndarray:
    out = np.empty_like(a)
    out[0] = fill
    out[1:] = a[:-1]
    return out


def _shift_up(a: np.ndarray, fill) -> np.ndarray:
    out = np.empty_like(a)
    out[-1] = fill
    out[:-1] = a[1:]
    return out


def _prepare_chain(m: GateMatrix, rejected: np.ndarray | None) -> _Prep:
    """`rejected` None: no rejected row (previous/next chain row = previous/next row)."""
    R, S = m.value.shape
    rows = np.arange(R)[:, None]
    cols = np.arange(S)[None, :]
    present = rows < m.n[None, :]
    T = m.T
    if R == 0:
        z = np.zeros((0, S))
        zb = z.astype(bool)
        return _Prep(z, z.astype(int), z.astype(int), z, zb, zb, zb, zb, z, zb, zb, zb, zb, zb, z,
                     [z for _ in m.ref_val])
    if rejected is None:
        chain = present
        prev = np.where(present, rows - 1, -1)
        nxt = np.where(rows + 1 < m.n[None, :], rows + 1, -1)
        T_prev, day_prev, v_prev = _shift_down(T, np.nan), _shift_down(m.day, 0), _shift_down(m.value, np.nan)
        T_next, day_next = _shift_up(T, np.nan), _shift_up(m.day, 0)
    else:
        chain = present & ~rejected
        idx = np.broadcast_to(rows, (R, S))
        last_chain = accumulate0(np.maximum, np.where(chain, idx, -1))
        prev = np.where(present, _shift_down(last_chain, -1), -1)
        nxt_chain = accumulate0(np.minimum, np.where(chain, idx, R)[::-1])[::-1]
        nxt = _shift_up(nxt_chain, R)
        nxt = np.where((nxt < m.n[None, :]) & present, nxt, -1)
        pp, nn = np.clip(prev, 0, None), np.clip(nxt, 0, None)
        T_prev, day_prev, v_prev = T[pp, cols], m.day[pp, cols], m.value[pp, cols]
        T_next, day_next = T[nn, cols], m.day[nn, cols]
    has_prev = (prev >= 0) & present
    with np.errstate(invalid="ignore"):
        gap_days = np.where(has_prev, (m.day - day_prev).astype("float64"), np.nan)
    maxgap = np.array([r.max_gap_days for r in m.rules])[None, :]
    gap = has_prev & (gap_days > maxgap)
    splice_in = np.zeros((R, S), bool)
    splice_edge = np.zeros((R, S), bool)
    for j, r in enumerate(m.rules):
        for sp in r.splices:
            d = m.day[:, j]
            inside = present[:, j] & (d >= sp.start.astype("int64")) & (d <= sp.end.astype("int64"))
            splice_in[:, j] |= inside
            prev_in = np.where(has_prev[:, j], inside[np.clip(prev[:, j], 0, None)], inside)
            splice_edge[:, j] |= has_prev[:, j] & (inside != prev_in)
    with np.errstate(invalid="ignore"):
        raw = np.where(has_prev & ~gap & ~splice_edge, T - T_prev, np.nan)
    # Scale from the chain's own moves before each row: rolling mean |d| over 250 chain moves.
    a = np.abs(raw)
    ok = ~np.isnan(a)
    w = SCALE_WINDOW
    if rejected is None:
        cs = cumsum0(np.where(ok, a, 0.0), zero_row=True)
        cn = cumsum0(ok, np.int32, zero_row=True)
        tot, cnt = cs[:R].copy(), cn[:R].copy()       # the rows before row i …
        if R > w:
            tot[w:] -= cs[: R - w]                    # … within the last 250 of them
            cnt[w:] -= cn[: R - w]
    else:
        cpos = cumsum0(chain, np.int32) - chain
        C = np.full((R + 1, S), np.nan)
        ci = (cpos + chain - 1)[chain]
        C[ci, np.broadcast_to(cols, (R, S))[chain]] = a[chain]
        okc = ~np.isnan(C)
        cs = cumsum0(np.where(okc, C, 0.0), zero_row=True)
        cn = cumsum0(okc, np.int32, zero_row=True)
        lo = np.clip(cpos - SCALE_WINDOW, 0, None)
        tot, cnt = cs[cpos, cols] - cs[lo, cols], cn[cpos, cols] - cn[lo, cols]
    floors = np.array([r.floor for r in m.rules])[None, :]
    holds = np.array([r.hold for r in m.rules])[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = MEAN_ABS_TO_SIGMA * tot / cnt
        np.fmax(scale, floors, out=scale)
        scale[cnt < SCALE_MIN] = np.nan
        held = a >= holds * scale                      # NaN compares False
        spike = ~held & (a >= SPIKE * scale)
    next_gap = (nxt >= 0) & ((day_next - m.day) > maxgap)
    nxt = np.where(next_gap, -1, nxt)
    # The rest only matters where a move is large (held or a spike): computed there alone.
    decimal = np.zeros((R, S), bool)
    rev_next = np.zeros((R, S), bool)
    rev_spike = np.zeros((R, S), bool)
    next_move = np.full((R, S), np.nan)
    ii, jj = np.nonzero(held | spike)
    if len(ii):
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.abs(np.log10(np.abs(m.value[ii, jj] / v_prev[ii, jj])))
            decimal[ii, jj] = held[ii, jj] & (np.abs(ratio - 1.0) <= DECIMAL_TOL)
            nm = np.where(nxt[ii, jj] >= 0, T_next[ii, jj] - T[ii, jj], np.nan)
            next_move[ii, jj] = nm
            r_, a_, sc = raw[ii, jj], a[ii, jj], scale[ii, jj]
            opposite = (nxt[ii, jj] >= 0) & (np.sign(nm) == -np.sign(r_))
            an = np.abs(nm)
            rev_next[ii, jj] = opposite & (an >= REVERSAL * a_)
            rev_spike[ii, jj] = opposite & (an >= SPIKE_REVERSAL * a_) & (an >= SPIKE * sc)
    with np.errstate(invalid="ignore"):
        ref_diff = [T - _transform(v, m.units) if not np.isnan(v).all() else np.full((R, S), np.nan)
                    for v in m.ref_val]
    return _Prep(raw, prev, nxt, gap_days, gap, ~has_prev & present, splice_in, splice_edge, scale, held,
                 spike, decimal, rev_next, rev_spike, next_move, ref_diff)


def _fmt(x: float, unit: str) -> str:
    return (f"{x:+.1f} bp" if unit == "bp" else f"{x:+.2f} %").replace("-", "−")


def _level(v: float, unit: str) -> str:
    return f"{v:.3f}" if unit == "bp" else f"{v:.2f}"


def _decide(m: GateMatrix, p: _Prep, next_known: np.ndarray, ref_known: Sequence[np.ndarray],
            notes: bool = True) -> tuple[np.ndarray, dict[tuple[int, int], str]]:
    """Verdict codes (R × S) and notes {(row, col): text} for cells that are not plain ok."""
    R, S = m.value.shape
    present = np.arange(R)[:, None] < m.n[None, :]
    code = np.full((R, S), OK, dtype=np.int8)
    contradicted = np.zeros((R, S), bool)
    agreed = np.zeros((R, S), bool)
    c_slot = np.full((R, S), -1)
    a_slot = np.full((R, S), -1)
    for k, (diff, known, tol) in enumerate(zip(p.ref_diff, ref_known, m.ref_tol)):
        has = known & ~np.isnan(diff) & present
        with np.errstate(invalid="ignore"):
            bad = has & (np.abs(diff) > tol[None, :]) & ~contradicted
            # Agreement is tighter than tolerance: half of it (a second source vouches for a move).
            good = has & (np.abs(diff) <= 0.5 * tol[None, :]) & ~agreed & ~contradicted
        c_slot[bad] = k
        a_slot[good] = k
        contradicted |= bad
        agreed |= good
    peer_ok = m.peer_ok if m.peer_ok is not None else np.zeros((R, S), bool)
    held = p.held & ~contradicted
    confirmed_now = held & (peer_ok | agreed)
    waiting = held & ~confirmed_now
    known_next = waiting & next_known & (p.nxt >= 0)
    reversed_ = known_next & p.rev_next
    kept = known_next & ~p.rev_next & ~p.decimal
    still = waiting & ~reversed_ & ~kept
    # The smaller spike needs a second source that was there and did not vouch for it.
    doubted = np.zeros((R, S), bool)
    for diff, known, tol in zip(p.ref_diff, ref_known, m.ref_tol):
        with np.errstate(invalid="ignore"):
            doubted |= known & ~np.isnan(diff) & (np.abs(diff) > 0.5 * tol[None, :])
    spiked = p.spike & ~contradicted & next_known & p.rev_spike & doubted & ~(peer_ok | agreed)
    reversed_ = reversed_ | spiked
    starts = (p.gap | p.splice_edge | p.first) & ~contradicted
    code[p.splice_in] = SPLICE
    code[still] = UNCONFIRMED
    code[reversed_ | contradicted] = REJECTED
    code[starts] = GAP
    code[~present] = UNJUDGED
    if not notes:
        return code, {}
    out: dict[tuple[int, int], str] = {}
    units = m.units
    for i, j in zip(*np.nonzero(p.splice_in & present)):
        out[(i, j)] = next(sp.note for sp in m.rules[j].splices
                           if sp.start.astype("int64") <= m.day[i, j] <= sp.end.astype("int64"))
    for i, j in zip(*np.nonzero(confirmed_now)):
        u = units[j]
        why = (f"confirmed by {m.peer_note.get((i, j), 'a peer')}" if peer_ok[i, j]
               else f"{m.ref_label[a_slot[i, j]][j]} agrees ({_level(m.ref_val[a_slot[i, j]][i, j], u)})")
        out[(i, j)] = f"{_fmt(p.raw[i, j], u)} {why}"
    for i, j in zip(*np.nonzero(kept)):
        u = units[j]
        out[(i, j)] = f"{_fmt(p.raw[i, j], u)} confirmed by the next print ({_fmt(p.next_move[i, j], u)})"
    for i, j in zip(*np.nonzero(still)):
        u = units[j]
        what = (f"decimal shift? {_level(m.value[i, j], u)} after {_level(m.value[p.prev[i, j], j], u)}"
                if p.decimal[i, j] else f"{_fmt(p.raw[i, j], u)} is {abs(p.raw[i, j]) / p.scale[i, j]:.0f}× the typical move")
        out[(i, j)] = f"held: {what}; awaiting a second source" + ("" if p.decimal[i, j] else " or the next print")
    for i, j in zip(*np.nonzero(reversed_ & ~contradicted)):
        u = units[j]
        out[(i, j)] = f"spike reversed by the next print: {_fmt(p.raw[i, j], u)} then {_fmt(p.next_move[i, j], u)}"
    for i, j in zip(*np.nonzero(contradicted)):
        u = units[j]
        k = c_slot[i, j]
        unit = "bp" if u == "bp" else "%"
        out[(i, j)] = (f"{m.ref_label[k][j]} {_level(m.ref_val[k][i, j], u)} disagrees: {_level(m.value[i, j], u)} is "
                       f"{abs(p.ref_diff[k][i, j]):.1f} {unit} away (tolerance {m.ref_tol[k][j]:g} {unit})")
    for i, j in zip(*np.nonzero(starts & present)):
        if p.first[i, j]:
            out[(i, j)] = "first print: the series starts here"
        elif p.gap[i, j]:
            out[(i, j)] = f"first print after {int(p.gap_days[i, j])} days: a new segment starts (not a move)"
        else:
            prev_note = next((sp.note for sp in m.rules[j].splices), "")
            out[(i, j)] = f"splice boundary: {prev_note}"
    return code, out


def _fixed_point(m: GateMatrix, ref_known: Sequence[np.ndarray], notes: bool = True,
                 given: np.ndarray | None = None):
    """Judge on the chain of rows not rejected, until the rejected set is stable (≤ 4 passes).
    `given` (R × S, −1 = judge): verdicts taken as they are (context rows of a tail window)."""
    R, S = m.value.shape
    fixed = given is not None
    rejected = (given == REJECTED) if fixed else np.zeros((R, S), bool)
    code, out, p = np.zeros((R, S), np.int8), {}, None
    ones = np.ones((R, S), bool)
    preps = _Preps(m)
    for _ in range(4):
        p = preps.at(rejected)
        code, out = _decide(m, p, ones, ref_known, notes=False)
        if fixed:
            code = np.where(given >= 0, given, code).astype(np.int8)
        now = code == REJECTED
        if np.array_equal(now, rejected):
            break
        rejected = now
    if notes:
        code, out = _decide(m, p, ones, ref_known, notes=True)
        if fixed:
            code = np.where(given >= 0, given, code).astype(np.int8)
            out = {k: v for k, v in out.items() if given[k] < 0}
    return code, out, rejected, p


def judge_matrix(m: GateMatrix, given: np.ndarray | None = None) -> tuple[np.ndarray, dict[tuple[int, int], str]]:
    """Verdicts of every cell from everything in `m` (the live gate: the rows present are known,
    a reference is known where its value is not NaN). `given`: verdicts to keep as they are."""
    code, notes, _, _ = _fixed_point(m, [~np.isnan(v) for v in m.ref_val], given=given)
    return code, notes


def verdict_timeline(m: GateMatrix) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """When each cell's verdict changed: (moments, codes, notes) with moments/codes R × S × K
    (K = 2 + reference slots, moments sorted per cell; unused = int64 max) and one notes dict per
    moment. The verdict of cell (k, j) at time t is that of its last moment ≤ t; before its
    first moment (its arrival) the row is unknown. Moments: arrival, the next accepted row's
    arrival, each reference value's arrival. Needs `m.avail` (and `m.ref_avail`)."""
    if m.avail is None:
        raise ValueError("verdict_timeline needs availability times (GateMatrix.avail)")
    R, S = m.value.shape
    cols = np.arange(S)[None, :]
    _, _, rejected, _ = _fixed_point(m, [~np.isnan(v) for v in m.ref_val], notes=False)
    p = _prepare(m, rejected)
    av = m.avail
    nxt_av = np.where(p.nxt >= 0, av[np.clip(p.nxt, 0, max(R - 1, 0)), cols], _BIG)
    refs = [np.where(np.isnan(v), _BIG, a) for v, a in zip(m.ref_val, m.ref_avail)]
    moments = np.sort(np.stack([av, np.maximum(nxt_av, av)] + [np.maximum(a, av) for a in refs], axis=2), axis=2)
    K = moments.shape[2]
    codes = np.zeros((R, S, K), np.int8)
    notes: list[dict] = []
    for k in range(K):
        t = moments[:, :, k]
        c, n = _decide(m, p, nxt_av <= t, [a <= t for a in refs])
        codes[:, :, k] = c
        notes.append(n)
    return moments, codes, notes


def verdict_at(timeline, t: int) -> np.ndarray:
    """Codes of every cell at time t (UNJUDGED where the row is not known yet)."""
    moments, codes, _ = timeline
    j = (moments <= t).sum(axis=2) - 1
    out = np.take_along_axis(codes, np.clip(j, 0, None)[:, :, None], axis=2)[:, :, 0]
    return np.where(j >= 0, out, UNJUDGED).astype(np.int8)


# ------------------------------------------------------------------------------------ frames
def _peer_moves(value: np.ndarray, day: np.ndarray, present: np.ndarray,
                rules: Sequence[GateRules]) -> tuple[np.ndarray, np.ndarray]:
    """Raw moves (NaN across a gap) and their scale (√(π/2)·mean |move| over the previous 250)."""
    R, S = value.shape
    T = _transform(value, np.array([r.unit for r in rules], dtype=object))
    raw = np.full((R, S), np.nan)
    raw[1:] = T[1:] - T[:-1]
    gd = np.full((R, S), np.inf)
    gd[1:] = day[1:] - day[:-1]
    maxgap = np.array([r.max_gap_days for r in rules])[None, :]
    raw = np.where(present & (gd <= maxgap), raw, np.nan)
    absr = np.abs(raw)
    ok = ~np.isnan(absr)
    cs = cumsum0(np.where(ok, absr, 0.0), zero_row=True)
    cn = cumsum0(ok, np.int32, zero_row=True)
    rows = np.arange(R)[:, None]
    lo = np.clip(rows - SCALE_WINDOW, 0, None)
    c_ = np.arange(S)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        cnt = cn[rows, c_] - cn[lo, c_]
        scale = np.where(cnt >= SCALE_MIN, MEAN_ABS_TO_SIGMA * (cs[rows, c_] - cs[lo, c_]) / cnt, np.nan)
    return raw, scale


def surely_ok(values: np.ndarray, codes: np.ndarray, new: np.ndarray, gap_days: np.ndarray,
              rules: Sequence[GateRules]) -> np.ndarray:
    """True where a new print appended to a series would certainly be judged `ok` without a note
    by `judge_matrix`, and leave every stored verdict as it is — for series that no peer or
    reference links to and without splices (the caller checks that). Column i: `values[:, i]` /
    `codes[:, i]` are the series' last SCALE_WINDOW + 1 stored rows, oldest first (NaN / UNJUDGED
    above a short series' start), `new[i]` the new value, `gap_days[i]` the market days since the
    last stored print. Certain means: no rejected or held row in the window (the chain is the
    rows, nothing waits for this print), not a gap, and a move below the hold threshold by a
    margin that rounding in the rolling scale cannot cross. Anything else: judge it on a window."""
    W1, m = values.shape
    if m == 0:
        return np.zeros(0, bool)
    units = np.array([r.unit for r in rules], dtype=object)
    present = codes != UNJUDGED
    clean = ~np.any(present & (codes == REJECTED), axis=0) & present[-1] & (codes[-1] != UNCONFIRMED)
    T = _transform(values, units)
    with np.errstate(invalid="ignore"):
        raw = np.where(present[1:] & present[:-1] & (codes[1:] != GAP), T[1:] - T[:-1], np.nan)
        a = np.abs(raw[-SCALE_WINDOW:])
        ok = ~np.isnan(a)
        cnt = ok.sum(axis=0)
        tot = np.where(ok, a, 0.0).sum(axis=0)
        floors = np.array([r.floor for r in rules])
        holds = np.array([r.hold for r in rules])
        scale = np.where(cnt >= SCALE_MIN, np.fmax(MEAN_ABS_TO_SIGMA * tot / np.maximum(cnt, 1), floors), np.nan)
        move = np.abs(_transform(new[None, :], units)[0] - T[-1])
        small = np.isnan(scale) | (move < (1.0 - 1e-6) * holds * scale)
    maxgap = np.array([r.max_gap_days for r in rules])
    return clean & ~np.isnan(move) & (gap_days <= maxgap) & small


def gate_links(universe, ids: Sequence[str]) -> tuple[dict[str, frozenset], dict[str, frozenset]]:
    """(affects, needs) per series: whose verdicts a new value of it may change (itself, its curve
    peers, the series that take it as a reference) and whose values its own verdict reads
    (itself, its peers, its references)."""
    have = set(ids)
    peers: dict[str, set[str]] = {}
    for grp in PEER_GROUPS:
        members = {i for i in ids if universe.get(i).group == grp}
        if len(members) >= 2:
            for i in members:
                peers[i] = members
    refs = {i: {r.series for r in gate_rules_for(universe.get(i), universe).references
                if r.series is not None and r.series in have} for i in ids}
    deps: dict[str, set[str]] = {i: set() for i in ids}
    for i, rs in refs.items():
        for r in rs:
            deps[r].add(i)
    affects = {i: frozenset({i} | peers.get(i, set()) | deps[i]) for i in ids}
    needs = {i: frozenset({i} | peers.get(i, set()) | refs[i]) for i in ids}
    return affects, needs


def build_gate_matrix(ids: list[str], universe, value: np.ndarray, ts: np.ndarray, n: np.ndarray, *,
                      avail: np.ndarray | None = None, fallback_refs: pd.DataFrame | None = None,
                      peer_groups: Sequence[str] = PEER_GROUPS,
                      rules: Sequence[GateRules] | None = None) -> GateMatrix:
    """A GateMatrix from the kernel's matrices (value, ts ns, rows per column) and the universe.

    References to other series are read from the same matrices; fallback references from
    `fallback_refs` (series_id, ts, value[, known_at/available_at]). Peers are the other members of
    the same curve group present in the matrices."""
    R, S = value.shape
    rules = list(rules) if rules is not None else [gate_rules_for(universe.get(i), universe) for i in ids]
    rows = np.arange(R)[:, None]
    present = rows < n[None, :]
    day = np.zeros((R, S), np.int64)
    by_zone: dict[tuple[str, bool], list[int]] = {}
    for j, sid in enumerate(ids):
        s = universe.get(sid)
        by_zone.setdefault((s.timezone, s.close == "24:00"), []).append(j)
    for (tz, end_of_day), js in by_zone.items():
        sub = ts[:, js]
        d = market_days(sub.ravel(), tz, "24:00" if end_of_day else "00:00").astype("int64").reshape(sub.shape)
        day[:, js] = d
    day = np.where(present, day, 0)
    m = GateMatrix(ids=list(ids), rules=rules, value=value, day=day, n=np.asarray(n), avail=avail)
    col = {sid: j for j, sid in enumerate(ids)}
    # Reference slots: slot k holds each series' k-th reference.
    nslots = max((len(r.references) for r in rules), default=0)
    fb = {sid: g for sid, g in fallback_refs.groupby("series_id", sort=False)} if fallback_refs is not None \
        and len(fallback_refs) else {}
    for k in range(nslots):
        val = np.full((R, S), np.nan)
        av = np.full((R, S), _BIG, np.int64)
        tol = np.full(S, np.nan)
        labels = [""] * S
        for j, r in enumerate(rules):
            if len(r.references) <= k:
                continue
            ref = r.references[k]
            tol[j], labels[j] = ref.tolerance, ref.label
            mine = day[: n[j], j]
            if ref.series is not None:
                if ref.series not in col:
                    continue
                o = col[ref.series]
                src_days, src_val = day[: n[o], o], value[: n[o], o]
                src_av = avail[: n[o], o] if avail is not None else np.zeros(n[o], np.int64)
            else:
                g = fb.get(ids[j])
                if g is None:
                    continue
                s = universe.get(ids[j])
                t_ns = pd.DatetimeIndex(g["ts"]).as_unit("ns").asi8
                src_days = market_days(t_ns, s.timezone, s.close).astype("int64")
                src_val = g["value"].to_numpy(dtype="float64")
                acol = next((c for c in ("available_at", "known_at") if c in g.columns), None)
                src_av = pd.DatetimeIndex(g[acol]).as_unit("ns").asi8 if acol else np.zeros(len(g), np.int64)
            pos = np.searchsorted(src_days, mine)
            okp = (pos < len(src_days))
            hit = okp & (src_days[np.clip(pos, 0, max(len(src_days) - 1, 0))] == mine) if len(src_days) else okp
            val[: n[j], j] = np.where(hit, src_val[np.clip(pos, 0, max(len(src_val) - 1, 0))], np.nan) \
                if len(src_val) else np.nan
            av[: n[j], j] = np.where(hit, src_av[np.clip(pos, 0, max(len(src_av) - 1, 0))], _BIG) \
                if len(src_av) else _BIG
        m.ref_val.append(val)
        m.ref_avail.append(av)
        m.ref_tol.append(tol)
        m.ref_label.append(labels)
    # Peers: raw moves on market dates per curve group (computed on the group's columns alone).
    m.peer_ok = np.zeros((R, S), bool)
    for grp in peer_groups:
        js = [j for j, sid in enumerate(ids) if universe.get(sid).group == grp]
        if len(js) < 2:
            continue
        raw, scale = _peer_moves(value[:, js], day[:, js], present[:, js], [rules[j] for j in js])
        frames = {ids[j]: pd.Series(raw[: n[j], k], index=day[: n[j], j]) for k, j in enumerate(js)}
        scales = {ids[j]: pd.Series(scale[: n[j], k], index=day[: n[j], j]) for k, j in enumerate(js)}
        M = pd.DataFrame({k: v[~v.index.duplicated()] for k, v in frames.items()})
        Sc = pd.DataFrame({k: v[~v.index.duplicated()] for k, v in scales.items()}).reindex(M.index)
        A, B = M.to_numpy(), Sc.to_numpy()
        with np.errstate(invalid="ignore"):
            strong = np.abs(A) >= PEER_MIN_SCALES * B
            same = np.sign(A)[:, :, None] == np.sign(A)[:, None, :]
            big = np.abs(A)[:, None, :] >= PEER_SHARE * np.abs(A)[:, :, None]
            okm = same & big & strong[:, None, :]
        P = A.shape[1]
        okm[:, np.arange(P), np.arange(P)] = False
        anyok = okm.any(axis=2)
        best = np.where(okm, np.abs(A)[:, None, :], -1.0).argmax(axis=2)
        names = list(M.columns)
        for c, sid in enumerate(names):
            j = col[sid]
            d = day[: n[j], j]
            pos = M.index.get_indexer(d)
            flag = np.where(pos >= 0, anyok[np.clip(pos, 0, None), c], False)
            m.peer_ok[: n[j], j] = flag
            for i in np.flatnonzero(flag):
                b = best[pos[i], c]
                peer = names[b]
                m.peer_note[(i, j)] = f"{universe.get(peer).label} {_fmt(A[pos[i], b], rules[j].unit)}"
    return m


def judge_frame(daily: pd.DataFrame, universe, *, fallback_refs: pd.DataFrame | None = None,
                series: Iterable[str] | None = None) -> pd.DataFrame:
    """Verdicts for every daily row of a long frame (series_id, ts UTC, value), judged with
    everything in it (the live gate). Returns series_id, freq "D", ts, quality, quality_note for
    the rows of `series` (default: all)."""
    d = daily[daily["series_id"].isin([s.id for s in universe])]
    d = d.sort_values(["series_id", "ts"], kind="stable").drop_duplicates(["series_id", "ts"], keep="last")
    codes_, ids_ = pd.factorize(d["series_id"])
    ids = [str(x) for x in ids_]
    S = len(ids)
    if S == 0:
        return pd.DataFrame(columns=["series_id", "freq", "ts", "quality", "quality_note"])
    counts = np.bincount(codes_, minlength=S)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    r = np.arange(len(d)) - starts[codes_]
    R = int(counts.max())
    value = np.full((R, S), np.nan)
    ts = np.zeros((R, S), np.int64)
    value[r, codes_] = d["value"].to_numpy(dtype="float64")
    ts[r, codes_] = pd.DatetimeIndex(d["ts"]).as_unit("ns").asi8
    m = build_gate_matrix(ids, universe, value, ts, counts, fallback_refs=fallback_refs)
    code, notes = judge_matrix(m)
    want = set(series) if series is not None else set(ids)
    cc = code[r, codes_]
    note_col = np.full(len(d), "", dtype=object)
    for (i, j), text in notes.items():
        note_col[starts[j] + i] = text
    out = pd.DataFrame({"series_id": d["series_id"].array, "freq": "D", "ts": d["ts"].array,
                        "quality": np.asarray(VERDICTS, dtype=object)[cc], "quality_note": note_col})
    if len(want) < S:
        out = out[out["series_id"].isin(want)]
    return out.reset_index(drop=True)
