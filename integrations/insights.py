"""Activity insights: small, explainable observations derived from the synced data.

Each insight says what was seen, why it counts (the rule and the numbers), which rows it comes
from and how fresh they are. Only kinds the user has enabled are read, so nothing from a
switched-off kind can reach the API or Ivan's prompt (`insight_context_items`).
"""

from __future__ import annotations

import re
import zoneinfo
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chat.context import ContextItem
from digitalme.freshness import freshness as freshness  # re-exported: the insights API shows it
from integrations.models import (
    CalendarEvent,
    GitHubEvent,
    GitHubPullRequest,
    GmailMessage,
    Integration,
    IntegrationStatus,
    Kind,
)

HEAVY_DAY_MIN_MEETINGS = 4
HEAVY_DAY_MIN_HOURS = 4.0
PR_WAITING_MIN_DAYS = 2
COMMIT_BURST_MIN_COMMITS = 5
COMMIT_BURST_WINDOW = timedelta(hours=24)
ACTIVE_REPO_WINDOW = timedelta(days=7)
AFTERNOON = (time(13, 0), time(18, 0))
KIND_LABELS: dict[str, str] = {Kind.GMAIL: "Gmail", Kind.CALENDAR: "calendar", Kind.GITHUB: "GitHub"}


@dataclass(frozen=True)
class InsightSource:
    kind: str
    type: str
    id: str
    title: str
    url: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Insight:
    type: str
    kinds: tuple[str, ...]
    text: str
    explanation: str
    time: datetime
    synced_at: datetime | None
    sources: tuple[InsightSource, ...] = ()
    keywords: frozenset[str] = field(default_factory=frozenset)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("keywords")
        data["kinds"] = list(self.kinds)
        data["time"] = self.time.isoformat()
        data["synced_at"] = self.synced_at.isoformat() if self.synced_at else None
        data["sources"] = [{**asdict(s), "at": s.at.isoformat() if s.at else None} for s in self.sources]
        data["source_label"] = source_label(self.kinds)
        return data


def current_time() -> datetime:
    """The clock insights read (one place, so tests can pin it)."""
    return timezone.now()


def source_label(kinds: tuple[str, ...]) -> str:
    return " and ".join(KIND_LABELS.get(kind, kind) for kind in kinds)


