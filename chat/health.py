"""The non-required `llm` readiness check: is the configured model reachable without a generation?

Outside chat/llm on purpose: importing litellm takes seconds, and every process imports this at startup.
"""

from __future__ import annotations

import asyncio

import httpx
from django.conf import settings

PROBE_TIMEOUT_S = 2.0


async def check_llm() -> dict:
    model = settings.LLM_MODEL
    result: dict = {"model": model, "fallbacks": list(settings.LLM_FALLBACK_MODELS)}
    if model.startswith("fake/"):
        return result
    if model.startswith("local/"):
        from chat.llm.providers import local  # imports litellm: only when the check runs, not at startup

        path = await asyncio.to_thread(local.model_path)  # raises when the GGUF is missing
        result.update({"file": path.name, "loaded": local.MODEL.loaded, "queued": local.MODEL.queued()})
        return result
    if settings.LLM_API_BASE:
        # OpenAI-compatible servers list their models; a listing is cheap and proves the server answers.
        headers = {"Authorization": f"Bearer {settings.LLM_API_KEY}"} if settings.LLM_API_KEY else {}
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
            response = await client.get(settings.LLM_API_BASE.rstrip("/") + "/models", headers=headers)
        if response.status_code >= 500:
            raise RuntimeError(f"LLM server answered {response.status_code}")
        result["api_base_status"] = response.status_code
    return result
