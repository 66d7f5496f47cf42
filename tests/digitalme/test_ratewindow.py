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
