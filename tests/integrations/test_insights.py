"""Insights from fixture data, the API, and what reaches Ivan's prompt context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chat.context import context_for
from integrations import insights
from integrations.models import CalendarEvent, GitHubEvent, GitHubPullRequest, GmailMessage, Integration, Provider

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday


def _at(hour: int, minute: int = 0, days: int = 0) -> datetime:
    return NOW.replace(hour=hour, minute=minute) + timedelta(days=days)


@pytest.fixture
def synced(user):
    """A user with Google and GitHub data as a sync would leave it."""
    synced_at = (NOW - timedelta(minutes=12)).isoformat()
    google = Integration.objects.create(
        user=user,
        provider=Provider.GOOGLE,
        kinds={"gmail": True, "calendar": True},
        kind_synced_at={"gmail": synced_at, "calendar": synced_at},
    )
    github = Integration.objects.create(
        user=user, provider=Provider.GITHUB, kinds={"github": True}, kind_synced_at={"github": synced_at}
    )
    for n, (start, end) in enumerate(
        [((10, 30), (11, 0)), ((11, 0), (12, 0)), ((13, 0), (14, 0)), ((15, 0), (16, 30))]
    ):
        CalendarEvent.objects.create(
            user=user,
            integration=google,
            event_id=f"e{n}",
            summary=f"Meeting {n}",
            starts_at=_at(*start),
            ends_at=_at(*end),
        )
    GitHubPullRequest.objects.create(
        user=user,
        integration=github,
        repo="acme/api",
        number=42,
        title="Auth rewrite",
        opened_at=NOW - timedelta(days=3),
        review_count=0,
    )
    GitHubPullRequest.objects.create(
        user=user,
        integration=github,
        repo="acme/api",
        number=43,
        title="Reviewed one",
        opened_at=NOW - timedelta(days=5),
        review_count=2,
    )
    for n, commits in enumerate([4, 3, 2]):
        GitHubEvent.objects.create(
            user=user,
            integration=github,
            event_id=f"p{n}",
            type="PushEvent",
            repo="acme/api",
            commit_count=commits,
            title="main",
            occurred_at=NOW - timedelta(hours=2 + n),
        )
    GmailMessage.objects.create(
        user=user,
        integration=google,
        message_id="m1",
        thread_id="t1",
        subject="Re: api deploy failing on staging",
        sender="ops@example.com",
        sent_at=NOW - timedelta(hours=1),
    )
    GmailMessage.objects.create(
        user=user,
        integration=google,
        message_id="m2",
        thread_id="t2",
        subject="Lunch on Friday?",
        sent_at=NOW - timedelta(hours=3),
    )
    return google, github


def test_insights_from_fixture_data_are_explained_with_sources(user, synced):
    found = {i.type: i for i in insights.compute_insights(user=user, now=NOW)}

    assert set(found) == {
        "heavy_meeting_day",
        "free_afternoon",
        "pr_waiting_for_review",
        "commit_burst",
        "email_matches_repo",
    }
    heavy = found["heavy_meeting_day"]
    assert heavy.text == "4 meetings today (4 h in total), the first at 10:30."
    assert [s.id for s in heavy.sources] == ["e0", "e1", "e2", "e3"]
    assert "tomorrow" in found["free_afternoon"].text  # today's afternoon has meetings
    assert (
        found["pr_waiting_for_review"].text
        == "PR #42 'Auth rewrite' in acme/api has been waiting for review for 3 days."
    )
    assert found["commit_burst"].text.startswith("9 commits pushed to acme/api in the last 24 hours (3 pushes)")
    email = found["email_matches_repo"]
    assert "Re: api deploy failing on staging" in email.text and email.kinds == ("gmail", "github")
    assert all(i.synced_at == NOW - timedelta(minutes=12) for i in found.values())


def test_quiet_data_gives_no_heavy_day_and_no_burst(user, synced):
    CalendarEvent.objects.filter(event_id__in=["e0", "e1"]).delete()
    GitHubEvent.objects.filter(event_id__in=["p0", "p1"]).delete()

    types = {i.type for i in insights.compute_insights(user=user, now=NOW)}

    assert "heavy_meeting_day" not in types and "commit_burst" not in types


def test_insights_api_shows_freshness(auth_client, user, synced):
    body = auth_client.get("/api/insights/").json()

    assert body["insights"]
    item = body["insights"][0]
    assert {"type", "text", "explanation", "sources", "time", "synced_at", "freshness", "source_label"} <= set(item)
    assert item["freshness"].startswith("synced ")


def test_context_provider_gives_the_enabled_insight_with_its_source_and_age(user, synced, freezer_now):
    items = context_for(user, "how busy is my day, any meetings?")

    texts = [item.text for item in items]
    assert any("4 meetings today" in t and "(from your calendar)" in t for t in texts)
    assert not any("synced" in t for t in texts)  # the age travels as observed_at; the prompt writes it once
    heavy = next(item for item in items if "4 meetings today" in item.text)
    assert heavy.source == "calendar"
    assert heavy.observed_at == NOW - timedelta(minutes=12)
    assert heavy.relevance > min(item.relevance for item in items)  # the question was about meetings


def test_a_disabled_kind_never_reaches_the_context(auth_client, user, synced, freezer_now):
    auth_client.patch("/api/integrations/google/", {"kinds": {"calendar": False}}, format="json")
    Integration.objects.filter(provider="github").update(enabled=False)

    texts = " ".join(item.text for item in context_for(user, "what about my meetings and PRs?"))

    assert "meeting" not in texts.lower()
    assert "acme/api" not in texts and "PR #42" not in texts
    assert not CalendarEvent.objects.filter(user=user).exists()


def test_freshness_wording():
    assert insights.freshness(NOW - timedelta(seconds=20), NOW) == "synced just now"
    assert insights.freshness(NOW - timedelta(minutes=1), NOW) == "synced 1 minute ago"
    assert insights.freshness(NOW - timedelta(hours=3, minutes=5), NOW) == "synced 3 hours ago"
    assert insights.freshness(None, NOW) == "not synced yet"
