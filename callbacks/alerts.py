"""Alerts page callbacks.

Reads `snapshot.alerts` only. The two operator actions (acknowledge, silence) are the only
writes a web process makes, into the alert tables, and only when `web.auth.can_write()` (a
request from localhost) — checked again here, whatever the button's state in the browser.
After a write the snapshot is refreshed at once so the grid shows it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from dash import (
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    html,
    no_update,
)

from components.urlstate import url_sync_js
from components import alerts as al
from components import ids
from web import state

READ_ONLY = "read-only link: acknowledge and silence only from the monitor's own machine (localhost)"


def _since(raw: Any) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None


def filtered_rows(series, states, tiers, since) -> list[dict]:
    snap = state.snapshot()
    return al.filter_rows(al.alert_rows(snap.alerts), series=series or None, states=states or None,
                          tiers=tiers or None, since=_since(since))


def _payload_sig(payload: dict) -> str:
    return hashlib.sha1(json.dumps(payload or {}, sort_keys=True, default=str).encode()).hexdigest()


def table_view(_n, series, states, tiers, since, _bump, tag):
    """Grid rows, counts and silences; no_update when neither the alerts nor the filters changed."""
    snap = state.snapshot()
    new_tag = f"{_payload_sig(snap.alerts)}|{series}|{states}|{tiers}|{since}"
    if new_tag == tag:
        return no_update, no_update, no_update, no_update
    rows = filtered_rows(series, states, tiers, since)
    counts = (snap.alerts or {}).get("counts", {})
    badges = [html.Span(f"{len(rows)} rows · ", className="small text-muted me-1", id="al-row-count")]
    for k, v in counts.items():
        badges.append(html.Span(f"{k} {v}", className="badge me-1 " + (
            "bg-" + al.STATE_COLOR.get(k, "secondary") if v else "bg-secondary opacity-50")))
    sil = (snap.alerts or {}).get("silences", [])
    sil_div = ([html.Span("Active silences: ")] + [html.Span(
        f"{s.get('rule_id') or ''}{' · ' if s.get('rule_id') and s.get('series_id') else ''}{s.get('series_id') or ''}"
        f" until {al._when(s.get('until'))} (by {s.get('created_by') or '?'}); ", className="me-1")
        for s in sil]) if sil else "No active silences."
    return rows, badges, sil_div, new_tag


callback(Output(al.AL_GRID, "rowData"), Output(al.AL_COUNTS, "children"), Output(al.AL_SILENCES, "children"),
         Output(al.AL_TAG, "data"),
         Input(ids.REFRESH, "n_intervals"), Input(al.AL_SERIES, "value"), Input(al.AL_STATE, "value"),
         Input(al.AL_TIER, "value"), Input(al.AL_SINCE, "value"), Input(al.AL_BUMP, "data"),
         State(al.AL_TAG, "data"))(table_view)


def focus_from_selection(selected, focus):
    """A clicked grid row focuses its alert."""
    if not selected:
        return no_update
    alert_id = (selected[0] or {}).get("alert_id")
    return no_update if not alert_id or alert_id == focus else alert_id


callback(Output(al.AL_FOCUS, "data"), Input(al.AL_GRID, "selectedRows"), State(al.AL_FOCUS, "data"),
         prevent_initial_call=True)(focus_from_selection)


def detail_view(focus, _tag):
    """The focused alert's card; action buttons enabled only for local requests."""
    writable = al.can_write_now()
    disabled = not writable or not focus
    return (al.detail_card(state.snapshot().alerts, focus), disabled, disabled, disabled,
            "" if writable else READ_ONLY)


callback(Output(al.AL_DETAIL, "children"), Output(al.AL_ACK, "disabled"), Output(al.AL_SIL_RULE, "disabled"),
         Output(al.AL_SIL_SERIES, "disabled"), Output(al.AL_READONLY, "children"),
         Input(al.AL_FOCUS, "data"), Input(al.AL_TAG, "data"))(detail_view)


def _refresh_snapshot() -> None:
    refresh = getattr(state.service(), "refresh", None)
    if callable(refresh):
        refresh()


def _alert_store():
    from alerts.store import AlertStore

    return AlertStore(state.service().store)


