"""The integrations page: connect Google/GitHub, choose what syncs, sync now."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from digitalme.pages import SOCIAL_PROVIDER_NAMES, configured_social_providers


@login_required
def integrations_page(request: HttpRequest) -> HttpResponse:
    configured = {provider["id"] for provider in configured_social_providers()}
    return render(
        request,
        "integrations/integrations.html",
        {"providers": list(SOCIAL_PROVIDER_NAMES.items()), "configured": configured},
    )
