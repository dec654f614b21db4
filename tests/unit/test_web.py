"""The web frame on a real SQLite store: JSON endpoints, callbacks as plain functions, auth."""
from __future__ import annotations

import base64
import datetime as dt

import pytest
from dash import no_update

from config import Settings
from data.frame import daily_close_ts, make_frame
from data.store import Store
from universe import load_universe
from views.snapshot import SnapshotService

UNIVERSE = load_universe()
UTC = dt.timezone.utc


def _daily(series_id, dates, values):
    s = UNIVERSE.get(series_id)
    return make_frame(series_id, "D", daily_close_ts(dates, s.timezone, s.close), values)


@pytest.fixture
def store(tmp_path):
    st = Store(f"sqlite:///{tmp_path / 'w.db'}")
    st.create_schema()
    yield st
    st.dispose()


def _seed(store, mode="live"):
    import pandas as pd

    known = dt.datetime(2026, 1, 21, tzinfo=UTC)
    store.upsert(pd.concat([_daily("jgb_30y", ["2026-01-19", "2026-01-20"], [3.48, 3.683]),
                            _daily("usdjpy_noon", ["2026-01-16", "2026-01-20"], [158.0, 157.0])]),
                 source="mof", known_at=known)
    store.set_meta("mode", mode)
    wall = dt.datetime.now(UTC)
    store.record_attempt("mof", wall)
    store.record_success("mof", wall, 3)
    store.record_attempt("fred", wall)
    store.record_failure("fred", wall, "FetchError: network error: ConnectionError: no route to host")


@pytest.fixture
def service(store):
    return SnapshotService(store, UNIVERSE, cadences={"mof": 1200, "fred": 1200, "treasury": 1200, "yahoo": 60},
                           check_every=0)


@pytest.fixture
def web(store, service):
    import app as app_module

    dash_app = app_module.create_app(Settings(), service)
    yield dash_app, dash_app.server.test_client(), store


def test_api_series_lists_every_series_with_change_in_its_unit(web):
    _app, client, store = web
    _seed(store)
    body = client.get("/api/series").get_json()
    assert body["mode"] == "live" and body["simulated"] is False
    assert len(body["series"]) == len(UNIVERSE)
    by = {s["id"]: s for s in body["series"]}
    jgb = by["jgb_30y"]
    assert jgb["value"] == 3.683 and jgb["prev_close"] == 3.48
    assert jgb["change"] == pytest.approx(20.3) and jgb["change_unit"] == "bp"
    assert jgb["as_of"] == "2026-01-20T06:00:00Z"   # 15:00 Tokyo
    assert jgb["source"] == "mof" and jgb["stale"] is True  # January 2026 is long ago
    fx = by["usdjpy_noon"]
    assert fx["change"] == pytest.approx(100 * __import__("math").log(157 / 158), abs=1e-4)
    assert by["ust_10y"]["value"] is None and by["ust_10y"]["stale"] is False


def test_api_sources_and_healthz_report_errors(web):
    _app, client, store = web
    _seed(store)
    src = {s["source"]: s for s in client.get("/api/sources").get_json()["sources"]}
    # What failed, not where (web.redact): the raw text is for the operator and the log.
    assert src["fred"]["state"] == "failing" and src["fred"]["last_error"] == "network error"
    assert src["mof"]["state"] == "ok" and src["mof"]["rows_last"] == 3
    assert src["yahoo"]["state"] == "never"          # expected by the mode, never reported yet
    h = client.get("/healthz")
    assert h.status_code == 200 and h.get_json()["status"] == "degraded"


def test_pages_serve(web):
    _app, client, store = web
    _seed(store)
    for path in ("/", "/markets", "/sources", "/contagion", "/alerts", "/yen", "/wall", "/series/jgb_30y",
                 "/series/not-a-series", "/?unknown=1&x=%ZZ", "/no-such-page"):
        r = client.get(path)
        # an unknown page is the app's not-found page, with 404 (tests/unit/test_shell.py)
        assert r.status_code == (404 if path == "/no-such-page" else 200) and b"Contagion Monitor" in r.data
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200


def test_banner_says_simulated_and_stale_and_skips_unchanged(web, service):
    from callbacks.shell import banner_tick
    from web.redact import public_error

    def banner_view(n, tag):
        return banner_tick(service.current, lambda: public_error(service.error), n, tag)

    _app, _client, store = web
    _seed(store, mode="demo")
    children, tag = banner_view(1, None)
    text = str(children)
    assert "SIMULATED" in text and "STALE" in text
    # Labels, not ids; the source error as a category with its retry, never the raw text.
    assert "JGB 30Y" in text and "jgb_30y" not in text
    assert "FRED: no network (retrying within 1200 s)" in text or "FRED: no network (retrying within 20 min)" in text
    assert "no route to host" not in text and "ConnectionError" not in text
    again = banner_view(2, tag)
    assert again == (no_update, no_update)


