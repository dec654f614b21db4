"""Alerts page (/alerts): its registration and callbacks.

Reads `snapshot.alerts` only. The two operator actions (acknowledge, silence) are the only
writes a web process makes, into the alert tables, and only when `web.auth.write_refusal()`
passes — the operator role (the local user when no credential is configured, else the operator
login), an Origin naming this dashboard, and the page's CSRF token (a State of the callback) —
checked here, whatever the button's state in the browser. Each write records the signed-in
actor and the time. After a write the snapshot is refreshed at once so the grid shows it.

`register(app, service)` adds the page and its callbacks to `app`. The service is the web
process's SnapshotService, injected — no module global: readers get `service.current` (the
snapshot provider), the two writes also its store and `refresh`.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable

import dash
from dash import Input, Output, State, ctx, html, no_update

from callbacks import inputs
from components import alerts as al
from components import ids
from views.digest import digest
from components.deliveries import delivery_log
from components.urlstate import url_sync_js
from views.snapshot import Snapshot, SnapshotService
from web import auth

log = logging.getLogger("contagion.web")

MAX_SERIES = inputs.MAX_ITEMS


def _since(raw: Any) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None


def clean_filters(series, states, tiers, since) -> tuple | None:
    """The grid's filters as the page's own controls send them, or None if they cannot be."""
    vals = (inputs.text_list(series, max_items=MAX_SERIES, max_len=160),
            inputs.text_list(states, choices=al.STATES), inputs.text_list(tiers, choices=al.TIERS),
            inputs.date_text(since))
    return None if inputs.bad(*vals) else vals


def filtered_rows(snap: Snapshot, series, states, tiers, since) -> list[dict]:
    return al.filter_rows(al.alert_rows(snap.alerts), series=series or None, states=states or None,
                          tiers=tiers or None, since=_since(since))


def _payload_sig(payload: dict) -> str:
    return digest(payload or {})


def table_view(snapshot: Callable[[], Snapshot], _n, series, states, tiers, since, _bump, tag):
    """Grid rows, counts and silences; no_update when neither the alerts nor the filters changed."""
    filters = clean_filters(series, states, tiers, since)
    tag = inputs.tag_text(tag)
    if filters is None or inputs.bad(inputs.count(_n), inputs.count(_bump)):
        return no_update, no_update, no_update, no_update
    series, states, tiers, since = filters
    snap = snapshot()
    new_tag = f"{_payload_sig(snap.alerts)}|{series}|{states}|{tiers}|{since}"
    if new_tag == tag:
        return no_update, no_update, no_update, no_update
    rows = filtered_rows(snap, series, states, tiers, since)
    counts = (snap.alerts or {}).get("counts", {})
    badges = [html.Span(f"{len(rows)} rows · ", className="small text-muted me-1", id="al-row-count")]
    for k, v in counts.items():
        badges.append(html.Span(f"{k} {v}", className="badge me-1 " + (
            "bg-" + al.STATE_COLOR.get(k, "secondary") if v else "bg-secondary opacity-50")))
    sil = (snap.alerts or {}).get("silences", [])
    sil_div = ([html.Span("Active silences: ")] + [html.Span(
        f"{s.get('rule_id') or ''}{' · ' if s.get('rule_id') and s.get('series_id') else ''}{s.get('series_id') or ''}"
        f" until {al._when(s.get('until'))} (by {al.who(s.get('created_by'), s.get('actor'))}); ", className="me-1")
        for s in sil]) if sil else "No active silences."
    return rows, badges, sil_div, new_tag




def incidents_view(snapshot: Callable[[], Snapshot], _n, series, tiers, _bump, tag):
    """The incidents list under the page's series and tier filters; no_update while neither the
    incidents nor the filters changed (an expanded incident stays expanded)."""
    filters = clean_filters(series, None, tiers, None)
    tag = inputs.tag_text(tag)
    if filters is None or inputs.bad(inputs.count(_n), inputs.count(_bump)):
        return no_update, no_update
    series, _states, tiers, _since = filters
    incidents = (snapshot().alerts or {}).get("incidents") or []
    new_tag = f"{_payload_sig({'i': incidents})}|{series}|{tiers}"
    if new_tag == tag:
        return no_update, no_update
    return al.incident_list({"incidents": incidents}, series=series or None, tiers=tiers or None), new_tag




def deliveries_view(snapshot: Callable[[], Snapshot], _n, _bump):
    """The delivery log as the snapshot holds it (the newest 50 attempts)."""
    if inputs.bad(inputs.count(_n), inputs.count(_bump)):
        return no_update
    return delivery_log((snapshot().alerts or {}).get("deliveries") or [])




def focus_from_selection(selected, focus):
    """A clicked grid row focuses its alert."""
    focus = inputs.alert_id(focus)
    if not selected or focus is inputs.BAD or not isinstance(selected, list) or not isinstance(selected[0], dict):
        return no_update
    alert_id = inputs.alert_id(selected[0].get("alert_id"))
    return no_update if not alert_id or alert_id == focus else alert_id




def detail_view(snapshot: Callable[[], Snapshot], focus, _tag):
    """The focused alert's card; action buttons enabled only for the operator."""
    focus = inputs.alert_id(focus)
    if inputs.bad(focus):
        return (no_update,) * 5
    writable = al.can_write_now()
    disabled = not writable or not focus
    return (al.detail_card(snapshot().alerts, focus), disabled, disabled, disabled,
            "" if writable else al.read_only_text())




