"""The readers' cache: incremental refresh from the store's data version, on both backends."""
from __future__ import annotations

import datetime as dt
import threading

import pandas as pd
import pytest

from data.cache import ObservationCache
from data.frame import make_frame
from tests.backends import store, store_url  # noqa: F401  (fixtures)

T0 = dt.datetime(2026, 1, 20, 6, 0, tzinfo=dt.timezone.utc)


def frame(series_id, dates, values, freq="D"):
    ts = pd.DatetimeIndex(pd.to_datetime(dates)).tz_localize("UTC") + pd.Timedelta(hours=6)
    return make_frame(series_id, freq, ts, values)


class CountingStore:
    """Wraps a Store and records what the cache asks of it."""

    def __init__(self, inner):
        self.inner = inner
        self.reads: list[dict] = []
        self.version_checks = 0

    def data_version(self):
        self.version_checks += 1
        return self.inner.data_version()

    def read(self, **kw):
        self.reads.append(kw)
        return self.inner.read(**kw)

    def get_meta(self, key):
        return self.inner.get_meta(key)


def test_incremental_refresh_sees_new_rows_and_restatements(store):
    store.upsert(frame("jgb_30y", ["2026-01-19", "2026-01-20"], [3.48, 3.683]), source="mof", known_at=T0)
    store.upsert(frame("ust_30y", ["2026-01-20"], [4.90]), source="treasury", known_at=T0)
    spy = CountingStore(store)
    cache = ObservationCache(spy)
    assert cache.version == 0 and cache.observations.empty

    assert cache.refresh() is True
    assert len(cache.observations) == 3 and cache.version == store.data_version()
    assert spy.reads == [{"freq": None, "since_version": 0}]

    assert cache.refresh() is False                       # nothing changed: one cheap query, no read
    assert len(spy.reads) == 1 and spy.version_checks == 2

    v = cache.version
    store.upsert(frame("jgb_30y", ["2026-01-20", "2026-01-21"], [3.70, 3.60]), source="mof", known_at=T0)
    assert cache.refresh() is True
    assert spy.reads[-1] == {"freq": None, "since_version": v}  # only rows changed since the cache
    assert cache.full_loads == 1 and cache.incremental_loads == 1
    obs = cache.observations
    assert len(obs) == 4 and not obs.duplicated(["series_id", "freq", "ts"]).any()
    s = cache.series("jgb_30y")
    assert s.tolist() == [3.48, 3.70, 3.60] and s.name == "jgb_30y"
    assert str(s.index.dtype) == "datetime64[ns, UTC]" and s.index.is_monotonic_increasing
    restated = obs[(obs["series_id"] == "jgb_30y")]
    assert restated["restatements"].tolist() == [0, 1, 0]
    # The cache equals a full read of the store.
    full = store.read()
    pd.testing.assert_frame_equal(obs.reset_index(drop=True), full.reset_index(drop=True), check_dtype=False)
    assert cache.series("nope").empty


def test_cache_by_freq_and_caller_cannot_corrupt_it(store):
    bars = pd.date_range("2026-01-21 00:00", periods=3, freq="5min", tz="UTC")
    store.upsert(make_frame("ust_10y", "I", bars, [4.1, 4.2, 4.3]), source="yahoo", known_at=T0)
    store.upsert(frame("ust_10y", ["2026-01-20"], [4.0]), source="treasury", known_at=T0)
    cache = ObservationCache(store, freq="I")
    cache.refresh()
    assert set(cache.observations["freq"]) == {"I"} and len(cache.observations) == 3
    handed_out = cache.observations
    handed_out.loc[0, "value"] = -1.0
    assert cache.observations.loc[0, "value"] == 4.1
    assert cache.series("ust_10y", "I").tolist() == [4.1, 4.2, 4.3]


