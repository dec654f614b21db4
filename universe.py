"""The watched universe, loaded from a versioned TOML file and validated at start."""
from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from errors import ConfigError

__all__ = ["Series", "Universe", "load_universe", "DEFAULT_UNIVERSE", "SourceInfo", "SOURCE_INFO", "SOURCES", "SOURCE_LABELS"]

DEFAULT_UNIVERSE = Path(__file__).resolve().parent / "universe.toml"



@dataclass(frozen=True)
class SourceInfo:
    """What every layer may know of a source: its name (as `source = ...` in universe.toml), the
    label screens and alert texts use, the run mode it runs in, and which setting gives its
    cadence (`None`: a fixed one). The source itself (request → fetch → parse) is registered
    beside it in data/sources/registry.py; adding a source is its module, a line here and one
    there, and its universe entries."""

    name: str
    label: str
    mode: str                    # live | demo | replay
    every: str | None = None     # the Settings field with its seconds between cycles
    feeds_all: bool = False      # a synthetic feed (demo, replay) writes every series, as primary
    intraday: bool = False       # has intraday prints (a universe entry may say `intraday = true`)
    # False: no scheduled job — the collector's ingest endpoint feeds it (the push feed).
    scheduled: bool = True


SOURCE_INFO = {i.name: i for i in (
    SourceInfo("mof", "MOF", "live", "daily_every"),
    SourceInfo("treasury", "US Treasury", "live", "daily_every"),
    SourceInfo("fred", "FRED", "live", "daily_every"),
    SourceInfo("yahoo", "Yahoo", "live", "yahoo_every", intraday=True),
    SourceInfo("cnbc", "CNBC", "live", "cnbc_every", intraday=True),   # exchange quotes, intraday only
    # A desk's own data (a terminal, an internal tick feed) posted to POST /ingest (data/ingest.py).
    SourceInfo("push", "Push feed", "live", None, intraday=True, scheduled=False),
    SourceInfo("demo", "SIMULATED", "demo", "yahoo_every", feeds_all=True),   # demo data always says SIMULATED
    SourceInfo("replay", "Replay", "replay", None, feeds_all=True),
)}
# The publishers a universe entry may name (a synthetic feed serves every series).
SOURCES = {n for n, i in SOURCE_INFO.items() if not i.feeds_all}
# What a screen and an alert text call each source.
SOURCE_LABELS = {n: i.label for n, i in SOURCE_INFO.items()}
KINDS = {"yield", "price", "fx", "index"}
FIELDS = ("Close", "High", "Low")
UNITS = {"bp", "logpct"}
MARKETS = {"JP", "US", "FX", "GLOBAL"}
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_HHMM = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")   # "24:00": the end of the local day
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhd])$")
# A series is stale when its newest value is older than this (a weekend plus a holiday), unless
# its entry says otherwise (`stale_after`, e.g. a weekly publication).
DEFAULT_STALE_AFTER = dt.timedelta(days=4)
MAX_STALE_AFTER = dt.timedelta(days=60)


