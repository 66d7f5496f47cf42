"""The chat turn: one user message in, Ivan's reply streamed out, both stored. Every platform uses it.

Contract (docs/ARCHITECTURE.md "Chat pipeline contract"):

    achat_reply(*, user, text, platform, conversation=None, client_id="",
                on_token=None, should_stop=None, on_start=None) -> TurnResult        (async)
    chat_reply(...same...) -> TurnResult                                            (sync wrapper)
    persona_reply(*, profile, text, model=None, history=()) -> PreviewResult         (no storage)

`platform` is a chat.models.Platform value; nothing else differs between platforms.
`persona_reply` is how the persona-quality loop (evaluation, learning, the admin's "try it")
gets Ivan's answer: the persona version is the `profile` it passes (live, draft or an old
version), the model a parameter; nothing is stored.
Domain errors (chat.errors): EmptyMessage, MessageTooLong, RateLimited, LLMUnavailable, NotFound.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from chat import llm, moderation, rows
from chat.context import context_for
from chat.errors import EmptyMessage, InvalidInput, LLMUnavailable, MessageTooLong, NotFound, TurnInProgress
from chat.memory import memory_for_prompt, remember
from chat.memory.retrieval import FACTS_CONSIDERED
from chat.models import Conversation, Message, Platform, Role
from chat.prompting import BuiltPrompt, build_prompt
from chat.ratelimit import count_chat_message, raise_if_limited
from chat.selectors import message_find_by_client_id, reply_for, usable_history
from chat.serializers import message_payload
from digitalme import metrics, tokens
from digitalme.cache import fail_open
from digitalme.db import db_async
from digitalme.language import detect_language
from digitalme.realtime import apush_to_user
from digitalme.redis_pools import async_redis
from personality.evaluation.gate import (
    GateOutcome,
    agate_reply,
    agrounded_before_reply,
    agrounded_without_reply,
    cheap_gate_reply,
    gate_mode,
)
from personality.profile import PersonaProfile
from personality.selectors import live_version_statement, persona_profile_live, persona_profile_live_from

logger = logging.getLogger(__name__)

TokenCallback = Callable[[str], Awaitable[None]]
StartCallback = Callable[[Message, Message, dict[str, Any]], Awaitable[None]]
TITLE_CHARS = 60
OUTPUT_CHECK_EVERY_CHARS = 80  # moderate the growing reply this often while it streams


@dataclass(frozen=True)
class TurnResult:
    conversation: Conversation
    user_message: Message
    reply: Message
    prompt: BuiltPrompt | None  # None when no LLM was asked (blocked input, idempotent replay)
    replayed: bool = False  # the client_id was seen before: the stored turn is returned
    user_payload: dict[str, Any] | None = None  # the messages as API.md objects (built once per turn)
    reply_payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class PreviewResult:
    text: str
    prompt: BuiltPrompt
    model: str
    latency_ms: int
    quality: dict[str, Any] = field(default_factory=dict)  # the quality gate's record, as on a stored reply


# --- small helpers -------------------------------------------------------------------------------


def title_from(text: str) -> str:
    one_line = " ".join(text.split())
    if len(one_line) <= TITLE_CHARS:
        return one_line
    cut = one_line[:TITLE_CHARS].rsplit(" ", 1)[0] or one_line[:TITLE_CHARS]
    return cut.rstrip(",.;:!?-") + "…"


def _check_storable(value: str, field: str) -> None:
    """JSON (a socket frame) can carry a NUL or an unpaired surrogate (`\\ud800`); PostgreSQL text
    can't hold the first, UTF-8 can't encode the second: refuse both here, not with a 500 later."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        storable = False
    else:
        storable = "\x00" not in value
    if not storable:
        raise InvalidInput(
            f'"{field}" contains a NUL character or an unpaired surrogate: remove it and send again.',
            fields={field: "invalid_characters"},
        )


def _validate_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise EmptyMessage("The message is empty: write something for Ivan.", fields={"content": "empty"})
    text = text.strip()
    _check_storable(text, "content")
    if len(text) > settings.CHAT_MAX_MESSAGE_CHARS:
        raise MessageTooLong(
            f"The message is {len(text)} characters long; the limit is {settings.CHAT_MAX_MESSAGE_CHARS}.",
            fields={"content": "too_long"},
        )
    return text


