"""Does requirements.lock pin what requirements.txt asks for?

    python tools/check_lock.py [requirements.txt [requirements.lock]]

Exit 1, one line per problem, when:
- a requirement is missing from the lock, or a locked version does not satisfy its specifier
  (a floor raised, a pin changed, without regenerating the lock);
- the lock holds a direct requirement (`# via -r requirements.txt`) that requirements.txt no
  longer names (removed, or the lock was made from another file);
- a locked package is not pinned with `==` or carries no hash (pip's --require-hashes would stop).

The lock is the output of `uv pip compile --universal --generate-hashes` (or pip-compile): one
`name==version [; marker]` per package and platform fork, hashes, then `# via` lines.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version
except ImportError:  # a fresh venv has no packaging yet, but its pip carries a copy
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
    from pip._vendor.packaging.utils import canonicalize_name
    from pip._vendor.packaging.version import InvalidVersion, Version

__all__ = ["Pin", "parse_requirements", "parse_lock", "check", "main"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Pin:
    name: str                      # canonical (PEP 503)
    spec: str                      # as written, e.g. "numpy==2.4.6 ; python_full_version < '3.12'"
    version: str | None            # None: not pinned with ==
    hashes: int = 0
    via: set[str] = field(default_factory=set)


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined."""
    out, buf = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        out.append(buf + line)
        buf = ""
    if buf:
        out.append(buf)
    return out


def parse_requirements(text: str) -> tuple[dict[str, Requirement], list[str]]:
    """Requirements by canonical name, and the problems met (options, bad lines, duplicates)."""
    reqs: dict[str, Requirement] = {}
    problems: list[str] = []
    for line in _logical_lines(text):
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not line:
            continue
        if line.startswith("-"):
            problems.append(f"unsupported option in the runtime requirements: {line!r}")
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            problems.append(f"unreadable requirement {line!r}: {exc}")
            continue
        name = canonicalize_name(req.name)
        if name in reqs:
            problems.append(f"{req.name} is listed twice")
        reqs[name] = req
    return reqs, problems


def parse_lock(text: str) -> list[Pin]:
    pins: list[Pin] = []
    in_via = False
    for line in _logical_lines(text):
        stripped = line.strip()
        if not stripped:
            in_via = False
            continue
        if stripped.startswith("#"):
            body = stripped[1:].strip()
            if pins and body.startswith("via"):
                rest = body[3:].strip()
                if rest:
                    pins[-1].via.add(rest)
                    in_via = False
                else:
                    in_via = True
            elif pins and in_via and line.lstrip().startswith("#   "):
                pins[-1].via.add(body)
            else:
                in_via = False
            continue
        in_via = False
        if stripped.startswith("-"):   # --index-url and the like
            continue
        parts = stripped.split("--hash=")
        spec = parts[0].strip()
        req = Requirement(spec)
        exact = [s.version for s in req.specifier if s.operator in ("==", "===")]
        pins.append(Pin(name=canonicalize_name(req.name), spec=spec,
                        version=exact[0] if len(exact) == 1 and len(req.specifier) == 1 else None,
                        hashes=len(parts) - 1))
    return pins


def check(requirements: str, lock: str, *, req_name: str = "requirements.txt") -> list[str]:
    """Every disagreement between the texts of the requirements file and its lock."""
    reqs, problems = parse_requirements(requirements)
    pins = parse_lock(lock)
    by_name: dict[str, list[Pin]] = {}
    for p in pins:
        by_name.setdefault(p.name, []).append(p)
        if p.version is None:
            problems.append(f"lock: {p.spec!r} is not pinned with ==")
        if p.hashes == 0:
            problems.append(f"lock: {p.spec!r} has no hash")
    for name, req in reqs.items():
        locked = by_name.get(name)
        if not locked:
            problems.append(f"{req} is not in the lock: regenerate it")
            continue
        for p in locked:
            if p.version is None:
                continue
            try:
                ok = req.specifier.contains(Version(p.version), prereleases=True)
            except InvalidVersion:
                ok = False
            if not ok:
                problems.append(f"{req}: the lock pins {p.spec!r}: regenerate it")
    direct = f"-r {req_name}"
    for p in pins:
        if direct in p.via and p.name not in reqs:
            problems.append(f"lock: {p.spec!r} is locked as a requirement of {req_name}, which no longer names it")
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    req_path = Path(argv[0]) if argv else ROOT / "requirements.txt"
    lock_path = Path(argv[1]) if len(argv) > 1 else req_path.with_name("requirements.lock")
    problems = check(req_path.read_text(), lock_path.read_text(), req_name=req_path.name)
    for p in problems:
        print(f"{lock_path.name}: {p}", file=sys.stderr)
    if problems:
        print(f"{lock_path.name} disagrees with {req_path.name}; regenerate it (README, 'Dependencies')",
              file=sys.stderr)
        return 1
    print(f"{lock_path.name} agrees with {req_path.name}: {len(parse_requirements(req_path.read_text())[0])} "
          f"requirements, {len(parse_lock(lock_path.read_text()))} pins, all hashed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
