"""Incidents and the event calendar in a real browser, on a replay of the real files across
2026-01-20: the wall shows one JGB incident (headline, members) and the next events with their
countdowns; the Overview pinned to that day has the critical-incident banner and the strip; the
series page marks the calendar's events on its history chart. Screenshots go to docs/screenshots."""
from __future__ import annotations

import pytest

from tests.e2e.test_wall import check_layout
from tests.integration.proc import OFFLINE, ROOT, AppProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = ROOT / "docs" / "screenshots"


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
        assert auction and auction[0][0] == "auction" and str(auction[0][2]).startswith("2026-01-20")
        assert page.locator("#se-history .annotation-text", has_text="auction").count() >= 1   # drawn
        page.screenshot(path=str(SHOTS / "events-series.png"))
        assert page.console_errors == []
    finally:
        app.stop()