def test_markets_table_renders_rows_and_skips_unchanged(web, service):
    from callbacks.markets import tick_table

    def markets_view(n, tag):
        return tick_table(service.current, n, tag)

    _app, _client, store = web
    _seed(store)
    table, tag = markets_view(1, None)
    text = str(table)
    assert "JGB 30Y" in text and "+20.3 bp" in text and "3.683%" in text and "NO DATA" in text
    assert markets_view(2, tag) == (no_update, no_update)
    store.upsert(_daily("jgb_30y", ["2026-01-21"], [3.60]), source="mof",
                 known_at=dt.datetime(2026, 1, 22, tzinfo=UTC))
    table2, tag2 = markets_view(3, tag)
    assert tag2 != tag and "-8.3 bp" in str(table2)


def test_store_outage_keeps_last_snapshot(web, monkeypatch):
    from sqlalchemy.exc import OperationalError

    _app, client, store = web
    _seed(store)
    assert client.get("/api/series").status_code == 200

    def down(*_a, **_k):
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    monkeypatch.setattr(Store, "data_version", down)
    monkeypatch.setattr(Store, "health", down)
    r = client.get("/api/series")
    assert r.status_code == 200 and any(s["value"] for s in r.get_json()["series"])
    h = client.get("/healthz")
    assert h.status_code == 503 and h.get_json()["store"] == "error"
    monkeypatch.undo()
    assert client.get("/healthz").get_json()["store"] == "ok"   # recovers by itself


def test_auth_token_and_basic(store):
    import app as app_module

    service = SnapshotService(store, UNIVERSE, check_every=0)
    tok = app_module.create_app(Settings(host="0.0.0.0", auth_token="t0ken-xyz"), service).server.test_client()
    assert tok.get("/healthz").status_code in (200, 503)
    assert tok.get("/api/series").status_code == 401
    assert tok.get("/api/series?token=wrong").status_code == 401
    assert tok.get("/api/series?token=t0ken-xyz").status_code == 200
    assert tok.get("/api/series").status_code == 200                 # cookie set by the token link
    assert tok.get("/", headers={"Authorization": "Bearer t0ken-xyz"}).status_code == 200
    basic = app_module.create_app(Settings(host="0.0.0.0", auth_user="risk", auth_password="pw!"),
                                  service).server.test_client()
    assert basic.get("/").status_code == 401
    good = base64.b64encode(b"risk:pw!").decode()
    bad = base64.b64encode(b"risk:nope").decode()
    assert basic.get("/", headers={"Authorization": f"Basic {bad}"}).status_code == 401
    assert basic.get("/", headers={"Authorization": f"Basic {good}"}).status_code == 200


def test_api_alerts_filters_in_memory_and_notices_bad_params(web):
    from alerts.rules import load_rules
    from alerts.service import AlertService
    from analytics.types import MoveStat

    _app, client, store = web
    _seed(store)
    ts = dt.datetime(2026, 1, 20, 6, tzinfo=UTC)
    stat = MoveStat(series_id="jgb_30y", ts=ts, kind="daily", horizon=1, move=20.3, unit="bp",
                    sigma={"w60": 2.66, "w250": 3.63, "ewma": 3.55, "mad250": 2.42},
                    z={"w60": 7.63, "w250": 5.60, "ewma": 5.71, "mad250": 8.39},
                    window_end=dt.datetime(2026, 1, 19, 6, tzinfo=UTC), rarity_share=0.000313,
                    return_period_years=12.7, normal_equiv_sigma=3.6, n_history=6382, source="mof")
    AlertService(store, load_rules(universe=UNIVERSE), [], UNIVERSE).run([stat], {}, {}, ts)
    body = client.get("/api/alerts").get_json()
    crit = [a for a in body["alerts"] if a["series_id"] == "jgb_30y" and a["tier"] == "critical"]
    assert crit and "+20.3 bp" in crit[0]["text"] and crit[0]["statistics"]["z"]["w60"] == 7.63
    assert body["notice"] is None
    f = client.get("/api/alerts?series=ust_10y&tier=critical").get_json()
    assert f["alerts"] == []
    # unknown names are ignored and named in `notice`; a bad value of a known one is a 400 naming it
    odd = client.get("/api/alerts?series=nope&color=red")
    assert odd.status_code == 200
    notice = odd.get_json()["notice"]
    assert "nope" in notice and "color" in notice
    for query, param in (("limit=x", "limit"), ("since=yesterday", "since")):
        bad = client.get(f"/api/alerts?{query}")
        assert bad.status_code == 400 and bad.get_json()["parameter"] == param


def test_snapshot_carries_move_statistics(web):
    _app, client, store = web
    _seed(store)
    by = {s["id"]: s for s in client.get("/api/series").get_json()["series"]}
    # Two closes are not enough history for a σ: the statistics say so rather than invent one.
    assert by["jgb_30y"]["daily_move"] is None or by["jgb_30y"]["daily_move"]["z60"] is None
