"""Root URLs. Each app owns its paths (API and pages) in its own urls.py, mounted at the root."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from digitalme import health
from digitalme.metrics import metrics_view
from digitalme.throttling import AdminLoginThrottle, throttled_on_post

handler404 = "digitalme.errors.handler404"
handler500 = "digitalme.errors.handler500"

urlpatterns = [
    path("health/", health.liveness, name="health"),
    path("health/ready/", health.readiness, name="health-ready"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Split view: the init script is a separate same-origin file, so the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Log-in attempts on the admin are throttled per client IP like the API's (digitalme/throttling.py).
    path("admin/login/", throttled_on_post(admin.site.login, [AdminLoginThrottle])),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # --- web: pages (landing, PWA files, chat, persona, integrations, settings) ---
    path("", include("digitalme.page_urls")),
    path("", include("chat.page_urls")),
    path("", include("personality.page_urls")),
    path("", include("integrations.page_urls")),
    path("", include("accounts.page_urls")),
    path("", include("accounts.urls")),
    path("", include("personality.urls")),
    path("", include("chat.urls")),
    path("", include("integrations.urls")),
    path("", include("telegram_bot.urls")),
    path("", include("loadtest.urls")),
    path("", include("ops.page_urls")),
    path("", include("ops.urls")),
    path("", include("notifications.urls")),
]
