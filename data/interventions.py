"""Japan's FX intervention record, loaded from a versioned TOML file and validated at start.

Pure: no I/O beyond reading the file, no Dash. Errors are ConfigError naming file, entry and value,
the way universe.py names them.
"""
from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from errors import ConfigError

__all__ = ["Intervention", "Period", "load_interventions", "DEFAULT_INTERVENTIONS", "DIRECTIONS"]

DEFAULT_INTERVENTIONS = Path(__file__).resolve().parent.parent / "interventions.toml"

# yen-buying (dollar-selling: against a weak yen) / yen-selling (against a strong yen)
DIRECTIONS = {"buy_jpy", "sell_jpy"}
_REQUIRED = ("date", "direction", "verified", "source")
_ALLOWED = set(_REQUIRED) | {"amount_jpy", "period", "stealth", "note"}
_PERIOD_KEYS = {"start", "end", "amount_jpy"}


@dataclass(frozen=True)
class Period:
    """A MOF reporting period and, where the total was checked, its amount for all its days."""
    start: dt.date
    end: dt.date
    amount_jpy: float | None = None

    def __contains__(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Intervention:
    date: dt.date
    direction: str
    verified: bool
    sources: tuple[str, ...]
    # The MOF's figure for this one day (None: not published per day, or not checked to ¥0.1bn).
    amount_jpy: float | None = None
    period: Period | None = None
    # True: not announced on the day; False: announced; None: not checked.
    stealth: bool | None = None
    note: str = ""

    @property
    def yen_buying(self) -> bool:
        return self.direction == "buy_jpy"

    @property
    def amount_basis(self) -> str | None:
        """'day' when the amount is this day's own, 'period' when only the period total is known."""
        if self.amount_jpy is not None:
            return "day"
        if self.period is not None and self.period.amount_jpy is not None:
            return "period"
        return None


def _err(path: Path, where: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {msg}")


def _date(path: Path, where: str, value) -> dt.date:
    """A TOML date (2022-09-22) or an ISO string ("2022-09-22"); never a datetime."""
    if isinstance(value, dt.datetime):
        raise _err(path, where, f"{value!r} must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _err(path, where, f"{value!r} is not a date (YYYY-MM-DD)")


def _amount(path: Path, where: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise _err(path, where, f"must be a positive number of yen, got {value!r}")
    return float(value)


def _sources(path: Path, where: str, value) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(s, str) and s.strip() for s in items):
        raise _err(path, where, f"must be a non-empty string or list of strings, got {value!r}")
    return tuple(s.strip() for s in items)


def _parse_period(path: Path, where: str, raw) -> Period:
    if not isinstance(raw, dict):
        raise _err(path, where, f"must be a table {{start, end, amount_jpy?}}, got {raw!r}")
    extra = set(raw) - _PERIOD_KEYS
    if extra:
        raise _err(path, f"{where}.{sorted(extra)[0]}", f"unknown key (allowed: {sorted(_PERIOD_KEYS)})")
    for key in ("start", "end"):
        if key not in raw:
            raise _err(path, f"{where}.{key}", "missing required key")
    start = _date(path, f"{where}.start", raw["start"])
    end = _date(path, f"{where}.end", raw["end"])
    if end < start:
        raise _err(path, f"{where}.end", f"{end} is before start {start}")
    amount = _amount(path, f"{where}.amount_jpy", raw["amount_jpy"]) if "amount_jpy" in raw else None
    return Period(start=start, end=end, amount_jpy=amount)


def _parse(path: Path, i: int, raw) -> Intervention:
    where = f"intervention[{i}]"
    if not isinstance(raw, dict):
        raise _err(path, where, "must be a table")
    if "date" in raw:
        where += f" (date={raw['date']!s})"
    extra = set(raw) - _ALLOWED
    if extra:
        raise _err(path, f"{where}.{sorted(extra)[0]}", f"unknown key (allowed: {sorted(_ALLOWED)})")
    for key in _REQUIRED:
        if key not in raw:
            raise _err(path, f"{where}.{key}", "missing required key")
    day = _date(path, f"{where}.date", raw["date"])
    direction = raw["direction"]
    if direction not in DIRECTIONS:
        raise _err(path, f"{where}.direction", f"{direction!r} is not one of {sorted(DIRECTIONS)}")
    verified = raw["verified"]
    if not isinstance(verified, bool):
        raise _err(path, f"{where}.verified", f"must be true/false, got {verified!r}")
    stealth = raw.get("stealth")
    if stealth is not None and not isinstance(stealth, bool):
        raise _err(path, f"{where}.stealth", f"must be true/false, got {stealth!r}")
    amount = _amount(path, f"{where}.amount_jpy", raw["amount_jpy"]) if "amount_jpy" in raw else None
    period = _parse_period(path, f"{where}.period", raw["period"]) if "period" in raw else None
    if period is not None and day not in period:
        raise _err(path, f"{where}.period", f"{day} lies outside {period.start}…{period.end}")
    if period is not None and period.amount_jpy is not None and amount is not None and amount > period.amount_jpy:
        raise _err(path, f"{where}.amount_jpy", f"{amount:,.0f} exceeds the period total {period.amount_jpy:,.0f}")
    # An amount is a published figure: it is shipped only once someone checked it.
    if not verified and (amount is not None or (period is not None and period.amount_jpy is not None)):
        raise _err(path, f"{where}.verified", "false, yet the entry carries an amount: check it or leave it out")
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise _err(path, f"{where}.note", f"must be a string, got {note!r}")
    return Intervention(date=day, direction=direction, verified=verified,
                        sources=_sources(path, f"{where}.source", raw["source"]),
                        amount_jpy=amount, period=period, stealth=stealth, note=note.strip())


def load_interventions(path: str | Path | None = None) -> tuple[Intervention, ...]:
    """Read and validate the intervention record, oldest first; ConfigError names file, key, value."""
    p = Path(path) if path else DEFAULT_INTERVENTIONS
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read intervention file: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    extra = set(raw) - {"version", "intervention"}
    if extra:
        raise _err(p, sorted(extra)[0], "unknown key (allowed: ['intervention', 'version'])")
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _err(p, "version", f"must be a positive integer, got {version!r}")
    items = raw.get("intervention", [])
    if not isinstance(items, list):
        raise _err(p, "intervention", "must be an array of [[intervention]] tables")
    out = [_parse(p, i, item) for i, item in enumerate(items)]
    seen: dict[dt.date, int] = {}
    periods: dict[tuple[dt.date, dt.date], tuple[int, float | None]] = {}
    for i, x in enumerate(out):
        if x.date in seen:
            raise _err(p, f"intervention[{i}].date", f"duplicate date {x.date} (first at intervention[{seen[x.date]}])")
        seen[x.date] = i
        if x.period is None:
            continue
        # Days of one reporting period must agree on its total.
        key = (x.period.start, x.period.end)
        if key in periods and x.period.amount_jpy is not None and periods[key][1] is not None \
                and periods[key][1] != x.period.amount_jpy:
            raise _err(p, f"intervention[{i}].period.amount_jpy",
                       f"{x.period.amount_jpy:,.0f} differs from {periods[key][1]:,.0f} given for the same "
                       f"period at intervention[{periods[key][0]}]")
        if key not in periods or periods[key][1] is None:
            periods[key] = (i, x.period.amount_jpy)
    return tuple(sorted(out, key=lambda x: x.date))
