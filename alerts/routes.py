"""Notification routes as data (`[notifications]` and `[[route]]` in alerts.toml).

Alertmanager's semantics: the routes are tried in file order for each incident event; the first
one that matches takes it, and the walk stops there unless that route says `continue = true`.
No route configured → the default route: critical only, to CM_ALERT_WEBHOOK (plain JSON webhook).

A target is an Apprise URL (json://, slack://, msteams://, mailto://, pagerduty://, …) or
`env:VAR` — the URL lives in environment variable VAR, never in the file. A URL is never logged
or shown: only `mask(url)` (scheme + host, credentials replaced by ***).
"""
from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.rules import DEFAULT_RULES, TIER_RANK, TIERS
from errors import ConfigError

__all__ = ["MARKETS", "Route", "RouteSet", "load_routes", "mask", "parse_routes", "resolve_target"]

MARKETS = ("JP", "US", "FX", "cross")
_ROUTE_KEYS = {"name", "match", "targets", "group_wait", "repeat_interval", "quiet_hours", "continue", "enabled"}
_MATCH_KEYS = {"tier", "market", "group", "rule"}
_NOTIF_KEYS = {"group_wait", "repeat_interval", "quiet_hours"}
_QUIET_KEYS = {"start", "end", "tz", "allow"}


def _is_host(host: str) -> bool:
    """A real host name or address ('smtp.example.com', '127.0.0.1', 'localhost', '[::1]'), not a
    token in the host's place (Slack's 'slack://T000/B000/secret', Telegram's bot token)."""
    if host == "localhost" or ":" in host:
        return True
    labels = host.split(".")
    return len(labels) > 1 and all(lb and all(ch.isalnum() or ch == "-" for ch in lb) for lb in labels)


def mask(url: str) -> str:
    """'mailtos://***@smtp.example.com/***' → scheme and host only; never a user, password, path
    or query — and no host either when a token stands in its place (slack://***/***)."""
    if url.startswith("env:"):
        return url
    parts = urlsplit(url)
    try:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        host, port = "", ""
    if (host and not _is_host(host)) or (not host and parts.netloc.rsplit("@", 1)[-1]):
        host, port = "***", ""
    cred = "***@" if "@" in parts.netloc else ""
    rest = "/***" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme or '?'}://{cred}{host}{port}{rest}"


def resolve_target(target: str, env: dict[str, str] | None = None) -> str | None:
    """The real URL of a target (None when its environment variable is unset)."""
    env = os.environ if env is None else env
    if target.startswith("env:"):
        return env.get(target[4:]) or None
    return target


@dataclass(frozen=True)
class QuietHours:
    start: dt.time
    end: dt.time
    tz: str = "UTC"
    allow: tuple[str, ...] = ("critical",)     # tiers still delivered in quiet hours

    def quiet(self, now: dt.datetime, tier: str | None) -> bool:
        if (tier or "") in self.allow:
            return False
        t = now.astimezone(ZoneInfo(self.tz)).time()
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end   # across midnight


@dataclass(frozen=True)
class Route:
    name: str
    targets: tuple[str, ...]
    tiers: tuple[str, ...] = ("critical",)
    markets: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    group_wait: float = 30.0                  # seconds
    repeat_interval: float = 4 * 3600.0       # seconds; 0 = never re-notify
    quiet_hours: QuietHours | None = None
    cont: bool = False
    default: bool = False

    def matches(self, tier: str | None, market: str, rules: set[str] = frozenset(),
                groups: set[str] = frozenset()) -> bool:
        if (tier or "") not in self.tiers:
            return False
        if self.markets and market not in self.markets:
            return False
        if self.rules and not (set(self.rules) & set(rules)):
            return False
        if self.groups and not (set(self.groups) & set(groups)):
            return False
        return True

    def masked_targets(self) -> list[str]:
        return [mask(t) for t in self.targets]


@dataclass(frozen=True)
class RouteSet:
    routes: tuple[Route, ...]
    path: Path | str = "<routes>"

    def names(self) -> list[str]:
        return [r.name for r in self.routes]

    def get(self, name: str) -> Route:
        for r in self.routes:
            if r.name == name:
                return r
        raise KeyError(name)

    def select(self, tier: str | None, market: str, rules: set[str] = frozenset(),
               groups: set[str] = frozenset()) -> list[Route]:
        """The routes that take an event: the first match, plus the next ones while `continue`."""
        out: list[Route] = []
        for r in self.routes:
            if r.matches(tier, market, rules, groups):
                out.append(r)
                if not r.cont:
                    break
        return out


