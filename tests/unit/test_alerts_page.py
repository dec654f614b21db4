"""The Alerts page on a real SQLite store with alerts raised by the real AlertService: rows
carry the statistics, filters and permalinks work, acknowledge/silence write only for local
requests, and the CSV export holds exactly the filtered rows."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import pytest
from dash import no_update

from config import Settings
from data.frame import daily_close_ts, make_frame
from data.store import Store
from universe import load_universe
from views.snapshot import SnapshotService
from tests.layout import find  # noqa: F401  (other test modules import it from here)

UNIVERSE = load_universe()
UTC = dt.timezone.utc
TS = dt.datetime(2026, 1, 20, 6, tzinfo=UTC)
JGB_ID = "jgb_curve_z:jgb_30y:20260120T060000Z"




def _daily(series_id, dates, values):
    s = UNIVERSE.get(series_id)
    return make_frame(series_id, "D", daily_close_ts(dates, s.timezone, s.close), values)


def _seed_alerts(store):
    from alerts.rules import load_rules
    from alerts.service import AlertService
    from analytics.types import MoveStat

    store.upsert(pd.concat([_daily("jgb_30y", ["2026-01-19", "2026-01-20"], [3.562, 3.765]),
                            _daily("ust_10y", ["2026-01-16", "2026-01-20"], [4.24, 4.30])]),
                 source="mof", known_at=dt.datetime(2026, 1, 21, tzinfo=UTC))
    # JGB 30Y on 2026-01-20 (BRIEF §2) and a 4.2σ UST 10Y day (a "warning").
    jgb = MoveStat(series_id="jgb_30y", ts=TS, kind="daily", horizon=1, move=20.3, unit="bp",
                   sigma={"w60": 2.66, "w250": 3.63, "ewma": 3.55, "mad250": 2.42},
                   z={"w60": 7.63, "w250": 5.60, "ewma": 5.71, "mad250": 8.39},
                   window_end=dt.datetime(2026, 1, 19, 6, tzinfo=UTC), rarity_share=0.000313,
                   return_period_years=12.7, normal_equiv_sigma=3.6, n_history=6382, source="mof")
    ust_ts = dt.datetime(2026, 1, 20, 20, 30, tzinfo=UTC)
    ust = MoveStat(series_id="ust_10y", ts=ust_ts, kind="daily", horizon=1, move=12.0, unit="bp",
                   sigma={"w60": 2.85, "w250": 4.1, "ewma": 3.3, "mad250": 3.0},
                   z={"w60": 4.21, "w250": 2.93, "ewma": 3.64, "mad250": 4.0},
                   window_end=dt.datetime(2026, 1, 16, 21, tzinfo=UTC), rarity_share=0.004,
                   return_period_years=1.0, normal_equiv_sigma=2.9, n_history=6000, source="treasury")
    service = AlertService(store, load_rules(universe=UNIVERSE), [], UNIVERSE)
    service.run([jgb], {}, {}, TS)               # Tokyo close: the JGB alert fires
    service.run([jgb, ust], {}, {}, ust_ts)      # New York close: the UST one; JGB already seen


@pytest.fixture
def web(tmp_path):
    import app as app_module

    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    store.create_schema()
    _seed_alerts(store)
    service = SnapshotService(store, UNIVERSE, check_every=3600)   # only an explicit refresh() re-reads
    dash_app = app_module.create_app(Settings(), service)
    yield dash_app, service, store
    store.dispose()


CSRF = "c" * 43     # the page's token (web.auth: the cm_csrf cookie and the layout's copy)


def _local(app, **headers):
    return app.server.test_request_context("/_dash-update-component", method="POST",
                                           environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers=headers)


def _page(app, **headers):
    """A POST from the dashboard's own page on this machine: same Origin, the CSRF cookie."""
    return _local(app, Origin="http://localhost", Cookie=f"cm_csrf={CSRF}", **headers)


def _remote(app):
    return app.server.test_request_context("/_dash-update-component", method="POST",
                                           environ_base={"REMOTE_ADDR": "10.20.30.40"},
                                           headers={"Origin": "http://localhost", "Cookie": f"cm_csrf={CSRF}"})


