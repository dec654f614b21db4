"""Contagion and Alerts pages in a real browser, on a replay of the real files through
2026-01-20 (the JGB 30Y +20.3 bp day): they render without console errors, a shared contagion
link reproduces the risk-parity inputs, controls rewrite the URL without re-rendering the page,
and an alert's permalink opens its detail."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest

from tests.integration.proc import OFFLINE, AppProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _jgb30_alert(app: AppProcess) -> str | None:
    body = app.json("/api/alerts?series=jgb_30y")
    for item in body["alerts"] + body["events"]:
        if item["rule_id"] == "jgb_curve_z" and item["tier"] == "critical":
            return item["alert_id"]
    return None


def _jgb30_stored(store) -> str | None:
    """The same alert from the store's event log: durable, whereas the snapshot keeps only the
    newest 500 events (on a loaded machine one catch-up run can fire and move past it at once)."""
    from alerts.store import AlertStore

    for e in AlertStore(store).list_events(series="jgb_30y", rule="jgb_curve_z", tier="critical",
                                           kind=["firing", "escalated"], limit=50):
        if e.data_ts is not None and f"{e.data_ts:%Y-%m-%d}" == "2026-01-20":
            return e.alert_id
    return None


@pytest.fixture(scope="module")
def replay_app(market_dir, tmp_path_factory):
    import datetime as dt

    from config import Settings
    from data.store import Store

    data_dir = tmp_path_factory.mktemp("e2e-replay")
    app = AppProcess(["--replay", str(market_dir), "--start", "2026-01-14", "--speed", "20000"],
                     data_dir=data_dir, env={**OFFLINE, "CM_REFRESH_MS": "1000"})
    store = Store(Settings(mode="replay", replay_dir=market_dir, replay_start=dt.date(2026, 1, 14),
                           replay_speed=20000.0, data_dir=data_dir).resolved_db_url())
    try:
        app.jgb30_id = app.wait_until(lambda: _jgb30_alert(app) or _jgb30_stored(store), timeout=240,
                                      what="the JGB 30Y critical alert of 2026-01-20")
        yield app
    finally:
        store.dispose()
        app.stop()


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(url).query).items()}


def test_contagion_screenshot(replay_app, page):
    """First, while the replay clock is still near the 2026-01-20 shock."""
    page.goto(replay_app.base + "/contagion")
    page.wait_for_selector("#cg-rp-bonds-sold", timeout=30000)
    page.wait_for_selector("#cg-spill-net .bars", timeout=30000)
    page.wait_for_selector("#cg-rolling .legendtext", timeout=30000)
    page.wait_for_timeout(1500)
    assert "$129.7bn" in page.locator("#cg-rp-bonds-sold").inner_text()
    assert "explained by the overnight JGB 10Y move" in page.locator("#cg-attribution").inner_text()
    # The heat map in both clock alignments, each labelled; the live risk-parity window and range.
    page.wait_for_selector("#cg-heatmap .annotation-text", timeout=30000)
    titles = page.evaluate("[...document.querySelectorAll('#cg-heatmap .annotation-text')].map(t => t.textContent)")
    assert any("Japan→US" in t for t in titles) and any("US→Japan" in t for t in titles), titles
    assert "Window: 10 days against 60" in page.locator("#cg-rp-window").inner_text()
    assert "Across 5–20-day × 60–250-day windows" in page.locator("#cg-rp-range").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "contagion.png"), full_page=True)
    assert page.console_errors == []


def test_contagion_page_renders_and_a_shared_link_reproduces_the_panel(replay_app, page):
    link = "/contagion?aum=300&bonds=60&lev=5&pair=30Y&scope=bonds&shock=1.25&tvol=12&window=250"
    page.goto(replay_app.base + link)
    page.wait_for_selector("#cg-rp-bonds-sold", timeout=30000)
    page.wait_for_function("() => [...document.querySelectorAll('#cg-rolling .gtitle')]"
                           ".some(t => t.textContent.includes('JGB 30Y · UST 30Y'))", timeout=30000)
    assert page.input_value("#cg-aum") == "300" and page.input_value("#cg-tvol") == "12"
    assert page.input_value("#cg-bonds") == "60" and page.input_value("#cg-lev") == "5"
    assert page.input_value("#cg-shock") == "1.25"
    assert page.is_checked("#cg-scope input[value='bonds']") and page.is_checked("#cg-pair input[value='30Y']")
    assert page.is_checked("#cg-window input[value='250']")
    legend = page.evaluate("[...document.querySelectorAll('#cg-rolling .legendtext')].map(t => t.textContent)")
    assert "Japan→US ρ250" in legend and "US→Japan ρ250" in legend
    assert "REPLAY" in page.locator("#cm-banner").inner_text()
    assert _query(page.url) == {"aum": "300", "bonds": "60", "lev": "5", "pair": "30Y", "scope": "bonds",
                                "shock": "1.25", "tvol": "12", "window": "250"}
    # Editing an input rewrites the URL in place: same page (the marker survives), new answer.
    page.evaluate("document.querySelector('.cg-page').dataset.marker = 'kept'")
    before = page.locator("#cg-rp-bonds-sold").inner_text()
    page.fill("#cg-aum", "600")
    page.press("#cg-aum", "Enter")
    page.wait_for_function("() => window.location.search.includes('aum=600')", timeout=10000)
    page.wait_for_function(f"() => document.querySelector('#cg-rp-bonds-sold').innerText !== {before!r}",
                           timeout=10000)
    assert page.evaluate("document.querySelector('.cg-page').dataset.marker") == "kept"
    # The Citi preset restores the default fund and reproduces $130bn.
    page.click("text=citi_130bn")
    page.wait_for_function("() => document.querySelector('#cg-rp-bonds-sold').innerText === '$129.7bn'",
                           timeout=10000)
    page.wait_for_function("() => !window.location.search.includes('aum=')", timeout=10000)
    assert _query(page.url) == {"pair": "30Y", "window": "250"}
    # Reload the rewritten URL: the same view comes back.
    page.reload()
    page.wait_for_selector("#cg-rp-bonds-sold", timeout=30000)
    assert page.is_checked("#cg-pair input[value='30Y']") and page.input_value("#cg-aum") == "200"
    assert page.console_errors == []


def test_alert_permalink_opens_detail_and_acknowledges_from_localhost(replay_app, page):
    alert_id = replay_app.jgb30_id
    page.goto(replay_app.base + f"/alerts?alert={quote(alert_id, safe='')}")
    page.wait_for_selector("#al-detail-text", timeout=30000)
    assert "JGB 30Y +20.3 bp = 7.6σ" in page.locator("#al-detail-body").inner_text()
    page.wait_for_selector("#al-grid .ag-row", timeout=30000)
    assert page.locator("#al-grid .ag-row").count() > 0
    assert page.is_enabled("#al-ack")
    page.fill("#al-who", "e2e-desk")
    page.click("#al-ack")
    page.wait_for_selector("#al-ack-done", timeout=10000)
    page.wait_for_function("() => document.querySelector('#al-detail-ack').innerText.includes('e2e-desk')",
                           timeout=10000)
    body = replay_app.json("/api/alerts?series=jgb_30y")
    assert any(e["kind"] == "acknowledged" and e["by"] == "e2e-desk" for e in body["events"])
    # CSV export of the filtered rows.
    with page.expect_download() as dl:
        page.click("#al-csv")
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert rows and "alert_id" in rows[0] and any(r["alert_id"] == alert_id for r in rows)
    assert page.console_errors == []


def test_alert_filters_in_the_url_and_row_click_focuses(replay_app, page):
    page.goto(replay_app.base + "/alerts?series=jgb_30y&tier=critical")
    page.wait_for_selector("#al-grid .ag-row", timeout=30000)
    series = page.locator("#al-grid .ag-row [col-id='series']").all_inner_texts()
    assert series and set(series) == {"JGB 30Y"}
    tiers = page.locator("#al-grid .ag-row [col-id='tier']").all_inner_texts()
    assert set(tiers) == {"critical"}
    assert page.is_disabled("#al-ack")            # nothing focused yet
    # Clicking a row focuses its alert and puts it in the URL, next to the filters.
    page.locator("#al-grid .ag-row [col-id='text']").first.click()
    page.wait_for_function("() => window.location.search.includes('alert=')", timeout=10000)
    q = _query(page.url)
    assert q["series"] == "jgb_30y" and q["tier"] == "critical" and q["alert"].startswith("jgb_curve_z")
    page.wait_for_selector("#al-detail-text", timeout=10000)
    assert page.is_enabled("#al-ack")             # the test browser is on localhost
    assert page.console_errors == []


def test_proxied_request_is_refused_without_credentials(replay_app, page):
    """No credential configured: the dashboard is this machine's only; a request a proxy forwarded
    stands for someone else and is refused (issue 14: a local proxy made every remote user local)."""
    page.set_extra_http_headers({"X-Forwarded-For": "203.0.113.9"})
    resp = page.goto(replay_app.base + f"/alerts?alert={quote(replay_app.jgb30_id, safe='')}")
    assert resp.status == 403 and "this machine only" in page.inner_text("body")


def test_a_dns_rebinding_page_can_neither_read_nor_silence(replay_app, page):
    """Issue 14: a page served from attacker.example, whose name then resolves to 127.0.0.1, runs
    in the operator's browser and posts the silence callback to 'its own' origin."""
    evil = f"http://attacker.example:{replay_app.port}"
    resp = page.goto(evil + "/alerts")           # the rebinding page's own origin, now on 127.0.0.1
    assert resp.status == 400 and page.inner_text("body").strip() == "unknown host"
    # Scripts of that origin (Chromium blocks a public page's requests to loopback; other browsers
    # do not): reads and the silence callback are refused alike.
    read = page.evaluate("async () => { const r = await fetch('/api/alerts'); return [r.status, await r.text()]; }")
    assert read[0] == 400 and "alert" not in read[1]
    body = {"output": "..al-action-msg.children@x...al-bump.data@x..", "inputs": [], "state": [],
            "changedPropIds": ["al-silence-rule.n_clicks"]}
    post = page.evaluate("""async (body) => {
        const r = await fetch('/_dash-update-component', {method: 'POST', body: body,
                                                          headers: {'Content-Type': 'application/json'}});
        return [r.status, await r.text()]; }""", json.dumps(body))
    assert post[0] == 400 and "Silenced" not in post[1]
    assert replay_app.json("/api/alerts")["silences"] == []
