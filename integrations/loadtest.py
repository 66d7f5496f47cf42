"""Staff measurements: concurrent syncs against the configured provider URLs, DB query latency."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from integrations import crypto
from integrations.clients.github import GitHubClient
from integrations.clients.google import GoogleClient
from integrations.errors import SyncError
from integrations.models import CalendarEvent, GitHubEvent, Integration, IntegrationToken, Provider, SyncRun

LOAD_TEST_FALLBACK_TOKEN = "load-test-token"


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99/max/mean in ms (nearest-rank)."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2)

    return {
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "max": round(ordered[-1], 2),
        "mean": round(sum(ordered) / len(ordered), 2),
    }


def _access_token(user: Any, provider: str) -> str:
    """The staff user's own token when connected (no refresh, nothing written), else a dummy."""
    token = IntegrationToken.objects.filter(integration__user=user, integration__provider=provider).first()
    if token is None:
        return LOAD_TEST_FALLBACK_TOKEN
    try:
        return crypto.decrypt(token.access_token_encrypted) or LOAD_TEST_FALLBACK_TOKEN
    except crypto.TokenDecryptionError:
        return LOAD_TEST_FALLBACK_TOKEN


def _github_pass(token: str) -> int:
    with GitHubClient(access_token=token) as client:
        login = client.user()["login"]
        client.user_events(login=login)
        client.user_repos()
        return client.stats.requests


def _google_pass(token: str) -> int:
    now = timezone.now()
    with GoogleClient(access_token=token) as client:
        list(client.gmail_message_ids(query="newer_than:7d", limit=20))
        client.calendar_events(time_min=now - timedelta(days=7), time_max=now + timedelta(days=14))
        return client.stats.requests


def integrations_load_test(*, user: Any, provider: str, concurrency: int, rounds: int) -> dict[str, Any]:
    """`concurrency` syncs at once, `rounds` times, through the real clients; read-only."""
    token = _access_token(user, provider)
    one_pass: Callable[[str], int] = _github_pass if provider == Provider.GITHUB else _google_pass
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    requests = 0

    def run_one(_: int) -> tuple[float, int, str | None]:
        started = time.perf_counter()
        try:
            count = one_pass(token)
            return (time.perf_counter() - started) * 1000, count, None
        except SyncError as exc:
            return (time.perf_counter() - started) * 1000, 0, exc.code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for latency, count, error in pool.map(run_one, range(concurrency * rounds)):
            latencies.append(latency)
            requests += count
            if error:
                errors[error] += 1
    duration = time.perf_counter() - started
    base = settings.GITHUB_API_BASE_URL if provider == Provider.GITHUB else settings.GOOGLE_API_BASE_URL
    return {
        "provider": provider,
        "base_url": base,
        "concurrency": concurrency,
        "syncs": len(latencies),
        "succeeded": len(latencies) - sum(errors.values()),
        "errors": dict(errors),
        "http_requests": requests,
        "duration_ms": round(duration * 1000, 2),
        "syncs_per_second": round(len(latencies) / duration, 2) if duration else None,
        "latency_ms": percentiles(latencies),
    }


def _select_one() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


DATABASE_QUERIES: dict[str, Callable[[], Any]] = {
    "select_1": _select_one,
    "integrations_due": lambda: list(Integration.objects.filter(enabled=True).values_list("pk", flat=True)[:500]),
    "recent_sync_runs": lambda: list(SyncRun.objects.order_by("-started_at").values("provider", "status")[:50]),
    "upcoming_events": lambda: list(
        CalendarEvent.objects.filter(starts_at__gte=timezone.now()).order_by("starts_at")[:50]
    ),
    "recent_pushes": lambda: list(GitHubEvent.objects.filter(type="PushEvent").order_by("-occurred_at")[:50]),
}


def database_latency_test(*, iterations: int) -> dict[str, Any]:
    """Each representative query `iterations` times in a row; latency percentiles per query."""
    result: dict[str, Any] = {"vendor": connection.vendor, "iterations": iterations, "queries": {}}
    for name, query in DATABASE_QUERIES.items():
        latencies = []
        for _ in range(iterations):
            started = time.perf_counter()
            query()
            latencies.append((time.perf_counter() - started) * 1000)
        result["queries"][name] = percentiles(latencies)
    return result
