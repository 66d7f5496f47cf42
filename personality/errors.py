"""Domain errors of the personality app (mapped to {"detail","code","fields"} by digitalme.errors)."""

from __future__ import annotations

from rest_framework import status

from digitalme.errors import DomainError
from personality.schema import PersonaDataError

__all__ = [
    "EvalQueueUnavailableError",
    "EvalRunNotFoundError",
    "PersonaDataError",
    "PersonaError",
    "PersonaNotFoundError",
    "PersonaNotPublishedError",
    "PublishRefusedError",
    "TraitOutOfBoundsError",
    "VersionNotFoundError",
]


class PersonaError(DomainError):
    code = "persona_error"


class PersonaNotFoundError(PersonaError):
    status_code = status.HTTP_404_NOT_FOUND  # type: ignore[assignment]
    code = "not_found"


class VersionNotFoundError(PersonaError):
    status_code = status.HTTP_404_NOT_FOUND  # type: ignore[assignment]
    code = "not_found"


class PersonaNotPublishedError(PersonaError):
    """The persona exists (or not) but has no published version the chat can answer from."""

    status_code = status.HTTP_409_CONFLICT  # type: ignore[assignment]
    code = "persona_not_published"


class TraitOutOfBoundsError(PersonaError):
    code = "trait_out_of_bounds"


class EvalRunNotFoundError(PersonaError):
    status_code = status.HTTP_404_NOT_FOUND  # type: ignore[assignment]
    code = "not_found"


class EvalQueueUnavailableError(PersonaError):
    """The personality test could not be queued (the broker is down)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE  # type: ignore[assignment]
    code = "queue_unavailable"


class PublishRefusedError(PersonaError):
    """PERSONA_EVAL_PUBLISH_RULE=refuse stopped a publish (the version scores worse or was never evaluated)."""

    status_code = status.HTTP_409_CONFLICT  # type: ignore[assignment]
    code = "publish_refused"
