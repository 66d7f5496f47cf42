from django.urls import path

from notifications import apis

urlpatterns = [
    path("api/push/config/", apis.PushConfigApi.as_view(), name="api-push-config"),
    path("api/push/subscriptions/", apis.PushSubscriptionListApi.as_view(), name="api-push-subscriptions"),
    path(
        "api/push/subscriptions/<int:subscription_id>/",
        apis.PushSubscriptionDetailApi.as_view(),
        name="api-push-subscription",
    ),
]
