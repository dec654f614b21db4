"""The rank index (analytics/rankindex.py): counts by binary search equal the direct comparison,
the incremental path uses it, and a rewind below it or a long run past it rebuilds it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analytics.movestats as ms
import analytics.rankindex as ri
from analytics.movestats import compute_move_stats
from analytics.rankindex import count_at_least
from analytics.stats import MoveParams

from .test_movestats import assert_tables_equal, obs  # noqa: F401 — the fixture


def test_count_at_least_equals_a_direct_count():
    rng = np.random.default_rng(7)
    S, m = 40, 300
    raw = np.round(np.abs(rng.standard_t(3, (S, m))), 1)          # many ties
    cnt = rng.integers(0, m + 1, S)
    cnt[:3] = 0                                                    # empty columns
    srt = np.full((S, m), np.inf)
    for j in range(S):
        srt[j, : cnt[j]] = np.sort(raw[j, : cnt[j]])
    J = rng.integers(0, S, 500)
    thr = np.concatenate([rng.choice(raw.ravel(), 400), [0.0, 1e9, -1.0, np.nan, np.inf] * 20])
    got = count_at_least(srt, cnt, J, thr)
    want = [0 if np.isnan(t) else int(np.count_nonzero(raw[j, : cnt[j]] >= t)) for j, t in zip(J, thr)]
    assert got.tolist() == want


def _by_day(obs, n: int):
    """(the history before the last n market days, those days one frame each)."""
    days = obs["ts"].dt.date
    cut = sorted(days.unique())[-n]
    return obs[days < cut], [g for _, g in obs[days >= cut].groupby(days[days >= cut])]


def _tables(obs, universe, params=None):
    base, days = _by_day(obs, 3)
    t = compute_move_stats(base, universe, params)
    for g in days:
        t = t.update(g)
    return t


@pytest.mark.parametrize("params", [None, MoveParams(rarity_since=pd.Timestamp("2020-01-01"))])
def test_indexed_counts_equal_the_direct_ones_on_the_real_history(obs, universe, params):
    """Every column, every horizon and phase, many thresholds: the index path and the direct path
    agree on the count, the history size and (1-day) the first and last move of the base."""
    p = params or MoveParams()
    t = _tables(obs, universe, params)
    st = t._daily
    assert st.rank is not None and int(st.rank.F.max()) > 1000       # a real index, not a stub
    J = np.arange(len(st.ids))
    K = ms._last_level(st, J)
    J, K = J[K >= 0], K[K >= 0]
    base = ms._Base(st, J, K, p)
    rng = np.random.default_rng(3)
    for h in p.horizons:
        A = st.buf.a[ms._a_key(h)]
        for q in (0.0, 0.5, 0.9, 0.99, 1.0):
            thr = np.array([np.nanquantile(A[: int(st.n[j]), j], q) if st.n[j] else np.nan for j in J])
            thr[rng.random(len(J)) < 0.1] = np.nan
            base.counts(h, thr)                                       # fills base.ends[h]
            end, ph = base.ends[h]
            assert st.rank.usable(J, end).all()
            fast = ms._hist_indexed(st, st.rank, J, end, base.b0, h, ph, thr)
            slow = ms._hist_direct(st, st.rank, J, end, base.b0, h, ph, thr)
            for a, b in zip(fast[:2], slow[:2]):
                assert a.tolist() == b.tolist()
            if h == 1:
                assert fast[2].tolist() == slow[2].tolist() and fast[3].tolist() == slow[3].tolist()


def test_the_update_counts_through_the_index(obs, universe, monkeypatch):
    """Once built, the newest rows are answered by the index alone (the direct path refuses)."""
    base, (first, second) = _by_day(obs, 2)
    t = compute_move_stats(base, universe).update(first)
    assert t._daily.rank is not None

    def refuse(*a, **k):
        raise AssertionError("direct comparison against the whole history")
    monkeypatch.setattr(ms, "_hist_direct", refuse)
    t2 = t.update(second)
    monkeypatch.undo()
    assert t2._daily.rank is t._daily.rank                      # shared, not rebuilt
    assert_tables_equal(t2.frame, compute_move_stats(obs, universe).frame)


def test_a_long_run_past_the_index_rebuilds_it(obs, universe, monkeypatch):
    monkeypatch.setattr(ri, "MAX_TAIL", ri.KEEP + 1)
    base, days = _by_day(obs, 3)
    t = compute_move_stats(base, universe)
    seen = []
    for g in days:
        t = t.update(g)
        seen.append(t._daily.rank)
    assert seen[0] is seen[1] and seen[2] is not seen[1]      # KEEP + 2 rows past F: rebuilt
    assert_tables_equal(t.frame, compute_move_stats(obs, universe).frame)


def test_a_rewind_below_the_index_drops_it(obs, universe, monkeypatch):
    """A late close re-stepped from a row the index sorted: the index goes, the figures stay right."""
    from analytics.quality import judge_frame
    monkeypatch.setattr(ri, "KEEP", 2)                 # so that a 6-row rewind reaches below F
    o = obs[obs["series_id"].isin(["ust_10y", "jgb_10y"])].copy()
    v = judge_frame(o, universe)
    o = o.sort_values(["series_id", "ts"]).reset_index(drop=True)
    v = v.sort_values(["series_id", "ts"]).reset_index(drop=True)
    o["quality"], o["quality_note"] = v["quality"].to_numpy(), v["quality_note"].to_numpy()
    idx = o.index[o["series_id"] == "ust_10y"][-6]
    last = o.groupby("series_id").tail(1).index
    t = compute_move_stats(o.drop(index=[idx, *last]), universe).update(o.loc[last])
    assert t._daily.rank is not None
    late = t.update(o.loc[[idx]])
    assert late._daily.rank is not t._daily.rank
    assert_tables_equal(late.frame, compute_move_stats(o, universe).frame)