# --- the turn, step by step (sync steps run in a worker thread) ------------------------------------


@dataclass
class _Begun:
    conversation: Conversation
    user_message: Message
    reply: Message
    language: str
    blocked: bool
    replayed: bool
    user_payload: dict[str, Any]  # API.md message objects, built once for the socket and the group
    reply_payload: dict[str, Any] | None  # only for a finished reply (blocked input, replay)


# --- one reply per user message at a time -------------------------------------------------------
# A reply being written holds a claim in the shared cache, kept alive while tokens arrive, so a
# client_id sent again meanwhile (a retry, another socket, a duplicate racing in) gets `in_progress`
# instead of a second reply; a claim whose process died runs out and the next try writes the reply.
# A reply stored with its text keeps the claim until it runs out: a retry of its client_id is
# answered from the stored turn (replayed) whether or not the claim is held, so giving it back
# would be a Redis round trip per turn for nothing.


def _claim_key(user_id: int, client_id: str) -> str:
    return f"chat:reply-claim:{user_id}:{hashlib.sha256(client_id.encode()).hexdigest()}"


def claim_ttl_s() -> int:
    """How long a claim outlives silence: the wait for a first token through every model, plus slack."""
    return int(settings.LLM_TIMEOUT_S * (1 + len(settings.LLM_FALLBACK_MODELS))) + 15


async def _arate_and_claim(user_id: int, client_id: str) -> bool:
    """Count the message in the user's rate window and take the claim on its reply, in one Redis
    round trip (the claim rides the count's pipeline). RateLimited beyond the limit (a claim just
    taken is given back). Without Redis, or when it fails, the claim is taken as _aclaim does."""
    key = _claim_key(user_id, client_id)
    hit = await count_chat_message(user_id, also=lambda pipe: pipe.set(key, 1, nx=True, ex=claim_ttl_s()))
    claimed = bool(hit.also[0]) if hit.also is not None else await _aclaim(user_id, client_id)
    try:
        raise_if_limited(hit)
    except BaseException:
        if claimed:
            await _arelease(user_id, client_id)
        raise
    return claimed


async def _aclaim(user_id: int, client_id: str) -> bool:
    """Take the claim on this client_id's reply: False when someone holds it. One async Redis
    round trip on the shared connection; a Redis outage grants it (fails open, as the cache does)."""
    key = _claim_key(user_id, client_id)
    if not settings.REDIS_URL:
        return cache.add(key, 1, timeout=claim_ttl_s())  # local memory: no I/O, safe on the loop
    try:
        return bool(await async_redis().set(key, 1, nx=True, ex=claim_ttl_s()))
    except (RedisError, OSError) as exc:
        fail_open("add", exc)
        return True


async def _arelease(user_id: int, client_id: str) -> None:
    key = _claim_key(user_id, client_id)
    if not settings.REDIS_URL:
        cache.delete(key)
        return
    try:
        await async_redis().delete(key)
    except (RedisError, OSError) as exc:  # the claim runs out by itself
        fail_open("delete", exc)


async def _akeep(user_id: int, client_id: str) -> None:
    """Still writing: the claim lives claim_ttl_s() from now."""
    key = _claim_key(user_id, client_id)
    if not settings.REDIS_URL:
        cache.touch(key, claim_ttl_s())
        return
    try:
        await async_redis().expire(key, claim_ttl_s())
    except (RedisError, OSError) as exc:
        fail_open("touch", exc)


def _in_progress() -> TurnInProgress:
    return TurnInProgress("This message is being answered right now; its reply will arrive.")


def _replayed(existing: Message, stored_reply: Message, language: str) -> _Begun:
    return _Begun(
        existing.conversation,
        existing,
        stored_reply,
        language,
        False,
        True,
        message_payload(existing),
        message_payload(stored_reply),
    )


