"""The web process's handle on its SnapshotService (set once by app.create_app)."""
from __future__ import annotations

import os
import uuid

from views.snapshot import Snapshot, SnapshotService

# Which server instance answers: /healthz reports it, and a wall screen that sees it change checks
# whether the app's callbacks changed (a restart onto new code). One per server, not per worker:
# gunicorn.conf.py sets CM_BOOT_ID in the master before it forks; a lone process makes its own.
BOOT_ID = os.environ.get("CM_BOOT_ID") or uuid.uuid4().hex[:12]

_service: SnapshotService | None = None


def set_service(service: SnapshotService) -> None:
    global _service
    _service = service


def service() -> SnapshotService:
    if _service is None:
        raise RuntimeError("snapshot service not configured: build the app with app.create_app()")
    return _service


def snapshot() -> Snapshot:
    return service().current()


def store_error() -> str | None:
    """The store's state for screens and JSON: a category ("store unreachable"), never the raw
    error (which names the database host, port or file; it is in the server log)."""
    from web.redact import public_error

    return public_error(service().error)
