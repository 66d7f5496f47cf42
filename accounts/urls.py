from django.urls import path

from accounts import api

urlpatterns = [
    path("api/auth/register/", api.RegisterApi.as_view(), name="api-register"),
    path("api/auth/token/", api.TokenObtainApi.as_view(), name="api-token"),
    path("api/auth/token/refresh/", api.TokenRefreshApi.as_view(), name="api-token-refresh"),
    path("api/auth/token/logout/", api.LogoutApi.as_view(), name="api-token-logout"),
    path("api/me/", api.MeApi.as_view(), name="api-me"),
    path("api/me/export/", api.MeExportApi.as_view(), name="api-me-export"),
]
