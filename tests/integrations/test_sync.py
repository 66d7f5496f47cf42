"""Sync against the loopback fakes: incremental, idempotent, paginated, limits honoured."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from integrations import services
from integrations.errors import RateLimited, TransientSyncError
from integrations.models import (
    CalendarEvent,
    GitHubEvent,
    GitHubPullRequest,
    GitHubRepository,
    GmailMessage,
    Integration,
    SyncRun,
)
from integrations.sync import integration_lock, integration_sync
from tests.integrations.conftest import connect_github, connect_google

pytestmark = pytest.mark.django_db


def _sync(integration, **kwargs):
    return integration_sync(integration_id=integration.pk, trigger="manual", **kwargs)


# --- Gmail ---------------------------------------------------------------------------------------


def test_gmail_full_then_incremental_sync_stores_metadata_only(user, providers):
    google, _ = providers
    integration = connect_google(user, google)
    Integration.objects.filter(pk=integration.pk).update(kinds={"gmail": True, "calendar": False})
    for n in range(5):  # page size 2: three pages
        google.add_message(f"m{n}", subject=f"Subject {n}", body="TOP SECRET BODY")

    first = _sync(integration)

    assert first.status == "ok"
    assert GmailMessage.objects.filter(user=user).count() == 5
    assert first.counts["gmail"]["created"] == 5
    assert len(google.calls_to("/gmail/v1/users/me/messages", "GET")) >= 3 + 5
    assert all(c.q("format") == "metadata" for c in google.calls if "/messages/" in c.path)
    assert not GmailMessage.objects.filter(snippet__contains="SECRET BODY").exists()
    message = GmailMessage.objects.get(message_id="m3")
    assert (message.subject, message.sender, message.labels) == ("Subject 3", "ann@example.com", ["INBOX"])

    google.add_message("m5", subject="New one")
    google.delete_message("m0")
    google.reset_calls()
    second = _sync(integration)

    assert [c.path for c in google.calls if c.path.endswith("/history")]  # incremental, not a full list
    assert not google.calls_to("/gmail/v1/users/me/profile")
    assert second.counts["gmail"] == {"fetched": 1, "created": 1, "updated": 0, "deleted": 1}
    assert set(GmailMessage.objects.values_list("message_id", flat=True)) == {"m1", "m2", "m3", "m4", "m5"}


def test_gmail_resync_never_duplicates(user, providers):
    google, _ = providers
    integration = connect_google(user, google)
    google.add_message("m1", subject="Hello")
    _sync(integration)
    google.expire_history()  # next incremental answers 404 → full sync

    run = _sync(integration)

    assert run.counts["gmail"]["full_resync"] is True
    assert GmailMessage.objects.filter(user=user).count() == 1


# --- Calendar ------------------------------------------------------------------------------------


def test_calendar_window_sync_then_sync_token_then_410_full_resync(user, providers):
    google, _ = providers
    integration = connect_google(user, google)
    Integration.objects.filter(pk=integration.pk).update(kinds={"gmail": False, "calendar": True})
    now = datetime.now(UTC)
    google.add_event("e1", summary="Standup", start=now + timedelta(hours=1), end=now + timedelta(hours=2))
    google.add_event("e2", summary="Review", start=now + timedelta(days=1), end=now + timedelta(days=1, hours=1))
    google.add_event("e3", summary="Far future", start=now + timedelta(days=30), end=now + timedelta(days=30, hours=1))
    google.add_event("e4", summary="Last week", start=now - timedelta(days=3), end=now - timedelta(days=3, hours=-1))

    _sync(integration)

    first_call = google.calls_to("/calendar/v3")[0]
    assert first_call.q("singleEvents") == "true" and first_call.q("timeMin") and first_call.q("timeMax")
    assert set(CalendarEvent.objects.values_list("event_id", flat=True)) == {"e1", "e2", "e4"}

    google.cancel_event("e2")
    google.add_event("e5", summary="Planning", start=now + timedelta(days=2), end=now + timedelta(days=2, hours=1))
    google.reset_calls()
    _sync(integration)

    assert all(c.q("syncToken") for c in google.calls_to("/calendar/v3"))
    assert set(CalendarEvent.objects.values_list("event_id", flat=True)) == {"e1", "e4", "e5"}

    google.expire_sync_tokens()
    google.reset_calls()
    run = _sync(integration)

    statuses = [c.q("syncToken") is not None for c in google.calls_to("/calendar/v3")]
    assert statuses[0] is True and statuses[-1] is False  # 410, then a full window sync
    assert run.counts["calendar"]["full_resync"] is True
    assert CalendarEvent.objects.count() == 3


# --- GitHub --------------------------------------------------------------------------------------


def _github_fixture(github, login="ivan"):
    github.add_push(login, "ivan/digitalme", commits=3)
    github.add_pr_event(login, "ivan/digitalme", number=7, title="Add auth")
    github.add_push(login, "ivan/other", commits=1)
    github.add_repo(login, "ivan/digitalme")
    github.add_repo(login, "ivan/other")
    github.add_repo(login, "ivan/third")
    github.add_open_pr(login, "ivan/digitalme", number=7, title="Add auth", opened_days_ago=3, reviews=0)


def test_github_sync_paginates_and_a_second_run_costs_only_304s(user, providers):
    _, github = providers
    integration = connect_github(user, github)
    _github_fixture(github)

    first = _sync(integration)

    assert first.status == "ok"
    assert GitHubEvent.objects.count() == 3
    assert GitHubRepository.objects.count() == 3
    assert len(github.calls_to("/user/repos")) == 2  # two pages of two
    pr = GitHubPullRequest.objects.get()
    assert (pr.repo, pr.number, pr.review_count) == ("ivan/digitalme", 7, 0)
    assert GitHubEvent.objects.get(type="PushEvent", repo="ivan/digitalme").commit_count == 3

    github.reset_calls()
    second = _sync(integration)

    assert second.counts["github"]["not_modified"] == 2
    assert second.counts["github"]["created"] == 0
    repo_calls = github.calls_to("/user/repos")
    assert len(repo_calls) == 1 and repo_calls[0].headers["if-none-match"]
    assert GitHubEvent.objects.count() == 3 and GitHubRepository.objects.count() == 3


def test_github_waits_for_retry_after_then_continues(user, providers):
    _, github = providers
    integration = connect_github(user, github)
    _github_fixture(github)
    github.script("/users/ivan/events", 403, {"message": "secondary rate limit"}, {"Retry-After": "1"})

    started = time.monotonic()
    run = _sync(integration)

    assert run.status == "ok"
    calls = github.calls_to("/users/ivan/events")
    assert calls[1].at - calls[0].at >= 0.95
    assert time.monotonic() - started < 5


def test_github_spent_quota_with_a_far_reset_defers_instead_of_hammering(user, providers):
    _, github = providers
    integration = connect_github(user, github)
    _github_fixture(github)
    reset = str(int(time.time()) + 1800)
    github.script(
        "/users/ivan/events",
        403,
        {"message": "API rate limit exceeded"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        times=5,
    )

    with pytest.raises(RateLimited) as caught:
        _sync(integration)

    assert 1700 < caught.value.retry_after <= 1800
    assert len(github.calls_to("/users/ivan/events")) == 1
    assert not github.calls_to("/user/repos")  # nothing else was tried after the limit
    assert SyncRun.objects.get().status == "rate_limited"


def test_google_429_and_403_rate_limit_exceeded_back_off_then_succeed(user, providers):
    google, _ = providers
    integration = connect_google(user, google)
    google.add_message("m1", subject="Hi")
    google.script("/gmail/v1/users/me/messages", 429, {"error": {"code": 429, "message": "Too many"}})
    google.script(
        "/calendar/v3",
        403,
        {"error": {"code": 403, "errors": [{"reason": "userRateLimitExceeded"}], "message": "slow down"}},
    )

    run = _sync(integration)

    assert run.status == "ok"
    assert [c.path for c in google.calls_to("/gmail/v1/users/me/messages", "GET")].count(
        "/gmail/v1/users/me/messages"
    ) == 2
    assert len(google.calls_to("/calendar/v3")) == 2


def test_5xx_is_retried_then_reported_as_transient(user, providers, settings):
    _, github = providers
    settings.INTEGRATIONS_MAX_HTTP_ATTEMPTS = 3
    integration = connect_github(user, github)
    _github_fixture(github)
    github.script("/users/ivan/events", 502, {"message": "bad gateway"}, times=3)

    with pytest.raises(TransientSyncError):
        _sync(integration)

    run = SyncRun.objects.get()
    assert run.status == "failed"
    assert run.errors[0]["code"] == "provider_unavailable"
    assert len(github.calls_to("/users/ivan/events")) == 3
    assert "server error 502" in Integration.objects.get().last_error


def test_a_run_records_counts_duration_and_requests(user, providers):
    _, github = providers
    integration = connect_github(user, github)
    _github_fixture(github)

    run = _sync(integration)

    assert run.duration_ms is not None and run.finished_at is not None
    assert run.requests == len(github.calls)
    assert run.counts["github"]["fetched"] == 3 + 3 + 1


def test_two_runs_for_one_integration_never_overlap(user, providers):
    _, github = providers
    integration = connect_github(user, github)

    with integration_lock(integration.pk):
        assert _sync(integration) is None

    assert github.calls == []
    assert _sync(integration).status == "ok"


def test_switched_off_integration_is_not_synced(user, providers):
    _, github = providers
    integration = connect_github(user, github)
    Integration.objects.filter(pk=integration.pk).update(enabled=False)

    assert _sync(integration) is None
    assert github.calls == []


def test_switched_off_kind_is_not_fetched(user, providers):
    google, _ = providers
    integration = connect_google(user, google)
    Integration.objects.filter(pk=integration.pk).update(kinds={"gmail": False, "calendar": True})

    _sync(integration)

    assert not google.calls_to("/gmail")
    assert google.calls_to("/calendar/v3")


@pytest.mark.django_db(transaction=True)
def test_a_kind_switched_off_during_a_run_keeps_no_data_and_no_cursor(user, providers):
    google, _ = providers
    integration = connect_google(user, google)
    google.add_message("m1", subject="Hello")
    now = datetime.now(UTC)
    google.add_event("e1", summary="Standup", start=now + timedelta(hours=1), end=now + timedelta(hours=2))

    def switch_calendar_off_once(call):
        if call.path.endswith("/profile"):  # gmail is being fetched; calendar comes next
            google.on_request = None
            services.integration_update(user=user, provider="google", kinds={"calendar": False})
            connection.close()  # this thread's connection, so the test database can be dropped

    google.on_request = switch_calendar_off_once

    run = _sync(integration)

    assert run.counts["calendar"]["created"] == 1  # the run had fetched it...
    assert not CalendarEvent.objects.exists()  # ...but nothing stays
    integration.refresh_from_db()
    assert "calendar_sync_token" not in integration.cursors
    assert GmailMessage.objects.count() == 1


# --- no transaction across HTTP; no run left "running" (issue 11) -------------------------------


def _transactions_open(database: str) -> int:
    """Connections to `database` sitting inside a transaction (other than this one)."""
    import psycopg

    with psycopg.connect(
        host=connection.settings_dict["HOST"] or "127.0.0.1",
        port=connection.settings_dict["PORT"] or 5432,
        user=connection.settings_dict["USER"],
        dbname=database,
        autocommit=True,
    ) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
            "AND state IN ('idle in transaction', 'idle in transaction (aborted)')",
            [database],
        ).fetchone()
    return row[0] if row else 0


@pytest.mark.django_db(transaction=True)
def test_no_database_transaction_is_open_while_a_provider_is_called(user, providers):
    google, github = providers
    database = connection.settings_dict["NAME"]
    google_integration = connect_google(user, google)
    github_integration = connect_github(user, github)
    _github_fixture(github)
    for n in range(3):
        google.add_message(f"m{n}", subject=f"Subject {n}")
    seen: list[int] = []
    google.on_request = github.on_request = lambda call: seen.append(_transactions_open(database))

    assert _sync(google_integration).status == "ok"
    assert _sync(github_integration).status == "ok"

    assert len(seen) > 10
    assert set(seen) == {0}


def test_an_unexpected_error_fails_the_run_instead_of_leaving_it_running(user, providers):
    _, github = providers
    integration = connect_github(user, github)
    github.script("/users/ivan/events", 200, body=[{"type": "PushEvent"}])  # no "id": a provider surprise

    with pytest.raises(KeyError):
        _sync(integration)

    run = SyncRun.objects.get(integration=integration)
    assert run.status == "failed"
    assert run.finished_at is not None
    assert run.errors[0]["code"] == "unexpected"
    integration.refresh_from_db()
    assert "unexpected" in integration.last_error.lower()


def test_a_run_whose_worker_died_is_closed_as_failed_by_the_next_run(user, providers, settings):
    _, github = providers
    integration = connect_github(user, github)
    dead = SyncRun.objects.create(
        integration=integration,
        provider="github",
        started_at=timezone.now() - timedelta(seconds=settings.INTEGRATIONS_SYNC_LOCK_TTL_S + 1),
    )

    assert _sync(integration).status == "ok"

    dead.refresh_from_db()
    assert dead.status == "failed" and dead.finished_at is not None
    assert dead.errors[0]["code"] == "interrupted"
