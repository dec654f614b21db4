"""JSON for machines and for the risk team's own tools: /healthz, /api/series, /api/sources."""
from __future__ import annotations

import datetime as dt
import math

from flask import Flask, jsonify

from web import state


def _iso(ts: dt.datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _num(x: float | None, nd: int = 6) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)


def series_payload() -> dict:
    snap = state.snapshot()
    now = snap.now()
    states = snap.source_states()
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
                "simulated": snap.simulated,
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
                "last_error": s.health.last_error, "last_error_at": _iso(s.health.last_error_at),
                "consecutive_failures": s.health.consecutive_failures,
                "rows_written_total": s.health.rows_written_total, "rows_last": s.health.rows_last,
            }
            for s in snap.sources
        ],
    }


def register(server: Flask) -> None:
    @server.get("/healthz")
    def healthz():
        snap = state.snapshot()
        err = state.service().error
        body = {
            "status": "degraded" if err or "failing" in snap.source_states().values() else "ok",
            "mode": snap.mode, "simulated": snap.simulated, "data_version": snap.version,
            "store": "error" if err else "ok", "store_error": err,
            "sources": snap.source_states(), "stale_series": len(snap.stale_series()),
        }
        return jsonify(body), (503 if err else 200)

    @server.get("/api/series")
    def api_series():
        return jsonify(series_payload())

    @server.get("/api/sources")
    def api_sources():
        return jsonify(sources_payload())
