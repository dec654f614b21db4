"""docs/openapi.json describes the JSON API as the code has it: the same routes, the same
parameters and enums, every field an answer carries declared (and of the declared type), and
/api/openapi.json serves the file itself."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from config import Settings
from data.store import Store
from views.snapshot import SnapshotService
from tests.unit.web.helpers import JGB_ID, LOCAL, UNIVERSE, seed

DOC_PATH = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
AUTH = {"Authorization": "Bearer t0ken"}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(DOC_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def web(tmp_path):
    """The seeded store of test_api.py, plus an acknowledgement and a silence, so that every
    optional part of an answer (acknowledged, actor, silences) is there to be checked."""
    import app as app_module
    from alerts.store import AlertStore

    store = Store(f"sqlite:///{tmp_path / 'openapi.db'}")
    store.create_schema()
    seed(store)
    now = dt.datetime.now(dt.timezone.utc)
    alerts = AlertStore(store)
    alerts.acknowledge(JGB_ID, "alice", now, actor="operator:alice")
    alerts.add_silence(until=now + dt.timedelta(days=1), series_id="ust_10y", created_by="alice",
                       reason="auction", now=now, actor="operator:alice")
    dash_app = app_module.create_app(Settings(auth_token="t0ken"), SnapshotService(store, UNIVERSE, check_every=0))
    yield dash_app, dash_app.server.test_client()
    store.dispose()


# ------------------------------------------------------------------ a small schema checker
def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        node = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _type_ok(value, t: str) -> bool:
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[t])


def check(doc: dict, schema: dict, value, where: str = "$") -> list[str]:
    """Problems of `value` against `schema` (the subset of JSON Schema docs/openapi.json uses):
    undeclared fields, missing required ones, wrong types, values outside an enum."""
    schema = _resolve(doc, schema)
    if "anyOf" in schema:
        tries = [check(doc, s, value, where) for s in schema["anyOf"]]
        return [] if any(not t for t in tries) else min(tries, key=len)
    out = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, t) for t in types):
            return [f"{where}: {value!r} is not {types}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        out.append(f"{where}: {value!r} != {schema['const']!r}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{where}: required {key!r} missing")
        for key, v in value.items():
            if key in props:
                out += check(doc, props[key], v, f"{where}.{key}")
            elif extra is False:
                out.append(f"{where}.{key}: not declared in the schema")
            elif isinstance(extra, dict):
                out += check(doc, extra, v, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            out += check(doc, schema["items"], v, f"{where}[{i}]")
    return out


def _response_schema(doc: dict, path: str, status: int) -> dict:
    resp = doc["paths"][path]["get"]["responses"][str(status)]
    return resp["content"]["application/json"]["schema"]


# ------------------------------------------------------------------------------------ tests
def test_document_is_openapi_3_1_and_every_ref_resolves(doc):
    assert doc["openapi"].startswith("3.1.")
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert refs
    for ref in refs:
        _resolve(doc, {"$ref": ref})                         # KeyError when it does not resolve


def test_every_api_route_is_documented_and_every_documented_route_exists(web, doc):
    dash_app, _c = web
    server = dash_app.server
    routes: dict[str, set[str]] = {}
    for rule in server.url_map.iter_rules():
        if not (rule.rule == "/healthz" or rule.rule == "/api" or rule.rule.startswith("/api/")):
            continue
        assert server.view_functions[rule.endpoint].__module__ == "web.api", rule.rule   # nobody else serves here
        if rule.endpoint == "api_not_found":                 # the JSON 404 for every other /api path
            continue
        routes[rule.rule] = {m.lower() for m in rule.methods} - {"head", "options"}
    documented = {p: set(ops) & METHODS for p, ops in doc["paths"].items()}
    assert routes == documented


def test_alerts_parameters_and_enums_are_the_codes(doc):
    from alerts.engine import State
    from alerts.rules import TIERS
    from web import api

    params = {p["name"]: p for p in doc["paths"]["/api/alerts"]["get"]["parameters"]}
    assert set(params) == set(api.ALERT_FILTERS)
    assert all(p["in"] == "query" and not p["required"] for p in params.values())
    assert _resolve(doc, params["tier"]["schema"]["items"])["enum"] == list(TIERS) == list(api.ALERT_TIERS)
    assert _resolve(doc, params["state"]["schema"]["items"])["enum"] == [str(s) for s in State]
    limit = params["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (api.LIMIT_MIN, api.LIMIT_MAX,
                                                                      api.LIMIT_DEFAULT)
    error = doc["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"error", "parameter", "value", "allowed"}
    for path in ("/api/series", "/api/sources", "/api/openapi.json", "/healthz"):
        assert not doc["paths"][path]["get"].get("parameters"), path


@pytest.mark.parametrize("path, status", [
    ("/healthz", 200), ("/api/series", 200), ("/api/sources", 200), ("/api/alerts", 200),
    ("/api/alerts?series=jgb_30y,nope&foo=1", 200), ("/api/series?foo=1", 200),
    ("/api/incidents", 200), ("/api/incidents?market=jp&foo=1", 200),
])
def test_every_field_an_endpoint_returns_is_declared(web, doc, path, status):
    _app, c = web
    r = c.get(path, headers=AUTH, environ_base=LOCAL)
    assert r.status_code == status
    body = r.get_json()
    problems = check(doc, _response_schema(doc, path.split("?")[0], status), body)
    assert problems == []


def test_incidents_parameters_and_enums_are_the_codes(doc):
    from alerts.incidents import MARKET_LABELS
    from web import api

    params = {p["name"]: p for p in doc["paths"]["/api/incidents"]["get"]["parameters"]}
    assert set(params) == set(api.INCIDENT_FILTERS)
    assert _resolve(doc, params["state"]["schema"]["items"])["enum"] == list(api.INCIDENT_STATES)
    assert _resolve(doc, params["market"]["schema"]["items"])["enum"] == list(MARKET_LABELS)
    assert _resolve(doc, params["tier"]["schema"]["items"])["enum"] == list(api.ALERT_TIERS)
    limit = params["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (api.LIMIT_MIN, api.LIMIT_MAX,
                                                                      api.LIMIT_DEFAULT)


def test_the_fixture_reaches_the_optional_parts(web):
    """The check above only means something if the answers carry what the schema declares."""
    _app, c = web
    body = c.get("/api/alerts", headers=AUTH, environ_base=LOCAL).get_json()
    assert body["alerts"][0]["acknowledged"]["actor"] == "operator:alice"
    assert {e["kind"] for e in body["events"]} == {"firing", "acknowledged"}
    assert body["silences"][0]["actor"] == "operator:alice"
    [inc] = c.get("/api/incidents", headers=AUTH, environ_base=LOCAL).get_json()["incidents"]
    assert inc["members"] and inc["lead_alert_id"] == inc["members"][0]["alert_id"]
    series = c.get("/api/series", headers=AUTH, environ_base=LOCAL).get_json()["series"]
    assert any(s["daily_move"] for s in series)


def test_error_answers_match_their_schemas(web, doc):
    _app, c = web
    r = c.get("/api/alerts?tier=bogus", headers=AUTH, environ_base=LOCAL)
    assert r.status_code == 400 and check(doc, _response_schema(doc, "/api/alerts", 400), r.get_json()) == []
    r = c.get("/api/incidents?market=EU", headers=AUTH, environ_base=LOCAL)
    assert r.status_code == 400 and check(doc, _response_schema(doc, "/api/incidents", 400), r.get_json()) == []
    r = c.get("/api/alerts?limit=x", headers=AUTH, environ_base=LOCAL)
    assert r.status_code == 400 and check(doc, _response_schema(doc, "/api/alerts", 400), r.get_json()) == []
    for method in ("GET", "POST"):
        r = c.open("/api/nope", method=method, headers=AUTH, environ_base=LOCAL)
        assert r.status_code == 404
        assert check(doc, {"$ref": "#/components/schemas/NotFound"}, r.get_json()) == []
    r = c.post("/api/alerts", headers=AUTH, environ_base=LOCAL)
    assert r.status_code == 405
    assert check(doc, {"$ref": "#/components/schemas/MethodNotAllowed"}, r.get_json()) == []


def test_the_checker_catches_an_undeclared_field(doc):
    schema = _response_schema(doc, "/api/sources", 200)
    good = {"mode": "live", "simulated": False, "notice": None, "sources": [], "quality_gate": {}}
    assert check(doc, schema, good) == []
    assert check(doc, schema, {**good, "surprise": 1}) == ["$.surprise: not declared in the schema"]
    assert check(doc, schema, {**good, "mode": "LIVE"})
    assert check(doc, schema, {k: v for k, v in good.items() if k != "notice"})


def test_served_document_is_the_file(web):
    _app, c = web
    r = c.get("/api/openapi.json", headers=AUTH, environ_base=LOCAL)
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.get_data() == DOC_PATH.read_bytes()
    assert r.get_json() == json.loads(DOC_PATH.read_text(encoding="utf-8"))


def test_missing_document_is_a_json_404(web, monkeypatch, tmp_path):
    from web import api

    _app, c = web
    monkeypatch.setattr(api, "OPENAPI_PATH", tmp_path / "no-such" / "openapi.json")
    r = c.get("/api/openapi.json", headers=AUTH, environ_base=LOCAL)
    assert r.status_code == 404 and r.get_json()["error"] == "not found"
    assert r.get_json()["path"] == "/api/openapi.json"
