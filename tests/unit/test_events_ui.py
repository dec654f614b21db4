"""The next-events strip and the incident banner: countdowns against the snapshot's clock (a
pinned view counts from its day, not from today), open incidents worst first, members in one line."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from dash import no_update

from components.events import countdown, events_strip, incident_banner, member_line, top_incidents
from data.events import Event, load_events
from tests.layout import text as _json


def text(component) -> str:
    return _flat(json.loads(_json(component)))


def _flat(node) -> str:
    """The visible text of a serialised layout, in order."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(_flat(n) for n in node)
    if isinstance(node, dict):
        return _flat(node.get("props", {}).get("children", "")) if "props" in node else ""
    return "" if node is None else str(node)

UTC = dt.timezone.utc
CAL = load_events()


def _ev(day, kind="boj", time=None, tz="Asia/Tokyo", label="BOJ policy decision"):
    return Event(date=day, timezone=tz, kind=kind, label=label, sources=("a public page — https://example.org",),
                 time=time)


@pytest.mark.parametrize("event, now, want", [
    (_ev(dt.date(2026, 1, 23)), dt.datetime(2026, 1, 21, 5, tzinfo=UTC), "in 2 d"),      # 01-22 15:00Z start
    (_ev(dt.date(2026, 1, 23)), dt.datetime(2026, 1, 23, 1, tzinfo=UTC), "today"),       # 10:00 Tokyo that day
    (_ev(dt.date(2026, 1, 28), "fomc", dt.time(14), "America/New_York"), dt.datetime(2026, 1, 28, 14, tzinfo=UTC),
     "in 5 h"),
    (_ev(dt.date(2026, 1, 28), "fomc", dt.time(14), "America/New_York"), dt.datetime(2026, 1, 28, 18, 20, tzinfo=UTC),
     "in 40 min"),
    (_ev(dt.date(2026, 1, 28), "fomc", dt.time(14), "America/New_York"), dt.datetime(2026, 1, 28, 19, tzinfo=UTC),
     "now"),
])
def test_countdown(event, now, want):
    assert countdown(event, now) == want


def test_strip_lists_the_next_events_of_the_shipped_calendar_from_its_clock():
    now = dt.datetime(2026, 1, 21, 5, tzinfo=UTC)            # the day after the JGB 30Y +20.3 bp
    strip = text(events_strip(CAL, now))
    assert strip.index("BOJ policy decision (MPM 22–23 Jan") < strip.index("FOMC statement (27–28 Jan)")
    assert "in 2 d" in strip and "JGB 20Y auction" not in strip     # past events are gone
    titles = [c.title for c in events_strip(CAL, now).children[1:]]
    assert all("source: " in t for t in titles)
    assert "No scheduled event" in text(events_strip(CAL, dt.datetime(2030, 1, 1, tzinfo=UTC)))


def _inc(i, tier, state="open", updated="2026-01-20T06:00:00Z", members=3):
    ms = [{"alert_id": f"a{i}-{k}", "short": f"JGB {k + 10}Y +{k}.0 bp, {k}.0σ", "tier": tier} for k in range(members)]
    return {"id": f"JP:{i}", "market": "JP", "market_label": "JGB", "state": state, "tier": tier,
            "headline": f"headline {i}", "lead_alert_id": f"a{i}-0", "count": members, "members": ms,
            "updated_at": updated}


def test_top_incidents_open_only_worst_tier_first_then_newest():
    incs = [_inc(1, "watch"), _inc(2, "critical", updated="2026-01-19T06:00:00Z"), _inc(3, "critical"),
            _inc(4, "critical", state="resolved"), _inc(5, "warning")]
    assert [i["id"] for i in top_incidents(incs)] == ["JP:3", "JP:2", "JP:5"]
    assert member_line(_inc(6, "critical", members=7)) == \
        "+ JGB 11Y +1.0 bp, 1.0σ · JGB 12Y +2.0 bp, 2.0σ · JGB 13Y +3.0 bp, 3.0σ · JGB 14Y +4.0 bp, 4.0σ" \
        " · +2 more · 7 alerts"
    assert member_line(_inc(7, "watch", members=1)) == "1 alert"
    assert incident_banner([_inc(1, "warning")]) is None
    banner = text(incident_banner(incs))
    assert "CRITICAL · JGB: headline 3" in banner and "headline 2" in banner and "headline 1" not in banner


def test_overview_shows_the_critical_incident_and_the_strip_pinned_to_its_day(tmp_path):
    import app as app_module
    from callbacks.overview import overview_extras
    from config import Settings
    from data.snapshot import SnapshotService
    from data.store import Store
    from tests.unit.web.helpers import UNIVERSE, seed
    from web import state

    store = Store(f"sqlite:///{tmp_path / 'ov.db'}")
    store.create_schema()
    seed(store)                                  # the 2026-01-20 JGB 30Y critical alert
    old = state._service
    try:
        app_module.create_app(Settings(), SnapshotService(store, UNIVERSE, check_every=0))
        banner, strip, tag = overview_extras(1, None, "2026-01-20")
        assert "CRITICAL · JGB: JGB 30Y +20.3 bp, 7.6σ" in text(banner) and "1 alert" in text(banner)
        assert "BOJ policy decision (MPM 22–23 Jan" in text(strip) and "in 2 d" in text(strip)
        assert overview_extras(2, tag, "2026-01-20") == (no_update,) * 3
        banner, strip, _tag = overview_extras(1, None, "2026-01-19")     # 24:00 New York on 01-19: no incident yet
        assert banner is None and "JGB 20Y auction (No. 195) today" in text(strip)   # the cut: 14:00 Tokyo, 01-20
    finally:
        state._service = old
        store.dispose()
