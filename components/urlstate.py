"""View state in the URL query: every page declares its parameters; a shared link reproduces
the view exactly, and a bad parameter falls back to its default with a visible notice.

    PARAMS = (Param("window", "choice", "60", choices=("60", "250", "ewma")),
              Param("threshold", "float", 3.0, lo=0.5, hi=20),
              Param("asof", "date", None))
    values, notices = parse(PARAMS, query)      # query: the kwargs Dash pages pass to layout()
    search = to_search(PARAMS, values)          # "?threshold=4&window=250" (defaults left out)
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlencode

import dash_bootstrap_components as dbc

from components.figures import EVENT_KINDS

__all__ = ["Param", "parse", "to_search", "notice_banner", "url_sync_js", "COMMON", "EVENTS", "ISO_DATE_INPUT",
           "event_kinds_from_checklist", "event_kinds_to_checklist"]

# A date field that reads and writes YYYY-MM-DD whatever the browser's locale (a native
# type="date" shows mm/dd/yyyy in an en-US browser, in an otherwise ISO application).
ISO_DATE_INPUT = {"type": "text", "placeholder": "YYYY-MM-DD", "pattern": r"\d{4}-\d{2}-\d{2}", "maxLength": 10,
                  "style": {"width": "8.5rem"}}


@dataclass(frozen=True)
class Param:
    name: str
    kind: str                      # choice | int | float | date | str | bool | kinds
    default: Any
    choices: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None

    def convert(self, raw: str) -> Any:
        """The typed value, or ValueError with a message a trader can read."""
        if self.kind == "choice":
            if raw not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}")
            return raw
        if self.kind in ("int", "float"):
            try:
                v = int(raw) if self.kind == "int" else float(raw)
            except ValueError:
                raise ValueError(f"must be a{'n integer' if self.kind == 'int' else ' number'}") from None
            if v != v or (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
                raise ValueError(f"must be between {self.lo:g} and {self.hi:g}")
            return v
        if self.kind == "date":
            try:
                return dt.date.fromisoformat(raw)
            except ValueError:
                raise ValueError("must be a date YYYY-MM-DD") from None
        if self.kind == "kinds":
            # A subset of `choices`: "boj,fomc"; "none" for no kind; "all" (or every kind) = default.
            text = raw.strip().lower()
            if text == "none":
                return frozenset()
            if text == "all":
                return None
            picked = [k.strip() for k in text.split(",") if k.strip()]
            unknown = [k for k in picked if k not in self.choices]
            if not picked or unknown:
                raise ValueError(f"must be kinds among {', '.join(self.choices)} (comma-separated), all or none")
            return None if set(picked) == set(self.choices) else frozenset(picked)
        if self.kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError("must be true or false")
        if len(raw) > 200:
            raise ValueError("is too long")
        return raw

    def render(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, frozenset):
            return ",".join(k for k in self.choices if k in value) or "none"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)


# Parameters every page accepts: the share-link login, and the zone times are shown in (rendered
# by assets/time.js in the browser; a bad value gets the notice like any other parameter).
TZ = Param("tz", "choice", "utc", choices=("utc", "tokyo", "newyork"))
COMMON = (Param("token", "str", None), TZ)

# Which calendar events a page's charts mark: None = every kind (the default, left out of the
# URL), frozenset() = none ("events=none"), else the kinds given ("events=boj,fomc").
EVENTS = Param("events", "kinds", None, choices=EVENT_KINDS)


def event_kinds_from_checklist(value) -> frozenset | None:
    """A kind checklist's value → the EVENTS value (every kind ticked, or no value → None, the
    default; nothing ticked → frozenset(), no events)."""
    if value is None:
        return None
    picked = frozenset(v for v in value if v in EVENT_KINDS)
    return None if picked == frozenset(EVENT_KINDS) else picked


def event_kinds_to_checklist(kinds) -> list[str]:
    """The EVENTS value → the ticked kinds of a checklist, in display order."""
    return [k for k in EVENT_KINDS if kinds is None or k in kinds]


def parse(params: tuple[Param, ...], query: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Typed values for `params` from a query mapping, plus notices for what was ignored."""
    by_name = {p.name: p for p in params + COMMON}
    values = {p.name: p.default for p in params}
    notices: list[str] = []
    for key, raw in query.items():
        if isinstance(raw, (list, tuple)):
            raw = raw[-1] if raw else ""
        raw = "" if raw is None else str(raw)
        p = by_name.get(key)
        if p is None:
            notices.append(f"unknown parameter {key!r} ignored")
            continue
        if p is TZ:
            if raw.lower() not in TZ.choices:
                notices.append(f"tz={raw!r} must be one of {', '.join(TZ.choices)}: using utc")
            continue
        if p in COMMON:
            continue
        try:
            values[key] = p.convert(raw)
        except ValueError as exc:
            notices.append(f"{key}={raw!r} {exc}: using {p.render(p.default) if p.default is not None else 'the default'}")
    return values, notices


def to_search(params: tuple[Param, ...], values: Mapping[str, Any]) -> str:
    """The query string for `values`, leaving defaults out, in a stable order."""
    pairs = [(p.name, p.render(values[p.name])) for p in params
             if p.name in values and values[p.name] is not None and values[p.name] != p.default]
    return ("?" + urlencode(sorted(pairs), safe=",")) if pairs else ""   # "events=boj,fomc" reads as typed


def notice_banner(notices: list[str]) -> dbc.Alert | None:
    if not notices:
        return None
    return dbc.Alert(["Link parameters ignored — showing defaults instead: ", "; ".join(notices)],
                     color="warning", className="cm-url-notice small py-1 mb-2", id="cm-url-notice")


def url_sync_js(path_prefix: str) -> str:
    """Clientside callback body: put a page's view state into the address bar with
    `history.replaceState` — no history entry per change, and the pages router does not
    re-render the page (inputs keep focus, figures keep their zoom). Only while the browser is
    still on that page (`path_prefix`), so a late answer never rewrites another page's URL."""
    return """
    function(search) {
        if (search === null || search === undefined) { return window.dash_clientside.no_update; }
        var path = window.location.pathname.replace(/\\/$/, '');
        var tz = new URLSearchParams(window.location.search).get('tz');
        if (tz && search.indexOf('tz=') < 0) { search += (search ? '&' : '?') + 'tz=' + encodeURIComponent(tz); }
        if (path.indexOf(%r) === 0 && window.location.search !== search) {
            window.history.replaceState(window.history.state, '', window.location.pathname + search);
        }
        return search;
    }
    """ % path_prefix
