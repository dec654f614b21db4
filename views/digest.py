"""One content fingerprint for every "send only what changed" tag (Overview, Markets, Contagion,
Alerts, Sources, the wall): blake2b over canonical JSON, the same in every web process (never the
per-process salted `hash()`), 16 hex characters — the tag travels with every refresh request."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

__all__ = ["digest", "digest_chunks"]

SIZE = 8   # bytes: 16 hex characters


def digest(obj: Any) -> str:
    """Fingerprint of a JSON-ready value (keys sorted; anything else by its str())."""
    raw = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(raw.encode(), digest_size=SIZE).hexdigest()


def digest_chunks(chunks: Iterable[bytes]) -> str:
    """Fingerprint of a stream of bytes (numeric arrays: `ndarray.tobytes()`), without joining them."""
    h = hashlib.blake2b(digest_size=SIZE)
    for c in chunks:
        h.update(c)
    return h.hexdigest()
