"""The event calendar: the shipped 2026 file loads, every event has a UTC instant in its own zone,
next_events / events_near pick the right ones, and a bad entry names file, key and value."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from data.events import DEFAULT_EVENTS, KINDS, Event, events_near, load_events, next_events
from errors import ConfigError

UTC = dt.timezone.utc
D = dt.date.fromisoformat


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def shipped():
    return load_events()


def test_shipped_file_loads_in_time_order(shipped):
    assert DEFAULT_EVENTS.name == "events.toml"
    assert [e.instant_utc for e in shipped] == sorted(e.instant_utc for e in shipped)
    assert all(e.sources and e.kind in KINDS and e.date.year == 2026 for e in shipped)
    assert all(e.tenor for e in shipped if e.kind == "jgb_auction")


def test_shipped_2026_calendar(shipped):
    fomc = [e.date.isoformat() for e in shipped if e.kind == "fomc"]
    assert fomc == ["2026-01-28", "2026-03-18", "2026-04-29", "2026-06-17", "2026-07-29", "2026-09-16",
                    "2026-10-28", "2026-12-09"]
    assert all(e.time == dt.time(14, 0) and e.timezone == "America/New_York" for e in shipped if e.kind == "fomc")
    boj = [e.date for e in shipped if e.kind == "boj"]
    assert D("2026-01-23") in boj and D("2026-03-19") in boj          # decision = second day of the MPM
    assert all(e.timezone == "Asia/Tokyo" and e.all_day for e in shipped if e.kind == "boj")
    (election,) = [e for e in shipped if e.kind == "election"]
    assert election.date == D("2026-02-08") and election.timezone == "Asia/Tokyo"


@pytest.mark.parametrize("day,utc_hour", [("2026-01-28", 19), ("2026-07-29", 18)])
def test_fomc_statement_in_utc_follows_new_york_daylight_saving(shipped, day, utc_hour):
    (e,) = [e for e in shipped if e.kind == "fomc" and e.date == D(day)]
    assert e.instant_utc == utc(*map(int, day.split("-")), utc_hour, 0)
    assert e.instant_utc.tzinfo is UTC


def test_date_only_event_is_the_start_of_its_local_day():
    boj = Event(date=D("2026-01-23"), timezone="Asia/Tokyo", kind="boj", label="BOJ", sources=("x",))
    assert boj.instant_utc == utc(2026, 1, 22, 15, 0)                 # 00:00 JST
    assert boj.end_utc == utc(2026, 1, 23, 15, 0)
    auction = Event(date=D("2026-01-06"), time=dt.time(12, 35), timezone="Asia/Tokyo", kind="jgb_auction",
                    label="10Y", sources=("x",), tenor="10Y")
    assert auction.instant_utc == utc(2026, 1, 6, 3, 35) == auction.end_utc


def _ev(day, kind="other", time=None, tz="America/New_York", label=None):
    return Event(date=D(day), timezone=tz, kind=kind, label=label or f"{kind} {day}", sources=("s",),
                 time=dt.time.fromisoformat(time) if time else None)


def test_next_events_upcoming_sorted_within_the_horizon():
    events = [_ev("2026-03-20", "fomc", "14:00"), _ev("2026-03-02", "cpi", "08:30"),
              _ev("2026-02-27", "payrolls", "08:30"), _ev("2026-03-01", "boj", tz="Asia/Tokyo")]
    now = utc(2026, 2, 28, 12, 0)
    got = next_events(events, now)
    assert [e.kind for e in got] == ["boj", "cpi"]                   # payrolls past, FOMC beyond 14 days
    assert [e.kind for e in next_events(events, now, within=dt.timedelta(days=30))] == ["boj", "cpi", "fomc"]
    assert next_events(events, now, within=dt.timedelta(hours=1)) == []
    # A date-only event stays "upcoming" all through its local day; a timed one not after its instant.
    during_boj_day = utc(2026, 3, 1, 3, 0)                            # 12:00 JST on 1 March
    assert [e.kind for e in next_events(events, during_boj_day)] == ["boj", "cpi"]
    assert next_events(events, utc(2026, 3, 2, 13, 30))[0].kind == "cpi"            # at the instant
    assert "cpi" not in [e.kind for e in next_events(events, utc(2026, 3, 2, 13, 31))]
    with pytest.raises(ValueError, match="timezone-aware"):
        next_events(events, dt.datetime(2026, 2, 28, 12, 0))


def test_events_near_looks_both_ways():
    auction = _ev("2026-01-20", "other", tz="Asia/Tokyo", label="JGB 20Y auction")
    fomc = _ev("2026-01-28", "fomc", "14:00")
    events = [fomc, auction]
    # The 30Y move of 2026-01-20, stamped at the Tokyo close: inside the auction's day.
    assert events_near(events, utc(2026, 1, 20, 6, 0)) == [auction]
    assert auction.distance(utc(2026, 1, 20, 6, 0)) == dt.timedelta(0)
    # A day after the auction's day ends (24 h after 2026-01-20T15:00Z) is still near; a minute more is not.
    assert events_near(events, utc(2026, 1, 21, 15, 0)) == [auction]
    assert events_near(events, utc(2026, 1, 21, 15, 1)) == []
    # Before a timed event, and a wider window catches both, in time order.
    assert events_near(events, utc(2026, 1, 27, 20, 0)) == [fomc]
    assert events_near(events, utc(2026, 1, 24, 0, 0), within=dt.timedelta(days=5)) == [auction, fomc]


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "ev.toml"
    p.write_text(text, encoding="utf-8")
    return p


GOOD = '''version = 1
[[event]]
date = "2026-01-20"
time = "12:35"
timezone = "Asia/Tokyo"
kind = "jgb_auction"
tenor = "20Y"
label = "JGB 20Y auction"
source = "MOF"
'''


def test_good_minimal_file_loads(tmp_path):
    (e,) = load_events(_write(tmp_path, GOOD))
    assert e.tenor == "20Y" and e.instant_utc == utc(2026, 1, 20, 3, 35)
    (f,) = load_events(_write(tmp_path, GOOD.replace('date = "2026-01-20"', "date = 2026-01-20")
                              .replace('time = "12:35"', "time = 12:35:00")))
    assert f.instant_utc == e.instant_utc


@pytest.mark.parametrize("old,new,key,value", [
    ('date = "2026-01-20"', 'date = "2026-02-30"', "event[0] (label='JGB 20Y auction').date", "'2026-02-30'"),
    ('date = "2026-01-20"', 'date = "20/01/2026"', ".date", "'20/01/2026'"),
    ('time = "12:35"', 'time = "12:35pm"', ".time", "'12:35pm'"),
    ('time = "12:35"', 'time = "24:00"', ".time", "'24:00'"),
    ('timezone = "Asia/Tokyo"', 'timezone = "Asia/Osaka"', ".timezone", "'Asia/Osaka'"),
    ('timezone = "Asia/Tokyo"', 'timezone = "JST+9"', ".timezone", "'JST+9'"),
    ('kind = "jgb_auction"', 'kind = "ecb"', ".kind", "'ecb'"),
    ('tenor = "20Y"', 'tenor = "twenty"', ".tenor", "'twenty'"),
    ('tenor = "20Y"\n', '', ".tenor", "needs its tenor"),
    ('kind = "jgb_auction"', 'kind = "boj"', ".tenor", "'20Y'"),
    ('label = "JGB 20Y auction"', 'label = ""', ".label", "''"),
    ('source = "MOF"', 'source = []', ".source", "[]"),
    ('source = "MOF"', 'source = "MOF"\nimportance = "high"', ".importance", "unknown key"),
    ('version = 1', 'version = 0', "version", "0"),
    # 02:30 on the US spring-forward day does not exist in New York.
    ('date = "2026-01-20"\ntime = "12:35"\ntimezone = "Asia/Tokyo"',
     'date = "2026-03-08"\ntime = "02:30"\ntimezone = "America/New_York"', ".time", "daylight-saving gap"),
])
def test_bad_entries_name_file_key_and_value(tmp_path, old, new, key, value):
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_events(path)
    msg = str(err.value)
    assert str(path) in msg and key in msg and value in msg, msg


def test_duplicates_and_unreadable_files(tmp_path):
    again = GOOD.replace("version = 1", "")
    dup = r"event\[1\]\.date: duplicate jgb_auction 20Y on 2026-01-20 \(first at event\[0\]\)"
    with pytest.raises(ConfigError, match=dup):
        load_events(_write(tmp_path, GOOD + again))
    # Another tenor the same day is a different auction; two differently named "other" events too.
    assert len(load_events(_write(tmp_path, GOOD + again.replace('"20Y"', '"5Y"')))) == 2
    other = ('[[event]]\ndate = "2026-01-20"\ntimezone = "Asia/Tokyo"\nkind = "other"\nlabel = "{}"\nsource = "me"\n')
    assert len(load_events(_write(tmp_path, GOOD + other.format("A") + other.format("B")))) == 3
    with pytest.raises(ConfigError, match="duplicate other"):
        load_events(_write(tmp_path, GOOD + other.format("A") + other.format("a")))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_events(_write(tmp_path, GOOD + "[[event\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_events(tmp_path / "nope.toml")
