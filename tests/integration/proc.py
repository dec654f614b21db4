"""Run `python app.py …` as a real process on a free port and talk to it over HTTP."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A closed local port as proxy: every outbound HTTP(S) call fails at once, like a machine with
# the network down (requests and yfinance's curl both honour these variables).
OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost",
           "no_proxy": "127.0.0.1,localhost"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    def __init__(self, args: list[str], *, data_dir: Path, port: int | None = None, env: dict | None = None,
                 cmd: list[str] | None = None):
        self.port = port or free_port()
        self.log = data_dir / f"app-{self.port}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CM_")}
        full_env.update({"CM_DATA_DIR": str(data_dir), "CM_PORT": str(self.port), "PYTHONUNBUFFERED": "1"})
        full_env.update(env or {})
        self._fh = open(self.log, "wb")
        cmd = [c.replace("{port}", str(self.port)) for c in cmd] if cmd else [sys.executable, "app.py", *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env,
                                     stdout=self._fh, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, path: str, timeout: float = 5.0) -> dict:
        status, body = self.get(path, timeout=timeout)
        assert status == 200, (status, body[:300])
        return json.loads(body)

    def wait_until(self, predicate, *, timeout: float = 60.0, what: str = "condition"):
        deadline = time.time() + timeout
        last_err = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"app exited with {self.proc.returncode} while waiting for {what}:\n{self.output()}")
            try:
                value = predicate()
                if value:
                    return value
            except (OSError, AssertionError, ValueError, KeyError) as exc:
                last_err = exc
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what} (last error: {last_err})\n{self.output()[-3000:]}")

    def output(self) -> str:
        self._fh.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._fh.close()
        return self.proc.returncode
