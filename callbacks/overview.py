"""Overview page callback: one thin reader of the snapshot per refresh tick.

The layout arrives rendered; each tick compares the snapshot with what is on screen (the tag in
a dcc.Store) and sends only changes — `no_update` when nothing changed, a `Patch` of the tiles
that changed, the curves' traces patched in place (components.overview.refresh).
"""
from __future__ import annotations

from dash import Input, Output, State, callback, no_update

from callbacks import inputs
from components import ids
from components import overview as ov
from web import state

__all__ = ["OUTPUTS", "overview_view"]

OUTPUTS = ov.OUTPUTS


def overview_view(_n, tag, asof=None):
    asof = inputs.date_text(asof)
    if inputs.bad(inputs.count(_n), asof):
        return (no_update,) * (len(OUTPUTS) + 1)
    return ov.refresh(state.snapshot().view(asof), inputs.tag_dict(tag))


callback(Output(ov.OV_TILES, "children"), Output(ov.OV_CURVE_JGB, "figure"), Output(ov.OV_CURVE_UST, "figure"),
         Output(ov.OV_CURVE_NOTE, "children"), Output(ov.OV_FEED, "children"), Output(ov.OV_TAG, "data"),
         Input(ids.REFRESH, "n_intervals"), State(ov.OV_TAG, "data"), State(ov.OV_ASOF, "data"))(overview_view)


def overview_extras(_n, tag, asof=None):
    asof = inputs.date_text(asof)
    if inputs.bad(inputs.count(_n), asof):
        return no_update, no_update, no_update
    return ov.extras(state.snapshot().view(asof), inputs.tag_text(tag))


callback(Output(ov.OV_INCIDENT, "children"), Output(ov.OV_EVENTS, "children"), Output(ov.OV_EXTRA_TAG, "data"),
         Input(ids.REFRESH, "n_intervals"), State(ov.OV_EXTRA_TAG, "data"), State(ov.OV_ASOF, "data"))(overview_extras)
