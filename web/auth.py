"""Who may read and who may act (docs/SECURITY.md has the threat model).

`install()` runs from `app.create_app`, so the rules hold for every way of serving (`python
app.py`, `gunicorn app:server`, any WSGI server importing `app:server`). One before_request hook
checks, in this order:

1. Host: loopback names (localhost, 127.0.0.1, [::1], any port) or `CM_ALLOWED_HOSTS`, else 400 —
   a DNS-rebinding page (Host: attacker.example) can neither read nor act;
2. body size: a declared Content-Length above `CM_MAX_BODY` is 413 before anything is read;
3. no credential configured (the single local user, `python app.py`): this machine only — a
   request from another address, or one a proxy forwarded (X-Forwarded-For, Forwarded,
   X-Real-IP, X-Forwarded-Host), is 403. The local user is the operator;
4. credentials configured: every request but /healthz authenticates, else 401 —
   viewer: the share-link token (`CM_AUTH_TOKEN`: `?token=` once, then a cookie, or
   `Authorization: Bearer`) or HTTP basic `CM_AUTH_USER`/`CM_AUTH_PASSWORD`;
   operator: HTTP basic `CM_OPERATOR_USER`/`CM_OPERATOR_PASSWORD` (`/login` asks for it);
5. a POST whose Origin is not this Host is 403 (cross-site).

Every answer forbids framing by other sites (X-Frame-Options, CSP frame-ancestors: no
clickjacking of the operator's buttons) and sends Referer only to this site (a `?token=` link
does not leak).

An operator action (acknowledge, silence) also needs `write_refusal(csrf) is None`: the operator
role, an Origin (or Referer) naming this Host, and the page's CSRF token — a double-submit
token: the `cm_csrf` cookie (HttpOnly, SameSite=Strict) against the copy the layout embedded,
sent back as a callback State. Credentials are compared as UTF-8 bytes in constant time; a
secret is never logged. Every refusal logs one line.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, has_request_context, redirect, request

from config import LOOPBACK_NAMES, Settings

__all__ = ["COOKIE", "CSRF_COOKIE", "Principal", "can_write", "csrf_token", "current", "host_allowed",
           "install", "is_local_request", "operator_login", "read_only_reason", "request_peer", "write_refusal"]

log = logging.getLogger("contagion.web")

COOKIE = "cm_auth"
CSRF_COOKIE = "cm_csrf"
OPEN_PATHS = ("/healthz",)
REALM = 'Basic realm="Contagion Monitor", charset="UTF-8"'
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host")
_CSRF = re.compile(r"^[A-Za-z0-9_-]{43}$")       # secrets.token_urlsafe(32)
_PORT = re.compile(r"^[0-9]{0,5}$")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a role and a name — never the secret."""

    role: str                  # "viewer" | "operator"
    name: str                  # user name, "share link" or "local"

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @property
    def label(self) -> str:
        """What the alert tables record as the actor."""
        return "local operator" if self.name == "local" else f"{self.name} ({self.role})"


LOCAL = Principal("operator", "local")


@dataclass(frozen=True)
class _Config:
    token: bytes | None
    viewer: tuple[str, bytes, bytes] | None        # (name, user bytes, password bytes)
    operator: tuple[str, bytes, bytes] | None
    allowed_hosts: tuple[str, ...]
    max_body: int

    @property
    def credentials(self) -> bool:
        return bool(self.token or self.viewer or self.operator)


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")


def _wsgi_bytes(s: str) -> bytes:
    """A header value as the bytes the client sent (WSGI decodes headers as latin-1)."""
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return _utf8(s)


def _eq(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _cookie_value(token: bytes) -> bytes:
    return hashlib.sha256(b"cm-cookie:" + token).hexdigest().encode()


# ------------------------------------------------------------------------------------ hosts
def _host_name(header: str | None) -> str | None:
    """'Example.com:8050' → 'example.com', '[::1]:8050' → '::1'; None when malformed."""
    if not header or len(header) > 300:
        return None
    h = header.strip().lower()
    if h.startswith("["):
        name, sep, rest = h[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and _PORT.match(rest[1:]))):
            return None
    elif h.count(":") == 1:
        name, _, port = h.partition(":")
        if not _PORT.match(port):
            return None
    else:
        name = h                       # a bare name, or a bare IPv6 literal such as ::1
    name = name.rstrip(".")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name if name and all(c.isalnum() or c in "-._" for c in name) else None


