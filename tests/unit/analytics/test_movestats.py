"""MoveTable: records, history, and incremental update == full recompute."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.movestats import TABLE_COLUMNS, compute_move_stats
from analytics.stats import MoveParams
from analytics.types import ESTIMATORS, MoveStat

EXACT = ("kind", "horizon", "ts", "window_end", "unit", "n_history", "single_print", "quality", "quality_note",
         "n_valid", "min_history", "tail", "largest_since", "largest_since_signed", "series_start")
NUM = [c for c in TABLE_COLUMNS if c not in ("series_id", "source") + EXACT]


def assert_tables_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a = a.sort_values(["series_id", "kind", "horizon"]).reset_index(drop=True)
    b = b.sort_values(["series_id", "kind", "horizon"]).reset_index(drop=True)
    assert list(a["series_id"]) == list(b["series_id"])
    for c in EXACT:
        x, y = a[c].tolist(), b[c].tolist()
        same = [(u == v) or (pd.isna(u) and pd.isna(v)) if not isinstance(u, str) else u == v for u, v in zip(x, y)]
        assert all(same), (c, [(u, v) for u, v, ok in zip(x, y, same) if not ok][:3])
    for c in NUM:
        x, y = a[c].to_numpy(dtype=float), b[c].to_numpy(dtype=float)
        assert np.allclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True), c


@pytest.fixture(scope="module")
def obs(jgb_obs, fred_obs):
    o = pd.concat([jgb_obs, fred_obs], ignore_index=True)
    return o[o["ts"] >= pd.Timestamp("2012-01-01", tz="UTC")].reset_index(drop=True)


def _split_last(o: pd.DataFrame, k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold back the last k observations of every series."""
    rank = o.sort_values("ts").groupby("series_id").cumcount(ascending=False).reindex(o.index)
    return o[rank >= k], o[rank < k]


@pytest.mark.parametrize("k", [1, 3])
def test_incremental_equals_full(obs, universe, k):
    base, new = _split_last(obs, k)
    full = compute_move_stats(obs, universe)
    inc = compute_move_stats(base, universe).update(new)
    assert_tables_equal(inc.frame, full.frame)


def test_incremental_with_rarity_since_and_fixed_rate(obs, universe):
    p = MoveParams(rarity_since=pd.Timestamp("2020-01-01"), obs_per_year=252.0)
    base, new = _split_last(obs, 2)
    assert_tables_equal(compute_move_stats(base, universe, p).update(new).frame,
                        compute_move_stats(obs, universe, p).frame)


