"""Ivan's public dashboard: bio, traits (live over /ws/persona/ivan/) and the consistency score."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

DEFAULT_PERSONA_SLUG = "ivan"


def persona_page(request: HttpRequest) -> HttpResponse:
    return render(request, "personality/persona.html", {"persona_slug": DEFAULT_PERSONA_SLUG})