def parse_span(text) -> dt.timedelta | None:
    """'90m' | '36h' | '10d' → timedelta; anything else None."""
    m = _SPAN.match(text.strip()) if isinstance(text, str) else None
    if not m:
        return None
    unit = {"m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
    return dt.timedelta(**{unit: float(m.group(1))})
# Plausibility limits per kind, in the series' native unit; a parsed value outside is a
# malformed payload (e.g. ^TNX ×10 slipping through, a price parsed from the wrong column).
PLAUSIBLE = {"yield": (-5.0, 40.0), "price": (1e-6, 1e7), "fx": (1e-3, 1e4), "index": (1e-6, 1e7)}


@dataclass(frozen=True)
class Fallback:
    source: str
    symbol: str


@dataclass(frozen=True)
class Series:
    id: str
    label: str
    source: str
    symbol: str
    kind: str
    unit: str
    market: str
    timezone: str
    close: str
    group: str
    intraday: bool = False
    tenor_years: float | None = None
    fallback: Fallback | None = None
    # How old the newest value may be before the series is stale: its publication cadence.
    stale_after: dt.timedelta = DEFAULT_STALE_AFTER
    # Data-quality gate settings (analytics/quality.py): max_gap_days, hold, min_history,
    # references [{series?, tolerance, label?}], splices [{from, to, note}].
    quality: dict = field(default_factory=dict, compare=False, hash=False)
    # Which price of the source's bar the series holds: "Close" (the close of record), or the
    # day's "High" / "Low" (Yahoo daily bars only; the intervention detector reads them).
    field: str = "Close"
    # An intraday-only series (exchange quotes without a daily close of its own): the daily
    # series of the same quantity — the close of record — whose valid moves give it σ, history
    # and rarity, e.g. jgb_30y_x → jgb_30y (the MOF fixing).
    sigma_from: str | None = None

    @property
    def daily_id(self) -> str:
        """The series whose daily moves scale this one's (itself unless `sigma_from` says)."""
        return self.sigma_from or self.id

    @property
    def min_history(self) -> int:
        """Valid moves a series needs before it may alert on z ("insufficient history" before)."""
        return int(self.quality.get("min_history", 250))

    @property
    def bounds(self) -> tuple[float, float]:
        return PLAUSIBLE[self.kind]

    def symbol_for(self, source: str) -> str | None:
        """The key `source` reads this series by: its own symbol, or its fallback's; else None."""
        if self.source == source:
            return self.symbol
        if self.fallback is not None and self.fallback.source == source:
            return self.fallback.symbol
        return None


@dataclass(frozen=True)
class Universe:
    series: tuple[Series, ...]
    path: Path
    version: int
    defaults: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {s.id: s for s in self.series})

    def __iter__(self):
        return iter(self.series)

    def __len__(self) -> int:
        return len(self.series)

    def get(self, series_id: str) -> Series:
        return self._by_id[series_id]  # type: ignore[attr-defined]

    def __contains__(self, series_id: str) -> bool:
        return series_id in self._by_id  # type: ignore[attr-defined]

    @property
    def ids(self) -> set[str]:
        return set(self._by_id)  # type: ignore[attr-defined]

    def for_source(self, source: str) -> list[Series]:
        """Series this source writes: as primary, or as fallback."""
        return [s for s in self.series
                if s.source == source or (s.fallback is not None and s.fallback.source == source)]

    def bounds(self) -> dict[str, tuple[float, float]]:
        return {s.id: s.bounds for s in self.series}

    def checked_by(self, series_id: str) -> tuple[str, ...]:
        """The series that use `series_id` as their second source (quality.references): for them
        it is a check, not a market the desk watches on its own."""
        return tuple(s.id for s in self.series
                     if any(r.get("series") == series_id for r in s.quality.get("references", ())))


