"""JSON for machines and for the risk team's own tools: /healthz, /api/series, /api/sources,
/api/alerts, and their OpenAPI 3.1 description at /api/openapi.json (docs/openapi.json).

One rule for parameters, on every endpoint: a known parameter with a value it cannot take is
HTTP 400 `{"error", "parameter", "value", "allowed"?}`; an unknown parameter name or series id is
ignored and listed in `notice`. Any other path under /api/ is a JSON 404 (405 for a real path
asked with another method), never the Dash page.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

from typing import Callable

from flask import Flask, Response, jsonify, request

from alerts.engine import State
from alerts.incidents import MARKET_LABELS
from alerts.rules import TIERS
from views.snapshot import Snapshot
from web.boot import BOOT_ID
from web.redact import public_error


def _iso(ts: dt.datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _num(x: float | None, nd: int = 6) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)


TRANSPORT_PARAMS = ("token",)        # the share-link credential (`?token=`), read by web/auth.py: never a notice

STAT_FIELDS = {"move": "move", "sigma_w60": "sigma60", "z_w60": "z60", "z_w250": "z250", "z_ewma": "z_ewma",
               "z_mad250": "z_mad250", "rarity_share": "rarity_share", "return_period_years": "return_period_years",
               "normal_equiv_sigma": "normal_equiv_sigma"}


def _move_stats(snap) -> dict[str, dict]:
    """Latest 1-day daily statistics per series, from the precomputed move table."""
    frame = snap.move_frame()
    if frame.empty:
        return {}
    d1 = frame[(frame["kind"] == "daily") & (frame["horizon"] == 1)]
    out = {}
    for r in d1.to_dict("records"):
        stats = {name: _num(r.get(col), 4) if isinstance(r.get(col), float) and math.isfinite(r.get(col))
                 else None for col, name in STAT_FIELDS.items()}
        stats["as_of"] = _iso(r["ts"].to_pydatetime()) if r.get("ts") is not None else None
        stats["window_end"] = _iso(r["window_end"].to_pydatetime()) if r.get("window_end") is not None else None
        out[r["series_id"]] = stats
    return out


def _unknown_params(args, known: tuple[str, ...] = ()) -> list[str]:
    """Notices for parameter names an endpoint does not take (ignored, never an error)."""
    return [f"unknown parameter {key!r} ignored" for key in (args or ())
            if key not in known and key not in TRANSPORT_PARAMS]


def series_payload(snap: Snapshot, args=None) -> dict:
    """Every series; takes no parameters (any given is listed in `notice`, next to the demo notice)."""
    now = snap.now()
    states = snap.source_states()
    stats = _move_stats(snap)
    notices = (["SIMULATED market data (demo mode), not real prices"] if snap.simulated else []) + _unknown_params(args)
    return {
        "mode": snap.mode,
        "simulated": snap.simulated,
        "notice": "; ".join(notices) or None,
        "clock": _iso(now),
        "data_version": snap.version,
        "series": [
            {
                "id": r.id, "label": r.label, "market": r.market, "kind": r.kind,
                "change_unit": r.unit, "value": _num(r.value), "prev_close": _num(r.prev_close),
                "change": _num(r.change, 4), "as_of": _iso(r.as_of), "freq": r.freq,
                "age_seconds": None if r.as_of is None else round((now - r.as_of).total_seconds(), 1),
                "source": r.source, "primary_source": r.primary_source,
                "stale": r.is_stale(now), "source_state": states.get(r.source, "never"),
                "simulated": snap.simulated, "quality": r.quality, "quality_note": r.quality_note,
                "daily_move": stats.get(r.id),
            }
            for r in snap.rows
        ],
    }


def sources_payload(snap: Snapshot, args=None) -> dict:
    """Source health; takes no parameters (any given is listed in `notice`)."""
    states = snap.source_states()
    return {
        "mode": snap.mode,
        "simulated": snap.simulated,
        "notice": "; ".join(_unknown_params(args)) or None,
        "sources": [
            {
                "source": s.health.source, "state": states.get(s.health.source), "every_seconds": s.every,
                "progress": s.progress or None,
                "last_attempt": _iso(s.health.last_attempt), "last_success": _iso(s.health.last_success),
                "last_error": public_error(s.health.last_error), "last_error_at": _iso(s.health.last_error_at),
                "consecutive_failures": s.health.consecutive_failures,
                "rows_written_total": s.health.rows_written_total, "rows_last": s.health.rows_last,
                "rejected_last": s.health.rejected_last, "rejected_total": s.health.rejected_total,
                "last_rejection": s.health.last_rejection, "problems": list(s.problems),
            }
            for s in snap.sources
        ],
        "quality_gate": snap.gate,
    }


ALERT_FILTERS = ("series", "state", "tier", "since", "limit")
ALERT_TIERS = tuple(TIERS)                              # watch, warning, critical
ALERT_STATES = tuple(str(s) for s in State)             # normal, pending, firing, resolved, nodata, error
LIMIT_DEFAULT, LIMIT_MIN, LIMIT_MAX = 200, 1, 1000
INCIDENT_FILTERS = ("series", "state", "tier", "market", "since", "limit")
INCIDENT_STATES = ("open", "resolved")
INCIDENT_MARKETS = tuple(MARKET_LABELS)                 # JP, US, FX, GLOBAL, cross
_DIGITS = re.compile(r"[0-9]{1,7}")


class ParamError(ValueError):
    """A known parameter with a value it cannot take: the answer is HTTP 400 with `body()`."""

    def __init__(self, parameter: str, value: str, error: str, allowed: tuple[str, ...] | None = None) -> None:
        super().__init__(error)
        self.parameter, self.value, self.error, self.allowed = parameter, value, error, allowed

    def body(self) -> dict:
        out = {"error": self.error, "parameter": self.parameter, "value": self.value[:200]}
        if self.allowed is not None:
            out["allowed"] = list(self.allowed)
        return out


def _getlist(args, key: str) -> list[str]:
    return list(args.getlist(key)) if hasattr(args, "getlist") else ([args[key]] if key in args else [])


def _items(args, key: str) -> list[str]:
    """A comma list, over repeats too (`tier=watch,critical` = `tier=watch&tier=critical`); blanks dropped."""
    return [v.strip() for raw in _getlist(args, key) for v in str(raw).split(",") if v.strip()]


def _one(args, key: str) -> str | None:
    """A single-valued parameter: None when absent or empty, 400 when given twice."""
    vals = [str(v).strip() for v in _getlist(args, key) if str(v).strip()]
    if len(vals) > 1:
        raise ParamError(key, ",".join(vals), f"{key} given {len(vals)} times: give it once")
    return vals[0] if vals else None


def _enum(args, key: str, allowed: tuple[str, ...]) -> list[str]:
    """Values of an enum parameter, case-folded; the first value not in `allowed` is a 400."""
    out = []
    for v in _items(args, key):
        folded = v.casefold()
        if folded not in allowed:
            raise ParamError(key, v, f"{key}={v!r} is not a known {key}", allowed)
        out.append(folded)
    return out


def _since(raw: str) -> dt.datetime:
    try:
        since = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        hint = " (a '+' in a query string reads as a space: write it %2B)" if " " in raw else ""
        raise ParamError("since", raw, f"since={raw!r} is not an ISO 8601 date or date-time{hint}") from None
    return since if since.tzinfo is not None else since.replace(tzinfo=dt.timezone.utc)


def _limit(raw: str) -> int:
    n = int(raw) if _DIGITS.fullmatch(raw) else None
    if n is None or not LIMIT_MIN <= n <= LIMIT_MAX:
        raise ParamError("limit", raw, f"limit={raw!r} is not an integer from {LIMIT_MIN} to {LIMIT_MAX}")
    return n


def _at(e: dict) -> dt.datetime | None:
    try:
        at = dt.datetime.fromisoformat(e["at"].replace("Z", "+00:00")) if e.get("at") else None
    except (TypeError, ValueError):
        return None
    return at if at is None or at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)


def _series_param(args, snap, subjects, notices: list[str]) -> list[str]:
    """The `series` parameter resolved without regard to case against the universe's ids and the
    `subjects` the answer is about; unknown ids are named in `notices` and dropped."""
    known = {r.id.casefold(): r.id for r in snap.rows}
    for sid in subjects:
        if sid:
            known.setdefault(str(sid).casefold(), sid)
    wanted = _items(args, "series")
    bad = [v for v in wanted if v.casefold() not in known]
    if bad:
        notices.append(f"unknown series {bad} ignored")
    return [known[v.casefold()] for v in wanted if v.casefold() in known]


def alerts_view(snap: Snapshot, args) -> dict:
    """`snap`'s alert payload, filtered in memory (no database query per request).

    One rule for every /api endpoint (docs/openapi.json): a known parameter with a value it cannot
    take (an unknown tier or state, a limit that is not an integer in 1..1000, a since that is not
    ISO 8601) raises `ParamError` — HTTP 400 naming the parameter; an unknown parameter name or an
    unknown series id is ignored and listed in `notice`. Tier and state values are case-folded,
    series ids matched without regard to case. An empty value is the same as leaving it out.
    """
    body = snap.alerts or {"alerts": [], "events": [], "silences": [], "counts": {}}
    alerts, events = list(body.get("alerts", [])), list(body.get("events", []))
    # Validate every known parameter before filtering anything: a 400 names the first bad one.
    states = _enum(args, "state", ALERT_STATES)
    tiers = _enum(args, "tier", ALERT_TIERS)
    raw_since, raw_limit = _one(args, "since"), _one(args, "limit")
    since = None if raw_since is None else _since(raw_since)
    limit = LIMIT_DEFAULT if raw_limit is None else _limit(raw_limit)
    notices = _unknown_params(args, ALERT_FILTERS)
    # Known series: the universe's, and the subjects alerts are about (a spread: "ust_10y-jgb_10y").
    series = _series_param(args, snap, (x.get("series_id") for x in alerts + events), notices)
    if series:
        alerts = [a for a in alerts if a.get("series_id") in series]
        events = [e for e in events if e.get("series_id") in series]
    for field_name, want in (("state", states), ("tier", tiers)):
        if want:
            alerts = [a for a in alerts if a.get(field_name) in want]
            events = [e for e in events if e.get(field_name) in want]
    if since is not None:
        events = [e for e in events if (at := _at(e)) is not None and at >= since]
    return {"mode": snap.mode, "simulated": snap.simulated, "generated_at": body.get("generated_at"),
            "counts": body.get("counts", {}), "alerts": alerts, "events": events[:limit],
            "silences": body.get("silences", []), "notice": "; ".join(notices) or None}


def incidents_view(snap: Snapshot, args) -> dict:
    """The snapshot's incidents (alerts/incidents.py), filtered in memory under the same rule as
    `alerts_view`: `series` matches any member, `state` is open|resolved, `tier` the incident's
    worst tier, `market` its market (JP, US, FX, cross), `since` its last change, `limit` counts
    incidents (open ones first, then the most recently changed)."""
    body = snap.alerts or {}
    incidents = list(body.get("incidents") or [])
    states = _enum(args, "state", INCIDENT_STATES)
    tiers = _enum(args, "tier", ALERT_TIERS)
    markets_known = {str(i.get("market")).casefold(): i.get("market") for i in incidents if i.get("market")}
    markets_known.update({m.casefold(): m for m in INCIDENT_MARKETS})
    raw_markets = _items(args, "market")
    bad_markets = [m for m in raw_markets if m.casefold() not in markets_known]
    if bad_markets:
        raise ParamError("market", bad_markets[0], f"market={bad_markets[0]!r} is not a known market",
                         INCIDENT_MARKETS)
    markets = [markets_known[m.casefold()] for m in raw_markets]
    raw_since, raw_limit = _one(args, "since"), _one(args, "limit")
    since = None if raw_since is None else _since(raw_since)
    limit = LIMIT_DEFAULT if raw_limit is None else _limit(raw_limit)
    notices = _unknown_params(args, INCIDENT_FILTERS)
    series = _series_param(args, snap, (m.get("series_id") for i in incidents for m in i.get("members") or ()),
                           notices)
    if series:
        incidents = [i for i in incidents if any(m.get("series_id") in series for m in i.get("members") or ())]
    if states:
        incidents = [i for i in incidents if i.get("state") in states]
    if tiers:
        incidents = [i for i in incidents if i.get("tier") in tiers]
    if markets:
        incidents = [i for i in incidents if i.get("market") in markets]
    if since is not None:
        incidents = [i for i in incidents if (at := _at({"at": i.get("updated_at")})) is not None and at >= since]
    return {"mode": snap.mode, "simulated": snap.simulated, "generated_at": body.get("generated_at"),
            "incidents": incidents[:limit], "notice": "; ".join(notices) or None}


OPENAPI_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
_ANY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")     # HEAD comes with GET


def openapi_response() -> Response:
    """docs/openapi.json as it is on disk now (byte for byte); a JSON 404 when it is missing."""
    try:
        raw = OPENAPI_PATH.read_bytes()
    except OSError:
        return _json_error(404, {"error": "not found", "path": request.path,
                                 "detail": "docs/openapi.json is missing from this installation"})
    return Response(raw, 200, mimetype="application/json")


def _json_error(status: int, body: dict, headers: dict | None = None) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    resp.headers.update(headers or {})
    return resp


def register(server: Flask, snapshot: Callable[[], Snapshot], store_error: Callable[[], str | None]) -> None:
    """The JSON routes on `server`, reading `snapshot()` and `store_error()` (the store's public
    state: a category, never the raw error) — injected, no module global."""
    @server.get("/healthz")
    def healthz():
        snap = snapshot()
        err = store_error()
        body = {
            "status": "degraded" if err or {"failing", "degraded"} & set(snap.source_states().values()) else "ok",
            "mode": snap.mode, "simulated": snap.simulated, "data_version": snap.version,
            "store": "error" if err else "ok", "store_error": err,
            "sources": snap.source_states(), "stale_series": len(snap.stale_series()),
            "boot": BOOT_ID,
        }
        return jsonify(body), (503 if err else 200)

    @server.get("/api/series")
    def api_series():
        return jsonify(series_payload(snapshot(), request.args))

    @server.get("/api/sources")
    def api_sources():
        return jsonify(sources_payload(snapshot(), request.args))

    @server.get("/api/alerts")
    def api_alerts():
        try:
            return jsonify(alerts_view(snapshot(), request.args))
        except ParamError as exc:
            return _json_error(400, exc.body())

    @server.get("/api/incidents")
    def api_incidents():
        try:
            return jsonify(incidents_view(snapshot(), request.args))
        except ParamError as exc:
            return _json_error(400, exc.body())

    @server.get("/api/openapi.json")
    def api_openapi():
        return openapi_response()

    # Everything else under /api: JSON, not the Dash page that Dash's catch-all `/<path:path>`
    # would serve with 200. Werkzeug tries the static "api" segment before Dash's bare
    # converter, and a rule whose method does not match before this one (POST /api/series) falls
    # through to here: 405 for a real path, 404 for any other.
    @server.route("/api/", methods=_ANY_METHOD, defaults={"rest": ""}, endpoint="api_not_found",
                  strict_slashes=False, provide_automatic_options=False)          # /api and /api/ alike
    @server.route("/api/<path:rest>", methods=_ANY_METHOD, endpoint="api_not_found",
                  provide_automatic_options=False)
    def api_not_found(rest: str):
        allowed = sorted({m for r in server.url_map.iter_rules() if r.rule == request.path
                          and r.endpoint != "api_not_found" for m in (r.methods or ())})
        if allowed:
            return _json_error(405, {"error": "method not allowed", "path": request.path, "method": request.method,
                                     "allowed": allowed}, {"Allow": ", ".join(allowed)})
        return _json_error(404, {"error": "not found", "path": request.path})

    @server.after_request
    def _api_allow(resp):
        # Flask's automatic OPTIONS answer lists the methods of every rule matching the path,
        # the catch-all's too; a real /api path takes only its own.
        rule = request.url_rule
        if request.method == "OPTIONS" and rule is not None and rule.rule.startswith("/api/") \
                and rule.endpoint != "api_not_found":
            resp.headers["Allow"] = ", ".join(sorted(rule.methods or ()))
        return resp
