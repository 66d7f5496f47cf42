"""Fixed rate windows (digitalme/ratewindow.py): one rule for the chat's and Telegram's limits."""

from __future__ import annotations

import uuid

import pytest

from digitalme.ratewindow import acount_hit, count_hit, window_slot

WINDOW_START = 1_800_000_000.0  # a multiple of 60


@pytest.mark.parametrize(
    ("now", "slot", "retry_after"),
    [
        (WINDOW_START, 30_000_000, 60),
        (WINDOW_START + 59.5, 30_000_000, 1),  # never 0: "try again in 0 s" would be a lie
        (WINDOW_START + 60, 30_000_001, 60),
    ],
)
def test_a_window_is_its_number_and_the_seconds_left(now, slot, retry_after):
    assert window_slot(60, now) == (slot, retry_after)


def test_cache_hits_count_up_within_a_window_and_start_again_in_the_next():
    prefix = f"test:rate:{uuid.uuid4().hex}"
    counts = [count_hit(prefix, 60, now=WINDOW_START + offset).count for offset in (0, 10, 59)]
    assert counts == [1, 2, 3]
    assert count_hit(prefix, 60, now=WINDOW_START + 60).count == 1


async def test_async_hits_count_up_within_a_window_and_start_again_in_the_next():
    prefix = f"test:rate:{uuid.uuid4().hex}"
    counts = [(await acount_hit(prefix, 60, now=WINDOW_START + offset)).count for offset in (0, 10, 59)]
    assert counts == [1, 2, 3]
    hit = await acount_hit(prefix, 60, now=WINDOW_START + 65)
    assert (hit.count, hit.retry_after_s) == (1, 55)


def test_a_cache_hit_is_one_redis_round_trip_on_a_connection_shared_by_every_thread(monkeypatch):
    """A Celery worker handles each Telegram update in a thread of its own, and Django builds a
    cache client per thread: each update opened a Redis connection (four round trips of handshake)
    and counted with three commands (SET NX, EXISTS, INCRBY)."""
    import threading

    from redis.connection import AbstractConnection

    prefix = f"test:rate:{uuid.uuid4().hex}"
    count_hit(prefix, 60)  # the process's pool has its connection from here on
    round_trips: list[int] = []
    connects: list[int] = []
    send = AbstractConnection.send_packed_command
    connect = AbstractConnection.on_connect
    monkeypatch.setattr(
        AbstractConnection, "send_packed_command", lambda self, *a, **k: round_trips.append(1) or send(self, *a, **k)
    )
    monkeypatch.setattr(AbstractConnection, "on_connect", lambda self: connects.append(1) or connect(self))
    counts: list[int] = []

    for _ in range(5):  # one new thread per hit, as one per update in the worker
        thread = threading.Thread(target=lambda: counts.append(count_hit(prefix, 60).count))
        thread.start()
        thread.join()

    assert counts == [2, 3, 4, 5, 6]
    assert (len(round_trips), len(connects)) == (5, 0)