def _begin_turn(
    *,
    user,
    text: str,
    platform: str,
    conversation: Conversation | None,
    conversation_id: Any,
    client_id: str,
    claimed: bool,
) -> _Begun:
    """Write hop 1: store the user's message and an empty reply row (or find a retried client_id's turn).

    `claimed`: the caller holds the claim on this client_id's reply (and releases it); without it
    only a stored turn can be replayed, anything else is TurnInProgress.

    Steady state: one lookup (the client id, and the conversation when given by id) and one INSERT
    of both rows, as plain SQL (chat/rows.py). No full_clean(): the text was validated at the
    boundary and the database's constraints guard the rest (a duplicate client_id is the unique
    constraint's IntegrityError).
    """
    language = detect_language(text, default=getattr(user, "language", "en"))
    wanted: int | None = None
    if conversation is None and conversation_id is not None:
        wanted = rows.as_bigint(conversation_id)
        if wanted is None:
            raise NotFound("No such conversation.")
    pair: _Pair | None = None
    known = conversation.pk if conversation is not None else wanted
    if claimed and known is not None and rows.can_insert_pair_checked():
        # The steady state: the lookups ride the INSERT; only a retried client_id or someone else's
        # conversation (nothing written) goes on to look as below.
        pair = _prepare_pair(user=user, text=text, platform=platform, client_id=client_id, language=language)
        begun = _write_pair(pair, user=user, conversation=conversation, checked_conversation_id=known)
        if begun is not None:
            return begun
    existing_id, found = rows.turn_lookup(user_id=user.pk, client_id=client_id, conversation_id=wanted)
    if existing_id is not None:
        retried = _begin_retried_turn(user=user, platform=platform, client_id=client_id, claimed=claimed)
        if retried is not None:
            return retried
    if not claimed:
        raise _in_progress()
    if wanted is not None:
        if found is None:
            raise NotFound("No such conversation.")
        conversation = found
    if pair is None:
        pair = _prepare_pair(user=user, text=text, platform=platform, client_id=client_id, language=language)
    begun = _write_pair(pair, user=user, conversation=conversation)
    assert begun is not None  # unchecked: always written
    return begun


def _begin_retried_turn(*, user, platform: str, client_id: str, claimed: bool) -> _Begun | None:
    """A client_id seen before: its stored turn, or (no reply yet, nobody writing it) a new reply to it;
    None when the message was deleted meanwhile (then it is a new turn).
    The claim was taken before this looked: a reply its last holder wrote is visible here."""
    existing = message_find_by_client_id(user=user, client_id=client_id)
    if existing is None:
        return None
    language = detect_language(existing.content, default=getattr(user, "language", "en"))
    stored_reply = reply_for(user_message=existing)
    if stored_reply is not None and stored_reply.content:
        return _replayed(existing, stored_reply, language)
    if not claimed:
        raise _in_progress()
    # Answered from the *stored* message (moderated when it came), never from the text sent again.
    # Empty reply rows of an earlier try whose process died (nobody holds the claim any more).
    Message.objects.filter(
        conversation=existing.conversation, role=Role.ASSISTANT, client_id=existing.client_id, content=""
    ).delete()
    reply = Message.objects.create(
        conversation=existing.conversation,
        role=Role.ASSISTANT,
        content="",
        platform=platform,
        client_id=existing.client_id,
    )
    return _Begun(existing.conversation, existing, reply, language, False, False, message_payload(existing), None)


@dataclass
class _Pair:
    """A new turn's two rows before they are written (their conversation set when they are)."""

    user_message: Message
    reply: Message
    language: str
    refusal: str  # Ivan's refusal when moderation blocked the message, else ""


def _prepare_pair(*, user, text: str, platform: str, client_id: str, language: str) -> _Pair:
    """Moderate the message and make its two rows: the user's, and the reply (empty, or the refusal)."""
    verdict = moderation.moderate_input(text, language=language)
    refusal = "" if verdict.allowed else moderation.refusal_for(verdict, language, persona=_live_profile_or_none())
    model = llm.current_model()
    tokenizer = tokens.tokenizer_of(model)
    now = timezone.now()
    user_message = Message(
        role=Role.USER,
        content=text,
        platform=platform,
        created=now,
        client_id=client_id,
        moderation=verdict.as_dict(),
        tokens=tokens.count_text(text, model),
        tokenizer=tokenizer,
    )
    reply = Message(
        role=Role.ASSISTANT,
        content=refusal,
        platform=platform,
        created=now,
        client_id=client_id,
        moderation={"allowed": True, "refusal": True} if refusal else {},
        tokens=tokens.count_text(refusal, model) if refusal else None,
        tokenizer=tokenizer if refusal else "",
    )
    return _Pair(user_message, reply, language, refusal)