def _refresh_snapshot(service: SnapshotService) -> None:
    refresh = getattr(service, "refresh", None)
    if callable(refresh):
        refresh()


def _alert_store(service: SnapshotService):
    from alerts.store import AlertStore

    return AlertStore(service.store)


def _warn(text: str) -> html.Span:
    return html.Span(text, className="text-warning")


def _refused(action: str, csrf) -> html.Span | None:
    """The notice for a write this request may not make (None: it may), logged in one line."""
    why = auth.write_refusal(csrf)
    if why is None:
        return None
    p = auth.current()
    log.warning("refused %s from %s (%s): %s", action, auth.request_peer(), p.label if p else "anonymous", why)
    return _warn(f"{why}: nothing written.")


def _actor() -> str:
    p = auth.current()
    return p.label if p is not None else "unknown"


def acknowledge(service: SnapshotService, n_clicks, focus, who, bump, csrf=None):
    """Acknowledge the focused alert (operator only)."""
    n_clicks, bump = inputs.count(n_clicks), inputs.count(bump)
    if inputs.bad(n_clicks, bump) or not n_clicks:
        return no_update, no_update
    refused = _refused("acknowledge", csrf)
    if refused is not None:
        return refused, no_update
    focus, who = inputs.alert_id(focus), inputs.text(who, 64)
    if inputs.bad(focus, who):
        return _warn("Bad request (alert id or name): nothing written."), no_update
    if not focus:
        return _warn("Select an alert first."), no_update
    snap = service.current()
    try:
        ev = _alert_store(service).acknowledge(focus, (who or "").strip() or "operator", snap.now(), actor=_actor())
    except (KeyError, ValueError) as exc:
        return html.Span(f"Not acknowledged: {exc}", className="text-danger"), no_update
    log.info("alert %s acknowledged by %r (%s)", focus, ev.by, _actor())
    _refresh_snapshot(service)
    return (html.Span(f"Acknowledged by {ev.by} ({_actor()}).", className="text-success", id="al-ack-done"),
            bump + 1)




def silence(service: SnapshotService, scope: str, focus, duration, who, bump, csrf=None):
    """Silence the focused alert's rule or series for 1h/4h/24h (operator only)."""
    refused = _refused(f"silence {scope}", csrf)
    if refused is not None:
        return refused, no_update
    focus, duration, who, bump = (inputs.alert_id(focus), inputs.choice(duration, al.SILENCE_HOURS),
                                  inputs.text(who, 64), inputs.count(bump))
    if inputs.bad(focus, duration, who, bump):
        return _warn("Bad request (alert id, duration or name): nothing written."), no_update
    snap = service.current()
    alert, _events = al.find_alert(snap.alerts, focus)
    if alert is None:
        return _warn("Select an alert first."), no_update
    duration = duration or "1h"
    hours = al.SILENCE_HOURS[duration]
    now = snap.now()
    who = (who or "").strip() or "operator"
    target = {"rule_id": alert.get("rule_id")} if scope == "rule" else {"series_id": alert.get("series_id")}
    sil = _alert_store(service).add_silence(until=now + dt.timedelta(hours=hours), created_by=who,
                                     reason=f"/alerts: {scope} silenced for {duration} from alert {focus}", now=now,
                                     actor=_actor(), **target)
    what = f"rule {sil.rule_id}" if sil.rule_id else f"series {sil.series_id}"
    log.info("%s silenced for %s by %r (%s)", what, duration, who, _actor())
    _refresh_snapshot(service)
    return (html.Span(f"Silenced {what} for {duration} (until {sil.until:%Y-%m-%d %H:%M} UTC).",
                      className="text-success", id="al-silence-done"), bump + 1)


def silence_clicked(service: SnapshotService, _rule_clicks, _series_clicks, focus, duration, who, bump, csrf=None):
    clicks = inputs.count(_rule_clicks), inputs.count(_series_clicks)
    trigger = ctx.triggered_id
    if inputs.bad(*clicks) or trigger not in (al.AL_SIL_RULE, al.AL_SIL_SERIES) or not any(clicks):
        return no_update, no_update
    return silence(service, "rule" if trigger == al.AL_SIL_RULE else "series", focus, duration, who, bump, csrf)




