from django.urls import path, re_path

from integrations import api

# docs/API.md names health and load-test without a trailing slash; both forms work.
urlpatterns = [
    path("api/integrations/", api.IntegrationListApi.as_view(), name="api-integrations"),
    re_path(r"^api/integrations/health/?$", api.IntegrationHealthApi.as_view(), name="api-integrations-health"),
    re_path(r"^api/integrations/load-test/?$", api.IntegrationLoadTestApi.as_view(), name="api-integrations-load-test"),
    path("api/integrations/<str:provider>/", api.IntegrationDetailApi.as_view(), name="api-integration"),
    path("api/integrations/<str:provider>/sync/", api.IntegrationSyncApi.as_view(), name="api-integration-sync"),
    path(
        "api/integrations/<str:provider>/disconnect/",
        api.IntegrationDisconnectApi.as_view(),
        name="api-integration-disconnect",
    ),
    path("api/insights/", api.InsightListApi.as_view(), name="api-insights"),
]
