from django.urls import path

from integrations import api

urlpatterns = [
    path("api/integrations/", api.IntegrationListApi.as_view(), name="api-integrations"),
    path("api/integrations/health", api.IntegrationHealthApi.as_view(), name="api-integrations-health"),
    path("api/integrations/health/", api.IntegrationHealthApi.as_view()),
    path("api/integrations/load-test", api.IntegrationLoadTestApi.as_view(), name="api-integrations-load-test"),
    path("api/integrations/load-test/", api.IntegrationLoadTestApi.as_view()),
    path("api/integrations/<str:provider>/", api.IntegrationDetailApi.as_view(), name="api-integration"),
    path("api/integrations/<str:provider>/sync/", api.IntegrationSyncApi.as_view(), name="api-integration-sync"),
    path(
        "api/integrations/<str:provider>/disconnect/",
        api.IntegrationDisconnectApi.as_view(),
        name="api-integration-disconnect",
    ),
    path("api/insights/", api.InsightListApi.as_view(), name="api-insights"),
    path("api/performance/database-test", api.DatabaseTestApi.as_view(), name="api-database-test"),
    path("api/performance/database-test/", api.DatabaseTestApi.as_view()),
]
