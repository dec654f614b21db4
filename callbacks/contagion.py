"""Contagion page callbacks: thin readers of `snapshot.contagion`.

- `contagion_view`: every snapshot-driven panel, re-rendered only when the contagion analytics
  changed (they change once per new daily close, not per refresh tick);
- `rolling_view`: the rolling-correlation and beta charts for the chosen pair and band window;
- `riskparity_view`: the closed-form deleveraging calculator on the user's inputs;
- `apply_preset`: preset / default-fund buttons fill the inputs;
- `url_search` + a clientside `history.replaceState`: the view lives in the URL without a reload
  and without re-running the page router (a shared link reproduces the panel).
"""
from __future__ import annotations

from typing import Any

from dash import (
    ALL,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    html,
    no_update,
)

from components.urlstate import url_sync_js
from components import contagion as cg
from components import ids
from web import state

_VIEW_OUTPUTS = 12


def contagion_view(_n, tag):
    snap = state.snapshot()
    c = snap.contagion
    new_tag = cg.data_tag(c)
    if new_tag == tag:
        return (no_update,) * _VIEW_OUTPUTS
    asof = "" if c is None or c.asof is None else f"daily closes to {c.asof:%Y-%m-%d}"
    if snap.simulated:
        asof += " · SIMULATED data"
    notes = [] if c is None else [html.Div(n) for n in c.notes]
    if c is None:
        notes = [html.Div("Contagion analytics are not available yet (waiting for daily history).")]
    return (asof, cg.correlation_heatmap(c), cg.spillover_total_figure(c), cg.spillover_net_figure(c),
            cg.spillover_pairwise_heatmap(c), cg.pairwise_table(c), cg.attribution_card(c), cg.signals_list(c),
            cg.spreads_table(c), cg.hedged_figure(c), notes, new_tag)


callback(Output(cg.CG_ASOF, "children"), Output(cg.CG_HEATMAP, "figure"), Output(cg.CG_SPILL_TOTAL, "figure"),
         Output(cg.CG_SPILL_NET, "figure"), Output(cg.CG_SPILL_PAIRWISE, "figure"),
         Output(cg.CG_PAIRWISE_TABLE, "children"), Output(cg.CG_ATTRIBUTION, "children"),
         Output(cg.CG_SIGNALS, "children"), Output(cg.CG_SPREADS, "children"), Output(cg.CG_HEDGED, "figure"),
         Output(cg.CG_NOTES, "children"), Output(cg.CG_TAG, "data"),
         Input(ids.REFRESH, "n_intervals"), State(cg.CG_TAG, "data"))(contagion_view)


def rolling_view(pair, window, _tag):
    c = state.snapshot().contagion
    pair = pair if pair in cg.PAIR_LABELS else cg.DEFAULTS["pair"]
    window = window if window in ("60", "250") else cg.DEFAULTS["window"]
    return cg.rolling_figure(c, pair, window), cg.beta_figure(c, pair)


callback(Output(cg.CG_ROLLING, "figure"), Output(cg.CG_BETA, "figure"),
         Input(cg.CG_PAIR, "value"), Input(cg.CG_WINDOW, "value"), Input(cg.CG_TAG, "data"))(rolling_view)


def riskparity_view(aum, tvol, bonds, lev, shock, scope, corr, _tag):
    return cg.riskparity_panel(state.snapshot().contagion, aum, tvol, bonds, lev, shock, scope, corr)


callback(Output(cg.CG_RP_RESULT, "children"), Output(cg.CG_RP_LIVE, "children"),
         Output(cg.CG_RP_SCENARIOS, "children"),
         Input(cg.CG_AUM, "value"), Input(cg.CG_TVOL, "value"), Input(cg.CG_BONDS, "value"),
         Input(cg.CG_LEV, "value"), Input(cg.CG_SHOCK, "value"), Input(cg.CG_SCOPE, "value"),
         Input(cg.CG_CORR, "value"), Input(cg.CG_TAG, "data"))(riskparity_view)


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
    if not any(preset_clicks or []) and not reset_clicks:
        return (no_update,) * 7
    return preset_outputs(ctx.triggered_id)


callback(Output(cg.CG_AUM, "value"), Output(cg.CG_TVOL, "value"), Output(cg.CG_BONDS, "value"),
         Output(cg.CG_LEV, "value"), Output(cg.CG_SHOCK, "value"), Output(cg.CG_SCOPE, "value"),
         Output(cg.CG_CORR, "value"),
         Input({"type": cg.CG_PRESET, "name": ALL}, "n_clicks"), Input(cg.CG_RESET_FUND, "n_clicks"),
         prevent_initial_call=True)(apply_preset)


def url_search(pair, window, aum, tvol, bonds, lev, shock, scope, corr) -> str:
    return cg.search_for({"pair": pair, "window": window, "aum": aum, "tvol": tvol, "bonds": bonds, "lev": lev,
                          "shock": shock, "scope": scope, "corr": corr})


callback(Output(cg.CG_SEARCH, "data"),
         Input(cg.CG_PAIR, "value"), Input(cg.CG_WINDOW, "value"), Input(cg.CG_AUM, "value"),
         Input(cg.CG_TVOL, "value"), Input(cg.CG_BONDS, "value"), Input(cg.CG_LEV, "value"),
         Input(cg.CG_SHOCK, "value"), Input(cg.CG_SCOPE, "value"), Input(cg.CG_CORR, "value"))(url_search)

# replaceState (not a dcc.Location write): no history entry per keystroke, and the pages router
# does not re-render the page, so inputs keep focus and figures keep their zoom.
clientside_callback(
    url_sync_js('/contagion'),
    Output(cg.CG_URL_SINK, "data"),
    Input(cg.CG_SEARCH, "data"),
)
