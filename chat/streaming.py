"""Streaming one slot's answer from its model: the upstream messages, a shared client per model,
and the coalescing of many small deltas into few websocket frames."""

import asyncio
import json
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx2
import openai
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils.translation import gettext as _
from openai import AsyncOpenAI

from chat.services import SlotCall
from llm_models.clients import (
    NotOpenAIFormat, async_openai_client, chat_completion_params, chat_completion_stream,
)
from llm_models.models import LLMModel

# Text that arrives within this many seconds of the last frame waits for the next frame: a few
# dozen frames a second per slot read as smooth streaming and keep the socket light.
FLUSH_INTERVAL = 0.03


def upstream_messages(call: SlotCall, question: str) -> list[dict[str, str]]:
    """The slot's own conversation: its system prompt, its earlier exchanges, the new question."""
    messages = [{"role": "system", "content": call.system_prompt}] if call.system_prompt else []
    for earlier_question, earlier_answer in call.history:
        messages.append({"role": "user", "content": earlier_question})
        messages.append({"role": "assistant", "content": earlier_answer})
    messages.append({"role": "user", "content": question})
    return messages


async def sse_events(response: httpx2.Response) -> AsyncIterator[dict]:
    """The JSON events of a chat completion's event stream, failing the way the openai client
    does (APIError, APIConnectionError, APITimeoutError) so describe_call_error explains them."""
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/event-stream"):
        raise NotOpenAIFormat(
            _("POST /chat/completions answered %(type)s instead of an event stream")
            % {"type": content_type or "?"}
        )
    try:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue  # Blank separators, comments, "event:" lines.
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError:
                detail = _("an event is not JSON: %(data)s") % {"data": data[:100]}
                raise NotOpenAIFormat(detail) from None
            if not isinstance(event, dict):
                raise NotOpenAIFormat(_("an event is not a JSON object"))
            if error := event.get("error"):
                message = error.get("message") if isinstance(error, dict) else str(error)
                raise openai.APIError(message or "error", response.request, body=error)
            yield event
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.request) from exc
    except httpx2.TransportError as exc:
        raise openai.APIConnectionError(request=response.request) from exc


# Shared clients


# A shared client is rebuilt after this many seconds, which validates its endpoint again.
CLIENT_MAX_AGE = 300


@dataclass(eq=False)
class _SharedClient:
    fingerprint: str
    ready: asyncio.Future  # of AsyncOpenAI
    built_at: float
    users: int = 0
    retired: bool = False


class ClientPool:
    """One openai client per model for every conversation served by this event loop.

    Building a client costs about 20 ms of CPU (its TLS context) and validates the endpoint
    (which may resolve its host name), so it is done in a worker thread, once; a shared client
    also keeps its connections to the endpoint alive. A model whose settings changed, a changed
    allow-list, or CLIENT_MAX_AGE gets a new client; the old one closes after its last stream.
    """

    def __init__(self) -> None:
        self._clients: dict[int, _SharedClient] = {}
        self._closing: set[asyncio.Task] = set()

    @asynccontextmanager
    async def client(self, model: LLMModel) -> AsyncIterator[AsyncOpenAI]:
        shared = self._shared(model)
        shared.users += 1
        try:
            # Shielded: a stream stopped while the client is being built must not cancel the
            # build that other streams wait for.
            yield await asyncio.shield(shared.ready)
        finally:
            shared.users -= 1
            if shared.retired and not shared.users:
                await self._close(shared)

    def _shared(self, model: LLMModel) -> _SharedClient:
        fingerprint = _client_fingerprint(model)
        now = time.monotonic()
        shared = self._clients.get(model.pk)
        fresh = shared is not None and now - shared.built_at < CLIENT_MAX_AGE
        if fresh and shared.fingerprint == fingerprint:
            return shared
        if shared is not None:
            shared.retired = True
            if not shared.users:
                closing = asyncio.ensure_future(self._close(shared))
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
        build = sync_to_async(async_openai_client, thread_sensitive=False)(model)
        shared = _SharedClient(fingerprint, asyncio.ensure_future(build), now)
        self._clients[model.pk] = shared
        shared.ready.add_done_callback(lambda ready: self._forget_failed(model.pk, shared))
        return shared

    def _forget_failed(self, model_pk: int, shared: _SharedClient) -> None:
        if not _built(shared) and self._clients.get(model_pk) is shared:
            del self._clients[model_pk]

    @staticmethod
    async def _close(shared: _SharedClient) -> None:
        if _built(shared):
            await shared.ready.result().close()

    async def close(self) -> None:
        """Close every client (a test's event loop is about to end)."""
        clients, self._clients = list(self._clients.values()), {}
        for shared in clients:
            await self._close(shared)