def test_readers_always_see_a_consistent_frame_while_the_cache_refreshes(store):
    cache = ObservationCache(store)
    stop = threading.Event()
    problems: list[str] = []

    def reader():
        while not stop.is_set():
            obs = cache.observations
            if obs.duplicated(["series_id", "freq", "ts"]).any():
                problems.append("duplicate keys")
            if len(obs) and not obs["ts"].is_monotonic_increasing:
                problems.append("unsorted")
            cache.refresh()

    readers = [threading.Thread(target=reader) for _ in range(3)]
    [t.start() for t in readers]
    try:
        days = pd.date_range("2026-01-01", periods=30, freq="D").strftime("%Y-%m-%d").tolist()
        for i, day in enumerate(days):
            store.upsert(frame("jgb_10y", days[: i + 1], [1.0 + 0.01 * k + 0.001 * i for k in range(i + 1)]),
                         source="mof", known_at=T0)
    finally:
        stop.set()
        [t.join(30) for t in readers]
    cache.refresh()
    assert not problems
    assert len(cache.observations) == 30
    assert cache.series("jgb_10y").iloc[0] == pytest.approx(1.029)   # last restatement of day 1


def test_reset_data_makes_readers_reload_from_scratch(store):
    """A demo/replay restart empties the store: a reader must drop rows that no longer exist."""
    store.upsert(frame("jgb_30y", ["2026-01-19", "2026-01-20"], [3.48, 3.683]), source="mof", known_at=T0)
    cache = ObservationCache(store)
    assert cache.refresh() and len(cache.observations) == 2
    assert store.reset_data() == 2
    store.upsert(frame("ust_10y", ["2026-01-20"], [4.29]), source="treasury", known_at=T0)
    assert cache.refresh()
    obs = cache.observations
    assert list(obs["series_id"]) == ["ust_10y"] and cache.full_loads == 2
    assert store.health() == [] and store.get_meta("cursor:demo") is None


def _bars(series_id, start, hours, value0=100.0):
    ts = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    return make_frame(series_id, "I", ts, [value0 + 0.01 * i for i in range(hours)])


def test_intraday_window_bounds_memory_per_series_and_keeps_every_close(store):
    keep = pd.Timedelta(days=42)
    # usdjpy: 70 days of hourly bars; tlt: 20 days ending 30 days earlier than usdjpy's newest.
    store.upsert(_bars("usdjpy", "2026-03-01", 70 * 24), source="yahoo", known_at=T0)
    store.upsert(_bars("tlt", "2026-03-21", 20 * 24), source="yahoo", known_at=T0)
    store.upsert(frame("jgb_30y", pd.bdate_range("2025-01-01", periods=300).strftime("%Y-%m-%d"),
                       [3.0 + i / 1000 for i in range(300)]), source="mof", known_at=T0)
    everything = store.read()
    cache = ObservationCache(store, intraday_keep=keep)
    cache.refresh()
    got = cache.observations
    # Reference: the same rule written directly — per series, against its own newest bar.
    intra = everything[everything["freq"] == "I"]
    newest = intra.groupby("series_id")["ts"].transform("max")
    expect = pd.concat([everything[everything["freq"] == "D"], intra[intra["ts"] >= newest - keep]])
    key = ["series_id", "freq", "ts"]
    assert got[key].sort_values(key).reset_index(drop=True).equals(expect[key].sort_values(key).reset_index(drop=True))
    assert (got["freq"] == "D").sum() == 300                      # closes are never dropped
    assert len(got[got["series_id"] == "tlt"]) == 20 * 24         # its own window: nothing dropped
    assert len(got[got["series_id"] == "usdjpy"]) == 42 * 24 + 1
    # New bars move the window forward: memory stays flat.
    store.upsert(_bars("usdjpy", "2026-05-10", 5 * 24, value0=120.0), source="yahoo", known_at=T0)
    cache.refresh()
    after = cache.observations
    u = after[after["series_id"] == "usdjpy"]["ts"]
    assert len(u) == 42 * 24 + 1 and u.min() == u.max() - keep
    assert len(store.read()) > len(after)      # the store keeps them: pruning is the collector's job
