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
    from callbacks.overview import tick_extras
    from views.snapshot import SnapshotService
    from data.store import Store
    from tests.unit.web.helpers import UNIVERSE, seed

    store = Store(f"sqlite:///{tmp_path / 'ov.db'}")
    store.create_schema()
    seed(store)                                  # the 2026-01-20 JGB 30Y critical alert
    provider = SnapshotService(store, UNIVERSE, check_every=0).current
    overview_extras = lambda n, tag, asof: tick_extras(provider, n, tag, asof)   # noqa: E731
    try:
        banner, strip, tag = overview_extras(1, None, "2026-01-20")
        assert "CRITICAL · JGB: JGB 30Y +20.3 bp, 7.6σ" in text(banner) and "1 alert" in text(banner)
        assert "BOJ policy decision (MPM 22–23 Jan" in text(strip) and "in 2 d" in text(strip)
        assert overview_extras(2, tag, "2026-01-20") == (no_update,) * 3
        banner, strip, _tag = overview_extras(1, None, "2026-01-19")     # 24:00 New York on 01-19: no incident yet
        assert banner is None and "JGB 20Y auction (No. 195) today" in text(strip)   # the cut: 14:00 Tokyo, 01-20
    finally:
        store.dispose()


# ------------------------------------------------------------------ markers on the charts
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402

from components.figures import EVENT_KINDS, add_event_markers, event_marks, event_tag, event_x  # noqa: E402
from data.events import KINDS  # noqa: E402


def test_the_filters_list_every_kind_of_the_calendar():
    assert set(EVENT_KINDS) == KINDS and len(EVENT_KINDS) == len(KINDS)


def test_event_x_follows_the_axis_convention():
    auction = _ev(dt.date(2026, 1, 20), "jgb_auction", label="JGB 20Y auction")      # date-only, Tokyo
    fomc = _ev(dt.date(2026, 1, 28), "fomc", dt.time(14), "America/New_York", "FOMC statement")
    # An instant axis in UTC: the start of the Tokyo day is 15:00 UTC the day before.
    assert event_x(auction, "UTC") == pd.Timestamp("2026-01-19 15:00")
    assert event_x(fomc, "UTC") == pd.Timestamp("2026-01-28 19:00")
    assert event_x(fomc, "Asia/Tokyo") == pd.Timestamp("2026-01-29 04:00")
    # A daily axis of local trading dates: each event on its own local date.
    assert event_x(auction, axis="date") == pd.Timestamp("2026-01-20")
    assert event_x(fomc, axis="date") == pd.Timestamp("2026-01-28")
    with pytest.raises(ValueError):
        event_x(fomc, axis="weekly")


def _day(d, kind="jgb_auction", label=None):
    return _ev(dt.date(2026, 1, 1) + dt.timedelta(days=d), kind, label=label or f"{kind} on day {d}")


def test_events_closer_than_the_merge_share_of_the_range_share_one_label():
    # 100-day axis, merge 3 % = 3 days: days 10, 11, 12 cluster; 20 is alone; 40 and 42.5 cluster.
    evs = [_day(11, label="second"), _day(10, "boj", "first"), _day(12, "cpi", "third"), _day(20, "fomc"),
           _day(40), _day(42)]
    start, end = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-04-11")
    marks = event_marks(evs, start, end, axis="date", merge=0.03)
    assert [m.text for m in marks] == ["BOJ+2", "FOMC", "auction+1"]
    first = marks[0]
    assert first.x == pd.Timestamp("2026-01-11") and len(first.xs) == 3                 # label on the first line
    assert first.xs == (pd.Timestamp("2026-01-11"), pd.Timestamp("2026-01-12"), pd.Timestamp("2026-01-13"))
    assert first.hover.index("first") < first.hover.index("second") < first.hover.index("third")
    assert first.hover.count("source: ") == 3
    # Labels never closer than the merge distance, even when events chain (every day for 20 days).
    chain = [_day(d) for d in range(50, 70)]
    xs = [m.x for m in event_marks(chain, start, end, axis="date", merge=0.03)]
    assert len(xs) == 7 and all(b - a >= pd.Timedelta(days=3) for a, b in zip(xs, xs[1:]))
    # Zoomed in (a 20-day axis), the same three days are three labels.
    assert [m.text for m in event_marks(evs, pd.Timestamp("2026-01-05"), pd.Timestamp("2026-01-25"),
                                        axis="date", merge=0.03)] == ["BOJ", "auction", "CPI", "FOMC"]


