"""The event calendar (BOJ, FOMC, JGB auctions, refunding, elections, CPI, payrolls), loaded from
an editable TOML file and validated at start.

Pure: no Dash, no network. A bad entry is a ConfigError naming file, entry and value, the way
universe.py names them. Every event has a UTC instant: its local date and time in its own
zone (a date-only event: the start of that local day).
"""
from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from errors import ConfigError

__all__ = ["Event", "load_events", "next_events", "events_near", "DEFAULT_EVENTS", "KINDS"]

DEFAULT_EVENTS = Path(__file__).resolve().parent.parent / "events.toml"

KINDS = {"boj", "fomc", "jgb_auction", "ust_refunding", "election", "cpi", "payrolls", "other"}
_TENOR_KINDS = {"jgb_auction", "other"}           # required for the first, allowed for the second
_REQUIRED = ("date", "timezone", "kind", "label", "source")
_ALLOWED = set(_REQUIRED) | {"time", "tenor", "note"}
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_TENOR = re.compile(r"^\d{1,2}[MY]$")            # "10Y", "6M"
UTC = dt.timezone.utc


@dataclass(frozen=True)
class Event:
    date: dt.date
    timezone: str
    kind: str
    label: str
    sources: tuple[str, ...]
    time: dt.time | None = None
    tenor: str | None = None
    note: str = ""

    @property
    def all_day(self) -> bool:
        return self.time is None

    @property
    def local_start(self) -> dt.datetime:
        return dt.datetime.combine(self.date, self.time or dt.time(0), tzinfo=ZoneInfo(self.timezone))

    @property
    def instant_utc(self) -> dt.datetime:
        """When it happens, in UTC (a date-only event: the start of its local day)."""
        return self.local_start.astimezone(UTC)

    @property
    def end_utc(self) -> dt.datetime:
        """A timed event ends at its instant; a date-only one at the next local midnight."""
        if self.time is not None:
            return self.instant_utc
        nxt = dt.datetime.combine(self.date + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(self.timezone))
        return nxt.astimezone(UTC)

    def distance(self, ts: dt.datetime) -> dt.timedelta:
        """How far `ts` is from the event: 0 inside a date-only event's day, never negative."""
        start, end = self.instant_utc, self.end_utc
        if start <= ts < end:
            return dt.timedelta(0)
        return start - ts if ts < start else ts - end


