"""A bounded fuzz of every server callback the app registers (issue 14, "Bad requests").

For EVERY entry of `app.callback_map` it posts `/_dash-update-component` bodies shaped like the
browser's, with one input at a time replaced by a hostile value (wrong type, huge, nested,
unicode, NaN) and the others plausible, plus seeded random mixes and broken envelopes. Every
answer must be < 500, carry no traceback, and nothing may be logged with a traceback.
Seeded and bounded: about a thousand requests, well under 30 s.
"""
from __future__ import annotations

import json
import logging
import random

import pytest
from dash._utils import stringify_id

from config import Settings
from data.store import Store
from views.snapshot import SnapshotService
from tests.unit.web.conftest import own_callbacks
from tests.unit.web.helpers import JGB_ID, LOCAL, UNIVERSE, seed

HOSTILE = [
    None, 0, -1, 3.0, 1e308, -1e308, float("nan"), float("inf"), True, "", "x" * 20000, "é☃\u0000\ud7ff",
    "../../etc/passwd", [], [1, 2], [[[[]]]], ["a"] * 3000, [None], [{"alert_id": ["x"]}],
    {"a": 1}, {"alert_id": 3}, {"panels": "tiles", "rotate": "x"}, {"v": [], "cfg": {}, "fig": 1},
    {"x" * 50: [1.5] * 50},
]
PLAUSIBLE = [
    1, 5, 3.0, "jgb_30y", ["jgb_30y"], ["firing"], ["critical"], "2026-01-20", JGB_ID, "1h", "24h", "60", "250",
    "10Y", "30Y", "all", "bonds", 200, 12, 0.5, {"panels": ["tiles", "curves"], "rotate": 10},
    [{"alert_id": JGB_ID}], "/alerts", "?series=jgb_30y", "/series/jgb_30y", "?window=250",
]
# Plausible values by property, so that one hostile input meets otherwise good company.
BY_PROP = {
    "pathname": ["/", "/alerts", "/series/jgb_30y", "/series/" + "x" * 3000, "/wall", "/contagion", "/nope"],
    "search": ["", "?series=jgb_30y&tier=critical", "?panels=tiles,curves&rotate=10", "?aum=1e308&corr=-7",
               "?window=ewma&asof=2026-01-20", "?alert=" + JGB_ID, "?%ZZ=1&&=&x=" + "é" * 500],
    "n_clicks": [0, 1, 2], "n_intervals": [0, 1, 7], "selectedRows": [[{"alert_id": JGB_ID}], []],
}


def _is_pattern(spec_id: str) -> bool:
    return spec_id.startswith("{")


def _entry(spec: dict, value, rng: random.Random):
    if _is_pattern(spec["id"]):
        base = json.loads(spec["id"])
        n = rng.choice([0, 1, 3])
        return [{"id": {k: (f"item{i}" if v == ["ALL"] else v) for k, v in base.items()},
                 "property": spec["property"], "value": value} for i in range(n)]
    return {"id": spec["id"], "property": spec["property"], "value": value}


def _outputs(cb: dict):
    outs = cb["output"]
    one = lambda o: {"id": o.component_id, "property": o.component_property}  # noqa: E731
    return [one(o) for o in outs] if isinstance(outs, list) else one(outs)


def _plausible(spec: dict, rng: random.Random, csrf: str):
    if spec["id"] == "cm-csrf":
        return csrf
    return rng.choice(BY_PROP.get(spec["property"], PLAUSIBLE))


def _body(key: str, cb: dict, values: list, rng: random.Random) -> dict:
    specs = cb["inputs"] + cb["state"]
    entries = [_entry(s, v, rng) for s, v in zip(specs, values)]
    n_in = len(cb["inputs"])
    changed = [f"{stringify_id(d['id'])}.{d['property']}" for e in entries[:n_in]
               for d in (e if isinstance(e, list) else [e])]
    return {"output": key, "outputs": _outputs(cb), "inputs": entries[:n_in], "state": entries[n_in:],
            "changedPropIds": rng.sample(changed, k=min(len(changed), rng.choice([0, 1, 2])))}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    import app as app_module

    own_callbacks()
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}")
    store.create_schema()
    seed(store)
    service = SnapshotService(store, UNIVERSE, check_every=3600)
    dash_app = app_module.create_app(Settings(), service)
    c = dash_app.server.test_client()
    assert c.get("/", environ_base=LOCAL).status_code == 200      # Dash fills callback_map on first use
    assert c.get("/_dash-layout", environ_base=LOCAL).status_code == 200
    csrf = c.get_cookie("cm_csrf")                                 # so operator actions get past the token
    c.csrf = csrf.value if csrf is not None else ""
    yield dash_app, c
    store.dispose()


