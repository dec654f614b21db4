"""The Overview page (/): a tile per key series, the JGB and UST curves now vs 1D/1W/1M, and the
live alert feed.

Tile: value, move since the previous close (bp or %), z against the 60-day σ, rarity ("1 in N
years"), a sparkline of the last closes, and a colour for the worst firing alert of that series;
each tile links to its Series page. Every number comes precomputed from the snapshot.
"""
from __future__ import annotations

import math
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Patch, dcc, html, no_update

from views.digest import digest
from components.figures import (
    TIER_COLORS,
    curve_figure,
    curve_patch,
    curve_signature,
    empty_figure,
    graph_config,
    sparkline_figure,
)
from alerts.text import largest_headline, quality_text
from analytics.movestats import stat_from_row
from components.format import epoch_ms, fmt_age, fmt_change, fmt_value, fmt_z, when
from components.series import alert_permalink, fmt_rarity, series_history
from components.events import events_strip, incident_banner
from components.urlstate import Param, notice_banner, parse

__all__ = [
    "FEED_LIMIT",
    "KEY_SERIES",
    "OUTPUTS",
    "SPARK_POINTS",
    "alert_tier",
    "curve_caption",
    "feed",
    "layout",
    "refresh",
    "tile",
    "tile_data",
    "tiles",
]

# ------------------------------------------------------------------------------------ ids
OV_TILES = "ov-tiles"              # the tile grid (children patched per tile)
OV_CURVE_JGB = "ov-curve-jgb"      # dcc.Graph
OV_CURVE_UST = "ov-curve-ust"      # dcc.Graph
OV_CURVE_NOTE = "ov-curve-note"
OV_FEED = "ov-feed"                # live alert feed
OV_TAG = "ov-tag"                  # dcc.Store: signatures of what is on screen
OV_EVENTS = "ov-events"            # the next-events strip (components/events.py)
OV_INCIDENT = "ov-incident"        # the banner for an open critical incident
OV_EXTRA_TAG = "ov-extra-tag"      # dcc.Store: digest of the strip and the banner last sent
OV_ASOF = "ov-asof"                # dcc.Store: the pinned date (?asof=), None for the live view

# ?asof=YYYY-MM-DD pins the page to the end of that day (a risk team's link to "the overview on
# 2026-01-20"); absent, the page is live.
PARAMS = (Param("asof", "date", None),)

# JGB 10Y/30Y/40Y, UST 2Y/10Y/30Y, USD/JPY, ^TNX intraday, TLT, MOVE (ids from universe.toml).
KEY_SERIES = ("jgb_10y", "jgb_30y", "jgb_40y", "ust_2y", "ust_10y", "ust_30y", "usdjpy", "ust_10y_yh", "tlt",
              "move")
SPARK_POINTS = 60                  # closes in a sparkline (bounded: the page never grows)
FEED_LIMIT = 15
TIER_RANK = {"watch": 1, "warning": 2, "critical": 3}
TIER_BADGE = {"critical": "danger", "warning": "warning", "watch": "info"}


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def alert_tier(snap, series_id: str) -> str | None:
    """The worst tier among this series' firing alerts (None: nothing firing)."""
    tiers = [a.get("tier") for a in snap.alerts.get("alerts", [])
             if a.get("state") == "firing" and a.get("series_id") == series_id]
    return max(tiers, key=lambda t: TIER_RANK.get(t or "", 0), default=None)


def _stat_row(snap, row) -> dict | None:
    """The move statistics matching the value shown: the intraday cumulative move when the last
    value is an intraday bar, else the 1-day move of the last close."""
    f = snap.move_frame()
    if f.empty or row is None:
        return None
    mine = f[f["series_id"] == row.id]
    if row.freq == "I":
        intra = mine[mine["kind"] == "intraday"]
        if len(intra):
            return {"kind": "intraday", **intra.iloc[0].to_dict()}
    daily = mine[(mine["kind"] == "daily") & (mine["horizon"] == 1)]
    return {"kind": "daily", **daily.iloc[0].to_dict()} if len(daily) else None


