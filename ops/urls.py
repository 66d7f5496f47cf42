"""Ops API: the database latency test (docs/API.md names it without a trailing slash; both work)."""

from django.urls import re_path

from ops import apis

urlpatterns = [
    re_path(r"^api/performance/database-test/?$", apis.DatabaseTestApi.as_view(), name="api-database-test"),
]
