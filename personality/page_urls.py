"""Persona pages."""

from django.urls import path

from personality import views

urlpatterns = [path("persona/", views.persona_page, name="persona")]
