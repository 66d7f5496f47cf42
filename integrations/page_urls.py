"""Integrations pages."""

from django.urls import path

from integrations import views

urlpatterns = [path("integrations/", views.integrations_page, name="integrations-page")]
