"""Moderation of what users send and what Ivan answers.

Interface used by the chat pipeline (stable; the rule set behind it grows):
- `moderate_input(text, language=None) -> Verdict`
- `moderate_output(text, user_id=None) -> Verdict`
- `refusal_for(verdict, language) -> str`: Ivan's in-character answer to a blocked input.
Every verdict is stored on its message (`Verdict.as_dict()`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

# Category names stored on messages.
ALLOWED = ""
INJECTION = "injection"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    category: str = ALLOWED
    score: float = 0.0
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


OK = Verdict(allowed=True)

_INJECTION = re.compile(
    r"ignore (all )?(the )?(previous|prior|above) instructions|reveal (your )?(system )?prompt"
    r"|игнорируй (все )?(предыдущие )?инструкции|покажи (свой )?(системный )?промпт",
    re.IGNORECASE,
)


def moderate_input(text: str, language: str | None = None) -> Verdict:
    if _INJECTION.search(text):
        return Verdict(allowed=False, category=INJECTION, score=1.0, reason="prompt-injection pattern")
    return OK


def moderate_output(text: str, user_id: int | None = None) -> Verdict:
    return OK


def refusal_for(verdict: Verdict, language: str) -> str:
    if language == "ru":
        return "Нет, так не пойдёт. Я Иван, и свои инструкции я не раскрываю. Давай лучше о чём-нибудь другом."
    return "No, that's not going to happen. I'm Ivan, and I keep my instructions to myself. Let's talk about something else."
