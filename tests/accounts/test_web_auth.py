"""Web sign-up, log-in and password reset through allauth's pages."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_web_signup_logs_the_user_in(client):
    response = client.post(
        "/accounts/signup/", {"email": "New@Example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert client.get("/api/me/").json()["id"] == user.pk


def test_web_login_and_logout(client, user):
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/api/me/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/api/me/").status_code in (401, 403)


def test_web_login_with_wrong_password_shows_error(client, user):
    response = client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
    assert response.status_code == 200
    assert b"not correct" in response.content or b"incorrect" in response.content.lower()


def test_password_reset_sends_mail_for_api_signup(api_client, client):
    api_client.post("/api/auth/register/", {"email": "reset@example.com", "password": PASSWORD}, format="json")
    response = client.post("/accounts/password/reset/", {"email": "reset@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "reset@example.com" in mail.outbox[0].to


def test_admin_lists_users_with_search(client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    response = client.get("/admin/accounts/user/?q=" + staff_user.email)
    assert response.status_code == 200
    assert staff_user.email.encode() in response.content


def test_signup_with_the_mail_server_down_still_creates_the_account(client, settings, caplog):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port, 2

    response = client.post(
        "/accounts/signup/", {"email": "nomail@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )

    assert response.status_code == 302
    assert User.objects.filter(email="nomail@example.com").exists()
    assert "sending account email failed" in caplog.text
