"""Ivan's public dashboard: bio, traits (live over /ws/persona/ivan/) and the consistency score."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from personality.errors import PersonaNotPublishedError
from personality.selectors import persona_profile_live

DEFAULT_PERSONA_SLUG = "ivan"


def persona_page(request: HttpRequest) -> HttpResponse:
    # Name and bio are in the first paint, so the live data that follows does not move the page.
    try:
        profile = persona_profile_live(DEFAULT_PERSONA_SLUG)
    except PersonaNotPublishedError:
        profile = None
    return render(request, "personality/persona.html", {"persona_slug": DEFAULT_PERSONA_SLUG, "profile": profile})