def test_rows_carry_the_statistics(web):
    from callbacks.alerts import table_view

    _app, service, _store = web
    rows, counts, silences, tag = table_view(service.current, 1, None, None, None, None, 0, None)
    alert = next(r for r in rows if r["kind"] == "alert" and r["series_id"] == "jgb_30y")
    assert alert["alert_id"] == JGB_ID and alert["state"] == "firing" and alert["tier"] == "critical"
    assert alert["time"] == "2026-01-20 06:00:00" and alert["rule"] == "jgb_curve_z"
    assert (alert["move"], alert["sigma"], alert["z"]) == ("+20.3 bp", "2.66 bp", 7.63)
    assert alert["window"] == "60d to 2026-01-19"
    assert alert["rarity"] == "once in 12.7 y (≈3.6σ normal)" and alert["source"] == "mof"
    assert "+20.3 bp = 7.6σ" in alert["text"] and alert["acknowledged"] == ""
    assert alert["link"] == f"[open](/alerts?alert={JGB_ID.replace(':', '%3A')})"
    assert any(r["kind"] == "event · firing" and r["series_id"] == "jgb_30y" for r in rows)
    ust = next(r for r in rows if r["kind"] == "alert" and r["series_id"] == "ust_10y")
    assert ust["tier"] == "warning" and ust["z"] == 4.21
    assert "firing" in str(counts) and "No active silences" in str(silences)
    # Unchanged alerts and filters: nothing re-sent.
    assert table_view(service.current, 2, None, None, None, None, 0, tag) == (no_update,) * 4


def test_filters(web):
    from callbacks.alerts import table_view

    _app, service, _store = web
    rows = table_view(service.current, 1, ["ust_10y"], None, None, None, 0, None)[0]
    assert rows and {r["series_id"] for r in rows} == {"ust_10y"}
    rows = table_view(service.current, 1, None, None, ["critical"], None, 0, None)[0]
    assert rows and {r["series_id"] for r in rows} == {"jgb_30y"}
    assert table_view(service.current, 1, None, ["resolved"], None, None, 0, None)[0] == []
    assert len(table_view(service.current, 1, None, ["firing"], None, "2026-01-20", 0, None)[0]) == 4
    assert table_view(service.current, 1, None, None, None, "2026-01-21", 0, None)[0] == []


def test_url_filters_and_bad_values(web):
    from callbacks.alerts import url_search
    from components import alerts as al

    app, service, _store = web
    with _local(app):
        page = al.layout(service.current(), series="jgb_30y,nope", state="firing,bogus", tier="critical", since="yesterday",
                         colour="red")
    notice = str(find(page, al.AL_NOTICE).children)
    for needle in ("'nope'", "'bogus'", "since='yesterday'", "'colour'"):
        assert needle in notice
    assert find(page, al.AL_SERIES).value == ["jgb_30y"] and find(page, al.AL_STATE).value == ["firing"]
    assert find(page, al.AL_TIER).value == ["critical"] and find(page, al.AL_SINCE).value is None
    assert url_search(["jgb_30y"], ["firing"], ["critical"], "2026-01-20", JGB_ID) == (
        "?alert=jgb_curve_z%3Ajgb_30y%3A20260120T060000Z&series=jgb_30y&since=2026-01-20&state=firing&tier=critical")
    assert url_search([], [], None, None, None) == ""


def test_permalink_focuses_the_alert(web):
    from callbacks.alerts import detail_view, focus_from_selection
    from components import alerts as al

    app, service, _store = web
    with _local(app):
        page = al.layout(service.current(), alert=JGB_ID)
    assert find(page, al.AL_FOCUS).data == JGB_ID
    detail = str(find(page, al.AL_DETAIL).children)
    assert "JGB 30Y +20.3 bp = 7.6σ (σ60 2.7 bp, window to 2026-01-19)" in detail
    assert "return_period_years" in detail and "12.7" in detail and "σ / z 60d" in detail and "2.66 / 7.63" in detail
    assert "not acknowledged" in detail and f"/alerts?alert={JGB_ID.replace(':', '%3A')}" in detail
    with _local(app):
        card, ack_disabled, _r, _s, note = detail_view(service.current, JGB_ID, "t")
    assert "CRITICAL" in str(card) and ack_disabled is False and note == ""
    missing = str(al.detail_card(app and service.current().alerts, "no-such-alert"))
    assert "is not among the open alerts" in missing
    # Clicking a grid row focuses its alert.
    assert focus_from_selection([{"alert_id": "x:y:z"}], JGB_ID) == "x:y:z"
    assert focus_from_selection([{"alert_id": JGB_ID}], JGB_ID) is no_update
    assert focus_from_selection([], JGB_ID) is no_update


