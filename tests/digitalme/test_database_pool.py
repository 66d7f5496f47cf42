"""The PostgreSQL pool as settings configure it, through a database outage: after PostgreSQL comes
back, the next request gets a connection at once instead of waiting for psycopg's backoff."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection, connections
from psycopg_pool import ConnectionPool

from tests.fakes.tcp_proxy import TcpProxy

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool_through_a_proxy() -> Iterator[tuple[ConnectionPool, TcpProxy]]:
    """The pool Django builds from settings (its options untouched), connecting through a proxy the
    test cuts; a connection alias of its own, so the test run's connections are not involved."""
    if connection.vendor != "postgresql" or "pool" not in connection.settings_dict["OPTIONS"]:
        pytest.skip("needs PostgreSQL with psycopg's pool (the production setup)")
    db = connection.settings_dict
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)).start()
    wrapper = type(connections["default"])({**db, "HOST": "127.0.0.1", "PORT": str(proxy.port)}, alias="pool-outage")
    wrapper.pool.open()
    try:
        yield wrapper.pool, proxy
    finally:
        wrapper.close_pool()
        proxy.cut()


def _select_one(pool: ConnectionPool, timeout: float) -> None:
    with pool.connection(timeout=timeout) as conn:
        conn.execute("SELECT 1")


def test_after_an_outage_the_pool_connects_on_the_next_request_not_after_its_backoff(pool_through_a_proxy):
    pool, proxy = pool_through_a_proxy
    _select_one(pool, timeout=10)
    proxy.cut()
    pool.check()  # every pooled connection was reset: each is dropped and a replacement attempted
    with pytest.raises(psycopg.OperationalError):  # no connection while the database is away
        _select_one(pool, timeout=1)

    # The pool retries the lost connection in the background. psycopg's default keeps that one
    # attempt going for 5 minutes, 1, 2, 4 … 64 s apart, and no other starts meanwhile; the
    # project's setting gives it up soon (the pool then counts no connection at all).
    deadline = time.monotonic() + 60
    while pool.get_stats()["pool_size"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pool.get_stats()["pool_size"] == 0, pool.get_stats()

    before = proxy.accepted
    proxy.restore()
    _select_one(pool, timeout=10)  # a fresh attempt, at once: no backoff to sit out
    assert proxy.accepted == before + 1
