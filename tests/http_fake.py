"""A requests.Session that answers GETs from a script, for the publishers' fetch steps."""
from __future__ import annotations

import requests


class FakeSession(requests.Session):
    """Answers GETs from a script: a (status, body) pair or an exception; records each call."""

    def __init__(self, answer):
        super().__init__()
        self.answer = answer
        self.calls: list[dict] = []

    def get(self, url, **kwargs):  # type: ignore[override]
        self.calls.append({"url": url, **kwargs})
        if isinstance(self.answer, Exception):
            raise self.answer
        status, body = self.answer
        resp = requests.Response()
        resp.status_code = status
        resp._content = body
        resp.url = url
        return resp