def test_kinds_and_range_filter_the_marks():
    evs = [_day(10, "boj"), _day(11), _day(60, "fomc")]
    start, end = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-20")
    assert [m.text for m in event_marks(evs, start, end, kinds={"jgb_auction"}, axis="date")] == ["auction"]
    assert event_marks(evs, start, end, kinds=frozenset(), axis="date") == []
    assert sum(len(m.events) for m in event_marks(evs, start, end, axis="date")) == 2     # day 60 is outside
    # Aware bounds are read in the chart's zone: 2026-01-11 15:00 UTC is 00:00 on the 12th in Tokyo.
    tokyo = event_marks(evs, pd.Timestamp("2026-01-11 15:00", tz="UTC"), pd.Timestamp("2026-03-30", tz="UTC"),
                        "Asia/Tokyo")
    assert [e.label for m in tokyo for e in m.events] == ["jgb_auction on day 11", "fomc on day 60"]


def test_add_event_markers_draws_one_line_per_event_and_keeps_the_figure():
    fig = go.Figure(go.Scatter(x=[pd.Timestamp("2026-01-01"), pd.Timestamp("2026-04-11")], y=[0, 1]))
    fig.add_shape(type="rect", x0=0, x1=1, y0=0, y1=1, name="mine")
    fig.add_annotation(text="note", x=0, y=0, name="mine")
    evs = [_day(10, "boj"), _day(11), _day(12, "cpi"), _day(30, "fomc")]
    add_event_markers(fig, evs, "2026-01-01", "2026-04-11", axis="date", xref="x2")
    lines = [s for s in fig.layout.shapes if (s.name or "").startswith("event:")]
    labels = [a for a in fig.layout.annotations if (a.name or "").startswith("event:")]
    assert [s.name for s in lines] == ["event:boj:2026-01-11", "event:jgb_auction:2026-01-12",
                                       "event:cpi:2026-01-13", "event:fomc:2026-01-31"]
    assert all(s.line.dash == "dot" and s.yref == "paper" and s.xref == "x2" and s.x0 == s.x1 for s in lines)
    assert [pd.Timestamp(s.x0) for s in lines] == [pd.Timestamp(e.date) for e in evs]
    assert [(a.text, a.name) for a in labels] == [("BOJ+2", "event:boj+2"), ("FOMC", "event:fomc")]
    assert "mine" in [s.name for s in fig.layout.shapes] and "note" in [a.text for a in fig.layout.annotations]


def test_event_tag_is_content_only():
    cal = (_day(10, "boj"), _day(11))
    assert event_tag(cal) == event_tag(tuple(cal)) != event_tag(cal, frozenset({"boj"}))
    assert event_tag(cal, frozenset()).startswith("none:") and event_tag(cal).startswith("all:")
    assert event_tag(cal) != event_tag(cal + (_day(12),))
    assert event_tag(cal, {"fomc", "boj"}) == event_tag(cal, ["boj", "fomc"])       # order-free


def test_alerts_page_lists_an_incidents_members_in_the_walls_order():
    """/alerts, the wall and the Overview agree: the lead first, then 1-day moves before 2-day,
    then tier, rarity, |z| — not the stored (tier, id) order."""
    from components.alerts import incident_card
    from components.events import member_line, ordered_members

    def m(aid, short, horizon, tier, rp, z):
        return {"alert_id": aid, "short": short, "label": short, "horizon": horizon, "tier": tier,
                "return_period_years": rp, "z": z, "state": "firing", "series_id": "jgb_30y", "text": short}

    inc = {"lead_alert_id": "c", "count": 4, "tier": "critical", "state": "open", "headline": "JGB 30Y +20.3 bp",
           "members": [m("a", "JGB 30Y +30.3 bp over 2d", 2, "critical", 20.0, 8.0),     # stored order: tier, id
                       m("b", "JGB 40Y +18.0 bp", 1, "critical", 5.0, 6.5),
                       m("c", "JGB 30Y +20.3 bp", 1, "critical", 13.0, 7.6),
                       m("d", "JGB 20Y +15.1 bp", 1, "warning", 3.0, 6.2)]}
    order = [x["alert_id"] for x in ordered_members(inc)]
    assert order == ["c", "b", "d", "a"]
    assert member_line(inc) == "+ JGB 40Y +18.0 bp · JGB 20Y +15.1 bp · JGB 30Y +30.3 bp over 2d · 4 alerts"
    rows = incident_card(inc).children[1].children[1].children
    assert [str(r).count("JGB") and next(s for s in ("30Y +20", "40Y", "20Y", "over 2d") if s in str(r))
            for r in rows] == ["30Y +20", "40Y", "20Y", "over 2d"]
