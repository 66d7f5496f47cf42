"""Domain errors of the chat app; REST maps them via digitalme.errors, the socket to `error` frames.

Each `code` is what clients see: REST `{"detail","code","fields"}` and socket `error` frames.
"""

from __future__ import annotations

from rest_framework import status

from digitalme.errors import DomainError


class ChatError(DomainError):
    pass


class InvalidInput(ChatError):  # noqa: N818 - the contract's names (docs/ARCHITECTURE.md)
    code = "bad_request"


class EmptyMessage(InvalidInput):
    pass


class MessageTooLong(ChatError):  # noqa: N818 - the contract's names (docs/ARCHITECTURE.md)
    code = "too_long"


class RateLimited(ChatError):  # noqa: N818 - the contract's names (docs/ARCHITECTURE.md)
    status_code = status.HTTP_429_TOO_MANY_REQUESTS  # type: ignore[assignment]
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, fields={"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class LLMUnavailable(ChatError):  # noqa: N818 - the contract's names (docs/ARCHITECTURE.md)
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE  # type: ignore[assignment]
    code = "llm_unavailable"


class TurnInProgress(ChatError):  # noqa: N818 - named like the contract's other errors
    """The same client_id's reply is being written right now (another socket, a retry racing in)."""

    status_code = status.HTTP_409_CONFLICT  # type: ignore[assignment]
    code = "in_progress"


class NotFound(ChatError):  # noqa: N818 - the contract's names (docs/ARCHITECTURE.md)
    status_code = status.HTTP_404_NOT_FOUND  # type: ignore[assignment]
    code = "not_found"
