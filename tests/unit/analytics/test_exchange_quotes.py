"""An intraday-only series (CNBC's exchange quotes of the JGB 30Y) takes σ, window and rarity from
the close of record it names (`sigma_from = "jgb_30y"`, the MOF fixing): checked on the real MOF
history of 2026-01-20 against the daily row the kernel computes for the MOF close of that day, and
against a direct pandas count of the real history. Bars: `bars_5d_JP30Y-JP.json` (the public
shape; 2026-01-16 and -19 end at that day's MOF close, 2026-01-20 is the 1D fixture's session)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics.movestats import MoveParams, compute_move_stats
from analytics.quality import HAS_LEVEL
from data.sources.cnbc import parse_bars
from tests.unit.realjgb import mof_frame
from universe import load_universe

UNIVERSE = load_universe()
X = UNIVERSE.get("jgb_30y_x")
AS_OF = pd.Timestamp("2026-01-20 05:30", tz="UTC")        # 14:30 JST: Tokyo still trading
PARAMS = MoveParams()                                     # the declared base: 2000-01-01


@pytest.fixture(scope="module")
def inputs(market_dir, fixtures_dir):
    mof = mof_frame(str(market_dir / "jgb" / "jgbcme_all.csv"))
    mof = mof[mof["series_id"] == "jgb_30y"]
    bars = parse_bars((fixtures_dir / "cnbc" / "bars_5d_JP30Y-JP.json").read_bytes(), X)
    return mof, bars[bars["ts"] <= AS_OF]


def _row(table, sid, kind):
    f = table.frame
    r = f[(f["series_id"] == sid) & (f["kind"] == kind) & (f["horizon"] == 1)]
    assert len(r) == 1, (sid, kind, len(r))
    return r.iloc[0]


def test_the_move_since_the_previous_close_is_scaled_by_the_mof_history(inputs):
    mof, bars = inputs
    day = pd.Timestamp("2026-01-20", tz="Asia/Tokyo")
    before = mof[mof["ts"] < day.tz_convert("UTC")]        # the MOF file as published on 01-20
    x = _row(compute_move_stats(pd.concat([before, bars], ignore_index=True), UNIVERSE, PARAMS), "jgb_30y_x", "intraday")
    # The MOF row of 2026-01-20, once published, has its window ending at the same close (01-19).
    d = _row(compute_move_stats(mof[mof["ts"] <= pd.Timestamp("2026-01-20 23:00", tz="UTC")], UNIVERSE, PARAMS),
             "jgb_30y", "daily")
    assert x["ts"] == AS_OF and x["window_end"] == d["window_end"]
    assert x["window_end"].tz_convert("Asia/Tokyo").date().isoformat() == "2026-01-19"
    assert x["move"] == pytest.approx(100 * (3.748 - 3.562))           # the 14:30 quote − the 01-19 close
    assert x["n_valid"] == d["n_valid"] and x["min_history"] == d["min_history"]
    for e in ("w60", "ewma"):
        assert x[f"sigma_{e}"] / math.sqrt(x["F"]) == pytest.approx(d[f"sigma_{e}"], rel=1e-9), e
        assert x[f"z_{e}"] == pytest.approx(x["move"] / x[f"sigma_{e}"], rel=1e-9), e
    # σ60 of the real history, directly: the 60 bp moves ending 2026-01-19 (never below the floor).
    lv = before.set_index("ts")["value"].sort_index()
    d60 = (100 * lv.diff()).dropna().iloc[-60:]
    assert d60.index[-1].tz_convert("Asia/Tokyo").date().isoformat() == "2026-01-19"
    assert x["sigma_raw_w60"] / math.sqrt(x["F"]) == pytest.approx(float(np.sqrt((d60 ** 2).mean())), rel=0.05) \
        or x["sigma_raw_w60"] / math.sqrt(x["F"]) == pytest.approx(float(d60.std()), rel=0.05)
    assert x["z_w60"] > 4.0


def test_its_rarity_is_that_of_a_day_move_of_the_same_size_on_the_declared_base(inputs):
    mof, bars = inputs
    before = mof[mof["ts"] < pd.Timestamp("2026-01-19 23:00", tz="UTC")]
    table = compute_move_stats(pd.concat([before, bars], ignore_index=True), UNIVERSE, PARAMS)
    x = _row(table, "jgb_30y_x", "intraday")
    # Direct count on the real file: bp moves of the 30Y from the base to 2026-01-19 at least as
    # large as the move so far, over the years those moves span — without the prints the gate
    # rejected (the spike of 2016-03-08, reversed the next day: its verdict is stored).
    ts, q, _ = table.rows_of("jgb_30y")
    rejected = pd.DatetimeIndex(pd.to_datetime(ts[~HAS_LEVEL[q]], utc=True))
    assert pd.Timestamp("2016-03-08 06:00", tz="UTC") in rejected
    lv = before.set_index("ts")["value"].sort_index()
    mv = (100 * lv.drop(rejected, errors="ignore").diff()).dropna()
    mv = mv[mv.index >= PARAMS.base]
    big = mv[mv.abs() >= x["move"] - 1e-6]
    assert [d.year for d in big.index] == [2001, 2013, 2025]           # −18.6, −26.8, +19.7 bp
    years = (mv.index[-1] - mv.index[0]).days / 365.25
    assert x["n_history"] == pytest.approx(len(mv), abs=2)             # a gap's first print is no move
    assert x["return_period_years"] == pytest.approx(years / len(big), rel=0.01)
    assert x["largest_since"] == big.index[-1]
    # The same figure the MOF close of this size would get: a bigger move is rarer.
    bigger = bars.copy()
    bigger.loc[bigger.index[-1], "value"] += 0.03                     # 21.6 bp: only 2013 was larger
    more = pd.concat([before, bigger], ignore_index=True)
    x2 = _row(compute_move_stats(more, UNIVERSE, PARAMS), "jgb_30y_x", "intraday")
    assert x2["return_period_years"] > x["return_period_years"]


def test_a_new_mof_close_rescales_the_quotes_and_post_close_quotes_start_the_next_session(inputs, fixtures_dir):
    mof, _ = inputs
    allbars = parse_bars((fixtures_dir / "cnbc" / "bars_5d_JP30Y-JP.json").read_bytes(), X)
    before = mof[mof["ts"] < pd.Timestamp("2026-01-19 23:00", tz="UTC")]
    upto_close = allbars[allbars["ts"] < pd.Timestamp("2026-01-20 06:00", tz="UTC")]
    table = compute_move_stats(pd.concat([before, upto_close], ignore_index=True), UNIVERSE, PARAMS)
    first = _row(table, "jgb_30y_x", "intraday")
    # The 15:00 JST quote is after the close: its session's previous close is the 14:30 quote.
    after = table.update(allbars[allbars["ts"] >= pd.Timestamp("2026-01-20 06:00", tz="UTC")])
    post = _row(after, "jgb_30y_x", "intraday")
    assert post["move"] == pytest.approx(100 * (3.765 - 3.748))
    # The MOF close of 01-20 arrives (00:30 JST 01-21): the quotes' row is recomputed on it.
    mof20 = mof[(mof["ts"] > pd.Timestamp("2026-01-19 23:00", tz="UTC")) &
                (mof["ts"] < pd.Timestamp("2026-01-20 23:00", tz="UTC"))]
    assert len(mof20) == 1
    later = after.update(mof20)
    re = _row(later, "jgb_30y_x", "intraday")
    assert re["window_end"] > first["window_end"] and re["n_valid"] == first["n_valid"] + 1
    fresh = _row(compute_move_stats(pd.concat([before, mof20, allbars], ignore_index=True), UNIVERSE, PARAMS),
                 "jgb_30y_x", "intraday")
    for k in ("move", "sigma_w60", "z_w60", "return_period_years", "n_history"):
        assert re[k] == pytest.approx(fresh[k], rel=1e-9), k


def test_the_session_runs_from_the_close_of_record_not_the_quotes_own_last_print(inputs):
    mof, bars = inputs
    before = mof[mof["ts"] < pd.Timestamp("2026-01-19 23:00", tz="UTC")]
    today = bars[bars["ts"] >= pd.Timestamp("2026-01-20 00:00", tz="UTC")]
    # A desk feed posting only today's prints: no earlier bar, the move still runs from the MOF close.
    only = _row(compute_move_stats(pd.concat([before, today], ignore_index=True), UNIVERSE, PARAMS),
                "jgb_30y_x", "intraday")
    assert only["move"] == pytest.approx(100 * (3.748 - 3.562))
    assert only["window_end"].tz_convert("Asia/Tokyo").date().isoformat() == "2026-01-19"
    # The exchange's last print of 01-19 is off the fixing by 0.8 bp: the MOF close still anchors.
    off = bars.copy()
    last19 = off.index[off["ts"] < pd.Timestamp("2026-01-19 06:00", tz="UTC")][-1]
    off.loc[last19, "value"] += 0.008
    x = _row(compute_move_stats(pd.concat([before, off], ignore_index=True), UNIVERSE, PARAMS), "jgb_30y_x", "intraday")
    assert x["move"] == pytest.approx(only["move"]) and x["z_w60"] == pytest.approx(only["z_w60"], rel=0.2)
    # Without the MOF close of 01-19 (not published yet) the quotes' own close of 01-19 stays the
    # anchor: 01-16's fixing would make a two-day move read as one session's.
    no19 = mof[mof["ts"] < pd.Timestamp("2026-01-18 23:00", tz="UTC")]
    y = _row(compute_move_stats(pd.concat([no19, off], ignore_index=True), UNIVERSE, PARAMS), "jgb_30y_x", "intraday")
    assert y["move"] == pytest.approx(100 * (3.748 - 3.562 - 0.008))


def test_a_stale_close_of_record_is_no_anchor(inputs):
    mof, bars = inputs
    today = bars[bars["ts"] >= pd.Timestamp("2026-01-20 00:00", tz="UTC")]
    # The MOF file stopped on 2026-01-09: eleven days later a desk's prints have no previous close.
    old = mof[mof["ts"] < pd.Timestamp("2026-01-09 23:00", tz="UTC")]
    x = _row(compute_move_stats(pd.concat([old, today], ignore_index=True), UNIVERSE, PARAMS), "jgb_30y_x", "intraday")
    assert math.isnan(x["move"]) and math.isnan(x["z_w60"])
    # Within the MOF series' stale_after (4 days) + 1 it anchors: a weekend or a holiday. Without a
    # holiday calendar a merely late file (01-19's here) makes the move span two days — the
    # documented limit (docs/MOVE_STATS.md); with the quotes' own 01-19 close it would not.
    fri = mof[mof["ts"] < pd.Timestamp("2026-01-16 23:00", tz="UTC")]
    y = _row(compute_move_stats(pd.concat([fri, today], ignore_index=True), UNIVERSE, PARAMS), "jgb_30y_x", "intraday")
    f16 = float(fri.sort_values("ts")["value"].iloc[-1])
    assert y["move"] == pytest.approx(100 * (3.748 - f16))
