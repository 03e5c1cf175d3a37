"""The chat websocket: one message goes to every slot of a conversation at once, and each slot's
answer streams back as it arrives, straight from this consumer (no channel layer in the path).

Frames from the browser: {"type": "send", "content": "..."}, {"type": "stop"} and
{"type": "reload"}.
Frames to the browser, in this order for a turn:
  {"type": "turn", "title", "html"}                         the question and an empty card per slot
                                                            (again, replacing it, if asked again)
  {"type": "chunk", "slot", "delta"}                        text; the slots' chunks interleave
  {"type": "done", "slot", "answer_id", "status", "html"}   a slot's final card, once per slot
  {"type": "turn_done", "message_id"}
and {"type": "error", "message"} when a frame cannot be served. Only one turn streams at a time,
so "slot" (1-3) names the column a chunk belongs to.

The models are asked before the database is even read: the socket keeps the conversation as it
last read it (services.ChatPlan), checks it while the answers stream and asks again in the rare
case it changed meanwhile. The rows of a turn are saved while the answers stream, and its answers
once they all ended, so that no stream waits for the database. The page sends {"type": "reload"}
after it changed the conversation over HTTP.
"""

import asyncio
import json
import logging
from dataclasses import dataclass, field
from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from chat import rendering, services
from chat.models import Answer, Conversation
from chat.streaming import AnswerStream, DeltaCoalescer, upstream_messages
from datasets.models import Dataset
from llm_models.clients import describe_call_error

logger = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 100_000


class SlotUnavailable(Exception):
    """The slot has no usable model; the message says why."""


