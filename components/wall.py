"""The Wall page (placeholder: filled by the dashboard work)."""
from __future__ import annotations

from dash import html

__all__ = ["layout"]


def layout(**query) -> html.Div:
    return html.Div([html.H4("Wall", className="mt-2"), html.P("Not built yet.", className="text-muted")])