def _aware(ts: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(ts, dt.datetime) or ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {ts!r}")
    return ts.astimezone(UTC)


def next_events(events, now: dt.datetime, within: dt.timedelta = dt.timedelta(days=14)) -> list[Event]:
    """Events not yet over at `now` that start within `within` of it, soonest first. A date-only
    event counts as upcoming for the whole of its local day ("BOJ decision today")."""
    now = _aware(now, "now")
    horizon = now + within
    out = [e for e in events
           if (e.instant_utc >= now if e.time is not None else e.end_utc > now) and e.instant_utc <= horizon]
    return sorted(out, key=lambda e: (e.instant_utc, e.kind, e.label))


def events_near(events, ts: dt.datetime, within: dt.timedelta = dt.timedelta(days=1)) -> list[Event]:
    """Events before or after `ts` by at most `within` (a date-only event: from its local day),
    in time order — for alert text such as "1 day after the 30Y auction"."""
    ts = _aware(ts, "ts")
    return sorted((e for e in events if e.distance(ts) <= within), key=lambda e: (e.instant_utc, e.kind, e.label))


def _err(path: Path, where: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {msg}")


def _date(path: Path, where: str, value) -> dt.date:
    if isinstance(value, dt.datetime):
        raise _err(path, where, f"{value!r} must be a date (YYYY-MM-DD); put the time in `time`")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _err(path, where, f"{value!r} is not a date (YYYY-MM-DD)")


def _parse(path: Path, i: int, raw) -> Event:
    where = f"event[{i}]"
    if not isinstance(raw, dict):
        raise _err(path, where, "must be a table")
    if "label" in raw:
        where += f" (label={raw['label']!r})"
    extra = set(raw) - _ALLOWED
    if extra:
        raise _err(path, f"{where}.{sorted(extra)[0]}", f"unknown key (allowed: {sorted(_ALLOWED)})")
    for key in _REQUIRED:
        if key not in raw:
            raise _err(path, f"{where}.{key}", "missing required key")
    for key in ("timezone", "kind", "label"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise _err(path, f"{where}.{key}", f"must be a non-empty string, got {raw[key]!r}")
    day = _date(path, f"{where}.date", raw["date"])
    kind = raw["kind"]
    if kind not in KINDS:
        raise _err(path, f"{where}.kind", f"{kind!r} is not one of {sorted(KINDS)}")
    tz = raw["timezone"]
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise _err(path, f"{where}.timezone", f"{tz!r} is not an IANA time zone") from None
    time = None
    if "time" in raw:
        value = raw["time"]
        if isinstance(value, dt.time) and value.tzinfo is None and not value.second and not value.microsecond:
            time = value
        elif isinstance(value, str) and _HHMM.match(value.strip()):
            time = dt.time.fromisoformat(value.strip())
        else:
            raise _err(path, f"{where}.time", f"{value!r} must be HH:MM (local time in {tz})")
        # A wall time skipped by a daylight-saving change does not exist: say so rather than guess.
        local = dt.datetime.combine(day, time, tzinfo=zone)
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
            raise _err(path, f"{where}.time", f"{value!r} does not exist on {day} in {tz} (daylight-saving gap)")
    tenor = raw.get("tenor")
    if tenor is not None:
        if kind not in _TENOR_KINDS:
            raise _err(path, f"{where}.tenor", f"{tenor!r} given, but a {kind} event has no tenor")
        if not isinstance(tenor, str) or not _TENOR.match(tenor.strip()):
            raise _err(path, f"{where}.tenor", f"{tenor!r} must look like \"10Y\" or \"6M\"")
        tenor = tenor.strip()
    elif kind == "jgb_auction":
        raise _err(path, f"{where}.tenor", "missing: a jgb_auction needs its tenor (\"10Y\", \"30Y\", …)")
    sources = raw["source"]
    items = [sources] if isinstance(sources, str) else sources
    if not isinstance(items, list) or not items or not all(isinstance(s, str) and s.strip() for s in items):
        raise _err(path, f"{where}.source", f"must be a non-empty string or list of strings, got {sources!r}")
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise _err(path, f"{where}.note", f"must be a string, got {note!r}")
    return Event(date=day, timezone=tz, kind=kind, label=raw["label"].strip(),
                 sources=tuple(s.strip() for s in items), time=time, tenor=tenor, note=note.strip())


def _identity(e: Event) -> tuple:
    # One BOJ decision (one 10Y auction, one CPI …) a day; "other" events differ by their label.
    return (e.kind, e.date, e.tenor, e.label.casefold() if e.kind == "other" else None)


def load_events(path: str | Path | None = None) -> tuple[Event, ...]:
    """Read and validate the event calendar, in time order; ConfigError names file, key and value."""
    p = Path(path) if path else DEFAULT_EVENTS
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read event file: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    extra = set(raw) - {"version", "event"}
    if extra:
        raise _err(p, sorted(extra)[0], "unknown key (allowed: ['event', 'version'])")
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _err(p, "version", f"must be a positive integer, got {version!r}")
    items = raw.get("event", [])
    if not isinstance(items, list):
        raise _err(p, "event", "must be an array of [[event]] tables")
    events = [_parse(p, i, item) for i, item in enumerate(items)]
    seen: dict[tuple, int] = {}
    for i, e in enumerate(events):
        key = _identity(e)
        if key in seen:
            what = f"{e.kind}{' ' + e.tenor if e.tenor else ''} on {e.date}"
            raise _err(p, f"event[{i}].date", f"duplicate {what} (first at event[{seen[key]}])")
        seen[key] = i
    return tuple(sorted(events, key=lambda e: (e.instant_utc, e.kind, e.label)))
