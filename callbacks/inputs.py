"""Checks for callback inputs: the browser sends JSON, and anyone can post any JSON.

Each check returns the clean value, or `BAD` when the value cannot come from this app's own
components (wrong type, too long, too many items, not finite, out of range). A callback that
gets `BAD` answers `no_update` or a visible notice — never an exception (issue 14).

    series = inputs.text_list(series, max_items=inputs.MAX_ITEMS)
    if inputs.bad(series, states, since):
        return no_update, no_update
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection
from typing import Any

__all__ = ["BAD", "MAX_ITEMS", "MAX_TEXT", "alert_id", "bad", "count", "choice", "date_text", "mapping",
           "number", "tag_dict", "tag_text", "text", "text_list"]


class _Bad:
    def __repr__(self) -> str:
        return "BAD"

    def __bool__(self) -> bool:
        return False


BAD: Any = _Bad()
MAX_ITEMS = 100          # items in a multi-select (the universe has 48 series)
MAX_TEXT = 200           # characters of a free-text value
MAX_ID = 256             # an alert id: rule:subject:timestamp
MAX_TAG = 20000          # a tag store (digests joined): bounded, compared only


def bad(*values: Any) -> bool:
    """Is any of these the BAD marker?"""
    return any(v is BAD for v in values)


def count(x: Any) -> int | Any:
    """n_clicks / n_intervals: None → 0, a non-negative integer, else BAD."""
    if x is None:
        return 0
    if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= 10**12:
        return BAD
    return x


def text(x: Any, max_len: int = MAX_TEXT) -> str | None | Any:
    """None, or a string of at most `max_len` printable characters."""
    if x is None:
        return None
    if not isinstance(x, str) or len(x) > max_len or not x.isprintable():
        return BAD
    return x


def alert_id(x: Any) -> str | None | Any:
    """None/'' → None; an alert id (bounded printable string) → itself."""
    v = text(x, MAX_ID)
    return None if v == "" else v


def choice(x: Any, choices: Collection[str]) -> str | None | Any:
    """None, or one of `choices` (a string)."""
    if x is None:
        return None
    return x if isinstance(x, str) and x in choices else BAD


def text_list(x: Any, *, max_items: int = MAX_ITEMS, max_len: int = MAX_TEXT,
              choices: Collection[str] | None = None) -> list[str] | Any:
    """A multi-select value: None → [], a bounded list of bounded strings (of `choices`)."""
    if x is None:
        return []
    if not isinstance(x, list) or len(x) > max_items:
        return BAD
    for v in x:
        if not isinstance(v, str) or len(v) > max_len or (choices is not None and v not in choices):
            return BAD
    return list(x)


def number(x: Any, lo: float | None = None, hi: float | None = None) -> float | None | Any:
    """None, or a finite int/float within [lo, hi]."""
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return BAD
    v = float(x)
    if not math.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        return BAD
    return v


def date_text(x: Any) -> str | None | Any:
    """None/'' → None; an ISO date 'YYYY-MM-DD' (a date input's value) → itself."""
    if x is None or x == "":
        return None
    if not isinstance(x, str) or len(x) > 32:
        return BAD
    try:
        dt.date.fromisoformat(x[:10])
    except ValueError:
        return BAD
    return x


def tag_text(x: Any) -> str | None:
    """A tag store that should hold a string (what is on screen). Anything else — damaged,
    foreign, hand-made — is None: "nothing known on screen", so the view is sent in full."""
    return x if isinstance(x, str) and len(x) <= MAX_TAG else None


def tag_dict(x: Any, keys: Collection[str] | None = None) -> dict | None:
    """A tag store that should hold a small dict (of `keys`); anything else is None (see tag_text)."""
    if not isinstance(x, dict) or len(x) > 64 or (keys is not None and not set(x) <= set(keys)):
        return None
    return x


def mapping(x: Any, keys: Collection[str]) -> dict | None | Any:
    """A dict whose keys are all among `keys` (values checked by the caller)."""
    if x is None:
        return None
    if not isinstance(x, dict) or not set(x) <= set(keys):
        return BAD
    return x