def host_allowed(header: str | None, allowed: tuple[str, ...] = ()) -> bool:
    """Is a Host header one of this dashboard's names? Loopback always; `allowed` entries
    exactly, or any subdomain for an entry with a leading dot."""
    name = _host_name(header)
    if name is None:
        return False
    if name in LOOPBACK_NAMES:
        return True
    try:
        if ipaddress.ip_address(name).is_loopback:
            return True
    except ValueError:
        pass
    for entry in allowed:
        if name == entry or (entry.startswith(".") and (name == entry[1:] or name.endswith(entry))):
            return True
    return False


def _loopback_addr(addr: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(addr or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def is_local_request() -> bool:
    """From this machine and not forwarded by a proxy (which would stand for someone else)."""
    if any(request.headers.get(h) for h in FORWARDING_HEADERS):
        return False
    return _loopback_addr(request.remote_addr)


def request_peer() -> str:
    """The socket address, and the forwarded-for chain if a proxy named one (for log lines)."""
    fwd = request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded")
    return f"{request.remote_addr} (for {fwd[:100]!r})" if fwd else str(request.remote_addr)


def _same_origin(*, required: bool) -> bool:
    """Origin (or, without it, Referer) names the Host this request was sent to."""
    src = request.headers.get("Origin") or (request.headers.get("Referer") if required else None)
    if src is None:
        return not required
    try:
        netloc = urlsplit(src).netloc.lower()
    except ValueError:
        return False
    return bool(netloc) and netloc == (request.headers.get("Host") or "").lower()


# ------------------------------------------------------------------------------------ who
def _basic(cfg: _Config, header: str) -> Principal | None:
    try:
        raw = base64.b64decode(header.strip(), validate=True)
    except ValueError:
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    for role, cred in (("operator", cfg.operator), ("viewer", cfg.viewer)):
        # Both halves compared every time (no early exit on the user name).
        if cred is not None and (_eq(user, cred[1]) & _eq(password, cred[2])):
            return Principal(role, cred[0])
    return None


def _authenticate(cfg: _Config) -> tuple[Principal | None, bool]:
    """(principal, whether to set the share-link cookie)."""
    scheme, _, rest = request.headers.get("Authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme == "basic" and (cfg.viewer or cfg.operator):
        p = _basic(cfg, rest)
        if p is not None:
            return p, False
    if cfg.token:
        if scheme == "bearer" and _eq(_wsgi_bytes(rest.strip()), cfg.token):
            return Principal("viewer", "share link"), False
        given = request.args.get("token")
        if given is not None and _eq(_utf8(given), cfg.token):
            return Principal("viewer", "share link"), True
        cookie = request.cookies.get(COOKIE)
        if cookie and _eq(_utf8(cookie), _cookie_value(cfg.token)):
            return Principal("viewer", "share link"), False
    return None, False


def _config() -> _Config | None:
    return current_app.extensions.get("cm_auth") if has_request_context() else None


def _principal(cfg: _Config) -> Principal | None:
    if not cfg.credentials:
        return LOCAL if is_local_request() else None
    return _authenticate(cfg)[0]


def current() -> Principal | None:
    """Who sent the current request (None: nobody authenticated, or outside a request)."""
    cfg = _config()
    if cfg is None:
        return None
    if "cm_principal" not in g:
        g.cm_principal = _principal(cfg)
    return g.cm_principal


def can_write() -> bool:
    """May the current requester act as operator (the buttons' state)? The write itself also
    needs `write_refusal()` to pass (Origin and CSRF token)."""
    p = current()
    return p is not None and p.is_operator


def operator_login() -> bool:
    """Is an operator login configured (so a viewer can sign in at /login)?"""
    cfg = _config()
    return cfg is not None and cfg.operator is not None


def read_only_reason() -> str:
    cfg = _config()
    if cfg is not None and cfg.operator:
        return "read-only: acknowledge and silence need the operator login (/login)"
    if cfg is not None and cfg.credentials:
        return "read-only: no operator login is configured (CM_OPERATOR_USER)"
    return "read-only link: acknowledge and silence only from the monitor's own machine (localhost)"


def csrf_token() -> str | None:
    """This browser's CSRF token (the cm_csrf cookie, issued with this response when missing)."""
    if not has_request_context():
        return None
    cookie = request.cookies.get(CSRF_COOKIE)
    if cookie and _CSRF.match(cookie):
        return cookie
    if "cm_new_csrf" not in g:
        g.cm_new_csrf = secrets.token_urlsafe(32)
    return g.cm_new_csrf


def write_refusal(csrf) -> str | None:
    """Why the current request may not write (None: it may)."""
    if not can_write():
        return read_only_reason()
    if not _same_origin(required=True):
        return "refused: the request does not come from this dashboard's own page (Origin)"
    cookie = request.cookies.get(CSRF_COOKIE)
    if not (isinstance(csrf, str) and cookie and _CSRF.match(csrf) and _CSRF.match(cookie)
            and _eq(csrf.encode(), cookie.encode())):
        return "refused: this page's security token is missing or old — reload the page"
    return None


# ------------------------------------------------------------------------------------ install
def _refuse(status: int, text: str, reason: str, headers: dict | None = None) -> Response:
    level = logging.INFO if status == 401 else logging.WARNING
    log.log(level, "refused %d %s %.200r from %s: %s", status, request.method, request.path,
            request_peer(), reason)
    return Response(text + "\n", status, headers or {}, mimetype="text/plain")


def install(server: Flask, settings: Settings) -> None:
    cfg = _Config(
        token=_utf8(settings.auth_token) if settings.auth_token else None,
        viewer=(settings.auth_user, _utf8(settings.auth_user), _utf8(settings.auth_password))
        if settings.auth_user and settings.auth_password else None,
        operator=(settings.operator_user, _utf8(settings.operator_user), _utf8(settings.operator_password))
        if settings.operator_user and settings.operator_password else None,
        allowed_hosts=tuple(settings.allowed_hosts), max_body=settings.max_body)
    server.extensions["cm_auth"] = cfg

    @server.before_request
    def _guard():
        host = request.headers.get("Host")
        if not host_allowed(host, cfg.allowed_hosts):
            return _refuse(400, "unknown host", f"Host {(host or '')[:100]!r} not allowed (CM_ALLOWED_HOSTS)")
        if (request.content_length or 0) > cfg.max_body:
            return _refuse(413, "request body too large", f"Content-Length {request.content_length}")
        if not cfg.credentials:
            if not is_local_request():
                return _refuse(403, "this dashboard serves this machine only: configure credentials to open "
                                    "it beyond localhost (docs/SECURITY.md)", "no credentials configured")
            g.cm_principal = LOCAL
        elif request.path not in OPEN_PATHS:
            principal, set_cookie = _authenticate(cfg)
            if principal is None:
                headers = {"WWW-Authenticate": REALM} if (cfg.viewer or cfg.operator) else {}
                return _refuse(401, "authentication required", "no valid credential", headers)
            g.cm_principal = principal
            g.cm_set_cookie = set_cookie
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(required=False):
            return _refuse(403, "cross-origin request refused",
                           f"Origin {request.headers.get('Origin', '')[:100]!r} is not this host")
        return None

    @server.after_request
    def _cookies(resp):
        # Never inside another site's frame (clickjacking the operator's buttons), and no
        # ?token= link in a Referer sent to other sites.
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        secure = request.is_secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
        if cfg.token and g.get("cm_set_cookie"):
            resp.set_cookie(COOKIE, _cookie_value(cfg.token).decode(), httponly=True, samesite="Lax", secure=secure)
        if g.get("cm_new_csrf"):
            resp.set_cookie(CSRF_COOKIE, g.cm_new_csrf, httponly=True, samesite="Strict", secure=secure)
        return resp

    @server.get("/login")
    def _login():
        """Ask the browser for the operator's basic credentials, then go back to the page."""
        nxt = request.args.get("next") or "/alerts"
        if not nxt.startswith("/") or nxt.startswith("//") or "\\" in nxt:
            nxt = "/alerts"
        if can_write():
            return redirect(nxt, code=303)
        if cfg.operator is None:
            return Response("no operator login is configured (CM_OPERATOR_USER, CM_OPERATOR_PASSWORD)\n", 404,
                            mimetype="text/plain")
        return _refuse(401, "operator login required", "not an operator", {"WWW-Authenticate": REALM})
