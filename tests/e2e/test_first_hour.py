"""What a new user trips over in the first hour, in a real browser: no chart can upload its data,
times in the zone the user picks, ISO date fields, a phone menu that folds, a not-found page,
the overview pinned to a past day, and a wall that says loudly when no data flows."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.e2e.test_wall import check_layout
from tests.integration.proc import OFFLINE, AppProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LEAKY = re.compile(r"cloud|chart studio|share|edit in", re.I)


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    app = AppProcess(["--demo"], data_dir=tmp_path_factory.mktemp("e2e-first-hour"),
                     env={**OFFLINE, "CM_REFRESH_MS": "1000"})
    app.wait_until(lambda: app.json("/api/series")["series"][0]["value"] is not None, what="demo data")
    yield app
    app.stop()


@pytest.mark.parametrize("path", ["/", "/series/jgb_30y", "/contagion", "/wall?panels=curves"])
def test_no_chart_offers_to_upload_its_data(demo_app, page, path):
    page.goto(demo_app.base + path)
    page.wait_for_selector(".js-plotly-plot .modebar-container, .js-plotly-plot", timeout=30000)
    page.wait_for_timeout(1500)
    titles = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(g => {
        g.dispatchEvent(new MouseEvent('mousemove', {bubbles: true}));
        return [...g.querySelectorAll('.modebar-btn')].map(b => b.getAttribute('data-title') || '');
    })""")
    interactive = [t for t in titles if t]
    assert interactive, f"no chart with a mode bar on {path}"
    for buttons in interactive:
        assert not [b for b in buttons if LEAKY.search(b)], buttons
        assert any("png" in b.lower() for b in buttons), buttons      # PNG download stays
    assert not page.locator("a.modebar-btn[href*='plot.ly'], a[href*='chart-studio']").count()
    assert page.console_errors == []


def test_alert_grid_logs_no_ag_grid_warnings(demo_app, browser):
    p = browser.new_page()
    messages = []
    p.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    try:
        p.goto(demo_app.base + "/alerts")
        p.wait_for_selector(".ag-root-wrapper", timeout=30000)
        p.wait_for_timeout(2500)
        bad = [m for m in messages if "AG Grid" in m or "colDef" in m or "linkTarget" in m or m.startswith("error")]
        assert bad == []
        assert p.locator("#al-since").get_attribute("placeholder") == "YYYY-MM-DD"
        assert p.locator("#al-since").get_attribute("type") == "text"
    finally:
        p.close()


def _utc(ms: int, fmt: str) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime(fmt)


def test_times_follow_the_zone_in_the_url_and_the_picker(demo_app, page):
    page.goto(demo_app.base + "/markets?tz=tokyo")
    page.wait_for_selector("tr#row-jgb_30y .cm-time", timeout=30000)
    cell = page.locator("tr#row-jgb_30y .cm-time")
    page.wait_for_function("() => document.querySelector('tr#row-jgb_30y .cm-time').textContent.endsWith('JST')",
                           timeout=5000)
    ms = int(cell.get_attribute("data-ts"))
    tokyo = dt.datetime.fromtimestamp(ms / 1000, dt.UTC) + dt.timedelta(hours=9)
    assert cell.inner_text() == tokyo.strftime("%Y-%m-%d %H:%M") + " JST"
    assert page.locator("#cm-tz").input_value() == "tokyo"
    page.select_option("#cm-tz", "newyork")
    page.wait_for_function("() => /E[SD]T$/.test(document.querySelector('tr#row-jgb_30y .cm-time').textContent)",
                           timeout=5000)
    assert "tz=newyork" in page.url
    # …and it follows the user to the next page (a link inside the app drops the query)
    page.click("a.nav-link[href='/sources']")
    page.wait_for_selector("#cm-tz", timeout=10000)
    page.wait_for_function("() => location.search.indexOf('tz=newyork') >= 0", timeout=5000)
    page.select_option("#cm-tz", "utc")
    page.wait_for_function("() => location.search.indexOf('tz=') < 0", timeout=5000)
    page.goto(demo_app.base + "/markets")
    page.wait_for_selector("tr#row-jgb_30y .cm-time", timeout=30000)
    assert page.locator("tr#row-jgb_30y .cm-time").inner_text() == _utc(ms, "%Y-%m-%d %H:%M UTC")
    assert page.console_errors == []


