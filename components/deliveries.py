"""The delivery log of routed notifications (alerts/deliveries.py): one row per attempt outcome —
sent, retried, failed with its reason — the target masked (scheme://host only). Pure: rows in
(the alerts snapshot's `deliveries`, newest first), components out; the Alerts page embeds it."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dash import html

__all__ = ["delivery_log"]

_STATUS_CLASS = {"sent": "cm-delivery-sent", "retried": "cm-delivery-retried", "failed": "cm-delivery-failed"}


def delivery_log(rows: Iterable[Mapping[str, Any]], *, limit: int = 50) -> html.Div:
    rows = list(rows)[:limit]
    if not rows:
        return html.Div(html.P("No notification sent yet.", className="cm-muted"), className="cm-delivery-log")
    head = html.Thead(html.Tr([html.Th(h) for h in ("Time (UTC)", "Route", "Target", "Incident", "Event",
                                                     "Status", "Attempts", "Reason")]))
    body = html.Tbody([html.Tr([
        html.Td(str(r.get("at") or "—").replace("T", " ").replace("Z", ""), className="cm-time"),
        html.Td(str(r.get("route", ""))),
        html.Td(html.Code(str(r.get("target", "")))),      # already masked by the worker
        html.Td(str(r.get("incident_id", ""))),
        html.Td(str(r.get("event_kind", ""))),
        html.Td(str(r.get("status", "")), className=_STATUS_CLASS.get(str(r.get("status")), "")),
        html.Td(str(r.get("attempts", ""))),
        html.Td(str(r.get("reason") or "")),
    ]) for r in rows])
    return html.Div([html.H4("Notification deliveries"), html.Table([head, body], className="cm-table")],
                    className="cm-delivery-log")
