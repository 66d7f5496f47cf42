"""The operations dashboard page (its socket is in routing.py)."""

from django.urls import path

from ops import views

urlpatterns = [path("ops/", views.ops_dashboard, name="ops-dashboard")]
