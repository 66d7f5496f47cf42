"""Fault-test fixtures: a PostgreSQL and a Redis server of the test's own, on free loopback ports in
temporary directories, that a test stops and starts at will, and a TCP proxy to the test database
that a test cuts. The shared servers (5432, 6379) are never stopped or flushed: other tests and other
people use them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.db import connection

from loadtest.server import free_port
from tests.fakes.tcp_proxy import TcpProxy


def _wait_until(predicate, *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


class PrivateRedis:
    """`redis-server` without persistence: a restart starts empty, as a crashed cache would."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> PrivateRedis:
        log = (self.directory / "redis.log").open("a")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        _wait_until(self._answers, timeout_s=20, what="the private Redis to answer")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb), holding a copy of the test database."""

    def __init__(self) -> None:
        # pytest's tmp_path is private to root; the server runs as `postgres` when we are root.
        self.directory = Path(tempfile.mkdtemp(prefix="dm-faults-pg-"))
        self.port = free_port()
        self.name = "digitalme"
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_postgres:
            shutil.chown(self.directory, user="postgres")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.name}"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self._as_postgres, "pg_ctl", "-D", str(self.directory / "data"), "-w", *args],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def init(self) -> PrivatePostgres:
        data = str(self.directory / "data")
        subprocess.run(
            [*self._as_postgres, "initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return self.start()

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.directory / "server.log"), "start")
        return self

    def stop(self) -> None:
        """A fast shutdown, as a restart does: open sessions are terminated."""
        self._pg_ctl("-m", "fast", "stop")

    def copy_test_database(self) -> PrivatePostgres:
        """The test database (migrated, with what the test wrote so far) into this cluster."""
        db = connection.settings_dict
        source = {
            **os.environ,
            "PGHOST": db["HOST"] or "127.0.0.1",
            "PGPORT": str(db["PORT"] or 5432),
            "PGUSER": db["USER"] or "postgres",
            "PGPASSWORD": db.get("PASSWORD") or "",
        }
        target = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        subprocess.run(["createdb", *target, self.name], check=True)
        dump = subprocess.Popen(["pg_dump", "--no-owner", db["NAME"]], env=source, stdout=subprocess.PIPE)
        subprocess.run(
            ["psql", *target, "-q", "-v", "ON_ERROR_STOP=1", "-d", self.name],
            stdin=dump.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        assert dump.wait() == 0
        return self

    def remove(self) -> None:
        if (self.directory / "data" / "postmaster.pid").exists():
            subprocess.run(
                [*self._as_postgres, "pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "stop"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        shutil.rmtree(self.directory, ignore_errors=True)


def _needs(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install postgresql redis-server)")


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    _needs("redis-server")
    server = PrivateRedis(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    _needs("initdb", "pg_ctl", "pg_dump", "psql", "createdb")
    server = PrivatePostgres()
    try:
        yield server.init()
    finally:
        server.remove()


@pytest.fixture
def database_proxy() -> Iterator[TcpProxy]:
    """A loopback proxy to the test database, for processes the test starts with `proxied_database_url`:
    they know no other address, so none of their connections can bypass it when it is cut (the
    test process itself keeps its own, direct connections to read what they wrote)."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)).start()
    try:
        yield proxy
    finally:
        proxy.cut()


def proxied_database_url(database_url: str, proxy: TcpProxy) -> str:
    """`database_url` (postgres://user@host:port/name) with the proxy's address instead."""
    parsed = urlsplit(database_url)
    netloc = parsed.netloc.rsplit("@", 1)
    netloc[-1] = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parsed._replace(netloc="@".join(netloc)))
