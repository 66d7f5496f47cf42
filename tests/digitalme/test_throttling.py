"""Client addresses behind proxies, throttles on the expensive or credential endpoints, and
bounded metric labels."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _failed_login(client, n: int, **extra):
    return client.post(
        "/api/auth/token/", {"email": f"nobody{n}@example.com", "password": "wrong"}, format="json", **extra
    )


def test_a_client_cannot_pick_its_own_address_with_x_forwarded_for(api_client):
    """Directly exposed (TRUSTED_PROXY_COUNT=0): X-Forwarded-For is the client's own words."""
    statuses = [
        _failed_login(api_client, n, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"10.9.{n}.1").status_code
        for n in range(30)
    ]
    assert 429 in statuses
    assert statuses.index(429) == 10


def test_behind_one_proxy_the_address_the_proxy_saw_is_the_key(api_client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client prepends made-up hops; the proxy appends the address it saw (203.0.113.5).
    statuses = [
        _failed_login(
            api_client, n, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"10.9.{n}.1, 203.0.113.5"
        ).status_code
        for n in range(12)
    ]
    assert statuses.index(429) == 10
    # Another real client behind the same proxy has its own budget.
    other = _failed_login(api_client, 99, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.6")
    assert other.status_code == 401


def test_drf_and_allauth_trust_the_same_proxy_count(settings):
    from allauth import app_settings as allauth_settings
    from rest_framework.settings import api_settings

    assert api_settings.NUM_PROXIES == settings.TRUSTED_PROXY_COUNT
    assert allauth_settings.TRUSTED_PROXY_COUNT == settings.TRUSTED_PROXY_COUNT


def test_daphne_does_not_take_the_leftmost_forwarded_address():
    from pathlib import Path

    procfile = (Path(__file__).resolve().parents[2] / "Procfile").read_text()
    assert "--proxy-headers" not in procfile


def test_admin_login_is_throttled_per_ip(client, staff_user):
    for _ in range(10):
        client.post("/admin/login/", {"username": staff_user.email, "password": "wrong"}, REMOTE_ADDR="198.51.100.8")
    response = client.post(
        "/admin/login/", {"username": staff_user.email, "password": PASSWORD}, REMOTE_ADDR="198.51.100.8"
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "throttled"
    assert client.get("/admin/login/", REMOTE_ADDR="198.51.100.8").status_code == 200  # the page itself still shows


def test_export_is_throttled_per_user(auth_client):
    statuses = [auth_client.get("/api/me/export/").status_code for _ in range(11)]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429


def test_sync_now_is_throttled_per_user(auth_client):
    statuses = [auth_client.post("/api/integrations/github/sync/").status_code for _ in range(13)]
    assert 429 not in statuses[:12]
    assert statuses[12] == 429


def test_card_png_is_throttled_per_ip(api_client):
    statuses = [
        api_client.get("/api/personas/nobody/card.png", REMOTE_ADDR="198.51.100.9").status_code for _ in range(31)
    ]
    assert 429 not in statuses[:30]
    assert statuses[30] == 429


def test_readiness_is_throttled_per_remote_ip_but_not_for_loopback(client):
    remote = [client.get("/health/ready/", REMOTE_ADDR="198.51.100.10").status_code for _ in range(121)]
    assert 429 not in remote[:120]
    assert remote[120] == 429
    assert client.get("/health/ready/", REMOTE_ADDR="127.0.0.1").status_code in (200, 503)


def test_made_up_methods_do_not_become_metric_labels(client):
    for n in range(20):
        client.generic(f"FAKE{n}", "/health/")
        client.get(f"/no/such/path/{n}/")
    body = client.get("/metrics").content.decode()
    assert "FAKE" not in body
    assert "/no/such/path" not in body
    assert 'dm_http_requests_total{method="other",route="/health/"' in body
    assert 'route="unmatched"' in body
