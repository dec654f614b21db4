"""Wall page: its registration and callbacks. Send only the parts that changed; rotate panels
in the browser.

Every output is a replace of a fixed-size piece (a tile, the banner, a curve figure of a few
dozen points): nothing on the page grows while the wall runs for days.

`register(app, snapshot, store_error)` adds the page (/wall) and its callbacks to `app`; the
providers (SnapshotService.current, the store's public state) are injected — no module global.
"""
from __future__ import annotations

from typing import Callable

import dash
from dash import Input, Output, Patch, State, no_update

from callbacks import inputs
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
    layout,
    parse_query,
    wall_view_model,
)
from views.snapshot import Snapshot

__all__ = ["OUTPUTS", "register", "wall_config", "wall_view"]

# Order of the callback's outputs (the last one is the tag).
OUTPUTS = (WALL_ROOT, WALL_STATUS, WALL_ALERT, WALL_STALE, WALL_TILES, WALL_CURVES, WALL_ALERTS)
_PROP = {WALL_ROOT: "className", WALL_CURVES: "figure"}


def wall_view(snapshot: Callable[[], Snapshot], store_error: Callable[[], str | None], _n, tag, config):
    """(root class, status, alert banner, stale strip, tiles, curves figure, alerts list, tag).

    The screen's tag holds a fingerprint of every part it shows (one per tile): only parts whose
    fingerprint differs are sent, changed tiles one by one through a `Patch`. Fingerprints come
    from content, not from this process, so a screen whose polls alternate between web workers
    gets `no_update` from both. The parts were rendered once for this snapshot (the snapshot's
    memo): an update is a lookup and a serialisation, not a render.
    """
    if inputs.bad(inputs.count(_n)):
        return (no_update,) * (len(OUTPUTS) + 1)
    tag = inputs.tag_dict(tag)
    config = wall_config(config)
    view = wall_view_model(snapshot(), store_error(), config)
    if tag == view.tag:
        return (no_update,) * (len(OUTPUTS) + 1)
    old = tag if isinstance(tag, dict) and tag.get("v") == view.tag["v"] and tag.get("cfg") == view.tag["cfg"] else {}
    panels = config.get("panels") or []
    out = []
    for k in OUTPUTS:
        if k == WALL_CURVES and "curves" not in panels:
            out.append(no_update)            # panels outside the playlist are never shown
        elif k == WALL_TILES:
            out.append(_tiles_update(old.get(k), view))
        else:
            out.append(no_update if old.get(k) == view.digests[k] else view.parts[k])
    return tuple(out) + (view.tag,)


def wall_config(config) -> dict:
    """The parsed URL config from the page's store, or the default one if it is damaged."""
    if isinstance(config, dict) and set(config) == {"panels", "rotate", "asof"}:
        panels, rotate = inputs.text_list(config["panels"], max_items=len(PANELS), choices=PANELS), \
            inputs.count(config["rotate"])
        asof = inputs.date_text(config["asof"])
        if not inputs.bad(panels, rotate, asof) and panels and len(set(panels)) == len(panels) and rotate <= 3600:
            return {"panels": panels, "rotate": rotate, "asof": asof}
    return parse_query({})[0]            # a damaged store never breaks the wall


def _tiles_update(old, view):
    new = view.digests[WALL_TILES]
    if not isinstance(old, list) or len(old) != len(new):
        return view.parts[WALL_TILES]
    changed = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
    if not changed:
        return no_update
    patch = Patch()
    for i in changed:
        patch[i] = view.parts[WALL_TILES][i]
    return patch


# Panel rotation, in the browser (registered per app in `register`).
ROTATE_JS = (
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
    """ % ("[" + ",".join(f'"{p}"' for p in PANELS) + "]"))


def register(app: dash.Dash, snapshot: Callable[[], Snapshot], store_error: Callable[[], str | None]) -> None:
    """The page (/wall) and its callbacks on `app`, reading `snapshot()` and `store_error()`."""
    dash.register_page("wall", path="/wall", name="Wall", order=6,
                       layout=lambda **query: layout(snapshot(), store_error(), **query))
    app.callback(*(Output(k, _PROP.get(k, "children")) for k in OUTPUTS), Output(WALL_TAG, "data"),
                 Input(ids.REFRESH, "n_intervals"), State(WALL_TAG, "data"), State(WALL_CONFIG, "data"))(
        lambda n, tag, config: wall_view(snapshot, store_error, n, tag, config))
    # Rotation runs in the browser: no server round trip, one Interval that dies with the page.
    app.clientside_callback(ROTATE_JS, *(Output(PANEL_IDS[p], "className") for p in PANELS),
                            Output(WALL_PANEL_LABEL, "children"), Input(WALL_ROTATE, "n_intervals"),
                            State(WALL_CONFIG, "data"))
