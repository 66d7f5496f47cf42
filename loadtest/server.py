"""Start and stop a real daphne process for benchmarks and real-process tests.

A subprocess on a free loopback port, with the environment given (database, Redis, model);
`peak_rss_mb()` reads the kernel's high-water mark of its resident memory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

BASE_DIR = Path(__file__).resolve().parent.parent
LISTEN_BACKLOG = 2048
WEBSOCKET_HANDSHAKE_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaphneServer:
    def __init__(self, *, env: dict[str, str], port: int | None = None, log_path: Path | None = None) -> None:
        self.env = {**os.environ, **env}
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self._log: IO | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 90.0) -> DaphneServer:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                # The same listen options as the Procfile: a deep accept backlog and a handshake
                # timeout that survives a burst of reconnects (daphne's defaults: 50 and 5 s).
                "-e",
                f"tcp:port={self.port}:interface=127.0.0.1:backlog={LISTEN_BACKLOG}",
                "--websocket_connect_timeout",
                str(WEBSOCKET_HANDSHAKE_TIMEOUT_S),
                "digitalme.asgi:application",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.http_url}/health/", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"daphne did not answer /health/ within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _status_kb(self, field: str) -> float | None:
        if self.process is None:
            return None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return float(line.split()[1])
        except OSError:
            return None
        return None

    def peak_rss_mb(self) -> float | None:
        """The process's resident-memory high-water mark (VmHWM), in MB."""
        value = self._status_kb("VmHWM")
        return round(value / 1024, 1) if value is not None else None

    def rss_mb(self) -> float | None:
        value = self._status_kb("VmRSS")
        return round(value / 1024, 1) if value is not None else None

    def cpu_s(self) -> float | None:
        """User + system CPU seconds the server process has used so far (/proc/<pid>/stat)."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # After the command name: state is field 3, utime and stime are fields 14 and 15 (man 5 proc).
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> DaphneServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
