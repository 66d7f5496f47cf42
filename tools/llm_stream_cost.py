"""CPU cost of streaming one 40-token reply, per LLM path — the measurement behind chat/llm/lean.py.

    .venv/bin/python tools/llm_stream_cost.py [--replies 200]

Streams the same fixed 40-piece reply (`fake/fixed40`'s text) through `chat.llm.stream_reply`:
  - openai/… from a loopback OpenAI-compatible server (tests/fakes/openai_server.py) running in
    another process, so only the client side is measured — lean (httpx) and litellm's Router;
  - fake/fixed40 in-process — lean and through litellm's custom-provider path.
Prints process CPU ms per reply (time.process_time, which a loaded machine disturbs far less than
wall time) for each, after a warm-up that is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def _cost(replies: int) -> float:
    from chat import llm

    messages = [{"role": "user", "content": "What are you working on?"}]
    for _ in range(5):  # warm-up: imports, pools, tokenizer
        await llm.stream_reply(messages)
    started = time.process_time()
    for _ in range(replies):
        result = await llm.stream_reply(messages)
        assert len(result.text.split()) == 40, result.text
    return (time.process_time() - started) * 1000 / replies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitalme.settings")
    import django

    django.setup()
    from django.conf import settings

    from chat.llm.providers.fake import FIXED_40
    from tests.fakes.openai_server import serve_in_a_process

    server, base_url = serve_in_a_process(FIXED_40)
    try:
        settings.LLM_FALLBACK_MODELS = []
        settings.LLM_MAX_RETRIES = 0
        settings.LLM_TIMEOUT_S = 30.0
        rows = []
        for model, lean in (
            ("openai/fixed40", True),
            ("openai/fixed40", False),
            ("fake/fixed40", True),
            ("fake/fixed40", False),
        ):
            settings.LLM_MODEL = model
            settings.LLM_API_BASE = base_url if model.startswith("openai/") else ""
            settings.LLM_API_KEY = "bench-key"
            settings.LLM_LEAN_STREAM = lean
            rows.append((model, "lean" if lean else "litellm", asyncio.run(_cost(args.replies))))
    finally:
        server.terminate()
        server.wait()
    print(f"CPU ms per 40-token reply ({args.replies} replies each, load average {os.getloadavg()[0]:.1f}):")
    for model, path, cost in rows:
        print(f"  {model:16} {path:8} {cost:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
