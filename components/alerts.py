"""The Alerts page: open alerts and their events in one filterable grid, a detail card per alert
(permalink `/alerts?alert=<alert_id>`), acknowledge / silence for the operator (the local user, or
the operator login when credentials are configured: web.auth), each recorded with who and when,
and CSV export of the filtered rows.

Rows come from `snapshot.alerts` (the alert tables' payload, rebuilt by the snapshot service);
filtering is plain list work in memory. Filters and the focused alert live in the URL (`series`,
`state`, `tier`, `since`, `alert`).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.deliveries import delivery_log
from components.events import ordered_members
from components.urlstate import ISO_DATE_INPUT, Param, notice_banner, parse, to_search

__all__ = [
    "CSV_COLUMNS",
    "PARAMS",
    "STATES",
    "TIERS",
    "alert_rows",
    "can_write_now",
    "detail_card",
    "filter_rows",
    "find_alert",
    "incident_list",
    "layout",
    "parse_filters",
    "permalink",
    "read_only_text",
    "rows_csv",
    "search_for",
    "who",
]

# Component ids (this page only).
AL_NOTICE = "al-notice"
AL_TAG = "al-tag"                  # dcc.Store: tag of the payload + filters last rendered
AL_BUMP = "al-bump"                # dcc.Store: bumped after an operator write (forces a re-render)
AL_FOCUS = "al-focus"              # dcc.Store: the focused alert id (the `alert` URL parameter)
AL_SEARCH = "al-search"
AL_URL_SINK = "al-url-sink"
AL_SERIES = "al-series"
AL_STATE = "al-state"
AL_TIER = "al-tier"
AL_SINCE = "al-since"
AL_GRID = "al-grid"
AL_COUNTS = "al-counts"
AL_SILENCES = "al-silences"
AL_DETAIL = "al-detail"
AL_WHO = "al-who"
AL_ACK = "al-ack"
AL_SIL_DUR = "al-silence-duration"
AL_SIL_RULE = "al-silence-rule"
AL_SIL_SERIES = "al-silence-series"
AL_READONLY = "al-readonly"
AL_SIGNED_IN = "al-signed-in"      # who the page acts as (and the operator login link)
AL_ACTION_MSG = "al-action-msg"
AL_CSV = "al-csv"
AL_DOWNLOAD = "al-download"
AL_INCIDENTS = "al-incidents"      # the incidents list (one expandable block per market event)
AL_INC_TAG = "al-incidents-tag"    # dcc.Store: tag of the incidents + filters last rendered
AL_DELIVERIES = "al-deliveries"    # the routed notifications' delivery log (components/deliveries.py)

STATES = ("firing", "pending", "resolved", "nodata", "error", "normal", "acknowledged")
TIERS = ("watch", "warning", "critical")
SILENCE_HOURS = {"1h": 1, "4h": 4, "24h": 24}
PARAMS = (
    Param("series", "str", ""),     # comma-separated series ids
    Param("state", "str", ""),      # comma-separated states
    Param("tier", "str", ""),       # comma-separated tiers
    Param("since", "date", None),   # events at or after this UTC date
    Param("alert", "str", None),    # the focused alert (permalink)
)
DEFAULTS = {p.name: p.default for p in PARAMS}
TIER_COLOR = {"critical": "danger", "warning": "warning", "watch": "info"}
STATE_COLOR = {"firing": "danger", "pending": "warning", "resolved": "success", "nodata": "secondary",
               "error": "dark", "acknowledged": "info"}
WINDOW_LABEL = {"w60": "60d", "w250": "250d", "ewma": "EWMA", "mad250": "MAD 250d", "cum": "intraday"}
CSV_COLUMNS = ("time", "kind", "series_id", "series", "rule", "state", "tier", "move", "sigma", "window", "z",
               "rarity", "source", "text", "acknowledged", "alert_id")


def can_write_now() -> bool:
    """web.auth.can_write() inside a request; outside one (a unit test building the layout) False."""
    from flask import has_request_context

    from web.auth import can_write

    return has_request_context() and can_write()


def read_only_text() -> str:
    from web.auth import read_only_reason

    return read_only_reason()


def who(by: Any, actor: Any) -> str:
    """'desk-1 (alice (operator))': the name typed on the page and the signed-in actor."""
    by = str(by or "?")
    return f"{by} ({actor})" if actor and actor != by else by


def signed_in() -> Any:
    """Who this page acts as, with the operator login link for a viewer."""
    from web import auth

    p = auth.current()
    parts: list = [f"signed in as {p.label}" if p is not None else "not signed in"]
    if (p is None or not p.is_operator) and auth.operator_login():
        parts += [" · ", html.A("operator login", href="/login?next=/alerts", id="al-login", className="small")]
    return parts


def _default_name() -> str:
    """The 'by' field's default: the operator's user name when signed in with one."""
    from web import auth

    p = auth.current()
    return p.name if p is not None and p.is_operator and p.name != "local" else "operator"


def permalink(alert_id: str) -> str:
    return f"/alerts?alert={quote(alert_id, safe='')}"


# ------------------------------------------------------------------------------------- rows
def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _when(iso: str | None) -> str:
    """'2026-01-20T06:00:00Z' → '2026-01-20 06:00:00' (sortable as text, UTC)."""
    return "" if not iso else iso.replace("T", " ").replace("Z", "").split("+")[0].split(".")[0]


def _fmt(v: Any) -> str:
    """Statistics as a desk reads them: 4 significant digits, not float noise."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _stats_fields(st: dict, value: Any) -> dict[str, Any]:
    """move, σ, window, z and rarity as shown in the grid (from an alert's `statistics`)."""
    st = st or {}
    est = st.get("estimator") or "w60"
    unit = st.get("unit") or ""
    move = _num(st.get("move"))
    sigma = _num((st.get("sigma") or {}).get(est)) if isinstance(st.get("sigma"), dict) else _num(st.get("sigma"))
    z = _num((st.get("z") or {}).get(est)) if isinstance(st.get("z"), dict) else _num(st.get("z"))
    if z is None and move is not None:
        z = _num(value)
    period, share, neq = _num(st.get("return_period_years")), _num(st.get("rarity_share")), \
        _num(st.get("normal_equiv_sigma"))
    rarity = ""
    if period is not None:   # the alert text's own scale: years, months or days
        rarity = (f"once in {period:.1f} y" if period >= 1 else f"once in {period * 12:.0f} mo"
                  if period >= 1 / 12 else f"once in {max(period * 365.25, 1):.0f} d")
    elif share is not None:
        rarity = f"{share:.4%} of days"
    if neq is not None:
        rarity += f" (≈{neq:.1f}σ normal)"
    window = WINDOW_LABEL.get(est, est)
    if st.get("window_end"):
        window += f" to {str(st['window_end'])[:10]}"
    horizon = st.get("horizon")
    if horizon and horizon != 1:
        window = f"{horizon}d move · " + window
    fmt_unit = " bp" if unit == "bp" else "%" if unit in ("pct", "%", "logpct") else f" {unit}" if unit else ""
    return {"move": "" if move is None else f"{move:+.1f}{fmt_unit}",
            "sigma": "" if sigma is None else f"{sigma:.2f}{fmt_unit}",
            "window": window if (move is not None or sigma is not None) else "",
            "z": None if z is None else round(z, 2), "rarity": rarity.strip(), "source": st.get("source") or ""}