def _sparkline(snap, row) -> tuple[list[str], list[float]]:
    """The last SPARK_POINTS closes (rebuilt from the cached daily history)."""
    hist = series_history(snap, row.id) if row is not None else None
    if hist is None:
        return [], []
    one = hist.by_h[1]
    one = one[one["quality"] != "rejected"]                          # a rejected print is not a level
    if snap.pinned is not None and row.as_of is not None:            # a pinned view ends at its day
        one = one[one["ts"] <= pd.Timestamp(row.as_of)]
    one = one.tail(SPARK_POINTS)
    return ([pd.Timestamp(t).strftime("%Y-%m-%d") for t in one["ts"]],
            [round(float(v), 6) for v in one["value"]])


def tile_data(snap, series_id: str) -> dict:
    """Everything a tile shows, JSON-able: it doubles as the tile's signature between refreshes."""
    row = snap.row(series_id)
    if row is None:
        return {"id": series_id, "label": series_id, "missing": True}
    st = _stat_row(snap, row)
    x, y = _sparkline(snap, row)
    q = _quote_data(snap, series_id)
    return {
        "id": series_id, "label": row.label, "kind": row.kind, "unit": row.unit,
        "value": row.value, "change": row.change, "as_of": epoch_ms(row.as_of), "freq": row.freq,
        "source": row.source, "fallback": row.fallback_source,
        "stale": row.is_stale(snap.now()), "stale_after": row.stale_after.total_seconds(),
        # pinned: the age at the end of the pinned day, fixed (no ticking against today's clock)
        "pinned_age": (snap.now() - row.as_of).total_seconds() if snap.pinned and row.as_of else None,
        "stat_kind": st["kind"] if st else None,
        "z60": _num(st.get("z_w60")) if st else None,
        "period": _num(st.get("return_period_years")) if st else None,
        "tail": bool(st.get("tail")) if st and st["kind"] == "daily" else False,
        # What a desk quotes, and what the data-quality gate says about the close.
        "largest": largest_headline(stat_from_row(st)) if st and st["kind"] == "daily" else "",
        "quality": quality_text(stat_from_row(st)) if st and st["kind"] == "daily" else "",
        "tier": _worse(alert_tier(snap, series_id), q["tier"] if q else None),
        "quote": q,
        "spark_x": x, "spark_y": y,
        "live": [row.as_of.strftime("%Y-%m-%d %H:%M"), row.value] if row.freq == "I" and row.value else None,
    }


def _worse(a: str | None, b: str | None) -> str | None:
    return max((t for t in (a, b) if t), key=lambda t: TIER_RANK.get(t, 0), default=None)


def _quote_data(snap, series_id: str) -> dict | None:
    """The exchange quotes of this close of record while they are newer than its close (the JGB
    move while Tokyo trades): value, move since the close of record, z and their own age."""
    q = snap.quotes_row(series_id)
    if q is None:
        return None
    st = _stat_row(snap, q)
    intraday = st is not None and st["kind"] == "intraday"
    return {"id": q.id, "value": q.value, "kind": q.kind, "unit": q.unit, "source": q.source,
            "move": _num(st.get("move")) if intraday else None, "z60": _num(st.get("z_w60")) if intraday else None,
            "as_of": epoch_ms(q.as_of), "stale_after": q.stale_after.total_seconds(), "tier": alert_tier(snap, q.id)}


def _quote_line(q: dict | None):
    if not q:
        return None
    move = q.get("move")
    return html.Div([
        html.Span("exchange ", className="text-muted"),
        html.Span(fmt_value(q.get("value"), q["kind"]), className="fw-bold"),
        html.Span(" " + fmt_change(move, q["unit"]),
                  className="text-danger" if (move or 0) > 0 else "text-success" if (move or 0) < 0 else ""),
        html.Span(" · z60 ", className="text-muted"), html.Span(fmt_z(q.get("z60")), className="fw-bold"),
        html.Span(f" · {q.get('source') or ''} · ", className="text-muted"),
        html.Span(fmt_age(None), className="cm-age",
                  **({"data-asof": q["as_of"], "data-staleafter": q.get("stale_after")} if q.get("as_of") else {})),
    ], className="cm-ov-quote small", title="exchange quote, not the MOF fixing: the move since the MOF close",
        id=f"ov-quote-{q['id']}")


