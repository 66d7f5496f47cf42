"""Open sockets end with the credentials they were opened with (close 4401 after an
`error` frame with code `session_ended`), and bad frames get error frames, never a 1011."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from digitalme.asgi import application
from digitalme.ws_auth import CLOSE_SESSION_ENDED
from tests.conftest import PASSWORD
from tests.factories import UserFactory

ORIGIN = (b"origin", b"http://testserver")
NEW_PASSWORD = "another-correct-horse-77"


@sync_to_async
def _signed_in_staff():
    staff = UserFactory(password=PASSWORD, is_staff=True)
    client = Client()
    client.force_login(staff)
    return client, client.cookies["sessionid"].value, staff


async def _ops_socket(session_key: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, "/ws/ops/", headers=[ORIGIN, (b"cookie", f"sessionid={session_key}".encode())]
    )
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=10))["type"] == "ops.frame"
    return communicator


async def _assert_session_ended(communicator: WebsocketCommunicator) -> None:
    """Dashboard frames may come first; then the `session_ended` error, then close 4401."""
    frames = []
    while (output := await communicator.receive_output(timeout=10))["type"] != "websocket.close":
        frames.append(output.get("text", ""))
    assert output["code"] == CLOSE_SESSION_ENDED
    assert '"session_ended"' in frames[-1]


@pytest.mark.django_db(transaction=True)
async def test_logging_out_closes_that_sessions_sockets_only():
    browser, key, _ = await _signed_in_staff()
    _, other_key, _ = await _signed_in_staff()
    socket = await _ops_socket(key)
    other_socket = await _ops_socket(other_key)

    response = await sync_to_async(browser.post)("/accounts/logout/")
    assert response.status_code == 302

    await _assert_session_ended(socket)
    await other_socket.send_json_to({"type": "ping"})
    while (frame := await other_socket.receive_json_from(timeout=10))["type"] == "ops.frame":
        pass
    assert frame == {"type": "pong"}
    await other_socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_changing_the_password_closes_every_socket_of_the_account():
    browser, key, _ = await _signed_in_staff()
    socket = await _ops_socket(key)

    response = await sync_to_async(browser.post)(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302

    await _assert_session_ended(socket)


@pytest.mark.django_db(transaction=True)
async def test_deactivation_in_the_admin_closes_the_accounts_sockets():
    _, key, staff = await _signed_in_staff()
    socket = await _ops_socket(key)
    admin = await sync_to_async(UserFactory)(password=PASSWORD, is_staff=True, is_superuser=True)
    admin_client = Client()
    await sync_to_async(admin_client.force_login)(admin)

    response = await sync_to_async(admin_client.post)(
        f"/admin/accounts/user/{staff.pk}/change/",
        {"email": staff.email, "display_name": "x", "language": "en", "timezone": "UTC", "is_staff": "on"},
    )
    assert response.status_code == 302

    await _assert_session_ended(socket)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "frame",
    [{"text_data": "not json"}, {"text_data": "[" * 50_000}, {"bytes_data": b"\x00\xff"}, {"text_data": "null"}],
)
async def test_the_persona_socket_answers_bad_frames_with_an_error_and_stays_open(frame):
    from personality.loading import persona_load_file
    from tests.personality.conftest import IVAN_FILE

    await sync_to_async(persona_load_file)(path=IVAN_FILE)
    communicator = WebsocketCommunicator(application, "/ws/persona/ivan/", headers=[ORIGIN])
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "ready"

    await communicator.send_to(**frame)
    error = await communicator.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["code"] == "bad_request"
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_ops_socket_answers_a_deeply_nested_frame_with_an_error():
    _, key, _ = await _signed_in_staff()
    socket = await _ops_socket(key)
    await socket.send_to(text_data="[" * 50_000 + "]" * 50_000)
    while (frame := await socket.receive_json_from(timeout=10))["type"] == "ops.frame":
        pass
    assert frame["code"] == "bad_request"
    await socket.disconnect()


async def _chat_socket_with_token(user) -> WebsocketCommunicator:
    from rest_framework_simplejwt.tokens import RefreshToken

    access = str((await sync_to_async(RefreshToken.for_user)(user)).access_token)
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN])
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "auth", "token": access})
    assert (await communicator.receive_json_from(timeout=10))["type"] == "ready"
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_a_password_reset_closes_the_accounts_token_authenticated_chat_sockets():
    from allauth.account.adapter import get_adapter

    user = await sync_to_async(UserFactory)(password=PASSWORD)
    socket = await _chat_socket_with_token(user)

    await sync_to_async(get_adapter().set_password)(user, NEW_PASSWORD)  # what reset/change/set call

    await _assert_session_ended(socket)


@pytest.mark.django_db(transaction=True)
async def test_the_chat_socket_answers_a_deeply_nested_frame_with_an_error_and_stays_usable():
    user = await sync_to_async(UserFactory)(password=PASSWORD)
    socket = await _chat_socket_with_token(user)

    await socket.send_to(text_data="[" * 7_900 + "]" * 7_900)  # under the 16,000-character cap
    error = await socket.receive_json_from(timeout=10)
    assert (error["type"], error["code"]) == ("error", "bad_request")
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=10) == {"type": "pong"}
    await socket.disconnect()


async def _chat_socket_with_access(access: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN])
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "auth", "token": access})
    assert (await communicator.receive_json_from(timeout=10))["type"] == "ready"
    return communicator


@sync_to_async
def _api_post(path: str, body: dict) -> tuple[int, dict]:
    from rest_framework.test import APIClient

    response = APIClient().post(path, body, format="json")
    return response.status_code, (response.json() if response.content else {})


@pytest.mark.django_db(transaction=True)
async def test_an_api_logout_closes_the_sockets_of_that_login_only():
    user = await sync_to_async(UserFactory)(password=PASSWORD)
    credentials = {"email": user.email, "password": PASSWORD}
    _, login = await _api_post("/api/auth/token/", credentials)
    _, other_login = await _api_post("/api/auth/token/", credentials)  # another device of the same user
    socket = await _chat_socket_with_access(login["access"])
    other_socket = await _chat_socket_with_access(other_login["access"])
    # A refresh rotates the tokens but stays the same log-in: its sockets end with it too.
    _, refreshed = await _api_post("/api/auth/token/refresh/", {"refresh": login["refresh"]})
    refreshed_socket = await _chat_socket_with_access(refreshed["access"])

    status, _ = await _api_post("/api/auth/token/logout/", {"refresh": refreshed["refresh"]})

    assert status == 205
    await _assert_session_ended(socket)
    await _assert_session_ended(refreshed_socket)
    await other_socket.send_json_to({"type": "ping"})
    assert await other_socket.receive_json_from(timeout=10) == {"type": "pong"}
    await other_socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_api_logout_of_a_token_without_a_login_id_closes_the_sockets_of_such_tokens():
    """Tokens minted before log-ins were named (or by `for_user` in scripts) share one key."""
    from rest_framework_simplejwt.tokens import RefreshToken

    user = await sync_to_async(UserFactory)(password=PASSWORD)
    refresh = await sync_to_async(RefreshToken.for_user)(user)
    socket = await _chat_socket_with_access(str(refresh.access_token))
    _, login = await _api_post("/api/auth/token/", {"email": user.email, "password": PASSWORD})
    named_socket = await _chat_socket_with_access(login["access"])

    status, _ = await _api_post("/api/auth/token/logout/", {"refresh": str(refresh)})

    assert status == 205
    await _assert_session_ended(socket)
    await named_socket.send_json_to({"type": "ping"})
    assert await named_socket.receive_json_from(timeout=10) == {"type": "pong"}
    await named_socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_signing_a_socket_in_never_queues_on_the_single_thread_sensitive_thread(monkeypatch):
    """Every socket's log-in (session cookie or token) on the one shared thread made 1,000 sockets
    connecting at once wait in line: in the bench only 622 of 900 idle sockets were ready in 60 s."""
    import asgiref.sync

    where: dict[str, set[bool]] = {}
    real_call = asgiref.sync.SyncToAsync.__call__

    async def recording_call(self, *args, **kwargs):
        where.setdefault(getattr(self.func, "__qualname__", repr(self.func)), set()).add(self._thread_sensitive)
        return await real_call(self, *args, **kwargs)

    user = await sync_to_async(UserFactory)(password=PASSWORD)
    _, login = await _api_post("/api/auth/token/", {"email": user.email, "password": PASSWORD})
    _, key, _ = await _signed_in_staff()
    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__call__", recording_call)

    token_socket = await _chat_socket_with_access(login["access"])
    cookie_socket = await _ops_socket(key)

    # the token's user (chat) and the session's user (ops dashboard) were looked up, off that thread
    assert where["login_from_access_token"] == {False}
    assert where["get_user"] == {False}
    await token_socket.disconnect()
    await cookie_socket.disconnect()
