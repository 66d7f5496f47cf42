"""Chat pages (the JSON API and WebSocket routes live in urls.py and routing.py)."""

from django.urls import path

from chat import views

urlpatterns = [
    path("chat/", views.chat_page, name="chat"),
    path("chat/<int:conversation_id>/", views.chat_page, name="chat-conversation"),
]
