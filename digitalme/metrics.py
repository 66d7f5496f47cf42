"""Prometheus metrics: the collectors, the helpers other apps call, the HTTP middleware, the
WebSocket ASGI wrapper, the database query timer and the `/metrics` view.

Apps record through the helpers (`record_chat_turn`, `observe_llm`, `record_moderation`,
`record_celery_task`, `record_telegram_webhook`), never through the collectors, so names and labels
stay in one place.

Numbers are true across processes: with `PROMETHEUS_MULTIPROC_DIR` set (settings.py defaults it
to var/prometheus; make run/test/bench give each run a fresh one) every process — daphne, Celery
worker children, beat — writes its samples to files there, and `/metrics` served by any process
on the host sums them (prometheus_client's multiprocess mode). Numbers that live in the database
or the broker (heartbeats and memory, integrations, Telegram, queue depth, readiness) come from
`register_scrape_collector` functions run at scrape time.
"""

from __future__ import annotations

import glob
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

logger = logging.getLogger(__name__)

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROCESS_DIR:
    # A recycled pid must not inherit a dead process's "live" gauges (open sockets).
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)
    multiprocess.mark_process_dead(os.getpid(), MULTIPROCESS_DIR)

# Latency buckets (seconds) from a cached page (~1 ms) to a slow LLM reply (minutes).
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