def alert_rows(payload: dict) -> list[dict[str, Any]]:
    """One row per open alert (kind "alert") and one per event (kind "event · <what>")."""
    payload = payload or {}
    acks: dict[str, str] = {}
    for a in payload.get("alerts", []):
        if a.get("acknowledged"):
            ack = a["acknowledged"]
            acks[a["alert_id"]] = f"{ack.get('by')} at {_when(ack.get('at'))}" + (
                f" · {ack['actor']}" if ack.get("actor") else "")
    for e in payload.get("events", []):
        if e.get("kind") == "acknowledged" and e.get("alert_id") not in acks:
            acks[e["alert_id"]] = f"{e.get('by')} at {_when(e.get('at'))}" + (
                f" · {e['actor']}" if e.get("actor") else "")
    rows: list[dict[str, Any]] = []
    for a in payload.get("alerts", []):
        t = a.get("fired_at") or a.get("started_at") or a.get("updated_at")
        rows.append({"row_id": f"alert|{a['alert_id']}", "kind": "alert", "time": _when(t), "alert_id": a["alert_id"],
                     "series_id": a.get("series_id", ""), "series": a.get("label") or a.get("series_id", ""),
                     "rule": a.get("rule_id", ""), "state": a.get("state", ""), "tier": a.get("tier") or "",
                     **_stats_fields(a.get("statistics") or {}, a.get("value")), "text": a.get("text", ""),
                     "acknowledged": acks.get(a["alert_id"], ""), "link": f"[open]({permalink(a['alert_id'])})"})
    for e in payload.get("events", []):
        state = "acknowledged" if e.get("kind") == "acknowledged" else e.get("state", "")
        rows.append({"row_id": f"event|{e['alert_id']}|{e.get('seq')}|{e.get('kind')}|{e.get('at')}",
                     "kind": f"event · {e.get('kind', '')}", "time": _when(e.get("at")), "alert_id": e["alert_id"],
                     "series_id": e.get("series_id", ""), "series": e.get("label") or e.get("series_id", ""),
                     "rule": e.get("rule_id", ""), "state": state, "tier": e.get("tier") or "",
                     **_stats_fields(e.get("statistics") or {}, e.get("value")), "text": e.get("text", ""),
                     "acknowledged": acks.get(e["alert_id"], ""), "link": f"[open]({permalink(e['alert_id'])})"})
    return rows