@dataclass
class StreamingTurn:
    """A message being answered: each slot's stream and the task requesting it upstream."""

    content: str
    turn: services.Turn | None = None
    streams: list[AnswerStream] = field(default_factory=list)
    upstreams: list[asyncio.Task] = field(default_factory=list)
    stopped: bool = False
    finished: asyncio.Task | None = None


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.streaming: StreamingTurn | None = None
        # Storing the last turn's answers.
        self.saving: asyncio.Task | None = None
        # How answers cut short are marked: stopped, unless the socket went away first.
        self.cancelled_status = Answer.Status.STOPPED
        self.connected = False
        self.conversation = await database_sync_to_async(_conversation_for)(
            self.scope["user"], self.scope["url_route"]["kwargs"]["pk"]
        )
        if self.conversation is None:
            await self.close()
            return
        self.plan = await database_sync_to_async(services.chat_plan)(conversation=self.conversation)
        self.plan_stale = False
        self.language = _language(self.scope)
        self.connected = True
        await self.accept()

    async def disconnect(self, code: int) -> None:
        self.connected = False
        await self.turn_cancel(Answer.Status.INTERRUPTED)
        if self.saving is not None:
            await self.saving

    async def receive_json(self, content, **kwargs) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        with translation.override(self.language):
            if kind == "send":
                await self.turn_start(content.get("content"))
            elif kind == "stop":
                await self.turn_cancel(Answer.Status.STOPPED)
            elif kind == "reload":
                await self.plan_reload()
            else:
                await self.send_error(_("Unknown request."))

    async def plan_reload(self) -> None:
        """Read the conversation again: the page changed its slots or its title."""
        if self.streaming is not None:
            self.plan_stale = True  # Read before the next message.
            return
        await self._last_turn_stored()
        self.plan = await database_sync_to_async(services.chat_plan)(conversation=self.conversation)
        self.plan_stale = False

    async def _last_turn_stored(self) -> None:
        if self.saving is not None:
            await self.saving
            self.saving = None

    async def turn_start(self, content) -> None:
        if not isinstance(content, str) or not content.strip():
            await self.send_error(_("Type a message first."))
            return
        if len(content) > MAX_MESSAGE_LENGTH:
            await self.send_error(_("The message is too long."))
            return
        if self.streaming is not None:
            await self.send_error(_("Wait for the answers, or stop them, before sending again."))
            return
        if self.plan_stale:
            await self.plan_reload()
        await self._last_turn_stored()
        self.streaming = streaming = StreamingTurn(content.strip())
        # The models are asked at once, with the conversation as this socket last read it; the
        # turn then checks that reading against the database (_turn_run).
        await self._turn_begin(streaming, self.plan)
        streaming.finished = asyncio.create_task(self._turn_run(streaming))

    async def _turn_begin(self, streaming: StreamingTurn, plan: services.ChatPlan) -> None:
        """Ask every slot's model, then show the question and an empty card per slot."""
        turn = services.turn_build(plan=plan, content=streaming.content)
        shown = asyncio.Event()  # Chunks wait for their cards.
        streaming.turn = turn
        streaming.streams = [
            AnswerStream(
                call, upstream_messages(call, turn.message.content),
                self._coalescer(turn, call.slot, shown),
            )
            for call in turn.calls
        ]
        streaming.upstreams = [
            asyncio.create_task(_upstream(stream)) for stream in streaming.streams
        ]
        if streaming.stopped:
            for upstream in streaming.upstreams:
                upstream.cancel()
        # Let the requests leave before the page's HTML is made: when many messages arrive at
        # once, every model is asked before any card is rendered.
        await asyncio.sleep(0)
        html = rendering.turn_html(
            turn.message, [call.answer for call in turn.calls], language=self.language
        )
        await self.send_json({"type": "turn", "title": turn.title, "html": html})
        shown.set()

    def _coalescer(self, turn: services.Turn, slot: int, shown: asyncio.Event) -> DeltaCoalescer:
        async def send(text: str) -> None:
            await shown.wait()
            streaming = self.streaming
            if self.connected and streaming is not None and streaming.turn is turn:
                await self.send_json({"type": "chunk", "slot": slot, "delta": text})

        return DeltaCoalescer(send)

    async def _turn_run(self, streaming: StreamingTurn) -> None:
        """Store the turn while the answers stream, show each slot's final answer as soon as its
        stream ends; then end the turn and store the answers."""
        try:
            plan, datasets = await database_sync_to_async(_turn_confirm)(streaming.turn)
            if plan.signature != streaming.turn.plan.signature:
                # The slots or their models changed since this socket read them (in another
                # window, or by an administrator): ask again with the conversation as it is.
                logger.info(
                    "Conversation %s changed since its socket read it: asking again",
                    self.conversation.pk,
                )
                self.plan = plan
                await _cancelled(streaming.upstreams)
                await self._turn_begin(streaming, plan)
                await database_sync_to_async(services.turn_save)(turn=streaming.turn)
            answers = await asyncio.gather(*(
                self._answer_finish(stream, upstream, datasets)
                for stream, upstream in zip(streaming.streams, streaming.upstreams, strict=True)
            ))
        except Exception:
            logger.exception("Chat turn of conversation %s failed", self.conversation.pk)
            await _cancelled(streaming.upstreams)
            if self.connected:
                await self.send_error(_("The message could not be saved; try again."))
            return
        finally:
            self.streaming = None
        self.plan = services.chat_plan_after(plan=plan, turn=streaming.turn)
        self.saving = asyncio.create_task(
            database_sync_to_async(services.answers_save)(answers=answers)
        )
        if self.connected:
            await self.send_json({"type": "turn_done", "message_id": streaming.turn.message.pk})

    async def _answer_finish(
        self, stream: AnswerStream, upstream: asyncio.Task, datasets: list[Dataset]
    ) -> Answer:
        # Waits without being cancelled itself: stopping cancels only the upstream request, and
        # what arrived until then is kept all the same.
        await asyncio.wait([upstream])
        await stream.coalescer.close()
        with translation.override(self.language):
            status, error = self._outcome(stream, upstream)
        answer = stream.call.answer
        answer.finish(
            status=status, content=stream.content, error=error, ttft_ms=stream.ttft_ms,
            total_ms=stream.total_ms, prompt_tokens=stream.prompt_tokens,
            completion_tokens=stream.completion_tokens,
        )
        if self.connected:
            html = rendering.answer_html(answer, datasets=datasets, language=self.language)
            await self.send_json({
                "type": "done", "slot": answer.slot_position, "answer_id": answer.pk,
                "status": answer.status, "html": html,
            })
        return answer

    def _outcome(self, stream: AnswerStream, upstream: asyncio.Task) -> tuple[str, str]:
        if upstream.cancelled():
            return self.cancelled_status, ""
        exc = upstream.exception()
        if exc is None:
            return Answer.Status.DONE, ""
        if isinstance(exc, SlotUnavailable):
            return Answer.Status.ERROR, str(exc)
        if isinstance(exc, ValidationError):
            return Answer.Status.ERROR, " ".join(exc.messages)
        return Answer.Status.ERROR, describe_call_error(exc, stream.call.model)

    async def turn_cancel(self, status: str) -> None:
        """Cancel every slot's upstream request and wait until what arrived is kept."""
        streaming = self.streaming
        if streaming is None:
            return
        self.cancelled_status = status
        streaming.stopped = True
        for upstream in streaming.upstreams:
            upstream.cancel()
        await streaming.finished

    async def send_error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    @classmethod
    async def encode_json(cls, content) -> str:
        return json.dumps(content, ensure_ascii=False)


async def _upstream(stream: AnswerStream) -> None:
    if stream.call.problem:
        raise SlotUnavailable(stream.call.problem)
    await stream.run()


async def _cancelled(upstreams: list[asyncio.Task]) -> None:
    for upstream in upstreams:
        upstream.cancel()
    if upstreams:
        await asyncio.wait(upstreams)


def _turn_confirm(turn: services.Turn) -> tuple[services.ChatPlan, list[Dataset]]:
    """The conversation as it is now, and the datasets its answers can go to; the turn is stored
    if it was built from exactly that conversation."""
    plan = services.chat_plan(conversation=turn.conversation, known=turn.plan)
    if plan.signature == turn.plan.signature:
        services.turn_save(turn=turn)
    return plan, rendering.dataset_choices(turn.conversation.owner_id)


def _conversation_for(user, pk: int) -> Conversation | None:
    return Conversation.objects.for_user(user).filter(pk=pk).first()


def _language(scope) -> str:
    """The language the user reads the site in: their language cookie, else the browser's."""
    headers = dict(scope.get("headers", []))
    request = SimpleNamespace(
        COOKIES=scope.get("cookies", {}),
        META={"HTTP_ACCEPT_LANGUAGE": headers.get(b"accept-language", b"").decode("latin-1")},
    )
    return translation.get_language_from_request(request) or settings.LANGUAGE_CODE
