"""Who may read and who may act (web/auth.py), through the real flask app and its test client:
Host allow-list, this machine only without credentials, viewer vs operator, Origin and CSRF on
operator actions (the issue-14 DNS-rebinding silence), non-ASCII credentials."""
from __future__ import annotations

import base64
import json
import re

import dash
import pytest

from config import Settings
from data.store import Store
from views.snapshot import SnapshotService
from tests.unit.web.conftest import own_callbacks
from tests.unit.web.helpers import JGB_ID, LOCAL, TS, UNIVERSE, seed

REMOTE = {"REMOTE_ADDR": "198.51.100.7"}


@pytest.fixture
def make(tmp_path):
    """make(**settings) → (dash app, test client, store) on a seeded store."""
    import app as app_module

    stores = []

    def build(**kw):
        own_callbacks()
        store = Store(f"sqlite:///{tmp_path / f'auth{len(stores)}.db'}")
        store.create_schema()
        seed(store)
        stores.append(store)
        dash_app = app_module.create_app(Settings(**kw), SnapshotService(store, UNIVERSE, check_every=3600))
        return dash_app, dash_app.server.test_client(), store

    yield build
    for s in stores:
        s.dispose()


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _csrf_from_layout(client, **kw) -> str:
    """The page's CSRF token: embedded in the layout and set as the cm_csrf cookie."""
    r = client.get("/_dash-layout", **kw)
    assert r.status_code == 200, r.data[:200]
    cookie = client.get_cookie("cm_csrf")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    assert cookie.value in r.get_data(as_text=True)        # the dcc.Store holds the same value
    return cookie.value


def _silence_body(dash_app, csrf, focus=JGB_ID) -> dict:
    key, cb = next((k, cb) for k, cb in dash_app.callback_map.items()
                   if "al-silence-rule" in json.dumps(cb["inputs"]) and "callback" in cb)
    values = {"al-silence-rule": 1, "al-silence-series": None, "al-focus": focus, "al-silence-duration": "24h",
              "al-who": "mallory", "al-bump": 0, "cm-csrf": csrf}
    dep = lambda s: {"id": s["id"], "property": s["property"], "value": values[s["id"]]}  # noqa: E731
    return {"output": key, "outputs": [{"id": o.component_id, "property": o.component_property} for o in cb["output"]],
            "inputs": [dep(s) for s in cb["inputs"]], "state": [dep(s) for s in cb["state"]],
            "changedPropIds": ["al-silence-rule.n_clicks"]}


def _post(client, body, **kw):
    return client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json", **kw)


def _silences(store):
    from alerts.store import AlertStore

    return AlertStore(store).active_silences(TS)


# --------------------------------------------------------------------------------- Host
def test_a_host_that_is_not_ours_is_refused_for_reads_and_writes(make):
    dash_app, c, store = make()
    assert c.get("/", environ_base=LOCAL).status_code == 200
    for path in ("/", "/alerts", "/api/alerts", "/api/series", "/_dash-layout", "/healthz", "/login"):
        r = c.get(path, headers={"Host": "attacker.example"}, environ_base=LOCAL)
        assert r.status_code == 400 and r.data == b"unknown host\n", path
    for host in ("localhost:8050", "127.0.0.1:8050", "[::1]:8050", "LOCALHOST", "localhost."):
        assert c.get("/api/series", headers={"Host": host}, environ_base=LOCAL).status_code == 200, host
    for host in ("", "localhost:80:80", "localhost:http", "[::1", "attacker.example:8050", "localhost.attacker.example",
                 "127.0.0.1.nip.io", "a b"):
        assert c.get("/api/series", headers={"Host": host}, environ_base=LOCAL).status_code == 400, host


