"""REST for conversations, messages (JSON or SSE), feedback and the user's memory. Thin views."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.background import spawn
from chat.errors import ChatError
from chat.models import Platform
from chat.selectors import conversation_get, conversation_list, memory_fact_history, message_list, user_memory_get
from chat.serializers import (
    ConversationOutputSerializer,
    MemoryOutputSerializer,
    MessageOutputSerializer,
    TurnOutputSerializer,
    message_payload,
)
from chat.services import (
    achat_reply,
    chat_reply,
    conversation_create,
    conversation_delete,
    conversation_update,
    memory_delete_all,
    memory_fact_delete,
    message_feedback,
)
from digitalme.errors import error_body, error_response

E400 = error_response("Invalid input: empty, too long (code too_long) or malformed")
E401 = error_response("Not authenticated")
E404 = error_response("Not found (or not yours)")
E429 = error_response("Rate limited (code rate_limited, fields.retry_after_s)")
E503 = error_response("The LLM did not answer in time (code llm_unavailable); the message is kept")


class MessagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class EventStreamRenderer(BaseRenderer):
    """Lets clients ask for `text/event-stream`; errors before the stream starts become an SSE error event."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return _sse("error", data).encode()


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _wants_event_stream(request) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


class ConversationListApi(APIView):
    pagination_class = PageNumberPagination  # also how the schema learns the list is paginated

    class ConversationCreateInputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")

    @extend_schema(responses={200: ConversationOutputSerializer(many=True), 401: E401})
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(conversation_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(ConversationOutputSerializer(page, many=True).data)

    @extend_schema(
        request=ConversationCreateInputSerializer, responses={201: ConversationOutputSerializer, 400: E400, 401: E401}
    )
    def post(self, request):
        data = self.ConversationCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversation_create(user=request.user, title=data.validated_data["title"], platform=Platform.API)
        return Response(ConversationOutputSerializer(conversation).data, status=status.HTTP_201_CREATED)


class ConversationDetailApi(APIView):
    class ConversationUpdateInputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=120, allow_blank=True)

    @extend_schema(responses={200: ConversationOutputSerializer, 401: E401, 404: E404})
    def get(self, request, conversation_id: int):
        conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        return Response(ConversationOutputSerializer(conversation).data)

    @extend_schema(
        request=ConversationUpdateInputSerializer,
        responses={200: ConversationOutputSerializer, 400: E400, 401: E401, 404: E404},
    )
    def patch(self, request, conversation_id: int):
        conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        data = self.ConversationUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversation_update(conversation=conversation, title=data.validated_data["title"])
        return Response(ConversationOutputSerializer(conversation).data)

    @extend_schema(responses={204: None, 401: E401, 404: E404})
    def delete(self, request, conversation_id: int):
        conversation_delete(conversation=conversation_get(user=request.user, conversation_id=conversation_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageListApi(APIView):
    pagination_class = MessagePagination

    def get_renderers(self):
        """SSE is how POST streams a reply; a GET (the list) is JSON only — the stream renderer would
        wrap a 200 list in an `error` event."""
        if getattr(self, "request", None) is not None and self.request.method == "POST":
            return [JSONRenderer(), EventStreamRenderer()]
        return [JSONRenderer()]

    class MessageCreateInputSerializer(serializers.Serializer):
        content = serializers.CharField(max_length=4000, trim_whitespace=True)
        client_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    @extend_schema(responses={200: MessageOutputSerializer(many=True), 401: E401, 404: E404})
    def get(self, request, conversation_id: int):
        conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(message_list(conversation=conversation), request, view=self)
        return paginator.get_paginated_response(MessageOutputSerializer(page, many=True).data)

    @extend_schema(
        request=MessageCreateInputSerializer,
        responses={
            201: TurnOutputSerializer,
            (200, "text/event-stream"): OpenApiResponse(
                description="With `Accept: text/event-stream`: events `token` {delta}, then `done` "
                "{user_message, reply}; or `error` {detail, code, fields}."
            ),
            400: E400,
            401: E401,
            404: E404,
            429: E429,
            503: E503,
        },
    )
    def post(self, request, conversation_id: int):
        conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        data = self.MessageCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        text, client_id = data.validated_data["content"], data.validated_data["client_id"]
        if _wants_event_stream(request):
            return _sse_response(user=request.user, conversation=conversation, text=text, client_id=client_id)
        turn = chat_reply(
            user=request.user, text=text, platform=Platform.API, conversation=conversation, client_id=client_id
        )
        return Response(TurnOutputSerializer(turn).data, status=status.HTTP_201_CREATED)


def _sse_response(*, user, conversation, text: str, client_id: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _sse_events(user=user, conversation=conversation, text=text, client_id=client_id),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _sse_events(*, user, conversation, text: str, client_id: str) -> AsyncIterator[str]:
    """Tokens as they come; the turn runs in its own task, so a client that leaves doesn't lose the reply."""
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def on_token(delta: str) -> None:
        queue.put_nowait(("token", {"delta": delta}))

    async def run() -> None:
        try:
            turn = await achat_reply(
                user=user,
                text=text,
                platform=Platform.API,
                conversation=conversation,
                client_id=client_id,
                on_token=on_token,
            )
        except ChatError as exc:
            queue.put_nowait(("error", error_body(exc.detail, exc.code, exc.fields)))
            return
        except Exception:
            queue.put_nowait(("error", error_body("Server error; it has been logged.", "server_error")))
            raise
        done = {"user_message": message_payload(turn.user_message), "reply": message_payload(turn.reply)}
        queue.put_nowait(("done", done))

    spawn(run())
    while True:
        event, data = await queue.get()
        yield _sse(event, data)
        if event in {"done", "error"}:
            return


class MessageFeedbackApi(APIView):
    class MessageFeedbackInputSerializer(serializers.Serializer):
        rating = serializers.ChoiceField(choices=[1, -1])
        correction = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")

    @extend_schema(
        request=MessageFeedbackInputSerializer,
        responses={200: MessageOutputSerializer, 400: E400, 401: E401, 404: E404},
    )
    def post(self, request, message_id: int):
        data = self.MessageFeedbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = message_feedback(user=request.user, message_id=message_id, **data.validated_data)
        return Response(MessageOutputSerializer(message).data)


class MemoryApi(APIView):
    @extend_schema(responses={200: MemoryOutputSerializer, 401: E401})
    def get(self, request):
        memory = user_memory_get(user=request.user)
        facts = list(memory_fact_history(user=request.user))
        payload = {
            "summary": memory.summary if memory else "",
            "summary_updated": memory.updated if memory else None,
            "facts": [fact for fact in facts if fact.replaced_by_id is None],
            "history": [fact for fact in facts if fact.replaced_by_id is not None],
        }
        return Response(MemoryOutputSerializer(payload).data)

    @extend_schema(responses={204: None, 401: E401})
    def delete(self, request):
        memory_delete_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemoryFactApi(APIView):
    @extend_schema(operation_id="me_memory_fact_destroy", responses={204: None, 401: E401, 404: E404})
    def delete(self, request, fact_id: int):
        memory_fact_delete(user=request.user, fact_id=fact_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