def export_csv(snapshot: Callable[[], Snapshot], n_clicks, series, states, tiers, since):
    n_clicks, filters = inputs.count(n_clicks), clean_filters(series, states, tiers, since)
    if filters is None or inputs.bad(n_clicks) or not n_clicks:
        return no_update
    snap = snapshot()
    stamp = snap.now().strftime("%Y%m%dT%H%MZ")
    return {"content": al.rows_csv(filtered_rows(snap, *filters)), "filename": f"alerts-{stamp}.csv",
            "type": "text/csv"}




def url_search(series, states, tiers, since, focus):
    filters, focus = clean_filters(series, states, tiers, since), inputs.alert_id(focus)
    if filters is None or inputs.bad(focus):
        return no_update                 # the address bar keeps the last good view
    return al.search_for(*filters, focus)


def register(app: dash.Dash, service: SnapshotService) -> None:
    """The page (/alerts) and its callbacks on `app`: readers of `service.current()`, the
    operator's writes into `service.store`."""
    dash.register_page("alerts", path="/alerts", name="Alerts", order=4,
                       layout=lambda **query: al.layout(service.current(), **query))
    app.callback(Output(al.AL_GRID, "rowData"), Output(al.AL_COUNTS, "children"), Output(al.AL_SILENCES, "children"),
                 Output(al.AL_TAG, "data"),
                 Input(ids.REFRESH, "n_intervals"), Input(al.AL_SERIES, "value"), Input(al.AL_STATE, "value"),
                 Input(al.AL_TIER, "value"), Input(al.AL_SINCE, "value"), Input(al.AL_BUMP, "data"),
                 State(al.AL_TAG, "data"))(
        lambda *args: table_view(service.current, *args))
    app.callback(Output(al.AL_INCIDENTS, "children"), Output(al.AL_INC_TAG, "data"), Input(ids.REFRESH, "n_intervals"),
                 Input(al.AL_SERIES, "value"), Input(al.AL_TIER, "value"), Input(al.AL_BUMP, "data"),
                 State(al.AL_INC_TAG, "data"))(
        lambda *args: incidents_view(service.current, *args))
    app.callback(Output(al.AL_DELIVERIES, "children"), Input(ids.REFRESH, "n_intervals"),
                 Input(al.AL_BUMP, "data"))(
        lambda *args: deliveries_view(service.current, *args))
    app.callback(Output(al.AL_FOCUS, "data"), Input(al.AL_GRID, "selectedRows"), State(al.AL_FOCUS, "data"),
                 prevent_initial_call=True)(focus_from_selection)
    app.callback(Output(al.AL_DETAIL, "children"), Output(al.AL_ACK, "disabled"), Output(al.AL_SIL_RULE, "disabled"),
                 Output(al.AL_SIL_SERIES, "disabled"), Output(al.AL_READONLY, "children"),
                 Input(al.AL_FOCUS, "data"), Input(al.AL_TAG, "data"))(
        lambda *args: detail_view(service.current, *args))
    app.callback(Output(al.AL_ACTION_MSG, "children"), Output(al.AL_BUMP, "data"),
                 Input(al.AL_ACK, "n_clicks"), State(al.AL_FOCUS, "data"), State(al.AL_WHO, "value"),
                 State(al.AL_BUMP, "data"), State(ids.CSRF, "data"), prevent_initial_call=True)(
        lambda *args: acknowledge(service, *args))
    app.callback(Output(al.AL_ACTION_MSG, "children", allow_duplicate=True), Output(al.AL_BUMP, "data", allow_duplicate=True),
                 Input(al.AL_SIL_RULE, "n_clicks"), Input(al.AL_SIL_SERIES, "n_clicks"), State(al.AL_FOCUS, "data"),
                 State(al.AL_SIL_DUR, "value"), State(al.AL_WHO, "value"), State(al.AL_BUMP, "data"),
                 State(ids.CSRF, "data"), prevent_initial_call=True)(
        lambda *args: silence_clicked(service, *args))
    app.callback(Output(al.AL_DOWNLOAD, "data"), Input(al.AL_CSV, "n_clicks"), State(al.AL_SERIES, "value"),
                 State(al.AL_STATE, "value"), State(al.AL_TIER, "value"), State(al.AL_SINCE, "value"),
                 prevent_initial_call=True)(
        lambda *args: export_csv(service.current, *args))
    app.callback(Output(al.AL_SEARCH, "data"), Input(al.AL_SERIES, "value"), Input(al.AL_STATE, "value"),
                 Input(al.AL_TIER, "value"), Input(al.AL_SINCE, "value"), Input(al.AL_FOCUS, "data"))(url_search)
    # replaceState: the URL follows the filters without a history entry per change and without
    # re-running the pages router (which would rebuild the grid and lose its scroll and sort).
    app.clientside_callback(url_sync_js('/alerts'), Output(al.AL_URL_SINK, "data"), Input(al.AL_SEARCH, "data"))