HTTP_REQUESTS = Counter("dm_http_requests_total", "HTTP requests handled.", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "dm_http_request_duration_seconds",
    "Time to produce the HTTP response.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
WS_OPEN = Gauge(
    "dm_websocket_connections_open",
    "WebSocket connections currently open.",
    ["route"],
    multiprocess_mode="livesum",  # the sum over live processes; a dead process's sockets are gone
)
WS_CONNECTIONS = Counter("dm_websocket_connections_total", "WebSocket handshakes by outcome.", ["route", "outcome"])
CHAT_TURNS = Counter("dm_chat_turns_total", "Chat turns (user message → Ivan's reply).", ["platform", "outcome"])
LLM_LATENCY = Histogram(
    "dm_llm_request_duration_seconds", "Whole LLM call, first byte to last token.", ["model"], buckets=_LATENCY_BUCKETS
)
LLM_TTFT = Histogram(
    "dm_llm_time_to_first_token_seconds", "Time to the first streamed token.", ["model"], buckets=_LATENCY_BUCKETS
)
LLM_TOKENS = Counter("dm_llm_tokens_total", "Tokens sent to and produced by the LLM.", ["model", "kind"])
LLM_ERRORS = Counter("dm_llm_errors_total", "LLM calls that failed (after retries and fallbacks).", ["model", "error"])
QUALITY_GATE = Counter(
    "dm_persona_quality_gate_total",
    "Replies checked by the persona quality gate: mode full|cheap, outcome passed|regenerated|grounded|failed, "
    "label = the first candidate's verdict.",
    ["mode", "outcome", "label"],
)
MODERATION_VERDICTS = Counter(
    "dm_moderation_verdicts_total",
    "Moderation verdicts, by the layer that decided (rules, classifier, guard, provider, leak; none = all passed).",
    ["direction", "layer", "category", "outcome"],
)
MODERATION_LAYER_ERRORS = Counter(
    "dm_moderation_layer_errors_total",
    "A remote moderation layer that timed out or answered junk, and what was done (fail open or closed).",
    ["layer", "error", "fallback"],
)
# Database: every SQL statement Django runs, by kind (select/insert/update/delete/other).
DB_QUERY_LATENCY = Histogram(
    "dm_db_query_duration_seconds", "Time to execute one SQL statement.", ["kind"], buckets=_LATENCY_BUCKETS
)
# Celery: task outcomes and durations by task name (registered names: bounded labels).
CELERY_TASKS = Counter("dm_celery_tasks_total", "Celery tasks finished, by outcome.", ["task", "state"])
CELERY_TASK_LATENCY = Histogram(
    "dm_celery_task_duration_seconds", "Time a Celery task ran.", ["task"], buckets=_LATENCY_BUCKETS
)
TELEGRAM_WEBHOOK = Counter(
    "dm_telegram_webhook_requests_total", "Telegram webhook deliveries, by outcome.", ["outcome"]
)
CACHE_FAILURES = Counter(
    "dm_cache_failures_total",
    "Cache (Redis) operations that failed and were answered as a miss (rate limits fail open).",
    ["operation"],
)
TELEGRAM_UPDATES = Counter(
    "dm_telegram_updates_total", "Telegram updates: every one processed, and those that failed.", ["outcome"]
)


# --- Helpers other apps call ----------------------------------------------------------------


def record_chat_turn(*, platform: str, outcome: str = "ok") -> None:
    """One turn finished: outcome is ok | blocked (input refused) | cut (reply replaced by the
    output check) | stopped (by the user) | error (LLM unavailable)."""
    CHAT_TURNS.labels(platform=platform or "unknown", outcome=outcome).inc()


def record_quality_gate(*, mode: str, outcome: str, label: str) -> None:
    """A reply went through the persona quality gate (personality/evaluation/gate.py)."""
    QUALITY_GATE.labels(mode=mode, outcome=outcome, label=label).inc()


def observe_llm(
    *,
    model: str,
    latency_s: float | None = None,
    ttft_s: float | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    error: str | None = None,
) -> None:
    """One LLM call: its duration, time to first token, tokens, or the error class name."""
    model = model or "unknown"
    if error:
        LLM_ERRORS.labels(model=model, error=error).inc()
    if latency_s is not None:
        LLM_LATENCY.labels(model=model).observe(max(latency_s, 0.0))
    if ttft_s is not None:
        LLM_TTFT.labels(model=model).observe(max(ttft_s, 0.0))
    if prompt_tokens:
        LLM_TOKENS.labels(model=model, kind="prompt").inc(prompt_tokens)
    if completion_tokens:
        LLM_TOKENS.labels(model=model, kind="completion").inc(completion_tokens)


def record_moderation(*, direction: str, category: str, allowed: bool, layer: str = "none") -> None:
    """One moderation verdict: outcome blocked, flagged (allowed with a category) or allowed;
    `layer` is the check that decided (the prefix of `Verdict.reason`)."""
    outcome = "blocked" if not allowed else ("flagged" if category else "allowed")
    MODERATION_VERDICTS.labels(
        direction=direction, layer=layer or "none", category=category or "none", outcome=outcome
    ).inc()


def record_moderation_layer_error(*, layer: str, error: str, fail_closed: bool) -> None:
    """A remote layer failed (timeout, HTTP error, unreadable answer); the verdict fell back."""
    MODERATION_LAYER_ERRORS.labels(layer=layer, error=error, fallback="closed" if fail_closed else "open").inc()


_CELERY_STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried", "REJECTED": "rejected"}


def record_celery_task(*, task: str, state: str, duration_s: float | None = None) -> None:
    """One task run ended: state is Celery's (SUCCESS, FAILURE, RETRY, …)."""
    CELERY_TASKS.labels(task=task or "unknown", state=_CELERY_STATES.get(state, "other")).inc()
    if duration_s is not None:
        CELERY_TASK_LATENCY.labels(task=task or "unknown").observe(max(duration_s, 0.0))


TELEGRAM_WEBHOOK_OUTCOMES = ("accepted", "duplicate", "forbidden", "bad_request", "backlog_full", "unavailable")


def record_telegram_webhook(outcome: str) -> None:
    """One POST to the webhook: accepted, duplicate, forbidden (bad secret), bad_request, backlog_full or
    unavailable (503: the database is not answering)."""
    TELEGRAM_WEBHOOK.labels(outcome=outcome if outcome in TELEGRAM_WEBHOOK_OUTCOMES else "bad_request").inc()


def record_telegram_update(*, failed: bool = False) -> None:
    """Called once per update taken (processed) and once more when its handling failed."""
    TELEGRAM_UPDATES.labels(outcome="failed" if failed else "processed").inc()


def record_cache_failure(*, operation: str) -> None:
    """One cache operation (get, add, incr, …) failed and was answered as a miss."""
    CACHE_FAILURES.labels(operation=operation).inc()


# --- Database query timer -------------------------------------------------------------------


def _statement_kind(sql: str) -> str:
    verb = sql.lstrip()[:6].lower()
    return verb if verb in ("select", "insert", "update", "delete") else "other"


def _time_query(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        DB_QUERY_LATENCY.labels(kind=_statement_kind(sql)).observe(time.perf_counter() - started)


def _add_query_timer(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _time_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_time_query)


def install_db_query_timer() -> None:
    """Time every statement on every connection (connection_created fires per new connection)."""
    from django.db import connections
    from django.db.backends.signals import connection_created

    connection_created.connect(_add_query_timer, dispatch_uid="dm_db_query_timer")
    for conn in connections.all(initialized_only=True):
        _add_query_timer(None, conn)


# --- HTTP middleware ------------------------------------------------------------------------


# Anyone can send any method name; only these become label values (the rest count as "other").
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route(request: HttpRequest) -> str:
    """The URL pattern (e.g. `api/conversations/<int:pk>/`), never the raw path: bounded labels."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return "/" + (match.route or match.view_name or "unmatched")


class MetricsMiddleware:
    """Counts every HTTP request and its latency by route pattern and status."""

    async_capable = True
    sync_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if iscoroutinefunction(self):
            return self._acall(request)  # type: ignore[attr-defined]
        started = time.perf_counter()
        response = self.get_response(request)
        self._observe(request, response, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)
        self._observe(request, response, started)
        return response

    @staticmethod
    def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
        route = _route(request)
        method = request.method if request.method in KNOWN_METHODS else "other"
        HTTP_REQUESTS.labels(method=method, route=route, status=str(response.status_code)).inc()
        HTTP_LATENCY.labels(method=method, route=route).observe(time.perf_counter() - started)


# --- WebSocket ASGI wrapper -----------------------------------------------------------------


def _ws_route(path: str) -> str:
    """`/ws/persona/ivan/` → `/ws/persona/`: the socket kind, without ids (bounded labels)."""
    parts = [part for part in path.split("/") if part]
    return f"/ws/{parts[1]}/" if len(parts) >= 2 and parts[0] == "ws" else "other"


class WebSocketMetricsMiddleware:
    """Wraps the WebSocket ASGI app: open connections, and handshakes accepted vs refused."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        route = _ws_route(scope.get("path", ""))
        accepted = False

        async def counting_send(message: dict) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                WS_OPEN.labels(route=route).inc()
                WS_CONNECTIONS.labels(route=route, outcome="accepted").inc()
            elif message["type"] == "websocket.close" and not accepted:
                WS_CONNECTIONS.labels(route=route, outcome="refused").inc()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if accepted:
                WS_OPEN.labels(route=route).dec()


# --- Collecting: all processes' samples plus the scrape-time collectors ----------------------

ScrapeCollector = Callable[[], Iterable[Metric]]
_scrape_collectors: dict[str, ScrapeCollector] = {}


def register_scrape_collector(name: str, collect: ScrapeCollector) -> None:
    """Add metrics computed at scrape time from shared state (database, broker): a function
    returning prometheus_client metric families. Register from AppConfig.ready()."""
    _scrape_collectors[name] = collect


class _AppCollectors:
    """Runs every registered scrape collector; one that fails is reported, not fatal."""

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("dm_scrape_collector_up", "1 when the collector answered.", labels=["collector"])
        for name, collect in _scrape_collectors.items():
            try:
                families = list(collect())
            except Exception:  # one broken source must not blank /metrics
                logger.warning("scrape collector failed", extra={"collector": name}, exc_info=True)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


class _ThisProcess:
    """The in-process registry, when not in multiprocess mode."""

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()


def _forget_dead_processes(path: str) -> None:
    """Drop the live gauges of processes that died without cleaning up (killed): their sockets are
    closed. Same host only — the directory is per host (docs/ARCHITECTURE.md)."""
    for filename in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid_text = os.path.basename(filename).rsplit("_", 1)[-1].removesuffix(".db")
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(int(pid_text), path)
        except (ValueError, PermissionError):
            continue


def process_metrics_registry(*, with_app_collectors: bool = True) -> CollectorRegistry:
    """A registry that yields every process's samples (multiprocess mode) or this process's."""
    registry = CollectorRegistry()
    if MULTIPROCESS_DIR:
        _forget_dead_processes(MULTIPROCESS_DIR)
        multiprocess.MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
    else:
        registry.register(_ThisProcess())  # type: ignore[arg-type]
    if with_app_collectors:
        registry.register(_AppCollectors())  # type: ignore[arg-type]
    return registry


# --- /metrics -------------------------------------------------------------------------------

_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


def _is_loopback(request: HttpRequest) -> bool:
    """A direct local scrape. Behind a reverse proxy every request comes from loopback, so a
    request carrying forwarding headers is treated as remote."""
    if any(header in request.META for header in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _has_token(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), expected.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format for loopback scrapers or `Authorization: Bearer METRICS_TOKEN`."""
    from digitalme.errors import json_error

    if not (_has_token(request) or _is_loopback(request)):
        return json_error(
            request, 403, "Metrics are served to loopback or with Authorization: Bearer <METRICS_TOKEN>.", "forbidden"
        )
    if request.method not in ("GET", "HEAD"):
        return json_error(request, 405, "Use GET.", "method_not_allowed")
    return HttpResponse(generate_latest(process_metrics_registry()), content_type=CONTENT_TYPE_LATEST)
