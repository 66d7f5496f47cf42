from django.urls import path

from loadtest.apis import LoadTestApi

urlpatterns = [
    path("api/chat/load-test", LoadTestApi.as_view(), name="chat-load-test"),
]
