"""Typed errors so a caller can tell "no data" from "failed" from "bad payload"."""
from __future__ import annotations


class ContagionError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(ContagionError):
    """Bad configuration: the message names the file/key and the offending value."""


class SourceError(ContagionError):
    """A source could not deliver usable data this cycle."""


class FetchError(SourceError):
    """The network step failed: DNS, connection, timeout, HTTP status."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RateLimited(FetchError):
    """HTTP 429 / YFRateLimitError: back off with jitter."""


class EmptyPayload(SourceError):
    """The source answered but had no rows (weekend, holiday, blocked, delisted)."""


class MalformedPayload(SourceError):
    """The payload does not have the expected shape; nothing from it may be stored."""


class CollectorAlreadyRunning(ContagionError):
    """A second collector tried to start against a store that already has one."""


class WritesClosed(SourceError):
    """This process no longer writes the store: its collector is stopping or lost the lease. A
    cycle that meets it is abandoned (each write is one transaction: nothing is half-written)."""
