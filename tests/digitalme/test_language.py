"""One language rule for the whole product (digitalme.language)."""

from __future__ import annotations

import pytest

from digitalme.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Что думаешь про Kubernetes operators?", "ru"),  # 13 Cyrillic letters against 19 Latin ones
        ("Привет", "ru"),
        ("What is a Kubernetes operator?", "en"),
        ("Я", "ru"),
        ("Let's talk about Москва for a while, shall we?", "en"),
    ],
)
def test_a_text_is_russian_when_a_third_of_its_letters_are_cyrillic(text, language):
    assert detect_language(text) == language


def test_a_text_without_letters_keeps_the_default():
    assert detect_language("123 🙂", default="ru") == "ru"
    assert detect_language("123 🙂") == "en"