def test_incremental_through_warmup(universe):
    """Short histories: EWMA seeding (20th move), windows filling up, long-run σ appearing."""
    rng = np.random.default_rng(5)
    ts = pd.bdate_range("2024-01-01", periods=300, tz="UTC")
    frames = [pd.DataFrame({"series_id": "jgb_10y", "freq": "D", "ts": ts,
                            "value": 1 + np.cumsum(rng.normal(0, 0.03, 300))}),
              pd.DataFrame({"series_id": "usdjpy_noon", "freq": "D", "ts": ts[::2][:140],
                            "value": 150 * np.exp(np.cumsum(rng.normal(0, 0.006, 140)))})]
    o = pd.concat(frames, ignore_index=True)
    t = compute_move_stats(o.groupby("series_id").head(5), universe)
    rest = o.drop(o.groupby("series_id").head(5).index).sort_values("ts")
    for _, chunk in rest.groupby(np.arange(len(rest)) // 7):   # 7 points at a time, mixed series
        t = t.update(chunk)
    assert_tables_equal(t.frame, compute_move_stats(o, universe).frame)
    h = t.history("jgb_10y")
    one = h[h["horizon"] == 1]
    # Every stored row, the first one a new segment (no move) with the gate's word for it.
    assert len(one) == 300 and one["move"].notna().sum() == 299
    assert one.iloc[0]["quality"] == "gap" and "first print" in one.iloc[0]["quality_note"]


def test_update_leaves_original_unchanged(obs, universe):
    base, new = _split_last(obs, 1)
    t0 = compute_move_stats(base, universe)
    before = t0.frame.copy()
    t0.update(new)
    assert_tables_equal(t0.frame, before)


def test_restatement_and_new_series_fall_back_to_full(obs, universe):
    base, new = _split_last(obs, 1)
    t = compute_move_stats(base[base["series_id"] != "ust_30y"], universe)
    # A restated old JGB 10Y value and a series the table has never seen.
    old = base[base["series_id"] == "jgb_10y"].iloc[[-10]].copy()
    old["value"] += 0.05
    upd = pd.concat([new, old, base[base["series_id"] == "ust_30y"]], ignore_index=True)
    expect = pd.concat([base.drop(old.index), old, new], ignore_index=True)
    assert_tables_equal(t.update(upd).frame, compute_move_stats(expect, universe).frame)


def test_records(obs, universe):
    t = compute_move_stats(obs, universe)
    recs = t.latest()
    assert len(recs) == len(t.frame) == 3 * obs["series_id"].nunique()
    assert all(isinstance(r, MoveStat) for r in recs)
    r30 = [r for r in t.for_series("jgb_30y") if r.horizon == 1][0]
    assert r30.kind == "daily" and r30.unit == "bp" and r30.source == "mof"
    assert set(r30.z) == set(ESTIMATORS) and set(r30.sigma) == set(ESTIMATORS)
    assert r30.window_end < r30.ts and r30.ts.tzinfo is not None
    assert r30.n_history > 3000 and 0 < r30.rarity_share <= 1
    assert {r.horizon for r in t.for_series("usdjpy_noon")} == {1, 2, 5}


def test_no_dash_or_io_in_analytics():
    root = Path(__file__).resolve().parents[3] / "analytics"
    for f in root.glob("*.py"):
        tree = ast.parse(f.read_text())
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not names & {"dash", "plotly"}, f
        if f.stem in ("stats", "movestats", "intraday", "moves"):   # pure: no I/O layers either
            assert not names & {"requests", "sqlalchemy", "data"}, f


def test_branching_updates_do_not_interfere(obs, universe):
    """Two updates derived from the same table (the second copies the shared buffers)."""
    base, new = _split_last(obs, 2)
    first, second = _split_last(new, 1)
    t0 = compute_move_stats(base, universe)
    a = t0.update(first).update(second)
    b = t0.update(first)          # t0 is no longer the newest table: must not corrupt `a`
    assert_tables_equal(a.frame, compute_move_stats(obs, universe).frame)
    assert_tables_equal(b.frame, compute_move_stats(pd.concat([base, first]), universe).frame)
    assert_tables_equal(a.update(new.iloc[:0]).frame, a.frame)


# ------------------------------------------------------------------ incremental path and the gate
@pytest.fixture
def no_recompute(monkeypatch):
    """These updates must take the incremental path: a full recompute fails the test."""
    from analytics.movestats import MoveTable

    def refuse(self, daily):
        raise AssertionError("fell back to a full recompute")
    monkeypatch.setattr(MoveTable, "_recompute_with", refuse)


def _held_then(universe, after: float) -> pd.DataFrame:
    """VIX-like closes: print 300 jumps +35 %, print 301 goes `after` of the way back."""
    rng = np.random.default_rng(4)
    ts = pd.bdate_range("2023-01-02", periods=310, tz="UTC") + pd.Timedelta(hours=21)
    v = 20 * np.exp(np.cumsum(rng.normal(0, 0.01, 310)))
    v[300:] *= 1.35
    v[301:] /= 1.35 ** after
    return pd.DataFrame({"series_id": "vix", "freq": "D", "ts": ts, "value": v, "source": "yahoo"})


@pytest.mark.parametrize("after,verdict", [(1.0, "rejected"), (0.1, "ok")])
def test_a_held_print_decided_by_the_next_one_day_by_day(universe, after, verdict, no_recompute):
    """Gate inside the kernel: the held print is 'unconfirmed' until the next one arrives, then
    rejected (reversed) or ok; every step equals a full recompute and the older tables keep
    what they said (their buffers are not rewritten)."""
    o = _held_then(universe, after)
    t = compute_move_stats(o.iloc[:300], universe)
    t300 = t.update(o.iloc[[300]])
    assert t300.history("vix").query("horizon == 1").iloc[-1]["quality"] == "unconfirmed"
    frame300 = t300.frame.copy()
    t301 = t300.update(o.iloc[[301]])
    h = t301.history("vix").query("horizon == 1")
    assert h.iloc[300]["quality"] == verdict
    assert_tables_equal(t301.frame, compute_move_stats(o.iloc[:302], universe).frame)
    pd.testing.assert_frame_equal(t301.history("vix"), compute_move_stats(o.iloc[:302], universe).history("vix"))
    assert t300.history("vix").query("horizon == 1").iloc[-1]["quality"] == "unconfirmed"
    assert_tables_equal(t300.frame, frame300)
    t_end = t301
    for i in range(302, 310):
        t_end = t_end.update(o.iloc[[i]])
    assert_tables_equal(t_end.frame, compute_move_stats(o, universe).frame)
    # The table the restatement branched from can still be updated on its own line, without
    # touching the newer one's buffers.
    h301 = t301.history("vix")
    other = o.iloc[[301]].assign(value=o["value"].iloc[299] * 0.97)
    alt = t300.update(other)
    alt_data = pd.concat([o.iloc[:301], other], ignore_index=True)
    assert_tables_equal(alt.frame, compute_move_stats(alt_data, universe).frame)
    pd.testing.assert_frame_equal(t301.history("vix"), h301)


@pytest.mark.parametrize("after", [1.0, 0.1])
def test_a_stored_verdict_restated_by_the_collector(universe, after, no_recompute):
    """Read-model path (verdicts stored by the collector's gate): the held print comes back with
    its new verdict beside the next print; applied in place, equal to a full recompute."""
    from analytics.quality import judge_frame
    o = _held_then(universe, after)
    v0 = judge_frame(o.iloc[:301], universe)
    v1 = judge_frame(o.iloc[:302], universe)
    first = o.iloc[:301].assign(quality=v0["quality"].to_numpy(), quality_note=v0["quality_note"].to_numpy())
    final = o.iloc[:302].assign(quality=v1["quality"].to_numpy(), quality_note=v1["quality_note"].to_numpy())
    t = compute_move_stats(first.iloc[:300], universe).update(first.iloc[[300]])
    assert t.history("vix").query("horizon == 1").iloc[-1]["quality"] == "unconfirmed"
    t2 = t.update(final.iloc[[300, 301]])                 # the restated row and the new print
    assert_tables_equal(t2.frame, compute_move_stats(final, universe).frame)
    pd.testing.assert_frame_equal(t2.history("vix"), compute_move_stats(final, universe).history("vix"))
    assert t.history("vix").query("horizon == 1").iloc[-1]["quality"] == "unconfirmed"


def test_a_late_point_near_the_end_is_re_stepped_not_recomputed(obs, universe, no_recompute):
    """A close that arrives after later ones (stored verdicts): the series is re-stepped from it."""
    from analytics.quality import judge_frame
    o = obs[obs["series_id"].isin(["ust_10y", "ust_30y", "jgb_10y"])].copy()
    v = judge_frame(o, universe)
    o = o.sort_values(["series_id", "ts"]).reset_index(drop=True)
    v = v.sort_values(["series_id", "ts"]).reset_index(drop=True)
    o["quality"], o["quality_note"] = v["quality"].to_numpy(), v["quality_note"].to_numpy()
    idx = o.index[o["series_id"] == "ust_10y"][-6]
    t = compute_move_stats(o.drop(index=idx), universe)
    late = t.update(o.loc[[idx]])
    assert late._daily is not None and late._daily.buf is not t._daily.buf      # re-stepped on its own copy
    assert_tables_equal(late.frame, compute_move_stats(o, universe).frame)
    pd.testing.assert_frame_equal(late.history("ust_10y"), compute_move_stats(o, universe).history("ust_10y"))


def test_gate_in_the_kernel_day_by_day_on_the_real_curves(obs, universe, monkeypatch):
    """The real JGB and UST curves (peers confirm each other), the last 12 days folded in one
    day at a time without stored verdicts: equal to a full recompute, and never one itself."""
    from analytics.movestats import MoveTable
    days = obs["ts"].dt.date
    cut = sorted(days.unique())[-12]
    t = compute_move_stats(obs[days < cut], universe)
    monkeypatch.setattr(MoveTable, "_recompute_with", lambda self, d: (_ for _ in ()).throw(AssertionError("recompute")))
    for d, g in obs[days >= cut].groupby(days[days >= cut]):
        t = t.update(g)
    monkeypatch.undo()
    full = compute_move_stats(obs, universe)
    assert_tables_equal(t.frame, full.frame)
    for sid in ("jgb_30y", "ust_10y"):
        a, b = t.history(sid), full.history(sid)
        assert a["quality"].tolist() == b["quality"].tolist()
        assert np.allclose(a["z_w250"].to_numpy(float), b["z_w250"].to_numpy(float), equal_nan=True)


def test_a_re_delivered_unchanged_close_leaves_the_table_as_it_was(universe, no_recompute):
    from analytics.quality import judge_frame
    o = _held_then(universe, 0.1)
    v = judge_frame(o, universe)
    o = o.assign(quality=v["quality"].to_numpy(), quality_note=v["quality_note"].to_numpy())
    t = compute_move_stats(o, universe)
    again = t.update(o.iloc[[-1]])
    pd.testing.assert_frame_equal(again.frame, t.frame)
    assert again._daily.buf is t._daily.buf           # nothing copied, nothing appended