def test_the_dns_rebinding_silence_of_issue_14_is_refused(make):
    """A page on attacker.example (resolving to 127.0.0.1) in the operator's own browser POSTs
    the silence callback: Host and Origin attacker.example. Nothing is silenced."""
    dash_app, c, store = make()
    csrf = _csrf_from_layout(c, environ_base=LOCAL)
    evil = {"Host": "attacker.example", "Origin": "http://attacker.example"}
    r = _post(c, _silence_body(dash_app, csrf), headers=evil, environ_base=LOCAL)
    assert r.status_code == 400 and b"Silenced" not in r.data
    # Our Host but a foreign Origin (a cross-site form or fetch): 403 before any callback runs.
    r = _post(c, _silence_body(dash_app, csrf), headers={"Origin": "http://attacker.example"}, environ_base=LOCAL)
    assert r.status_code == 403 and b"Silenced" not in r.data
    # Without the page's token (a request forged without reading the page): refused in the callback.
    r = _post(c, _silence_body(dash_app, "x" * 43), headers={"Origin": "http://localhost"}, environ_base=LOCAL)
    assert r.status_code == 200 and b"nothing written" in r.data and b"Silenced" not in r.data
    assert _silences(store) == []
    # The dashboard's own page on this machine: written, with who and when.
    r = _post(c, _silence_body(dash_app, csrf), headers={"Origin": "http://localhost"}, environ_base=LOCAL)
    assert r.status_code == 200 and b"Silenced rule jgb_curve_z for 24h" in r.data
    [sil] = _silences(store)
    assert sil.created_by == "mallory" and sil.created_at is not None


def test_allowed_hosts_with_credentials(make):
    _app, c, _store = make(auth_token="t0ken", allowed_hosts=("monitor.example.com", ".desk.example.com"))
    bearer = {"Authorization": "Bearer t0ken"}
    for host in ("monitor.example.com", "MONITOR.example.com:443", "desk.example.com", "a.desk.example.com"):
        assert c.get("/api/series", headers={"Host": host, **bearer}, environ_base=REMOTE).status_code == 200, host
    for host in ("example.com", "xdesk.example.com", "monitor.example.com.attacker.example"):
        assert c.get("/api/series", headers={"Host": host, **bearer}, environ_base=REMOTE).status_code == 400, host


