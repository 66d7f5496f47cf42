"""Syncing one integration: lock, fresh token, each enabled kind, idempotent upserts, a SyncRun.

Gmail: metadata of recent messages, incremental through historyId (404 → full sync).
Calendar: events 7 days back to 14 ahead, incremental through syncToken (410 → full sync).
GitHub: events, repositories and open pull requests with reviews, ETags so 304s cost nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations import services
from integrations.clients.github import GitHubClient
from integrations.clients.google import GoogleClient
from integrations.errors import RateLimited, ReconnectNeeded, ResyncRequired, SyncError, TransientSyncError
from integrations.models import (
    PROVIDER_KINDS,
    CalendarEvent,
    GitHubEvent,
    GitHubPullRequest,
    GitHubRepository,
    GmailMessage,
    Integration,
    IntegrationStatus,
    Kind,
    Provider,
    SyncRun,
    SyncStatus,
)

logger = logging.getLogger(__name__)

CALENDAR_PAST = timedelta(days=7)
CALENDAR_AHEAD = timedelta(days=14)
GMAIL_FULL_SYNC_QUERY = "newer_than:7d"


class SyncLocked(Exception):  # noqa: N818
    """Another run for the same integration holds the lock."""


@contextmanager
def integration_lock(integration_id: int):
    """A cache lock (atomic add in Redis) so two runs for one integration never overlap."""
    key = f"integrations:sync-lock:{integration_id}"
    owner = uuid.uuid4().hex
    if not cache.add(key, owner, timeout=settings.INTEGRATIONS_SYNC_LOCK_TTL_S):
        raise SyncLocked(f"integration {integration_id} is already syncing")
    try:
        yield
    finally:
        if cache.get(key) == owner:
            cache.delete(key)


def new_counts() -> dict[str, int]:
    return {"fetched": 0, "created": 0, "updated": 0, "deleted": 0}


def _upsert(model: Any, lookup: dict, values: dict, counts: dict[str, int]) -> None:
    _, created = model.objects.update_or_create(**lookup, defaults=values)
    counts["created" if created else "updated"] += 1


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(str(value).replace("Z", "+00:00"))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


# --- Gmail ---------------------------------------------------------------------------------------


def _gmail_values(message: dict) -> dict[str, Any]:
    headers = {h.get("name", "").lower(): h.get("value", "") for h in message.get("payload", {}).get("headers", [])}
    sent_at = None
    if message.get("internalDate"):
        sent_at = datetime.fromtimestamp(int(message["internalDate"]) / 1000, tz=UTC)
    elif headers.get("date"):
        try:
            sent_at = parsedate_to_datetime(headers["date"])
        except (TypeError, ValueError):
            sent_at = None
    return {
        "thread_id": message.get("threadId", "")[:64],
        "sender": headers.get("from", "")[:500],
        "recipients": headers.get("to", ""),
        "subject": headers.get("subject", "")[:1000],
        "sent_at": sent_at,
        "labels": list(message.get("labelIds", [])),
        "snippet": message.get("snippet", "")[:500],
        "synced_at": timezone.now(),
    }


def _gmail_fetch(client: GoogleClient, integration: Integration, ids: Iterable[str], counts: dict[str, int]) -> None:
    for message_id in ids:
        message = client.gmail_message_metadata(message_id)
        if message is None:  # deleted meanwhile
            counts["deleted"] += GmailMessage.objects.filter(integration=integration, message_id=message_id).delete()[0]
            continue
        counts["fetched"] += 1
        _upsert(
            GmailMessage,
            {"integration": integration, "message_id": message_id},
            {"user_id": integration.user_id, **_gmail_values(message)},
            counts,
        )


def sync_gmail(integration: Integration, client: GoogleClient) -> dict[str, Any]:
    counts: dict[str, Any] = new_counts()
    history_id = integration.cursors.get("gmail_history_id")
    if history_id:
        try:
            records, latest = client.gmail_history(start_history_id=str(history_id))
        except ResyncRequired:
            history_id = None
            counts["full_resync"] = True
        else:
            changed: dict[str, None] = {}
            deleted: set[str] = set()
            for record in records:
                for key in ("messagesAdded", "labelsAdded", "labelsRemoved"):
                    for item in record.get(key, []):
                        changed[item["message"]["id"]] = None
                for item in record.get("messagesDeleted", []):
                    deleted.add(item["message"]["id"])
            _gmail_fetch(client, integration, [i for i in changed if i not in deleted], counts)
            counts["deleted"] += GmailMessage.objects.filter(integration=integration, message_id__in=deleted).delete()[
                0
            ]
            integration.cursors["gmail_history_id"] = latest
            return counts
    latest = str(client.gmail_profile().get("historyId", ""))
    listed = list(client.gmail_message_ids(query=GMAIL_FULL_SYNC_QUERY, limit=settings.INTEGRATIONS_GMAIL_MAX_MESSAGES))
    known = set(GmailMessage.objects.filter(integration=integration).values_list("message_id", flat=True))
    _gmail_fetch(client, integration, [i for i in listed if i not in known], counts)
    counts["deleted"] += GmailMessage.objects.filter(integration=integration).exclude(message_id__in=listed).delete()[0]
    integration.cursors["gmail_history_id"] = latest
    return counts


# --- Calendar ------------------------------------------------------------------------------------


def _event_times(event: dict) -> tuple[datetime | None, datetime | None, bool]:
    start, end = event.get("start", {}), event.get("end", {})
    if "dateTime" in start:
        return _parse_time(start["dateTime"]), _parse_time(end.get("dateTime")), False
    if "date" in start:
        starts = _parse_time(f"{start['date']}T00:00:00+00:00")
        ends = _parse_time(f"{end.get('date', start['date'])}T00:00:00+00:00")
        return starts, ends, True
    return None, None, False


def sync_calendar(integration: Integration, client: GoogleClient) -> dict[str, Any]:
    counts: dict[str, Any] = new_counts()
    now = timezone.now()
    sync_token = integration.cursors.get("calendar_sync_token")
    full = not sync_token
    events: list[dict] = []
    next_token = ""
    if sync_token:
        try:
            events, next_token = client.calendar_events(sync_token=sync_token)
        except ResyncRequired:
            full = True
            counts["full_resync"] = True
    if full:
        events, next_token = client.calendar_events(time_min=now - CALENDAR_PAST, time_max=now + CALENDAR_AHEAD)
    seen: set[str] = set()
    with transaction.atomic():  # the page is fetched; its writes are one short transaction
        _calendar_store(integration, events, counts, seen=seen, now=now, full=full)
    integration.cursors["calendar_sync_token"] = next_token
    return counts


def _calendar_store(
    integration: Integration, events: list[dict], counts: dict[str, Any], *, seen: set[str], now: datetime, full: bool
) -> None:
    for event in events:
        counts["fetched"] += 1
        event_id = str(event.get("id", ""))[:255]
        if not event_id:
            continue
        if event.get("status") == "cancelled":
            counts["deleted"] += CalendarEvent.objects.filter(integration=integration, event_id=event_id).delete()[0]
            continue
        starts_at, ends_at, all_day = _event_times(event)
        if starts_at is None or ends_at is None:
            continue
        seen.add(event_id)
        _upsert(
            CalendarEvent,
            {"integration": integration, "event_id": event_id},
            {
                "user_id": integration.user_id,
                "summary": str(event.get("summary", ""))[:1000],
                "starts_at": starts_at,
                "ends_at": ends_at,
                "all_day": all_day,
                "status": str(event.get("status", ""))[:16],
                "attendees_count": len(event.get("attendees", [])),
                "html_link": str(event.get("htmlLink", ""))[:1000],
                "synced_at": now,
            },
            counts,
        )
    stale = CalendarEvent.objects.filter(integration=integration, ends_at__lt=now - CALENDAR_PAST)
    if full:
        stale = stale | CalendarEvent.objects.filter(integration=integration).exclude(event_id__in=seen)
    counts["deleted"] += stale.delete()[0]


# --- GitHub --------------------------------------------------------------------------------------


def _github_event_values(event: dict) -> dict[str, Any]:
    payload = event.get("payload") or {}
    item = payload.get("pull_request") or payload.get("issue") or {}
    values: dict[str, Any] = {
        "type": str(event.get("type", ""))[:64],
        "repo": str((event.get("repo") or {}).get("name", ""))[:255],
        "action": str(payload.get("action", ""))[:64],
        "title": str(item.get("title", ""))[:1000],
        "number": item.get("number") or payload.get("number"),
        "commit_count": 0,
        "url": str(item.get("html_url", ""))[:1000],
        "occurred_at": _parse_time(event.get("created_at")) or timezone.now(),
    }
    if event.get("type") == "PushEvent":
        values["commit_count"] = int(payload.get("size") or len(payload.get("commits", [])) or 0)
        values["title"] = str(payload.get("ref", "")).removeprefix("refs/heads/")[:1000]
    elif event.get("type") == "CreateEvent":
        values["title"] = f"{payload.get('ref_type', '')} {payload.get('ref') or ''}".strip()[:1000]
    return values


def sync_github(integration: Integration, client: GitHubClient) -> dict[str, Any]:
    counts: dict[str, Any] = new_counts()
    etags: dict[str, str] = dict(integration.cursors.get("github_etags", {}))
    login = integration.cursors.get("github_login")
    if not login:
        login = client.user()["login"]
        integration.cursors["github_login"] = login
    events, etags["events"] = client.user_events(login=login, etag=etags.get("events", ""))
    if events is None:
        counts["not_modified"] = counts.get("not_modified", 0) + 1
    with transaction.atomic():  # fetched; the writes are one short transaction
        for event in events or []:
            counts["fetched"] += 1
            _upsert(
                GitHubEvent,
                {"integration": integration, "event_id": str(event["id"])},
                {"user_id": integration.user_id, **_github_event_values(event), "synced_at": timezone.now()},
                counts,
            )
    repos, etags["repos"] = client.user_repos(etag=etags.get("repos", ""))
    if repos is None:
        counts["not_modified"] = counts.get("not_modified", 0) + 1
    with transaction.atomic():
        _github_repos_store(integration, repos or [], counts)
    open_keys: set[tuple[str, int]] = set()
    for pr in client.open_pull_requests(login=login):
        counts["fetched"] += 1
        repo_name = str(pr.get("repository_url", "")).split("/repos/", 1)[-1][:255]
        number = int(pr["number"])
        open_keys.add((repo_name, number))
        etag_key = f"reviews:{repo_name}#{number}"
        reviews, etags[etag_key] = client.pull_request_reviews(
            repo=repo_name, number=number, etag=etags.get(etag_key, "")
        )
        values = {
            "user_id": integration.user_id,
            "title": str(pr.get("title", ""))[:1000],
            "state": "open",
            "draft": bool(pr.get("draft")),
            "opened_at": _parse_time(pr.get("created_at")) or timezone.now(),
            "html_url": str(pr.get("html_url", ""))[:1000],
            "synced_at": timezone.now(),
        }
        if reviews is not None:
            values["review_count"] = len(reviews)
        # One PR per reviews call: its own short write, never held across the next call.
        _upsert(GitHubPullRequest, {"integration": integration, "repo": repo_name, "number": number}, values, counts)
    with transaction.atomic():
        for closed in GitHubPullRequest.objects.filter(integration=integration):
            if (closed.repo, closed.number) not in open_keys:
                etags.pop(f"reviews:{closed.repo}#{closed.number}", None)
                closed.delete()
                counts["deleted"] += 1
    integration.cursors["github_etags"] = etags
    return counts


def _github_repos_store(integration: Integration, repos: list[dict], counts: dict[str, Any]) -> None:
    for repo in repos:
        counts["fetched"] += 1
        _upsert(
            GitHubRepository,
            {"integration": integration, "repo_id": int(repo["id"])},
            {
                "user_id": integration.user_id,
                "full_name": str(repo.get("full_name", ""))[:255],
                "private": bool(repo.get("private")),
                "description": str(repo.get("description") or "")[:1000],
                "html_url": str(repo.get("html_url", ""))[:500],
                "pushed_at": _parse_time(repo.get("pushed_at")),
                "synced_at": timezone.now(),
            },
            counts,
        )


KIND_SYNCS: dict[str, Callable[[Integration, Any], dict[str, Any]]] = {
    Kind.GMAIL: sync_gmail,
    Kind.CALENDAR: sync_calendar,
    Kind.GITHUB: sync_github,
}


def client_for(integration: Integration) -> GoogleClient | GitHubClient:
    """An API client with a fresh token; a 401 refreshes (Google) once, then means reconnect."""
    access_token = services.integration_access_token(integration=integration)
    if integration.provider == Provider.GOOGLE:
        return GoogleClient(
            access_token=access_token,
            on_unauthorized=lambda: services.integration_token_refresh(integration=integration),
        )
    return GitHubClient(access_token=access_token)


# --- the run -------------------------------------------------------------------------------------


def _finish(run: SyncRun, integration: Integration, *, started: float, requests: int) -> None:
    """Record the run and the integration's new state.

    Under the integration's row lock (the same lock a privacy switch takes first): a kind
    switched off while this run fetched it loses what the run wrote and its cursor.
    """
    run.finished_at = timezone.now()
    run.duration_ms = int((time.perf_counter() - started) * 1000)
    run.requests = requests
    run.save()
    with transaction.atomic():
        current = Integration.objects.select_for_update().get(pk=integration.pk)
        for kind in PROVIDER_KINDS[integration.provider]:
            if not current.kinds.get(kind, True):
                services.integration_kind_data_delete(integration=integration, kind=kind)
        fields: dict[str, Any] = {
            "last_sync_at": run.finished_at,
            "cursors": integration.cursors,
            "kind_synced_at": integration.kind_synced_at,
        }
        if run.status == SyncStatus.OK:
            fields.update(last_success_at=run.finished_at, last_error="")
        elif run.errors:
            fields["last_error"] = "; ".join(f"{e['kind']}: {e['detail']}" for e in run.errors)[:500]
        Integration.objects.filter(pk=integration.pk).update(**fields)


def integration_sync(*, integration_id: int, trigger: str = "beat", kinds: list[str] | None = None) -> SyncRun | None:
    """Sync every enabled kind of one integration and record a SyncRun.

    Returns None when there is nothing to do (disabled, reconnect needed) or another run holds
    the lock. Raises RateLimited / TransientSyncError after recording them so the task can retry.
    """
    try:
        with integration_lock(integration_id):
            return _integration_sync_locked(integration_id=integration_id, trigger=trigger, kinds=kinds)
    except SyncLocked:
        logger.info("sync skipped: already running", extra={"integration_id": integration_id})
        return None


def _integration_sync_locked(*, integration_id: int, trigger: str, kinds: list[str] | None) -> SyncRun | None:
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None or not integration.enabled or integration.status != IntegrationStatus.ACTIVE:
        return None
    wanted = [k for k in integration.enabled_kinds if kinds is None or k in kinds]
    if not wanted:
        return None
    _close_interrupted_runs(integration)
    started = time.perf_counter()
    run = SyncRun.objects.create(integration=integration, provider=integration.provider, trigger=trigger)
    try:
        client = client_for(integration)
    except ReconnectNeeded as exc:
        services.integration_mark_reconnect_needed(integration=integration, detail=exc.detail)
        run.status = SyncStatus.FAILED
        run.errors = [{"kind": "auth", "code": exc.code, "detail": exc.detail}]
        _finish(run, integration, started=started, requests=0)
        return run
    except TransientSyncError as exc:
        run.status = SyncStatus.FAILED
        run.errors = [{"kind": "auth", "code": exc.code, "detail": exc.detail}]
        _finish(run, integration, started=started, requests=0)
        raise
    except Exception as exc:
        _fail_unexpectedly(run, integration, exc, started=started, requests=0)
        raise
    try:
        retry_error = _sync_kinds(run, integration, client, wanted)
    except Exception as exc:
        _fail_unexpectedly(run, integration, exc, started=started, requests=client.stats.requests)
        raise
    requests = client.stats.requests
    if not run.errors:
        run.status = SyncStatus.OK
    elif retry_error is not None and isinstance(retry_error, RateLimited):
        run.status = SyncStatus.RATE_LIMITED
    elif len(run.errors) < len(wanted) and not integration.reconnect_needed:
        run.status = SyncStatus.PARTIAL
    else:
        run.status = SyncStatus.FAILED
    _finish(run, integration, started=started, requests=requests)
    logger.info(
        "integration synced",
        extra={"integration_id": integration.pk, "status": run.status, "duration_ms": run.duration_ms},
    )
    if retry_error is not None:
        raise retry_error
    return run


def _fail_unexpectedly(
    run: SyncRun, integration: Integration, exc: Exception, *, started: float, requests: int
) -> None:
    """A provider surprise or a bug: the run ends as failed (never "running" forever); the caller
    re-raises, so the task and Sentry still see the error."""
    logger.exception("integration sync failed unexpectedly", extra={"integration_id": integration.pk})
    run.status = SyncStatus.FAILED
    run.errors.append({"kind": "sync", "code": "unexpected", "detail": f"Unexpected error ({type(exc).__name__})."})
    _finish(run, integration, started=started, requests=requests)


def _close_interrupted_runs(integration: Integration) -> int:
    """Runs still "running" that no process can be running any more (older than the sync lock, which
    this run now holds): their worker was killed or hit the hard time limit. They end as failed."""
    now = timezone.now()
    return SyncRun.objects.filter(
        integration=integration,
        status=SyncStatus.RUNNING,
        started_at__lt=now - timedelta(seconds=settings.INTEGRATIONS_SYNC_LOCK_TTL_S),
    ).update(
        status=SyncStatus.FAILED,
        finished_at=now,
        errors=[{"kind": "sync", "code": "interrupted", "detail": "The run was interrupted (worker stopped)."}],
    )


def _sync_kinds(run: SyncRun, integration: Integration, client: Any, wanted: list[str]) -> SyncError | None:
    """Each kind in turn. No transaction spans a kind: its HTTP calls (and the provider's rate-limit
    waits) happen outside any, and each fetched page is written in a short one, so neither SQLite
    (`make run`: "database is locked") nor PostgreSQL (idle in transaction) is held by a sync.
    A kind that fails halfway keeps its cursor, so the next run fetches the same data again and the
    upserts stay idempotent. Returns the error the task should retry on, if any."""
    retry_error: SyncError | None = None
    with client:
        for kind in wanted:
            try:
                run.counts[kind] = KIND_SYNCS[kind](integration, client)
                integration.kind_synced_at[kind] = timezone.now().isoformat()
            except ReconnectNeeded as exc:
                services.integration_mark_reconnect_needed(integration=integration, detail=exc.detail)
                run.errors.append({"kind": kind, "code": exc.code, "detail": exc.detail})
                break
            except (RateLimited, TransientSyncError) as exc:
                run.errors.append({"kind": kind, "code": exc.code, "detail": exc.detail})
                retry_error = retry_error or exc
                if isinstance(exc, RateLimited):
                    break  # never hammer a provider that asked us to wait
            except SyncError as exc:
                run.errors.append({"kind": kind, "code": exc.code, "detail": exc.detail})
    return retry_error