def _post(c, body, *, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body, allow_nan=True)
    return c.post("/_dash-update-component", data=data, content_type="application/json",
                  headers={"Origin": "http://localhost"}, environ_base=LOCAL)


def _check(resp, what):
    assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.data[:300]!r}"
    assert b"Traceback" not in resp.data and b'File "' not in resp.data, what


def test_every_callback_survives_hostile_inputs(client, caplog):
    dash_app, c = client
    rng = random.Random(14)
    server_callbacks = {k: cb for k, cb in dash_app.callback_map.items() if "callback" in cb}
    assert len(server_callbacks) >= 20                        # every page's callbacks, the router too
    caplog.set_level(logging.INFO)
    sent = 0
    for key, cb in server_callbacks.items():
        specs = cb["inputs"] + cb["state"]
        n = len(specs)
        for pos in range(n):
            for bad in rng.sample(HOSTILE, 8):
                values = [_plausible(s, rng, c.csrf) for s in specs]
                values[pos] = bad
                _check(_post(c, _body(key, cb, values, rng)), f"{key} input {pos} = {bad!r:.60}")
                sent += 1
        for _ in range(6):                                    # random mixes
            values = [rng.choice(HOSTILE + PLAUSIBLE) for _ in range(n)]
            _check(_post(c, _body(key, cb, values, rng)), f"{key} mix {values!r:.120}")
            sent += 1
    assert 300 < sent < 2000
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, tracebacks[0].getMessage()[:500]


def test_broken_envelopes_are_refused_not_crashed(client, caplog):
    dash_app, c = client
    rng = random.Random(15)
    key, cb = next((k, cb) for k, cb in dash_app.callback_map.items() if k == "al-focus.data")
    good = _body(key, cb, [[{"alert_id": JGB_ID}], None], rng)
    clientside = next(k for k, cb in dash_app.callback_map.items() if "callback" not in cb)
    cases = [
        {}, [], 3, "x", None, {"output": None}, {"output": "no-such.prop"}, {**good, "output": clientside},
        {k: v for k, v in good.items() if k != "inputs"}, {k: v for k, v in good.items() if k != "outputs"},
        {**good, "inputs": "x"}, {**good, "inputs": [1, 2]}, {**good, "inputs": []}, {**good, "inputs": [{}]},
        {**good, "inputs": good["inputs"] * 50}, {**good, "state": {"a": 1}}, {**good, "state": [None]},
        {**good, "outputs": []}, {**good, "outputs": [{"id": 1}]}, {**good, "outputs": "x"},
        {**good, "changedPropIds": "al-grid.selectedRows"}, {**good, "changedPropIds": [1, None, {}]},
        {**good, "changedPropIds": ['{"type":"cg-preset","name".n_clicks']}, {**good, "changedPropIds": ["x" * 5000]},
        {**good, "inputs": [{"id": {"type": ["ALL"]}, "property": "selectedRows", "value": 1}]},
    ]
    caplog.set_level(logging.INFO)
    for body in cases:
        _check(_post(c, body), f"envelope {body!r:.120}")
    for raw in (b"{", b"\xff\xfe", b"[" * 200000 + b"]" * 200000, b'{"output": "al-focus.data"' + b" " * 10):
        _check(_post(c, None, raw=raw), f"raw {raw[:20]!r}")
    resp = c.post("/_dash-update-component", data="output=x", content_type="application/x-www-form-urlencoded",
                  environ_base=LOCAL)
    _check(resp, "form body")
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, tracebacks[0].getMessage()[:500]


def test_unknown_component_suite_paths_are_404(client):
    _app, c = client
    for path in ("/_dash-component-suites/no_such_pkg/x.js", "/_dash-component-suites/dash/nope.js",
                 "/_dash-component-suites/dash/../../config.py", "/_dash-component-suites/os/x.js",
                 "/_dash-component-suites/dash/deps/polyfill@7.v4_4_0m1.min.js.map",
                 "/_dash-component-suites/sys/é.js"):
        r = c.get(path, environ_base=LOCAL)
        assert r.status_code == 404, (path, r.status_code)
        assert b"Traceback" not in r.data