# --------------------------------------------------------------------------------- beyond loopback
def test_without_credentials_only_this_machine_is_served(make):
    """`gunicorn app:server` (or any WSGI server) with CM_GUNICORN_BIND=0.0.0.0 and no credentials:
    the app itself answers another address, or a proxied request, 403 — /healthz included."""
    _app, c, _store = make()
    for path in ("/api/alerts", "/api/series", "/", "/healthz", "/_dash-layout"):
        r = c.get(path, environ_base=REMOTE)
        assert r.status_code == 403 and b"this machine only" in r.data, path
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host"):
        r = c.get("/api/alerts", headers={header: "203.0.113.9"}, environ_base=LOCAL)
        assert r.status_code == 403, header
    assert c.get("/api/alerts", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert c.get("/api/alerts", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"}).status_code == 200
    assert c.get("/api/alerts", environ_base={"REMOTE_ADDR": ""}).status_code == 403     # a unix socket


def test_with_credentials_loopback_is_no_one_special(make):
    """Behind ssh -L, a TCP balancer or nginx's default proxy every request is from 127.0.0.1:
    with credentials configured, loopback must authenticate like anyone else, and is no operator."""
    dash_app, c, store = make(auth_token="t0ken")
    assert c.get("/api/alerts", environ_base=LOCAL).status_code == 401
    assert c.get("/healthz", environ_base=REMOTE).status_code in (200, 503)     # for load balancers
    csrf = _csrf_from_layout(c, headers={"Authorization": "Bearer t0ken"}, environ_base=LOCAL)
    r = _post(c, _silence_body(dash_app, csrf), headers={"Authorization": "Bearer t0ken", "Origin": "http://localhost"},
              environ_base=LOCAL)
    assert r.status_code == 200 and b"read-only" in r.data and b"nothing written" in r.data
    assert _silences(store) == []


# --------------------------------------------------------------------------------- roles
OPS = dict(auth_token="share-t0ken", auth_user="risk", auth_password="view-pw", operator_user="alice",
           operator_password="op-pw")


def test_viewers_read_operators_act_and_each_act_records_who(make):
    from alerts.store import AlertStore

    dash_app, c, store = make(**OPS)
    origin = {"Origin": "http://localhost"}
    # The share link and the read-only user read everything…
    assert c.get("/api/alerts?token=share-t0ken", environ_base=REMOTE).status_code == 200
    c.delete_cookie("cm_auth")
    assert c.get("/alerts", headers=_basic("risk", "view-pw"), environ_base=REMOTE).status_code == 200
    # …but may not act, even with the page's token.
    for creds in (_basic("risk", "view-pw"), {"Authorization": "Bearer share-t0ken"}):
        csrf = _csrf_from_layout(c, headers=creds, environ_base=REMOTE)
        r = _post(c, _silence_body(dash_app, csrf), headers={**creds, **origin}, environ_base=REMOTE)
        assert b"operator login" in r.data and b"nothing written" in r.data
    assert _silences(store) == []
    # The operator acts; the acknowledgement records the signed-in user, never the password.
    op = _basic("alice", "op-pw")
    csrf = _csrf_from_layout(c, headers=op, environ_base=REMOTE)
    r = _post(c, _silence_body(dash_app, csrf), headers={**op, **origin}, environ_base=REMOTE)
    assert b"Silenced rule jgb_curve_z for 24h" in r.data
    from callbacks.alerts import acknowledge
    service = SnapshotService(store, UNIVERSE, check_every=3600)
    with dash_app.server.test_request_context("/_dash-update-component", method="POST", environ_base=REMOTE,
                                              headers={**op, **origin, "Cookie": f"cm_csrf={csrf}"}):
        msg, bump = acknowledge(service, 1, JGB_ID, "", 0, csrf)
    assert "Acknowledged by operator (alice (operator))" in str(msg) and bump == 1
    body = AlertStore(store).payload(TS)
    [a] = [a for a in body["alerts"] if a["alert_id"] == JGB_ID]
    assert a["acknowledged"]["actor"] == "alice (operator)"
    assert [s["actor"] for s in body["silences"]] == ["alice (operator)"]
    assert "op-pw" not in json.dumps(body)


def test_the_alerts_page_says_who_you_are_and_offers_the_operator_login(make):
    _app, c, _store = make(**OPS)
    from components import alerts as al
    from tests.layout import find

    with _app.server.test_request_context("/alerts", environ_base=REMOTE, headers={"Authorization": "Bearer share-t0ken"}):
        page = dash.page_registry["alerts"]["layout"]()   # the page on this app's service
    assert "share link (viewer)" in str(find(page, al.AL_SIGNED_IN).children)
    assert "/login?next=/alerts" in str(find(page, al.AL_SIGNED_IN).children)
    assert find(page, al.AL_ACK).disabled is True and "operator login" in find(page, al.AL_READONLY).children
    with _app.server.test_request_context("/alerts", environ_base=REMOTE, headers=_basic("alice", "op-pw")):
        page = dash.page_registry["alerts"]["layout"]()   # the page on this app's service
    assert "alice (operator)" in str(find(page, al.AL_SIGNED_IN).children) and find(page, al.AL_ACK).disabled is False
    assert find(page, al.AL_WHO).value == "alice"


def test_login_asks_for_the_operator_and_goes_back(make):
    _app, c, _store = make(**OPS)
    r = c.get("/login?token=share-t0ken", environ_base=REMOTE)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic ")
    r = c.get("/login?next=/alerts%3Falert%3Dx", headers=_basic("alice", "op-pw"), environ_base=REMOTE)
    assert r.status_code == 303 and r.headers["Location"] == "/alerts?alert=x"
    r = c.get("/login?next=//attacker.example/", headers=_basic("alice", "op-pw"), environ_base=REMOTE)
    assert r.headers["Location"] == "/alerts"                     # no open redirect
    _app2, c2, _ = make(auth_token="t0ken")
    assert c2.get("/login", headers={"Authorization": "Bearer t0ken"}, environ_base=REMOTE).status_code == 404
    _app3, c3, _ = make()
    assert c3.get("/login", environ_base=LOCAL).status_code == 303   # the local user is the operator


# --------------------------------------------------------------------------------- credentials
def test_non_ascii_credentials_never_500(make):
    _app, c, _store = make(auth_token="t0ken", auth_user="risk", auth_password="pässwörd-日本")
    tries = [{"Authorization": "Bearer é"}, {"Authorization": "Bearer \u00e9\u00ff"}, {"Authorization": "Basic é"},
             {"Authorization": "Basic " + base64.b64encode("rïsk:é".encode()).decode()},
             {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode()},
             {"Authorization": "Basic !!!"}, {"Cookie": "cm_auth=é"}]
    for h in tries:
        assert c.get("/api/series", headers=h, environ_base=REMOTE).status_code == 401, h
    for q in ("?token=%C3%A9", "?token=%FF", "?token=%ED%A0%80", "?token=" + "é" * 5000):
        assert c.get("/api/series" + q, environ_base=REMOTE).status_code == 401, q
    # The right non-ASCII password works (UTF-8, as browsers send it with charset="UTF-8").
    good = base64.b64encode("risk:pässwörd-日本".encode()).decode()
    assert c.get("/api/series", headers={"Authorization": f"Basic {good}"}, environ_base=REMOTE).status_code == 200


def test_a_non_ascii_token_works_as_a_link_a_header_and_a_cookie(make):
    _app, c, _store = make(auth_token="токен-é")
    assert c.get("/api/series?token=%D1%82%D0%BE%D0%BA%D0%B5%D0%BD-%C3%A9", environ_base=REMOTE).status_code == 200
    assert c.get("/api/series", environ_base=REMOTE).status_code == 200          # the cookie it set
    c.delete_cookie("cm_auth")
    raw = "Bearer " + "токен-é".encode().decode("latin-1")                      # the bytes on the wire
    assert c.get("/api/series", headers={"Authorization": raw}, environ_base=REMOTE).status_code == 200


def test_refusals_log_one_line_and_never_a_secret(make, caplog):
    import logging

    _app, c, _store = make(auth_token="s3cret-t0ken", operator_user="alice", operator_password="op-s3cret")
    caplog.set_level(logging.INFO)
    c.get("/api/series?token=s3cret-t0kenX", environ_base=REMOTE)
    c.get("/api/series", headers={"Authorization": "Bearer s3cret-t0kenY"}, environ_base=REMOTE)
    c.get("/api/series", headers={"Host": "attacker.example'\"%0a"}, environ_base=REMOTE)
    c.get("/api/series?token=s3cret-t0ken", environ_base=REMOTE)
    c.get("/login", headers=_basic("alice", "op-s3cret"), environ_base=REMOTE)
    text = caplog.text
    assert "s3cret" not in text
    refused = [r for r in caplog.records if r.getMessage().startswith("refused")]
    assert len(refused) == 3 and all(r.exc_info is None and "\n" not in r.getMessage() for r in refused)


def test_no_framing_by_other_sites_and_no_referer_leak(make):
    _app, c, _store = make()
    for path in ("/", "/alerts", "/api/alerts", "/_dash-layout"):
        h = c.get(path, environ_base=LOCAL).headers
        assert h["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in h["Content-Security-Policy"], path
        assert h["Referrer-Policy"] == "same-origin" and h["X-Content-Type-Options"] == "nosniff"


def test_the_csrf_cookie_is_reused_and_marked(make):
    _app, c, _store = make()
    first = _csrf_from_layout(c, environ_base=LOCAL)
    assert _csrf_from_layout(c, environ_base=LOCAL) == first       # one token per browser, not per page
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", first)
