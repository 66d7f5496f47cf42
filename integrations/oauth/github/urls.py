from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from integrations.oauth.github.provider import GitHubProvider

urlpatterns = default_urlpatterns(GitHubProvider)
