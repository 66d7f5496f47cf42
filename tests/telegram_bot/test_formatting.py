"""Splitting long replies under Telegram's limit and escaping for HTML parse mode."""

from __future__ import annotations

from telegram_bot.formatting import TELEGRAM_MESSAGE_LIMIT, split_message, to_html, utf16_len


def test_short_text_is_one_part():
    assert split_message("Hello there.") == ["Hello there."]


def test_long_text_splits_on_paragraph_boundaries():
    paragraph = ("Word " * 150).strip() + "."  # ~750 characters
    text = "\n\n".join([paragraph] * 8)  # ~6,000 characters

    parts = split_message(text)

    assert len(parts) == 2
    assert all(utf16_len(part) <= TELEGRAM_MESSAGE_LIMIT for part in parts)
    assert all(part.endswith(".") for part in parts)
    assert "\n\n".join(parts) == text


def test_without_paragraphs_it_splits_after_a_sentence():
    sentence = "This is one sentence of a long answer, and it goes on for a while. "
    text = sentence * 100  # ~6,700 characters, no newlines

    parts = split_message(text)

    assert all(utf16_len(part) <= TELEGRAM_MESSAGE_LIMIT for part in parts)
    assert parts[0].endswith("a while.")
    assert " ".join(parts) == text.strip()


def test_a_single_huge_word_is_cut_hard():
    parts = split_message("x" * 10_000)

    assert [len(part) for part in parts] == [4096, 4096, 1808]


def test_limit_counts_utf16_units_so_emoji_count_double():
    parts = split_message("😀" * 3000)  # 6,000 UTF-16 units

    assert [utf16_len(part) for part in parts] == [4096, 1904]
    assert "".join(parts) == "😀" * 3000


def test_hostile_characters_are_escaped_for_html_mode():
    hostile = '<b>bold</b> & <a href="javascript:x">link</a> <script>alert(1)</script> 5 < 6 > 4 &amp;'

    escaped = to_html(hostile)

    assert "<" not in escaped and ">" not in escaped
    assert escaped == (
        '&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href="javascript:x"&gt;link&lt;/a&gt; '
        "&lt;script&gt;alert(1)&lt;/script&gt; 5 &lt; 6 &gt; 4 &amp;amp;"
    )
