"""/api/push/: the public key, and a user's device subscriptions (add, list, remove)."""

from __future__ import annotations

import pytest

from notifications.models import PushSubscription
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
)


def test_config_gives_the_public_key_browsers_subscribe_with(auth_client):
    response = auth_client.get("/api/push/config/")
    assert response.status_code == 200
    assert response.json()["enabled"] is True
    assert len(response.json()["public_key"]) == 87  # 65 bytes, base64url without padding


def test_config_says_disabled_without_a_vapid_key(auth_client, settings):
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    assert auth_client.get("/api/push/config/").json() == {"enabled": False, "public_key": ""}


def test_anonymous_gets_401(api_client):
    assert api_client.get("/api/push/subscriptions/").status_code in (401, 403)


def test_a_browser_subscription_is_stored_with_a_device_label(auth_client, user, push_service):
    subscriber = push_service.subscribe()
    response = auth_client.post(
        "/api/push/subscriptions/", subscriber.as_json(), format="json", HTTP_USER_AGENT=CHROME_ANDROID
    )
    assert response.status_code == 201
    assert response.json()["label"] == "Chrome on Android"
    assert PushSubscription.objects.get(user=user).endpoint == subscriber.endpoint


def test_subscribing_again_is_idempotent(auth_client, user, push_service):
    body = push_service.subscribe().as_json()
    assert auth_client.post("/api/push/subscriptions/", body, format="json").status_code == 201
    assert auth_client.post("/api/push/subscriptions/", body, format="json").status_code == 200
    assert PushSubscription.objects.filter(user=user).count() == 1


def test_a_device_that_signs_into_another_account_moves_to_it(api_client, push_service):
    body = push_service.subscribe().as_json()
    first, second = UserFactory(), UserFactory()
    api_client.force_authenticate(first)
    api_client.post("/api/push/subscriptions/", body, format="json")
    api_client.force_authenticate(second)
    api_client.post("/api/push/subscriptions/", body, format="json")
    assert list(PushSubscription.objects.values_list("user_id", flat=True)) == [second.pk]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"keys": {"p256dh": "bm90LWEta2V5", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "keys.p256dh"),
        ({"keys": {"p256dh": None, "auth": "short"}}, "keys"),
        ({"endpoint": "not a url"}, "endpoint"),
        ({"endpoint": "http://10.0.0.5/push/abc"}, "endpoint"),
        ({"endpoint": "https://internal.example.com/push/abc"}, "endpoint"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_subscriptions_are_400_naming_the_field(auth_client, push_service, change, field):
    body = {**push_service.subscribe().as_json(), **change}
    response = auth_client.post("/api/push/subscriptions/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_bad_auth_secret_is_400(auth_client, push_service):
    body = push_service.subscribe().as_json()
    body["keys"]["auth"] = "dG9vLXNob3J0"
    response = auth_client.post("/api/push/subscriptions/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_subscription"
    assert "keys.auth" in response.json()["fields"]


def test_subscribing_when_push_is_off_is_409(auth_client, push_service, settings):
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    response = auth_client.post("/api/push/subscriptions/", push_service.subscribe().as_json(), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "push_unavailable"


def test_list_shows_only_my_devices(auth_client, user, push_service, django_assert_max_num_queries):
    auth_client.post("/api/push/subscriptions/", push_service.subscribe().as_json(), format="json")
    other = UserFactory()
    PushSubscription.objects.create(user=other, endpoint=push_service.subscribe().endpoint, p256dh="x", auth="y")
    with django_assert_max_num_queries(3):
        response = auth_client.get("/api/push/subscriptions/")
    assert [row["endpoint"] for row in response.json()] == [PushSubscription.objects.get(user=user).endpoint]


def test_removing_my_device(auth_client, user, push_service):
    created = auth_client.post("/api/push/subscriptions/", push_service.subscribe().as_json(), format="json").json()
    assert auth_client.delete(f"/api/push/subscriptions/{created['id']}/").status_code == 204
    assert not PushSubscription.objects.filter(user=user).exists()


def test_removing_someone_elses_device_is_404(auth_client, push_service):
    theirs = PushSubscription.objects.create(
        user=UserFactory(), endpoint=push_service.subscribe().endpoint, p256dh="x", auth="y"
    )
    response = auth_client.delete(f"/api/push/subscriptions/{theirs.pk}/")
    assert response.status_code == 404
    assert PushSubscription.objects.filter(pk=theirs.pk).exists()


def test_export_lists_devices_without_push_secrets(auth_client, push_service):
    auth_client.post(
        "/api/push/subscriptions/", push_service.subscribe().as_json(), format="json", HTTP_USER_AGENT=CHROME_ANDROID
    )
    exported = auth_client.get("/api/me/export/").json()["push_subscriptions"]
    assert exported[0]["device"] == "Chrome on Android"
    assert "auth" not in exported[0] and "endpoint" not in exported[0]