def _err(path: Path | str, where: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {msg}")


def _seconds(path, where: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise _err(path, where, f"must be a number of seconds ≥ 0, got {v!r}")
    return float(v)


def _strs(path, where: str, v: Any, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    vals = [v] if isinstance(v, str) else v
    if not isinstance(vals, list) or not vals or not all(isinstance(x, str) and x for x in vals):
        raise _err(path, where, f"must be a string or a non-empty list of strings, got {v!r}")
    if allowed is not None:
        for x in vals:
            if x not in allowed:
                raise _err(path, where, f"unknown value {x!r} (allowed: {', '.join(allowed)})")
    return tuple(vals)


def _time(path, where: str, v: Any) -> dt.time:
    try:
        h, m = str(v).split(":")
        return dt.time(int(h), int(m))
    except (ValueError, TypeError):
        raise _err(path, where, f"must be \"HH:MM\", got {v!r}") from None


def _quiet(path, where: str, v: Any) -> QuietHours:
    if not isinstance(v, dict):
        raise _err(path, where, f"must be a table {{ start = \"22:00\", end = \"07:00\", tz = \"Asia/Tokyo\" }}, got {v!r}")
    bad = set(v) - _QUIET_KEYS
    if bad:
        raise _err(path, f"{where}.{sorted(bad)[0]}", f"unknown key (allowed: {', '.join(sorted(_QUIET_KEYS))})")
    for k in ("start", "end"):
        if k not in v:
            raise _err(path, f"{where}.{k}", "missing")
    tz = v.get("tz", "UTC")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise _err(path, f"{where}.tz", f"unknown time zone {tz!r}") from None
    allow = _strs(path, f"{where}.allow", v["allow"], TIERS) if "allow" in v and v["allow"] != [] else \
        (() if v.get("allow") == [] else ("critical",))
    return QuietHours(_time(path, f"{where}.start", v["start"]), _time(path, f"{where}.end", v["end"]), str(tz), allow)


def _tiers(path, where: str, v: Any) -> tuple[str, ...]:
    """`tier = "warning"` = that tier or worse; a list = exactly those tiers."""
    if isinstance(v, str):
        if v not in TIERS:
            raise _err(path, where, f"unknown tier {v!r} (allowed: {', '.join(TIERS)})")
        return tuple(t for t in TIERS if TIER_RANK[t] >= TIER_RANK[v])
    return _strs(path, where, v, TIERS)


def default_route(webhook: str | None) -> tuple[Route, ...]:
    """Critical only, to CM_ALERT_WEBHOOK; none when that is unset."""
    if not webhook:
        return ()
    return (Route(name="default", targets=("env:CM_ALERT_WEBHOOK",), tiers=("critical",), default=True),)


def parse_routes(raw: dict, path: Path | str = "<rules>", *, webhook: str | None = None,
                 env: dict[str, str] | None = None) -> RouteSet:
    """Validate `[notifications]` and `[[route]]` of an already-parsed alerts.toml."""
    notif = raw.get("notifications", {})
    if not isinstance(notif, dict):
        raise _err(path, "notifications", "must be a table")
    bad = set(notif) - _NOTIF_KEYS
    if bad:
        raise _err(path, f"notifications.{sorted(bad)[0]}", f"unknown key (allowed: {', '.join(sorted(_NOTIF_KEYS))})")
    gw = _seconds(path, "notifications.group_wait", notif.get("group_wait", 30))
    ri = _seconds(path, "notifications.repeat_interval", notif.get("repeat_interval", 4 * 3600))
    qh = _quiet(path, "notifications.quiet_hours", notif["quiet_hours"]) if "quiet_hours" in notif else None
    items = raw.get("route", [])
    if not isinstance(items, list):
        raise _err(path, "route", "must be an array of tables ([[route]])")
    routes: list[Route] = []
    for i, item in enumerate(items):
        w = f"route[{i}]"
        if not isinstance(item, dict):
            raise _err(path, w, "must be a table")
        bad = set(item) - _ROUTE_KEYS
        if bad:
            raise _err(path, f"{w}.{sorted(bad)[0]}", f"unknown key (allowed: {', '.join(sorted(_ROUTE_KEYS))})")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _err(path, f"{w}.name", f"must be a non-empty string, got {name!r}")
        if name in [r.name for r in routes]:
            raise _err(path, f"{w}.name", f"duplicate route name {name!r}")
        if item.get("enabled", True) is False:
            continue
        match = item.get("match", {})
        if not isinstance(match, dict):
            raise _err(path, f"{w}.match", f"must be a table, got {match!r}")
        bad = set(match) - _MATCH_KEYS
        if bad:
            raise _err(path, f"{w}.match.{sorted(bad)[0]}", f"unknown key (allowed: {', '.join(sorted(_MATCH_KEYS))})")
        targets = item.get("targets")
        if not isinstance(targets, list) or not targets:
            raise _err(path, f"{w}.targets", "must be a non-empty list of Apprise URLs or \"env:VAR\"")
        for j, t in enumerate(targets):
            if not isinstance(t, str) or not (t.startswith("env:") and len(t) > 4 or "://" in t):
                # never echo a URL: it may hold a token
                raise _err(path, f"{w}.targets[{j}]", "must be an Apprise URL (scheme://…) or \"env:VAR\"")
            if not t.startswith("env:") and ("@" in urlsplit(t).netloc and ":" in urlsplit(t).netloc.split("@")[0]):
                raise _err(path, f"{w}.targets[{j}]", f"{mask(t)} carries a password: put the URL in an environment "
                                                       "variable and write \"env:VAR\"")
        cont = item.get("continue", False)
        if not isinstance(cont, bool):
            raise _err(path, f"{w}.continue", f"must be true or false, got {cont!r}")
        routes.append(Route(
            name=name, targets=tuple(targets),
            tiers=_tiers(path, f"{w}.match.tier", match["tier"]) if "tier" in match else ("critical",),
            markets=_strs(path, f"{w}.match.market", match["market"], MARKETS) if "market" in match else (),
            groups=_strs(path, f"{w}.match.group", match["group"]) if "group" in match else (),
            rules=_strs(path, f"{w}.match.rule", match["rule"]) if "rule" in match else (),
            group_wait=_seconds(path, f"{w}.group_wait", item.get("group_wait", gw)),
            repeat_interval=_seconds(path, f"{w}.repeat_interval", item.get("repeat_interval", ri)),
            quiet_hours=_quiet(path, f"{w}.quiet_hours", item["quiet_hours"]) if "quiet_hours" in item else qh,
            cont=cont))
    if not items:
        routes = list(default_route(webhook))
    return RouteSet(routes=tuple(routes), path=path)


def load_routes(path: str | Path | None = None, *, webhook: str | None = None) -> RouteSet:
    p = Path(path) if path else DEFAULT_RULES
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read alert rules file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse_routes(raw, p, webhook=webhook)