def acknowledge(n_clicks, focus, who, bump):
    """Acknowledge the focused alert (localhost only)."""
    if not n_clicks:
        return no_update, no_update
    if not al.can_write_now():
        return html.Span(READ_ONLY + ": nothing written.", className="text-warning"), no_update
    if not focus:
        return html.Span("Select an alert first.", className="text-warning"), no_update
    snap = state.snapshot()
    try:
        ev = _alert_store().acknowledge(focus, (who or "").strip() or "operator", snap.now())
    except (KeyError, ValueError) as exc:
        return html.Span(f"Not acknowledged: {exc}", className="text-danger"), no_update
    _refresh_snapshot()
    return (html.Span(f"Acknowledged by {ev.by}.", className="text-success", id="al-ack-done"),
            (bump or 0) + 1)


callback(Output(al.AL_ACTION_MSG, "children"), Output(al.AL_BUMP, "data"),
         Input(al.AL_ACK, "n_clicks"), State(al.AL_FOCUS, "data"), State(al.AL_WHO, "value"),
         State(al.AL_BUMP, "data"), prevent_initial_call=True)(acknowledge)


def silence(scope: str, focus, duration, who, bump):
    """Silence the focused alert's rule or series for 1h/4h/24h (localhost only)."""
    if not al.can_write_now():
        return html.Span(READ_ONLY + ": nothing written.", className="text-warning"), no_update
    snap = state.snapshot()
    alert, _events = al.find_alert(snap.alerts, focus)
    if alert is None:
        return html.Span("Select an alert first.", className="text-warning"), no_update
    hours = al.SILENCE_HOURS.get(duration or "1h", 1)
    now = snap.now()
    who = (who or "").strip() or "operator"
    target = {"rule_id": alert.get("rule_id")} if scope == "rule" else {"series_id": alert.get("series_id")}
    sil = _alert_store().add_silence(until=now + dt.timedelta(hours=hours), created_by=who,
                                     reason=f"/alerts: {scope} silenced for {duration} from alert {focus}", now=now,
                                     **target)
    _refresh_snapshot()
    what = f"rule {sil.rule_id}" if sil.rule_id else f"series {sil.series_id}"
    return (html.Span(f"Silenced {what} for {duration} (until {sil.until:%Y-%m-%d %H:%M} UTC).",
                      className="text-success", id="al-silence-done"), (bump or 0) + 1)


def silence_clicked(_rule_clicks, _series_clicks, focus, duration, who, bump):
    trigger = ctx.triggered_id
    if trigger not in (al.AL_SIL_RULE, al.AL_SIL_SERIES) or not (_rule_clicks or _series_clicks):
        return no_update, no_update
    return silence("rule" if trigger == al.AL_SIL_RULE else "series", focus, duration, who, bump)


callback(Output(al.AL_ACTION_MSG, "children", allow_duplicate=True), Output(al.AL_BUMP, "data", allow_duplicate=True),
         Input(al.AL_SIL_RULE, "n_clicks"), Input(al.AL_SIL_SERIES, "n_clicks"), State(al.AL_FOCUS, "data"),
         State(al.AL_SIL_DUR, "value"), State(al.AL_WHO, "value"), State(al.AL_BUMP, "data"),
         prevent_initial_call=True)(silence_clicked)


def export_csv(n_clicks, series, states, tiers, since):
    if not n_clicks:
        return no_update
    stamp = state.snapshot().now().strftime("%Y%m%dT%H%MZ")
    return {"content": al.rows_csv(filtered_rows(series, states, tiers, since)), "filename": f"alerts-{stamp}.csv",
            "type": "text/csv"}


callback(Output(al.AL_DOWNLOAD, "data"), Input(al.AL_CSV, "n_clicks"), State(al.AL_SERIES, "value"),
         State(al.AL_STATE, "value"), State(al.AL_TIER, "value"), State(al.AL_SINCE, "value"),
         prevent_initial_call=True)(export_csv)


def url_search(series, states, tiers, since, focus) -> str:
    return al.search_for(series, states, tiers, since, focus)


callback(Output(al.AL_SEARCH, "data"), Input(al.AL_SERIES, "value"), Input(al.AL_STATE, "value"),
         Input(al.AL_TIER, "value"), Input(al.AL_SINCE, "value"), Input(al.AL_FOCUS, "data"))(url_search)

# replaceState: the URL follows the filters without a history entry per change and without
# re-running the pages router (which would rebuild the grid and lose its scroll and sort).
clientside_callback(
    url_sync_js('/alerts'),
    Output(al.AL_URL_SINK, "data"),
    Input(al.AL_SEARCH, "data"),
)
