"""A round-robin TCP balancer for `make bench --processes N`: the local stand-in for the load
balancer in front of N web processes.

Each accepted connection goes to the next backend in turn and bytes are copied both ways as they
come (a WebSocket is one TCP connection, so a socket stays on the process it was given, as behind
nginx or a cloud balancer without sticky sessions). Written on asyncio protocols, not streams:
no task per connection and one write per read, so the balancer's own CPU stays small next to the
servers'; the bench reports it separately. Flow control is passed through (a slow reader pauses
the other side), half-closes are forwarded, and when either side goes the other is closed.

    python -m loadtest.balancer --port 8000 --backend 127.0.0.1:8001 --backend 127.0.0.1:8002
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import resource
import signal
import sys
from collections.abc import Sequence

LISTEN_BACKLOG = 2048  # as daphne's (loadtest/server.py): a burst of 1,000 connects must not be refused
READY_LINE = "balancer listening on"


class _Side(asyncio.Protocol):
    """One end of a proxied connection; `peer` is the other end once both are connected."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.early: list[bytes] = []  # a backend's bytes that came before the link was made

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.early.append(data)
        elif self.peer.transport is not None:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        peer = self.peer.transport if self.peer is not None else None
        if peer is not None and peer.can_write_eof():
            peer.write_eof()
            return True  # keep our half open: the other side may still answer
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()
        self.transport = None

    # The peer's outgoing buffer is full: stop reading what would go into it.
    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class _ClientSide(_Side):
    def __init__(self, balancer: Balancer) -> None:
        super().__init__()
        self.balancer = balancer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.pause_reading()  # type: ignore[attr-defined]  # nothing to forward to yet
        self.balancer.connect_backend(self)


class Balancer:
    """Round robin over `backends` ((host, port) pairs); `connections[i]` counts what backend i got."""

    def __init__(self, backends: Sequence[tuple[str, int]]) -> None:
        if not backends:
            raise ValueError("at least one backend")
        self.backends = list(backends)
        self.connections = [0] * len(self.backends)
        self.failed = 0  # connections whose backend refused
        self._next = itertools.cycle(range(len(self.backends)))
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; returns the port (a free one when `port` is 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ClientSide(self), host, port, backlog=LISTEN_BACKLOG, reuse_address=True
        )
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    def connect_backend(self, client: _ClientSide) -> None:
        index = next(self._next)
        self.connections[index] += 1
        task = asyncio.get_running_loop().create_task(self._link(client, index))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _link(self, client: _ClientSide, index: int) -> None:
        host, port = self.backends[index]
        backend = _Side()
        try:
            await asyncio.get_running_loop().create_connection(lambda: backend, host, port)
        except OSError:
            self.failed += 1
            if client.transport is not None:
                client.transport.close()
            return
        if client.transport is None:  # the client left while we connected
            if backend.transport is not None:
                backend.transport.close()
            return
        client.peer, backend.peer = backend, client
        if backend.transport is None:  # the backend already hung up
            client.transport.close()
            return
        if backend.early:
            client.transport.write(b"".join(backend.early))
            backend.early.clear()
        client.transport.resume_reading()


def _backend(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not host:port")
    return host, int(port)


def _raise_open_files_limit() -> None:
    """Every proxied socket is two descriptors: take the hard limit, as a server would be set up."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _serve(port: int, backends: list[tuple[str, int]]) -> None:
    balancer = Balancer(backends)
    bound = await balancer.start(port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{READY_LINE} {bound}", flush=True)
    await stop.wait()
    await balancer.close()
    print(f"connections per backend {balancer.connections}, refused {balancer.failed}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one, printed)")
    parser.add_argument("--backend", type=_backend, action="append", required=True, help="host:port, repeatable")
    args = parser.parse_args(argv)
    _raise_open_files_limit()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.backend))
    return 0


if __name__ == "__main__":
    sys.exit(main())
