"""Which language a text is written in: the one rule every app uses (chat, moderation, prompts, evaluation).

Russian when at least 30% of the letters are Cyrillic. A plain majority would call
"Что думаешь про Kubernetes operators?" English (13 Cyrillic letters against 19 Latin ones), but
a Russian speaker naming English terms is still writing Russian, and Ivan must answer, refuse and
remember in Russian.
"""

from __future__ import annotations

import re

RUSSIAN_SHARE = 0.3

_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)


def detect_language(text: str, *, default: str = "en") -> str:
    """ "ru" when at least 30% of the letters are Cyrillic, "en" when there are Latin letters, else `default`."""
    cyrillic, latin = len(_CYRILLIC.findall(text)), len(_LATIN.findall(text))
    if cyrillic + latin == 0:
        return default or "en"
    return "ru" if cyrillic / (cyrillic + latin) >= RUSSIAN_SHARE else "en"
