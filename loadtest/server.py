"""Start and stop real daphne processes for benchmarks and real-process tests.

`DaphneServer`: one subprocess on a free loopback port, with the environment given (database,
Redis, model). `ServerGroup`: N of them sharing PostgreSQL and Redis behind the round-robin
balancer (loadtest/balancer.py), addressed through the balancer's port — what `make bench
--processes N` talks to; N = 1 goes through the balancer too, so every N pays the same hop.
CPU time and memory are read from /proc: `cpu_s()` is utime + stime, `peak_rss_mb()` the kernel's
high-water mark of resident memory (VmHWM).
"""

from __future__ import annotations

import os
import select
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


def _status_kb(pid: int, field: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _mb(kb: float | None) -> float | None:
    return round(kb / 1024, 1) if kb is not None else None


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (/proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime and stime are fields 14 and 15 (man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_django_setup(env: dict[str, str]) -> str | None:
    """For the bench tools: Django set up with `env` over the environment (as the servers get it),
    the database migrated and Ivan loaded. Returns why it can't run (no PostgreSQL or Redis), else None."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitalme.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql") or not settings.REDIS_URL:
        return "needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL): it measures the production stack."
    call_command("migrate", verbosity=0, interactive=False)
    call_command("load_persona", str(BASE_DIR / "personality" / "data" / "ivan.yaml"), verbosity=0)  # idempotent
    return None


def _children(pid: int) -> list[int]:
    """Direct child processes (every thread's /proc/<pid>/task/<tid>/children)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


class _Process:
    """A child process whose CPU and memory the bench reads, its output in `log_path`."""

    process: subprocess.Popen | None = None
    log_path: Path | None = None
    _log: IO | None = None

    def _open_log(self) -> IO | None:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("w")
        return self._log

    def stop(self) -> None:
        self._terminate()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def cpu_s(self) -> float | None:
        pid = self._pid()
        return _cpu_s(pid) if pid is not None else None

    def peak_rss_mb(self) -> float | None:
        """The process's resident-memory high-water mark (VmHWM), in MB."""
        pid = self._pid()
        return _mb(_status_kb(pid, "VmHWM")) if pid is not None else None

    def rss_mb(self) -> float | None:
        pid = self._pid()
        return _mb(_status_kb(pid, "VmRSS")) if pid is not None else None

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class DaphneServer(_Process):
    def __init__(self, *, env: dict[str, str], port: int | None = None, log_path: Path | None = None) -> None:
        # glibc's malloc arenas capped as the Procfile's web entry caps them (what production runs).
        self.env = {"MALLOC_ARENA_MAX": "2", **os.environ, **env}
        self.port = port or free_port()
        self.log_path = log_path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def launch(self) -> DaphneServer:
        """Start the process without waiting for it (`wait_ready` does)."""
        log = self._open_log()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "digitalme.serve",  # the Procfile's web entry: daphne without its unused optional imports
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
            stdout=log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, *, timeout_s: float = 90.0) -> DaphneServer:
        assert self.process is not None, "launch() first"
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

    def start(self, *, timeout_s: float = 90.0) -> DaphneServer:
        return self.launch().wait_ready(timeout_s=timeout_s)

    def __enter__(self) -> DaphneServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BalancerProcess(_Process):
    """loadtest/balancer.py in its own process (its CPU is not the client's nor the servers')."""

    def __init__(self, *, backends: list[int], port: int | None = None, log_path: Path | None = None) -> None:
        self.backends = backends
        self.said = ""
        self.port = port or free_port()
        self.log_path = log_path

    def start(self, *, timeout_s: float = 30.0) -> BalancerProcess:
        from loadtest.balancer import READY_LINE

        log = self._open_log()
        command = [sys.executable, "-m", "loadtest.balancer", "--port", str(self.port)]
        for port in self.backends:
            command += ["--backend", f"127.0.0.1:{port}"]
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        line = self.process.stdout.readline() if ready else ""  # "" too when it died
        if READY_LINE not in line:
            self.stop()
            raise RuntimeError(f"the balancer did not start: {line!r}; see {self.log_path}")
        return self

    def stop(self) -> None:
        """Stop it; `said` keeps its last words (connections per backend)."""
        super().stop()
        if self.process is not None and self.process.stdout is not None and not self.process.stdout.closed:
            self.said = self.process.stdout.read().strip()
            self.process.stdout.close()


class CeleryWorker(_Process):
    """A Celery worker (the Procfile's, prefork with CONCURRENCY children) on the environment's
    broker, consuming `queues` (as the Procfile's worker entries name them); `start` returns when it
    answers a ping."""

    def __init__(
        self, *, env: dict[str, str], queues: tuple[str, ...], concurrency: int = 2, log_path: Path | None = None
    ) -> None:
        self.env = {**os.environ, **env}
        self.queues = queues
        self.concurrency = concurrency
        self.log_path = log_path

    def cpu_s(self) -> float | None:
        """CPU seconds of the worker and its pool's child processes (they run the tasks)."""
        pid = self._pid()
        if pid is None:
            return None
        values = [_cpu_s(one) for one in (pid, *_children(pid))]
        return sum(value for value in values if value is not None)

    def start(self, *, timeout_s: float = 240.0) -> CeleryWorker:
        from digitalme.celery import app

        log = self._open_log()
        name = f"bench-{os.getpid()}-{free_port()}@%h"
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "digitalme", "worker", "--loglevel=INFO", "-n", name),
                *(f"--concurrency={self.concurrency}", "-Q", ",".join(self.queues)),
                *("--without-mingle", "--without-gossip"),
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wanted = name.split("@", 1)[0]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:  # a loaded 2-core host takes a while to import everything
            if self.process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited with {self.process.returncode}; see {self.log_path}")
            if any(wanted in host for reply in app.control.ping(timeout=1.0) for host in reply):
                return self
        self.stop()
        raise RuntimeError(f"the Celery worker did not answer a ping within {timeout_s:.0f} s")


class ServerGroup:
    """N daphne processes behind one balancer; the URLs are the balancer's."""

    def __init__(self, *, processes: int, env: dict[str, str], log_dir: Path | None = None) -> None:
        if processes < 1:
            raise ValueError("processes must be ≥ 1")
        self.servers = [
            DaphneServer(env=env, log_path=log_dir / f"server-{index + 1}.log" if log_dir else None)
            for index in range(processes)
        ]
        self.balancer = BalancerProcess(
            backends=[server.port for server in self.servers], log_path=log_dir / "balancer.log" if log_dir else None
        )

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.balancer.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.balancer.port}"

    @property
    def pids(self) -> list[int | None]:
        return [server.process.pid if server.process else None for server in self.servers]

    def start(self, *, timeout_s: float = 120.0) -> ServerGroup:
        try:
            for server in self.servers:  # all boot at once, then each is waited for
                server.launch()
            for server in self.servers:
                server.wait_ready(timeout_s=timeout_s)
            self.balancer.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.balancer.stop()
        for server in self.servers:
            server.stop()

    def cpu_s(self) -> float | None:
        """CPU seconds of every server process together (the balancer's apart: `balancer.cpu_s()`)."""
        values = [server.cpu_s() for server in self.servers]
        return None if any(value is None for value in values) else sum(values)  # type: ignore[arg-type]

    def peak_rss_mb(self) -> list[float | None]:
        """Each server process's resident-memory high-water mark, in MB."""
        return [server.peak_rss_mb() for server in self.servers]

    def rss_mb(self) -> list[float | None]:
        return [server.rss_mb() for server in self.servers]

    def __enter__(self) -> ServerGroup:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
