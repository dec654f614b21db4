"""Is the collector that holds the lease still alive? What one host can tell about its processes.

The lease row records who holds it: host name, pid, the kernel's boot id, the pid namespace and
the process start time (`ProcessIdentity`). A collector that wants the lease and runs on the same
host, in the same pid namespace, can then tell a crashed holder at once instead of waiting for the
lease TTL: its pid no longer exists (or is a zombie), the pid now belongs to another process
(different start time: pid reuse, e.g. pid 1 of a restarted container), or the machine rebooted
since (different boot id). A holder on another host or in another pid namespace (another
container) cannot be judged from here: only the TTL decides.

PostgreSQL stores have a better signal, the holder's session-level advisory lock (see
`Store.acquire_collector_lease`); this module is what SQLite stores, which live on one host, use.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["ProcessIdentity", "ProcessState", "this_process", "probe_process", "holder_gone"]

_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessIdentity:
    """Who holds a lease, as recorded in the lease row (None: unknown on that platform)."""

    host: str
    pid: int
    boot_id: str | None = None       # /proc/sys/kernel/random/boot_id: changes at every boot
    pid_ns: str | None = None        # readlink /proc/self/ns/pid: pids mean something only inside it
    start: int | None = None         # /proc/<pid>/stat starttime (clock ticks since boot)


@dataclass(frozen=True)
class ProcessState:
    """What the host says about a pid right now."""

    start: int | None = None
    zombie: bool = False


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time) from /proc/<pid>/stat, or None when there is no such file."""
    raw = _read(_PROC / str(pid) / "stat")
    if not raw or ")" not in raw:
        return None
    # "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
    fields = raw[raw.rindex(")") + 2:].split()
    try:
        return fields[0], int(fields[19])   # field 3 (state) and field 22 (starttime)
    except (IndexError, ValueError):
        return None


def this_process() -> ProcessIdentity:
    pid = os.getpid()
    try:
        pid_ns = os.readlink(_PROC / "self" / "ns" / "pid")
    except OSError:
        pid_ns = None
    stat = _stat(pid)
    return ProcessIdentity(host=socket.gethostname(), pid=pid,
                           boot_id=_read(_PROC / "sys" / "kernel" / "random" / "boot_id"),
                           pid_ns=pid_ns, start=stat[1] if stat else None)


def probe_process(pid: int) -> ProcessState | None:
    """The state of `pid` on this host, or None when no such process exists."""
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass                      # exists, owned by another user
    stat = _stat(pid)
    if stat is None:
        return ProcessState()     # no /proc here: alive, start time unknown
    state, start = stat
    return ProcessState(start=start, zombie=state in ("Z", "X"))


def holder_gone(holder: ProcessIdentity, here: ProcessIdentity, *,
                probe: Callable[[int], ProcessState | None] = probe_process) -> str | None:
    """Why `holder` is certainly dead, seen from `here`; None when it may be alive (or this host
    cannot tell: another host, another pid namespace), and then only the lease TTL decides."""
    if not holder.host or holder.host != here.host:
        return None
    if holder.boot_id and here.boot_id and holder.boot_id != here.boot_id:
        return (f"{holder.host} rebooted since it took the lease "
                f"(boot id {holder.boot_id[:8]}…, now {here.boot_id[:8]}…)")
    if holder.pid_ns and here.pid_ns and holder.pid_ns != here.pid_ns:
        return None
    state = probe(holder.pid)
    if state is None:
        return f"process {holder.pid} on {holder.host} no longer exists"
    if state.zombie:
        return f"process {holder.pid} on {holder.host} has exited"
    if holder.start is not None and state.start is not None and state.start != holder.start:
        return f"pid {holder.pid} on {holder.host} now belongs to another process (started at another time)"
    return None
