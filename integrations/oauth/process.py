"""Which OAuth flow a callback belongs to: signing in, or connecting an integration.

Signing in with Google or GitHub proves who the user is and nothing more; only an explicit
"connect" (allauth's `process=connect`, started from the /integrations/ page) may store the
provider's tokens for syncing and switch an integration on. allauth saves a SocialToken on every
path, so the callback view notes the flow of the state it is completing (peeked from the session,
before allauth verifies and consumes it) in a context variable that `social_token_capture` reads.
"""

from __future__ import annotations

import contextvars
from typing import Any

from allauth.socialaccount.internal import statekit
from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView

_connecting: contextvars.ContextVar[bool] = contextvars.ContextVar("integrations_oauth_connecting", default=False)


def oauth_is_connecting() -> bool:
    """True inside the callback of a `process=connect` flow."""
    return _connecting.get()


def _stashed_process(request: Any) -> str:
    state_id = request.GET.get("state") or request.POST.get("state") or ""
    stashed = statekit.get_states(request).get(state_id)
    if not stashed or not isinstance(stashed[0], dict):
        return ""
    return str(stashed[0].get("process") or "")


class ProcessAwareCallbackView(OAuth2CallbackView):
    """allauth's callback, run with `oauth_is_connecting()` telling sign-in from connect."""

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        marker = _connecting.set(_stashed_process(request) == AuthProcess.CONNECT)
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            _connecting.reset(marker)
