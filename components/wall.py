"""The Wall screen (/wall): unattended, dark, huge type, readable from 5 m, no interaction.

One tile per key series (value, move, z60, a ticking data-age clock), a LOUD full-width banner
for firing critical alerts (watch/warning quieter), a whole-screen STALE frame when the key
series stop, SIMULATED/REPLAY in the status line, optional rotation between panels:

    /wall                                   tiles only
    /wall?panels=tiles,curves,alerts&rotate=20   rotate every 20 s between the three panels

Everything shown is rendered by `render()` from the snapshot (no statistics here); the layout
renders it at once and callbacks/wall.py re-renders only when the snapshot's tag changed.
assets/wall.js watches the server (heartbeat) and shows "connection lost — retrying".
"""
from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from components import ids
from views.digest import digest as content_digest
from alerts.engine import stat_from_detail
from alerts.text import largest_headline, largest_short, quality_text
from alerts.text import plain as cut
from analytics.movestats import stat_from_row
from components.figures import graph_config
from components.format import epoch_ms, fmt_age, fmt_change, fmt_value, fmt_z
from components.events import countdown, events_strip, member_line, top_incidents
from components.urlstate import Param, notice_banner, parse
from data.events import next_events

__all__ = [
    "PANELS",
    "PANEL_IDS",
    "PARAMS",
    "TILES",
    "WALL_ALERT",
    "WALL_ALERTS",
    "WALL_CONFIG",
    "WALL_CURVES",
    "WALL_PANEL_LABEL",
    "WALL_ROOT",
    "WALL_ROTATE",
    "WALL_STALE",
    "WALL_STATUS",
    "WALL_TAG",
    "WALL_TILES",
    "Tile",
    "alert_banner",
    "key_tiles",
    "layout",
    "panel_label",
    "parse_query",
    "render",
    "WallView",
    "digest",
    "plain",
    "wall_view_model",
]

# ------------------------------------------------------------------------------------ ids
WALL_ROOT = "cm-wall"                 # root div; body:has(.cm-wall) hides the navbar (assets/wall.css)
WALL_TAG = "cm-wall-tag"              # dcc.Store: tag of the snapshot on screen (unchanged → no_update)
WALL_CONFIG = "cm-wall-config"        # dcc.Store: parsed URL {panels, rotate}
WALL_ROTATE = "cm-wall-rotate"        # dcc.Interval driving the (clientside) panel rotation
WALL_STATUS = "cm-wall-status"        # compact status line: mode, data clock, last update
WALL_ALERT = "cm-wall-alert"          # critical banner (loud) + watch/warning strip (quiet)
WALL_STALE = "cm-wall-stale"          # STALE / store-unavailable strip
WALL_TILES = "cm-wall-tiles"
WALL_CURVES = "cm-wall-curves"        # dcc.Graph
WALL_ALERTS = "cm-wall-alerts"
WALL_PANEL_LABEL = "cm-wall-panel-label"
PANELS = ("tiles", "curves", "alerts")
PANEL_IDS = {p: f"cm-wall-panel-{p}" for p in PANELS}

MIN_ROTATE_S = 5
MAX_ALERT_ROWS = 9           # what fits the alerts panel under a banner at wall size
TIER_RANK = {"watch": 1, "warning": 2, "critical": 3}
ESTIMATOR_LABEL = {"w60": "60d", "w250": "250d", "ewma": "EWMA", "mad250": "MAD 250d"}

PARAMS = (Param("panels", "str", "tiles"),
          Param("rotate", "int", 0, lo=0, hi=3600),
          Param("asof", "date", None))     # pinned to the end of that day (a shared link), not live


@dataclass(frozen=True)
class Tile:
    series_id: str
    label: str                        # short: read from across the room
    fallback: str | None = None       # shown when the main series has no value yet


TILES: tuple[Tile, ...] = (
    Tile("jgb_10y", "JGB 10Y"), Tile("jgb_30y", "JGB 30Y"), Tile("jgb_40y", "JGB 40Y"),
    Tile("ust_10y", "UST 10Y"), Tile("ust_30y", "UST 30Y"), Tile("usdjpy", "USD/JPY", fallback="usdjpy_noon"),
    Tile("ust_10y_yh", "UST 10Y ^TNX"), Tile("tlt", "TLT"),
)