def test_acknowledge_from_localhost_only(web):
    from alerts.store import AlertStore
    from callbacks.alerts import acknowledge, detail_view, table_view
    from components import alerts as al

    app, service, store = web
    # A remote request (or a proxied one) is read-only: buttons disabled, the write refused.
    with _remote(app):
        page = al.layout(service.current(), alert=JGB_ID)
        assert find(page, al.AL_ACK).disabled is True and "read-only link" in find(page, al.AL_READONLY).children
        _card, disabled, *_rest, note = detail_view(service.current, JGB_ID, "t")
        assert disabled is True and "read-only link" in note
        msg, bump = acknowledge(service, 1, JGB_ID, "mallory", 0, CSRF)
        assert "read-only link" in str(msg) and bump is no_update
    with _page(app, **{"X-Forwarded-For": "203.0.113.9"}):
        msg, bump = acknowledge(service, 1, JGB_ID, "mallory", 0, CSRF)
        assert "read-only link" in str(msg) and bump is no_update
    assert not any(a["acknowledged"] for a in AlertStore(store).payload(TS)["alerts"])
    # From this machine the acknowledgement is written, with who and when, and the snapshot
    # refreshed at once.
    with _page(app):
        msg, bump = acknowledge(service, 1, JGB_ID, "risk-desk", 0, CSRF)
    assert "Acknowledged by risk-desk (local operator)" in str(msg) and bump == 1
    alerts = {a["alert_id"]: a for a in service.current().alerts["alerts"]}
    assert alerts[JGB_ID]["acknowledged"]["by"] == "risk-desk"
    assert alerts[JGB_ID]["acknowledged"]["actor"] == "local operator"
    rows = table_view(service.current, 3, None, None, None, None, bump, None)[0]
    row = next(r for r in rows if r["kind"] == "alert" and r["alert_id"] == JGB_ID)
    assert row["acknowledged"].startswith("risk-desk at ") and row["acknowledged"].endswith(" · local operator")
    assert any(r["state"] == "acknowledged" for r in rows)
    card = str(al.detail_card(service.current().alerts, JGB_ID))
    assert "acknowledged by risk-desk" in card and "signed in as local operator" in card
    with _page(app):
        msg, _ = acknowledge(service, 1, "nope:nope:nope", "risk-desk", 1, CSRF)
    assert "Not acknowledged" in str(msg)


def test_a_local_write_needs_the_pages_origin_and_csrf_token(web):
    """DNS rebinding / CSRF: the operator's own browser on this machine, but the request does
    not come from the dashboard's page — no Origin of this host, or no (or a wrong) token."""
    from alerts.store import AlertStore
    from callbacks.alerts import acknowledge, silence

    app, service, store = web
    cases = [
        ({"Origin": "http://attacker.example", "Cookie": f"cm_csrf={CSRF}"}, CSRF, "Origin"),
        ({"Cookie": f"cm_csrf={CSRF}"}, CSRF, "Origin"),                          # neither Origin nor Referer
        ({"Origin": "http://localhost"}, CSRF, "token"),                         # no cookie
        ({"Origin": "http://localhost", "Cookie": f"cm_csrf={CSRF}"}, None, "token"),
        ({"Origin": "http://localhost", "Cookie": f"cm_csrf={CSRF}"}, "d" * 43, "token"),
        ({"Origin": "http://localhost", "Cookie": f"cm_csrf={CSRF}"}, ["x"], "token"),
    ]
    for headers, token, needle in cases:
        with _local(app, **headers):
            msg, bump = acknowledge(service, 1, JGB_ID, "mallory", 0, token)
            assert needle in str(msg) and "nothing written" in str(msg) and bump is no_update, headers
            msg, bump = silence(service, "rule", JGB_ID, "24h", "mallory", 0, token)
            assert needle in str(msg) and bump is no_update, headers
    assert not any(a["acknowledged"] for a in AlertStore(store).payload(TS)["alerts"])
    assert service.current().alerts["silences"] == [] and AlertStore(store).active_silences(TS) == []
    # A Referer of this host stands in for a missing Origin.
    with _local(app, Referer="http://localhost/alerts", Cookie=f"cm_csrf={CSRF}"):
        msg, bump = acknowledge(service, 1, JGB_ID, "desk", 0, CSRF)
    assert "Acknowledged by desk" in str(msg) and bump == 1


def test_silence_rule_or_series_from_localhost(web):
    from callbacks.alerts import silence

    app, service, _store = web
    with _remote(app):
        msg, bump = silence(service, "rule", JGB_ID, "4h", "mallory", 0, CSRF)
    assert "read-only" in str(msg) and bump is no_update and service.current().alerts["silences"] == []
    before = service.current().now()
    with _page(app):
        msg, bump = silence(service, "rule", JGB_ID, "4h", "risk-desk", 0, CSRF)
        msg2, bump2 = silence(service, "series", JGB_ID, "24h", "risk-desk", bump, CSRF)
    assert "Silenced rule jgb_curve_z for 4h" in str(msg) and "Silenced series jgb_30y for 24h" in str(msg2)
    assert bump2 == 2
    sil = service.current().alerts["silences"]
    by = {(s["rule_id"], s["series_id"]): s for s in sil}
    assert set(by) == {("jgb_curve_z", None), (None, "jgb_30y")}
    until = dt.datetime.fromisoformat(by[("jgb_curve_z", None)]["until"].replace("Z", "+00:00"))
    assert dt.timedelta(hours=3, minutes=59) < until - before < dt.timedelta(hours=4, minutes=1)
    assert by[(None, "jgb_30y")]["created_by"] == "risk-desk" and by[(None, "jgb_30y")]["actor"] == "local operator"


