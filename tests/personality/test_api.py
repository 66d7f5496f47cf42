from __future__ import annotations

import pytest

from personality.models import PersonaVersion, Trait, VersionStatus
from personality.selectors import persona_profile_live


def test_list_shows_published_personas(api_client, ivan, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = api_client.get("/api/personas/")
    assert response.status_code == 200
    assert response.json() == [
        {"slug": "ivan", "name": "Ivan Sokolov", "short_bio": persona_profile_live().short_bio, "version": 1}
    ]


def test_detail_has_traits_with_bounds(api_client, ivan):
    response = api_client.get("/api/personas/ivan/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Ivan Sokolov"
    assert body["traits"][0] == {
        "name": "humor",
        "value": 0.6,
        "min": 0.3,
        "max": 0.85,
        "description": "How often and how readily Ivan jokes.",
    }
    assert "facts" not in body


def test_unknown_slug_is_404(api_client, db):
    response = api_client.get("/api/personas/nobody/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_staff_patch_publishes_a_new_version(staff_client, ivan):
    response = staff_client.patch(
        "/api/personas/ivan/",
        {"bio": "Backend engineer, Petersburg.", "traits": [{"name": "humor", "value": 0.7}]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["short_bio"] == "Backend engineer, Petersburg."
    assert response.json()["traits"][0]["value"] == 0.7
    assert response.json()["version"] == 2
    latest = PersonaVersion.objects.get(number=2)
    assert latest.status == VersionStatus.PUBLISHED
    assert latest.author is not None
    assert "humor 0.60→0.70" in latest.summary


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (1.5, "outside 0..1"),
        (-0.1, "outside 0..1"),
        (0.9, "outside its bounds"),
        (0.2, "outside its bounds"),
        ("x", "number"),
    ],
)
def test_patch_out_of_bounds_is_400_naming_the_trait_and_changes_nothing(staff_client, ivan, value, reason):
    response = staff_client.patch("/api/personas/ivan/", {"traits": [{"name": "humor", "value": value}]}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "humor" in body["detail"] and reason in body["detail"]
    assert "traits.humor" in body["fields"]
    assert Trait.objects.get(name="humor").value == 0.6
    assert PersonaVersion.objects.count() == 1


def test_patch_with_one_bad_trait_changes_none_of_them(staff_client, ivan):
    response = staff_client.patch(
        "/api/personas/ivan/",
        {"traits": [{"name": "warmth", "value": 0.5}, {"name": "humor", "value": 0.99}]},
        format="json",
    )
    assert response.status_code == 400
    assert Trait.objects.get(name="warmth").value == 0.6


def test_patch_unknown_trait_is_400(staff_client, ivan):
    response = staff_client.patch(
        "/api/personas/ivan/", {"traits": [{"name": "charisma", "value": 0.5}]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_trait"
    assert "charisma" in response.json()["detail"]


def test_patch_unknown_field_is_400(staff_client, ivan):
    response = staff_client.patch("/api/personas/ivan/", {"name": "Petr"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["fields"]


def test_non_staff_patch_is_403(auth_client, ivan):
    response = auth_client.patch("/api/personas/ivan/", {"bio": "hacked"}, format="json")
    assert response.status_code == 403
    assert persona_profile_live().short_bio != "hacked"


def test_anonymous_patch_is_401(api_client, ivan):
    assert api_client.patch("/api/personas/ivan/", {"bio": "hacked"}, format="json").status_code == 401


def test_staff_patch_unknown_slug_is_404(staff_client, db):
    assert staff_client.patch("/api/personas/nobody/", {"bio": "x"}, format="json").status_code == 404


def test_prompt_preview_shows_the_exact_prompt(staff_client, ivan):
    response = staff_client.post(
        "/api/personas/ivan/prompt-preview/", {"message": "Do you play chess?", "budget_tokens": 3000}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert "lichess" in body["sections"]["relevant_facts"]
    assert body["system"].startswith("You are Ivan Sokolov.")
    assert 0 < body["token_count"] <= 3000
    assert body["version"] == 1


def test_prompt_preview_of_the_draft(staff_client, ivan):
    staff_client.patch("/api/personas/ivan/", {"traits": [{"name": "humor", "value": 0.8}]}, format="json")
    response = staff_client.post(
        "/api/personas/ivan/prompt-preview/", {"message": "hi", "version": "draft"}, format="json"
    )
    assert "humor: high (0.80)" in response.json()["sections"]["traits"]


def test_prompt_preview_is_staff_only(auth_client, ivan):
    assert auth_client.post("/api/personas/ivan/prompt-preview/", {"message": "hi"}, format="json").status_code == 403


def test_prompt_preview_of_a_missing_version_is_404(staff_client, ivan):
    response = staff_client.post(
        "/api/personas/ivan/prompt-preview/", {"message": "hi", "version": "42"}, format="json"
    )
    assert response.status_code == 404
