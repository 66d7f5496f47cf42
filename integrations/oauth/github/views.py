"""GitHub OAuth adapter with endpoints from settings (see integrations.oauth)."""

from __future__ import annotations

from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter as BaseGitHubOAuth2Adapter
from allauth.socialaccount.providers.oauth2.views import OAuth2LoginView
from django.conf import settings

from integrations.oauth.process import ProcessAwareCallbackView


class GitHubOAuth2Adapter(BaseGitHubOAuth2Adapter):
    @property  # type: ignore[override]
    def access_token_url(self) -> str:
        return f"{settings.GITHUB_OAUTH_BASE_URL}/login/oauth/access_token"

    @property  # type: ignore[override]
    def authorize_url(self) -> str:
        return f"{settings.GITHUB_OAUTH_BASE_URL}/login/oauth/authorize"

    @property  # type: ignore[override]
    def profile_url(self) -> str:
        return f"{settings.GITHUB_API_BASE_URL}/user"

    @property  # type: ignore[override]
    def emails_url(self) -> str:
        return f"{settings.GITHUB_API_BASE_URL}/user/emails"


oauth2_login = OAuth2LoginView.adapter_view(GitHubOAuth2Adapter)
oauth2_callback = ProcessAwareCallbackView.adapter_view(GitHubOAuth2Adapter)