# ------------------------------------------------------------------------------------ URL
def parse_query(query: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """{panels: [...], rotate: seconds (0 = off)} and notices; bad values fall back to defaults."""
    values, notices = parse(PARAMS, query)
    raw = [p.strip() for p in str(values["panels"]).split(",") if p.strip()]
    bad = [p for p in raw if p not in PANELS]
    panels = list(dict.fromkeys(p for p in raw if p in PANELS))  # keep order, drop repeats
    if bad:
        notices.append(f"panels: unknown {', '.join(repr(b) for b in bad)} ignored "
                       f"(choose from {', '.join(PANELS)})")
    if not panels:
        if not raw:
            notices.append("panels is empty: using tiles")
        panels = ["tiles"]
    rotate = int(values["rotate"])
    if 0 < rotate < MIN_ROTATE_S:
        notices.append(f"rotate={rotate} is too fast: using {MIN_ROTATE_S} s")
        rotate = MIN_ROTATE_S
    asof = values["asof"]
    return {"panels": panels, "rotate": rotate, "asof": asof.isoformat() if asof else None}, notices


# ------------------------------------------------------------------------------------ pieces
def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _z_by_series(frame, series_ids: set[str]) -> dict[str, dict[str, float | None]]:
    """{series_id: {"daily": z60 of the 1-day move, "intraday": z60 of the move since the close}}.
    A lookup in the precomputed move table, not a statistic."""
    out: dict[str, dict[str, Any]] = {}
    if frame is None or len(frame) == 0:
        return out
    sub = frame[frame["series_id"].isin(series_ids)]
    for d in sub.to_dict("records"):
        if d["kind"] == "daily" and int(d["horizon"]) == 1:
            st = stat_from_row(d)
            out.setdefault(d["series_id"], {}).update(daily=_num(d["z_w60"]), largest=largest_short(st),
                                                     quality=quality_text(st))
        elif d["kind"] == "intraday":
            out.setdefault(d["series_id"], {}).update(intraday=_num(d["z_w60"]), intraday_move=_num(d["move"]))
    return out


def _firing(alerts: list[dict]) -> list[dict]:
    return [a for a in alerts if a.get("state") == "firing"]


def _alert_z(a: dict) -> float | None:
    """The z a z-rule alert fired on (None for level, spread and contagion-signal alerts)."""
    st = a.get("statistics") or {}
    z = st.get("z")
    return _num(z.get(st.get("estimator") or "w60")) if isinstance(z, dict) else None


def _short(text: str, n: int = 90) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _fmt_z(z: float | None) -> str:
    return fmt_z(z)


def key_tiles(snap, now: dt.datetime, tiers: dict[str, str]) -> list[html.Div]:
    # Exchange quotes of a close of record (universe `sigma_from`) are shown instead while they are
    # newer than its close — the JGB move while Tokyo trades, with its own age (live views only).
    quotes = {t.series_id: snap.quotes_row(t.series_id) for t in TILES}
    ids_ = {t.series_id for t in TILES} | {t.fallback for t in TILES if t.fallback} | \
        {q.id for q in quotes.values() if q is not None}
    zs = _z_by_series(snap.move_frame(), ids_)
    out = []
    for t in TILES:
        row = snap.row(t.series_id)
        if (row is None or row.value is None) and t.fallback:
            row = snap.row(t.fallback) or row
        if quotes[t.series_id] is not None:
            row = quotes[t.series_id]
        out.append(_tile(t, row, now, zs, tiers, snap.pinned))
    return out


def _tile(t: Tile, row, now: dt.datetime, zs: dict, tiers: dict[str, str], snap_pinned=None) -> html.Div:
    dom = f"tile-{t.series_id}"
    if row is None:
        return html.Div([html.Div(t.label, className="cm-tile-label"), html.Div("NO DATA", className="cm-tile-value")],
                        id=dom, className="cm-tile cm-tile-nodata")
    intraday = row.freq == "I"
    info = zs.get(row.id) or {}
    z = info.get("intraday" if intraday else "daily")
    said = info.get("quality") or info.get("largest") or ""
    stale = row.is_stale(now)
    quotes = row.record_of == t.series_id
    # The quotes' move runs from the close of record (the move table's intraday row).
    change = info.get("intraday_move") if quotes else row.change
    # A shorter form for a tile left little room (assets/wall.js picks the one that fits whole).
    short = said.split(" (")[0] if " (" in said else None
    if quotes:
        said, short = "exchange quote, not the MOF fixing", "exchange quote"
    tier = _worst(tiers.get(row.id), tiers.get(t.series_id),
                  tiers.get(t.fallback) if t.fallback else None)
    age = row.age(now)
    up = (change or 0) > 0
    down = (change or 0) < 0
    classes = ["cm-tile"]
    if stale:
        classes.append("cm-tile-stale")
    if row.value is None:
        classes.append("cm-tile-nodata")
    if tier:
        classes.append(f"cm-tile-{tier}")
    src = row.source + (" · intraday" if intraday else "") + (" · fallback" if row.source == row.fallback_source else "")
    # a pinned view's ages are fixed at the end of its day: no ticking against today's clock
    age_attrs = ({"data-asof": epoch_ms(row.as_of), "data-staleafter": row.stale_after.total_seconds()}
                 if row.as_of and snap_pinned is None else {})
    return html.Div(
        [
            html.Div([html.Span(t.label, className="cm-tile-label"),
                      html.Span(tier.upper(), className=f"cm-tile-tier cm-tier-{tier}") if tier else None,
                      html.Span("LIVE", className="cm-tile-live") if row.is_live(now) else None],
                     className="cm-tile-head"),
            html.Div(fmt_value(row.value, row.kind) if row.value is not None else "NO DATA",
                     className="cm-tile-value"),
            html.Div(
                [html.Span(fmt_change(change, row.unit),
                           className="cm-tile-move " + ("cm-up" if up else "cm-down" if down else "")),
                 html.Span([html.Span("z60 ", className="cm-tile-zlabel"), _fmt_z(z)],
                           className="cm-tile-z" + (" cm-z-big" if z is not None and abs(z) >= 3 else ""),
                           title="z of the move against a 60-day σ ending the day before"
                                 + (" (cumulative move since the close, intraday)" if intraday else ""))],
                className="cm-tile-row"),
            # What a desk quotes ("largest since 2016-03-08"), or what the data-quality gate
            # says about the close (held, short history) — one line.
            html.Div([html.Span(said, className="cm-said-full"), html.Span(short, className="cm-said-short")]
                     if short else said, className="cm-tile-said" + (" cm-tile-held" if info.get("quality") else "")),
            html.Div(
                [html.Span(fmt_age(age.total_seconds() if age else None), className="cm-age cm-tile-age", **age_attrs),
                 html.Span(" old", className="cm-tile-agelabel"),
                 html.Span(src, className="cm-tile-src")],
                className="cm-tile-foot"),
        ],
        id=dom, className=" ".join(classes),
    )


def _worst(*tiers: str | None) -> str | None:
    named = [x for x in tiers if x]
    return max(named, key=lambda x: TIER_RANK.get(x, 0)) if named else None


def _alert_line(a: dict) -> tuple[str, str]:
    """(headline, detail): 'JGB 30Y  +20.3 bp  7.6σ' and '1-day move · σ 2.7 bp (60d)'."""
    st = a.get("statistics") or {}
    label = a.get("label") or a.get("series_id") or "?"
    z = _alert_z(a)
    move, unit = _num(st.get("move")), st.get("unit") or "bp"
    est = st.get("estimator") or "w60"
    sigma = _num((st.get("sigma") or {}).get(est)) if isinstance(st.get("sigma"), dict) else None
    if move is None or z is None:
        # level, spread and contagion alerts: their own text says what happened
        return _short(a.get("text") or label), ""
    horizon = int(st.get("horizon") or 1)
    intraday = st.get("kind") == "intraday"
    span = " intraday" if intraday else (f" over {horizon}d" if horizon > 1 else "")
    kind = "move since the close (intraday)" if intraday else f"{horizon}-day move"
    sig = "" if sigma is None else (f"σ {sigma:.1f} bp" if unit == "bp" else f"σ {sigma:.2f}%")
    head = f"{label}  {fmt_change(move, unit)}{span}  {cut(abs(z), 1)}σ"
    ms = stat_from_detail(st)
    said = largest_headline(ms) if ms is not None else ""
    detail = " · ".join(x for x in (said, kind, f"{sig} ({ESTIMATOR_LABEL.get(est, est)})" if sig else "") if x)
    return head, detail


MAX_INCIDENTS = 3            # incidents the banner shows, each readable from 5 m


def incident_banner(incidents: list[dict], alerts: list[dict]) -> list | None:
    """LOUD banner per open critical incident (at most MAX_INCIDENTS; the first large with its lead
    alert's detail and text, the members in one line under each headline); warning/watch
    incidents on the quiet strip. None when the payload has no incidents (then: per alert)."""
    if not any(i.get("state") == "open" for i in incidents or ()):
        return None
    live = {a.get("alert_id"): a for a in _firing(alerts)}
    def unsilenced(i: dict) -> bool:    # an incident whose every firing member is silenced is quiet
        ms = [live[m["alert_id"]] for m in i.get("members") or () if m.get("alert_id") in live]
        return not ms or any(not a.get("silenced") for a in ms)
    top = [i for i in top_incidents(incidents, n=len(incidents)) if unsilenced(i)]
    crit = [i for i in top if i.get("tier") == "critical"][:MAX_INCIDENTS]
    rest = [i for i in top if i.get("tier") != "critical"]
    out: list = []
    if crit:
        first = crit[0]
        lead = live.get(first.get("lead_alert_id")) or {}
        detail = _alert_line(lead)[1] if lead else ""
        blocks = [html.Div([html.Span("CRITICAL", className="cm-crit-word"),
                            html.Span(f"{first.get('headline')}", className="cm-crit-head")],
                           className="cm-crit-title"),
                  html.Div(member_line(first), className="cm-crit-detail cm-crit-members"),
                  html.Div(detail, className="cm-crit-text") if detail else None]
        others = [f"{i.get('market_label')}: {i.get('headline')} · {member_line(i, limit=0)}" for i in crit[1:]]
        if others:
            blocks.append(html.Div([html.Span(o, className="cm-crit-other") for o in others],
                                   className="cm-crit-others"))
        out.append(html.Div(blocks, className="cm-wall-critical", id="cm-wall-critical"))
    if rest:
        items = [html.Span([html.B(f"{(i.get('tier') or 'watch').upper()} "),
                            f"{i.get('headline')} · {member_line(i, limit=0)}"],
                           className=f"cm-quiet-item cm-tier-{i.get('tier') or 'watch'}") for i in rest[:4]]
        if len(rest) > 4:
            items.append(html.Span(f"+{len(rest) - 4} more", className="cm-quiet-item"))
        out.append(html.Div(items, className="cm-wall-quiet", id="cm-wall-quiet"))
    return out


def alert_banner(alerts: list[dict], incidents: list[dict] | None = None) -> list:
    """LOUD full-width banner for what is firing: one block per incident (components.events), or
    — for a payload without incidents — per critical alert (the most extreme one large, the
    others listed below it); watch/warning on one quieter strip."""
    by_incident = incident_banner(incidents or [], alerts)
    if by_incident is not None:
        return by_incident
    firing = _firing(alerts)
    crit = [a for a in firing if a.get("tier") == "critical" and not a.get("silenced")]
    crit.sort(key=lambda a: -abs(_alert_z(a) or 0))
    rest = [a for a in firing if a not in crit]
    rest.sort(key=lambda a: (-TIER_RANK.get(a.get("tier") or "", 0), -abs(_alert_z(a) or 0)))
    out: list = []
    if crit:
        head, detail = _alert_line(crit[0])
        others = [_alert_line(a)[0] for a in crit[1:9]]
        if len(crit) > 9:
            others.append(f"+{len(crit) - 9} more")
        out.append(html.Div(
            [html.Div([html.Span("CRITICAL", className="cm-crit-word"),
                       html.Span(head, className="cm-crit-head")], className="cm-crit-title"),
             html.Div(detail, className="cm-crit-detail"),
             html.Div(crit[0].get("text") or "", className="cm-crit-text"),
             html.Div([html.Span(o, className="cm-crit-other") for o in others], className="cm-crit-others")
             if others else None],
            className="cm-wall-critical", id="cm-wall-critical"))
    if rest:
        items = []
        for a in rest[:6]:
            head, _detail = _alert_line(a)
            tier = a.get("tier") or "watch"
            items.append(html.Span([html.B((tier.upper() + (" (silenced)" if a.get("silenced") else "")) + " "), head],
                                   className=f"cm-quiet-item cm-tier-{tier}"))
        if len(rest) > 6:
            items.append(html.Span(f"+{len(rest) - 6} more", className="cm-quiet-item"))
        out.append(html.Div(items, className="cm-wall-quiet", id="cm-wall-quiet"))
    return out


def flow_problem(snap, now: dt.datetime) -> tuple[str, list[str]] | None:
    """Is data flowing? ("NO DATA", why) when no key tile has a value, ("NO FEED", why) when
    every source is failing; None otherwise. `why`: one short line per failing source."""
    wall = dt.datetime.now(dt.UTC)
    states = snap.source_states()
    failing = [s.failure_text(wall, retry=False) for s in snap.sources if states.get(s.health.source) == "failing"]
    rows = [snap.row(t.series_id) or (snap.row(t.fallback) if t.fallback else None) for t in TILES]
    if not any(r is not None and r.value is not None for r in rows):
        return "NO DATA", failing
    if states and all(v == "failing" for v in states.values()):
        return "NO FEED", failing
    return None


def stale_strip(stale: list[tuple[str, str]], store_error: str | None,
                flow: tuple[str, list[str]] | None = None) -> list:
    out: list = []
    if store_error:
        out.append(html.Div(f"STORE UNAVAILABLE — showing the last data read. {store_error}",
                            className="cm-wall-strip cm-wall-storeerr"))
    if flow:
        word, why = flow
        what = ("nothing has arrived from any source" if word == "NO DATA"
                else "every source is failing — the values shown are the last received")
        out.append(html.Div([html.Span(word, className="cm-stale-word"),
                             html.Span(f" data is not flowing: {what}"
                                       + (f" · {' · '.join(why)} · retrying" if why else ""))],
                            className="cm-wall-strip cm-wall-stalestrip", id="cm-wall-nodata-banner"))
    if stale:
        shown = " · ".join(f"{label} {age}" for label, age in stale)
        out.append(html.Div([html.Span("STALE", className="cm-stale-word"),
                             html.Span(f" data stopped — no fresh value for {len(stale)} key series: {shown}")],
                            className="cm-wall-strip cm-wall-stalestrip", id="cm-wall-stale-banner"))
    return out


def status_line(snap, now: dt.datetime, *, store_error: str | None,
                flow: tuple[str, list[str]] | None = None) -> list:
    mode = snap.mode
    badge = {"demo": ("SIMULATED", "cm-mode-sim"), "replay": ("REPLAY", "cm-mode-replay")}.get(
        mode, (mode.upper(), "cm-mode-live"))
    if flow and mode == "live":      # never a green LIVE while nothing arrives
        badge = (f"LIVE · {flow[0]}", "cm-mode-down")
    if snap.pinned is not None:      # a shared link to a past day: never mistaken for live
        badge = (f"PINNED {snap.pinned.isoformat()}" + (" · SIMULATED" if snap.simulated else ""), "cm-mode-pinned")
    clock_meta = getattr(snap.clock, "to_meta", None)
    clock = json.loads(clock_meta()) if clock_meta else {"kind": "system"}
    states = snap.source_states()
    bad = sorted(s for s, v in states.items() if v in ("failing", "stale"))
    n_ok = sum(1 for v in states.values() if v == "ok")
    # When the newest stored value arrived (the same in every web process); before any data,
    # when this snapshot was built.
    updated = getattr(snap, "data_at", None) or snap.built_at
    return [
        html.Span(badge[0], className=f"cm-mode {badge[1]}", id="cm-wall-mode"),
        html.Span([html.Span("data clock ", className="cm-k"),
                   html.Span(now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                             id="cm-wall-dataclock", className="cm-v",
                             **{"data-clock": json.dumps(clock)})]),
        html.Span([html.Span("last update ", className="cm-k"),
                   html.Span(fmt_age((dt.datetime.now(dt.UTC) - updated).total_seconds()),
                             className="cm-age cm-v", id="cm-wall-updated",
                             **{"data-asof": epoch_ms(updated), "data-wall": "1"}),
                   html.Span(" ago", className="cm-k")], title=f"newest data arrived {updated.isoformat()}"),
        html.Span([html.Span("sources ", className="cm-k"),
                   html.Span(f"{n_ok} ok" + "".join(f" · {b} {states[b]}" for b in bad),
                             className="cm-v" + (" cm-bad" if bad else ""))]),
        html.Span("STORE ERROR", className="cm-v cm-bad") if store_error else None,
    ]


def panel_label(panels: list[str], rotate: int, active: str | None = None) -> str:
    if len(panels) < 2:
        return " · ".join(panels)
    active = active or panels[0]
    return f"{active.upper()} {panels.index(active) + 1}/{len(panels)}" + (f" · every {rotate}s" if rotate else "")


def curves_figure(contagion) -> go.Figure:
    """JGB and UST curves now vs 1 week and 1 month ago (a full replace each update: bounded)."""
    curves = getattr(contagion, "curves", None) or {}
    fig = make_subplots(rows=1, cols=2, subplot_titles=("JGB curve", "UST curve"), horizontal_spacing=0.06)
    styles = {"now": {"width": 5, "color": "#f8f9fa"}, "1W": {"width": 3, "color": "#f39c12", "dash": "dash"},
              "1M": {"width": 3, "color": "#3498db", "dash": "dot"}}
    for col, key in ((1, "JGB"), (2, "UST")):
        cmp_ = curves.get(key)
        if cmp_ is None:
            continue
        lv = cmp_.levels
        for name in ("1M", "1W", "now"):
            if name not in lv.columns:
                continue
            when = cmp_.dates.get(name) if isinstance(getattr(cmp_, "dates", None), dict) else None
            label = f"{name} ({when:%Y-%m-%d})" if when is not None else name
            fig.add_trace(go.Scatter(x=[str(t) for t in lv.index], y=[_num(v) for v in lv[name]],
                                     mode="lines+markers", name=f"{key} {label}", line=styles[name],
                                     marker={"size": 9 if name == "now" else 5},
                                     legendgroup=name, showlegend=True), row=1, col=col)
    fig.update_layout(template="plotly_dark", paper_bgcolor="#000", plot_bgcolor="#000",
                      font={"size": 22, "color": "#f8f9fa"}, margin={"l": 70, "r": 20, "t": 60, "b": 60},
                      legend={"orientation": "h", "y": -0.12, "font": {"size": 18}}, uirevision="wall")
    fig.update_yaxes(title_text="yield %", gridcolor="#333")
    fig.update_xaxes(gridcolor="#333", type="category")
    fig.update_annotations(font_size=28)
    return fig


def alerts_list(alerts: list[dict]) -> html.Div:
    active = [a for a in alerts if a.get("state") in ("firing", "pending", "nodata", "error")]
    if not active:
        return html.Div("No active alerts.", className="cm-wall-noalerts")
    rows = []
    for a in active[:MAX_ALERT_ROWS]:
        head, detail = _alert_line(a)
        tier = a.get("tier") or ""
        rows.append(html.Div([html.Span((tier or a.get("state", "")).upper(), className=f"cm-al-tier cm-tier-{tier}"),
                              html.Span(str(a.get("state", "")).upper(), className="cm-al-state"),
                              html.Span(head, className="cm-al-head"),
                              html.Span(detail, className="cm-al-detail")],
                             className=f"cm-al-row cm-al-{a.get('state')}"))
    if len(active) > MAX_ALERT_ROWS:
        rows.append(html.Div(f"+{len(active) - MAX_ALERT_ROWS} more on /alerts", className="cm-al-more"))
    return html.Div(rows, className="cm-al-list")


# ------------------------------------------------------------------------------------ whole view
def _stale_keys(snap, now: dt.datetime) -> list[tuple[str, str]]:
    out = []
    for t in TILES:
        row = snap.row(t.series_id)
        if (row is None or row.value is None) and t.fallback:
            row = snap.row(t.fallback) or row
        if row is not None and row.is_stale(now):
            out.append((t.label, fmt_age(row.age(now).total_seconds())))
    return out


# ------------------------------------------------------------------------------------ what a screen is sent
# Parts of the wall whose text the browser keeps ticking by itself (assets/age.js, wall.js): their
# server-side text is only the first paint, so it never counts as a change.
_TICKING_CLASS = "cm-age"
_TICKING_IDS = {"cm-wall-dataclock"}
_VIEW_CACHE_SIZE = 32          # distinct (URL config, time-derived state) kept per snapshot
TAG_VERSION = 2                # bump when the tag's shape changes: old screens get a full render


@dataclass(frozen=True)
class WallView:
    """What every screen with this config is sent for one snapshot, rendered once per process.

    `parts` are JSON-ready (plain dicts: a screen's update is serialised, never re-rendered);
    `digests` fingerprint each part's content (one per tile) with the browser-ticked texts left
    out, so they are the same in every web process that reads the same store; `tag` is what the
    screen keeps and sends back, from which the callback sends only the parts that differ.
    """
    parts: dict[str, Any]
    digests: dict[str, Any]
    tag: dict[str, Any]


def plain(x: Any) -> Any:
    """A component tree (or figure) as the JSON-ready dicts Dash would send for it."""
    if hasattr(x, "to_plotly_json"):
        x = x.to_plotly_json()
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x


def _without_ticking(x: Any) -> Any:
    if isinstance(x, list):
        return [_without_ticking(v) for v in x]
    if not isinstance(x, dict):
        return x
    props = x.get("props")
    if isinstance(props, dict):
        if _TICKING_CLASS in str(props.get("className") or "").split() or props.get("id") in _TICKING_IDS:
            props = {k: v for k, v in props.items() if k != "children"}
        return {**x, "props": {k: _without_ticking(v) for k, v in props.items()}}
    return {k: _without_ticking(v) for k, v in x.items()}


def digest(part: Any) -> str:
    """Content fingerprint of a JSON-ready part, browser-ticked texts excluded."""
    return content_digest(_without_ticking(part))


def wall_view_model(snap, store_error: str | None, config: Mapping[str, Any]) -> WallView:
    """The wall for this snapshot and config, rendered at most once (kept in the snapshot's memo).

    Keyed by everything the render reads besides the snapshot itself: the store error, the URL
    config, and what depends on the clock (stale and live tiles, source states)."""
    snap = snap.view((config or {}).get("asof"))
    now = snap.now()
    cfg = json.dumps(dict(config or {}), sort_keys=True, default=str)
    live = tuple(t.series_id for t in TILES if (r := snap.row(t.series_id)) is not None and r.is_live(now))
    # the countdowns of the next events change with the clock, not with the data
    soon = tuple(countdown(e, now) for e in next_events(snap.events, now, dt.timedelta(days=14))[:3])
    key = ("wall", store_error, cfg, tuple(_stale_keys(snap, now)), live, tuple(sorted(snap.source_states().items())),
           soon)

    def build() -> WallView:
        parts = {k: plain(v) for k, v in render(snap, store_error, config).items()}
        digests = {k: ([digest(t) for t in v] if k == WALL_TILES else digest(v)) for k, v in parts.items()}
        return WallView(parts=parts, digests=digests, tag={"v": TAG_VERSION, **digests, "cfg": cfg})

    return snap.remember(key, build, keep=_VIEW_CACHE_SIZE)


def render(snap, store_error: str | None, config: Mapping[str, Any]) -> dict[str, Any]:
    """Every refreshable part of the wall, keyed by component id (plus the root class)."""
    now = snap.now()
    panels = list(config.get("panels") or ["tiles"])
    alerts = list((snap.alerts or {}).get("alerts", []))
    tiers: dict[str, str] = {}
    for a in _firing(alerts):
        sid, tier = a.get("series_id"), a.get("tier") or ""
        if sid and TIER_RANK.get(tier, 0) > TIER_RANK.get(tiers.get(sid, ""), 0):
            tiers[sid] = tier
    stale = _stale_keys(snap, now)
    flow = flow_problem(snap, now)
    top = snap.top_tier()
    root = ["cm-wall"]
    if stale or store_error or flow:
        root.append("cm-wall-is-stale")
    if top == "critical" and any(a.get("tier") == "critical" and not a.get("silenced") for a in _firing(alerts)):
        root.append("cm-wall-is-critical")
    if snap.simulated:
        root.append("cm-wall-is-sim")
    return {
        WALL_ROOT: " ".join(root),
        WALL_STATUS: status_line(snap, now, store_error=store_error, flow=flow),
        WALL_ALERT: alert_banner(alerts, (snap.alerts or {}).get("incidents")) + [
            events_strip(snap.events, now, n=3, class_name="cm-wall-events", id_="cm-wall-events")],
        WALL_STALE: stale_strip(stale, store_error, flow),
        WALL_TILES: key_tiles(snap, now, tiers) if "tiles" in panels else [],
        WALL_CURVES: curves_figure(snap.contagion) if "curves" in panels else go.Figure(),
        WALL_ALERTS: alerts_list(alerts) if "alerts" in panels else [],
    }


def _panel_class(panel: str, panels: list[str]) -> str:
    return "cm-wall-panel" + (" cm-active" if panels and panels[0] == panel else "")


def layout(snap, store_error: str | None, **query) -> html.Div:
    """The whole screen for the URL's query, rendered at once from `snap` (no empty first paint:
    the first refresh finds it on screen and sends nothing)."""
    config, notices = parse_query(query)
    view = wall_view_model(snap, store_error, config)
    parts = view.parts
    panels, rotate = config["panels"], config["rotate"]
    graph_cfg = graph_config("wall-curves", size=(1920, 1080))
    return html.Div(
        [
            dcc.Store(id=WALL_TAG, data=view.tag),
            dcc.Store(id=WALL_CONFIG, data=config),
            dcc.Interval(id=WALL_ROTATE, interval=max(rotate, MIN_ROTATE_S) * 1000,
                         disabled=not rotate or len(panels) < 2),
            html.Div([html.Div(parts[WALL_STATUS], id=WALL_STATUS, className="cm-wall-status-main"),
                      # filled by assets/wall.js (heartbeat), outside the re-rendered part
                      html.Span(className="cm-wall-server", id="cm-wall-server"),
                      html.Span(panel_label(panels, rotate), id=WALL_PANEL_LABEL, className="cm-k cm-wall-panels")],
                     className="cm-wall-status"),
            html.Div(notice_banner(notices), className="cm-wall-notice"),
            html.Div(parts[WALL_STALE], id=WALL_STALE),
            html.Div(parts[WALL_ALERT], id=WALL_ALERT),
            html.Div(html.Div(parts[WALL_TILES], id=WALL_TILES, className="cm-tiles"),
                     id=PANEL_IDS["tiles"], className=_panel_class("tiles", panels)),
            html.Div(dcc.Graph(id=WALL_CURVES, figure=parts[WALL_CURVES], config=graph_cfg,
                               className="cm-wall-graph"),
                     id=PANEL_IDS["curves"], className=_panel_class("curves", panels)),
            html.Div(html.Div(parts[WALL_ALERTS], id=WALL_ALERTS),
                     id=PANEL_IDS["alerts"], className=_panel_class("alerts", panels)),
        ],
        id=WALL_ROOT, className=parts[WALL_ROOT],
        **{"data-refresh": ids.REFRESH},   # assets/wall.js pauses this Interval while the server is down
    )
