from allauth.socialaccount.providers.google.provider import GoogleProvider as BaseGoogleProvider

from integrations.oauth.google.views import GoogleOAuth2Adapter


class GoogleProvider(BaseGoogleProvider):
    package = "integrations.oauth.google"
    oauth2_adapter_class = GoogleOAuth2Adapter