def _err(path: Path, where: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {msg}")


def _parse_series(path: Path, i: int, raw: dict) -> Series:
    where = f"series[{i}]" + (f" (id={raw.get('id')!r})" if isinstance(raw, dict) and "id" in raw else "")
    if not isinstance(raw, dict):
        raise _err(path, where, "must be a table")
    required = ["id", "label", "source", "symbol", "kind", "unit", "market", "timezone", "close", "group"]
    for key in required:
        if key not in raw:
            raise _err(path, f"{where}.{key}", "missing required key")
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise _err(path, f"{where}.{key}", f"must be a non-empty string, got {raw[key]!r}")
    allowed = set(required) | {"intraday", "tenor_years", "fallback", "quality", "stale_after", "field", "sigma_from"}
    extra = set(raw) - allowed
    if extra:
        raise _err(path, f"{where}.{sorted(extra)[0]}", f"unknown key (allowed: {sorted(allowed)})")
    if not _ID.match(raw["id"]):
        raise _err(path, f"{where}.id", f"{raw['id']!r} must match {_ID.pattern}")
    for key, allowed_vals in (("source", SOURCES), ("kind", KINDS), ("unit", UNITS), ("market", MARKETS)):
        if raw[key] not in allowed_vals:
            raise _err(path, f"{where}.{key}", f"{raw[key]!r} is not one of {sorted(allowed_vals)}")
    expected_unit = "bp" if raw["kind"] == "yield" else "logpct"
    if raw["unit"] != expected_unit:
        raise _err(path, f"{where}.unit", f"{raw['unit']!r} but a {raw['kind']} series changes in {expected_unit}")
    try:
        ZoneInfo(raw["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise _err(path, f"{where}.timezone", f"{raw['timezone']!r} is not an IANA time zone") from None
    if not _HHMM.match(raw["close"]):
        raise _err(path, f"{where}.close", f"{raw['close']!r} must be HH:MM")
    intraday = raw.get("intraday", False)
    if not isinstance(intraday, bool):
        raise _err(path, f"{where}.intraday", f"must be true/false, got {intraday!r}")
    if intraday and not SOURCE_INFO[raw["source"]].intraday:
        raise _err(path, f"{where}.intraday", f"source {raw['source']!r} has no intraday prints "
                                              f"(those that have: {sorted(n for n in SOURCES if SOURCE_INFO[n].intraday)})")
    sigma_from = raw.get("sigma_from")
    if sigma_from is not None and (not isinstance(sigma_from, str) or not _ID.match(sigma_from)):
        raise _err(path, f"{where}.sigma_from", f"{sigma_from!r} is not a series id")
    if sigma_from is not None and not intraday:
        raise _err(path, f"{where}.sigma_from", "only an intraday series takes its σ from a daily one "
                                                "(add intraday = true)")
    bar_field = raw.get("field", "Close")
    if bar_field not in FIELDS:
        raise _err(path, f"{where}.field", f"{bar_field!r} is not one of {list(FIELDS)}")
    if bar_field != "Close" and (raw["source"] != "yahoo" or intraday or "fallback" in raw):
        raise _err(path, f"{where}.field", f"{bar_field!r}: only a daily Yahoo series without a fallback may hold "
                                           f"the bar's High or Low")
    tenor = raw.get("tenor_years")
    if tenor is not None and (not isinstance(tenor, (int, float)) or isinstance(tenor, bool) or tenor <= 0):
        raise _err(path, f"{where}.tenor_years", f"must be a positive number, got {tenor!r}")
    fb = raw.get("fallback")
    fallback = None
    if fb is not None:
        if not isinstance(fb, dict) or set(fb) != {"source", "symbol"}:
            raise _err(path, f"{where}.fallback", f"must be {{source, symbol}}, got {fb!r}")
        if fb["source"] not in SOURCES or fb["source"] == raw["source"]:
            raise _err(path, f"{where}.fallback.source", f"{fb['source']!r} must be another known source")
        fallback = Fallback(fb["source"], str(fb["symbol"]))
    quality = _parse_quality(path, where, raw.get("quality", {}), fallback)
    stale_after = DEFAULT_STALE_AFTER
    if "stale_after" in raw:
        stale_after = parse_span(raw["stale_after"])
        if stale_after is None or not dt.timedelta(0) < stale_after <= MAX_STALE_AFTER:
            raise _err(path, f"{where}.stale_after", f"{raw['stale_after']!r} must be a span like \"36h\" or "
                                                      f"\"10d\" (minutes m, hours h, days d), above 0 and at most 60d")
    return Series(
        id=raw["id"], label=raw["label"], source=raw["source"], symbol=raw["symbol"], kind=raw["kind"],
        unit=raw["unit"], market=raw["market"], timezone=raw["timezone"], close=raw["close"],
        group=raw["group"], intraday=intraday, tenor_years=float(tenor) if tenor is not None else None,
        fallback=fallback, quality=quality, stale_after=stale_after, field=bar_field, sigma_from=sigma_from,
    )


_QUALITY_KEYS = {"max_gap_days", "hold", "min_history", "references", "splices"}


def _number(path: Path, where: str, value, *, low: float, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise _err(path, where, f"must be a{'n integer' if integer else ' number'}, got {value!r}")
    if value < low:
        raise _err(path, where, f"must be ≥ {low:g}, got {value!r}")
    return value


def _parse_quality(path: Path, where: str, q, fallback: Fallback | None) -> dict:
    """The series' `quality` table (gate settings), validated; errors name file, key and value."""
    w = f"{where}.quality"
    if not isinstance(q, dict):
        raise _err(path, w, f"must be a table, got {q!r}")
    extra = set(q) - _QUALITY_KEYS
    if extra:
        raise _err(path, f"{w}.{sorted(extra)[0]}", f"unknown key (allowed: {sorted(_QUALITY_KEYS)})")
    out: dict = {}
    if "max_gap_days" in q:
        out["max_gap_days"] = _number(path, f"{w}.max_gap_days", q["max_gap_days"], low=1)
    if "hold" in q:
        out["hold"] = _number(path, f"{w}.hold", q["hold"], low=2)
    if "min_history" in q:
        out["min_history"] = int(_number(path, f"{w}.min_history", q["min_history"], low=0, integer=True))
    refs = q.get("references", [])
    if not isinstance(refs, list):
        raise _err(path, f"{w}.references", f"must be a list of tables, got {refs!r}")
    out["references"] = []
    for i, ref in enumerate(refs):
        rw = f"{w}.references[{i}]"
        if not isinstance(ref, dict) or "tolerance" not in ref or set(ref) - {"series", "tolerance", "label"}:
            raise _err(path, rw, f"must be {{series?, tolerance, label?}}, got {ref!r}")
        tol = _number(path, f"{rw}.tolerance", ref["tolerance"], low=0)
        other = ref.get("series")
        if other is None and fallback is None:
            raise _err(path, f"{rw}.series", "missing: without a series the reference is the fallback source, "
                                             "and this series has no fallback")
        if other is not None and (not isinstance(other, str) or not _ID.match(other)):
            raise _err(path, f"{rw}.series", f"{other!r} is not a series id")
        entry = {"tolerance": float(tol), "series": other}
        if "label" in ref:
            entry["label"] = str(ref["label"])
        out["references"].append(entry)
    sps = q.get("splices", [])
    if not isinstance(sps, list):
        raise _err(path, f"{w}.splices", f"must be a list of tables, got {sps!r}")
    out["splices"] = []
    for i, sp in enumerate(sps):
        sw = f"{w}.splices[{i}]"
        if not isinstance(sp, dict) or set(sp) != {"from", "to", "note"}:
            raise _err(path, sw, f"must be {{from, to, note}}, got {sp!r}")
        try:
            a, b = (dt.date.fromisoformat(str(sp[k])) for k in ("from", "to"))
        except ValueError:
            raise _err(path, sw, f"from/to must be YYYY-MM-DD dates, got {sp['from']!r}, {sp['to']!r}") from None
        if b < a:
            raise _err(path, f"{sw}.to", f"{b} is before from {a}")
        out["splices"].append({"from": a.isoformat(), "to": b.isoformat(), "note": str(sp["note"])})
    return out


def load_universe(path: str | Path | None = None) -> Universe:
    """Read and validate the universe file; ConfigError names the file, key and value."""
    p = Path(path) if path else DEFAULT_UNIVERSE
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read universe file: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _err(p, "version", f"must be a positive integer, got {version!r}")
    items = raw.get("series")
    if not isinstance(items, list) or not items:
        raise _err(p, "series", "needs at least one [[series]] entry")
    series = [_parse_series(p, i, item) for i, item in enumerate(items)]
    seen: dict[str, int] = {}
    symbols: dict[tuple[str, str, str], str] = {}
    for i, s in enumerate(series):
        if s.id in seen:
            raise _err(p, f"series[{i}].id", f"duplicate id {s.id!r} (first at series[{seen[s.id]}])")
        seen[s.id] = i
        key = (s.source, s.symbol, s.field)
        if key in symbols:
            raise _err(p, f"series[{i}].symbol", f"{s.symbol!r} ({s.field}) of source {s.source!r} already used by "
                                                 f"{symbols[key]!r}")
        symbols[key] = s.id
    for i, s in enumerate(series):
        if s.sigma_from is not None:
            base = series[seen[s.sigma_from]] if s.sigma_from in seen else None
            if base is None:
                raise _err(p, f"series[{i}].sigma_from", f"{s.sigma_from!r} is not a series of this file")
            if base.sigma_from is not None or base.id == s.id:
                raise _err(p, f"series[{i}].sigma_from", f"{s.sigma_from!r} takes its own σ from another series")
            same = ("unit", "market", "timezone", "close")
            diff = [k for k in same if getattr(base, k) != getattr(s, k)]
            if diff:
                raise _err(p, f"series[{i}].sigma_from", f"{s.sigma_from!r} differs in {diff[0]} "
                                                         f"({getattr(base, diff[0])!r} vs {getattr(s, diff[0])!r}): "
                                                         f"its daily moves cannot scale this series")
        for j, ref in enumerate(s.quality.get("references", [])):
            other = ref["series"]
            if other is None:
                continue
            if other not in seen:
                raise _err(p, f"series[{i}].quality.references[{j}].series", f"{other!r} is not a series of this file")
            if other == s.id or series[seen[other]].unit != s.unit:
                raise _err(p, f"series[{i}].quality.references[{j}].series",
                           f"{other!r} cannot check {s.id!r} (same series or another unit)")
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        raise _err(p, "defaults", "must be a table")
    return Universe(series=tuple(series), path=p, version=version, defaults=defaults)
