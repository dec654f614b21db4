"""Open and JSON endpoints say what failed, not where: /healthz (open without auth) and
/api/sources carry error categories; the Sources page shows the raw text to the operator only."""
from __future__ import annotations

import json

import pytest

from config import Settings
from data.store import Store
from views.snapshot import SnapshotService
from tests.layout import text
from tests.unit.web.helpers import LOCAL, UNIVERSE, seed

LEAKS = ("10.0.0.5", "5432", "fred.stlouisfed.org", "443", "/home/monitor", "treasury-2026.csv", "monitor")


@pytest.fixture
def web(tmp_path):
    import app as app_module

    store = Store(f"sqlite:///{tmp_path / 'api.db'}")
    store.create_schema()
    seed(store)
    service = SnapshotService(store, UNIVERSE, check_every=0)
    dash_app = app_module.create_app(Settings(auth_token="t0ken"), service)
    yield dash_app, dash_app.server.test_client(), store
    store.dispose()


def test_healthz_names_the_store_failure_not_its_address(web, monkeypatch):
    from sqlalchemy.exc import OperationalError

    _app, c, _store = web

    def down(*_a, **_k):
        raise OperationalError("SELECT 1", {}, Exception(
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL: password '
            'authentication failed for user "monitor"'))

    monkeypatch.setattr(Store, "data_version", down)
    r = c.get("/healthz", environ_base={"REMOTE_ADDR": "198.51.100.7"})        # open: no credentials
    assert r.status_code == 503
    body = r.get_json()
    assert body["store"] == "error" and body["store_error"] == "store unreachable"
    for leak in LEAKS:
        assert leak not in r.get_data(as_text=True), leak


def test_api_sources_last_error_is_a_category(web):
    _app, c, _store = web
    r = c.get("/api/sources", headers={"Authorization": "Bearer t0ken"}, environ_base=LOCAL)
    src = {s["source"]: s for s in r.get_json()["sources"]}
    assert src["fred"]["last_error"] == "network error"
    assert src["treasury"]["last_error"] == "file not found"
    assert src["mof"]["last_error"] is None
    for leak in LEAKS:
        assert leak not in json.dumps(r.get_json()), leak


def test_banner_and_sources_page_detail_only_for_the_operator(tmp_path):
    import app as app_module
    from callbacks.shell import banner_tick
    from callbacks.sources import tick
    from web.redact import public_error

    store = Store(f"sqlite:///{tmp_path / 'src.db'}")
    store.create_schema()
    seed(store)
    try:
        service = SnapshotService(store, UNIVERSE, check_every=0)
        dash_app = app_module.create_app(Settings(auth_token="t0ken", operator_user="alice", operator_password="pw"),
                                         service)

        def sources_view(n, tag):
            return tick(service.current, n, tag)

        def banner_view(n, tag):
            return banner_tick(service.current, lambda: public_error(service.error), n, tag)
        ctx = dash_app.server.test_request_context
        with ctx("/_dash-update-component", method="POST", headers={"Authorization": "Bearer t0ken"}):
            viewer = text(sources_view(1, None)[0])
            banner = text(banner_view(1, None)[0])
        import base64
        op = {"Authorization": "Basic " + base64.b64encode(b"alice:pw").decode()}
        with ctx("/_dash-update-component", method="POST", headers=op):
            operator = text(sources_view(1, None)[0])
        assert "network error" in viewer and "file not found" in viewer and "no network" in banner
        for leak in LEAKS:
            assert leak not in viewer and leak not in banner, leak
        assert "fred.stlouisfed.org" in operator and "/home/monitor/contagion/var/cache/treasury-2026.csv" in operator
    finally:
        store.dispose()


# ------------------------------------------------------------------ /api parameters and paths
# The rule (web/api.py, docs/openapi.json): a known parameter with a value it cannot take is a
# 400 naming it; an unknown parameter name or series id is ignored and named in `notice`; any
# other path under /api/ is a JSON 404. Never an empty 200 for a typo.
AUTH = {"Authorization": "Bearer t0ken"}