def _write_pair(
    pair: _Pair, *, user, conversation: Conversation | None, checked_conversation_id: int | None = None
) -> _Begun | None:
    """Store the pair: in `conversation` (a new one when None), or — `checked_conversation_id` — in
    that conversation only if it is the user's and the client_id is new, in the same statement
    (None when it was not written)."""
    refusal = pair.refusal
    user_message, reply = pair.user_message, pair.reply
    # One statement in the steady state; a new conversation or a refusal's title make it a transaction.
    new_conversation = conversation is None and checked_conversation_id is None
    writes = transaction.atomic() if new_conversation or refusal else contextlib.nullcontext()
    try:
        with writes:
            if checked_conversation_id is not None:
                found = rows.messages_insert_pair_checked(
                    user_message, reply, user_id=user.pk, conversation_id=checked_conversation_id
                )
                if found is None:
                    return None
                if conversation is None:
                    conversation = found
                else:  # the caller's object, which the turn keeps up to date
                    user_message.conversation = reply.conversation = conversation
            else:
                if conversation is None:
                    conversation = Conversation.objects.create(user=user, platform=Platform(user_message.platform))
                user_message.conversation = reply.conversation = conversation
                rows.messages_insert_pair(user_message, reply)  # one INSERT; ids in this order
            if refusal:
                _touch(conversation, first_text=user_message.content)
    except IntegrityError:  # the same client_id raced in through another socket
        raise InvalidInput("This message was already sent.", fields={"client_id": "duplicate"}) from None
    return _Begun(
        conversation,
        user_message,
        reply,
        pair.language,
        bool(refusal),
        False,
        message_payload(user_message),
        message_payload(reply) if refusal else None,
    )


def _build(*, user, text: str, begun: _Begun, model: str) -> BuiltPrompt:
    """The first hop's reads: the live persona (cached per version), history, memory, context; then the prompt.
    History messages bring their stored token counts (counted again only under another tokenizer)."""
    tokenizer = tokens.tokenizer_of(model)
    # history and memory in one statement, which version of Ivan is live in the same round trip
    (lines, summary, facts), live = rows.prompt_reads_along(
        conversation_id=begun.conversation.pk,
        before_id=begun.user_message.pk,
        user_id=user.pk,
        facts_limit=FACTS_CONSIDERED,
        statement=live_version_statement(),
    )
    history = [
        {"role": line.role, "content": line.content, "tokens": line.tokens if line.tokenizer == tokenizer else None}
        for line in usable_history(lines)
    ]
    return build_prompt(
        profile=persona_profile_live_from(live[0] if live else None),
        text=text,
        history=history,
        memory=memory_for_prompt(user=user, text=text, stored=(summary, facts)),
        context=context_for(user, text),
        model=model,
    )


def _begin_and_build(
    *,
    user,
    text: str,
    platform: str,
    conversation: Conversation | None,
    conversation_id: Any,
    client_id: str,
    claimed: bool,
    model: str,
) -> tuple[_Begun, BuiltPrompt | None, Exception | None]:
    """The turn's first hop: `_begin_turn`'s writes, then (when the model is to be asked) `_build`'s
    reads on the same thread and pooled connection — one thread hop and one pool checkout fewer.

    A failing read is handed back, not raised, with the empty reply row already removed: the caller
    announces the stored user message first (message.created, on_start), as when the read was a
    hop of its own, then raises it."""
    begun = _begin_turn(
        user=user,
        text=text,
        platform=platform,
        conversation=conversation,
        conversation_id=conversation_id,
        client_id=client_id,
        claimed=claimed,
    )
    if begun.blocked or begun.replayed:
        return begun, None, None
    try:
        # The stored message is what the model reads: it is the text moderation saw.
        return begun, _build(user=user, text=begun.user_message.content, begun=begun, model=model), None
    except Exception as exc:  # noqa: BLE001 - raised by the caller, after it announced the stored message
        _abandon_reply(begun)
        return begun, None, exc


def _touch(conversation: Conversation, *, first_text: str) -> None:
    """Title a new conversation from its first exchange and move it to the top of the list."""
    conversation.updated = timezone.now()
    title = None if conversation.title else title_from(first_text)
    rows.conversation_touch(conversation_id=conversation.pk, updated=conversation.updated, title=title)
    if title is not None:
        conversation.title = title


def _live_profile_or_none() -> Any:
    """Ivan's live profile for a refusal's wording; a refusal must not fail for want of a persona."""
    try:
        return persona_profile_live()
    except Exception:
        logger.warning("no live persona for the refusal; using the default wording", exc_info=True)
        return None


