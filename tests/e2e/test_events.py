"""Incidents and the event calendar in a real browser, on a replay of the real files across
2026-01-20: the wall shows one JGB incident (headline, members) and the next events with their
countdowns; the Overview pinned to that day has the critical-incident banner and the strip; the
series page, the Markets chart and the Contagion charts mark the calendar's events (Markets at
their UTC instant, Contagion on their local date), filtered by `?events=`. Screenshots go to
docs/screenshots."""
from __future__ import annotations

import time

import pytest

from tests.e2e.test_wall import check_layout
from tests.integration.proc import OFFLINE, ROOT, AppProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = ROOT / "docs" / "screenshots"

LINES_JS = """(sel) => { const el = document.querySelector(sel + ' .js-plotly-plot');
    if (!el || !el._fullLayout) { return null; }
    return (el._fullLayout.shapes || []).filter(s => (s.name || '').startsWith('event:'))
           .map(s => [s.name.slice(6), String(s.x0)]); }"""
LABELS_JS = """(sel) => { const el = document.querySelector(sel + ' .js-plotly-plot');
    return (el._fullLayout.annotations || []).filter(a => (a.name || '').startsWith('event:'))
           .map(a => [a.text, a.hovertext]); }"""


def _lines(page, sel: str, want=bool, timeout_ms: int = 30000) -> dict[str, str]:
    """{"kind:date": x} of the event lines drawn on a chart, once `want(lines)` holds (by default:
    some lines) or the time is up — a callback may still be on its way."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        got = page.evaluate(LINES_JS, sel)
        if got is not None and (want(dict(got)) or time.monotonic() > deadline):
            return {k: x.replace("T", " ") for k, x in got}
        if time.monotonic() > deadline:
            raise AssertionError(f"no chart at {sel}")
        page.wait_for_timeout(250)


def check_markets_and_contagion(app, page):
    # Markets: the headline closes on one UTC axis; the 20Y auction's Tokyo day starts 15:00 UTC
    # the day before, CPI at 08:30 New York = 13:30 UTC.
    page.goto(app.base + "/markets")
    lines = _lines(page, "#mk-chart")
    assert lines["jgb_auction:2026-01-20"].startswith("2026-01-19 15:00")
    assert lines["cpi:2026-01-13"].startswith("2026-01-13 13:30")
    labels = page.evaluate(LABELS_JS, "#mk-chart")
    assert any("JGB 20Y auction (No. 195)" in h for _t, h in labels)
    assert sum(h.count("source: ") for _t, h in labels) == len(lines) >= len(labels)   # merged, one line each
    assert page.locator("#mk-chart .annotation-text").count() >= len(labels)           # drawn
    page.locator("#mk-chart-card").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "events-markets.png"))
    # The filter from a link: auctions only; unticking them empties the chart and the URL says so.
    page.goto(app.base + "/markets?events=jgb_auction")
    only = _lines(page, "#mk-chart")
    assert only and {k.split(":")[0] for k in only} == {"jgb_auction"}
    assert page.locator("#mk-events input:checked").count() == 1
    page.locator("#mk-events label", has_text="auction").click()
    assert _lines(page, "#mk-chart", want=lambda g: not g) == {}
    page.wait_for_function("() => window.location.search.indexOf('events=none') >= 0", timeout=10000)
    # A bad value: every kind, and a notice naming it.
    page.goto(app.base + "/markets?events=boj,coup")
    page.wait_for_selector("#cm-url-notice", timeout=10000)
    assert "events='boj,coup'" in page.locator("#cm-url-notice").inner_text()
    assert set(_lines(page, "#mk-chart")) == set(lines)

    # Contagion: daily frames indexed by local trading date — the auction on the 2026-01-20 point.
    page.goto(app.base + "/contagion")
    for sel in ("#cg-rolling", "#cg-beta", "#cg-spill-total", "#cg-hedged"):
        got = _lines(page, sel, timeout_ms=60000)
        assert got["jgb_auction:2026-01-20"] in ("2026-01-20", "2026-01-20 00:00:00"), (sel, got)
    for sel in ("#cg-heatmap", "#cg-spill-net"):
        assert page.evaluate(LINES_JS, sel) == []
    page.locator("#cg-rolling").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "events-contagion.png"))
    page.goto(app.base + "/contagion?events=cpi&pair=30Y")
    got = _lines(page, "#cg-hedged", want=lambda g: g and {k.split(":")[0] for k in g} == {"cpi"})
    assert got and {k.split(":")[0] for k in got} == {"cpi"}
    assert {k.split(":")[0] for k in _lines(page, "#cg-rolling")} == {"cpi"}
    assert "events=cpi" in page.evaluate("() => window.location.search")


def test_incident_banner_and_event_calendar_on_the_wall_overview_and_series(market_dir, tmp_path, page):
    app = AppProcess(["--replay", str(market_dir), "--start", "2026-01-14", "--speed", "8000"],
                     data_dir=tmp_path, env={**OFFLINE, "CM_REFRESH_MS": "1000"})
    try:
        app.wait_until(lambda: app.get("/healthz")[0] in (200, 503), what="server up")
        page.goto(app.base + "/wall")
        page.wait_for_selector("#cm-wall-critical", timeout=240000)
        banner = page.locator("#cm-wall-critical").inner_text()
        assert "JGB 30Y +20.3 bp, 7.6σ" in banner                 # the move the desk quotes
        assert page.locator("#cm-wall-critical .cm-crit-members").inner_text().rstrip().endswith("alerts")
        assert page.locator("#cm-wall-critical").count() == 1     # one incident, one block
        events = page.locator("#cm-wall-events").inner_text()
        assert "Next:" in events and " in " in events
        check_layout(page, (3840, 2160))
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "events-wall-4k.png"))
        check_layout(page, (1920, 1080))
        page.screenshot(path=str(SHOTS / "events-wall-1080p.png"))
        # The API lists the same incident.
        incs = app.json("/api/incidents?market=JP&state=open")["incidents"]
        assert [i["headline"] for i in incs if i["tier"] == "critical"] == ["JGB 30Y +20.3 bp, 7.6σ"]

        page.set_viewport_size({"width": 1600, "height": 1000})
        page.goto(app.base + "/?asof=2026-01-20")
        page.wait_for_selector("#ov-incident-banner", timeout=30000)
        assert "CRITICAL · JGB: JGB 30Y +20.3 bp, 7.6σ" in page.locator("#ov-incident-banner").inner_text()
        strip = page.locator("#ov-events-strip").inner_text()
        assert "BOJ policy decision (MPM 22–23 Jan" in strip and "in 2 d" in strip   # from the pinned day
        page.screenshot(path=str(SHOTS / "events-overview.png"))

        page.goto(app.base + "/series/jgb_30y?asof=2026-01-20")
        page.wait_for_selector("#se-history .js-plotly-plot .main-svg", timeout=30000)
        marks = page.evaluate("""() => { const el = document.querySelector('#se-history .js-plotly-plot');
            return (el._fullLayout.annotations || []).filter(a => (a.name || '').startsWith('event:'))
                   .map(a => [a.text, a.hovertext, a.x]); }""")
        auction = [m for m in marks if "JGB 20Y auction (No. 195)" in m[1]]
        # The BOJ decision three days later shares the auction's label at this scale (1 year).
        assert auction and auction[0][0] == "auction+1" and str(auction[0][2]).startswith("2026-01-20")
        assert "BOJ policy decision (MPM 22–23 Jan" in auction[0][1]
        assert _lines(page, "#se-history")["jgb_auction:2026-01-20"].startswith("2026-01-20")
        assert page.locator("#se-history .annotation-text", has_text="auction").count() >= 1   # drawn
        page.screenshot(path=str(SHOTS / "events-series.png"))
        check_markets_and_contagion(app, page)
        check_yen_watch(app, page)
        assert page.console_errors == []
    finally:
        app.stop()


def check_yen_watch(app, page) -> None:
    """The Yen watch from the menu: the level, every recorded intervention with its level, the
    chart with the yen-buying levels, and the note on what no feed shows."""
    from data.interventions import load_interventions

    page.goto(app.base + "/")
    page.click("text=Yen watch")
    page.wait_for_selector("#yen-chart .js-plotly-plot .main-svg", timeout=30000)
    assert page.url.endswith("/yen")
    assert "Verbal warnings" in page.locator("#yen-verbal").inner_text()
    assert page.locator("#yen-past tbody tr").count() == len(load_interventions())
    assert "2022-10-21" in page.locator("#yen-past").inner_text()
    levels = page.evaluate("""() => { const el = document.querySelector('#yen-chart .js-plotly-plot');
        return (el._fullLayout.shapes || []).filter(s => (s.name || '').startsWith('level:')).length; }""")
    assert levels == sum(1 for iv in load_interventions() if iv.yen_buying)
    page.screenshot(path=str(SHOTS / "yen.png"), full_page=True)
