"""The settings page: profile, language, time zone, Telegram link, memory, export, deletion."""

from __future__ import annotations

import io
from typing import cast
from urllib.parse import urlparse

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.forms import DeleteAccountForm, ProfileForm
from accounts.models import User
from accounts.services import AccountError, user_delete, user_update

TELEGRAM_LINK_HOSTS = {"t.me", "telegram.me"}


def _settings_context(request: HttpRequest, **forms) -> dict:
    user = cast(User, request.user)
    return {
        "profile_form": forms.get("profile_form")
        or ProfileForm(
            initial={"display_name": user.display_name, "language": user.language, "timezone": user.timezone}
        ),
        "delete_form": forms.get("delete_form") or DeleteAccountForm(),
    }


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                user_update(user=cast(User, request.user), **form.cleaned_data)
            except AccountError as exc:
                for field, errors in exc.fields.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                translation.activate(form.cleaned_data["language"])
                messages.success(request, _("Settings saved."))
                return redirect("settings")
        return render(request, "accounts/settings.html", _settings_context(request, profile_form=form), status=400)
    return render(request, "accounts/settings.html", _settings_context(request))


@login_required
@require_POST
def account_delete(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST)
    if form.is_valid():
        try:
            user_delete(user=cast(User, request.user), password=form.cleaned_data["password"])
        except AccountError as exc:
            for error in exc.fields.get("password", [exc.detail]):
                form.add_error("password", error)
        else:
            logout(request)
            messages.success(request, _("Your account and everything stored about you were deleted."))
            return redirect("landing")
    return render(request, "accounts/settings.html", _settings_context(request, delete_form=form), status=400)


@login_required
@require_GET
def telegram_qr(request: HttpRequest) -> HttpResponse:
    """The QR code of a Telegram deep link, as SVG (so the page needs no script to draw it)."""
    link = request.GET.get("link", "")
    parsed = urlparse(link)
    if len(link) > 300 or parsed.scheme != "https" or parsed.hostname not in TELEGRAM_LINK_HOSTS:
        return HttpResponseBadRequest("link must be an https://t.me/ deep link", content_type="text/plain")
    image = qrcode.make(link, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=600"
    return response