def tile(d: dict) -> dcc.Link:
    """One tile; coloured by the worst firing alert tier, dimmed when stale."""
    sid = d["id"]
    if d.get("missing"):
        body = [html.Div(sid, className="cm-tile-label"), html.Div("not in the universe", className="text-muted")]
        return dcc.Link(html.Div(body, className="cm-ov-tile"), href=f"/series/{sid}", id=f"ov-tile-{sid}")
    tier = d.get("tier")
    classes = ["cm-ov-tile"]
    if tier:
        classes.append(f"cm-tier-{tier}")
    if d.get("stale"):
        classes.append("cm-ov-stale")
    chg = d.get("change")
    color = TIER_COLORS.get(tier or "", "#adb5bd")
    spark = (dcc.Graph(figure=sparkline_figure(d["spark_x"], d["spark_y"], color=color,
                                               live=tuple(d["live"]) if d.get("live") else None),
                       config=graph_config("", static=True), className="cm-ov-spark", style={"height": "46px"})
             if d.get("spark_y") else html.Div("no history yet", className="cm-ov-spark text-muted small"))
    z = d.get("z60")
    z_label = "z60 (intraday)" if d.get("stat_kind") == "intraday" else "z60"
    as_of = d.get("as_of")
    head = [html.Span(d["label"], className="cm-ov-label"),
            dbc.Badge(tier.upper(), color=TIER_BADGE[tier], className="ms-auto") if tier else None]
    if d.get("stale"):
        head.append(dbc.Badge("STALE", color="danger", className="ms-1"))
    if d.get("value") is None:
        head.append(dbc.Badge("NO DATA", color="secondary", className="ms-auto"))
    return dcc.Link(html.Div([
        html.Div(head, className="d-flex align-items-center"),
        html.Div([html.Span(fmt_value(d.get("value"), d["kind"]), className="cm-ov-value"),
                  html.Span(fmt_change(chg, d["unit"]),
                            className="cm-ov-change " + ("text-danger" if (chg or 0) > 0 else
                                                         "text-success" if (chg or 0) < 0 else ""))],
                 className="d-flex align-items-baseline"),
        _quote_line(d.get("quote")),
        html.Div([html.Span(f"{z_label} ", className="text-muted"),
                  html.Span(fmt_z(z), className="cm-ov-z fw-bold"),
                  html.Span(" · ", className="text-muted"),
                  html.Span(fmt_rarity(d.get("period"), tail=d.get("tail")) if d.get("stat_kind") == "daily" else "—",
                            className="cm-ov-rarity")], className="small"),
        html.Div(d.get("largest") or "", className="cm-ov-largest small"),
        html.Div(d.get("quality") or "", className="cm-ov-quality small text-warning") if d.get("quality") else None,
        spark,
        html.Div([html.Span(d.get("source") or "", className="me-1"),
                  html.Span("(fallback) " if d.get("fallback") and d.get("source") == d.get("fallback") else ""),
                  html.Span("· age ", className="text-muted"),
                  html.Span(fmt_age(d["pinned_age"]), className="cm-pinned-age") if d.get("pinned_age") is not None else
                  html.Span(fmt_age(None), className="cm-age",
                            **({"data-asof": as_of, "data-staleafter": d.get("stale_after")} if as_of else {}))],
                 className="cm-ov-foot small text-muted"),
    ], className=" ".join(classes)), href=f"/series/{sid}", id=f"ov-tile-{sid}", className="cm-ov-link")


def tiles(datas: list[dict]) -> list:
    return [tile(d) for d in datas]


def curve_caption(contagion) -> str:
    if contagion is None or not contagion.curves:
        return "Curves appear once daily closes are in."
    parts = []
    for market in ("JGB", "UST"):
        c = contagion.curves.get(market)
        if c is not None:
            parts.append(f"{market}: now = {pd.Timestamp(c.dates['now']):%Y-%m-%d} ({market} calendar)")
    return " · ".join(parts) + " · hover shows the change in bp"


