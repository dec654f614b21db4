"""One settings object: defaults < environment (CM_*) < command line, validated with clear errors.

Every error names the key and the offending value — the name the user set it under (the
environment variable or the command-line option), e.g.
    CM_PORT='http': must be an integer between 1 and 65535
    --port=99999: must be an integer between 1 and 65535
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from errors import ConfigError
from universe import SOURCE_INFO

__all__ = ["Settings", "load_settings", "parse_allowed_hosts", "MODES", "LOG_LEVELS", "LOOPBACK_NAMES"]

ROOT = Path(__file__).resolve().parent
MODES = ("live", "demo", "replay")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
REPLAY_EVERY = 2.0    # s between replay cycles (the replay clock decides what each cycle releases)
# Host names that always reach this process (with any port): the browser on this machine.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
INGEST_TOKEN_MIN = 16       # characters of CM_INGEST_TOKEN: a guessable token is no lock
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# The names a setting can be given under: errors name the one the user actually set.
ENV_KEYS = {"mode": "CM_MODE", "db_url": "CM_DB_URL", "host": "CM_HOST", "port": "CM_PORT", "debug": "CM_DEBUG",
            "replay_dir": "CM_REPLAY_DIR", "replay_start": "CM_REPLAY_START", "replay_speed": "CM_REPLAY_SPEED",
            "replay_until": "CM_REPLAY_UNTIL", "log_level": "CM_LOG_LEVEL"}
CLI_FLAGS = {"mode": "--demo/--replay", "db_url": "--db", "host": "--host", "port": "--port", "debug": "--debug",
             "replay_dir": "--replay", "replay_start": "--start", "replay_speed": "--speed",
             "replay_until": "--until", "log_level": "--log-level"}


@dataclass(frozen=True)
class Settings:
    mode: str = "live"
    db_url: str | None = None            # None → SQLite file under data_dir (one per mode)
    data_dir: Path = ROOT / "var"
    universe: Path = ROOT / "universe.toml"
    host: str = "127.0.0.1"
    port: int = 8050
    threads: int = 8                     # waitress worker threads
    connections: int = 4000              # waitress connection limit (a wall screen keeps up to 2 sockets)
    debug: bool = False                  # Dash debug = Werkzeug console: never on unless asked
    # Collector cadences (seconds) and network behaviour.
    yahoo_every: float = 60.0
    cnbc_every: float = 60.0             # CNBC's quote service (intraday JGB yields): one batched call
    daily_every: float = 1200.0          # MOF / Treasury / FRED: a few times an hour
    http_timeout: float = 20.0
    # The declared rarity base: rarity counts moves since this date, the same in live, replay and
    # backtest; the collector backfills daily history from two years before it (σ warm-up).
    rarity_base: dt.date = dt.date(2000, 1, 1)
    intraday_days: int = 60              # intraday bars kept in the store (daily closes: forever)
    yahoo_interval: str = "1m"
    shutdown_grace: float = 10.0         # s a stopping collector waits for its write / cycle in flight
    # Replay.
    replay_dir: Path | None = None
    replay_start: dt.date | None = None
    replay_speed: float = 3600.0
    replay_until: dt.date | None = None  # the replay clock stops at the end of this day (UTC)
    # Alerts.
    alert_rules: Path = ROOT / "alerts.toml"
    alert_webhook: str | None = field(default=None, repr=False)  # may embed a token: never logged
    # Web.
    refresh_ms: int = 5000
    auth_user: str | None = None
    auth_password: str | None = field(default=None, repr=False)
    auth_token: str | None = field(default=None, repr=False)
    # The operator (acknowledge, silence): HTTP basic auth, a role apart from the share link.
    operator_user: str | None = None
    operator_password: str | None = field(default=None, repr=False)
    # Host names (besides loopback) the dashboard answers to: CM_ALLOWED_HOSTS.
    allowed_hosts: tuple[str, ...] = ()
    max_body: int = 1 << 20              # bytes: larger request bodies are refused with 413
    # The push feed (data/ingest.py): off unless a port is set; a Bearer token is required.
    ingest_port: int | None = None
    ingest_host: str = "127.0.0.1"
    ingest_token: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    log_file: Path | None = None         # None → CM_DATA_DIR/logs/contagion.log (rotated)
    log_to_file: bool = True
    # Setting → the name it was given under ("CM_HOST", "--host"); see `key`.
    given: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def key(self, name: str) -> str:
        """The name the user set `name` under (CM_HOST or --host), else both names."""
        if name in self.given:
            return self.given[name]
        both = [k for k in (CLI_FLAGS.get(name), ENV_KEYS.get(name)) if k]
        return "/".join(both) or name

    def _named(self, name: str, value=None) -> str:
        """`key=value` for an error message, e.g. CM_HOST='0.0.0.0' or --port=99999."""
        value = getattr(self, name) if value is None else value
        if isinstance(value, (Path, dt.date)):
            value = str(value)
        return f"{self.key(name)}={value!r}"

    @property
    def replay_cut(self) -> dt.datetime | None:
        """Where the replay clock stops: the last microsecond of --until, UTC (None: never)."""
        if self.replay_until is None:
            return None
        return dt.datetime.combine(self.replay_until, dt.time.max, tzinfo=dt.timezone.utc)

    def replay_key(self) -> str:
        """8 hex digits naming one replay: resolved directory, start, until and speed. Replays
        that differ in any of them never share a default store (nor its clock)."""
        ident = "|".join([str(Path(self.replay_dir).resolve()) if self.replay_dir else "",
                          str(self.replay_start or ""), str(self.replay_until or ""), f"{self.replay_speed:g}"])
        return hashlib.blake2b(ident.encode(), digest_size=4).hexdigest()

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def auth_enabled(self) -> bool:
        """Any credential configured: then every request (but /healthz) must present one."""
        return bool(self.auth_token or (self.auth_user and self.auth_password)
                    or (self.operator_user and self.operator_password))

    def resolved_log_file(self) -> Path | None:
        if not self.log_to_file:
            return None
        return self.log_file or (self.data_dir / "logs" / "contagion.log")

    @property
    def history_start(self) -> dt.date:
        """Daily history the collector backfills and the statistics read: base − 2 years."""
        b = self.rarity_base
        return b.replace(year=b.year - 2) if not (b.month == 2 and b.day == 29) else dt.date(b.year - 2, 2, 28)

    @property
    def backfill_years(self) -> int:
        """Whole calendar years from the history start to today (what year-based sources fetch)."""
        return dt.date.today().year - self.history_start.year + 1

    def cadences(self) -> dict[str, float]:
        """Seconds between collector cycles per source (the web also uses them to judge staleness)."""
        return {n: REPLAY_EVERY if i.every is None else float(getattr(self, i.every))
                for n, i in SOURCE_INFO.items() if i.mode == self.mode and i.scheduled}

    def resolved_db_url(self) -> str:
        """The store URL; by default one SQLite file per mode so demo data never mixes with live,
        and one per replay (replay-<start>-<replay_key>.db) so two replays never share a clock."""
        if self.db_url:
            return self.db_url
        if self.mode == "replay":
            name = f"replay-{self.replay_start or 'nostart'}-{self.replay_key()}.db"
        else:
            name = {"live": "contagion.db", "demo": "demo.db"}[self.mode]
        return f"sqlite:///{(self.data_dir / name).resolve()}"

    def validate(self) -> "Settings":
        k = self.key
        if self.mode not in MODES:
            raise ConfigError(f"{self._named('mode')}: must be one of {', '.join(MODES)}")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"{self._named('port')}: must be an integer between 1 and 65535")
        if self.mode == "replay":
            why = f"{self._named('mode', 'replay')}" if self.key("mode") == "CM_MODE" else "--replay"
            if self.replay_dir is None:
                raise ConfigError(f"{why}: a directory of history files is required in replay mode "
                                  "(--replay DIR or CM_REPLAY_DIR)")
            if not Path(self.replay_dir).is_dir():
                raise ConfigError(f"{self._named('replay_dir')}: not a directory")
            if self.replay_start is None:
                raise ConfigError(f"{k('replay_start')}: a start date (YYYY-MM-DD) is required with {why}")
            if self.replay_until is not None and self.replay_until < self.replay_start:
                raise ConfigError(f"{self._named('replay_until')}: must not be before "
                                  f"{self._named('replay_start')}")
        if not self.replay_speed > 0:
            raise ConfigError(f"{self._named('replay_speed')}: must be > 0")
        if not Path(self.alert_rules).is_file():
            raise ConfigError(f"CM_ALERT_RULES={str(self.alert_rules)!r}: file not found")
        if self.alert_webhook and not self.alert_webhook.startswith(("https://", "http://")):
            raise ConfigError("CM_ALERT_WEBHOOK: must be an http(s) URL (value not shown: it may hold a token)")
        if not Path(self.universe).is_file():
            raise ConfigError(f"CM_UNIVERSE={str(self.universe)!r}: file not found")
        if self.db_url and not self.db_url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            # Not the whole URL: it may hold a password.
            raise ConfigError(f"{k('db_url')}: unsupported database URL scheme in {self.db_url.split(':', 1)[0]!r}: "
                              "use sqlite:///path or postgresql+psycopg://user@host/db")
        if self.debug and not self.is_loopback:
            # Whatever the credentials: the Werkzeug console answers before any auth check.
            raise ConfigError(f"{k('debug')} with {self._named('host')}: debug mode serves the Werkzeug "
                              "console (remote code execution); debug only on 127.0.0.1")
        for key, value in (("CM_AUTH_USER/CM_AUTH_PASSWORD", (self.auth_user, self.auth_password)),
                           ("CM_OPERATOR_USER/CM_OPERATOR_PASSWORD", (self.operator_user, self.operator_password))):
            if bool(value[0]) != bool(value[1]):
                raise ConfigError(f"{key}: set both or neither (user {value[0]!r}; password not shown)")
        if self.auth_user and self.auth_user == self.operator_user:
            raise ConfigError(f"CM_OPERATOR_USER={self.operator_user!r}: must differ from CM_AUTH_USER "
                              "(the read-only user)")
        for key, name in (("CM_AUTH_USER", self.auth_user), ("CM_OPERATOR_USER", self.operator_user)):
            if name and (":" in name or not name.isprintable()):
                raise ConfigError(f"{key}={name!r}: a user name cannot hold ':' or control characters")
        if not self.is_loopback and not self.auth_enabled:
            raise ConfigError(
                f"{self._named('host')} exposes the dashboard beyond this machine: set CM_AUTH_TOKEN or "
                "CM_AUTH_USER and CM_AUTH_PASSWORD (or bind 127.0.0.1)")
        if self.allowed_hosts and not self.auth_enabled:
            raise ConfigError(
                f"CM_ALLOWED_HOSTS={','.join(self.allowed_hosts)!r} serves the dashboard under a name other than "
                "localhost (a proxy, another machine): set CM_AUTH_TOKEN or CM_AUTH_USER and CM_AUTH_PASSWORD, "
                "and CM_OPERATOR_USER and CM_OPERATOR_PASSWORD for operator actions")
        if self.ingest_token is not None and len(self.ingest_token) < INGEST_TOKEN_MIN:
            raise ConfigError(f"CM_INGEST_TOKEN: at least {INGEST_TOKEN_MIN} characters "
                              f"(it has {len(self.ingest_token)}; value not shown)")
        if self.ingest_port is not None:
            if self.mode == "demo":
                # Replay takes it: a drill posts a recorded path on the replay's clock (bench/).
                raise ConfigError(f"CM_INGEST_PORT={self.ingest_port!r}: the push feed posts real data, and the "
                                  f"demo store holds SIMULATED data only (unset one of them)")
            if not self.ingest_token:
                raise ConfigError(f"CM_INGEST_PORT={self.ingest_port!r}: the push feed needs CM_INGEST_TOKEN "
                                  "(a Bearer token its clients send)")
            if self.ingest_port == self.port and self.ingest_host in (self.host, "0.0.0.0", "::"):
                raise ConfigError(f"CM_INGEST_PORT={self.ingest_port!r}: the dashboard listens on it "
                                  f"({self._named('port')})")
            try:
                ipaddress.ip_address(self.ingest_host)
            except ValueError:
                if self.ingest_host != "localhost":
                    raise ConfigError(f"CM_INGEST_HOST={self.ingest_host!r}: an IP address to listen on "
                                      "(127.0.0.1, or 0.0.0.0 for every interface)") from None
        if str(self.log_level).upper() not in LOG_LEVELS:
            raise ConfigError(f"{self._named('log_level')}: must be one of {' '.join(LOG_LEVELS)}")
        if self.yahoo_interval not in ("1m", "2m", "5m", "15m", "30m", "60m"):
            raise ConfigError(f"CM_YAHOO_INTERVAL={self.yahoo_interval!r}: must be one of 1m 2m 5m 15m 30m 60m")
        return self

    def with_overrides(self, *, names: Mapping[str, str] | None = None, **kw) -> "Settings":
        """These values on top (None: keep), validated; `names` says what each was given as
        (default: its command-line option), so errors name what the user typed."""
        kw = {k: v for k, v in kw.items() if v is not None}
        given = {**self.given, **{k: (names or {}).get(k) or CLI_FLAGS.get(k, k) for k in kw}}
        return replace(self, **kw, given=given).validate()


def _number(env: Mapping[str, str], key: str, default, lo, hi, cast=float):
    """A number from the environment within [lo, hi]; the error names the key and the value."""
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    kind = "an integer" if cast is int else "a number"
    try:
        val = cast(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r}: must be {kind} between {lo:g} and {hi:g}") from None
    if not lo <= val <= hi:
        raise ConfigError(f"{key}={raw!r}: must be {kind} between {lo:g} and {hi:g}")
    return val


def _int(env: Mapping[str, str], key: str, default: int, lo: int, hi: int) -> int:
    return _number(env, key, default, lo, hi, int)


def _float(env: Mapping[str, str], key: str, default: float, lo: float, hi: float) -> float:
    return _number(env, key, default, lo, hi, float)


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key}={raw!r}: must be true or false")


def _date(env: Mapping[str, str], key: str, default: dt.date | None, *, bounded: bool = True) -> dt.date | None:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        d = dt.date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r}: must be a date YYYY-MM-DD") from None
    if bounded and not dt.date(1960, 1, 1) <= d <= dt.date.today():
        raise ConfigError(f"{key}={raw!r}: must lie between 1960-01-01 and today")
    return d


def _host_entry(raw: str) -> str | None:
    """One CM_ALLOWED_HOSTS entry, normalised (lower case, IPv6 without brackets), or None if
    it is not a bare host name / IP address (a leading dot allows every subdomain)."""
    h = raw.strip().lower()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    try:
        return str(ipaddress.ip_address(h))
    except ValueError:
        pass
    name = h[1:] if h.startswith(".") else h
    labels = name.rstrip(".").split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(x) for x in labels):
        return None
    return h


def parse_allowed_hosts(raw: str | None, key: str = "CM_ALLOWED_HOSTS") -> tuple[str, ...]:
    """'monitor.example.com, .desk.example.com, 10.0.0.5' → normalised names; errors name key and value."""
    if not raw or not raw.strip():
        return ()
    out = []
    for part in raw.split(","):
        if not part.strip():
            continue
        host = _host_entry(part)
        if host is None:
            raise ConfigError(f"{key}={raw!r}: {part.strip()!r} is not a host name or IP address "
                              "(write e.g. monitor.example.com or .example.com — no scheme, port, path or '*')")
        out.append(host)
    return tuple(dict.fromkeys(out))


def load_settings(env: Mapping[str, str] | None = None, *, validate: bool = True) -> Settings:
    """Settings from the environment (CM_* variables); the CLI layers overrides on top
    (`validate=False`: checked once, after the overrides, so an option can fix a variable)."""
    env = os.environ if env is None else env
    s = Settings(
        mode=env.get("CM_MODE", "live") or "live",
        db_url=env.get("CM_DB_URL") or None,
        data_dir=Path(env.get("CM_DATA_DIR") or Settings.data_dir),
        universe=Path(env.get("CM_UNIVERSE") or Settings.universe),
        host=env.get("CM_HOST") or "127.0.0.1",
        port=_int(env, "CM_PORT", 8050, 1, 65535),
        threads=_int(env, "CM_THREADS", 8, 1, 256),
        connections=_int(env, "CM_CONNECTIONS", 4000, 10, 100000),
        debug=_bool(env, "CM_DEBUG", False),
        yahoo_every=_float(env, "CM_YAHOO_EVERY", 60.0, 5.0, 86400.0),
        cnbc_every=_float(env, "CM_CNBC_EVERY", 60.0, 15.0, 86400.0),
        daily_every=_float(env, "CM_DAILY_EVERY", 1200.0, 60.0, 86400.0),
        http_timeout=_float(env, "CM_HTTP_TIMEOUT", 20.0, 1.0, 300.0),
        rarity_base=_date(env, "CM_RARITY_BASE", dt.date(2000, 1, 1)),
        # ≥ 42: the analytics read 42 days of bars (analytics.intraday.BAR_HISTORY).
        intraday_days=_int(env, "CM_INTRADAY_DAYS", 60, 42, 3650),
        yahoo_interval=env.get("CM_YAHOO_INTERVAL") or "1m",
        shutdown_grace=_float(env, "CM_SHUTDOWN_GRACE", 10.0, 0.0, 300.0),
        refresh_ms=_int(env, "CM_REFRESH_MS", 5000, 1000, 600000),
        alert_rules=Path(env.get("CM_ALERT_RULES") or Settings.alert_rules),
        alert_webhook=env.get("CM_ALERT_WEBHOOK") or None,
        auth_user=env.get("CM_AUTH_USER") or None,
        auth_password=env.get("CM_AUTH_PASSWORD") or None,
        auth_token=env.get("CM_AUTH_TOKEN") or None,
        operator_user=env.get("CM_OPERATOR_USER") or None,
        operator_password=env.get("CM_OPERATOR_PASSWORD") or None,
        allowed_hosts=parse_allowed_hosts(env.get("CM_ALLOWED_HOSTS")),
        max_body=_int(env, "CM_MAX_BODY", 1 << 20, 64 << 10, 64 << 20),
        ingest_port=_int(env, "CM_INGEST_PORT", None, 1, 65535),
        ingest_host=env.get("CM_INGEST_HOST") or "127.0.0.1",
        ingest_token=env.get("CM_INGEST_TOKEN") or None,
        log_level=env.get("CM_LOG_LEVEL") or "INFO",
        log_file=Path(env["CM_LOG_FILE"]) if env.get("CM_LOG_FILE") and env["CM_LOG_FILE"] != "none" else None,
        log_to_file=env.get("CM_LOG_FILE") != "none",
        # Replay without a command line (a `gunicorn app:server` web worker finds the replay's store).
        replay_dir=Path(env["CM_REPLAY_DIR"]) if env.get("CM_REPLAY_DIR") else None,
        replay_start=_date(env, "CM_REPLAY_START", None, bounded=False),
        replay_until=_date(env, "CM_REPLAY_UNTIL", None, bounded=False),
        replay_speed=_float(env, "CM_REPLAY_SPEED", 3600.0, 1e-6, 1e9),
        given={k: v for k, v in ENV_KEYS.items() if env.get(v)},
    )
    return s.validate() if validate else s
