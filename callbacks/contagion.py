"""Contagion page (/contagion): its registration and thin callbacks, readers of `snapshot.contagion`.

- `contagion_view`: every snapshot-driven panel, re-rendered only when the contagion analytics
  changed (they change once per new daily close, not per refresh tick); when only the event-kind
  filter (or the calendar) changed, only the charts that mark events are sent;
- `rolling_view`: the rolling-correlation and beta charts for the chosen pair and band window
  (re-drawn when the tag — analytics and event filter — changes);
- `riskparity_view`: the closed-form deleveraging calculator on the user's inputs;
- `apply_preset`: preset / default-fund buttons fill the inputs;
- `url_search` + a clientside `history.replaceState`: the view lives in the URL without a reload
  and without re-running the page router (a shared link reproduces the panel).

`register(app, snapshot)` adds the page and its callbacks to `app`; `snapshot` is the web
process's provider (SnapshotService.current), injected — no module global.
"""
from __future__ import annotations

from typing import Any, Callable

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, html, no_update

from callbacks import inputs
from components.urlstate import event_kinds_from_checklist, url_sync_js
from components import contagion as cg
from components import ids
from components.figures import EVENT_KINDS, event_tag
from views.snapshot import Snapshot


def _kinds(x):
    """An event-kind checklist's value: None (no value: every kind), a list of known kinds, or BAD."""
    return None if x is None else inputs.text_list(x, choices=EVENT_KINDS)

_VIEW_OUTPUTS = 12


def split_tag(tag: str | None) -> tuple[str | None, str | None]:
    """(analytics part, event part) of a page tag "data#events"; (None, None) if unreadable."""
    if tag is None or "#" not in tag:
        return None, None
    data, _sep, ev = tag.rpartition("#")
    return data, ev


def contagion_view(snapshot: Callable[[], Snapshot], _n, kinds, tag):
    tag, kinds = inputs.tag_text(tag), _kinds(kinds)
    if inputs.bad(inputs.count(_n), kinds):
        return (no_update,) * _VIEW_OUTPUTS
    snap = snapshot()
    c = snap.contagion
    picked = event_kinds_from_checklist(kinds)
    data, ev = cg.data_tag(c), event_tag(snap.events, picked)
    new_tag = f"{data}#{ev}"
    if new_tag == tag:
        return (no_update,) * _VIEW_OUTPUTS
    old_data, _old_ev = split_tag(tag)
    if old_data == data:                 # only the event filter / calendar: just the marked charts
        return (no_update, no_update, cg.spillover_total_figure(c, snap.events, picked), *(no_update,) * 6,
                cg.hedged_figure(c, snap.events, picked), no_update, new_tag)
    asof = "" if c is None or c.asof is None else f"daily closes to {c.asof:%Y-%m-%d}"
    if snap.simulated:
        asof += " · SIMULATED data"
    notes = [] if c is None else [html.Div(n) for n in c.notes]
    if c is None:
        notes = [html.Div("Contagion analytics are not available yet (waiting for daily history).")]
    return (asof, cg.correlation_heatmap(c), cg.spillover_total_figure(c, snap.events, picked),
            cg.spillover_net_figure(c), cg.spillover_pairwise_heatmap(c), cg.pairwise_table(c),
            cg.attribution_card(c), cg.signals_list(c), cg.spreads_table(c), cg.hedged_figure(c, snap.events, picked),
            notes, new_tag)




def rolling_view(snapshot: Callable[[], Snapshot], pair, window, _tag, kinds=None):
    """A pair or window that is not one of the page's (a hand-edited request, any JSON) falls back
    to the default one; so does an event-kind filter (every kind). The filter is read as State:
    its change reaches here through the tag, which carries it, so one change draws once."""
    pair = pair if inputs.choice(pair, cg.PAIR_LABELS) else cg.DEFAULTS["pair"]
    window = window if inputs.choice(window, ("60", "250")) else cg.DEFAULTS["window"]
    kinds = _kinds(kinds)
    picked = None if inputs.bad(kinds) else event_kinds_from_checklist(kinds)
    snap = snapshot()
    c = snap.contagion
    return cg.rolling_figure(c, pair, window, snap.events, picked), cg.beta_figure(c, pair, snap.events, picked)




def riskparity_inputs(aum, tvol, bonds, lev, shock, scope, corr) -> tuple[dict | None, str | None]:
    """The calculator's inputs, each a number within its URL parameter's range (None: empty);
    or None and what is wrong, for the page to say."""
    raw = {"aum": aum, "tvol": tvol, "bonds": bonds, "lev": lev, "shock": shock, "corr": corr}
    out: dict = {}
    for p in cg.PARAMS:
        if p.name in raw:
            v = inputs.number(raw[p.name], p.lo, p.hi)
            if v is inputs.BAD:
                return None, f"{p.name} must be a number between {p.lo:g} and {p.hi:g}"
            out[p.name] = v
    out["scope"] = inputs.choice(scope, ("all", "bonds"))
    if out["scope"] is inputs.BAD:
        return None, "scope must be all or bonds"
    return out, None


def riskparity_view(snapshot: Callable[[], Snapshot], aum, tvol, bonds, lev, shock, scope, corr, _tag):
    values, problem = riskparity_inputs(aum, tvol, bonds, lev, shock, scope, corr)
    if values is None:
        return (dbc.Alert(f"Cannot compute: {problem}.", color="warning", className="py-1 small", id="cg-rp-error"),
                html.Div(), html.Div())
    return cg.riskparity_panel(snapshot().contagion, values["aum"], values["tvol"], values["bonds"],
                               values["lev"], values["shock"], values["scope"] or "all", values["corr"])




