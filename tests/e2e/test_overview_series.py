"""Overview and Series pages in a real browser: tiles, curves and the alert feed render without
console errors; a Series link restores its controls; changing a control rewrites the URL without
a reload, and opening that URL in a new page reproduces the view (controls, figure ranges)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest

from tests.integration.proc import OFFLINE, AppProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    app = AppProcess(["--demo"], data_dir=tmp_path_factory.mktemp("e2e-ov-demo"),
                     env={**OFFLINE, "CM_REFRESH_MS": "1000"})
    app.wait_until(lambda: app.json("/api/series")["series"][0]["value"] is not None, what="demo data")
    app.wait_until(lambda: app.json("/api/alerts")["events"], timeout=90, what="demo alerts")
    yield app
    app.stop()


def _graph_state(page, gid: str) -> dict:
    """What a dcc.Graph shows: title, x range, trace names and shape positions."""
    return page.evaluate(
        """(gid) => { const el = document.querySelector('#' + gid + ' .js-plotly-plot');
                      const l = el._fullLayout;
                      return {title: l.title.text, xrange: l.xaxis.range, n: el.data.length,
                              names: el.data.map(t => t.name),
                              shapes: (l.shapes || []).map(s => [s.name, s.x0])}; }""", gid)


def _query(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query))


def _wait_plot(page, gid: str, timeout: int = 20000) -> None:
    page.wait_for_selector(f"#{gid} .js-plotly-plot .main-svg", timeout=timeout)


def test_overview_renders_tiles_curves_and_feed(demo_app, page):
    page.goto(demo_app.base + "/")
    page.wait_for_selector("#ov-tile-jgb_30y", timeout=20000)
    tiles = page.locator("[id^='ov-tile-']")
    assert tiles.count() == 10
    jgb = page.locator("#ov-tile-jgb_30y").inner_text()
    assert "JGB 30Y" in jgb and "%" in jgb and "bp" in jgb and "z60" in jgb and "σ" in jgb
    assert "demo" in jgb
    page.wait_for_selector("#ov-tile-jgb_30y .cm-ov-spark .js-plotly-plot .main-svg", timeout=20000)  # sparkline
    assert page.locator("#ov-tile-usdjpy").inner_text().count("%") >= 1        # FX moves in %
    for gid in ("ov-curve-jgb", "ov-curve-ust"):
        _wait_plot(page, gid)
        state = _graph_state(page, gid)
        assert state["n"] == 4 and [n.split()[0] for n in state["names"]] == ["1M", "1W", "1D", "now"]
    page.wait_for_selector(".cm-ov-feed-item", timeout=20000)
    href = page.locator(".cm-ov-feed-item a").first.get_attribute("href")
    assert href.startswith("/alerts?alert=")
    assert "SIMULATED" in page.locator("#cm-banner").inner_text()
    # refresh ticks keep the page alive (no_update / Patch) and raise nothing
    page.wait_for_timeout(2500)
    assert page.locator("[id^='ov-tile-']").count() == 10
    assert page.console_errors == []


def test_tile_opens_its_series_page(demo_app, page):
    page.goto(demo_app.base + "/")
    page.wait_for_selector("#ov-tile-jgb_30y", timeout=20000)
    page.locator("#ov-tile-jgb_30y").click()
    page.wait_for_selector("#se-z", timeout=20000)
    assert page.url.endswith("/series/jgb_30y")
    assert "JGB 30Y" in page.locator("#se-title").inner_text()
    assert page.console_errors == []


def test_series_link_restores_controls_and_a_change_is_shareable(demo_app, page, browser):
    url = demo_app.base + "/series/jgb_30y?window=250&horizon=2&threshold=4"
    page.goto(url)
    page.wait_for_selector("#se-z", timeout=20000)
    _wait_plot(page, "se-history")
    assert page.input_value("#se-window") == "250" and page.input_value("#se-horizon") == "2"
    assert page.input_value("#se-threshold") == "4" and page.input_value("#se-range") == "1y"
    assert "2-day move" in page.locator("#se-stats").inner_text()
    first = _graph_state(page, "se-history")
    assert "±4σ" in first["title"] and "250-day" in first["title"]
    # a good link keeps its parameters (written back in a canonical order)
    assert _query(page.url) == {"window": "250", "horizon": "2", "threshold": "4"}

    # change controls: the URL follows without a reload (a marker on window survives)
    page.evaluate("window.__cm_marker = 42")
    page.select_option("#se-window", "ewma")
    page.wait_for_function("location.search.includes('window=ewma')", timeout=10000)
    page.fill("#se-threshold", "5")
    page.press("#se-threshold", "Enter")
    page.wait_for_function("location.search.includes('threshold=5')", timeout=10000)
    asof = (pd.Timestamp(demo_app.json("/api/series")["series"][0]["as_of"]) - pd.Timedelta(days=40)).date()
    page.fill("#se-asof", asof.isoformat())
    page.press("#se-asof", "Enter")
    page.wait_for_function(f"location.search.includes('asof={asof.isoformat()}')", timeout=10000)
    page.select_option("#se-range", "3y")
    page.wait_for_function("location.search.includes('range=3y')", timeout=10000)
    page.wait_for_function(
        """() => { const el = document.querySelector('#se-history .js-plotly-plot');
                   return el && el._fullLayout.title.text.includes('EWMA') && el._fullLayout.title.text.includes('±5σ'); }""",
        timeout=15000)
    page.wait_for_function("document.querySelector('#se-stats').innerText.includes('" + asof.isoformat()[:7] + "')",
                           timeout=15000)
    assert page.evaluate("window.__cm_marker") == 42            # no reload
    shared = page.url
    assert "window=ewma" in shared and "horizon=2" in shared and "threshold=5" in shared and "range=3y" in shared
    before = _graph_state(page, "se-history")
    hist_before = _graph_state(page, "se-hist")
    stats_before = page.locator("#se-stats").inner_text()

    other = browser.new_page()
    errors: list[str] = []
    other.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    other.on("pageerror", lambda e: errors.append(str(e)))
    try:
        other.goto(shared)
        other.wait_for_selector("#se-z", timeout=20000)
        _wait_plot(other, "se-history")
        _wait_plot(other, "se-hist")
        assert other.input_value("#se-window") == "ewma" and other.input_value("#se-horizon") == "2"
        assert other.input_value("#se-threshold") == "5" and other.input_value("#se-range") == "3y"
        assert other.input_value("#se-asof") == asof.isoformat()
        assert _graph_state(other, "se-history") == before
        assert _graph_state(other, "se-hist") == hist_before
        assert other.locator("#se-stats").inner_text() == stats_before
        assert other.url == shared
        assert errors == []
    finally:
        other.close()
    assert page.console_errors == []


def test_bad_parameters_and_unknown_series_show_a_notice(demo_app, page):
    page.goto(demo_app.base + "/series/jgb_30y?window=7&threshold=abc")
    page.wait_for_selector("#cm-url-notice", timeout=20000)
    notice = page.locator("#cm-url-notice").inner_text()
    assert "window='7'" in notice and "threshold='abc'" in notice
    assert page.input_value("#se-window") == "60" and page.input_value("#se-threshold") == "3"
    page.goto(demo_app.base + "/series/no_such_series")
    page.wait_for_selector("#cm-url-notice", timeout=20000)
    assert "unknown series 'no_such_series'" in page.locator("#cm-url-notice").inner_text()
    assert page.console_errors == []


def test_overview_screenshot_of_the_real_replay_at_2026_01_21(market_dir, tmp_path, page):
    """The real files replayed to 2026-01-21 00:00 UTC (JGB 2026-01-20 just published): the
    JGB 30Y tile shows +20.3 bp at 7.6σ, critical; its Series page marks the move in the
    distribution. Saved as docs/screenshots/overview.png and series.png."""
    app = AppProcess(["--replay", str(market_dir), "--start", "2026-01-21", "--speed", "1"], data_dir=tmp_path,
                     env={**OFFLINE, "CM_REFRESH_MS": "1000"})
    try:
        def published():
            jgb = next(s for s in app.json("/api/series")["series"] if s["id"] == "jgb_30y")
            return (jgb["as_of"] or "").startswith("2026-01-20")

        app.wait_until(published, timeout=120, what="JGB 2026-01-20 in the replay")
        app.wait_until(lambda: app.json("/api/alerts")["events"], timeout=60, what="replay alerts")
        page.goto(app.base + "/")
        page.wait_for_selector("#ov-tile-jgb_30y", timeout=20000)
        _wait_plot(page, "ov-curve-jgb")
        page.wait_for_selector(".cm-ov-feed-item", timeout=20000)
        tile = page.locator("#ov-tile-jgb_30y").inner_text()
        assert "3.765%" in tile and "+20.3 bp" in tile and "+7.6σ" in tile and "CRITICAL" in tile
        assert "REPLAY" in page.locator("#cm-banner").inner_text()
        page.wait_for_timeout(1500)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)
        # its Series page: the day's move against the 60-day band, in the distribution since 1999
        page.locator("#ov-tile-jgb_30y").click()
        page.wait_for_selector("#se-z", timeout=20000)
        _wait_plot(page, "se-history")
        _wait_plot(page, "se-hist")
        assert page.locator("#se-z").inner_text() == "+7.6σ" and "+20.3 bp" in page.locator("#se-move").inner_text()
        assert ["today", 20.3] in [[n, round(x, 1)] for n, x in _graph_state(page, "se-hist")["shapes"]]
        page.wait_for_timeout(1000)
        page.screenshot(path=str(SCREENSHOTS / "series.png"), full_page=True)
        assert page.console_errors == []
    finally:
        app.stop()
