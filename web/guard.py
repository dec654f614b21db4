"""Bad requests end as a 4xx and one log line, never as an exception.

- bodies are capped (`CM_MAX_BODY`, default 1 MiB) by flask's MAX_CONTENT_LENGTH — for every
  WSGI server — besides waitress' own `max_request_body_size`: 413;
- a `/_dash-update-component` POST must have the envelope Dash's renderer sends for a callback
  this app registered (`check_envelope`): output known and served here, outputs / inputs / state
  shaped like the callback's dependencies, bounded lists and nesting; anything else is 400 before
  Dash's dispatcher sees it. The values themselves are each callback's to check
  (callbacks/inputs.py);
- an unknown `/_dash-component-suites/...` path is 404 (Dash raises DependencyException);
- anything unexpected left is answered 500 "internal error" with ONE log line (type, path, a
  short message), no traceback in the body or the log (`CM_LOG_LEVEL=DEBUG` logs it).
"""
from __future__ import annotations

import json
import logging
from typing import Any

from dash._utils import stringify_id
from dash.exceptions import DependencyException, InvalidResourceError
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from web.auth import request_peer

__all__ = ["MAX_DEPTH", "MAX_PATTERN_ITEMS", "check_envelope", "install"]

log = logging.getLogger("contagion.web")

DISPATCH_PATH = "/_dash-update-component"
MAX_PATTERN_ITEMS = 100         # components matched by one ALL/MATCH wildcard
MAX_DEPTH = 32                  # nesting of any value in a callback body
MAX_ID = 1000                   # characters of an id or property


def _text(status: int, body: str) -> Response:
    return Response(body + "\n", status, mimetype="text/plain")


def _depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            if d > limit:
                return False
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return True


def _dep_matches(got: Any, spec_id: Any, prop: str) -> str | None:
    """One {id, property[, value]} entry against a non-wildcard dependency."""
    if not isinstance(got, dict):
        return "dependency is not an object"
    if got.get("id") != spec_id or not isinstance(got.get("property"), str):
        return "dependency id does not match the callback"
    if got["property"].split("@")[0] != prop.split("@")[0]:     # allow_duplicate outputs: "prop@hash"
        return "dependency property does not match the callback"
    return None


def _pattern_matches(got: Any, spec_id: dict, prop: str) -> str | None:
    """A wildcard dependency: a bounded list of entries whose ids have the pattern's keys."""
    if not isinstance(got, list) or len(got) > MAX_PATTERN_ITEMS:
        return "wildcard dependency is not a bounded list"
    for item in got:
        if not isinstance(item, dict) or not isinstance(item.get("id"), dict):
            return "wildcard dependency entry is not an object with an object id"
        ident = item["id"]
        if set(ident) != set(spec_id) or item.get("property") != prop:
            return "wildcard dependency entry does not match the callback"
        for k, want in spec_id.items():
            v = ident[k]
            if not isinstance(v, (str, int, float, bool)) or (isinstance(v, str) and len(v) > MAX_ID):
                return "wildcard id value has a bad type"
            if not isinstance(want, list) and v != want:       # a fixed key of the pattern
                return "wildcard id does not match the callback"
    return None


def _spec(dep_id: str) -> tuple[Any, bool]:
    """(id, is_wildcard) of a callback_map dependency id ('x' or '{"name":["ALL"],...}')."""
    if dep_id.startswith("{"):
        try:
            ident = json.loads(dep_id)
        except ValueError:
            return dep_id, False
        return ident, any(isinstance(v, list) for v in ident.values())
    return dep_id, False


def check_envelope(body: Any, callback_map: dict) -> str | None:
    """Why a callback request body is not one Dash's renderer would send (None: it is)."""
    if not isinstance(body, dict):
        return "body is not a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or len(output) > 10 * MAX_ID:
        return "no output named"
    cb = callback_map.get(output)
    if cb is None or "callback" not in cb:
        return "no server callback for this output"
    if not _depth_ok(body):
        return "values nested too deeply"
    outs = cb["output"]
    got = body.get("outputs")
    if isinstance(outs, (list, tuple)):
        if not isinstance(got, list) or len(got) != len(outs):
            return "outputs do not match the callback"
        pairs = list(zip(got, outs))
    else:
        pairs = [(got, outs)]
    for g, o in pairs:
        ident, wild = _spec(o.component_id_str())
        reason = (_pattern_matches(g, ident, o.component_property) if wild
                  else _dep_matches(g, o.component_id, o.component_property))
        if reason:
            return "outputs: " + reason
    for key, specs in (("inputs", cb["inputs"]), ("state", cb["state"])):
        got = body.get(key, [] if key == "state" else None)
        if not isinstance(got, list) or len(got) != len(specs):
            return f"{key} do not match the callback"
        for g, s in zip(got, specs):
            ident, wild = _spec(s["id"])
            reason = (_pattern_matches(g, ident, s["property"]) if wild
                      else _dep_matches(g, ident, s["property"]))
            if reason:
                return f"{key}: {reason}"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or len(changed) > MAX_PATTERN_ITEMS:
        return "changedPropIds is not a bounded list"
    known = {f"{stringify_id(d['id'])}.{d['property']}" for entry in body["inputs"]
             for d in (entry if isinstance(entry, list) else [entry])}
    if not all(isinstance(c, str) and c in known for c in changed):
        return "changedPropIds names something that is not an input"      # ctx.triggered_id parses them
    return _router_values(body)


def _router_values(body: dict) -> str | None:
    """Dash's own pages router (not ours to edit) takes the location's pathname and search."""
    for dep in body["inputs"]:
        if isinstance(dep, dict) and dep.get("id") == "_pages_location":
            v, prop = dep.get("value"), dep.get("property")
            if v is not None and (not isinstance(v, str) or len(v) > 4000):
                return f"_pages_location.{prop} is not a bounded string"
            if prop == "pathname" and (v is None or not v.startswith("/")):
                return "_pages_location.pathname is not a path"
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def install(server: Flask, dash_app, *, max_body: int) -> None:
    server.config["MAX_CONTENT_LENGTH"] = max_body

    @server.before_request
    def _envelope():
        if request.path != DISPATCH_PATH or request.method != "POST":
            return None
        try:
            body = request.get_json(silent=True)       # cached: Dash's dispatcher reuses it
        except RecursionError:                          # "[[[[…" a million deep
            body = None
        if body is None:
            log.warning("refused 400 POST %s from %s: body is not JSON", request.path, request_peer())
            return _text(400, "bad callback request: body is not JSON")
        reason = check_envelope(body, dash_app.callback_map)
        if reason:
            log.warning("refused 400 POST %s from %s: %s", request.path, request_peer(), reason)
            return _text(400, f"bad callback request: {reason}")
        return None

    @server.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc):
        log.warning("refused 413 %s %.200r from %s: body over %d bytes", request.method, request.path,
                    request_peer(), max_body)
        return _text(413, "request body too large")

    @server.errorhandler(DependencyException)
    @server.errorhandler(InvalidResourceError)
    def _no_such_resource(_exc):
        log.info("refused 404 %s %.200r from %s: unknown resource", request.method, request.path, request_peer())
        return _text(404, "not found")

    @server.errorhandler(Exception)
    def _unexpected(exc):
        if isinstance(exc, HTTPException):
            return exc
        log.error("error 500 %s %.200r from %s: %s: %s", request.method, request.path, request_peer(),
                  type(exc).__name__, _one_line(exc))
        log.debug("traceback of the error above", exc_info=exc)
        return _text(500, "internal error")