def preset_outputs(trigger: Any) -> tuple:
    """(aum, tvol, bonds, lev, shock, scope, corr) after a preset or the default-fund button."""
    d = cg.DEFAULTS
    if trigger == cg.CG_RESET_FUND:
        return d["aum"], d["tvol"], d["bonds"], d["lev"], no_update, no_update, no_update
    if isinstance(trigger, dict) and trigger.get("type") == cg.CG_PRESET and trigger.get("name") in cg.SCENARIOS:
        p = cg.preset_values(trigger["name"])
        # Presets are defined on the default fund (Citi's $130bn needs it), so they reset it too.
        return d["aum"], d["tvol"], d["bonds"], d["lev"], p["shock"], p["scope"], p["corr"]
    return (no_update,) * 7


def apply_preset(preset_clicks, reset_clicks):
    clicks = preset_clicks if isinstance(preset_clicks, list) and len(preset_clicks) <= inputs.MAX_ITEMS else None
    if clicks is None or inputs.bad(inputs.count(reset_clicks), *map(inputs.count, clicks)):
        return (no_update,) * 7
    if not any(clicks) and not reset_clicks:
        return (no_update,) * 7
    return preset_outputs(ctx.triggered_id)




def url_search(pair, window, aum, tvol, bonds, lev, shock, scope, corr, kinds=None):
    pair, window = inputs.choice(pair, cg.PAIR_LABELS), inputs.choice(window, ("60", "250"))
    kinds = _kinds(kinds)
    values, _problem = riskparity_inputs(aum, tvol, bonds, lev, shock, scope, corr)
    if values is None or inputs.bad(pair, window, kinds):
        return no_update                 # the address bar keeps the last good view
    return cg.search_for({"pair": pair, "window": window, **values, "events": event_kinds_from_checklist(kinds)})


def register(app: dash.Dash, snapshot: Callable[[], Snapshot]) -> None:
    """The page (/contagion) and its callbacks on `app`, reading `snapshot()`."""
    dash.register_page("contagion", path="/contagion", name="Contagion", layout=cg.layout, order=3)
    app.callback(Output(cg.CG_ASOF, "children"), Output(cg.CG_HEATMAP, "figure"), Output(cg.CG_SPILL_TOTAL, "figure"),
                 Output(cg.CG_SPILL_NET, "figure"), Output(cg.CG_SPILL_PAIRWISE, "figure"),
                 Output(cg.CG_PAIRWISE_TABLE, "children"), Output(cg.CG_ATTRIBUTION, "children"),
                 Output(cg.CG_SIGNALS, "children"), Output(cg.CG_SPREADS, "children"), Output(cg.CG_HEDGED, "figure"),
                 Output(cg.CG_NOTES, "children"), Output(cg.CG_TAG, "data"),
                 Input(ids.REFRESH, "n_intervals"), Input(cg.CG_EVENTS, "value"), State(cg.CG_TAG, "data"))(
        lambda *args: contagion_view(snapshot, *args))
    app.callback(Output(cg.CG_ROLLING, "figure"), Output(cg.CG_BETA, "figure"),
                 Input(cg.CG_PAIR, "value"), Input(cg.CG_WINDOW, "value"), Input(cg.CG_TAG, "data"),
                 State(cg.CG_EVENTS, "value"))(
        lambda *args: rolling_view(snapshot, *args))
    app.callback(Output(cg.CG_RP_RESULT, "children"), Output(cg.CG_RP_LIVE, "children"),
                 Output(cg.CG_RP_SCENARIOS, "children"),
                 Input(cg.CG_AUM, "value"), Input(cg.CG_TVOL, "value"), Input(cg.CG_BONDS, "value"),
                 Input(cg.CG_LEV, "value"), Input(cg.CG_SHOCK, "value"), Input(cg.CG_SCOPE, "value"),
                 Input(cg.CG_CORR, "value"), Input(cg.CG_TAG, "data"))(
        lambda *args: riskparity_view(snapshot, *args))
    app.callback(Output(cg.CG_AUM, "value"), Output(cg.CG_TVOL, "value"), Output(cg.CG_BONDS, "value"),
                 Output(cg.CG_LEV, "value"), Output(cg.CG_SHOCK, "value"), Output(cg.CG_SCOPE, "value"),
                 Output(cg.CG_CORR, "value"),
                 Input({"type": cg.CG_PRESET, "name": ALL}, "n_clicks"), Input(cg.CG_RESET_FUND, "n_clicks"),
                 prevent_initial_call=True)(apply_preset)
    app.callback(Output(cg.CG_SEARCH, "data"),
                 Input(cg.CG_PAIR, "value"), Input(cg.CG_WINDOW, "value"), Input(cg.CG_AUM, "value"),
                 Input(cg.CG_TVOL, "value"), Input(cg.CG_BONDS, "value"), Input(cg.CG_LEV, "value"),
                 Input(cg.CG_SHOCK, "value"), Input(cg.CG_SCOPE, "value"), Input(cg.CG_CORR, "value"),
                 Input(cg.CG_EVENTS, "value"))(url_search)
    # replaceState (not a dcc.Location write): no history entry per keystroke, and the pages
    # router does not re-render the page, so inputs keep focus and figures keep their zoom.
    app.clientside_callback(url_sync_js('/contagion'), Output(cg.CG_URL_SINK, "data"), Input(cg.CG_SEARCH, "data"))
