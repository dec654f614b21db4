"""Open and JSON endpoints say what failed, not where: /healthz (open without auth) and
/api/sources carry error categories; the Sources page shows the raw text to the operator only."""
from __future__ import annotations

import json

import pytest

from config import Settings
from data.snapshot import SnapshotService
from data.store import Store
from tests.unit.web.helpers import LOCAL, UNIVERSE, seed

LEAKS = ("10.0.0.5", "5432", "fred.stlouisfed.org", "443", "/home/monitor", "treasury-2026.csv", "monitor")


@pytest.fixture
def web(tmp_path):
    import app as app_module
    from web import state

    store = Store(f"sqlite:///{tmp_path / 'api.db'}")
    store.create_schema()
    seed(store)
    old = state._service
    service = SnapshotService(store, UNIVERSE, check_every=0)
    dash_app = app_module.create_app(Settings(auth_token="t0ken"), service)
    yield dash_app, dash_app.server.test_client(), store
    state._service = old
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
    from callbacks.shell import banner_view
    from callbacks.sources import sources_view
    from web import state

    store = Store(f"sqlite:///{tmp_path / 'src.db'}")
    store.create_schema()
    seed(store)
    old = state._service
    try:
        dash_app = app_module.create_app(Settings(auth_token="t0ken", operator_user="alice", operator_password="pw"),
                                         SnapshotService(store, UNIVERSE, check_every=0))
        ctx = dash_app.server.test_request_context
        with ctx("/_dash-update-component", method="POST", headers={"Authorization": "Bearer t0ken"}):
            viewer = str(sources_view(1, None)[0])
            banner = str(banner_view(1, None)[0])
        import base64
        op = {"Authorization": "Basic " + base64.b64encode(b"alice:pw").decode()}
        with ctx("/_dash-update-component", method="POST", headers=op):
            operator = str(sources_view(1, None)[0])
        assert "network error" in viewer and "file not found" in viewer and "network error" in banner
        for leak in LEAKS:
            assert leak not in viewer and leak not in banner, leak
        assert "fred.stlouisfed.org" in operator and "/home/monitor/contagion/var/cache/treasury-2026.csv" in operator
    finally:
        state._service = old
        store.dispose()
