"""Overview page: its registration and its one thin refresh callback.

`register(app, snapshot)` adds the page (path "/") and its callbacks to `app`; `snapshot` is the
web process's provider (SnapshotService.current), injected — no module global. The layout
arrives rendered from the same view-model the refresh reads (views/overview.py), and each tick
sends only what changed (callbacks/diff.py).
"""
from __future__ import annotations

from typing import Callable

import dash
from dash import Input, Output, State, no_update

from callbacks import diff, inputs
from components import ids
from components import overview as ov
from components.urlstate import parse
from views.digest import digest
from views.overview import overview_view
from views.snapshot import Snapshot

__all__ = ["OUTPUTS", "extras", "parts", "refresh", "register", "tick", "tick_extras"]

OUTPUTS = ov.OUTPUTS


def parts(snap: Snapshot) -> dict:
    """The rendered tiles, curves and feed of this snapshot's view, as the JSON Dash sends — built
    once per view and shared by every request (a full render is then a copy, not a rebuild)."""
    view = overview_view(snap)

    def build() -> dict:
        return {"view": view, "tiles": [diff.wire(ov.tile(t)) for t in view.tiles],
                "JGB": diff.wire(ov.curve_figure(view.curve("JGB"))),
                "UST": diff.wire(ov.curve_figure(view.curve("UST"))),
                "feed": diff.wire(ov.feed(view.feed))}

    return snap.remember(("overview-parts", digest(view.tag())), build, keep=1)


def refresh(snap: Snapshot, tag: dict | None) -> tuple:
    """(tiles, JGB curve, UST curve, curve note, feed, new tag) for what is on screen (`tag`):
    all no_update when unchanged, else changed tiles through a Patch, a curve with the same
    tenors patched in place, the feed when a new alert event arrived."""
    tag = tag if isinstance(tag, dict) else {}   # a hand-made or stale request: render in full
    p = parts(snap)
    view = p["view"]
    new = view.tag()
    if tag == new:
        return diff.unchanged(len(OUTPUTS) + 1)
    curves_old = tag.get("curves") if isinstance(tag.get("curves"), dict) else {}
    figs = []
    for market in ("JGB", "UST"):
        c, old = view.curve(market), curves_old.get(market)
        same = isinstance(old, list) and old[:1] == new["curves"][market][:1] and c.present
        figs.append(diff.reshaped(old, new["curves"][market], same, lambda c=c: ov.curve_patch(c),
                                  lambda m=market: p[m]))
    return (diff.items(tag.get("tiles"), new["tiles"], lambda i: p["tiles"][i], lambda: list(p["tiles"])),
            figs[0], figs[1], diff.value(tag.get("note"), new["note"], lambda: view.note),
            diff.value(tag.get("feed"), new["feed"], lambda: p["feed"]), new)


def extras(snap: Snapshot, tag: str | None) -> tuple:
    """(critical-incident banner, next-events strip, new tag), no_update while both read the same."""
    banner, strip, new = ov.extras(snap, None)
    return (no_update, no_update, no_update) if new == tag else (banner, strip, new)


def tick(snapshot: Callable[[], Snapshot], n, tag, asof=None) -> tuple:
    """The refresh callback: checked inputs (callbacks/inputs.py), then `refresh`."""
    asof = inputs.date_text(asof)
    if inputs.bad(inputs.count(n), asof):
        return diff.unchanged(len(OUTPUTS) + 1)
    return refresh(snapshot().view(asof), inputs.tag_dict(tag))


def tick_extras(snapshot: Callable[[], Snapshot], n, tag, asof=None) -> tuple:
    asof = inputs.date_text(asof)
    if inputs.bad(inputs.count(n), asof):
        return no_update, no_update, no_update
    return extras(snapshot().view(asof), inputs.tag_text(tag))


def register(app: dash.Dash, snapshot: Callable[[], Snapshot]) -> None:
    """The page (path "/") and its two callbacks on `app`, reading `snapshot()`."""
    def layout(**query):
        values, notices = parse(ov.PARAMS, query)
        asof = values["asof"]
        snap = snapshot().view(asof)
        return ov.page(overview_view(snap), parts(snap), extras(snap, None), notices=notices,
                       asof=asof.isoformat() if asof else None)

    # first_view: app.first_view puts it inside the /_dash-layout response (content with the shell)
    dash.register_page("overview", path="/", name="Overview", layout=layout, order=0, first_view=True)
    app.callback(Output(ov.OV_TILES, "children"), Output(ov.OV_CURVE_JGB, "figure"),
                 Output(ov.OV_CURVE_UST, "figure"), Output(ov.OV_CURVE_NOTE, "children"),
                 Output(ov.OV_FEED, "children"), Output(ov.OV_TAG, "data"),
                 Input(ids.REFRESH, "n_intervals"), State(ov.OV_TAG, "data"), State(ov.OV_ASOF, "data"))(
        lambda n, tag, asof=None: tick(snapshot, n, tag, asof))
    app.callback(Output(ov.OV_INCIDENT, "children"), Output(ov.OV_EVENTS, "children"),
                 Output(ov.OV_EXTRA_TAG, "data"), Input(ids.REFRESH, "n_intervals"),
                 State(ov.OV_EXTRA_TAG, "data"), State(ov.OV_ASOF, "data"))(
        lambda n, tag, asof=None: tick_extras(snapshot, n, tag, asof))
