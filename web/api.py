"""JSON for machines and for the risk team's own tools: /healthz, /api/series, /api/sources."""
from __future__ import annotations

import datetime as dt
import math

from flask import Flask, jsonify, request

from web import state
from web.redact import public_error


def _iso(ts: dt.datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _num(x: float | None, nd: int = 6) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)


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


def series_payload() -> dict:
    snap = state.snapshot()
    now = snap.now()
    states = snap.source_states()
    stats = _move_stats(snap)
    return {
        "mode": snap.mode,
        "simulated": snap.simulated,
        "notice": "SIMULATED market data (demo mode), not real prices" if snap.simulated else None,
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


def sources_payload() -> dict:
    snap = state.snapshot()
    states = snap.source_states()
    return {
        "mode": snap.mode,
        "simulated": snap.simulated,
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


def alerts_view(args) -> dict:
    """The snapshot's alert payload, filtered in memory (no database query per request).

    Unknown or malformed parameters are ignored and listed in `notice`, never an error.
    """
    snap = state.snapshot()
    body = snap.alerts or {"alerts": [], "events": [], "silences": [], "counts": {}}
    notices = []
    alerts, events = list(body.get("alerts", [])), list(body.get("events", []))
    for key in args:
        if key not in ALERT_FILTERS:
            notices.append(f"unknown parameter {key!r} ignored")
    series = [v for v in args.get("series", "").split(",") if v]
    bad = [v for v in series if not any(r.id == v for r in snap.rows)]
    if bad:
        notices.append(f"unknown series {bad} ignored")
        series = [v for v in series if v not in bad]
    if series:
        alerts = [a for a in alerts if a.get("series_id") in series]
        events = [e for e in events if e.get("series_id") in series]
    for key, field_name in (("state", "state"), ("tier", "tier")):
        want = [v for v in args.get(key, "").split(",") if v]
        if want:
            alerts = [a for a in alerts if a.get(field_name) in want]
            events = [e for e in events if e.get(field_name) in want]
    if args.get("since"):
        try:
            since = dt.datetime.fromisoformat(args["since"].replace("Z", "+00:00"))
            if since.tzinfo is None:
                since = since.replace(tzinfo=dt.timezone.utc)
            events = [e for e in events if e.get("at") and dt.datetime.fromisoformat(e["at"].replace("Z", "+00:00")) >= since]
        except ValueError:
            notices.append(f"since={args['since']!r} is not an ISO date/time: ignored")
    limit = 200
    if args.get("limit"):
        try:
            limit = max(1, min(1000, int(args["limit"])))
        except ValueError:
            notices.append(f"limit={args['limit']!r} is not a number: using 200")
    return {"mode": snap.mode, "simulated": snap.simulated, "generated_at": body.get("generated_at"),
            "counts": body.get("counts", {}), "alerts": alerts, "events": events[:limit],
            "silences": body.get("silences", []), "notice": "; ".join(notices) or None}


def register(server: Flask) -> None:
    @server.get("/healthz")
    def healthz():
        snap = state.snapshot()
        err = state.store_error()
        body = {
            "status": "degraded" if err or {"failing", "degraded"} & set(snap.source_states().values()) else "ok",
            "mode": snap.mode, "simulated": snap.simulated, "data_version": snap.version,
            "store": "error" if err else "ok", "store_error": err,
            "sources": snap.source_states(), "stale_series": len(snap.stale_series()),
            "boot": state.BOOT_ID,
        }
        return jsonify(body), (503 if err else 200)

    @server.get("/api/series")
    def api_series():
        return jsonify(series_payload())

    @server.get("/api/sources")
    def api_sources():
        return jsonify(sources_payload())

    @server.get("/api/alerts")
    def api_alerts():
        return jsonify(alerts_view(request.args))
