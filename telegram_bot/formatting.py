"""Turning Ivan's reply into Telegram messages: split under Telegram's length limit, HTML-escaped.

Telegram counts the limit (4,096) in UTF-16 code units of the text *after* entity parsing, so we
split the plain text first and escape each part afterwards; escaping never changes the count.
"""

from __future__ import annotations

import html
import re

TELEGRAM_MESSAGE_LIMIT = 4096

_SENTENCE_END = re.compile(r"[.!?…](?:[\"'»”)\]]*)\s+")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _prefix_fitting(text: str, limit: int) -> int:
    """The largest number of characters from the start of `text` within `limit` UTF-16 units."""
    if utf16_len(text) <= limit:
        return len(text)
    low, high = 0, min(len(text), limit)
    while low < high:
        mid = (low + high + 1) // 2
        if utf16_len(text[:mid]) <= limit:
            low = mid
        else:
            high = mid - 1
    return low


def _cut_position(window: str) -> int:
    """Where to cut `window`: a paragraph break, else a line break, else a sentence end, else a space.

    A boundary in the first half is ignored (it would leave a tiny message), unless there is no other.
    """
    floor = len(window) // 2
    for separator in ("\n\n", "\n"):
        position = window.rfind(separator)
        if position >= floor:
            return position + len(separator)
    sentence_ends = [match.end() for match in _SENTENCE_END.finditer(window)]
    if sentence_ends and sentence_ends[-1] >= floor:
        return sentence_ends[-1]
    position = max(window.rfind(" "), window.rfind("\t"))
    if position >= floor:
        return position + 1
    return len(window)


def split_message(text: str, limit: int = TELEGRAM_MESSAGE_LIMIT) -> list[str]:
    """Parts of `text`, each at most `limit` UTF-16 units, cut on paragraph/sentence/word boundaries."""
    parts: list[str] = []
    rest = text.strip()
    while rest:
        fitting = max(1, _prefix_fitting(rest, limit))
        if fitting == len(rest):
            parts.append(rest)
            break
        cut = _cut_position(rest[:fitting])
        part = rest[:cut].rstrip()
        if part:
            parts.append(part)
        rest = rest[cut:].lstrip()
    return parts


def to_html(text: str) -> str:
    """Plain text made safe for Telegram's HTML parse mode (only <, > and & are special there)."""
    return html.escape(text, quote=False)
