"""The persona_eval LLM judge on loopback: an OpenAI-compatible server answering `.verdict` as JSON.

Tests set `.verdict` and read `.requests` (the bodies sent), so the real litellm client runs.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.openai_server import FakeOpenAI


class FakeJudgeApi(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        self.verdict: dict[str, Any] = {
            "traits": {},
            "linguistic_habits": 4,
            "persona_consistency": 5,
            "in_character": True,
            "reason": "sounds like him",
        }

    def reply_text(self) -> str:
        return json.dumps(self.verdict)
