"""allauth Google/GitHub providers whose OAuth endpoints follow our settings.

allauth's own adapters fix their URLs when the module is imported (GitHub only knows a
GitHub Enterprise GITHUB_URL, which also moves the API to <url>/api/v3; Google reads
SOCIALACCOUNT_PROVIDERS once). These minimal subclasses read GITHUB_OAUTH_BASE_URL,
GITHUB_API_BASE_URL, GOOGLE_OAUTH_AUTHORIZE_URL, GOOGLE_OAUTH_TOKEN_URL and GOOGLE_API_BASE_URL
per request. They are plugged in through allauth's documented `provider_class` setting, so the
URL names (`google_login`, `github_callback`, ...) and paths stay allauth's.
"""