def test_phone_menu_folds(demo_app, browser):
    p = browser.new_page()
    p.set_viewport_size({"width": 390, "height": 844})
    try:
        p.goto(demo_app.base + "/markets")
        p.wait_for_selector("tr#row-jgb_30y", timeout=30000)
        nav = p.locator(".navbar").bounding_box()
        assert nav["height"] < 90, nav                       # folded: the page starts on the first screen
        assert p.locator("a.nav-link[href='/alerts']").is_hidden()
        p.click("#cm-nav-toggle")
        p.wait_for_selector("a.nav-link[href='/alerts']", state="visible", timeout=5000)
        p.click("a.nav-link[href='/alerts']")
        p.wait_for_selector(".ag-root-wrapper", timeout=30000)
        p.wait_for_timeout(600)
        assert p.locator("a.nav-link[href='/markets']").is_hidden()   # folded again after following a link
    finally:
        p.close()


def test_unknown_page_says_not_found(demo_app, page):
    response = page.goto(demo_app.base + "/no-such-page")
    assert response.status == 404
    page.wait_for_selector("#cm-not-found", timeout=20000)
    assert "Page not found" in page.locator("#cm-not-found").inner_text()
    page.goto(demo_app.base + "/series/jgb_30y")
    page.wait_for_selector("#se-asof", timeout=30000)
    assert page.locator("#se-asof").get_attribute("placeholder") == "YYYY-MM-DD"


def test_overview_and_wall_pinned_to_a_past_day(demo_app, page):
    series = {s["id"]: s for s in demo_app.json("/api/series")["series"]}
    last = dt.date.fromisoformat(series["jgb_30y"]["as_of"][:10])
    day = last - dt.timedelta(days=14)
    page.goto(demo_app.base + f"/?asof={day.isoformat()}")
    page.wait_for_selector("#cm-pinned", timeout=30000)
    assert f"PINNED to {day.isoformat()}" in page.locator("#cm-pinned").inner_text()
    page.wait_for_timeout(2500)                               # refreshes keep the pinned view
    tile = page.locator("#ov-tile-jgb_30y").inner_text()
    assert "NO DATA" not in tile and page.locator("#ov-tile-jgb_30y .cm-pinned-age").count() == 1
    page.goto(demo_app.base + f"/wall?asof={day.isoformat()}")
    page.wait_for_selector("#cm-wall-mode", timeout=30000)
    page.wait_for_timeout(2000)
    assert f"PINNED {day.isoformat()}" in page.locator("#cm-wall-mode").inner_text()
    clock = page.locator("#cm-wall-dataclock").inner_text()
    assert clock.startswith((day + dt.timedelta(days=1)).isoformat()), clock    # the end of that day, not now
    assert page.console_errors == []


def test_wall_without_any_data_says_so_loudly(tmp_path, page):
    app = AppProcess([], data_dir=tmp_path, env={**OFFLINE, "CM_REFRESH_MS": "1000", "CM_HTTP_TIMEOUT": "3"})
    try:
        app.wait_until(lambda: sum(1 for s in app.json("/api/sources")["sources"] if s["last_error"]) >= 2,
                       timeout=90, what="source errors")
        page.goto(app.base + "/wall")
        page.wait_for_selector("#cm-wall-nodata-banner", timeout=30000)
        strip = page.locator("#cm-wall-nodata-banner").inner_text()
        assert "NO DATA" in strip and "not flowing" in strip and "no network" in strip
        assert "LIVE · NO DATA" in page.locator("#cm-wall-mode").inner_text()
        assert "cm-wall-is-stale" in page.locator("#cm-wall").get_attribute("class")
        for size in ((1920, 1080), (3840, 2160)):
            check_layout(page, size, min_texts=16)           # "NO DATA" fits its tiles, readable from 5 m
        # the overview's banner says it in words, the detail is on the Sources page
        page.set_viewport_size({"width": 1600, "height": 1000})
        page.goto(app.base + "/")
        page.wait_for_selector("#cm-source-errors", timeout=30000)
        banner = page.locator("#cm-source-errors").inner_text()
        assert re.search(r"MOF: no network \(retrying (now|within \d+ (s|min))\)", banner), banner
        assert "HTTPSConnectionPool" not in banner and "Max retries" not in banner
        assert page.console_errors == []
    finally:
        app.stop()
