"""A NAIVE peer for bench/bench_web.py: the usual first Dash dashboard, for comparison only.

Every refresh tick it rebuilds the whole markets table and a plotly figure of the last year of
four daily series from the cached observations (pandas filtering per request) and sends both
whole — never `no_update`, no tag, no Patch. Same snapshot service, same store, same waitress
settings as the real app, so the difference measured is the callback design alone.

    python bench/naive_peer.py --db sqlite:////tmp/x/demo.db --port 8061
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html

from components.markets import series_table
from views.markets import market_rows
from views.snapshot import SnapshotService

REFRESH = "cm-refresh"               # same Interval id as the real shell: one capture code path
NAIVE_TABLE = "naive-table"
NAIVE_GRAPH = "naive-graph"
FIGURE_SERIES = ("jgb_10y", "jgb_30y", "ust_10y", "ust_30y")
FIGURE_POINTS = 260                  # ~ one year of daily closes per series


def naive_view(service: SnapshotService):
    def view(_n):
        snap = service.current()
        table = series_table(market_rows(snap))     # rebuilt on every poll, never memoised
        obs = service._cache.observations  # the cached long frame, filtered again on every poll
        fig = go.Figure()
        for sid in FIGURE_SERIES:
            s = obs[(obs["series_id"] == sid) & (obs["freq"] == "D")].tail(FIGURE_POINTS)
            fig.add_trace(go.Scatter(x=s["ts"], y=s["value"], name=sid, mode="lines"))
        fig.update_layout(template="plotly_dark", height=360, margin={"l": 40, "r": 10, "t": 20, "b": 30})
        return table, fig
    return view


def create_naive_app(service: SnapshotService, *, refresh_ms: int = 5000) -> Dash:
    app = Dash(__name__, title="Naive peer", update_title=None, serve_locally=True, compress=False,
               assets_folder=str(ROOT / "assets"))
    app.layout = html.Div([
        dcc.Interval(id=REFRESH, interval=refresh_ms, n_intervals=0),
        html.H4("Naive peer"),
        html.Div(id=NAIVE_TABLE, children="Loading…"),
        dcc.Graph(id=NAIVE_GRAPH),
    ])
    app.callback(Output(NAIVE_TABLE, "children"), Output(NAIVE_GRAPH, "figure"),
                 Input(REFRESH, "n_intervals"))(naive_view(service))
    return app


def main(argv: list[str] | None = None) -> int:
    from waitress import serve

    from config import load_settings
    from data.store import Store
    from universe import load_universe

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", required=True, help="store URL (the demo app's SQLite file)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--threads", type=int, default=8, help="waitress threads (the app's default is 8)")
    p.add_argument("--refresh-ms", type=int, default=5000)
    args = p.parse_args(argv)
    settings = load_settings()
    service = SnapshotService(Store(args.db), load_universe(settings.universe), cadences=settings.cadences(),
                              background=True)
    app = create_naive_app(service, refresh_ms=args.refresh_ms)
    serve(app.server, host="127.0.0.1", port=args.port, threads=args.threads, ident="naive-peer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
