"""End to end: a chat turn's prompt, as the fake LLM received it, carries the enabled insight
(with where and when it was seen) and nothing from a switched-off kind.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from chat.llm.providers.fake import RECORDER
from integrations.models import CalendarEvent, GitHubPullRequest, Integration, Provider
from tests.integrations.test_insights import NOW

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ivan_on_fake_llm(db, settings):
    settings.LLM_MODEL = "fake/ivan"
    settings.LLM_FALLBACK_MODELS = []
    settings.LLM_MAX_RETRIES = 0
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)
    RECORDER.reset()
    yield RECORDER
    RECORDER.reset()


@pytest.mark.django_db(transaction=True)
def test_chat_prompt_has_the_enabled_insight_and_not_the_disabled_kind(
    auth_client, user, ivan_on_fake_llm, freezer_now
):
    synced_at = (NOW - timedelta(minutes=12)).isoformat()
    google = Integration.objects.create(
        user=user,
        provider=Provider.GOOGLE,
        kinds={"gmail": False, "calendar": True},
        kind_synced_at={"calendar": synced_at},
    )
    github = Integration.objects.create(user=user, provider=Provider.GITHUB, enabled=False, kinds={"github": True})
    for n in range(4):
        start = NOW.replace(hour=11 + n)
        CalendarEvent.objects.create(
            user=user,
            integration=google,
            event_id=f"e{n}",
            summary=f"Sync {n}",
            starts_at=start,
            ends_at=start + timedelta(minutes=50),
        )
    GitHubPullRequest.objects.create(
        user=user,
        integration=github,
        repo="acme/secret-repo",
        number=42,
        title="Hidden work",
        opened_at=NOW - timedelta(days=4),
    )
    conversation = auth_client.post("/api/conversations/", {"title": "day"}, format="json").json()

    response = auth_client.post(
        f"/api/conversations/{conversation['id']}/messages/",
        {"content": "How busy is my day? Any meetings or PRs?"},
        format="json",
    )

    assert response.status_code == 201
    question = "How busy is my day? Any meetings or PRs?"
    reply_call = next(c for c in ivan_on_fake_llm.calls if c.messages[-1]["content"] == question)
    prompt = "\n".join(str(message["content"]) for message in reply_call.messages)
    assert "4 meetings today" in prompt
    line = next(line for line in prompt.splitlines() if "4 meetings today" in line)
    # One freshness, written by the prompt at compose time (it was twice on one line).
    assert line.startswith("- [calendar, synced ") and line.endswith("(from your calendar)")
    assert line.count("synced") == 1 and line.count(" ago") == 1
    assert "secret-repo" not in prompt and "Hidden work" not in prompt
