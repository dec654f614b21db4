"""The frame: unknown pages answer 404 with a not-found page, the menu folds on a phone, the
time-zone picker and `?tz=` (a bad zone gets the notice like any other parameter)."""
from __future__ import annotations

import pytest

from config import Settings
from data.store import Store
from universe import load_universe
from views.snapshot import SnapshotService
from tests.layout import find, text

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


@pytest.fixture
def client(tmp_path):
    import app as app_module

    store = Store(f"sqlite:///{tmp_path / 'shell.db'}")
    store.create_schema()
    dash_app = app_module.create_app(Settings(), SnapshotService(store, load_universe(), check_every=0))
    yield dash_app.server.test_client()
    store.dispose()


@pytest.mark.parametrize("path,status", [("/", 200), ("/markets", 200), ("/series/jgb_30y", 200), ("/wall", 200),
                                         ("/alerts", 200), ("/sources", 200), ("/contagion", 200),
                                         ("/nope", 404), ("/series/jgb_30y/x", 404), ("/Markets", 404)])
def test_unknown_pages_answer_404_and_known_ones_200(client, path, status):
    r = client.get(path, environ_base=LOCAL)
    assert r.status_code == status and r.mimetype == "text/html"


def test_not_found_page_names_the_pages():
    from components.shell import NAV, not_found

    body = text(not_found())
    assert "Page not found" in body and all(href in body for _label, href in NAV) and "/api/openapi.json" in body


def test_menu_folds_behind_a_button_and_offers_three_zones():
    from components import ids
    from components.shell import shell

    frame = shell(None, refresh_ms=5000, clock={"kind": "system"})
    assert find(frame, ids.NAV_TOGGLE) is not None
    collapse = find(frame, ids.NAV_COLLAPSE)
    assert collapse is not None and collapse.is_open is False and find(collapse, ids.TZ) is not None
    assert [o["value"] for o in find(frame, ids.TZ).options] == ["utc", "tokyo", "newyork"]


def test_tz_is_a_view_parameter_of_every_page():
    from components.urlstate import parse

    assert parse((), {"tz": "tokyo"}) == ({}, [])
    assert parse((), {"tz": "Tokyo"}) == ({}, [])
    values, notices = parse((), {"tz": "mars"})
    assert values == {} and "tz='mars'" in notices[0] and "utc" in notices[0]
