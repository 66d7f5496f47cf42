"""What one chat turn costs, in counts — SQL statements, database hops, token counts — never in
durations (the timing lives in `make bench`, docs/QUALITY.md)."""

from __future__ import annotations

import json
import re
import sys
import uuid

import asgiref.sync
import pytest
from asgiref.sync import sync_to_async
from django.db import connection as default_connection
from django.db.backends.signals import connection_created
from redis.asyncio.connection import AbstractConnection

import chat.llm.client
import chat.turn
from chat import moderation, moderation_model
from chat.consumers import ChatConsumer
from chat.models import Message, Platform
from chat.services import chat_reply
from digitalme import tokens
from personality.errors import PersonaNotPublishedError
from tests.chat.conftest import communicator, receive_until, session_cookie_header

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def statements():
    """Every SQL statement run by any thread. The turn's hops run on the chat pool's threads, which
    django_assert_max_num_queries (bound to this thread's connection) would not see."""
    seen: list[str] = []
    wrapped = []

    def count(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    def install(sender, connection, **kwargs):
        if count not in connection.execute_wrappers:
            connection.execute_wrappers.append(count)
            wrapped.append(connection)

    connection_created.connect(install)
    yield seen
    connection_created.disconnect(install)
    for connection in wrapped:
        if count in connection.execute_wrappers:
            connection.execute_wrappers.remove(count)


@pytest.fixture
def hops(monkeypatch):
    """The names of the turn's database hops, in order."""
    names: list[str] = []
    real = chat.turn.db_async

    def counting(func):
        names.append(func.__name__)
        return real(func)

    monkeypatch.setattr(chat.turn, "db_async", counting)
    return names


@pytest.fixture
def redis_round_trips(monkeypatch):
    """The first command of every round trip to Redis (a pipeline is one), from any client of the
    process — the layer's blocking receive (BZPOPMIN) aside: it waits, it does not work per turn;
    and a new connection's handshake (here every sync turn runs on a new event loop, so it opens
    its connections; a server's process opens them once)."""
    sent: list[str] = []
    real = AbstractConnection.send_packed_command

    async def counting(self, command, check_health=True):
        packed = command if isinstance(command, bytes | str) else b"".join(command)
        packed = packed.encode() if isinstance(packed, str) else packed
        name = re.match(rb"\*\d+\r\n\$\d+\r\n(\w+)", packed)
        if name is not None and name.group(1).upper() not in {b"BZPOPMIN", b"HELLO", b"CLIENT", b"SELECT", b"AUTH"}:
            sent.append(name.group(1).upper().decode())
        return await real(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return sent


@pytest.fixture
def started(user, ivan):
    """A conversation with one exchange: the next turn is the steady state (persona cached, conversation exists)."""
    return chat_reply(user=user, text="Hi, I am back", platform=Platform.WEB)


@pytest.fixture
def encoded(monkeypatch):
    """Every text the tokenizer encodes from now on."""
    seen: list[str] = []
    real = tokens._encoding

    class Counting:
        def __init__(self, encoding):
            self.encoding = encoding

        def encode(self, text, **kwargs):
            seen.append(text)
            return self.encoding.encode(text, **kwargs)

    monkeypatch.setattr(tokens, "_encoding", lambda name: Counting(real(name)))
    return seen


def test_a_steady_state_turn_makes_one_hop_before_the_stream_and_one_after(user, started, hops):
    chat_reply(user=user, text="What are you working on?", platform=Platform.WEB, conversation=started.conversation)

    # before: store the message and the empty reply, then read the prompt's data; after: the reply
    assert hops == ["_begin_and_build", "_finish_turn"]


def test_a_steady_state_turn_makes_at_most_four_round_trips_to_the_database(user, started, statements):
    chat_reply(user=user, text="What are you working on?", platform=Platform.WEB, conversation=started.conversation)

    # first hop: one INSERT of both rows with the client-id lookup riding it, then history with
    # memory (summary and facts) sent with the live version's question, then integrations' enabled
    # kinds; finish: one statement for the reply, the conversation and the summary check. On
    # PostgreSQL; elsewhere the lookup and the live version are statements of their own.
    assert len(statements) <= (4 if default_connection.vendor == "postgresql" else 6), "\n".join(statements)


def test_the_finishing_hop_is_one_statement_on_postgresql(user, started, statements):
    if default_connection.vendor != "postgresql":
        pytest.skip("SQLite has no data-modifying CTEs: there it is three statements in one transaction")
    chat_reply(user=user, text="What are you working on?", platform=Platform.WEB, conversation=started.conversation)

    # fill the reply, move the conversation up and read the summary trigger: one round trip
    finishing = [sql for sql in statements if "UPDATE chat_message" in sql or "UPDATE chat_conversation" in sql]
    assert len(finishing) == 1, "\n".join(statements)


def test_a_turn_by_conversation_id_looks_it_up_in_the_first_hop(user, started, statements, hops):
    chat_reply(user=user, text="And then?", platform=Platform.WEB, conversation_id=started.conversation.pk)

    assert hops == ["_begin_and_build", "_finish_turn"]
    # the conversation comes with the client-id lookup, which rides the INSERT (PostgreSQL)
    assert len(statements) <= (4 if default_connection.vendor == "postgresql" else 6), "\n".join(statements)


def test_no_turn_hop_runs_on_the_single_thread_sensitive_executor(user, started, monkeypatch):
    sensitive: list[str] = []
    real_init = asgiref.sync.SyncToAsync.__init__

    def recording_init(self, func, thread_sensitive=True, *args, **kwargs):
        if thread_sensitive:
            sensitive.append(getattr(func, "__qualname__", repr(func)))
        real_init(self, func, thread_sensitive, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__init__", recording_init)

    chat_reply(user=user, text="Still there?", platform=Platform.WEB, conversation=started.conversation)

    assert sensitive == []


def test_a_steady_state_turn_counts_only_new_text(user, started, request):
    chat_reply(user=user, text="Tell me about chess", platform=Platform.WEB, conversation=started.conversation)
    counted = request.getfixturevalue("encoded")

    chat_reply(user=user, text="Tell me more about chess", platform=Platform.WEB, conversation=started.conversation)

    # The persona's fixed part, its facts and examples, and earlier messages were counted before
    # (digitalme.tokens keeps each text's count, the rows their own): what is new is the user's
    # message, at most the system prompt, and this reply.
    assert "Tell me more about chess" in counted
    assert len(counted) <= 4, counted
    assert tokens.count_text.cache_info().hits > 0


def test_every_message_stores_its_token_count_once(user, started):
    messages = list(Message.objects.filter(conversation=started.conversation))

    assert len(messages) == 2  # "Hi, I am back" and Ivan's reply
    assert all(m.tokens == tokens.count_text(m.content, "fake/ivan") for m in messages)
    assert {m.tokenizer for m in messages} == {"cl100k_base"}


def test_history_is_budgeted_from_the_stored_counts_after_a_restart(user, started, request):
    chat_reply(user=user, text="Tell me about chess", platform=Platform.WEB, conversation=started.conversation)
    earlier = {m.content for m in Message.objects.filter(conversation=started.conversation)}
    tokens.count_text.cache_clear()  # a new process: nothing counted in memory
    counted = request.getfixturevalue("encoded")

    chat_reply(user=user, text="Tell me more about chess", platform=Platform.WEB, conversation=started.conversation)

    assert "Tell me more about chess" in counted
    assert earlier & set(counted) == set()


def test_a_turn_counts_its_rate_window_and_takes_its_claim_in_one_redis_round_trip(user, started, redis_round_trips):
    chat_reply(user=user, text="What are you working on?", platform=Platform.WEB, conversation=started.conversation)

    # the rate window with the reply's claim (one pipeline); then each of the two pushes
    # (message.created, reply.end) to the user's group: its members, and the send to them (the
    # sockets of this user: none here, so no send). The claim is not given back: a stored reply is
    # what a retry gets anyway.
    assert redis_round_trips == ["INCRBY", "ZREMRANGEBYSCORE", "ZREMRANGEBYSCORE"]


async def test_a_sockets_own_turn_is_not_sent_back_to_it_through_the_group(user, ivan, monkeypatch, redis_round_trips):
    echoed: list[dict] = []
    real_push_event = ChatConsumer.push_event

    async def recording(self, event):
        echoed.append(event)
        await real_push_event(self, event)

    monkeypatch.setattr(ChatConsumer, "push_event", recording)
    comm = communicator(await sync_to_async(session_cookie_header)(user))
    await comm.connect()
    try:
        await receive_until(comm, "ready")
        redis_round_trips.clear()
        await comm.send_json_to({"type": "message", "content": "only one tab open", "client_id": "solo-1"})
        frames = await receive_until(comm, "reply.end")
    finally:
        await comm.disconnect()

    assert [f["type"] for f in frames if f["type"] != "reply.token"] == ["message.created", "reply.start", "reply.end"]
    assert echoed == []  # the user's group had no other socket: nothing came back to this one
    # per push one round trip (the group's members); no send, no message for this socket's receive loop
    assert redis_round_trips.count("EVAL") == 0, redis_round_trips


def test_a_turn_whose_prompt_cannot_be_read_keeps_the_message_and_leaves_no_empty_reply(user):
    # no persona published (no `ivan` fixture): the first hop stores the message, then its read fails
    with pytest.raises(PersonaNotPublishedError):
        chat_reply(user=user, text="Is anyone there?", platform=Platform.WEB, client_id="lonely-1")

    stored = list(Message.objects.filter(conversation__user=user).values_list("role", "content", "client_id"))
    assert stored == [("user", "Is anyone there?", "lonely-1")]


def test_a_steady_state_turn_takes_a_thread_hop_only_for_its_database_work(user, started, monkeypatch):
    hopped: list[str] = []
    real_init = asgiref.sync.SyncToAsync.__init__

    def recording_init(self, func, *args, **kwargs):
        hopped.append(getattr(func, "__name__", repr(func)))
        real_init(self, func, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__init__", recording_init)

    chat_reply(user=user, text="What are you working on?", platform=Platform.WEB, conversation=started.conversation)

    # the cheap quality gate runs in the finishing hop; a reply this short gets no streamed output check
    assert hopped == ["_begin_and_build", "_finish_turn"]


async def test_a_socket_turn_takes_no_hop_to_the_single_thread_sensitive_thread(user, ivan, monkeypatch):
    comm = communicator(await sync_to_async(session_cookie_header)(user))
    await comm.connect()
    sensitive: list[str] = []
    real_init = asgiref.sync.SyncToAsync.__init__

    def recording_init(self, func, thread_sensitive=True, *args, **kwargs):
        if thread_sensitive:
            sensitive.append(getattr(func, "__qualname__", repr(func)))
        real_init(self, func, thread_sensitive, *args, **kwargs)

    try:
        await receive_until(comm, "ready")
        monkeypatch.setattr(asgiref.sync.SyncToAsync, "__init__", recording_init)
        await comm.send_json_to({"type": "message", "content": "hello there", "client_id": "frame-1"})
        await comm.send_json_to({"type": "ping"})
        await receive_until(comm, "reply.end")
        during_the_turn = list(sensitive)  # (a disconnect closes old connections there once, per socket)
    finally:
        await comm.disconnect()

    # Channels' dispatch closed old connections on that one thread before every frame it handled
    assert during_the_turn == []


@pytest.fixture
def checks_and_hops(monkeypatch) -> tuple[list[int], list[str]]:
    """The length of the text of every streamed output check, and the name of every thread hop, in order."""
    streamed_checks: list[int] = []
    real_check = moderation.moderate_output

    def recording_check(text, *args, final=True, **kwargs):
        if not final:
            streamed_checks.append(len(text))
        return real_check(text, *args, final=final, **kwargs)

    hopped: list[str] = []
    real_init = asgiref.sync.SyncToAsync.__init__

    def recording_init(self, func, *args, **kwargs):
        hopped.append(getattr(func, "__name__", repr(func)))
        real_init(self, func, *args, **kwargs)

    monkeypatch.setattr(moderation, "moderate_output", recording_check)
    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__init__", recording_init)
    return streamed_checks, hopped


def test_a_streamed_reply_is_checked_on_the_event_loop_without_a_thread_hop(user, started, checks_and_hops, settings):
    """The streamed output checks (every 80 chars) are pure Python once the classifier is loaded;
    a thread hop for each cost about as much as the check (`moderation.output_check_needs_thread`)."""
    settings.LLM_MODEL = "fake/fixed40"
    moderation_model.classifier()  # loaded, as in any process after its first check
    streamed_checks, hopped = checks_and_hops

    chat_reply(user=user, text="What are you working on?", platform=Platform.WEB, conversation=started.conversation)

    assert streamed_checks  # the 40-token reply was checked while it streamed
    assert hopped == ["_begin_and_build", "_finish_turn"]


# --- the per-token path: provider chunk → frame on the socket -------------------------------------


def _words(count: int) -> str:
    return " ".join(["the reconcile loop stays small"] * (count // 5))


async def _python_calls_per_streamed_turn(consumer: ChatConsumer, text: str) -> int:
    """Python calls (sys.setprofile "call" events: function calls and generator resumptions) made
    under `llm.stream_reply` while one socket turn streams: the per-token path and the stream's own
    per-reply set-up. The turn's database hops run on other threads, which this does not see."""
    stream_code = chat.llm.client.stream_reply.__code__
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event != "call":
            return
        caller = frame.f_back
        for _ in range(40):
            if caller is None:
                return
            if caller.f_code is stream_code:
                calls += 1
                return
            caller = caller.f_back

    sys.setprofile(count)
    try:
        await consumer._run_turn(text=text, conversation_id=None, client_id=uuid.uuid4().hex)
    finally:
        sys.setprofile(None)
    return calls


async def test_a_streamed_token_costs_at_most_ten_python_calls_from_the_provider_to_the_socket(user, ivan, monkeypatch):
    """Per token: the fake's generator, its Piece, the turn's `on_delta` and its guard's `add`, the
    consumer's `on_token` straight to the ASGI send, the stop poll (the turn's and the socket's)
    and the fake's word split — 10. It was 17: a replay generator around every provider stream,
    two watchdog method calls, `_Caller.token`, `json.dumps` → `JSONEncoder.encode`, and Channels'
    two `send` coroutines in front of the ASGI send. Streamed output checks are per 80 chars, not
    per token: out of this count (test above and `test_moderation.py`)."""
    monkeypatch.setattr(chat.turn, "OUTPUT_CHECK_EVERY_CHARS", 10**9)
    consumer = ChatConsumer()
    sent: list[dict] = []

    async def asgi_send(message: dict) -> None:
        sent.append(message)

    consumer.base_send = asgi_send
    consumer.user = user
    consumer.channel_name = "specific.turn-costs!probe"
    consumer.stop_requested = False
    await _python_calls_per_streamed_turn(consumer, "[[say:warm up]]")
    sent.clear()

    calls_40 = await _python_calls_per_streamed_turn(consumer, f"[[say:{_words(40)}]]")
    frames_40 = len(sent)
    calls_80 = await _python_calls_per_streamed_turn(consumer, f"[[say:{_words(80)}]]")

    frames = [json.loads(message["text"]) for message in sent[frames_40:]]
    assert [f["type"] for f in frames] == ["message.created", "reply.start", *["reply.token"] * 80, "reply.end"]
    assert "".join(f["delta"] for f in frames if f["type"] == "reply.token") == _words(80)
    assert (calls_80 - calls_40) / 40 <= 10, (calls_40, calls_80)


def test_the_output_guard_copies_the_reply_at_its_checks_not_per_token():
    """`text += delta` on an attribute copied the whole reply for every token (no in-place
    concatenation there): a long reply's copies grew with its length squared."""
    concatenated = 0

    class Piece(str):
        def __radd__(self, other: str) -> str:  # `reply_so_far + piece` asks the piece first (a str subclass)
            nonlocal concatenated
            concatenated += 1
            return str.__add__(other, self)

    guard = chat.turn._OutputGuard(user_id=1, system_prompt="")
    pieces = [Piece(f" w{i}") for i in range(200)]
    due = [guard.add(piece) for piece in pieces]

    assert concatenated == 0
    assert guard.text == "".join(pieces)
    assert guard.length == len(guard.text)
    assert sum(due) == sum(1 for i in range(1, 201) if len("".join(pieces[:i])) >= 80) > 0  # nothing checked yet


def test_a_long_streamed_reply_is_checked_on_the_event_loop_to_its_end(user, started, checks_and_hops):
    """A streamed check reads the reply's tail (≈ 500 chars), however long the reply: past 2,000
    chars its checks used to hop to a thread all the same (the rule looked at the whole text)."""
    moderation_model.classifier()
    reply = " ".join(["The reconcile loop stays small and the operator stays easy to read."] * 50)
    assert len(reply) > 3 * moderation.INLINE_OUTPUT_CHECK_MAX_CHARS / 2
    streamed_checks, hopped = checks_and_hops

    turn = chat_reply(user=user, text=f"[[say:{reply}]]", platform=Platform.WEB, conversation=started.conversation)

    assert turn.reply.content == reply
    assert max(streamed_checks) > moderation.INLINE_OUTPUT_CHECK_MAX_CHARS
    assert hopped == ["_begin_and_build", "_finish_turn"]
