"""Wall callbacks: re-render only when the snapshot's tag changed; rotate panels in the browser.

Every output is a full replace of a fixed-size piece (tiles, banner, a curve figure of a few
dozen points): nothing on the page grows while the wall runs for days.
"""
from __future__ import annotations

from dash import Input, Output, State, callback, clientside_callback, no_update

from components import ids
from components.wall import (
    PANEL_IDS,
    PANELS,
    WALL_ALERT,
    WALL_ALERTS,
    WALL_CONFIG,
    WALL_CURVES,
    WALL_PANEL_LABEL,
    WALL_ROOT,
    WALL_ROTATE,
    WALL_STALE,
    WALL_STATUS,
    WALL_TAG,
    WALL_TILES,
    parse_query,
    render,
    wall_tag,
)
from web import state

# Order of the callback's outputs (the last one is the tag).
OUTPUTS = (WALL_ROOT, WALL_STATUS, WALL_ALERT, WALL_STALE, WALL_TILES, WALL_CURVES, WALL_ALERTS)
_PROP = {WALL_ROOT: "className", WALL_CURVES: "figure"}


def wall_view(_n, tag, config):
    """(root class, status, alert banner, stale strip, tiles, curves figure, alerts list, tag)."""
    if not isinstance(config, dict) or "panels" not in config:
        config, _ = parse_query({})          # a damaged store never breaks the wall
    snap = state.snapshot()
    store_error = state.service().error
    new_tag = wall_tag(snap, store_error, snap.now(), config)
    if new_tag == tag:
        return (no_update,) * (len(OUTPUTS) + 1)
    parts = render(snap, store_error, config)
    panels = config.get("panels") or []
    # Panels outside the playlist are never shown: leave them alone.
    out = tuple(no_update if (k == WALL_CURVES and "curves" not in panels) else parts[k] for k in OUTPUTS)
    return out + (new_tag,)


callback(*(Output(k, _PROP.get(k, "children")) for k in OUTPUTS), Output(WALL_TAG, "data"),
         Input(ids.REFRESH, "n_intervals"), State(WALL_TAG, "data"), State(WALL_CONFIG, "data"))(wall_view)

# Rotation runs in the browser: no server round trip, one Interval that dies with the page.
clientside_callback(
    """
    function(n, config) {
        var all = %s;
        var panels = (config && config.panels && config.panels.length) ? config.panels : ["tiles"];
        var active = panels[(n || 0) %% panels.length];
        // same text as components.wall.panel_label
        var label = panels.length > 1
            ? active.toUpperCase() + " " + (panels.indexOf(active) + 1) + "/" + panels.length
              + (config.rotate ? " · every " + config.rotate + "s" : "")
            : panels.join(" · ");
        var out = all.map(function(p) { return "cm-wall-panel" + (p === active ? " cm-active" : ""); });
        out.push(label);
        return out;
    }
    """ % ("[" + ",".join(f'"{p}"' for p in PANELS) + "]"),
    *(Output(PANEL_IDS[p], "className") for p in PANELS),
    Output(WALL_PANEL_LABEL, "children"),
    Input(WALL_ROTATE, "n_intervals"),
    State(WALL_CONFIG, "data"),
)