def _user_tz(user: Any) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(getattr(user, "timezone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


_ENABLED_SQL = (
    "SELECT * FROM integrations_integration WHERE user_id = %s AND enabled AND status <> %s ORDER BY provider"
)
_ENABLED_IDS_SQL = "SELECT id FROM integrations_integration WHERE user_id = %s AND enabled AND status <> %s LIMIT 1"


def _enabled_kinds(user: Any) -> dict[str, Integration]:
    """kind -> the integration it comes from, for enabled kinds of working integrations."""
    kinds: dict[str, Integration] = {}
    params = [user.pk, IntegrationStatus.RECONNECT_NEEDED.value]
    # Asked on every chat turn, and most users have none: a plain cursor answers them (a raw
    # queryset costs more CPU to set up than its statement costs, even for no rows); the rows are
    # read as models only for a user who has some.
    with connection.cursor() as cursor:
        cursor.execute(_ENABLED_IDS_SQL, params)
        if cursor.fetchone() is None:
            return kinds
    for integration in Integration.objects.raw(_ENABLED_SQL, params):
        for kind in integration.enabled_kinds:
            kinds[kind] = integration
    return kinds


def _synced_at(integration: Integration, kind: str) -> datetime | None:
    value = integration.kind_synced_at.get(kind)
    parsed = parse_datetime(value) if value else None
    return parsed or integration.last_success_at


def _hours(minutes: float) -> str:
    hours = minutes / 60
    return f"{hours:.1f}".rstrip("0").rstrip(".") + " h"


def _calendar_insights(user: Any, integration: Integration, now: datetime) -> list[Insight]:
    tz = _user_tz(user)
    synced = _synced_at(integration, Kind.CALENDAR)
    insights: list[Insight] = []
    local_now = now.astimezone(tz)
    for offset, day_word in ((0, "today"), (1, "tomorrow")):
        day = (local_now + timedelta(days=offset)).date()
        day_start = datetime.combine(day, time.min, tzinfo=tz)
        events = list(
            CalendarEvent.objects.filter(
                integration=integration,
                all_day=False,
                starts_at__lt=day_start + timedelta(days=1),
                ends_at__gt=day_start,
            ).order_by("starts_at")
        )
        minutes = sum((e.ends_at - e.starts_at).total_seconds() / 60 for e in events)
        sources = tuple(
            InsightSource(
                kind=Kind.CALENDAR,
                type="calendar_event",
                id=e.event_id,
                title=e.summary,
                url=e.html_link,
                at=e.starts_at,
            )
            for e in events
        )
        if len(events) >= HEAVY_DAY_MIN_MEETINGS or (events and minutes / 60 >= HEAVY_DAY_MIN_HOURS):
            first = events[0].starts_at.astimezone(tz).strftime("%H:%M")
            insights.append(
                Insight(
                    type="heavy_meeting_day",
                    kinds=(Kind.CALENDAR,),
                    text=f"{len(events)} meetings {day_word} ({_hours(minutes)} in total), the first at {first}.",
                    explanation=(
                        f"{len(events)} timed calendar events on {day.isoformat()}; a day counts as heavy from "
                        f"{HEAVY_DAY_MIN_MEETINGS} meetings or {HEAVY_DAY_MIN_HOURS:g} hours."
                    ),
                    time=day_start,
                    synced_at=synced,
                    sources=sources,
                    keywords=frozenset(
                        {"meeting", "meetings", "calendar", "schedule", "busy", day_word, "day", "time"}
                    ),
                )
            )
        afternoon_start = datetime.combine(day, AFTERNOON[0], tzinfo=tz)
        afternoon_end = datetime.combine(day, AFTERNOON[1], tzinfo=tz)
        if offset == 0 and local_now >= afternoon_end - timedelta(hours=1):
            continue  # today's afternoon is (nearly) over
        if day.weekday() >= 5:
            continue
        busy = [e for e in events if e.starts_at < afternoon_end and e.ends_at > afternoon_start]
        if not busy and synced is not None:
            insights.append(
                Insight(
                    type="free_afternoon",
                    kinds=(Kind.CALENDAR,),
                    text=f"The afternoon {day_word} is free: no meetings between 13:00 and 18:00.",
                    explanation=f"No calendar events overlap 13:00–18:00 ({tz.key}) on {day.isoformat()}.",
                    time=afternoon_start,
                    synced_at=synced,
                    sources=sources,
                    keywords=frozenset({"free", "afternoon", "calendar", "schedule", "time", day_word, "meet", "call"}),
                )
            )
            break  # one free afternoon is enough
    return insights


def _github_insights(integration: Integration, now: datetime) -> list[Insight]:
    synced = _synced_at(integration, Kind.GITHUB)
    insights: list[Insight] = []
    waiting = GitHubPullRequest.objects.filter(
        integration=integration,
        state="open",
        draft=False,
        review_count=0,
        opened_at__lte=now - timedelta(days=PR_WAITING_MIN_DAYS),
    ).order_by("opened_at")
    for pr in waiting:
        days = (now - pr.opened_at).days
        insights.append(
            Insight(
                type="pr_waiting_for_review",
                kinds=(Kind.GITHUB,),
                text=f"PR #{pr.number} '{pr.title}' in {pr.repo} has been waiting for review for {days} days.",
                explanation=f"Open, not a draft, no reviews yet, opened {pr.opened_at:%Y-%m-%d} (threshold {PR_WAITING_MIN_DAYS} days).",
                time=pr.opened_at,
                synced_at=synced,
                sources=(
                    InsightSource(
                        kind=Kind.GITHUB,
                        type="pull_request",
                        id=f"{pr.repo}#{pr.number}",
                        title=pr.title,
                        url=pr.html_url,
                        at=pr.opened_at,
                    ),
                ),
                keywords=frozenset(
                    {"pr", "pull", "review", "reviews", "github", "waiting", *_words(pr.repo), *_words(pr.title)}
                ),
            )
        )
    pushes: dict[str, list[GitHubEvent]] = defaultdict(list)
    for event in GitHubEvent.objects.filter(
        integration=integration, type="PushEvent", occurred_at__gte=now - COMMIT_BURST_WINDOW
    ).order_by("occurred_at"):
        pushes[event.repo].append(event)
    for repo, events in sorted(pushes.items()):
        commits = sum(e.commit_count for e in events)
        if commits < COMMIT_BURST_MIN_COMMITS:
            continue
        insights.append(
            Insight(
                type="commit_burst",
                kinds=(Kind.GITHUB,),
                text=f"{commits} commits pushed to {repo} in the last 24 hours ({len(events)} pushes).",
                explanation=f"Push events in the last 24 hours add up to {commits} commits (threshold {COMMIT_BURST_MIN_COMMITS}).",
                time=events[-1].occurred_at,
                synced_at=synced,
                sources=tuple(
                    InsightSource(
                        kind=Kind.GITHUB,
                        type="github_event",
                        id=e.event_id,
                        title=f"push to {e.title or repo}",
                        url=e.url,
                        at=e.occurred_at,
                    )
                    for e in events
                ),
                keywords=frozenset({"commit", "commits", "push", "pushed", "code", "github", "working", *_words(repo)}),
            )
        )
    return insights


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if len(w) >= 3}


def _email_repo_insights(gmail: Integration, github: Integration, now: datetime) -> list[Insight]:
    active = sorted(
        set(
            GitHubEvent.objects.filter(integration=github, occurred_at__gte=now - ACTIVE_REPO_WINDOW)
            .exclude(repo="")
            .values_list("repo", flat=True)
        )
    )
    if not active:
        return []
    synced_times = [t for t in (_synced_at(gmail, Kind.GMAIL), _synced_at(github, Kind.GITHUB)) if t]
    synced = min(synced_times) if synced_times else None
    messages = list(
        GmailMessage.objects.filter(integration=gmail, sent_at__gte=now - ACTIVE_REPO_WINDOW).order_by("-sent_at")
    )
    insights: list[Insight] = []
    for repo in active:
        name = repo.rsplit("/", 1)[-1]
        if len(name) < 3:
            continue
        pattern = re.compile(rf"(?<![a-z0-9]){re.escape(name.lower())}(?![a-z0-9])")
        threads: dict[str, list[GmailMessage]] = defaultdict(list)
        for message in messages:
            if pattern.search(message.subject.lower()):
                threads[message.thread_id or message.message_id].append(message)
        for thread_messages in threads.values():
            latest = thread_messages[0]
            insights.append(
                Insight(
                    type="email_matches_repo",
                    kinds=(Kind.GMAIL, Kind.GITHUB),
                    text=f"The email thread '{latest.subject}' looks related to {repo}, where you have been active this week.",
                    explanation=f"The subject contains '{name}', the name of a repository with GitHub activity in the last 7 days.",
                    time=latest.sent_at or now,
                    synced_at=synced,
                    sources=(
                        InsightSource(
                            kind=Kind.GMAIL,
                            type="gmail_message",
                            id=latest.message_id,
                            title=latest.subject,
                            at=latest.sent_at,
                        ),
                        InsightSource(kind=Kind.GITHUB, type="repository", id=repo, title=repo),
                    ),
                    keywords=frozenset({"email", "mail", "thread", "inbox", *_words(repo), *_words(latest.subject)}),
                )
            )
    return insights


def compute_insights(*, user: Any, now: datetime | None = None) -> list[Insight]:
    """All current insights for the user, from enabled kinds only, newest first."""
    now = now or current_time()
    kinds = _enabled_kinds(user)
    insights: list[Insight] = []
    if Kind.CALENDAR in kinds:
        insights += _calendar_insights(user, kinds[Kind.CALENDAR], now)
    if Kind.GITHUB in kinds:
        insights += _github_insights(kinds[Kind.GITHUB], now)
    if Kind.GMAIL in kinds and Kind.GITHUB in kinds:
        insights += _email_repo_insights(kinds[Kind.GMAIL], kinds[Kind.GITHUB], now)
    return sorted(insights, key=lambda i: i.time, reverse=True)


def insight_context_items(user: Any, message_text: str) -> list:
    """chat.context provider: each insight as one line with its source; the prompt adds its age."""

    if not getattr(user, "is_authenticated", False):
        return []
    now = current_time()
    words = _words(message_text)
    items = []
    for insight in compute_insights(user=user, now=now):
        overlap = len(words & insight.keywords)
        relevance = min(1.0, 0.3 + 0.2 * overlap)
        items.append(
            ContextItem(
                text=f"{insight.text} (from your {source_label(insight.kinds)})",
                source=insight.kinds[0] if len(insight.kinds) == 1 else "+".join(insight.kinds),
                observed_at=insight.synced_at,
                relevance=relevance,
            )
        )
    return items
