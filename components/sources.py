"""The Sources page: health of every source, and the replay clock (pause / resume / step for
the local user or the operator when the collector runs in this process).

Times: the health columns are wall-clock (when this machine fetched: labelled so); the replay
line and the gate's close dates are data-clock.

Pure: a `views.sources.SourcesView` → Dash components."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import ids
from components.format import epoch_ms, fmt_age, fmt_time
from views.sources import SourcesView
from web.redact import public_error

__all__ = ["page", "sources_table", "record_panel", "replay_line", "REPLAY_BOX", "REPLAY_STATE", "REPLAY_BUTTONS", "REPLAY_PAUSE",
           "REPLAY_RESUME", "REPLAY_STEP_H", "REPLAY_STEP_D", "REPLAY_NOTE", "REPLAY_TAG"]

# This page's own ids (the replay panel).
REPLAY_BOX = "sources-replay"
REPLAY_STATE = "sources-replay-state"
REPLAY_BUTTONS = "sources-replay-buttons"
REPLAY_PAUSE = "sources-replay-pause"
REPLAY_RESUME = "sources-replay-resume"
REPLAY_STEP_H = "sources-replay-step-1h"
REPLAY_STEP_D = "sources-replay-step-1d"
REPLAY_NOTE = "sources-replay-note"
REPLAY_TAG = "sources-replay-tag"

STATE_COLOR = {"ok": "success", "degraded": "warning", "backfilling": "info", "never": "secondary",
               "stale": "warning", "failing": "danger"}


def page(view: SourcesView) -> html.Div:
    """The page with its table already drawn from `view` (the refresh sends only changes)."""
    return html.Div([
        html.H4("Sources", className="mt-2"),
        html.P("Every source's last attempt, last success, error and rows written. Failing sources are "
               "retried with back-off; the last good data stays on screen. Attempt and success times and "
               "ages are wall-clock (when this machine fetched), also in a replay.", className="text-muted small"),
        _replay_panel(),
        html.Div(id=ids.SOURCES_TABLE, children=sources_table(view)),
        dcc.Store(id=ids.SOURCES_TAG, data=view.digest),
    ])


def _replay_panel() -> html.Div:
    """Hidden unless replaying; the buttons only for who may act on this process's collector
    (callbacks/sources.py decides, and checks again on every press)."""
    button = dict(size="sm", color="secondary", outline=True, disabled=True, n_clicks=0)
    return html.Div([
        html.Div(id=REPLAY_STATE, className="small"),
        dbc.ButtonGroup([dbc.Button("Pause", id=REPLAY_PAUSE, **button),
                         dbc.Button("Resume", id=REPLAY_RESUME, **button),
                         dbc.Button("Step +1h", id=REPLAY_STEP_H, **button),
                         dbc.Button("Step +1d", id=REPLAY_STEP_D, **button)],
                        id=REPLAY_BUTTONS, className="mt-1", style={"display": "none"}),
        html.Div(id=REPLAY_NOTE, className="small text-warning mt-1"),
        dcc.Store(id=REPLAY_TAG),
    ], id=REPLAY_BOX, hidden=True, className="mb-3 p-2 border rounded")


def replay_line(status: dict | None, *, controls: bool) -> list:
    """'Replay data clock 2026-01-20 14:00 UTC — running ×3600 (from 2026-01-14, stops at the end
    of 2026-01-23 UTC)'. Data-clock times only; `controls`: whether this process holds them."""
    if not status:
        return [html.Span("Replay clock: not published yet (the collector is starting).", className="text-muted")]
    state = status.get("state")
    words = {"running": f"running ×{status['speed']:g}", "paused": "paused", "held": "loading the history",
             "stopped": "stopped at --until"}.get(state, str(state))
    extra = []
    if status.get("origin") is not None:
        extra.append(f"replay from {status['origin']:%Y-%m-%d}")
    if status.get("until") is not None and state != "stopped":
        extra.append(f"stops at the end of {status['until']:%Y-%m-%d} UTC")
    return [html.Span("Replay data clock ", className="text-muted"),
            html.Span(f"{status['now']:%Y-%m-%d %H:%M} UTC", className="font-monospace fw-bold"),
            html.Span(" — "), dbc.Badge(words.upper(), color={"running": "info", "paused": "warning",
                                                              "stopped": "secondary"}.get(state, "light")),
            html.Span(f" ({'; '.join(extra)})" if extra else "", className="text-muted"),
            None if controls else html.Div("Pause and step: from `python app.py` on the machine running this "
                                           "replay's collector (or its operator login).",
                                           className="text-muted")]


def _error_cell(raw: str | None, detail: bool) -> html.Td:
    """The error's category for every reader; the raw text (hosts, paths) for the operator only."""
    category = public_error(raw)
    if not category:
        return html.Td("", className="small text-warning")
    return html.Td([html.Span(category),
                    html.Div(raw[:300], className="text-muted font-monospace cm-error-detail") if detail else None],
                   className="small text-warning")


