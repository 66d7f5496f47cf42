from django.urls import path

from personality import apis

urlpatterns = [
    path("api/chat/personality-test", apis.PersonalityTestApi.as_view(), name="api-personality-test"),
    path(
        "api/chat/personality-test/<int:run_id>",
        apis.PersonalityTestDetailApi.as_view(),
        name="api-personality-test-detail",
    ),
    path("api/personas/", apis.PersonaListApi.as_view(), name="api-persona-list"),
    path("api/personas/<slug:slug>/", apis.PersonaDetailApi.as_view(), name="api-persona-detail"),
    path("api/personas/<slug:slug>/card/", apis.PersonaCardApi.as_view(), name="api-persona-card"),
    path("api/personas/<slug:slug>/card.png", apis.PersonaCardPngApi.as_view(), name="api-persona-card-png"),
    path(
        "api/personas/<slug:slug>/prompt-preview/",
        apis.PersonaPromptPreviewApi.as_view(),
        name="api-persona-prompt-preview",
    ),
    path(
        "api/personas/<slug:slug>/evaluations/",
        apis.PersonaEvaluationListApi.as_view(),
        name="api-persona-evaluations",
    ),
    path(
        "api/personas/<slug:slug>/traits/history/",
        apis.PersonaTraitHistoryApi.as_view(),
        name="api-persona-trait-history",
    ),
    path("api/personas/<slug:slug>/drift/", apis.PersonaDriftApi.as_view(), name="api-persona-drift"),
    path("api/personas/<slug:slug>/versions/", apis.PersonaVersionListApi.as_view(), name="api-persona-versions"),
    path(
        "api/personas/<slug:slug>/versions/compare/",
        apis.PersonaVersionCompareApi.as_view(),
        name="api-persona-version-compare",
    ),
    path(
        "api/personas/<slug:slug>/versions/<int:number>/",
        apis.PersonaVersionDetailApi.as_view(),
        name="api-persona-version-detail",
    ),
    path(
        "api/personas/<slug:slug>/versions/<int:number>/revert/",
        apis.PersonaVersionRevertApi.as_view(),
        name="api-persona-version-revert",
    ),
    path(
        "api/personas/<slug:slug>/versions/<int:number>/publish/",
        apis.PersonaVersionPublishApi.as_view(),
        name="api-persona-version-publish",
    ),
]
