"""Persona drift: live replies on several platforms are sampled, scored (ids and scores only) and charted."""

from __future__ import annotations

import pytest
from django.utils import timezone

from chat.models import Message, Platform
from chat.services import chat_reply
from ops.services import ops_sample
from personality.drift import drift_sample_run, sampled
from personality.models import EvalRun, ReplySample
from personality.ops import drift_status
from personality.services import persona_update

pytestmark = pytest.mark.django_db(transaction=True)


def _talk(user, platform: str, texts: list[str]) -> None:
    for text in texts:
        chat_reply(user=user, text=text, platform=platform)


def test_replies_on_two_platforms_show_as_two_series(staff_client, staff_user, ivan, settings):
    settings.PERSONA_DRIFT_SAMPLE_RATE = 1.0
    _talk(staff_user, Platform.WEB, ["Hi! How are you?", "Where do you live?"])
    _talk(staff_user, Platform.TELEGRAM, ["[[say:I am an AI language model.]] Who are you?"])

    counts = drift_sample_run(slug="ivan")

    assert counts == {"web": 2, "telegram": 1}
    body = staff_client.get("/api/personas/ivan/drift/").json()
    assert set(body["platforms"]) == {"web", "telegram"}
    telegram = body["platforms"]["telegram"][0]
    assert telegram["samples"] == 1 and telegram["in_character"] == 0.0
    assert telegram["labels"] == {"other_identity": 1}
    assert body["live_version"] == 1
    assert body["published"][0]["version"] == 1


def test_samples_keep_scores_and_ids_never_text(staff_user, ivan, settings):
    settings.PERSONA_DRIFT_SAMPLE_RATE = 1.0
    _talk(staff_user, Platform.API, ["My secret plan is to learn Go"])
    drift_sample_run(slug="ivan")
    sample = ReplySample.objects.get()
    reply = Message.objects.get(pk=sample.message_id)
    assert reply.role == "assistant"
    stored = " ".join(str(value) for value in (sample.markers, sample.checks, sample.label, sample.model))
    assert "secret plan" not in stored and reply.content not in stored


def test_a_second_run_scores_only_new_replies_and_uses_the_version_live_at_the_time(staff_user, ivan, settings):
    settings.PERSONA_DRIFT_SAMPLE_RATE = 1.0
    _talk(staff_user, Platform.WEB, ["Hi!"])
    drift_sample_run(slug="ivan")
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}], publish=True)
    _talk(staff_user, Platform.WEB, ["Hi again!"])
    drift_sample_run(slug="ivan")
    assert list(ReplySample.objects.order_by("message_id").values_list("version_number", flat=True)) == [1, 2]


def test_sampling_rate_is_deterministic_and_roughly_the_rate():
    taken = [i for i in range(1, 2001) if sampled(i, 0.2)]
    assert 300 < len(taken) < 500
    assert taken == [i for i in range(1, 2001) if sampled(i, 0.2)]
    assert all(sampled(i, 1.0) for i in range(1, 50))


def test_drift_is_staff_only_and_checks_its_query(auth_client, staff_client, ivan):
    assert auth_client.get("/api/personas/ivan/drift/").status_code == 403
    assert staff_client.get("/api/personas/ivan/drift/?days=0").status_code == 400
    assert staff_client.get("/api/personas/nobody/drift/").status_code == 404


def test_trait_history_lists_each_published_version(api_client, ivan):
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}], publish=True)
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.7}])  # a draft: not public
    rows = api_client.get("/api/personas/ivan/traits/history/").json()
    assert [(row["version"], row["traits"]["humor"]) for row in rows] == [(1, 0.6), (2, 0.8)]


def test_replies_on_two_platforms_show_as_two_series_on_the_ops_dashboard_and_in_metrics(
    client, staff_user, ivan, settings
):
    settings.PERSONA_DRIFT_SAMPLE_RATE = 1.0
    settings.PERSONA_DRIFT_ALERT_MIN_SAMPLES = 2
    EvalRun.objects.create(
        persona=ivan, version_number=1, model="m", scorer="offline", status="done", share_in_character=0.9
    )
    _talk(staff_user, Platform.WEB, ["Where do you live?"])
    # the fake model echoes the question; this is the reply a good model gives
    Message.objects.filter(platform=Platform.WEB, role="assistant").update(
        content="On Vasilyevsky Island in Petersburg, with my cat Bayes. You?"
    )
    _talk(staff_user, Platform.TELEGRAM, ["[[say:I am an AI language model.]] Who are you?"] * 2)
    drift_sample_run(slug="ivan")

    _, frame = ops_sample(now=timezone.now(), readiness=("ok", {}))

    panel = frame["panels"]["persona"]
    assert panel["stats"]["in_character_web"] == {"value": 100.0, "status": "ok"}
    assert panel["stats"]["in_character_telegram"] == {"value": 0.0, "status": "bad"}  # 90 points below the baseline
    assert panel["stats"]["in_character_api"] == {"value": None, "status": "none"}
    assert panel["stats"]["baseline"]["value"] == 90.0
    assert [point[1] for point in frame["series"]["persona.in_character_web"]] == [100.0]
    assert [point[1] for point in frame["series"]["persona.in_character_telegram"]] == [0.0]
    assert {row["platform"]: row["samples"] for row in panel["rows"]} == {"Web": 1, "API": 0, "Telegram": 2}

    metrics = client.get("/metrics").content.decode()
    assert 'dm_persona_drift_in_character_ratio{persona="ivan",platform="web"} 1.0' in metrics
    assert 'dm_persona_drift_in_character_ratio{persona="ivan",platform="telegram"} 0.0' in metrics
    assert 'dm_persona_drift_samples{persona="ivan",platform="telegram"} 2.0' in metrics
    assert 'dm_persona_drift_baseline_ratio{persona="ivan"} 0.9' in metrics


def test_the_ops_page_shows_the_drift_card(client, staff_user, ivan):
    client.force_login(staff_user)
    page = client.get("/ops/").content.decode()
    assert '>Persona drift <span class="badge"' in page
    assert 'data-stat="persona.in_character_telegram"' in page


@pytest.mark.parametrize(
    "share, samples, baseline, expected",
    [
        (0.70, 50, 0.90, "bad"),  # 20 points below, margin 15
        (0.70, 5, 0.90, "warn"),  # the same drop on too few replies to alert
        (0.80, 50, 0.90, "warn"),  # more than half the margin
        (0.88, 50, 0.90, "ok"),
        (0.95, 50, 0.90, "ok"),
        (0.50, 50, None, "none"),  # no evaluation of the live version: nothing to compare with
        (None, 0, 0.90, "none"),
    ],
)
def test_drift_is_graded_against_the_baseline_with_the_alert_margin(share, samples, baseline, expected, settings):
    settings.PERSONA_DRIFT_ALERT_MARGIN = 0.15
    settings.PERSONA_DRIFT_ALERT_MIN_SAMPLES = 20
    assert drift_status(share=share, samples=samples, baseline=baseline) == expected
