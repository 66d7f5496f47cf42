"""Pages render for the right people, with CSP, no inline script, and working forms."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/persona/", "/offline/"]
PRIVATE_PAGES = ["/chat/", "/integrations/", "/settings/"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_page_renders_with_strict_csp(client, path):
    response = client.get(path)
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert not INLINE_SCRIPT.search(response.content.decode())


@pytest.mark.parametrize("path", PRIVATE_PAGES)
def test_private_page_redirects_anonymous_to_login_with_next(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.parametrize("path", PRIVATE_PAGES)
def test_private_page_renders_for_user_without_inline_script(client, user, path):
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html)
    assert 'name="csrfmiddlewaretoken"' in html  # the log-out form in the header


def test_conversation_page_redirects_anonymous_to_login(client):
    response = client.get("/chat/12/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/chat/12/"


def test_own_conversation_page_shows_its_title_escaped(client, user):
    from chat.services import conversation_create

    conversation = conversation_create(user=user, title="<b>Plans</b>", platform="web")
    client.force_login(user)
    html = client.get(f"/chat/{conversation.pk}/").content.decode()
    assert "&lt;b&gt;Plans&lt;/b&gt;" in html
    assert "<b>Plans</b>" not in html


def test_someone_elses_conversation_page_is_404(client, user, staff_user):
    from chat.services import conversation_create

    conversation = conversation_create(user=staff_user, title="Private", platform="web")
    client.force_login(user)
    response = client.get(f"/chat/{conversation.pk}/")
    assert response.status_code == 404
    assert b"Private" not in response.content


def test_nav_marks_the_current_page(client, user):
    client.force_login(user)
    html = client.get("/settings/").content.decode()
    assert re.search(r'href="/settings/" aria-current="page"', html)


def test_signup_offers_social_login_only_when_configured(client):
    assert b"Continue with" not in client.get("/accounts/signup/").content
    providers = {"github": {"APPS": [{"client_id": "id", "secret": "secret", "key": ""}]}}
    with override_settings(SOCIALACCOUNT_PROVIDERS=providers):
        html = client.get("/accounts/signup/").content.decode()
    assert "Continue with GitHub" in html
    assert "Continue with Google" not in html


def test_interface_is_translated_to_russian(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="ru")
    html = response.content.decode()
    assert '<html lang="ru">' in html
    assert "Войти" in html


def test_signed_in_user_sees_the_language_saved_on_the_account(client, user):
    user.language = "ru"
    user.save()
    client.force_login(user)
    html = client.get("/settings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Настройки" in html


def test_settings_saves_profile(client, user):
    client.force_login(user)
    response = client.post("/settings/", {"display_name": "Anna", "language": "ru", "timezone": "Europe/Moscow"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.display_name, user.language, user.timezone) == ("Anna", "ru", "Europe/Moscow")


def test_settings_rejects_unknown_timezone_with_message(client, user):
    client.force_login(user)
    response = client.post("/settings/", {"display_name": "Anna", "language": "en", "timezone": "Mars/Base"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    user.refresh_from_db()
    assert user.timezone == "UTC"


def test_settings_escapes_display_name(client, user):
    user.display_name = "<script>alert(1)</script>"
    user.save()
    client.force_login(user)
    html = client.get("/settings/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_delete_account_with_wrong_password_keeps_it(client, user):
    client.force_login(user)
    response = client.post("/settings/delete-account/", {"password": "wrong"})
    assert response.status_code == 400
    assert "The password is not correct." in response.content.decode()
    assert User.objects.filter(pk=user.pk).exists()


def test_delete_account_removes_it_and_logs_out(client, user):
    client.force_login(user)
    response = client.post("/settings/delete-account/", {"password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not User.objects.filter(pk=user.pk).exists()
    assert client.get("/settings/").status_code == 302


def test_delete_account_needs_csrf(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/settings/delete-account/", {"password": PASSWORD})
    assert response.status_code == 403
    assert User.objects.filter(pk=user.pk).exists()


def test_telegram_qr_is_svg_for_a_telegram_link(client, user):
    client.force_login(user)
    response = client.get("/settings/telegram-qr.svg", {"link": "https://t.me/ivan_bot?start=ABC123"})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.content


@pytest.mark.parametrize("link", ["javascript:alert(1)", "https://evil.example/t.me", "http://t.me/x", ""])
def test_telegram_qr_refuses_other_links(client, user, link):
    client.force_login(user)
    assert client.get("/settings/telegram-qr.svg", {"link": link}).status_code == 400


def test_unknown_page_is_a_styled_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
