from typing import Any

from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.google.provider import GoogleProvider as BaseGoogleProvider
from django.conf import settings

from integrations.oauth.google.views import GoogleOAuth2Adapter

# Connecting asks for a refresh token (offline access, shown the consent screen again so Google
# sends one); signing in needs neither.
CONNECT_AUTH_PARAMS = {"access_type": "offline", "prompt": "consent"}


class GoogleProvider(BaseGoogleProvider):
    """Sign-in asks Google for identity only (SCOPE: openid email profile); connecting from the
    /integrations/ page (process=connect) adds GOOGLE_INTEGRATION_SCOPES (Gmail and Calendar,
    read-only) and offline access."""

    package = "integrations.oauth.google"
    oauth2_adapter_class = GoogleOAuth2Adapter

    def redirect(self, request: Any, process: Any, next_url: Any = None, data: Any = None, **kwargs: Any) -> Any:
        if process == AuthProcess.CONNECT:
            scope = list(kwargs.get("scope") or self.get_scope())
            kwargs["scope"] = scope + [s for s in settings.GOOGLE_INTEGRATION_SCOPES if s not in scope]
            auth_params = kwargs.get("auth_params")
            kwargs["auth_params"] = {
                **(auth_params if auth_params is not None else self.get_auth_params()),
                **CONNECT_AUTH_PARAMS,
            }
        return super().redirect(request, process, next_url, data, **kwargs)
