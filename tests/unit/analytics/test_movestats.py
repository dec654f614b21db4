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