def _str_set(values: Any) -> set[str] | None:
    """A filter as a set of strings (None: no filter); anything but strings in a list is ignored."""
    if not values or not isinstance(values, (list, tuple, set, frozenset)):
        return None
    return {v for v in values if isinstance(v, str)}


def filter_rows(rows: Iterable[dict], *, series: list[str] | None = None, states: list[str] | None = None,
                tiers: list[str] | None = None, since: dt.date | None = None) -> list[dict]:
    out = []
    series, states, tiers = _str_set(series), _str_set(states), _str_set(tiers)
    cut = since.isoformat() if isinstance(since, dt.date) else ""
    for r in rows:
        if series and r["series_id"] not in series:
            continue
        if states and r["state"] not in states:
            continue
        if tiers and r["tier"] not in tiers:
            continue
        if cut and r["time"] < cut:
            continue
        out.append(r)
    return out


def rows_csv(rows: Iterable[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


def known_series(snap) -> dict[str, str]:
    """Series id → label: the universe's series plus any subject the alert payload names."""
    out = {r.id: r.label for r in snap.rows}
    for a in (snap.alerts or {}).get("alerts", []) + (snap.alerts or {}).get("events", []):
        out.setdefault(a.get("series_id", ""), a.get("label") or a.get("series_id", ""))
    out.pop("", None)
    return out


def _split(raw: str | None) -> list[str]:
    return [v for v in (raw or "").split(",") if v]


def parse_filters(query: dict, known: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """URL query → typed filters (lists), with notices for what was ignored."""
    values, notices = parse(PARAMS, query)
    series = _split(values["series"])
    bad = [s for s in series if s not in known]
    if bad:
        notices.append(f"series {', '.join(map(repr, bad))} unknown: ignored")
    states = _split(values["state"])
    bad_st = [s for s in states if s not in STATES]
    if bad_st:
        notices.append(f"state {', '.join(map(repr, bad_st))} must be one of {', '.join(STATES)}: ignored")
    tiers = _split(values["tier"])
    bad_t = [t for t in tiers if t not in TIERS]
    if bad_t:
        notices.append(f"tier {', '.join(map(repr, bad_t))} must be one of {', '.join(TIERS)}: ignored")
    return {"series": [s for s in series if s in known], "state": [s for s in states if s in STATES],
            "tier": [t for t in tiers if t in TIERS], "since": values["since"], "alert": values["alert"]}, notices


def _joined(values: Any) -> str:
    return ",".join(v for v in values if isinstance(v, str)) if isinstance(values, (list, tuple)) else ""


def search_for(series, states, tiers, since, alert) -> str:
    since_v = None
    if isinstance(since, str) and since:
        try:
            since_v = dt.date.fromisoformat(since[:10])
        except ValueError:
            since_v = None
    return to_search(PARAMS, {"series": _joined(series), "state": _joined(states), "tier": _joined(tiers),
                              "since": since_v, "alert": alert if isinstance(alert, str) and alert else None})


# ------------------------------------------------------------------------------------- detail
def find_alert(payload: dict, alert_id: str | None) -> tuple[dict | None, list[dict]]:
    """(the alert's current state or its latest event, its events newest first)."""
    if not alert_id:
        return None, []
    payload = payload or {}
    events = [e for e in payload.get("events", []) if e.get("alert_id") == alert_id]
    alert = next((a for a in payload.get("alerts", []) if a.get("alert_id") == alert_id), None)
    if alert is None and events:
        alert = next((e for e in events if e.get("kind") != "acknowledged"), events[0])
    return alert, events


def _stat_rows(st: dict) -> list:
    rows = []
    for key in ("move", "unit", "horizon", "kind", "estimator", "window_end", "n_history", "rarity_share",
                "return_period_years", "normal_equiv_sigma", "source", "ts", "single_print", "confirmed_by"):
        if key in st and st[key] is not None:
            rows.append(html.Tr([html.Td(key, className="text-muted"), html.Td(_fmt(st[key]), className="font-monospace")]))
    sig, z = st.get("sigma"), st.get("z")
    if isinstance(sig, dict) or isinstance(z, dict):
        sig, z = sig or {}, z or {}
        for k in sorted(set(sig) | set(z)):
            rows.append(html.Tr([html.Td(f"σ / z {WINDOW_LABEL.get(k, k)}", className="text-muted"),
                                 html.Td(f"{_fmt(sig.get(k, '—'))} / {_fmt(z.get(k, '—'))}", className="font-monospace")]))
    for key, v in st.items():   # anything else a rule type adds (levels, spreads, contagion signals)
        if key not in {"move", "unit", "horizon", "kind", "estimator", "window_end", "n_history", "rarity_share",
                       "return_period_years", "normal_equiv_sigma", "source", "ts", "single_print",
                       "confirmed_by", "sigma", "z", "series_id"} and v is not None:
            rows.append(html.Tr([html.Td(key, className="text-muted"), html.Td(_fmt(v), className="font-monospace")]))
    return rows


def detail_card(payload: dict, alert_id: str | None) -> Any:
    if not alert_id:
        return html.Div("Select a row (or open a permalink) to see an alert's full text and statistics.",
                        className="text-muted small")
    alert, events = find_alert(payload, alert_id)
    if alert is None:
        return dbc.Alert(f"Alert {alert_id!r} is not among the open alerts or the latest events.", color="warning",
                         className="py-1 small", id="al-detail-missing")
    st = alert.get("statistics") or {}
    ack = alert.get("acknowledged")
    if not ack:
        ack_ev = next((e for e in events if e.get("kind") == "acknowledged"), None)
        ack = {"by": ack_ev.get("by"), "at": ack_ev.get("at"), "actor": ack_ev.get("actor")} if ack_ev else None
    times = [(k, alert.get(k)) for k in ("started_at", "fired_at", "resolved_at", "last_data_ts", "updated_at", "at")
             if alert.get(k)]
    return html.Div([
        html.Div([
            html.H5(alert.get("label") or alert.get("series_id"), className="d-inline me-2"),
            dbc.Badge((alert.get("state") or "").upper(), color=STATE_COLOR.get(alert.get("state"), "secondary"),
                      className="me-1"),
            dbc.Badge((alert.get("tier") or "").upper(), color=TIER_COLOR.get(alert.get("tier"), "secondary"),
                      className="me-2") if alert.get("tier") else None,
            html.Span(f"rule {alert.get('rule_id')}", className="text-muted small me-2"),
            html.A("permalink", href=permalink(alert_id), id="al-permalink", className="small"),
        ], className="mb-2"),
        html.P(alert.get("text"), className="fs-6 fw-semibold al-detail-text", id="al-detail-text"),
        html.Div((f"acknowledged by {ack.get('by')} at {_when(ack.get('at'))}"
                  + (f", signed in as {ack['actor']}" if ack.get("actor") else "")) if ack else "not acknowledged",
                 className="small mb-2 " + ("text-info" if ack else "text-warning"), id="al-detail-ack"),
        dbc.Row([
            dbc.Col(dbc.Table(html.Tbody(_stat_rows(st)), size="sm", className="mb-1"), md=6),
            dbc.Col([dbc.Table(html.Tbody([html.Tr([html.Td(k.replace("_", " "), className="text-muted"),
                                                    html.Td(_when(v), className="font-monospace")])
                                           for k, v in times]), size="sm", className="mb-1"),
                     html.Div("Events", className="small text-muted"),
                     html.Ul([html.Li(f"{_when(e.get('at'))} · {e.get('kind')} · {e.get('text')}", className="small")
                              for e in events[:20]], className="mb-0")], md=6),
        ]),
        html.Div(f"alert id {alert_id}", className="text-muted small font-monospace"),
    ], id="al-detail-body")


# ------------------------------------------------------------------------------------ incidents
def filter_incidents(incidents: Iterable[dict], *, series: list[str] | None = None,
                     tiers: list[str] | None = None) -> list[dict]:
    """The incidents of the page's series and tier filters (a series matches any member)."""
    sel, want = set(series or ()), set(tiers or ())
    return [i for i in incidents or ()
            if (not sel or any(m.get("series_id") in sel for m in i.get("members") or ()))
            and (not want or i.get("tier") in want)]


def _member_row(m: dict) -> html.Tr:
    aid = m.get("alert_id") or ""
    return html.Tr([
        html.Td(dbc.Badge(m.get("tier") or "—", color=TIER_COLOR.get(m.get("tier") or "", "secondary"))),
        html.Td(m.get("short") or m.get("label") or aid),
        html.Td(m.get("state") or "", className="text-" + STATE_COLOR.get(m.get("state") or "", "secondary")),
        html.Td(_when(m.get("data_ts")), className="text-muted"),
        html.Td(html.A("open", href=permalink(aid), className="al-member-link") if aid else ""),
    ], className="al-member")


def incident_card(inc: dict, *, open_: bool = False) -> html.Details:
    """One incident: the headline line (tier, market, headline, n alerts, state, opened), its
    members in a table when expanded (lead first, then as the wall lists them)."""
    members = ordered_members(inc)
    n = inc.get("count", len(members))
    tier = inc.get("tier") or ""
    is_open = inc.get("state") == "open"
    summary = html.Summary([
        dbc.Badge(tier or "—", color=TIER_COLOR.get(tier, "secondary"), className="me-2"),
        html.Span(f"{inc.get('market_label') or inc.get('market')}: ", className="text-muted"),
        html.Span(inc.get("headline") or "", className="fw-semibold al-incident-headline"),
        html.Span(f" · {n} alert{'s' if n != 1 else ''} · ", className="text-muted"),
        html.Span("open" if is_open else f"resolved {_when(inc.get('resolved_at'))}",
                  className="text-danger" if is_open else "text-success"),
        html.Span(f" · opened {_when(inc.get('opened_at'))} UTC", className="text-muted small"),
    ], className="al-incident-summary")
    table = html.Table([html.Thead(html.Tr([html.Th(h) for h in ("tier", "move", "state", "data time (UTC)", "")])),
                        html.Tbody([_member_row(m) for m in members])],
                       className="table table-sm table-dark mb-1 al-members")
    return html.Details([summary, table], open=open_, className="al-incident mb-1",
                        id={"type": "al-incident", "id": inc.get("id") or ""})


def incident_list(payload: dict, *, series: list[str] | None = None, tiers: list[str] | None = None) -> Any:
    """Open incidents first (expanded when critical), then recently resolved ones."""
    incidents = filter_incidents((payload or {}).get("incidents") or [], series=series, tiers=tiers)
    if not incidents:
        return html.Div("No incidents" + (" for these filters." if series or tiers else "."),
                        className="small text-muted", id="al-incidents-none")
    return [incident_card(i, open_=i.get("state") == "open" and i.get("tier") == "critical") for i in incidents]


# ------------------------------------------------------------------------------------- layout
COLUMN_DEFS = [
    # Sorted as UTC text; shown in the zone the user picked (assets/time.js, `?tz=`).
    {"field": "time", "headerName": "time", "sort": "desc", "width": 190,
     "valueFormatter": {"function": "cmTime(params.value)"}},
    {"field": "kind", "width": 130},
    {"field": "series", "width": 120},
    {"field": "rule", "width": 150},
    {"field": "state", "width": 110},
    {"field": "tier", "width": 95},
    {"field": "move", "width": 95, "type": "rightAligned"},
    {"field": "sigma", "headerName": "σ", "width": 90, "type": "rightAligned"},
    {"field": "window", "width": 150},
    {"field": "z", "width": 80, "type": "rightAligned", "filter": "agNumberColumnFilter"},
    {"field": "rarity", "width": 190},
    {"field": "source", "width": 85},
    {"field": "text", "flex": 1, "minWidth": 300, "tooltipField": "text"},
    {"field": "acknowledged", "width": 170},
    {"field": "link", "headerName": "", "width": 70, "cellRenderer": "markdown",  # markdown links open in this tab
     "sortable": False, "filter": False},
]


def _multi(gid: str, placeholder: str, options, value) -> dbc.Col:
    return dbc.Col(dcc.Dropdown(id=gid, options=options, value=value, multi=True, placeholder=placeholder,
                                className="cm-dropdown"), md=3)


def layout(snap, **query) -> html.Div:
    """The page for the URL's query, drawn from `snap` (its series list checks the parameters)."""
    known = known_series(snap)
    f, notices = parse_filters(query, known)
    writable = can_write_now()
    return html.Div([
        html.H4("Alerts", className="mt-2"),
        html.Div(notice_banner(notices), id=AL_NOTICE),
        dcc.Store(id=AL_TAG), dcc.Store(id=AL_BUMP, data=0), dcc.Store(id=AL_FOCUS, data=f["alert"]),
        dcc.Store(id=AL_SEARCH), dcc.Store(id=AL_URL_SINK), dcc.Store(id=AL_INC_TAG), dcc.Download(id=AL_DOWNLOAD),
        html.Div(id=AL_COUNTS, className="mb-2"),
        dbc.Card([
            dbc.CardHeader("Focused alert", className="py-1 fw-bold"),
            dbc.CardBody([
                html.Div(id=AL_DETAIL, children=detail_card(snap.alerts, f["alert"])),
                html.Hr(className="my-2"),
                dbc.Row([
                    dbc.Col(dbc.InputGroup([dbc.InputGroupText("by"),
                                            dbc.Input(id=AL_WHO, value=_default_name(), maxlength=64, size="sm")],
                                           size="sm"), md=2),
                    dbc.Col(dbc.Button("Acknowledge", id=AL_ACK, color="info", size="sm", disabled=not writable),
                            md="auto"),
                    dbc.Col(dbc.RadioItems(id=AL_SIL_DUR, value="1h", inline=True,
                                           options=[{"label": f"silence {k}", "value": k} for k in SILENCE_HOURS]),
                            md="auto"),
                    dbc.Col([dbc.Button("Silence this rule", id=AL_SIL_RULE, color="secondary", size="sm",
                                        className="me-1", disabled=not writable),
                             dbc.Button("Silence this series", id=AL_SIL_SERIES, color="secondary", size="sm",
                                        disabled=not writable)], md="auto"),
                    dbc.Col(html.Span("" if writable else read_only_text(),
                                      id=AL_READONLY, className="small text-warning"), md="auto"),
                    dbc.Col(html.Span(signed_in(), id=AL_SIGNED_IN, className="small text-muted"), md="auto"),
                ], className="g-2 align-items-center"),
                html.Div(id=AL_ACTION_MSG, className="small mt-1"),
            ], className="p-2"),
        ], className="mb-3"),
        dbc.Row([
            _multi(AL_SERIES, "all series", [{"label": v, "value": k} for k, v in known.items()], f["series"]),
            _multi(AL_STATE, "all states", [{"label": s, "value": s} for s in STATES], f["state"]),
            _multi(AL_TIER, "all tiers", [{"label": t, "value": t} for t in TIERS], f["tier"]),
            dbc.Col(dbc.InputGroup([dbc.InputGroupText("since"),
                                    dbc.Input(id=AL_SINCE, debounce=True, **ISO_DATE_INPUT,
                                              value=f["since"].isoformat() if f["since"] else None)], size="sm"),
                    md=2),
            dbc.Col(dbc.Button("CSV", id=AL_CSV, color="success", size="sm", outline=True), md="auto"),
        ], className="g-2 mb-2 align-items-center"),
        dbc.Card([
            dbc.CardHeader("Incidents — the alerts of one market event, grouped", className="py-1 fw-bold"),
            dbc.CardBody(html.Div(incident_list(snap.alerts, series=f["series"], tiers=f["tier"]),
                                  id=AL_INCIDENTS), className="p-2"),
        ], className="mb-2"),
        html.Div(dag.AgGrid(
            id=AL_GRID, rowData=[], columnDefs=COLUMN_DEFS,
            defaultColDef={"sortable": True, "filter": True, "resizable": True},
            getRowId="params.data.row_id",
            dashGridOptions={"rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
                             "pagination": True, "paginationPageSize": 50, "tooltipShowDelay": 300,
                             "animateRows": False},
            style={"height": "560px"},
        ), **{"data-ag-theme-mode": "dark"}),
        html.Div(id=AL_SILENCES, className="small text-muted mt-2 mb-3"),
        dbc.Card([
            dbc.CardHeader("Notifications — delivery log (sent, retried, failed; targets masked)",
                           className="py-1 fw-bold"),
            dbc.CardBody(html.Div(delivery_log((snap.alerts or {}).get("deliveries") or []), id=AL_DELIVERIES),
                         className="p-2 small"),
        ], className="mb-3"),
    ], className="al-page")
