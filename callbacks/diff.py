"""The one "send only what changed" helper of every page: from the digests on screen (the tag the
browser sent back) and the view-model's digests it decides, per output, `no_update`, a `Patch`
of the changed items, or the full value — so a refresh with nothing new costs a comparison and
28 bytes, and a new close sends its tile, not the page.

`wire()` turns rendered components into the plain JSON Dash sends (once per snapshot, in the
memo), so a repeated full render is a dictionary copy, not a walk over component objects.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from dash import Patch, no_update
from plotly.io.json import to_json_plotly

__all__ = ["items", "unchanged", "value", "reshaped", "wire"]


def unchanged(n: int) -> tuple:
    """`n` outputs, none sent."""
    return (no_update,) * n


def items(old: Any, new: Sequence[str], render: Callable[[int], Any], render_all: Callable[[], Any]) -> Any:
    """A list output of per-item digests: equal → no_update; same length → a Patch replacing the
    changed items only; anything else (nothing on screen, another length, a damaged tag) → all."""
    if old == list(new):
        return no_update
    if not isinstance(old, list) or len(old) != len(new):
        return render_all()
    p = Patch()
    for i, (a, b) in enumerate(zip(old, new)):
        if a != b:
            p[i] = render(i)
    return p


def value(old: Any, new: Any, render: Callable[[], Any]) -> Any:
    """One output: no_update while its digest is the one on screen, else rendered."""
    return no_update if old == new else render()


def reshaped(old: Any, new: Any, same_shape: bool, patch: Callable[[], Any], full: Callable[[], Any]) -> Any:
    """A figure: no_update when equal, patched in place when only its data moved (`same_shape`:
    same traces and axes as on screen), otherwise the whole figure."""
    if old == new:
        return no_update
    return patch() if same_shape else full()


def wire(component: Any) -> Any:
    """Components/figures → the JSON-ready value Dash would send for them (computed once)."""
    return json.loads(to_json_plotly(component))
