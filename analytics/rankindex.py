"""The rarity history, sorted: counts of earlier moves at least as large by binary search.

The rarity of a move (analytics/movestats.py) counts the earlier valid moves on the declared base
at least as large — for an h-day move, the non-overlapping ones of its own phase. Done directly,
every new day compares against every past move of every series (2.5M cells per horizon at
1,000 series × 10 years). `RankIndex` holds, for each column, the sizes of those moves below a
row F, sorted per horizon and phase; a count is then a binary search there plus a scan of the
rows from F on (a few hundred at most). The counts are exactly those of the direct comparison.

F stays `KEEP` rows behind each column's end when the index is built, so the rewinds and verdict
restatements of the incremental path (at most REWIND_ROWS back) never reach below it: rows below
F never change in the tables that share the index. An item below F, or too far past it, is
answered by the caller's direct path.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.arrays import cumsum0

__all__ = ["RankIndex", "KEEP", "MAX_TAIL", "build_index", "count_at_least"]

KEEP = 128          # rows at a column's end left out of the index (≥ 2 × the rewind reach)
MAX_TAIL = 1024     # past this many rows beyond F the caller rebuilds the index
_NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class RankIndex:
    F: np.ndarray           # per column: rows < F are in the index
    b0: np.ndarray          # per column: first row on the rarity base
    n1: np.ndarray          # valid 1-day moves in [b0, F)
    first: np.ndarray       # ts of the first of them (_NAT: none)
    last: np.ndarray        # ts of the last of them (_NAT: none)
    sizes: dict             # (h, phase) → (S × m ascending sizes, +inf padded; count per column)

    def behind(self, J: np.ndarray, n: np.ndarray) -> bool:
        """True when a column in J (with n rows now) has run more than MAX_TAIL rows past F."""
        return bool(np.any(n - self.F[J] > MAX_TAIL))

    def usable(self, J: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Items (column J[i], history ending before row end[i]) the index answers."""
        F = self.F[J]
        return (end >= F) & (end - F <= MAX_TAIL)


def _sorted_rows(A: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the values of A where M, sorted ascending: (S × max count, +inf padded), counts."""
    cnt = np.count_nonzero(M, axis=0)
    S = M.shape[1]
    m = int(cnt.max()) if S else 0
    out = np.full((S, m), np.inf)
    if m:
        pos = cumsum0(M, np.int32) - M          # rank of a true cell among its column's
        r, c = np.nonzero(M)
        out[c, pos[r, c]] = A[r, c]
        out.sort(axis=1)
    return out, cnt


def build_index(INST: np.ndarray, TS: np.ndarray, sizes: dict, phases: dict, n: np.ndarray,
                b0: np.ndarray, horizons) -> RankIndex:
    """The index of a table's buffers. INST: valid-move rows; sizes[h]: |h-day move| per row;
    phases[h] (h > 1): the row's phase (−1: no h-day move); n: rows per column; b0: first base row."""
    n = np.asarray(n, np.int64)
    F = np.maximum(n - KEEP, 0)
    R = int(F.max()) if len(F) else 0
    rows = np.arange(R)[:, None]
    ok = INST[:R] & (rows < F[None, :]) & (rows >= b0[None, :])
    n1 = np.count_nonzero(ok, axis=0)
    anyv = n1 > 0
    first = np.where(anyv, TS[np.argmax(ok, axis=0), np.arange(len(F))] if R else _NAT, _NAT)
    lastr = R - 1 - np.argmax(ok[::-1], axis=0) if R else np.zeros(len(F), np.int64)
    last = np.where(anyv, TS[lastr, np.arange(len(F))] if R else _NAT, _NAT)
    out = {}
    for h in horizons:
        A = sizes[h][:R]
        if h == 1:
            out[(1, 0)] = _sorted_rows(A, ok)
            continue
        P = phases[h][:R]
        for p in range(h):
            out[(h, p)] = _sorted_rows(A, ok & (P == p))
    return RankIndex(F, np.asarray(b0, np.int64), n1, first.astype(np.int64), last.astype(np.int64), out)


def count_at_least(srt: np.ndarray, cnt: np.ndarray, J: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """For each item, how many of column J[i]'s sorted sizes are ≥ thr[i] (NaN thr: 0) — one
    vectorised binary search (the first position whose size is ≥ thr)."""
    m = srt.shape[1]
    hi = cnt[J].astype(np.int64)
    lo = np.zeros(len(J), np.int64)
    if m == 0:
        return np.zeros(len(J), np.int64)
    flat, row = srt.reshape(-1), np.asarray(J, np.int64) * m     # flat gathers: cheaper than 2-D
    with np.errstate(invalid="ignore"):
        active = lo < hi
        while active.any():
            mid = (lo + hi) // 2
            below = flat.take(row + np.minimum(mid, m - 1)) < thr
            lo = np.where(active & below, mid + 1, lo)
            hi = np.where(active & ~below, mid, hi)
            active = lo < hi
    return np.where(np.isnan(thr), 0, cnt[J] - lo)