def _finish_turn(
    *,
    user,
    begun: _Begun,
    result: llm.StreamResult,
    prompt: BuiltPrompt,
    cut_verdict: moderation.Verdict | None,
    quality: GateOutcome | None = None,
    cheap_gate: bool = False,
) -> tuple[Message, dict[str, Any]]:
    """Write hop 2: fill the reply row, move the conversation up, remember what the user stated
    (`cheap_gate`: first the cheap quality gate's verdict on the reply, recorded on it)."""
    reply = begun.reply
    text = _clean_reply(result.text)
    if cheap_gate:
        quality = cheap_gate_reply(
            reply=text,
            user_message=begun.user_message.content,
            profile=prompt.profile,
            system_prompt=prompt.composed.system,
        )
        metrics.record_quality_gate(mode="cheap", outcome=quality.outcome, label=quality.record["label"])
    verdict = cut_verdict or moderation.moderate_output(
        text, user_id=user.pk, system_prompt=prompt.composed.system, final=True
    )
    moderation_record = verdict.as_dict()
    if not verdict.allowed:
        text = moderation.refusal_for(verdict, begun.language, persona=prompt.profile)
        moderation_record["replaced"] = True
    reply.content = text
    model = llm.current_model()
    reply.tokens, reply.tokenizer = tokens.count_text(text, model), tokens.tokenizer_of(model)
    reply.model = result.model
    reply.prompt_tokens = result.prompt_tokens
    reply.completion_tokens = result.completion_tokens
    reply.latency_ms = result.latency_ms
    reply.ttft_ms = result.ttft_ms
    reply.stopped = result.stopped and verdict.allowed
    reply.moderation = moderation_record
    reply.quality = quality.record if quality else {}
    conversation = begun.conversation
    updated = timezone.now()
    title = None if conversation.title else title_from(begun.user_message.content)
    with transaction.atomic():
        # the reply, the conversation moved up (titled from its first exchange), memory's trigger: one statement
        pending = rows.turn_finish(reply=reply, user_id=user.pk, updated=updated, title=title)
        conversation.updated = updated
        if title is not None:
            conversation.title = title
        remember(user=user, user_message=begun.user_message, language=begun.language, pending_chars=pending)
    return reply, message_payload(reply)


def _abandon_reply(begun: _Begun) -> None:
    Message.objects.filter(pk=begun.reply.pk, content="").delete()


def _clean_reply(text: str) -> str:
    return text.strip()


# --- the pipeline -------------------------------------------------------------------------------


async def achat_reply(
    *,
    user,
    text: str | None,
    platform: str,
    conversation: Conversation | None = None,
    conversation_id: Any = None,
    client_id: str = "",
    on_token: TokenCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_start: StartCallback | None = None,
    own_channel: str | None = None,
) -> TurnResult:
    """Answer `text` from `user` as Ivan and store both messages.

    The conversation is `conversation`, or the user's `conversation_id` (looked up in the turn's
    first database hop: NotFound for anyone else's), or a new one. `on_start(user_message, reply,
    user_payload)` runs once both rows exist (the reply still empty: its id is what the stream
    announces; `user_payload` is the user message as API.md's object, built once);
    `on_token(delta)` runs per streamed piece; `should_stop()` is polled between pieces and ends
    generation early (the partial reply is stored, `stopped`). A failing callback (the caller went
    away) never stops the reply from being completed and stored. `own_channel`: the channel-layer
    name of the socket that sent the message (it shows the turn from the callbacks), left out of the
    pushes to the user's sockets. Raises EmptyMessage,
    MessageTooLong, RateLimited, NotFound, LLMUnavailable (user message kept).

    Database work: two hops on the bounded pool (digitalme/db.py), one before the stream (write the
    user's message and the empty reply, then read what the prompt needs) and one after (write the
    reply); pushes to the user's other sockets go from here, after the hop's commit.
    """
    text = _validate_text(text)
    client_id = (client_id or "").strip()[:64] or uuid.uuid4().hex
    _check_storable(client_id, "client_id")
    # The rate window, and one writer per client_id's reply (see claim_ttl_s and the notes above _claim_key).
    claimed = await _arate_and_claim(user.pk, client_id)
    model = llm.current_model()
    try:
        begun, prompt, build_error = await db_async(_begin_and_build)(
            user=user,
            text=text,
            platform=platform,
            conversation=conversation,
            conversation_id=conversation_id,
            client_id=client_id,
            claimed=claimed,
            model=model,
        )
    except BaseException:
        if claimed:
            await _arelease(user.pk, client_id)
        raise
    if claimed and (begun.replayed or begun.blocked):  # nothing more to write
        await _arelease(user.pk, client_id)
    if not begun.replayed:
        await apush_to_user(
            user.pk, {"type": "message.created", "message": begun.user_payload}, exclude_channel=own_channel
        )
    caller = _Caller(on_token)
    await caller.call(on_start, begun.user_message, begun.reply, begun.user_payload)
    if begun.blocked or begun.replayed:
        if begun.blocked:
            await apush_to_user(
                user.pk, {"type": "reply.end", "message": begun.reply_payload}, exclude_channel=own_channel
            )
            metrics.record_chat_turn(platform=platform, outcome="blocked")
        await caller.token(begun.reply.content)
        return TurnResult(
            begun.conversation,
            begun.user_message,
            begun.reply,
            None,
            replayed=begun.replayed,
            user_payload=begun.user_payload,
            reply_payload=begun.reply_payload,
        )

    try:
        if build_error is not None:
            raise build_error
        assert prompt is not None  # built whenever the turn was neither blocked nor replayed
        turn = await _write_reply(
            user=user,
            begun=begun,
            prompt=prompt,
            model=model,
            platform=platform,
            caller=caller,
            should_stop=should_stop,
            own_channel=own_channel,
        )
    except BaseException:
        await _arelease(user.pk, client_id)
        raise
    if not turn.reply.content:  # stopped before a word: nothing for a retry to replay, let it write
        await _arelease(user.pk, client_id)
    return turn


