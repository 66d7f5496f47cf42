"""Database work of async code (socket log-ins, consumers, the chat turn) on a bounded pool of threads, not one queue.

`database_sync_to_async` defaults to thread_sensitive=True: outside a request's
ThreadSensitiveContext (a WebSocket consumer is outside one) every such call of every socket in
the process runs on ONE thread, so turns queue behind each other (PITFALLS.md). Here each call
runs on a thread of a pool of `CHAT_DB_THREADS` (settings keeps it below the psycopg pool's
max_size, so every thread can hold a connection at once and nothing waits for the pool), and the
connection goes back to the pool when the call ends, as Channels does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import SyncToAsync
from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from django.conf import settings

P = ParamSpec("P")
R = TypeVar("R")

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=settings.CHAT_DB_THREADS, thread_name_prefix="async-db")
        return _executor


def db_async(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """`func` as a coroutine function run on the bounded pool (closes its connection afterwards)."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=executor())


def pool_async(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """A blocking call that is not database work (Django's cache: its async methods are
    `sync_to_async` with the single thread-sensitive thread) as a coroutine on the same pool."""
    return SyncToAsync(func, thread_sensitive=False, executor=executor())


class PooledDatabaseConsumerMixin:
    """For a Channels consumer whose database work all runs through `db_async`: its dispatch skips
    Channels' per-frame `aclose_old_connections()`.

    Channels closes stale connections before handling every message a consumer receives (each
    frame, each group push) with `sync_to_async(close_old_connections)` — thread-sensitive, so a hop
    to asgiref's one thread for every frame of every socket in the process (the global queue of
    PITFALLS.md). `db_async` (DatabaseSyncToAsync) closes the connection of its own thread before and
    after each call, so for such a consumer that hop guards nothing."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
