"""The PWA files: manifest with installable icons, a root-scoped service worker, the offline page."""

from __future__ import annotations

import io

import pytest
from django.contrib.staticfiles import finders
from PIL import Image

pytestmark = pytest.mark.django_db


def test_manifest_meets_installability_criteria(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["name"] and manifest["short_name"]
    assert manifest["start_url"] == "/chat/"
    assert manifest["display"] == "standalone"
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


@pytest.mark.parametrize(
    ("name", "size"), [("icons/icon-192.png", 192), ("icons/icon-512.png", 512), ("icons/icon-maskable-512.png", 512)]
)
def test_icons_are_pngs_of_their_declared_size(name, size):
    path = finders.find(name)
    assert path, name
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)


def test_maskable_icon_is_opaque_to_the_edges():
    with Image.open(finders.find("icons/icon-maskable-512.png")) as image:
        assert image.convert("RGBA").getpixel((0, 0))[3] == 255


def test_service_worker_is_served_at_root_scope(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    body = response.content.decode()
    assert '"/offline/"' in body
    assert "/static/css/app.css" in body


def test_every_shell_file_exists():
    from digitalme.views import SHELL_STATIC_FILES

    for name in SHELL_STATIC_FILES:
        assert finders.find(name), name


def test_offline_page_needs_no_login(client):
    response = client.get("/offline/")
    assert response.status_code == 200
    assert b"You are offline" in response.content


def test_collectstatic_with_hashed_names_succeeds(tmp_path, settings):
    """Production serves hashed files (whitenoise manifest); every url() in the CSS must resolve."""
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    out = io.StringIO()
    call_command("collectstatic", interactive=False, verbosity=0, stdout=out)
    assert list(tmp_path.glob("css/app.*.css"))


def test_manifest_is_store_ready(client):
    manifest = client.get("/manifest.webmanifest").json()
    assert manifest["id"] == "/"
    assert manifest["description"] and manifest["categories"]
    assert manifest["display_override"][-1] in {"standalone", "minimal-ui"}
    assert {shortcut["url"].split("?")[0] for shortcut in manifest["shortcuts"]} == {"/chat/", "/persona/"}
    assert all(shortcut["icons"] and shortcut["description"] for shortcut in manifest["shortcuts"])
    assert {shot["form_factor"] for shot in manifest["screenshots"]} == {"wide", "narrow"}


@pytest.mark.parametrize("name", ["chat-wide", "chat-narrow", "persona-wide", "persona-narrow"])
def test_store_screenshots_exist_at_their_declared_size(client, name):
    manifest = client.get("/manifest.webmanifest").json()
    [shot] = [s for s in manifest["screenshots"] if name in s["src"]]
    path = finders.find(f"screenshots/{name}.png")
    assert path, "made by tests/web/test_install.py"
    with Image.open(path) as image:
        assert f"{image.size[0]}x{image.size[1]}" == shot["sizes"]
