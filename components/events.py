"""The "next events" strip (Overview, wall) and the incident banner: pure formatting of what the
snapshot carries — `snapshot.events` (events.toml, data/events.py) and the incidents of the alert
payload — against the snapshot's own clock (live, pinned or replay), never the wall clock."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from dash import dcc, html

from data.events import next_events

__all__ = ["countdown", "events_strip", "incident_banner", "member_line", "ordered_members", "top_incidents", "KIND_LABEL"]

KIND_LABEL = {"boj": "BOJ", "fomc": "FOMC", "jgb_auction": "JGB auction", "ust_refunding": "UST refunding",
              "election": "election", "cpi": "CPI", "payrolls": "payrolls", "other": "event"}
_TIER_ORDER = {"critical": 0, "warning": 1, "watch": 2}


def countdown(event, now: dt.datetime) -> str:
    """'in 2 d' (calendar days in the event's zone), 'in 5 h', 'in 40 min' (timed events within a
    day), 'today' (a date-only event on its local day), 'now' (started)."""
    start = event.instant_utc
    if event.all_day and start <= now < event.end_utc:
        return "today"
    secs = (start - now).total_seconds()
    if secs <= 0:
        return "now"
    if secs < 3600:
        return f"in {max(1, int(secs // 60))} min"
    if secs < 24 * 3600 and not event.all_day:
        return f"in {int(secs // 3600)} h"
    # Days: calendar days in the event's own zone ("BOJ decision in 2 d" from Wednesday to Friday).
    tz = event.local_start.tzinfo
    return f"in {max(1, (event.date - now.astimezone(tz).date()).days)} d"


def events_strip(events: Iterable, now: dt.datetime, *, n: int = 5, within_days: int = 14,
                 class_name: str = "cm-events", id_: str | None = None) -> html.Div:
    """The next `n` events within `within_days` of `now`: kind, label, countdown; the source on hover."""
    upcoming = next_events(tuple(events or ()), now, dt.timedelta(days=within_days))[:n]
    kw = {"id": id_} if id_ else {}
    if not upcoming:
        return html.Div(html.Span(f"No scheduled event in the next {within_days} days (events.toml).",
                                  className="cm-events-none"), className=class_name, **kw)
    items = []
    for e in upcoming:
        src = e.sources[0] if e.sources else ""
        items.append(html.Span([
            html.Span(KIND_LABEL.get(e.kind, e.kind), className=f"cm-event-kind cm-event-{e.kind}"),
            html.Span(f" {e.label} ", className="cm-event-label"),
            html.B(countdown(e, now), className="cm-event-when"),
        ], className="cm-event", title=f"{e.date.isoformat()} {e.timezone} · source: {src}"))
    return html.Div([html.Span("Next: ", className="cm-events-title")] + items, className=class_name, **kw)


def top_incidents(incidents: Iterable[Mapping[str, Any]], n: int = 3) -> list[Mapping[str, Any]]:
    """Open incidents, worst tier first, then the most recently changed."""
    live = [i for i in incidents or () if i.get("state") == "open"]
    live.sort(key=lambda i: str(i.get("updated_at") or ""), reverse=True)
    live.sort(key=lambda i: _TIER_ORDER.get(i.get("tier") or "", 9))
    return live[:n]


_RANK = {"critical": 3, "warning": 2, "watch": 1}


def _strength(m: Mapping[str, Any]) -> tuple:      # 1-day moves first, then tier, rarity, |z|
    num = lambda v: float(v) if isinstance(v, (int, float)) else -1.0  # noqa: E731
    return (m.get("horizon") == 1, _RANK.get(m.get("tier") or "", 0), num(m.get("return_period_years")),
            abs(num(m.get("z"))))


def ordered_members(inc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """An incident's members as every screen lists them: the lead (the headline's member) first,
    then 1-day moves, tier, rarity, |z| — the wall, the Overview and /alerts agree."""
    lead = inc.get("lead_alert_id")
    ms = list(inc.get("members") or ())
    rest = sorted((m for m in ms if m.get("alert_id") != lead), key=_strength, reverse=True)
    return [m for m in ms if m.get("alert_id") == lead][:1] + rest


def member_line(inc: Mapping[str, Any], limit: int = 4) -> str:
    """'+ JGB 20Y +15.1 bp, 6.2σ · JGB 40Y … · 12 alerts': the other members after the headline."""
    lead = inc.get("lead_alert_id")
    members = [m for m in ordered_members(inc) if m.get("alert_id") != lead]
    others = [m.get("short") or m.get("label") or "" for m in members]
    n = inc.get("count", len(inc.get("members") or ()))
    shown = " · ".join(o for o in others[:limit] if o)
    more = f" · +{len(others) - limit} more" if len(others) > limit else ""
    return (f"+ {shown}{more} · " if shown else "") + f"{n} alert{'s' if n != 1 else ''}"


def incident_banner(incidents: Iterable[Mapping[str, Any]], *, tier: str = "critical",
                    id_: str | None = None) -> html.Div | None:
    """The Overview's banner for open incidents of `tier` (None when there is none)."""
    hits = [i for i in top_incidents(incidents, n=3) if i.get("tier") == tier]
    if not hits:
        return None
    rows = [html.Div([html.B(f"{(i.get('tier') or '').upper()} · {i.get('market_label') or i.get('market')}: "),
                      html.Span(i.get("headline") or "", className="cm-incident-headline"),
                      html.Span(f"  {member_line(i)}", className="small ms-2"), " ",
                      dcc.Link("see the alerts →", href="/alerts?tier=critical", className="small ms-2")],
                     className="cm-incident") for i in hits]
    kw = {"id": id_} if id_ else {}
    return html.Div(rows, className="alert alert-danger cm-strip cm-incident-banner py-1 mb-2", **kw)
