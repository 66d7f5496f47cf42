"""Chat pages: the conversation list and one conversation; messages stream over /ws/chat/."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from chat.errors import NotFound
from chat.selectors import conversation_get


@login_required
def chat_page(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    conversation = None
    if conversation_id is not None:
        try:
            conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        except NotFound:  # someone else's or gone: the same 404 either way
            raise Http404("No such conversation.") from None
    return render(request, "chat/chat.html", {"conversation_id": conversation_id, "conversation": conversation})
