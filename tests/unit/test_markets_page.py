"""The Markets page's recent-closes chart on a store filled from the publishers' real files as
they stood on 2026-01-21 06:00 UTC: the headline series on one UTC axis, the calendar's events at
their UTC instants, the event-kind filter in the URL, and refreshes that send only what changed."""
from __future__ import annotations

import pandas as pd
import pytest
from dash import no_update

from universe import load_universe
from tests.webapp import app_on_closes
from tests.layout import find

UNIVERSE = load_universe()
CUT = pd.Timestamp("2026-01-21 06:00", tz="UTC")


@pytest.fixture(scope="module")
def web(market_dir, tmp_path_factory):
    with app_on_closes(market_dir, tmp_path_factory.mktemp("markets") / "m.db", CUT, since="2025-01-01") as web_:
        yield web_


def _lines(fig) -> dict[str, pd.Timestamp]:
    return {s.name[len("event:"):]: pd.Timestamp(s.x0) for s in fig.layout.shapes if (s.name or "").startswith("event:")}


def test_recent_closes_are_the_stored_closes_at_their_utc_instants(web):
    from views.markets import CHART_SERIES, recent_closes

    _app, service, hist = web
    data, tag = recent_closes(service.current())
    assert [d.id for d in data] == list(CHART_SERIES)
    end = max(d.x[-1] for d in data)
    for d in data:
        stored = hist[hist["series_id"] == d.id].sort_values("ts")
        stored = stored[stored["ts"] >= (end - pd.Timedelta(days=92)).tz_localize("UTC")]
        assert list(d.x) == list(pd.DatetimeIndex(stored["ts"]).tz_convert("UTC").tz_localize(None))
        assert list(d.y) == pytest.approx(list(stored["value"]))
    jgb = data[0]
    assert jgb.x[-1] == pd.Timestamp("2026-01-20 06:00")          # 15:00 Tokyo, in UTC
    assert recent_closes(service.current())[1] == tag                # content tag: the same on a rebuild


def test_chart_marks_events_at_their_utc_instant(web):
    from callbacks.markets import tick_chart

    _app, service, _hist = web
    snap = service.current()

    def markets_chart(n, kinds, tag):
        return tick_chart(service.current, n, kinds, tag)

    fig, tag = markets_chart(1, None, None)
    assert len(fig.data) == 4 and fig.layout.xaxis.matches == "x4"     # one time axis for every panel
    lo, hi = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    want = {f"{e.kind}:{e.date.isoformat()}": pd.Timestamp(e.instant_utc).tz_localize(None) for e in snap.events
            if lo <= pd.Timestamp(e.instant_utc).tz_localize(None) <= hi}
    assert want and _lines(fig) == want
    # The 20Y auction day (Tokyo) starts 2026-01-19 15:00 UTC; the FOMC-less January has CPI at
    # 08:30 New York = 13:30 UTC.
    assert _lines(fig)["jgb_auction:2026-01-20"] == pd.Timestamp("2026-01-19 15:00")
    assert _lines(fig)["cpi:2026-01-13"] == pd.Timestamp("2026-01-13 13:30")
    labels = [a for a in fig.layout.annotations if (a.name or "").startswith("event:")]
    assert sum(a.hovertext.count("source: ") for a in labels) == len(want) >= len(labels)
    assert "UTC" in fig.layout.title.text
    # Nothing changed: nothing sent; the filter changes: the chart is sent with its kinds only.
    assert markets_chart(2, None, tag) == (no_update, no_update)
    only, tag2 = markets_chart(3, ["cpi"], tag)
    assert set(_lines(only)) == {k for k in want if k.startswith("cpi:")} != set() and tag2 != tag
    none, _tag = markets_chart(4, [], tag2)
    assert _lines(none) == {} and len(none.data) == 4
    # Hand-made values: no update, never an error.
    assert markets_chart(5, ["coup"], tag) == (no_update, no_update)
    assert markets_chart(5, "boj", tag) == (no_update, no_update)
    assert markets_chart(-1, None, tag) == (no_update, no_update)


def test_event_filter_lives_in_the_url(web):
    from callbacks.markets import url_search
    from components import markets as mk
    from components.figures import EVENT_KINDS
    import dash

    layout = dash.page_registry["markets"]["layout"]      # the registered page, on this app's provider

    assert url_search(list(EVENT_KINDS)) == "" and url_search(None) == ""
    assert url_search(["fomc", "boj"]) == "?events=boj,fomc"
    assert url_search([]) == "?events=none"
    assert url_search(["coup"]) is no_update
    page = layout(events="boj,fomc")
    assert find(page, mk.MK_EVENTS).value == ["boj", "fomc"] and find(page, mk.MK_NOTICE).children is None
    assert find(layout(events="none"), mk.MK_EVENTS).value == []
    bad = layout(events="fomc,coup", colour="red")
    notice = str(find(bad, mk.MK_NOTICE).children)
    assert "events='fomc,coup'" in notice and "'colour'" in notice
    assert find(bad, mk.MK_EVENTS).value == list(EVENT_KINDS)
    client = web[0].server.test_client()
    for path in ("/markets", "/markets?events=boj", "/markets?events=%ZZ,,"):
        assert client.get(path).status_code == 200
    cfg = find(layout(), mk.MK_CHART).config
    assert cfg["displaylogo"] is False and cfg["toImageButtonOptions"]["format"] == "png"


def test_empty_snapshot_gives_an_empty_chart():
    from components.markets import recent_figure
    from views.markets import recent_closes

    class Empty:
        moves = None
        events = ()

    data, tag = recent_closes(Empty())
    assert data == () and tag == "none"
    assert "No daily closes" in recent_figure(data).layout.annotations[0].text


def test_the_page_arrives_drawn_and_its_first_ticks_send_nothing(web):
    import dash
    from dash import no_update

    from callbacks.markets import tick_chart, tick_table
    from components import ids
    from components import markets as mk

    dash_app, service, _hist = web
    page = dash.page_registry["markets"]["layout"](events="boj,fomc")
    assert find(page, "row-jgb_30y") is not None                      # the table is in the page itself
    assert tick_table(service.current, 1, find(page, ids.MARKETS_TAG).data) == (no_update, no_update)
    kinds = find(page, mk.MK_EVENTS).value
    assert tick_chart(service.current, 1, kinds, find(page, mk.MK_CHART_TAG).data) == (no_update, no_update)
    assert len(find(page, mk.MK_CHART).figure.data) == 4
    # …and the first /_dash-layout response carries it (app.first_view), with the shell.
    r = dash_app.server.test_client().get("/_dash-layout", headers={"Referer": "http://localhost/markets"})
    assert r.status_code == 200 and b"row-jgb_30y" in r.data
