"""The persona_eval LLM judge on loopback: an OpenAI-compatible server answering `.verdict` as JSON.

Tests set `.verdict` and read `.requests` (the bodies sent), so the real litellm client runs.
`.answers` (raw texts, consumed one per request before `.verdict` is used) scripts junk or
per-reply answers; `.mode = "hang"` (from FakeOpenAI) makes it time out.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from tests.fakes.openai_server import FakeOpenAI


class FakeJudgeApi(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        self.verdict: dict[str, Any] = {
            "traits": {},
            "expected_action": 4,
            "action_justification": 4,
            "linguistic_habits": 4,
            "persona_consistency": 5,
            "toxicity_control": 5,
            "in_character": True,
            "reason": "sounds like him",
        }
        self.answers: list[str] = []
        self._lock = threading.Lock()

    def reply_text(self) -> str:
        with self._lock:
            if self.answers:
                return self.answers.pop(0)
        return json.dumps(self.verdict)
