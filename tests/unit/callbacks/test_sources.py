"""The Sources page's registration (callbacks/sources.py) on the injected provider: the page
arrives with its table drawn for this reader, the first tick sends nothing, a viewer's first
view carries no raw error text, and the /_dash-layout response carries the table."""
from __future__ import annotations

import base64

import dash
import pytest
from dash import no_update

from config import Settings
from data.store import Store
from tests.layout import find, text
from tests.unit.web.helpers import LOCAL, UNIVERSE, seed
from views.snapshot import SnapshotService


@pytest.fixture
def web(tmp_path):
    import app as app_module

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.create_schema()
    seed(store)
    service = SnapshotService(store, UNIVERSE, check_every=0)
    try:
        yield app_module.create_app(Settings(auth_token="t0ken", operator_user="alice", operator_password="pw"),
                                    service), service
    finally:
        store.dispose()


def test_the_page_arrives_drawn_for_its_reader_and_the_first_tick_sends_nothing(web):
    from callbacks.sources import tick
    from components import ids

    dash_app, service = web
    layout = dash.page_registry["sources"]["layout"]
    ctx = dash_app.server.test_request_context
    with ctx("/_dash-layout", headers={"Authorization": "Bearer t0ken"}):
        viewer = layout()
        assert find(viewer, "source-fred") is not None and "network error" in text(viewer)
        assert "fred.stlouisfed.org" not in text(viewer)                 # a viewer: categories only
        assert tick(service.current, 1, find(viewer, ids.SOURCES_TAG).data) == (no_update, no_update)
    op = {"Authorization": "Basic " + base64.b64encode(b"alice:pw").decode()}
    with ctx("/_dash-layout", headers=op):
        operator = layout()
        assert "fred.stlouisfed.org" in text(operator)
        # the operator's tag differs: a viewer's tag on an operator's screen gets the full table
        assert tick(service.current, 1, find(viewer, ids.SOURCES_TAG).data)[1] == find(operator, ids.SOURCES_TAG).data
    r = dash_app.server.test_client().get("/_dash-layout", environ_base=LOCAL,
                                          headers={**op, "Referer": "http://localhost/sources"})
    assert r.status_code == 200 and b"source-fred" in r.data
