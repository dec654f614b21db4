"""Dash moves the callbacks registered with `dash.callback` (module level, callbacks/*.py) into
the FIRST app that serves a request, and no later app gets them. Tests that post callbacks over
HTTP to their own app need them back: `own_callbacks()` restores the registry as it stood at
collection, before any app served."""
from __future__ import annotations

import dash._callback as _registry

import callbacks.alerts  # noqa: F401  (importing a page's module registers its callbacks)
import callbacks.contagion  # noqa: F401
import callbacks.markets  # noqa: F401
import callbacks.overview  # noqa: F401
import callbacks.series  # noqa: F401
import callbacks.shell  # noqa: F401
import callbacks.sources  # noqa: F401
import callbacks.wall  # noqa: F401

_MAP = dict(_registry.GLOBAL_CALLBACK_MAP)
_LIST = list(_registry.GLOBAL_CALLBACK_LIST)


def own_callbacks() -> None:
    """Call before building an app that must serve the page callbacks over HTTP."""
    _registry.GLOBAL_CALLBACK_MAP.clear()
    _registry.GLOBAL_CALLBACK_MAP.update(_MAP)
    _registry.GLOBAL_CALLBACK_LIST[:] = _LIST
