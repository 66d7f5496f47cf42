from allauth.socialaccount.providers.github.provider import GitHubProvider as BaseGitHubProvider

from integrations.oauth.github.views import GitHubOAuth2Adapter


class GitHubProvider(BaseGitHubProvider):
    package = "integrations.oauth.github"
    oauth2_adapter_class = GitHubOAuth2Adapter
