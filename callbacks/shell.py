"""The frame's callbacks (every page): the banner refresh, the data clock handed to
assets/age.js, the folding menu.

`register(app, snapshot, store_error)` adds them to `app`; `snapshot` is the web process's
provider (SnapshotService.current) and `store_error` the store's state as a category — both
injected, no module global.
"""
from __future__ import annotations

import json
from typing import Callable

import dash
from dash import Input, Output, State, no_update

from callbacks import diff, inputs
from components import ids
from components.shell import banner
from views.shell import build_banner
from views.snapshot import Snapshot

__all__ = ["banner_tick", "clock_meta", "clock_tick", "register"]


def banner_tick(snapshot: Callable[[], Snapshot], store_error: Callable[[], str | None], n, tag) -> tuple:
    """(banner strips, new tag): nothing sent while the banner's digest is the one on screen."""
    tag = inputs.tag_text(tag)
    if inputs.bad(inputs.count(n)):
        return diff.unchanged(2)
    view = build_banner(snapshot(), store_error())
    if view.digest == tag:
        return diff.unchanged(2)
    return banner(view), view.digest


def clock_meta(snap: Snapshot) -> dict:
    """The snapshot's data clock as the browser ticks it (assets/age.js, assets/wall.js)."""
    meta = getattr(snap.clock, "to_meta", None)
    return json.loads(meta()) if meta else {"kind": "system"}


def clock_tick(snapshot: Callable[[], Snapshot], n, shown):
    """The data clock the browser ticks ages against, sent again when it changed (a replay
    paused, resumed, stepped or stopped at --until), so every open page agrees with the store."""
    if inputs.bad(inputs.count(n)):
        return no_update
    clock = clock_meta(snapshot())
    return no_update if clock == shown else clock


def register(app: dash.Dash, snapshot: Callable[[], Snapshot], store_error: Callable[[], str | None]) -> None:
    app.callback(Output(ids.BANNER, "children"), Output(ids.BANNER_TAG, "data"),
                 Input(ids.BANNER_TICK, "data"), State(ids.BANNER_TAG, "data"))(
        lambda n, tag: banner_tick(snapshot, store_error, n, tag))
    app.callback(Output(ids.CLOCK, "data"), Input(ids.CLOCK_TICK, "data"), State(ids.CLOCK, "data"),
                 prevent_initial_call=True)(lambda n, shown: clock_tick(snapshot, n, shown))
    _clientside(app)


def _clientside(app: dash.Dash) -> None:

    # The wall hides the banner (it has its own status line and strips): there the tick stops in the
    # browser, so a wall screen sends one refresh request per interval, not two.
    app.clientside_callback(
        """
        function(n) {
            return document.querySelector(".cm-wall") ? window.dash_clientside.no_update : (n || 0);
        }
        """,
        Output(ids.BANNER_TICK, "data"),
        Input(ids.REFRESH, "n_intervals"),
    )

    # assets/age.js ticks ages every second against this clock (a replay clock runs faster).
    app.clientside_callback(
        "function(clock){ window.cmClock = clock || {kind: 'system'}; return null; }",
        Output(ids.CLOCK_SINK, "data"),
        Input(ids.CLOCK, "data"),
    )

    # Only a replay's clock changes after the page loaded: elsewhere no request is made for it.
    app.clientside_callback(
        """
        function(n) {
            var c = window.cmClock || {};
            return c.kind === "replay" ? (n || 0) : window.dash_clientside.no_update;
        }
        """,
        Output(ids.CLOCK_TICK, "data"),
        Input(ids.BANNER_TICK, "data"),
    )

    # The menu on a narrow screen: folded until the button is pressed, folded again after a page
    # link is followed (in the browser: no server round trip).
    app.clientside_callback(
        """
        function(n, path, open) {
            var trig = (window.dash_clientside.callback_context.triggered[0] || {}).prop_id || "";
            if (trig.indexOf("n_clicks") >= 0) { return !open; }
            return false;
        }
        """,
        Output(ids.NAV_COLLAPSE, "is_open"),
        Input(ids.NAV_TOGGLE, "n_clicks"), Input("_pages_location", "pathname"),
        State(ids.NAV_COLLAPSE, "is_open"),
        prevent_initial_call=True,
    )
