"""Google OAuth adapter with endpoints from settings (see integrations.oauth)."""

from __future__ import annotations

from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter as BaseGoogleOAuth2Adapter
from allauth.socialaccount.providers.oauth2.views import OAuth2LoginView
from django.conf import settings

from integrations.oauth.process import ProcessAwareCallbackView


class GoogleOAuth2Adapter(BaseGoogleOAuth2Adapter):
    @property  # type: ignore[override]
    def access_token_url(self) -> str:
        return settings.GOOGLE_OAUTH_TOKEN_URL

    @property  # type: ignore[override]
    def authorize_url(self) -> str:
        return settings.GOOGLE_OAUTH_AUTHORIZE_URL

    @property  # type: ignore[override]
    def identity_url(self) -> str:
        return f"{settings.GOOGLE_API_BASE_URL}/oauth2/v2/userinfo"


oauth2_login = OAuth2LoginView.adapter_view(GoogleOAuth2Adapter)
oauth2_callback = ProcessAwareCallbackView.adapter_view(GoogleOAuth2Adapter)
