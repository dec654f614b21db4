"""Say what failed, not where: raw error text → a short category for everyone who may read.

Source health and store errors carry hosts, ports, URLs (some with credentials), file paths and
database names (`HTTPSConnectionPool(host='www.mof.go.jp', port=443) …`, `connection to server at
"10.0.0.5", port 5432 failed`, `No such file or directory: '/srv/…'`). `/healthz` (open without
auth), `/api/sources`, the banner, the wall and the Sources page show `public_error()` of it; the
raw text stays in the server log and, on the Sources page, for the operator.
"""
from __future__ import annotations

from errors import CATEGORIES, error_category

__all__ = ["CATEGORIES", "public_error"]

public_error = error_category
