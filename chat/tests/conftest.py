"""Chat fixtures: models on the demo server with per-model timings, conversations, websockets."""

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from chat import services
from chat.models import Answer, Conversation, Slot
from chat.streaming import client_pool
from llm_models.models import LLMModel

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture
def make_model(demo_llm_url) -> Callable[..., LLMModel]:
    """A system model on the demo server, e.g. make_model("demo-slow", ttft=0.05, tps=40)."""

    def make(model_name: str = "demo-fast", *, name: str = "", base_url: str = "", **demo) -> LLMModel:
        return LLMModel.objects.create(
            name=name or f"{model_name} {LLMModel.objects.count() + 1}",
            base_url=base_url or demo_llm_url,
            model_name=model_name,
            extra_body={"demo": demo} if demo else {},
        )

    return make


@pytest.fixture
def make_conversation(alice) -> Callable[..., Conversation]:
    """Alice's conversation with a slot per model, in order, and optionally their system
    prompts: make_conversation(m1, m2, system_prompts=["Be brief.", ""])."""

    def make(*models: LLMModel, owner=None, system_prompts=()) -> Conversation:
        conversation = services.conversation_create(owner=owner or alice, model=models[0])
        for model in models[1:]:
            services.slot_add(conversation=conversation, model=model)
        for slot, prompt in zip(conversation.slots.all(), system_prompts):
            Slot.objects.filter(pk=slot.pk).update(system_prompt=prompt)
        return conversation

    return make


@pytest.fixture
async def client_pool_closed():
    """Close the openai clients the consumer shared, before the test's event loop ends."""
    yield
    await client_pool().close()


def turn_start(conversation: Conversation, content: str) -> services.Turn:
    """A message and its empty answers, stored, as the websocket stores them."""
    turn = services.turn_build(plan=services.chat_plan(conversation=conversation), content=content)
    services.turn_save(turn=turn)
    return turn


def answer_finish(answer: Answer, **result) -> Answer:
    answer.finish(**result)
    services.answers_save(answers=[answer])
    return answer


def session_cookie(client: Client) -> tuple[bytes, bytes]:
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={value}".encode())


@asynccontextmanager
async def chat_socket(
    conversation_id: int, client: Client | None = None, *, origin: bytes = ORIGIN[1]
) -> AsyncIterator[WebsocketCommunicator]:
    """A websocket to the real ASGI application, signed in as the client's user (if any)."""
    from evalplatform.asgi import application

    headers = [(b"origin", origin), (b"accept-language", b"en")]
    headers += [session_cookie(client)] if client else []
    communicator = WebsocketCommunicator(application, f"/ws/chat/{conversation_id}/", headers=headers)
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def frames_until_turn_done(communicator: WebsocketCommunicator, timeout: float = 10) -> list[dict]:
    """Every frame the server sends up to and including the end of the turn."""
    frames = []
    while True:
        frame = json.loads(await communicator.receive_from(timeout=timeout))
        frames.append(frame)
        if frame["type"] == "turn_done":
            return frames
