"""Domain errors of the chat app; REST maps them via digitalme.errors, the socket to `error` frames."""

from __future__ import annotations

from rest_framework import status

from digitalme.errors import DomainError


class ChatError(DomainError):
    pass


class InvalidInput(ChatError):
    code = "bad_request"


class EmptyMessage(InvalidInput):
    pass


class MessageTooLong(ChatError):
    code = "too_long"


class RateLimited(ChatError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, fields={"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class LLMUnavailable(ChatError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "llm_unavailable"


class NotFound(ChatError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