def feed(events: list[dict], limit: int = FEED_LIMIT) -> html.Div:
    """The latest alert events, newest first, each linking to its permalink on the Alerts page."""
    if not events:
        return html.Div("No alerts yet.", className="text-muted small", id="ov-feed-empty")
    ordered = sorted(events, key=lambda e: (e.get("at") or "", e.get("seq") or 0), reverse=True)[:limit]
    items = []
    for e in ordered:
        at = pd.Timestamp(e["at"]).to_pydatetime() if e.get("at") else None
        tier = e.get("tier") or ""
        items.append(html.Li([
            html.Div([dbc.Badge(tier.upper() or (e.get("state") or "").upper(),
                                color=TIER_BADGE.get(tier, "secondary"), className="me-2"),
                      html.Span(e.get("kind", ""), className="text-muted small me-2"),
                      when(at, className="text-muted small")]),
            dcc.Link(e.get("text") or e.get("alert_id", ""), href=alert_permalink(e.get("alert_id", "")),
                     className="small cm-ov-feed-link"),
        ], className="cm-ov-feed-item", **{"data-alert": e.get("alert_id", "")}))
    return html.Div(html.Ul(items, className="list-unstyled mb-0"))


# ------------------------------------------------------------------------------------ refresh
OUTPUTS = ("tiles", "jgb", "ust", "note", "feed")


def _digest(obj) -> str:
    """A short signature (the tag travels with every refresh request: keep it small)."""
    return digest(obj)


def _feed_signature(events: list[dict]) -> list:
    return [[e.get("alert_id"), e.get("seq")] for e in events[:FEED_LIMIT]]


def _current(snap) -> dict:
    """Tile data, digests and signatures of this snapshot, computed once (the snapshot's memo),
    keyed by the only clock-dependent part (which tiles are stale)."""
    now = snap.now()
    key = ("overview", tuple(bool(r is not None and r.is_stale(now)) for r in map(snap.row, KEY_SERIES)))

    def build() -> dict:
        datas = [tile_data(snap, sid) for sid in KEY_SERIES]
        curves = snap.contagion.curves if snap.contagion is not None else {}
        sigs, cmps = {}, {}
        for market in ("JGB", "UST"):
            cmps[market] = curves.get(market)
            raw = curve_signature(cmps[market])
            sigs[market] = [_digest(raw[:1]), _digest(raw), bool(raw)]    # [tenors, everything shown, any]
        events = snap.alerts.get("events", [])
        return {"datas": datas, "cmps": cmps, "events": events,
                "tag": {"tiles": [_digest(d) for d in datas], "curves": sigs, "feed": _feed_signature(events),
                        "note": curve_caption(snap.contagion)}}

    return snap.remember(key, build, keep=1)   # one stale set at a time


def refresh(snap, tag: dict | None) -> tuple:
    """(tiles, JGB curve, UST curve, curve note, feed, new tag) for what is on screen (`tag`).

    Unchanged content → all `no_update`. Otherwise only what changed is sent: changed tiles
    are replaced one by one through a `Patch` of the tile list, a curve with the same tenors
    gets its traces patched in place, the feed only when a new alert event arrived. The tag is
    made of content digests only, so every web process (gunicorn workers) agrees on it.
    """
    tag = tag if isinstance(tag, dict) else {}   # a hand-made or stale request: render in full
    cur = _current(snap)
    new_tag = cur["tag"]
    if tag == new_tag:
        return (no_update,) * (len(OUTPUTS) + 1)
    datas, digests = cur["datas"], new_tag["tiles"]
    old_tiles = tag.get("tiles")
    if not isinstance(old_tiles, list) or len(old_tiles) != len(datas):
        tiles_out: Any = tiles(datas)
    else:
        changed = [i for i, (a, b) in enumerate(zip(old_tiles, digests)) if a != b]
        tiles_out = no_update if not changed else Patch()
        for i in changed:
            tiles_out[i] = tile(datas[i])
    figs = []
    for market in ("JGB", "UST"):
        cmp, sig = cur["cmps"][market], new_tag["curves"][market]
        old = (tag.get("curves") or {}).get(market) if isinstance(tag.get("curves"), dict) else None
        if old == sig:
            figs.append(no_update)
        elif isinstance(old, list) and old[:1] == sig[:1] and cmp is not None and sig[2]:
            figs.append(curve_patch(cmp, market))      # same tenors: move the traces in place
        else:
            figs.append(curve_figure(cmp, market))
    note = new_tag["note"]
    feed_out = no_update if tag.get("feed") == new_tag["feed"] else feed(cur["events"])
    return (tiles_out, figs[0], figs[1], no_update if tag.get("note") == note else note, feed_out, new_tag)


