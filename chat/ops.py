"""The chat app on the /ops/ dashboard and in database-test: active users, open sockets, turns per
minute, time to first token, LLM errors; moderation verdicts per layer and category; the reads
every chat turn makes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from chat import selectors
from chat.models import Message
from ops.panels import TTFT_P95_MS, PanelContext, PanelData, Stat, grade
from ops.registry import register_hot_query, register_panel, register_series
from personality.selectors import version_published_list

ACTIVE_WINDOW = timedelta(minutes=15)


def active_users(*, since) -> int:
    return Message.objects.filter(created__gte=since).values("conversation__user").distinct().count()


def _chat_panel(ctx: PanelContext) -> PanelData:
    ttft = ctx.quantile_ms("chat.ttft", 0.95)
    llm_errors = ctx.increase("chat.llm_errors")
    return PanelData(
        stats=[
            Stat("active_users", _("Active users (15 min)"), active_users(since=ctx.now - ACTIVE_WINDOW), chart=True),
            Stat("websockets", _("WebSocket connections"), ctx.gauge("dm_websocket_connections_open"), chart=True),
            Stat("turns", _("Chat turns"), ctx.per_minute("chat.turns"), "/min", chart=True),
            Stat(
                "ttft_p95",
                _("Time to first token p95"),
                ttft,
                "ms",
                grade(ttft, TTFT_P95_MS),
                _("red above 2 s"),
                chart=True,
            ),
            Stat(
                "llm_errors",
                _("LLM errors (window)"),
                llm_errors,
                "",
                "none" if llm_errors is None else "bad" if llm_errors > 5 else "warn" if llm_errors else "ok",
            ),
        ]
    )


# --- moderation: what each layer blocked, by category, and remote layers that failed ------------

MODERATION_LAYERS = ("rules", "classifier", "guard", "provider", "leak")
# Blocked inputs + cut replies per minute: amber from 5, red above 20 (a flood or a broken layer).
MODERATION_BLOCKED_PER_MIN = (5.0, 20.0)


def _moderation_categories() -> tuple[str, ...]:
    from chat.moderation import categories

    return tuple(categories())


def _moderation_panel(ctx: PanelContext) -> PanelData:
    blocked = ctx.per_minute("moderation.blocked")
    errors = ctx.increase("moderation.layer_errors")
    stats = [
        Stat(
            "blocked",
            _("Blocked or cut"),
            blocked,
            "/min",
            grade(blocked, MODERATION_BLOCKED_PER_MIN),
            _("red above 20/min"),
            chart=True,
        ),
        Stat("replies_cut", _("Replies replaced (window)"), ctx.increase("moderation.output_blocked")),
        Stat(
            "layer_errors",
            _("Guard/provider failures (window)"),
            errors,
            "",
            "none" if errors is None else "bad" if errors > 10 else "warn" if errors else "ok",
        ),
    ]
    stats += [
        Stat(
            f"layer_{layer}", _("Blocked by %(layer)s (window)") % {"layer": layer}, ctx.increase(f"moderation.{layer}")
        )
        for layer in MODERATION_LAYERS
    ]
    rows = [
        {"category": category, "blocked": count}
        for category in _moderation_categories()
        if (count := ctx.increase(f"moderation.category.{category}"))
    ]
    return PanelData(stats=stats, columns=[("category", _("Category")), ("blocked", _("Blocked (window)"))], rows=rows)


def register_moderation_ops() -> None:
    blocked = {"outcome": ("blocked",)}
    register_series("moderation.blocked", "dm_moderation_verdicts", kind="counter", match=blocked)
    register_series(
        "moderation.output_blocked",
        "dm_moderation_verdicts",
        kind="counter",
        match={"outcome": ("blocked",), "direction": ("output",)},
    )
    register_series("moderation.layer_errors", "dm_moderation_layer_errors", kind="counter")
    for layer in MODERATION_LAYERS:
        register_series(
            f"moderation.{layer}", "dm_moderation_verdicts", kind="counter", match={**blocked, "layer": (layer,)}
        )
    for category in _moderation_categories():
        register_series(
            f"moderation.category.{category}",
            "dm_moderation_verdicts",
            kind="counter",
            match={**blocked, "category": (category,)},
        )
    register_panel("moderation", _("Moderation"), _moderation_panel, order=65)


# --- the reads of a chat turn (database-test) --------------------------------------------------


def _latest_conversation(user: Any) -> Any:
    return selectors.conversation_list(user=user).first()


def _history(user: Any) -> list[Message]:
    conversation = _latest_conversation(user)
    if conversation is None:
        return []
    return selectors.history_before(conversation=conversation, before_id=2**62, limit=60)


def _memory(user: Any) -> list[Any]:
    return list(selectors.memory_fact_list(user=user)[: settings.CHAT_MEMORY_FACTS_IN_PROMPT * 4])


def _client_id_lookup(user: Any) -> Any:
    return selectors.message_find_by_client_id(user=user, client_id="database-test-no-such-id")


def _live_persona_version(user: Any) -> Any:
    return version_published_list().first()


def register_ops() -> None:
    register_series("chat.turns", "dm_chat_turns", kind="counter")
    register_series("chat.ttft", "dm_llm_time_to_first_token_seconds", kind="histogram")
    register_series("chat.llm_errors", "dm_llm_errors", kind="counter")
    register_panel("chat", _("Chat"), _chat_panel, order=60)
    register_moderation_ops()
    register_hot_query("chat_latest_conversation", _latest_conversation)
    register_hot_query("chat_history", _history)
    register_hot_query("chat_memory_facts", _memory)
    register_hot_query("chat_client_id_lookup", _client_id_lookup)
    register_hot_query("persona_live_version", _live_persona_version)
