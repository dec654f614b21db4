"""The web process's handle on its SnapshotService (set once by app.create_app)."""
from __future__ import annotations

from data.snapshot import Snapshot, SnapshotService

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