def _built(shared: _SharedClient) -> bool:
    ready = shared.ready
    return ready.done() and not ready.cancelled() and ready.exception() is None


def _client_fingerprint(model: LLMModel) -> str:
    return json.dumps([
        model.base_url, model.api_key, model.extra_headers, model.is_system,
        settings.USER_MODEL_ALLOWED_HOSTS, settings.LLM_REQUEST_TIMEOUT, settings.LLM_MAX_RETRIES,
    ], sort_keys=True, default=str)


_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ClientPool]" = (
    weakref.WeakKeyDictionary()
)


def client_pool() -> ClientPool:
    """The pool of the running event loop (one in a server; one per test in the tests)."""
    return _pools.setdefault(asyncio.get_running_loop(), ClientPool())


# Frames


class DeltaCoalescer:
    """Sends a slot's text in few frames without holding any of it for long: the first piece at
    once, then whatever arrived since, at most every FLUSH_INTERVAL seconds."""

    def __init__(self, send: Callable[[str], Awaitable[None]]):
        self._send = send
        self._parts: list[str] = []
        self._next_flush = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._pending_flush: asyncio.Task | None = None  # referenced, so it is not collected
        # Held while a frame is sent, so that frames leave in the order their text arrived.
        self._lock = asyncio.Lock()
        self._closed = False

    async def add(self, text: str) -> None:
        self._parts.append(text)
        loop = asyncio.get_running_loop()
        delay = self._next_flush - loop.time()
        if delay <= 0:
            await self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(delay, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        self._pending_flush = asyncio.ensure_future(self.flush())

    async def flush(self) -> None:
        async with self._lock:
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        if self._closed or not self._parts:
            return
        text = "".join(self._parts)
        self._parts.clear()
        self._next_flush = asyncio.get_running_loop().time() + FLUSH_INTERVAL
        await self._send(text)

    async def close(self) -> None:
        """Send what is left, then nothing more: the chunks add up to exactly what arrived."""
        if self._timer is not None:
            self._timer.cancel()
        async with self._lock:
            await self._flush_locked()
            self._closed = True


# One slot's answer


@dataclass
class AnswerStream:
    """Streams one slot's answer from its model and keeps what arrived, also when stopped."""

    call: SlotCall
    messages: list[dict[str, str]]
    coalescer: DeltaCoalescer
    parts: list[str] = field(default_factory=list)
    started: float = 0.0
    first_token_at: float | None = None
    ended: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    async def run(self) -> None:
        model = self.call.model
        self.started = time.monotonic()
        try:
            async with client_pool().client(model) as client:
                params = chat_completion_params(
                    model, temperature=self.call.temperature, max_tokens=self.call.max_tokens,
                    messages=self.messages, stream_options={"include_usage": True},
                )
                response = await chat_completion_stream(client, params)
                # The raw event stream, read here: the typed stream builds a pydantic object per
                # chunk (~65 µs of CPU, against ~3 µs for json.loads), more than all else the
                # platform does per chunk. Closing the response, also when the task is cancelled
                # in the middle of it, is what stops the model.
                try:
                    async for event in sse_events(response):
                        await self._take(event)
                finally:
                    await response.aclose()
        finally:
            self.ended = time.monotonic()

    async def _take(self, event: dict) -> None:
        if usage := event.get("usage"):
            self.prompt_tokens = usage.get("prompt_tokens")
            self.completion_tokens = usage.get("completion_tokens")
        for choice in event.get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if text:
                if self.first_token_at is None:
                    self.first_token_at = time.monotonic()
                self.parts.append(text)
                await self.coalescer.add(text)

    @property
    def content(self) -> str:
        return "".join(self.parts)

    @property
    def ttft_ms(self) -> int | None:
        if self.first_token_at is None:
            return None
        return round((self.first_token_at - self.started) * 1000)

    @property
    def total_ms(self) -> int | None:
        if not self.started or self.ended is None:
            return None
        return round((self.ended - self.started) * 1000)