def extras(snap, tag: str | None) -> tuple:
    """(critical-incident banner, next-events strip, new tag); no_update while both read the same
    (the countdowns move with the snapshot's clock: live, pinned or replay)."""
    incidents = (snap.alerts or {}).get("incidents") or []
    banner = incident_banner(incidents, id_="ov-incident-banner")
    strip = events_strip(snap.events, snap.now(), id_="ov-events-strip")
    new_tag = _digest([str(banner), str(strip)])
    if new_tag == tag:
        return no_update, no_update, no_update
    return banner, strip, new_tag


# ------------------------------------------------------------------------------------ layout
def pinned_banner(snap) -> dbc.Alert | None:
    """A pinned view says so, loudly: which day, which cut, and what it cannot show."""
    if snap.pinned is None:
        return None
    return dbc.Alert([html.B(f"PINNED to {snap.pinned.isoformat()}"),
                      f" — the data as it stood at the end of that day (24:00 New York, "
                      f"{snap.now():%Y-%m-%d %H:%M} UTC), not live. ",
                      html.Span(" · ".join(snap.pin_notes), className="small"), " ",
                      dcc.Link("back to live", href="?", className="small")],
                     color="info", className="cm-strip cm-pinned py-1 mb-2", id="cm-pinned")


def layout(**query) -> html.Div:
    """Rendered complete from the current snapshot (no "Loading…" and no first-tick race: the
    refresh callback then sends only changes). `?asof=` pins it to a past day."""
    from web import state

    values, notices = parse(PARAMS, query)
    asof = values["asof"]
    pinned = None
    try:
        snap = state.snapshot().view(asof)
        pinned = pinned_banner(snap)
        tiles_out, jgb, ust, note, feed_out, tag = refresh(snap, None)
        banner, strip, extra_tag = extras(snap, None)
    except RuntimeError:               # no snapshot service (a layout rendered outside the app)
        tiles_out, feed_out, note, tag = html.Div("Loading…", className="text-muted"), None, None, None
        banner = strip = extra_tag = None
        jgb = ust = empty_figure("Loading…", 300)
    return html.Div([
        notice_banner(notices),
        pinned,
        html.Div(id=OV_INCIDENT, children=banner),
        html.Div(id=OV_EVENTS, children=strip, className="mt-1"),
        dcc.Store(id=OV_EXTRA_TAG, data=extra_tag),
        html.Div([html.H4("Overview", className="mt-2 mb-0 me-3"),
                  html.Span("Click a tile for its history, σ bands and rarity.", className="text-muted small")],
                 className="d-flex align-items-baseline"),
        html.Div(id=OV_TILES, className="cm-ov-tiles", children=tiles_out),
        dbc.Row([
            dbc.Col(dcc.Graph(id=OV_CURVE_JGB, figure=jgb, config=graph_config("jgb-curve"),
                              style={"height": "300px"}), lg=4),
            dbc.Col(dcc.Graph(id=OV_CURVE_UST, figure=ust, config=graph_config("ust-curve"),
                              style={"height": "300px"}), lg=4),
            dbc.Col([html.H6([html.Span("Alert feed "), dcc.Link("all alerts →", href="/alerts", className="small")],
                             className="mt-2"),
                     html.Div(id=OV_FEED, className="cm-ov-feed", children=feed_out)], lg=4),
        ], className="mt-2"),
        html.Div(id=OV_CURVE_NOTE, className="text-muted small", children=note),
        dcc.Store(id=OV_TAG, data=tag),
        dcc.Store(id=OV_ASOF, data=asof.isoformat() if asof else None),
    ])
