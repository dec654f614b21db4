"""Logging: console plus a size-rotated file by default; quiet when idle; never a secret.

`python app.py` logs to stderr and to `CM_DATA_DIR/logs/contagion.log`, rotated at 10 MB with
5 old files kept (`CM_LOG_FILE` moves it, `CM_LOG_FILE=none` turns the file off), at
`CM_LOG_LEVEL` / `--log-level` (INFO). Quiet when nothing changes (the collector logs one line
per source state change, data/collector.py):
- APScheduler's per-run INFO lines ("Running job …", "Job … executed successfully": ~250 KB/h of
  nothing) are held to WARNING, and its "skipped: maximum number of running instances reached"
  (a fast replay whose cycle outlasts its interval: harmless, the next run catches up) is a DEBUG
  line, counted in `skipped_runs()`;
- yfinance's own logger (a cookie/crumb warning and a failed-download summary every cycle while
  Yahoo is unreachable) reaches the console and file once per distinct message at WARNING or
  above; its INFO/DEBUG lines and the repeats only at DEBUG.
`--log-level DEBUG` shows all of it. Under gunicorn the workers log to stderr, which gunicorn's error log collects (one file
per server, rotated by gunicorn's own options or the system's logrotate/journald).

A rejected request is one line (web/auth.py, web/guard.py); query strings (`?token=`),
Authorization headers and cookies are never logged.
"""
from __future__ import annotations

import logging
import logging.handlers
import re
import threading
from pathlib import Path

__all__ = ["FORMAT", "MAX_BYTES", "BACKUPS", "setup", "setup_for_wsgi", "skipped_runs"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
QUIET = ("apscheduler",)          # loggers held to WARNING unless the level is DEBUG
_MARK = "_cm_handler"
_SKIPPED = "maximum number of running instances reached"
_DIGITS = re.compile(r"\d+")


class _Quiet(logging.Filter):
    """On our handlers (not on the loggers: yahoo.py reads yfinance's error lines through its own
    handler): APScheduler's skipped runs become DEBUG, yfinance says each message once."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.skipped = 0

    @staticmethod
    def _debug_on() -> bool:
        return logging.getLogger().getEffectiveLevel() <= logging.DEBUG

    def filter(self, record: logging.LogRecord) -> bool:
        # One verdict per record: the same filter sits on the console and the file handler, and
        # the second must not take the record for a repeat of itself.
        verdict = getattr(record, "_cm_quiet", None)
        if verdict is None:
            verdict = self._judge(record)
            record._cm_quiet = verdict
        return verdict

    def _judge(self, record: logging.LogRecord) -> bool:
        name = record.name
        if name.startswith("apscheduler") and _SKIPPED in str(record.msg):
            with self._lock:
                self.skipped += 1
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self._debug_on()
        if name == "yfinance" or name.startswith("yfinance."):
            if self._debug_on():
                return True
            if record.levelno < logging.WARNING:
                return False
            try:
                key = _DIGITS.sub("#", record.getMessage())[:300]   # "after 0 ms" / "after 3 ms": one message
            except Exception:
                return True
            with self._lock:
                if key in self._seen:
                    return False
                if len(self._seen) > 500:
                    self._seen.clear()
                self._seen.add(key)
            return True
        return True


_QUIET = _Quiet()


def skipped_runs() -> int:
    """Scheduled runs APScheduler skipped because the previous one still ran (since start)."""
    return _QUIET.skipped


def _ours(handler: logging.Handler) -> logging.Handler:
    setattr(handler, _MARK, True)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_QUIET)
    return handler


def setup(level: str = "INFO", log_file: Path | None = None) -> Path | None:
    """(Re)configure the root logger: console, and `log_file` rotated by size. Idempotent."""
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(h)
        h.close()
    lvl = getattr(logging, str(level).upper(), logging.INFO)
    root.setLevel(lvl)
    root.addHandler(_ours(logging.StreamHandler()))
    if log_file is not None:
        log_file = Path(log_file)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        root.addHandler(_ours(logging.handlers.RotatingFileHandler(
            log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)))
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.DEBUG if lvl <= logging.DEBUG else max(lvl, logging.WARNING))
    return log_file


def setup_for_wsgi(level: str = "INFO") -> None:
    """An app imported by a WSGI server: log to stderr at `level` unless the host already
    configured logging (a root handler of its own)."""
    root = logging.getLogger()
    if any(not getattr(h, _MARK, False) for h in root.handlers):
        return
    setup(level, None)
