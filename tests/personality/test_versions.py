from __future__ import annotations

from personality.models import Fact, PersonaVersion, VersionStatus
from personality.selectors import persona_get, persona_profile_live, persona_snapshot
from personality.services import persona_revert, persona_update, version_record


def test_each_change_records_a_version_with_author_and_diff(ivan, staff_user):
    persona_update(persona=ivan, author=staff_user, traits=[{"name": "directness", "value": 0.9}])
    Fact.objects.create(persona=ivan, text="I learned to juggle in 2025.", tags=["juggling"], position=99)
    version = version_record(persona=ivan, author=staff_user)
    assert version.number == 3
    assert version.author == staff_user
    assert version.diff == [
        {
            "op": "added",
            "kind": "fact",
            "key": "I learned to juggle in 2025.",
            "old": None,
            "new": {"text": "I learned to juggle in 2025.", "tags": ["juggling"], "pinned": False, "source": "curated"},
        }
    ]
    assert PersonaVersion.objects.get(number=2).summary == "directness 0.75→0.90"


def test_no_change_records_no_version(ivan):
    assert version_record(persona=ivan) is None
    assert PersonaVersion.objects.count() == 1


def test_revert_restores_a_version_exactly(ivan, staff_user):
    original = PersonaVersion.objects.get(number=1).snapshot
    persona_update(persona=ivan, short_bio="Changed bio.", traits=[{"name": "humor", "value": 0.3}], publish=True)
    Fact.objects.filter(pinned=False).first().delete()
    Fact.objects.create(persona=ivan, text="A new fact.", position=100)
    version_record(persona=ivan)
    reverted = persona_revert(persona=ivan, number=1, author=staff_user, publish=True)
    assert reverted.number == 4
    assert reverted.snapshot == original
    assert persona_snapshot(persona=persona_get(slug="ivan")) == original
    assert persona_profile_live().version == 4
    assert persona_profile_live().short_bio == original["short_bio"]


def test_only_one_version_is_published(ivan):
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.7}], publish=True)
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}], publish=True)
    statuses = dict(PersonaVersion.objects.values_list("number", "status"))
    assert statuses == {1: VersionStatus.SUPERSEDED, 2: VersionStatus.SUPERSEDED, 3: VersionStatus.PUBLISHED}


def test_version_api_lists_compares_reverts(staff_client, ivan):
    staff_client.patch("/api/personas/ivan/", {"traits": [{"name": "humor", "value": 0.7}]}, format="json")
    listed = staff_client.get("/api/personas/ivan/versions/").json()
    assert [v["number"] for v in listed] == [2, 1]
    compare = staff_client.get("/api/personas/ivan/versions/compare/?a=1&b=2").json()
    assert compare["changes"] == [
        {"op": "changed", "kind": "trait", "key": "humor", "field": "value", "old": 0.6, "new": 0.7}
    ]
    reverted = staff_client.post("/api/personas/ivan/versions/1/revert/", {"publish": True}, format="json")
    assert reverted.status_code == 201
    assert reverted.json()["number"] == 3
    assert staff_client.get("/api/personas/ivan/").json()["traits"][0]["value"] == 0.6


def test_version_api_errors(staff_client, auth_client, ivan):
    assert staff_client.get("/api/personas/ivan/versions/compare/?a=1").status_code == 400
    assert staff_client.get("/api/personas/ivan/versions/compare/?a=1&b=9").status_code == 404
    assert staff_client.post("/api/personas/ivan/versions/9/revert/", {}, format="json").status_code == 404
    assert auth_client.get("/api/personas/ivan/versions/").status_code == 403
