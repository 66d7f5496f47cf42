"""Chat pages: the conversation list and one conversation; messages stream over /ws/chat/."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def chat_page(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    return render(request, "chat/chat.html", {"conversation_id": conversation_id})
