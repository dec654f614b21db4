"""Logging: console plus a size-rotated file by default; quiet when idle; never a secret.

`python app.py` logs to stderr and to `CM_DATA_DIR/logs/contagion.log`, rotated at 10 MB with
5 old files kept (`CM_LOG_FILE` moves it, `CM_LOG_FILE=none` turns the file off), at
`CM_LOG_LEVEL` / `--log-level` (INFO). APScheduler's per-run INFO lines ("Running job …",
"Job … executed successfully": ~250 KB/h of nothing) are held to WARNING unless the level is
DEBUG. Under gunicorn the workers log to stderr, which gunicorn's error log collects (one file
per server, rotated by gunicorn's own options or the system's logrotate/journald).

A rejected request is one line (web/auth.py, web/guard.py); query strings (`?token=`),
Authorization headers and cookies are never logged.
"""
from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

__all__ = ["FORMAT", "MAX_BYTES", "BACKUPS", "setup", "setup_for_wsgi"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
QUIET = ("apscheduler",)          # loggers held to WARNING unless the level is DEBUG
_MARK = "_cm_handler"


def _ours(handler: logging.Handler) -> logging.Handler:
    setattr(handler, _MARK, True)
    handler.setFormatter(logging.Formatter(FORMAT))
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
