"""Bad requests end in a 4xx and one log line (web/guard.py): body cap for every WSGI server,
callback envelopes shaped like the renderer's, unexpected errors without a traceback."""
from __future__ import annotations

import json
import logging

import pytest
from dash.dependencies import Output

from config import Settings
from data.store import Store
from views.snapshot import SnapshotService
from tests.unit.web.conftest import own_callbacks
from tests.unit.web.helpers import LOCAL, UNIVERSE, seed
from web.guard import check_envelope


@pytest.fixture
def make(tmp_path):
    import app as app_module

    stores = []

    def build(**kw):
        own_callbacks()
        store = Store(f"sqlite:///{tmp_path / f'g{len(stores)}.db'}")
        store.create_schema()
        seed(store)
        stores.append(store)
        dash_app = app_module.create_app(Settings(**kw), SnapshotService(store, UNIVERSE, check_every=3600))
        c = dash_app.server.test_client()
        c.get("/", environ_base=LOCAL)
        return dash_app, c

    yield build
    for s in stores:
        s.dispose()


def test_bodies_over_the_cap_are_413_for_any_path(make, caplog):
    _app, c = make()
    caplog.set_level(logging.INFO)
    for path in ("/_dash-update-component", "/api/series", "/nope"):
        r = c.post(path, data=b"[" + b"1," * (600 << 10) + b"1]", content_type="application/json", environ_base=LOCAL)
        assert r.status_code == 413 and r.data == b"request body too large\n", path
    assert len([r for r in caplog.records if "413" in r.getMessage()]) == 3
    assert not any(r.exc_info for r in caplog.records)
    _app, small = make(max_body=64 << 10)
    assert _app.server.config["MAX_CONTENT_LENGTH"] == 64 << 10         # gunicorn and any WSGI server
    r = small.post("/_dash-update-component", data=b"x" * (65 << 10), content_type="application/json",
                   environ_base=LOCAL)
    assert r.status_code == 413


def test_an_unexpected_error_is_one_line_and_no_traceback(make, caplog, monkeypatch):
    import callbacks.markets as markets
    from components import markets as table

    dash_app, c = make()
    key, cb = next((k, cb) for k, cb in dash_app.callback_map.items() if "cm-markets-table" in k)

    def boom(*_a, **_k):
        raise RuntimeError("boom\nwith /secret/path on a second line")

    monkeypatch.setattr(markets, "series_table", boom)
    caplog.set_level(logging.INFO)
    body = {"output": key, "outputs": [{"id": o.component_id, "property": o.component_property} for o in cb["output"]],
            "inputs": [{"id": "cm-refresh", "property": "n_intervals", "value": 1}],
            "state": [{"id": "cm-markets-tag", "property": "data", "value": None}], "changedPropIds": []}
    r = c.post("/_dash-update-component", data=json.dumps(body), content_type="application/json", environ_base=LOCAL)
    assert r.status_code == 500 and r.data == b"internal error\n"
    [rec] = [x for x in caplog.records if x.levelno >= logging.ERROR]
    assert "RuntimeError: boom with /secret/path" in rec.getMessage() and "\n" not in rec.getMessage()
    assert rec.exc_info is None and table.series_table is not None


def _cb(inputs, state=(), output=Output("x", "children")):
    return {"x.children": {"callback": object(), "output": output, "inputs": list(inputs), "state": list(state)}}


def _good(value=1):
    return {"output": "x.children", "outputs": {"id": "x", "property": "children"},
            "inputs": [{"id": "a", "property": "value", "value": value}], "state": [], "changedPropIds": ["a.value"]}


def test_check_envelope():
    cmap = _cb([{"id": "a", "property": "value"}])
    assert check_envelope(_good(), cmap) is None
    assert check_envelope(_good(["any", {"json": [1.5, None]}]), cmap) is None       # values: the callback's job
    bad = [
        [], "x", {**_good(), "output": "y.children"}, {**_good(), "outputs": {"id": "x", "property": "style"}},
        {**_good(), "inputs": []}, {**_good(), "inputs": [{"id": "b", "property": "value"}]},
        {**_good(), "inputs": [{"id": "a", "property": 1}]}, {**_good(), "state": [{}]},
        {**_good(), "changedPropIds": [None]}, {**_good(), "changedPropIds": ["a.value"] * 101},
        {**_good(), "changedPropIds": ["b.value"]}, {**_good(), "changedPropIds": ['{"name":.n_clicks']},
        _good([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
    ]
    for body in bad:
        assert check_envelope(body, cmap) is not None, body
    wild = _cb([{"id": '{"name":["ALL"],"type":"p"}', "property": "n_clicks"}])
    ok = {**_good(), "inputs": [[{"id": {"name": "a", "type": "p"}, "property": "n_clicks", "value": 1}]],
          "changedPropIds": ['{"name":"a","type":"p"}.n_clicks']}
    assert check_envelope(ok, wild) is None
    for entry in ([{"id": {"name": "a", "type": "q"}, "property": "n_clicks"}],
                  [{"id": {"name": ["x"], "type": "p"}, "property": "n_clicks"}],
                  [{"id": {"name": "a", "type": "p"}, "property": "n_clicks"}] * 101, {"id": "p"}):
        assert check_envelope({**ok, "inputs": [entry]}, wild) is not None, entry
    clientside = {"x.children": {"output": Output("x", "children"), "inputs": [], "state": []}}
    assert check_envelope(_good(), clientside) == "no server callback for this output"
