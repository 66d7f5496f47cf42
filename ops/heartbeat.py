"""The heartbeat thread each long-running process starts (web from asgi.py, worker and beat from
Celery's signals): it records the process in `ProcessHeartbeat` every OPS_HEARTBEAT_INTERVAL_S.

A thread, not a Celery task, so a dead broker or a busy pool can't make a live process look dead
and a dead worker can't look alive. `OPS_HEARTBEAT_INTERVAL_S=0` turns it off (the test suite
does; its real-process tests turn it on for the processes they start).
"""

from __future__ import annotations

import atexit
import logging
import os
import resource
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

_started: dict[int, threading.Thread] = {}  # pid -> thread (a forked child starts its own)


def process_rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc), else its peak (getrusage)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def process_instance(started_at: datetime) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{int(started_at.timestamp())}"


def _beat_forever(role: str, started_at: datetime, stop: threading.Event, queues: Callable[[], Sequence[str]]) -> None:
    from ops.services import heartbeat_record

    interval = settings.OPS_HEARTBEAT_INTERVAL_S
    while not stop.is_set():
        try:
            heartbeat_record(role=role, started_at=started_at, rss_bytes=process_rss_bytes(), queues=queues())
        except Exception:  # a database hiccup must not end the heartbeat: try again next beat
            logger.warning("heartbeat could not be recorded", extra={"role": role}, exc_info=True)
        finally:
            close_old_connections()
            connection.close()  # back to the pool between beats
        stop.wait(interval)


def _no_queues() -> Sequence[str]:
    return ()


def start_process_heartbeat(role: str, *, queues: Callable[[], Sequence[str]] = _no_queues) -> threading.Thread | None:
    """Start this process's heartbeat once (per pid); no-op when OPS_HEARTBEAT_INTERVAL_S is 0.
    `queues` (a worker's) is asked at every beat: a consumer cancelled at run time drops out."""
    if settings.OPS_HEARTBEAT_INTERVAL_S <= 0 or os.getpid() in _started:
        return None
    started_at = timezone.now()
    stop = threading.Event()
    thread = threading.Thread(
        target=_beat_forever, args=(role, started_at, stop, queues), name=f"ops-heartbeat-{role}", daemon=True
    )
    _started[os.getpid()] = thread
    thread.start()

    def _goodbye() -> None:
        # A clean exit removes the row at once: a stopped process is gone, not "stale".
        stop.set()
        from ops.services import heartbeat_forget

        try:
            heartbeat_forget(started_at=started_at)
        except Exception:  # noqa: BLE001 - the database may already be gone at shutdown
            logger.info("heartbeat row not removed at exit", extra={"role": role})

    atexit.register(_goodbye)
    return thread
