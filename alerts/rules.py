"""Alert rules as data (`alerts.toml`), validated at start with errors naming file, key and value.

Three rule types share one lifecycle (see alerts/engine.py):

- ``z``      — tiers on |z| of a move (estimator w60 by default) for every series of the listed
               universe groups (or an explicit `series` list), one alert per rule × series;
- ``level``  — a level crossing of one series (`direction` "above" or "below"), e.g. JGB 40Y ≥ 4.00 %;
- ``spread`` — tiers on the change of `legs[0] − legs[1]` (both in bp) over the rule's horizon,
               e.g. UST 10Y − JGB 10Y daily change ≥ 15 bp;
- ``signal`` — contagion conditions computed by analytics/contagion.py (a correlation breaking
               above its 250-day band, a spillover jump, the hedged-yield pickup flipping sign):
               value 1 while the condition holds, 0 otherwise; one alert per rule × signal subject.
- ``intervention`` — the possible-intervention detector of analytics/intervention.py on one FX
               series: `kind = "daily"` judges the day's High–Low range as a multiple of its
               trailing median (tiers in ×, read from the `high` / `low` series, never the stale
               daily Close); `kind = "intraday"` judges the sharpest move within `hours` on
               intraday bars (tiers in %, two prints must agree). 0 unless the move has the
               shape of an intervention (one way, against the month before).

Every threshold is compared in a "normalised" space where larger means worse (see `Rule.sign`),
so one state machine serves above/below, up/down and two-sided rules.
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analytics.types import ESTIMATORS
from errors import ConfigError

__all__ = [
    "DEFAULT_RULES",
    "EVENT_KINDS",
    "RULE_TYPES",
    "SIGNAL_KINDS",
    "TIERS",
    "TIER_RANK",
    "Rule",
    "RuleSet",
    "load_rules",
    "parse_rules",
    "tier_rank",
]

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "alerts.toml"

TIERS = ("watch", "warning", "critical")
TIER_RANK = {t: i for i, t in enumerate(TIERS)}
RULE_TYPES = ("z", "level", "spread", "signal", "intervention")
SIGNAL_KINDS = ("correlation_break", "spillover_jump", "hedged_pickup_flip")
KINDS = ("daily", "intraday")
EVENT_KINDS = ("pending", "firing", "escalated", "resolved", "normal", "nodata", "error",
               "restored", "acknowledged")
DEFAULT_NOTIFY_ON = ("firing", "escalated", "resolved")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DIRECTIONS = {"z": ("both", "up", "down"), "spread": ("both", "up", "down"), "level": ("above", "below"),
               "signal": ("above",), "intervention": ("both",)}

# Keys a rule may take; `[defaults]` may set the inheritable ones.
_COMMON = {"id", "type", "label", "enabled", "pending_for", "keep_firing_for", "notify_on", "tiers",
           "hysteresis", "direction"}
_ALLOWED = {
    "z": _COMMON | {"groups", "series", "estimator", "horizon", "kind", "guard_tier", "confirm_groups",
                    "confirm_window_minutes", "rarity_years", "rarity_earns"},
    "level": _COMMON | {"series"},
    "spread": _COMMON | {"legs", "horizon", "kind", "max_skew_minutes"},
    "signal": _COMMON | {"signals"},
    "intervention": _COMMON | {"series", "high", "low", "kind", "hours"},
}
# Defaults inherited by every type vs. only by z rules (tiers/hysteresis are in σ for z rules;
# a level or spread rule must state its own, in its own unit).
_DEFAULT_KEYS_ALL = {"enabled", "pending_for", "keep_firing_for", "notify_on", "horizon", "kind"}
_DEFAULT_KEYS_Z = {"estimator", "tiers", "hysteresis", "guard_tier", "confirm_window_minutes", "direction",
                   "rarity_years", "rarity_earns"}
_BUILTIN = {
    "enabled": True, "pending_for": 0, "keep_firing_for": 0, "notify_on": list(DEFAULT_NOTIFY_ON),
    "horizon": 1, "kind": "daily", "estimator": "w60",
    "tiers": {"watch": 3.0, "warning": 4.0, "critical": 6.0}, "hysteresis": 0.5, "guard_tier": "critical",
    "confirm_window_minutes": 15.0, "max_skew_minutes": 15.0,
}


def tier_rank(tier: str | None) -> int:
    """Rank of a tier; -1 for None (no tier)."""
    return -1 if tier is None else TIER_RANK[tier]


@dataclass(frozen=True)
class Rule:
    id: str
    type: str                                   # z | level | spread
    tiers: tuple[tuple[str, float], ...]        # ordered watch → critical (a subset is fine), raw units
    label: str = ""
    enabled: bool = True
    groups: tuple[str, ...] = ()                # z: universe groups covered
    series: tuple[str, ...] = ()                # z: explicit series; level: the one series
    legs: tuple[str, str] | None = None         # spread: (a, b), value = move(a) − move(b)
    range_legs: tuple[str, str] | None = None   # intervention, daily: the (High, Low) series
    hours: float = 4.0                          # intervention, intraday: the window of a sharp move
    signals: tuple[str, ...] = ()               # signal: which contagion signal kinds
    kind: str = "daily"                         # which MoveStat kind a z/spread rule judges
    horizon: int = 1
    estimator: str = "w60"
    direction: str = "both"                     # z/spread: both|up|down; level: above|below
    hysteresis: float = 0.0                     # resolve only below lowest threshold − hysteresis
    pending_for: int = 0                        # extra new data points the condition must hold
    keep_firing_for: int = 0                    # new data points the alert stays firing after clearing
    guard_tier: str | None = "critical"         # bad-tick guard: single-print moves at/above this tier
    confirm_groups: tuple[str, ...] = ()        # groups whose other instruments may confirm a print
    confirm_window_minutes: float = 15.0
    max_skew_minutes: float = 15.0              # spread, intraday: legs' timestamps at most this far apart
    notify_on: frozenset[str] = frozenset(DEFAULT_NOTIFY_ON)
    # z rules: the return period (years, on the declared rarity base) a move must also have to
    # reach each tier, so a tier means about the same frequency on every series.
    rarity: tuple[tuple[str, float], ...] = ()
    # …and the return period that earns a tier on its own, once |z| reaches the lowest tier
    # (a record move while σ has already adapted to a stress episode).
    earns: tuple[tuple[str, float], ...] = ()

    @property
    def sign(self) -> float:
        """Multiplier mapping raw values into the normalised space (larger = worse)."""
        return -1.0 if self.direction in ("below", "down") else 1.0

    @property
    def lowest(self) -> float:
        """Lowest threshold, normalised (the one that opens and, minus hysteresis, closes an episode)."""
        return self.sign * self.tiers[0][1]

    def tier_for(self, normalised: float, return_period: float | None = None) -> str | None:
        """Highest tier whose threshold the normalised value reaches — and, for a tier with a
        rarity requirement, whose return period the move reaches too — or None."""
        need, earn = dict(self.rarity), dict(self.earns)
        hit = None
        for name, thr in self.tiers:
            if normalised >= self.sign * thr:
                req = need.get(name)
                if req is None or (return_period is not None and return_period >= req):
                    hit = name
            elif (name in earn and return_period is not None and return_period >= earn[name]
                  and normalised >= self.lowest):
                hit = name
        return hit

    def threshold(self, tier: str) -> float:
        return dict(self.tiers)[tier]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    path: Path | None = None
    version: int = 1
    _by_id: dict[str, Rule] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {r.id: r for r in self.rules})

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def enabled(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]


# ---------------------------------------------------------------------------- validation helpers
def _err(path: Path | str, where: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {msg}")


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _num(path, where: str, x: Any, *, minimum: float | None = None) -> float:
    if not _is_num(x):
        raise _err(path, where, f"must be a number, got {x!r}")
    if minimum is not None and x < minimum:
        raise _err(path, where, f"must be >= {minimum:g}, got {x!r}")
    return float(x)


def _int(path, where: str, x: Any, *, minimum: int = 0) -> int:
    if not isinstance(x, int) or isinstance(x, bool) or x < minimum:
        raise _err(path, where, f"must be an integer >= {minimum}, got {x!r}")
    return x


def _choice(path, where: str, x: Any, allowed) -> str:
    if x not in allowed:
        raise _err(path, where, f"{x!r} is not one of {list(allowed)}")
    return x


def _str_list(path, where: str, x: Any) -> tuple[str, ...]:
    if not isinstance(x, list) or not all(isinstance(v, str) and v for v in x):
        raise _err(path, where, f"must be a list of non-empty strings, got {x!r}")
    return tuple(x)


def _tiers(path, where: str, raw: Any, direction: str) -> tuple[tuple[str, float], ...]:
    if not isinstance(raw, dict) or not raw:
        raise _err(path, where, f"must be a table like {{ watch = 3.0, warning = 4.0, critical = 6.0 }}, got {raw!r}")
    for name in raw:
        if name not in TIER_RANK:
            raise _err(path, f"{where}.{name}", f"unknown tier (allowed: {list(TIERS)})")
    out = [(t, _num(path, f"{where}.{t}", raw[t])) for t in TIERS if t in raw]
    sign = -1.0 if direction in ("below", "down") else 1.0
    for (t0, v0), (t1, v1) in zip(out, out[1:]):
        if not sign * v1 > sign * v0:
            rel = "below" if sign < 0 else "above"
            raise _err(path, f"{where}.{t1}", f"{v1!r} must be strictly {rel} {t0} = {v0!r}")
    if direction in ("both",) and out[0][1] <= 0:
        raise _err(path, f"{where}.{out[0][0]}", f"a two-sided threshold must be > 0, got {out[0][1]!r}")
    return tuple(out)


def _parse_rule(path, i: int, raw: Any, defaults: dict, universe) -> Rule:
    where = f"rule[{i}]" + (f" (id={raw.get('id')!r})" if isinstance(raw, dict) and "id" in raw else "")
    if not isinstance(raw, dict):
        raise _err(path, where, "must be a table")
    for key in ("id", "type"):
        if key not in raw:
            raise _err(path, f"{where}.{key}", "missing required key")
    rid = raw["id"]
    if not isinstance(rid, str) or not _ID.match(rid):
        raise _err(path, f"{where}.id", f"{rid!r} must match {_ID.pattern}")
    rtype = _choice(path, f"{where}.type", raw["type"], RULE_TYPES)
    extra = set(raw) - _ALLOWED[rtype]
    if extra:
        raise _err(path, f"{where}.{sorted(extra)[0]}", f"unknown key for a {rtype} rule (allowed: {sorted(_ALLOWED[rtype])})")

    inherit = _DEFAULT_KEYS_ALL | (_DEFAULT_KEYS_Z if rtype == "z" else set())
    merged: dict[str, Any] = {k: v for k, v in _BUILTIN.items() if k in inherit or k == "max_skew_minutes"}
    merged.update({k: v for k, v in defaults.items() if k in inherit})
    merged.update(raw)

    def w(key: str) -> str:  # where a key's value came from: the rule, or [defaults]
        return f"{where}.{key}" if key in raw else (f"defaults.{key}" if key in defaults else f"{where}.{key}")

    if rtype != "z":
        for key in ("tiers",):
            if key not in raw:
                raise _err(path, f"{where}.{key}", f"missing required key (a {rtype} rule states thresholds in its own unit)")
    enabled = merged["enabled"]
    if not isinstance(enabled, bool):
        raise _err(path, w("enabled"), f"must be true/false, got {enabled!r}")
    label = merged.get("label", "")
    if not isinstance(label, str):
        raise _err(path, w("label"), f"must be a string, got {label!r}")
    direction = _choice(path, w("direction"), merged.get("direction", _DIRECTIONS[rtype][0]), _DIRECTIONS[rtype])
    tiers = _tiers(path, w("tiers"), merged["tiers"], direction)
    hysteresis = _num(path, w("hysteresis"), merged.get("hysteresis", 0.0), minimum=0.0)
    if direction == "both" and hysteresis >= tiers[0][1]:
        raise _err(path, w("hysteresis"), f"{hysteresis!r} must be below the lowest threshold {tiers[0][1]!r}")
    pending_for = _int(path, w("pending_for"), merged["pending_for"])
    keep = _int(path, w("keep_firing_for"), merged["keep_firing_for"])
    notify_on = _str_list(path, w("notify_on"), merged["notify_on"]) if merged["notify_on"] != [] else ()
    for k in notify_on:
        if k not in EVENT_KINDS:
            raise _err(path, w("notify_on"), f"{k!r} is not an event kind (allowed: {list(EVENT_KINDS)})")
    kind = _choice(path, w("kind"), merged["kind"], KINDS)
    horizon = _int(path, w("horizon"), merged["horizon"], minimum=1)
    if kind == "intraday" and horizon != 1:
        raise _err(path, w("horizon"), f"intraday moves are cumulative since the previous close: horizon must be 1, got {horizon!r}")

    kw: dict[str, Any] = dict(id=rid, type=rtype, tiers=tiers, label=label, enabled=enabled, direction=direction,
                              hysteresis=hysteresis, pending_for=pending_for, keep_firing_for=keep,
                              notify_on=frozenset(notify_on), kind=kind, horizon=horizon)
    known_groups = {s.group for s in universe} if universe is not None else None

    def check_series(key: str, ids: tuple[str, ...]) -> None:
        if universe is None:
            return
        for j, sid in enumerate(ids):
            if sid not in universe:
                raise _err(path, f"{w(key)}[{j}]" if rtype not in ("level", "intervention") else w(key),
                           f"unknown series id {sid!r} (not in {universe.path})")

    def check_groups(key: str, groups: tuple[str, ...]) -> None:
        if known_groups is None:
            return
        for j, g in enumerate(groups):
            if g not in known_groups:
                raise _err(path, f"{w(key)}[{j}]", f"unknown group {g!r} (groups in {universe.path}: {sorted(known_groups)})")

    if rtype == "z":
        groups = _str_list(path, w("groups"), merged["groups"]) if "groups" in merged else ()
        series = _str_list(path, w("series"), merged["series"]) if "series" in merged else ()
        if not groups and not series:
            raise _err(path, where, "a z rule needs `groups` or `series`")
        check_groups("groups", groups)
        check_series("series", series)
        est = _choice(path, w("estimator"), merged["estimator"], ESTIMATORS)
        guard = merged.get("guard_tier")
        if guard in ("", "none"):
            guard = None
        if guard is not None:
            _choice(path, w("guard_tier"), guard, TIERS)
        confirm_groups = _str_list(path, w("confirm_groups"), merged["confirm_groups"]) if "confirm_groups" in merged else groups
        check_groups("confirm_groups", confirm_groups)
        cw = _num(path, w("confirm_window_minutes"), merged["confirm_window_minutes"], minimum=0.0)
        if merged.get("rarity_years") is not None:
            ry = merged["rarity_years"]
            if not isinstance(ry, dict) or not ry:
                raise _err(path, w("rarity_years"), f"must be a table like {{ warning = 1.0, critical = 5.0 }}, got {ry!r}")
            for name, val in ry.items():
                if name not in dict(tiers):
                    raise _err(path, f"{w('rarity_years')}.{name}", f"no such tier in this rule's tiers {[t for t, _ in tiers]}")
                _num(path, f"{w('rarity_years')}.{name}", val, minimum=0.0)
            kw["rarity"] = tuple((t, float(ry[t])) for t in TIERS if t in ry)
        if merged.get("rarity_earns") is not None:
            re_ = merged["rarity_earns"]
            if not isinstance(re_, dict) or not re_:
                raise _err(path, w("rarity_earns"), f"must be a table like {{ critical = 20.0 }}, got {re_!r}")
            for name, val in re_.items():
                if name not in dict(tiers):
                    raise _err(path, f"{w('rarity_earns')}.{name}", f"no such tier in this rule's tiers {[t for t, _ in tiers]}")
                _num(path, f"{w('rarity_earns')}.{name}", val, minimum=0.0)
            kw["earns"] = tuple((t, float(re_[t])) for t in TIERS if t in re_)
        kw.update(groups=groups, series=series, estimator=est, guard_tier=guard, confirm_groups=confirm_groups,
                  confirm_window_minutes=cw)
    elif rtype == "level":
        sid = merged.get("series")
        if not isinstance(sid, str) or not sid:
            raise _err(path, w("series"), f"a level rule names one series id, got {sid!r}")
        check_series("series", (sid,))
        kw.update(series=(sid,))
    elif rtype == "intervention":
        sid = merged.get("series")
        if not isinstance(sid, str) or not sid:
            raise _err(path, w("series"), f"an intervention rule names one FX series id, got {sid!r}")
        check_series("series", (sid,))
        if universe is not None and universe.get(sid).kind != "fx":
            raise _err(path, w("series"), f"{sid!r} is a {universe.get(sid).kind} series; the detector reads FX")
        if kind == "daily":
            legs = []
            for key in ("high", "low"):
                v = merged.get(key)
                if not isinstance(v, str) or not v:
                    raise _err(path, w(key), f"a daily intervention rule names the series of the day's {key}, got {v!r}")
                check_series(key, (v,))
                want = key.capitalize()
                if universe is not None and universe.get(v).field != want:
                    raise _err(path, w(key), f"{v!r} holds the bar's {universe.get(v).field}, not its {want}")
                legs.append(v)
            kw.update(range_legs=(legs[0], legs[1]))
        elif "high" in raw or "low" in raw:
            raise _err(path, w("high" if "high" in raw else "low"), "an intraday intervention rule reads bars, not High/Low")
        hours = _num(path, w("hours"), merged.get("hours", 4.0), minimum=0.25)
        if hours > 24:
            raise _err(path, w("hours"), f"{hours!r} must be at most 24 (a move within hours)")
        kw.update(series=(sid,), hours=hours)
    elif rtype == "signal":
        kinds = _str_list(path, w("signals"), merged.get("signals", []))
        if not kinds:
            raise _err(path, w("signals"), f"a signal rule lists signal kinds (one of {list(SIGNAL_KINDS)})")
        for j, k in enumerate(kinds):
            if k not in SIGNAL_KINDS:
                raise _err(path, f"{w('signals')}[{j}]", f"{k!r} is not a signal kind (allowed: {list(SIGNAL_KINDS)})")
        kw.update(signals=kinds)
    else:
        legs = merged.get("legs")
        if not isinstance(legs, list) or len(legs) != 2 or not all(isinstance(x, str) and x for x in legs) or legs[0] == legs[1]:
            raise _err(path, w("legs"), f"must be two different series ids [a, b] (spread = a − b), got {legs!r}")
        check_series("legs", tuple(legs))
        if universe is not None:
            for j, sid in enumerate(legs):
                if universe.get(sid).unit != "bp":
                    raise _err(path, f"{w('legs')}[{j}]", f"{sid!r} changes in {universe.get(sid).unit}; a spread needs two yields (bp)")
        skew = _num(path, w("max_skew_minutes"), merged.get("max_skew_minutes", 15.0), minimum=0.0)
        kw.update(legs=(legs[0], legs[1]), max_skew_minutes=skew)
    return Rule(**kw)


def parse_rules(raw: dict, path: Path | str = "<rules>", universe=None) -> RuleSet:
    """Validate an already-parsed rules document; `universe` (optional) checks ids and groups."""
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _err(path, "version", f"must be a positive integer, got {version!r}")
    # [[route]] and [notifications] are the notification routes' (alerts/routes.py validates them).
    extra = set(raw) - {"version", "defaults", "rule", "route", "notifications"}
    if extra:
        raise _err(path, sorted(extra)[0], "unknown top-level key (allowed: version, [defaults], [[rule]], "
                                           "[notifications], [[route]])")
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        raise _err(path, "defaults", "must be a table")
    bad = set(defaults) - _DEFAULT_KEYS_ALL - _DEFAULT_KEYS_Z
    if bad:
        raise _err(path, f"defaults.{sorted(bad)[0]}", f"unknown key (allowed: {sorted(_DEFAULT_KEYS_ALL | _DEFAULT_KEYS_Z)})")
    items = raw.get("rule", [])
    if not isinstance(items, list):
        raise _err(path, "rule", "must be an array of tables ([[rule]])")
    rules = [_parse_rule(path, i, item, defaults, universe) for i, item in enumerate(items)]
    seen: dict[str, int] = {}
    for i, r in enumerate(rules):
        if r.id in seen:
            raise _err(path, f"rule[{i}].id", f"duplicate id {r.id!r} (first at rule[{seen[r.id]}])")
        seen[r.id] = i
    return RuleSet(rules=tuple(rules), path=Path(path) if not isinstance(path, Path) else path, version=version)


def load_rules(path: str | Path | None = None, universe=None) -> RuleSet:
    """Read and validate the rules file (default `alerts.toml`); ConfigError names file, key, value."""
    p = Path(path) if path else DEFAULT_RULES
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read alert rules file: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse_rules(raw, p, universe)