def _get(c, path, method="GET"):
    return c.open(path, method=method, headers=AUTH, environ_base=LOCAL)


def test_alerts_tier_and_state_are_case_insensitive(web):
    _app, c, _store = web
    for query in ("tier=CRITICAL", "tier=Critical", "state=FIRING", "tier=critical&state=Firing",
                  "series=JGB_30Y"):
        r = _get(c, f"/api/alerts?{query}")
        assert r.status_code == 200, query
        body = r.get_json()
        assert [a["tier"] for a in body["alerts"]] == ["critical"], query
        assert [e["series_id"] for e in body["events"]] == ["jgb_30y"], query
        assert body["notice"] is None, query


def test_alerts_filters_still_filter(web):
    _app, c, _store = web
    body = _get(c, "/api/alerts?tier=watch,warning").get_json()
    assert body["alerts"] == [] and body["events"] == [] and body["notice"] is None
    assert body["counts"]["firing"] == 1                     # counts are over every alert
    assert _get(c, "/api/alerts?tier=watch&tier=CRITICAL").get_json()["alerts"][0]["tier"] == "critical"
    assert _get(c, "/api/alerts?since=2026-01-20T07:00:00Z").get_json()["events"] == []
    assert len(_get(c, "/api/alerts?since=2026-01-20").get_json()["events"]) == 1
    assert len(_get(c, "/api/alerts?limit=1").get_json()["events"]) == 1


@pytest.mark.parametrize("query, parameter, value, allowed", [
    ("tier=bogus", "tier", "bogus", ["watch", "warning", "critical"]),
    ("tier=critical,bogus", "tier", "bogus", ["watch", "warning", "critical"]),
    ("state=open", "state", "open", ["normal", "pending", "firing", "resolved", "nodata", "error"]),
])
def test_alerts_unknown_enum_value_is_400_naming_the_parameter(web, query, parameter, value, allowed):
    _app, c, _store = web
    r = _get(c, f"/api/alerts?{query}")
    assert r.status_code == 400 and r.is_json
    body = r.get_json()
    assert body["parameter"] == parameter and body["value"] == value and body["allowed"] == allowed
    assert value in body["error"]
    assert "alerts" not in body and "events" not in body


@pytest.mark.parametrize("query, parameter, value", [
    ("limit=-3", "limit", "-3"), ("limit=x", "limit", "x"), ("limit=5000", "limit", "5000"),
    ("limit=0", "limit", "0"), ("limit=2.5", "limit", "2.5"), ("limit=5&limit=6", "limit", "5,6"),
    ("since=nope", "since", "nope"), ("since=2026-13-01", "since", "2026-13-01"),
])
def test_alerts_malformed_limit_or_since_is_400(web, query, parameter, value):
    _app, c, _store = web
    r = _get(c, f"/api/alerts?{query}")
    assert r.status_code == 400 and r.is_json
    body = r.get_json()
    assert body["parameter"] == parameter and body["value"] == value and "allowed" not in body


def test_alerts_since_with_an_unencoded_plus_says_how_to_write_it(web):
    _app, c, _store = web
    r = _get(c, "/api/alerts?since=2026-01-20T09:00:00+09:00")        # '+' arrives as a space
    assert r.status_code == 400 and "%2B" in r.get_json()["error"]
    assert _get(c, "/api/alerts?since=2026-01-20T15:00:00%2B09:00").status_code == 200


