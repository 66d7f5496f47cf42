"""Project-level pages that belong to no single domain app: landing, the PWA files, offline."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

# Store screenshots (manifest `screenshots`): made by tests/web/test_install.py in Chromium from the
# real pages, committed under static/; (file, width, height, form factor).
STORE_SCREENSHOTS = [
    ("screenshots/chat-wide.png", 1280, 800, "wide"),
    ("screenshots/persona-wide.png", 1280, 800, "wide"),
    ("screenshots/chat-narrow.png", 412, 915, "narrow"),
    ("screenshots/persona-narrow.png", 412, 915, "narrow"),
]

# The app shell the service worker stores at install: enough to show the offline page and the
# pages' styles and scripts without the network. Pages themselves are always fetched fresh.
SHELL_STATIC_FILES = [
    "css/app.css",
    "js/app.js",
    "js/api.js",
    "js/chat.js",
    "js/markdown.js",
    "js/persona.js",
    "js/charts.js",
    "js/integrations.js",
    "js/settings.js",
    "js/notify.js",
    "js/offline-store.js",
    "img/ivan.svg",
    "img/icons.svg",
    "icons/icon-192.png",
    "icons/favicon-32.png",
]


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "landing.html")


@require_GET
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico whatever the page says; send them to the hashed PNG."""
    return HttpResponseRedirect(static("icons/favicon-32.png"))


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    return render(request, "offline.html")


@require_GET
@cache_control(max_age=3600)
def manifest(request: HttpRequest) -> JsonResponse:
    """Web app manifest: what Chromium needs to offer 'Install DigitalMe'."""
    data = {
        "id": "/",
        "name": "DigitalMe — " + _("Talk to Ivan"),
        "short_name": "DigitalMe",
        "description": _("Ivan’s digital clone: chat with him on the web, through the API and in Telegram."),
        "lang": request.LANGUAGE_CODE,
        "start_url": "/chat/",
        "scope": "/",
        "display": "standalone",
        # Chromium on desktop may put the title bar's space to use; every browser falls back in order.
        "display_override": ["window-controls-overlay", "standalone", "minimal-ui"],
        "orientation": "any",
        "dir": "ltr",
        "prefer_related_applications": False,
        "launch_handler": {"client_mode": ["navigate-existing", "auto"]},
        "background_color": "#f6f6fb",
        "theme_color": "#4338ca",
        "categories": ["social", "productivity"],
        "icons": [
            {"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {
                "src": static("icons/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
        "shortcuts": [
            {
                "name": _("New chat"),
                "short_name": _("Chat"),
                "description": _("Start a new conversation with Ivan"),
                "url": "/chat/?source=shortcut",
                "icons": [{"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"}],
            },
            {
                "name": _("Ivan’s personality"),
                "short_name": _("Ivan"),
                "description": _("See Ivan’s traits, live"),
                "url": "/persona/?source=shortcut",
                "icons": [{"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"}],
            },
        ],
        "screenshots": [
            {
                "src": static(name),
                "sizes": f"{width}x{height}",
                "type": "image/png",
                "form_factor": form_factor,
                "label": _("Chatting with Ivan") if "chat" in name else _("Ivan’s personality and traits"),
            }
            for name, width, height, form_factor in STORE_SCREENSHOTS
        ],
    }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served from the root so its scope is the whole site.

    Its cache name is derived from the hashed static URLs, so a deploy that changes any shell
    file installs a new worker and drops the old cache.
    """
    shell = ["/offline/", *(static(name) for name in SHELL_STATIC_FILES)]
    version = hashlib.sha256(json.dumps([shell, settings.STATIC_URL]).encode()).hexdigest()[:12]
    body = render_to_string(
        "sw.js",
        {
            "shell_json": json.dumps(shell),
            "version": version,
            "static_prefix": json.dumps(settings.STATIC_URL),
            "icon_json": json.dumps(static("icons/icon-192.png")),
        },
    )
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
