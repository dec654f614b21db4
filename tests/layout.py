"""Inspecting Dash layouts in tests."""
from __future__ import annotations


def find(component, cid):
    """The component with id `cid` inside a layout tree (None if absent)."""
    if getattr(component, "id", None) == cid:
        return component
    children = getattr(component, "children", None)
    if children is None:
        return None
    for child in children if isinstance(children, (list, tuple)) else [children]:
        hit = find(child, cid)
        if hit is not None:
            return hit
    return None


def text(component) -> str:
    """All of a layout's content as JSON text (str() of a Dash component is cut with '...')."""
    import json

    import plotly.utils

    return json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