async def _write_reply(
    *,
    user,
    begun: _Begun,
    prompt: BuiltPrompt,
    model: str,
    platform: str,
    caller: _Caller,
    should_stop: Callable[[], bool] | None,
    own_channel: str | None,
) -> TurnResult:
    """Generate, check and store the reply of a claimed turn."""
    text = begun.user_message.content
    guard = _OutputGuard(user_id=user.pk, system_prompt=prompt.composed.system)
    # The full quality gate (the bundled model) may replace the reply: nothing is shown before it passed.
    hold = gate_mode(model) == "full"
    claim_refreshed = time.monotonic()

    send = None if hold else caller.on_token  # the full gate holds the reply back until it passed

    async def on_delta(delta: str) -> None:
        # Per streamed piece: `caller.token`'s rule inline (one coroutine fewer a token).
        nonlocal claim_refreshed
        if time.monotonic() - claim_refreshed > 5:  # still writing: keep the claim alive
            claim_refreshed = time.monotonic()
            await _akeep(user.pk, begun.user_message.client_id)
        if guard.add(delta):
            await guard.check()
        if guard.verdict is None and send is not None and not caller.gone:
            try:
                await send(delta)
            except Exception:  # noqa: BLE001 - logged with its traceback by went_away
                caller.went_away()

    def stop_requested() -> bool:
        return guard.verdict is not None or bool(should_stop and should_stop())

    started = time.monotonic()
    # the bundled model is not asked where its reply would be replaced anyway (gate.agrounded_before_reply)
    quality = await agrounded_before_reply(model=model, user_message=text, profile=prompt.profile)
    try:
        if quality is not None:
            metrics.record_quality_gate(mode="full", outcome="grounded", label="not_asked")
            result = _grounded_result(quality, model=model, started=started)
        else:
            result = await llm.stream_reply(
                prompt.messages,
                model=model,
                on_delta=on_delta,
                should_stop=stop_requested,
                prompt_tokens=prompt.token_count,
            )
    except llm.LLMUnavailableError as exc:
        # the bundled model starved on a busy machine: Ivan's own words, labelled, rather than an error
        quality = await agrounded_without_reply(
            model=model, user_message=text, profile=prompt.profile, reason=f"the model gave no reply ({exc})"
        )
        if quality is None:
            await db_async(_abandon_reply)(begun)
            metrics.record_chat_turn(platform=platform, outcome="error")
            raise LLMUnavailable(
                "Ivan cannot answer right now (the language model did not respond). Your message is saved; try again."
            ) from None
        metrics.record_quality_gate(mode="full", outcome="grounded", label="no_reply")
        result = _grounded_result(quality, model=model, started=started)
    if guard.verdict is not None:
        result = replace(result, stopped=False)
    elif not result.text.strip() and not result.stopped:
        await db_async(_abandon_reply)(begun)
        metrics.record_chat_turn(platform=platform, outcome="error")
        raise LLMUnavailable("Ivan could not find words this time (the model returned nothing). Try again.")
    gate_due = quality is None and guard.verdict is None and not result.stopped
    # the cheap gate never changes the reply: it runs in the finishing hop, not in a thread hop of its own
    cheap_gate = gate_due and gate_mode(result.model) == "cheap"
    if gate_due and not cheap_gate:
        result, quality = await _quality_gate(text=text, prompt=prompt, model=model, result=result)
    reply, reply_payload = await db_async(_finish_turn)(
        user=user,
        begun=begun,
        result=result,
        prompt=prompt,
        cut_verdict=guard.verdict,
        quality=quality,
        cheap_gate=cheap_gate,
    )
    await apush_to_user(user.pk, {"type": "reply.end", "message": reply_payload}, exclude_channel=own_channel)
    if hold:
        await caller.token(reply.content)
    outcome = "cut" if guard.verdict is not None else ("stopped" if result.stopped else "ok")
    metrics.record_chat_turn(platform=platform, outcome=outcome)
    return TurnResult(
        begun.conversation,
        begun.user_message,
        reply,
        prompt,
        user_payload=begun.user_payload,
        reply_payload=reply_payload,
    )