def sources_table(view: SourcesView) -> html.Div:
    """The health table, then what the data-quality gate held back per source and the newest
    held or rejected closes (a bad row never stops a source: it is dropped and counted here).
    The raw error text shows only when `view.detail` (the operator: local user or operator login)."""
    head = html.Thead(html.Tr([html.Th(h) for h in ("Source", "State", "Last success (wall clock)",
                                                      "Age (wall clock)", "Last attempt (wall clock)",
                                                      "Failures in a row", "Rows (last / total)",
                                                      "Bad rows dropped (last / total)", "Last error")]))
    body = [html.Tr([
        html.Td(s.source, className="fw-bold"),
        html.Td([dbc.Badge(s.state.upper(), color=STATE_COLOR.get(s.state, "secondary")),
                 html.Div(s.progress, className="small text-info") if s.progress else None]),
        html.Td(fmt_time(s.last_success), className="small"),
        html.Td(fmt_age(s.age_s), className="cm-age font-monospace",
                **({"data-asof": epoch_ms(s.last_success), "data-wall": "1"} if s.last_success else {})),
        html.Td(fmt_time(s.last_attempt), className="small"),
        html.Td(str(s.failures), className="text-end"),
        html.Td(f"{s.rows_last:,} / {s.rows_total:,}", className="text-end font-monospace"),
        html.Td([html.Span(f"{s.rejected_last:,} / {s.rejected_total:,}", className="font-monospace"),
                 html.Div(s.last_rejection[:200], className="small text-muted") if s.rejected_total else None,
                 *[html.Div(p[:200], className="small text-warning") for p in s.problems[:5]]],
                className="text-end", id=f"source-{s.source}-rejected"),
        _error_cell(s.error, view.detail),
    ], id=f"source-{s.source}") for s in view.lines]
    table = dbc.Table([head, html.Tbody(body)], striped=True, size="sm", responsive=True)
    return html.Div([table, gate_panel(view.gate), record_panel(view.record, view.labels, view.mode)])


def gate_panel(gate: dict) -> html.Div:
    """Counts of closes the gate held, rejected, started a segment at (a gap) or flagged as a
    splice, per source, and the newest held/rejected ones with the reason."""
    by = gate.get("by_source") or {}
    if not by and not gate.get("recent"):
        return html.Div("Data-quality gate: nothing held back.", className="text-muted small", id="sources-gate")
    kinds = ("unconfirmed", "rejected", "gap", "splice", "unjudged")
    rows = [html.Tr([html.Td(src, className="fw-bold")] + [html.Td(f"{c.get(k, 0):,}", className="text-end font-monospace")
                                                           for k in kinds])
            for src, c in sorted(by.items())]
    # Close dates: data clock (the market day of the held close).
    recent = [html.Li([html.Span(f"{r['series_id']} {r['ts'][:10]} ", className="font-monospace me-1"),
                       dbc.Badge(r["quality"].upper(), color="warning" if r["quality"] == "unconfirmed" else "danger",
                                 className="me-1"),
                       html.Span(r.get("note") or "", className="small")]) for r in gate.get("recent", [])]
    return html.Div([
        html.H6("Data-quality gate", className="mt-3"),
        html.P("Daily closes judged before any statistic: held (unconfirmed) until a peer, a second source or the "
               "next print confirms them; rejected when contradicted or reversed; a gap starts a new segment "
               "(no move across it).", className="text-muted small"),
        dbc.Table([html.Thead(html.Tr([html.Th("Source")] + [html.Th(k, className="text-end") for k in kinds])),
                   html.Tbody(rows)], size="sm", className="w-auto"),
        html.Ul(recent, className="list-unstyled small") if recent else None,
    ], id="sources-gate")


REPLAY_NO_QUOTES = ("This replay has no intraday JGB history: the saved files are closes (MOF, FRED, Treasury, "
                    "Yahoo's daily bars), so the exchange-quote series (jgb_*_x) stay empty rather than being "
                    "invented, and the JGB move shows when its MOF close publishes (00:30 JST the next business "
                    "day). Live, CNBC's quotes or a desk's push feed show it while Tokyo trades.")


def record_panel(record, labels: dict[str, str], mode: str | None) -> html.Div:
    """Exchange quotes against the MOF close of record, per tenor (analytics/record.py): days
    compared, median and largest difference, and the newest day's values."""
    parts = [html.H6("Exchange quotes vs the MOF close of record", className="mt-3"),
             html.P("The MOF curve stays the close of record; the exchange quotes (not the MOF fixing) show the "
                    "move while Tokyo trades. Their last print before the 15:00 JST close, set against the MOF "
                    "close of the same day, per tenor (quote − MOF):", className="text-muted small")]
    if mode == "replay":
        parts.append(html.P(REPLAY_NO_QUOTES, className="small text-info", id="sources-replay-no-quotes"))
    if record is None or len(record) == 0:
        parts.append(html.P("No day yet on which both an exchange close and a MOF close are stored.",
                            className="text-muted small"))
        return html.Div(parts, id="sources-record")
    head = html.Thead(html.Tr([html.Th(h) for h in ("Quotes", "Close of record", "Days")] +
                              [html.Th(h, className="text-end") for h in ("Median", "Largest", "Newest day",
                                                                          "Quote", "MOF", "Difference")]))
    rows = []
    for r in record.itertuples(index=False):
        unit = "bp" if r.unit == "bp" else "%"
        rows.append(html.Tr([
            html.Td(labels.get(r.series_id, r.series_id), className="fw-bold"),
            html.Td(labels.get(r.record_id, r.record_id)),
            html.Td(f"{r.days:,}", className="text-end font-monospace"),
            html.Td(f"{r.median:+.1f} {unit}", className="text-end font-monospace"),
            html.Td(f"{r.max_abs:.1f} {unit}", className="text-end font-monospace"),
            html.Td(f"{r.last_day:%Y-%m-%d}", className="text-end small"),
            html.Td(f"{r.last_quote:.3f}", className="text-end font-monospace"),
            html.Td(f"{r.last_record:.3f}", className="text-end font-monospace"),
            html.Td(f"{r.last_diff:+.1f} {unit}", className="text-end font-monospace"),
        ], id=f"record-{r.series_id}"))
    parts.append(dbc.Table([head, html.Tbody(rows)], size="sm", className="w-auto"))
    return html.Div(parts, id="sources-record")
