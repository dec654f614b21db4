"""The replay releases each close when its publisher made it public (BRIEF §1, issue 10), on the
real files: MOF at 00:30 JST on the next business day (its holidays are the weekdays its file
skips), Treasury the same afternoon, FRED 18 h after its close."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data.sources.replay import load_history, published_at
from universe import load_universe

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def history(market_dir):
    return load_history(market_dir, load_universe(ROOT / "universe.toml"), references=True)


def released(history, series_id: str, local_day: str, source: str) -> pd.Timestamp:
    zone = "Asia/Tokyo" if series_id.startswith("jgb") else "America/New_York"
    rows = history[(history.series_id == series_id) & (history.freq == "D") & (history.source == source)
                   & (history.ts.dt.tz_convert(zone).dt.strftime("%Y-%m-%d") == local_day)]
    assert len(rows) == 1, rows
    return rows["available_at"].iloc[0]


UTC = "UTC"


@pytest.mark.parametrize("day, expected", [
    ("2026-01-19", "2026-01-19 15:30"),   # Monday's close: Tuesday 00:30 JST
    ("2026-01-20", "2026-01-20 15:30"),   # the +20 bp day: public during the US session
    ("2026-01-16", "2026-01-18 15:30"),   # Friday's: Sunday 15:30 UTC (Monday 00:30 JST)
    ("2025-12-30", "2026-01-04 15:30"),   # the year-end holidays: Monday 2026-01-05 00:30 JST
    ("2026-06-30", "2026-06-30 15:30"),   # the file's last day: the next weekday
])
def test_mof_publishes_at_half_past_midnight_tokyo_on_the_next_business_day(history, day, expected):
    assert released(history, "jgb_30y", day, "mof") == pd.Timestamp(expected, tz=UTC)


def test_fred_18_h_after_its_close_and_treasury_the_same_afternoon(history):
    """FRED stays 18 h after its close (earlier than the H.15's 4:15 pm ET next business day:
    see the comment on SCHEDULE); Treasury's own curve an hour after its quotes."""
    fred = released(history, "ust_10y", "2026-01-20", "fred")
    assert fred == pd.Timestamp("2026-01-21 14:30", tz=UTC)
    par = released(history, "ust_10y", "2026-01-20", "treasury")
    assert par.tz_convert("America/New_York").strftime("%Y-%m-%d %H:%M") == "2026-01-20 16:30"


def test_nothing_is_released_before_it_happened_and_every_row_has_a_time(history):
    assert history["available_at"].notna().all()
    assert (history["available_at"] > history["ts"]).all()


def test_at_10_48_utc_on_2026_01_20_the_jgb_30y_is_still_the_previous_close(history):
    """The issue's example: hours after Tokyo closed, the MOF close of the day is not out yet;
    at 15:30 UTC it is."""
    jgb = history[(history.series_id == "jgb_30y") & (history.freq == "D")]
    seen = jgb[jgb.available_at <= pd.Timestamp("2026-01-20 10:48", tz=UTC)]
    assert seen.ts.max().tz_convert("Asia/Tokyo").date().isoformat() == "2026-01-19"
    seen = jgb[jgb.available_at <= pd.Timestamp("2026-01-20 15:30", tz=UTC)]
    assert seen.ts.max().tz_convert("Asia/Tokyo").date().isoformat() == "2026-01-20"


def test_a_hole_in_the_files_releases_on_the_next_weekday_not_at_the_next_row():
    ts = pd.Series(pd.to_datetime(["2026-01-08 06:00", "2026-01-09 06:00", "2026-03-02 06:00"], utc=True))
    got = published_at(ts, "mof")
    assert list(got) == [pd.Timestamp("2026-01-08 15:30", tz=UTC), pd.Timestamp("2026-01-11 15:30", tz=UTC),
                         pd.Timestamp("2026-03-02 15:30", tz=UTC)]
