"""Staff measurement: concurrent syncs against the configured provider URLs."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from digitalme.stats import percentiles_ms
from integrations import crypto
from integrations.clients.github import GitHubClient
from integrations.clients.google import GoogleClient
from integrations.errors import SyncError
from integrations.models import IntegrationToken, Provider

LOAD_TEST_FALLBACK_TOKEN = "load-test-token"


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
        "latency_ms": percentiles_ms(latencies),
    }
