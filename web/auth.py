"""Optional auth for links opened beyond localhost: a bearer/query token or HTTP basic auth.

Enabled when CM_AUTH_TOKEN or CM_AUTH_USER + CM_AUTH_PASSWORD are set (and required by config
when binding a non-loopback address). /healthz stays open for load balancers. A token given as
`?token=` is exchanged for an HttpOnly cookie so shared links keep working while browsing.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from flask import Flask, Response, request

COOKIE = "cm_auth"
OPEN_PATHS = ("/healthz",)


def _cookie_value(token: str) -> str:
    return hashlib.sha256(("cm-cookie:" + token).encode()).hexdigest()


def install(server: Flask, *, token: str | None, user: str | None, password: str | None) -> None:
    if not token and not (user and password):
        return

    def ok_basic() -> bool:
        header = request.headers.get("Authorization", "")
        if not (user and password and header.startswith("Basic ")):
            return False
        try:
            u, _, p = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(u, user) and hmac.compare_digest(p, password)

    def ok_token() -> tuple[bool, bool]:
        if not token:
            return False, False
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and hmac.compare_digest(header[7:], token):
            return True, False
        given = request.args.get("token")
        if given is not None and hmac.compare_digest(given, token):
            return True, True
        cookie = request.cookies.get(COOKIE)
        return bool(cookie) and hmac.compare_digest(cookie, _cookie_value(token)), False

    @server.before_request
    def _check():
        if request.path in OPEN_PATHS:
            return None
        good, set_cookie = ok_token()
        if good or ok_basic():
            request.environ["cm.set_cookie"] = set_cookie
            return None
        headers = {"WWW-Authenticate": 'Basic realm="Contagion Monitor"'} if user else {}
        return Response("authentication required\n", 401, headers)

    @server.after_request
    def _cookie(resp):
        if token and request.environ.get("cm.set_cookie"):
            resp.set_cookie(COOKIE, _cookie_value(token), httponly=True, samesite="Lax")
        return resp


def can_write() -> bool:
    """Operator actions (acknowledge, silence) only from this machine: a link opened beyond
    localhost — directly or through a proxy — is read-only."""
    from flask import request

    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    return request.remote_addr in ("127.0.0.1", "::1")