async def _quality_gate(
    *, text: str, prompt: BuiltPrompt, result: llm.StreamResult, model: str | None = None
) -> tuple[llm.StreamResult, GateOutcome | None]:
    """The persona quality gate on a finished reply: the reply to show (the first, a regenerated
    candidate or Ivan's grounded answer) and the gate's record, also counted in the metrics."""
    candidates: list[llm.StreamResult] = []

    async def regenerate() -> str | None:
        try:
            again = await llm.stream_reply(prompt.messages, model=model, prompt_tokens=prompt.token_count)
        except llm.LLMUnavailableError:
            return None
        candidates.append(again)
        return _clean_reply(again.text)

    gated = await agate_reply(
        reply=_clean_reply(result.text),
        model=result.model,
        user_message=text,
        profile=prompt.profile,
        system_prompt=prompt.composed.system,
        regenerate=regenerate,
        # the user has waited for the first candidate already: regenerate only within the gate's budget
        deadline=time.monotonic() + settings.PERSONA_QUALITY_GATE_BUDGET_S - result.latency_ms / 1000,
    )
    if gated is None:
        return result, None
    metrics.record_quality_gate(mode=gated.record["gate"], outcome=gated.outcome, label=gated.record["label"])
    if gated.index > 0:
        return candidates[gated.index - 1], gated
    if gated.index < 0:
        return replace(result, text=gated.text), gated
    return result, gated


def _grounded_result(quality: GateOutcome, *, model: str | None, started: float) -> llm.StreamResult:
    """A StreamResult carrying the gate's grounded answer when the model gave no reply at all."""
    return llm.StreamResult(
        text=quality.text,
        model=model or "",
        prompt_tokens=0,
        completion_tokens=0,
        ttft_ms=None,
        latency_ms=int((time.monotonic() - started) * 1000),
        stopped=False,
    )


