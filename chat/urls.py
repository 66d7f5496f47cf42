from django.urls import path

from chat import apis

urlpatterns = [
    path("api/conversations/", apis.ConversationListApi.as_view(), name="api-conversations"),
    path("api/conversations/<int:conversation_id>/", apis.ConversationDetailApi.as_view(), name="api-conversation"),
    path("api/conversations/<int:conversation_id>/messages/", apis.MessageListApi.as_view(), name="api-messages"),
    path("api/messages/<int:message_id>/feedback/", apis.MessageFeedbackApi.as_view(), name="api-message-feedback"),
    path("api/me/memory/", apis.MemoryApi.as_view(), name="api-memory"),
    path("api/me/memory/<int:fact_id>/", apis.MemoryFactApi.as_view(), name="api-memory-fact"),
]
