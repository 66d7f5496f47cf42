"""The bench's round-robin balancer (loadtest/balancer.py), with two loopback TCP backends."""

from __future__ import annotations

import asyncio

import pytest

from loadtest.balancer import Balancer

BIG = 2_000_000  # more than the sockets buffer: the balancer has to pause and resume reading
LIMIT = 2 * BIG


async def _backend(name: bytes) -> tuple[asyncio.Server, int]:
    """Answers every line with `<name>:<line>`; closes when the client does."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(name + b":" + line)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, limit=LIMIT)
    return server, server.sockets[0].getsockname()[1]


async def _ask(port: int, lines: list[bytes]) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=LIMIT)
    answers = []
    for line in lines:
        writer.write(line + b"\n")
        await writer.drain()
        answers.append((await asyncio.wait_for(reader.readline(), 10)).rstrip(b"\n"))
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 10) == b""  # the backend's close comes through
    writer.close()
    return answers


async def test_connections_go_round_robin_and_bytes_pass_both_ways_intact():
    (one, one_port), (two, two_port) = await _backend(b"one"), await _backend(b"two")
    balancer = Balancer([("127.0.0.1", one_port), ("127.0.0.1", two_port)])
    port = await balancer.start()
    try:
        answers = [await _ask(port, [b"hello", b"x" * BIG]) for _ in range(4)]
    finally:
        await balancer.close()
        one.close()
        two.close()
    assert [a[0] for a in answers] == [b"one:hello", b"two:hello", b"one:hello", b"two:hello"]
    assert all(a[1].endswith(b":" + b"x" * BIG) for a in answers)  # a big write survives flow control
    assert balancer.connections == [2, 2]
    assert balancer.failed == 0


async def test_many_simultaneous_connections_are_all_served():
    (one, one_port), (two, two_port) = await _backend(b"one"), await _backend(b"two")
    balancer = Balancer([("127.0.0.1", one_port), ("127.0.0.1", two_port)])
    port = await balancer.start()
    try:
        answers = await asyncio.gather(*(_ask(port, [str(i).encode()]) for i in range(200)))
    finally:
        await balancer.close()
        one.close()
        two.close()
    assert sorted(int(a[0].split(b":")[1]) for a in answers) == list(range(200))
    assert balancer.connections == [100, 100]


async def test_a_backend_that_is_down_closes_the_client_connection():
    balancer = Balancer([("127.0.0.1", 9)])  # discard port: nothing listens on loopback
    port = await balancer.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
    finally:
        await balancer.close()
    assert balancer.failed == 1


def test_a_balancer_needs_a_backend():
    with pytest.raises(ValueError, match="backend"):
        Balancer([])
