"""Every publish path shows or enforces the regression rule (PERSONA_EVAL_PUBLISH_RULE)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from personality.models import EvalRun, PersonaVersion, VersionStatus
from personality.selectors import persona_profile_live
from personality.services import persona_update


def _scores(ivan, **by_version: float) -> None:
    for number, score in by_version.items():
        EvalRun.objects.create(
            persona=ivan, version_number=int(number[1:]), model="m", scorer="offline", status="done", score=score
        )


def test_publishing_a_worse_version_through_the_api_warns(staff_client, ivan):
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}])
    _scores(ivan, v1=0.9, v2=0.7)
    response = staff_client.post("/api/personas/ivan/versions/2/publish/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "published" and body["number"] == 2
    assert body["publish_check"]["status"] == "regressed"
    assert "0.20 below the live version 1" in body["publish_check"]["message"]


def test_refuse_rule_turns_the_api_publish_into_a_409_and_keeps_the_live_version(staff_client, ivan, settings):
    settings.PERSONA_EVAL_PUBLISH_RULE = "refuse"
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}])
    _scores(ivan, v1=0.9, v2=0.7)
    response = staff_client.post("/api/personas/ivan/versions/2/publish/")
    assert response.status_code == 409
    assert response.json()["code"] == "publish_refused"
    assert response.json()["fields"] == {"evaluation": ["regressed"]}
    assert persona_profile_live().version == 1


def test_a_better_version_publishes_under_the_refuse_rule(staff_client, ivan, settings):
    settings.PERSONA_EVAL_PUBLISH_RULE = "refuse"
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}])
    _scores(ivan, v1=0.8, v2=0.85)
    response = staff_client.post("/api/personas/ivan/versions/2/publish/")
    assert response.status_code == 200
    assert response.json()["publish_check"]["status"] == "ok"


def test_patch_says_the_new_version_was_not_evaluated(staff_client, ivan):
    response = staff_client.patch("/api/personas/ivan/", {"traits": [{"name": "humor", "value": 0.7}]}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert response.json()["publish_check"]["status"] == "not_evaluated"


def test_refused_patch_keeps_the_change_as_a_draft(staff_client, ivan, settings):
    settings.PERSONA_EVAL_PUBLISH_RULE = "refuse"
    response = staff_client.patch("/api/personas/ivan/", {"traits": [{"name": "humor", "value": 0.7}]}, format="json")
    assert response.status_code == 409
    assert "has not been evaluated" in response.json()["detail"]
    assert PersonaVersion.objects.get(number=2).status == VersionStatus.DRAFT
    assert persona_profile_live().version == 1


def test_revert_and_publish_shows_the_check(staff_client, ivan):
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}], publish=True)
    response = staff_client.post("/api/personas/ivan/versions/1/revert/", {"publish": True}, format="json")
    assert response.status_code == 201
    assert response.json()["number"] == 3
    assert response.json()["publish_check"]["status"] == "not_evaluated"


def test_card_import_with_publish_is_refused_and_stays_a_draft(api_client, ivan, tmp_path: Path, settings):
    settings.PERSONA_EVAL_PUBLISH_RULE = "refuse"
    card = api_client.get("/api/personas/ivan/card/").json()
    card["data"]["description"] = "Changed in the card."
    path = tmp_path / "ivan.json"
    path.write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CommandError, match=r"imported as a draft version\. Not published"):
        call_command("import_persona_card", str(path), "--publish")
    assert PersonaVersion.objects.get(number=2).status == VersionStatus.DRAFT
    assert persona_profile_live().version == 1