def test_unknown_parameter_and_series_are_200_with_a_notice(web):
    _app, c, _store = web
    r = _get(c, "/api/alerts?tire=critical&series=jgb_30y,nope&token=t0ken")
    assert r.status_code == 200
    body = r.get_json()
    assert "'tire'" in body["notice"] and "'nope'" in body["notice"]
    assert "token" not in body["notice"]                     # the share-link credential is not a filter
    assert [a["series_id"] for a in body["alerts"]] == ["jgb_30y"]
    for path in ("/api/series", "/api/sources"):             # they take no parameters: same rule
        r = _get(c, f"{path}?series=jgb_30y")
        assert r.status_code == 200 and "'series'" in r.get_json()["notice"], path
        assert _get(c, path).get_json()["notice"] is None, path


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["/api/x", "/api/alerts/x", "/api", "/api/", "/api/series/"])
def test_unknown_api_path_is_a_json_404(web, method, path):
    _app, c, _store = web
    r = _get(c, path, method)
    assert r.status_code == 404 and r.is_json, (method, path, r.status_code)
    assert r.get_json() == {"error": "not found", "path": path}


def test_unknown_api_path_still_needs_credentials(web):
    _app, c, _store = web
    r = c.get("/api/x", environ_base=LOCAL)
    assert r.status_code == 401                              # no path probing without credentials


def test_real_api_path_with_another_method_is_a_json_405(web):
    _app, c, _store = web
    r = _get(c, "/api/alerts", "POST")
    assert r.status_code == 405 and r.get_json()["error"] == "method not allowed"
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    r = _get(c, "/api/series", "OPTIONS")
    assert r.status_code == 200 and set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_real_routes_still_answer_next_to_the_catch_all(web):
    _app, c, _store = web
    for path in ("/api/series", "/api/sources", "/api/alerts", "/api/openapi.json", "/healthz"):
        r = _get(c, path)
        assert r.status_code == 200 and r.is_json, path
    for path in ("/", "/alerts", "/series/jgb_30y", "/apix"):  # the Dash pages are untouched
        r = _get(c, path)
        assert r.status_code == 200 and r.mimetype == "text/html", path


# ------------------------------------------------------------------ /api/incidents
def test_incidents_lists_the_seeded_jgb_incident_with_its_members(web):
    _app, c, _store = web
    body = _get(c, "/api/incidents").get_json()
    assert body["notice"] is None
    [inc] = body["incidents"]
    assert (inc["market"], inc["state"], inc["tier"]) == ("JP", "open", "critical")
    assert inc["headline"] == "JGB 30Y +20.3 bp, 7.6σ"
    assert [m["series_id"] for m in inc["members"]] == ["jgb_30y"] and inc["count"] == 1


@pytest.mark.parametrize("query, n", [
    ("state=open", 1), ("state=RESOLVED", 0), ("tier=critical", 1), ("tier=watch,warning", 0),
    ("market=jp", 1), ("market=US,FX", 0), ("series=JGB_30Y", 1), ("series=ust_10y", 0),
    ("since=2026-01-20", 1), ("since=2100-01-01", 0), ("limit=1", 1),
])
def test_incidents_filters_filter(web, query, n):
    _app, c, _store = web
    r = _get(c, f"/api/incidents?{query}")
    assert r.status_code == 200, query
    assert len(r.get_json()["incidents"]) == n, query


@pytest.mark.parametrize("query, parameter, value", [
    ("state=firing", "state", "firing"), ("tier=bogus", "tier", "bogus"), ("market=EU", "market", "EU"),
    ("limit=0", "limit", "0"), ("since=nope", "since", "nope"), ("limit=1&limit=2", "limit", "1,2"),
])
def test_incidents_bad_value_is_400_naming_the_parameter(web, query, parameter, value):
    _app, c, _store = web
    r = _get(c, f"/api/incidents?{query}")
    assert r.status_code == 400 and r.is_json
    body = r.get_json()
    assert (body["parameter"], body["value"]) == (parameter, value) and "incidents" not in body


def test_incidents_unknown_parameter_and_series_are_a_notice(web):
    _app, c, _store = web
    body = _get(c, "/api/incidents?tire=critical&series=jgb_30y,nope").get_json()
    assert "'tire'" in body["notice"] and "'nope'" in body["notice"]
    assert len(body["incidents"]) == 1