def test_csv_export_holds_the_filtered_rows(web):
    from callbacks.alerts import export_csv
    from components.alerts import CSV_COLUMNS

    _app, service, _store = web
    assert export_csv(service.current, 0, None, None, None, None) is no_update
    out = export_csv(service.current, 1, ["jgb_30y"], None, ["critical"], None)
    assert out["filename"].startswith("alerts-") and out["filename"].endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(out["content"])))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert rows and {r["series_id"] for r in rows} == {"jgb_30y"} and {r["tier"] for r in rows} == {"critical"}
    alert = next(r for r in rows if r["kind"] == "alert")
    assert alert["move"] == "+20.3 bp" and alert["z"] == "7.63" and alert["alert_id"] == JGB_ID
    everything = list(csv.DictReader(io.StringIO(export_csv(service.current, 1, None, None, None, None)["content"])))
    assert len(everything) > len(rows)


def test_page_serves(web):
    app, service, _store = web
    client = app.server.test_client()
    for path in ("/alerts", f"/alerts?alert={JGB_ID}", "/alerts?series=nope&since=x"):
        assert client.get(path).status_code == 200


def test_incidents_list_one_per_market_event_with_members_expandable(web):
    from callbacks.alerts import incidents_view
    from tests.layout import text

    _app, service, _store = web
    cards, tag = incidents_view(service.current, 1, None, None, 0, None)
    assert len(cards) == 2                                        # JGB and US Treasuries: two markets
    jgb = next(c for c in cards if "JGB 30Y" in text(c))
    assert jgb.open is True                                       # an open critical incident is expanded
    assert "JGB: " in text(jgb) and "JGB 30Y +20.3 bp, 7.6σ" in text(jgb) and "1 alert" in text(jgb)
    links = [c for c in _walk(jgb) if getattr(c, "className", "") == "al-member-link"]
    assert [a.href for a in links] == [f"/alerts?alert={JGB_ID.replace(':', '%3A')}"]
    ust = next(c for c in cards if "UST 10Y" in text(c))
    assert ust.open is False and "warning" in text(ust)
    # Filters: a series matches any member; a tier the incident's worst.
    [only] = incidents_view(service.current, 1, ["ust_10y"], None, 0, None)[0]
    assert "UST 10Y" in text(only)
    [crit] = incidents_view(service.current, 1, None, ["critical"], 0, None)[0]
    assert "JGB 30Y" in text(crit)
    none = incidents_view(service.current, 1, None, ["watch"], 0, None)[0]
    assert "No incidents for these filters" in text(none)
    # Nothing changed: nothing re-sent (an expanded incident stays expanded).
    assert incidents_view(service.current, 2, None, None, 0, tag) == (no_update, no_update)


def _walk(c):
    yield c
    kids = getattr(c, "children", None)
    for k in kids if isinstance(kids, (list, tuple)) else ([kids] if kids is not None else []):
        if hasattr(k, "children") or hasattr(k, "href"):
            yield from _walk(k)


def test_the_delivery_log_shows_on_the_alerts_page(web):
    """A delivery written to the store reaches the page through the snapshot (no query per render)."""
    from alerts.deliveries import record_delivery
    from callbacks.alerts import deliveries_view
    from tests.layout import text

    _app, service, store = web
    assert "No notification sent yet." in text(deliveries_view(service.current, 1, 0))
    record_delivery(store.engine, {"incident_id": "JP:20260120T060000Z", "event_kind": "opened", "event_seq": 1,
                                   "route": "desk", "target": "json://127.0.0.1", "status": "failed",
                                   "reason": "HTTP 500", "attempts": 3,
                                   "at_ns": int(dt.datetime(2026, 1, 20, 6, 0, 5, tzinfo=UTC).timestamp() * 1e9)})
    assert "No notification sent yet." in text(deliveries_view(service.current, 2, 0))   # not before the snapshot refreshes
    service.refresh()
    shown = text(deliveries_view(service.current, 3, 0))
    for part in ("desk", "json://127.0.0.1", "JP:20260120T060000Z", "opened", "failed", "HTTP 500",
                 "2026-01-20 06:00:05"):
        assert part in shown, part
