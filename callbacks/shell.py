"""Banner refresh (every page) and the data clock handed to assets/age.js."""
from __future__ import annotations

import datetime as dt

from dash import Input, Output, State, callback, clientside_callback, no_update

from callbacks import inputs
from components import ids
from components.format import when
from components.shell import banner
from web import state


def banner_view(_n, tag):
    tag = inputs.tag_text(tag)
    if inputs.bad(inputs.count(_n)):
        return no_update, no_update
    snap = state.snapshot()
    svc_error = state.store_error()
    states = snap.source_states()
    wall = dt.datetime.now(dt.timezone.utc)
    failing = sorted(h.failure_text(wall) for h in snap.sources if states.get(h.health.source) == "failing")
    stale = snap.labels(snap.stale_series())
    stopped = bool(getattr(snap.clock, "stopped", False))     # a replay at its --until
    new_tag = f"{snap.version}|{snap.mode}|{','.join(stale)}|{failing}|{svc_error}|{stopped}"
    if new_tag == tag:
        return no_update, no_update
    clock_label = when(snap.now())
    return banner(mode=snap.mode, clock_label=clock_label, stale=stale, failing=failing,
                  store_error=svc_error, stopped=stopped), new_tag


callback(Output(ids.BANNER, "children"), Output(ids.BANNER_TAG, "data"),
         Input(ids.BANNER_TICK, "data"), State(ids.BANNER_TAG, "data"))(banner_view)

# The wall hides the banner (it has its own status line and strips): there the tick stops in the
# browser, so a wall screen sends one refresh request per interval, not two.
clientside_callback(
    """
    function(n) {
        return document.querySelector(".cm-wall") ? window.dash_clientside.no_update : (n || 0);
    }
    """,
    Output(ids.BANNER_TICK, "data"),
    Input(ids.REFRESH, "n_intervals"),
)

# assets/age.js ticks ages every second against this clock (a replay clock runs faster).
clientside_callback(
    "function(clock){ window.cmClock = clock || {kind: 'system'}; return null; }",
    Output(ids.CLOCK_SINK, "data"),
    Input(ids.CLOCK, "data"),
)

def clock_view(_n, shown):
    """The data clock the browser ticks ages against, sent again when it changed (a replay
    paused, resumed, stepped or stopped at --until), so every open page agrees with the store."""
    import json

    if inputs.bad(inputs.count(_n)):
        return no_update
    meta = getattr(state.snapshot().clock, "to_meta", None)
    clock = json.loads(meta()) if meta else {"kind": "system"}
    return no_update if clock == shown else clock


callback(Output(ids.CLOCK, "data"), Input(ids.CLOCK_TICK, "data"), State(ids.CLOCK, "data"),
         prevent_initial_call=True)(clock_view)

# Only a replay's clock changes after the page loaded: elsewhere no request is made for it.
clientside_callback(
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
clientside_callback(
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
