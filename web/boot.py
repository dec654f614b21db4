"""Which server instance answers (/healthz `boot`): a wall screen that sees it change checks
whether the app's callbacks changed (a restart onto new code). One per server, not per worker:
gunicorn.conf.py sets CM_BOOT_ID in the master before it forks; a lone process makes its own."""
from __future__ import annotations

import os
import uuid

BOOT_ID = os.environ.get("CM_BOOT_ID") or uuid.uuid4().hex[:12]
