"""Project-level pages: landing, the PWA manifest and service worker, the offline page."""

from django.urls import path

from digitalme import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("manifest.webmanifest", views.manifest, name="pwa-manifest"),
    path("sw.js", views.service_worker, name="pwa-service-worker"),
    path("offline/", views.offline, name="offline"),
    path("favicon.ico", views.favicon, name="favicon"),
]