def chat_reply(
    *,
    user,
    text: str | None,
    platform: str,
    conversation: Conversation | None = None,
    conversation_id: Any = None,
    client_id: str = "",
    on_token: Callable[[str], Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TurnResult:
    """Sync entry point (DRF views, Celery, commands): the same pipeline as achat_reply.

    `on_token` is a plain function here; it runs on the pipeline's event loop, so keep it quick.
    Must not be called from a thread that runs an event loop (use achat_reply there).
    """
    async_on_token: TokenCallback | None = None
    if on_token is not None:
        sync_on_token = on_token

        async def async_on_token(delta: str) -> None:
            sync_on_token(delta)

    return async_to_sync(achat_reply)(
        user=user,
        text=text,
        platform=platform,
        conversation=conversation,
        conversation_id=conversation_id,
        client_id=client_id,
        on_token=async_on_token,
        should_stop=should_stop,
    )


class _Caller:
    """Calls the caller's callbacks; once one fails (socket gone) it stops calling, the turn goes on."""

    def __init__(self, on_token: TokenCallback | None) -> None:
        self.on_token = on_token
        self.gone = False

    def went_away(self) -> None:
        """A callback failed (called from its `except`): stop calling; the turn goes on."""
        logger.info("reply caller went away; the reply is still completed and stored", exc_info=True)
        self.gone = True

    async def call(self, callback: Callable[..., Awaitable[Any]] | None, *args: Any) -> None:
        if callback is None or self.gone:
            return
        try:
            await callback(*args)
        except Exception:  # noqa: BLE001 - logged with its traceback by went_away
            self.went_away()

    async def token(self, delta: str) -> None:
        """`on_token(delta)` (`call`'s rule, without its extra coroutine)."""
        if not delta or self.on_token is None or self.gone:
            return
        try:
            await self.on_token(delta)
        except Exception:  # noqa: BLE001 - logged with its traceback by went_away
            self.went_away()


class _OutputGuard:
    """Moderates the reply while it streams (cheap local checks of its tail, on the event loop
    unless they need I/O: `moderation.output_check_needs_thread`); the first bad verdict cuts it,
    and the stored reply is replaced by Ivan's refusal."""

    def __init__(self, *, user_id: int, system_prompt: str) -> None:
        self.user_id = user_id
        self.system_prompt = system_prompt
        # The pieces since the last check, joined at the next: `text += delta` copied the whole reply
        # per token (quadratic in a long reply; an attribute gets no in-place concatenation).
        self._parts: list[str] = []
        self.length = 0
        self.checked_upto = 0
        self.verdict: moderation.Verdict | None = None

    @property
    def text(self) -> str:
        if len(self._parts) != 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0]

    def add(self, delta: str) -> bool:
        """Take the next piece; True when the text has grown enough to be checked (`check`)."""
        self._parts.append(delta)
        self.length += len(delta)
        return self.verdict is None and self.length - self.checked_upto >= OUTPUT_CHECK_EVERY_CHARS

    async def check(self) -> None:
        previous, self.checked_upto = self.checked_upto, self.length
        verdict = await moderation.amoderate_output(
            self.text, self.user_id, system_prompt=self.system_prompt, final=False, checked_upto=previous
        )
        if not verdict.allowed:
            self.verdict = verdict


# --- the persona-quality loop's entry (evaluation, learning, admin "try it") -------------------


async def apersona_reply(
    *, profile: PersonaProfile, text: str, model: str | None = None, history: Sequence[dict[str, str]] = ()
) -> PreviewResult:
    """Ivan's answer as persona version `profile` (live, draft or old) from `model` (default LLM_MODEL),
    through the same prompt building, LLM layer and quality gate as a chat turn (what a user would
    see; `quality` says what the gate did); nothing is stored."""
    text = _validate_text(text)
    model = model or llm.current_model()
    prompt = await db_async(build_prompt)(profile=profile, text=text, history=list(history), model=model)
    started = time.monotonic()
    quality = await agrounded_before_reply(model=model, user_message=text, profile=profile)
    try:
        if quality is not None:
            metrics.record_quality_gate(mode="full", outcome="grounded", label="not_asked")
            result = _grounded_result(quality, model=model, started=started)
        else:
            result = await llm.stream_reply(prompt.messages, model=model)
    except llm.LLMUnavailableError as exc:
        quality = await agrounded_without_reply(
            model=model, user_message=text, profile=profile, reason=f"the model gave no reply ({exc})"
        )
        if quality is None:
            raise LLMUnavailable("The language model did not respond; try again.") from None
        metrics.record_quality_gate(mode="full", outcome="grounded", label="no_reply")
        result = _grounded_result(quality, model=model, started=started)
    else:
        if quality is None:
            result, quality = await _quality_gate(text=text, prompt=prompt, result=result, model=model)
    return PreviewResult(
        text=_clean_reply(result.text),
        prompt=prompt,
        model=result.model,
        latency_ms=result.latency_ms,
        quality=quality.record if quality else {},
    )


def persona_reply(
    *, profile: PersonaProfile, text: str, model: str | None = None, history: Sequence[dict[str, str]] = ()
) -> PreviewResult:
    """Sync apersona_reply: the one way evaluation, learning and the admin's "try it" get a reply."""
    return async_to_sync(apersona_reply)(profile=profile, text=text, model=model, history=history)
