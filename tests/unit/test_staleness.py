"""Staleness follows each series' cadence; a second source behind a fresh primary is no outage;
a failing source's banner line is a category and a retry bound, never the raw error."""
from __future__ import annotations

import datetime as dt

from data.clock import ReplayClock
from data.health import SourceRow
from data.store import SourceHealth
from views.snapshot import SeriesRow, Snapshot

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 1, 21, 12, tzinfo=UTC)


def _row(sid: str, age: dt.timedelta | None, *, stale_after=dt.timedelta(days=4), checks=()) -> SeriesRow:
    return SeriesRow(id=sid, label=sid.upper().replace("_", " "), source="fred", primary_source="fred",
                     fallback_source=None, market="FX", kind="fx", unit="logpct", group="fx_daily",
                     value=None if age is None else 150.0, prev_close=None, change=None,
                     as_of=None if age is None else NOW - age, freq="D", stale_after=stale_after, checks=checks)


def _snap(*rows: SeriesRow) -> Snapshot:
    return Snapshot(version=1, built_at=NOW, mode="replay", clock=ReplayClock(NOW, 1.0, None), rows=rows, sources=())


def test_each_series_goes_stale_after_its_own_cadence():
    daily = _row("jgb_30y", dt.timedelta(days=5))
    weekly = _row("dexjpus", dt.timedelta(days=8), stale_after=dt.timedelta(days=11))
    assert daily.is_stale(NOW) and not weekly.is_stale(NOW)
    assert _snap(daily, weekly).stale_series() == ["jgb_30y"]
    assert not _row("weekly", dt.timedelta(days=10, hours=23), stale_after=dt.timedelta(days=11)).is_stale(NOW)
    assert _row("weekly", dt.timedelta(days=11, hours=1), stale_after=dt.timedelta(days=11)).is_stale(NOW)


def test_a_second_source_behind_its_fresh_primary_is_not_an_outage():
    noon = _row("usdjpy_noon", dt.timedelta(days=6), checks=("usdjpy",))
    fresh = _row("usdjpy", dt.timedelta(hours=2))
    snap = _snap(noon, fresh)
    assert snap.stale_series() == [] and snap.behind_series() == ["usdjpy_noon"]
    # …but when what it checks has stopped too (or has no data), it is part of the outage.
    assert _snap(noon, _row("usdjpy", dt.timedelta(days=6))).stale_series() == ["usdjpy_noon", "usdjpy"]
    assert _snap(noon, _row("usdjpy", None)).stale_series() == ["usdjpy_noon"]
    assert _snap(noon, fresh).labels(["usdjpy_noon", "nope"]) == ["USDJPY NOON", "nope"]


def _health(failures: int, last_attempt: dt.datetime, error: str | None) -> SourceHealth:
    return SourceHealth(source="mof", last_attempt=last_attempt, last_success=None, last_error=error,
                        last_error_at=last_attempt, consecutive_failures=failures, rows_written_total=0, rows_last=0)


def test_failure_line_says_category_and_retry_bound_not_the_raw_error():
    raw = ("FetchError: network error: ConnectionError: HTTPSConnectionPool(host='www.mof.go.jp', port=443): "
           "Max retries exceeded with url: /jgbs/reference/interest_rate/jgbcm.csv")
    first = SourceRow(health=_health(1, NOW - dt.timedelta(seconds=20), raw), every=60.0)
    assert first.failure_text(NOW) == "MOF: no network (retrying within 40 s)"
    # The k-th failure in a row waits at most min(3600, max(every, 60)·2^(k−1)).
    third = SourceRow(health=_health(3, NOW - dt.timedelta(seconds=30), raw), every=60.0)
    assert third.retry_within(NOW) == 240 - 30
    capped = SourceRow(health=_health(12, NOW - dt.timedelta(seconds=600), "HTTP 503"), every=1200.0)
    assert capped.retry_within(NOW) == 3000 and capped.failure_text(NOW) == "MOF: HTTP 503 (retrying within 50 min)"
    assert "mof.go.jp" not in first.failure_text(NOW)
    ok = SourceRow(health=_health(0, NOW, None), every=60.0)
    assert ok.retry_within(NOW) is None and ok.failure_text(NOW) == "MOF: failing"
