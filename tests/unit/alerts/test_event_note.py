"""Alert text names the calendar event a move sits next to ("1 day after the JGB 20Y auction"),
of the alert's own market only, from the shipped events.toml and from a hand-made calendar."""
from __future__ import annotations

import datetime as dt

import pytest

from alerts.text import event_note
from data.events import Event, load_events

UTC = dt.timezone.utc
CAL = load_events()


@pytest.mark.parametrize("ts, market, want", [
    # JGB close (15:00 Tokyo) on the day of the 20Y auction, the next day, two days on.
    (dt.datetime(2026, 1, 20, 6, tzinfo=UTC), "JP", "on the day of the JGB 20Y auction (No. 195)"),
    (dt.datetime(2026, 1, 21, 6, tzinfo=UTC), "JP", "1 day after the JGB 20Y auction (No. 195)"),
    (dt.datetime(2026, 1, 22, 6, tzinfo=UTC), "JP", "1 day before the BOJ policy decision (MPM 22–23 Jan, Outlook Report)"),
    # A JGB auction is not a US Treasury event; the FOMC statement (14:00 New York) is.
    (dt.datetime(2026, 1, 20, 21, tzinfo=UTC), "US", ""),
    (dt.datetime(2026, 1, 28, 21, tzinfo=UTC), "US", "2 h after the FOMC statement (27–28 Jan)"),
    (dt.datetime(2026, 1, 28, 6, tzinfo=UTC), "US", "13 h before the FOMC statement (27–28 Jan)"),
    (dt.datetime(2026, 3, 2, 6, tzinfo=UTC), "JP", ""),
    (None, "JP", ""),
])
def test_event_note_on_the_shipped_calendar(ts, market, want):
    assert event_note(ts, CAL, market) == want


def test_the_nearest_event_wins_and_cross_market_sees_both_sides():
    ts = dt.datetime(2026, 1, 28, 7, tzinfo=UTC)     # 40Y auction day in Tokyo; FOMC that evening in NY
    assert event_note(ts, CAL, "JP") == "on the day of the JGB 40Y auction"
    assert event_note(ts, CAL, "cross") == "on the day of the JGB 40Y auction"
    assert event_note(ts, CAL, "US").endswith("before the FOMC statement (27–28 Jan)")


def test_the_service_writes_the_note_into_the_alert_text(tmp_path):
    from alerts.rules import load_rules
    from alerts.service import AlertService
    from analytics.types import MoveStat
    from data.frame import daily_close_ts, make_frame
    from data.store import Store
    from universe import load_universe

    universe = load_universe()
    store = Store(f"sqlite:///{tmp_path / 'n.db'}")
    store.create_schema()
    s = universe.get("jgb_30y")
    store.upsert(make_frame("jgb_30y", "D", daily_close_ts(["2026-03-09", "2026-03-10"], s.timezone, s.close),
                            [3.4, 3.6]), source="mof", known_at=dt.datetime(2026, 3, 11, tzinfo=UTC))
    ts = dt.datetime(2026, 3, 10, 6, tzinfo=UTC)
    stat = MoveStat(series_id="jgb_30y", ts=ts, kind="daily", horizon=1, move=20.0, unit="bp",
                    sigma={"w60": 2.5}, z={"w60": 8.0}, window_end=ts - dt.timedelta(days=1),
                    rarity_share=0.0003, return_period_years=13.0, normal_equiv_sigma=3.6, n_history=6000,
                    source="mof")
    auction = Event(date=dt.date(2026, 3, 10), timezone="Asia/Tokyo", kind="jgb_auction", label="JGB 30Y auction",
                    sources=("test",), time=dt.time(12, 35), tenor="30Y")
    fomc = Event(date=dt.date(2026, 3, 10), timezone="America/New_York", kind="fomc", label="FOMC statement",
                 sources=("test",), time=dt.time(14, 0))
    rules = load_rules(universe=universe)     # the 12:35 Tokyo auction is 2 h before the close; the FOMC is US
    events = AlertService(store, rules, [], universe, calendar=[auction, fomc]).run([stat], {}, {}, ts)
    firing = [e for e in events if e.kind == "firing" and e.subject == "jgb_30y"]
    assert firing and all(e.text.endswith(" · 2 h after the JGB 30Y auction") for e in firing)
    state = next(st for st in AlertService(store, rules, [], universe, calendar=[]).alerts.load_states().values()
                 if st.subject == "jgb_30y" and st.alert_id == firing[0].alert_id)
    assert state.text.endswith(" · 2 h after the JGB 30Y auction") and state.text.count("auction") == 1
    # Without a calendar the same move carries no note.
    store2 = Store(f"sqlite:///{tmp_path / 'm.db'}")
    store2.create_schema()
    plain = AlertService(store2, rules, [], universe, calendar=[]).run([stat], {}, {}, ts)
    assert [e.text + " · 2 h after the JGB 30Y auction" for e in plain if e.kind == "firing"] == \
        [e.text for e in firing]
    store.dispose()
    store2.dispose()
