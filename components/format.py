"""Number and time formatting shared by every component."""
from __future__ import annotations

import datetime as dt
import math

from dash import html

from alerts.text import trunc

__all__ = ["fmt_value", "fmt_change", "fmt_z", "fmt_age", "fmt_time", "epoch_ms", "when", "TIMEZONES"]

# The zones a user may read times in (`?tz=` on every page, the picker in the navigation bar):
# URL value → (IANA zone, label). assets/time.js renders every `.cm-time` in the chosen zone.
TIMEZONES = {"utc": ("UTC", "UTC"), "tokyo": ("Asia/Tokyo", "Tokyo"), "newyork": ("America/New_York", "New York")}


def fmt_value(value: float | None, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if kind == "yield":
        return f"{value:.3f}%"
    if kind == "fx":
        return f"{value:,.3f}"
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:,.3f}"


def fmt_change(change: float | None, unit: str) -> str:
    """A move, cut (not rounded) to its decimals: a display never crosses a tier boundary."""
    if change is None or (isinstance(change, float) and math.isnan(change)):
        return "—"
    if unit == "bp":
        return f"{trunc(change, 1):+.1f} bp"
    return f"{trunc(change, 2):+.2f}%"


def fmt_z(z: float | None) -> str:
    """'+7.6σ' cut to one decimal (a 5.96σ warning reads 5.9σ, never 6.0σ); '—' when unknown."""
    if z is None or (isinstance(z, float) and math.isnan(z)):
        return "—"
    return f"{trunc(z, 1):+.1f}σ"


def fmt_age(seconds: float | None) -> str:
    """Matches assets/age.js, which keeps ages ticking in the browser between refreshes."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {(s % 3600) // 60:02d}m"
    return f"{s // 86400}d {(s % 86400) // 3600}h"


def fmt_time(ts: dt.datetime | None) -> str:
    if ts is None:
        return "—"
    return ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def when(ts: dt.datetime | None, *, seconds: bool = False, **attrs) -> html.Span:
    """A point in time on screen: UTC text first, rewritten by assets/time.js in the zone the user
    picked (`?tz=tokyo` → '2026-01-20 15:00 JST'); the UTC instant stays in data-ts."""
    if ts is None:
        return html.Span("—", **attrs)
    text = ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")
    cls = " ".join(x for x in ("cm-time", attrs.pop("className", "")) if x)
    return html.Span(text, className=cls, title=text, **{"data-ts": epoch_ms(ts), **({"data-sec": "1"} if seconds else {})},
                     **attrs)


def epoch_ms(ts: dt.datetime | None) -> int | None:
    return None if ts is None else int(ts.timestamp() * 1000)
