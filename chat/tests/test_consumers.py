"""The chat websocket against the real ASGI application and the demo LLM server."""

import asyncio
import json
from html.parser import HTMLParser

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from chat import services
from chat.models import Answer, Conversation, Message, Slot
from chat.tests.conftest import chat_socket, frames_until_turn_done
from llm_models.demo_llm import demo_answer, prompt_token_count

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("english", "client_pool_closed"),
]

ENGLISH = {"Accept-Language": "en"}
XSS = "DEMO:ECHO <script>alert(1)</script><img src=x onerror=alert(1)>"


def by_type(frames: list[dict], kind: str) -> list[dict]:
    return [frame for frame in frames if frame["type"] == kind]


async def demo_stats(base_url: str) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.get(base_url.removesuffix("/v1") + "/demo/stats")
        return response.json()


async def wait_for_no_active_streams(base_url: str) -> dict:
    """The demo server notices a closed connection a moment after it closes."""
    for _ in range(100):
        stats = await demo_stats(base_url)
        if stats["active_streams"] == 0:
            return stats
        await asyncio.sleep(0.02)
    return stats


async def answers_of(conversation: Conversation) -> list[Answer]:
    answers = Answer.objects.filter(message__conversation=conversation).order_by("message_id", "slot_position")
    return [answer async for answer in answers]


async def test_three_slots_stream_interleaved_and_all_finish(alice_client, make_model, make_conversation):
    models = [await sync_to_async(make_model)("demo-slow", ttft=0.02, tps=tps) for tps in (40, 50, 60)]
    conversation = await sync_to_async(make_conversation)(*models)

    async with chat_socket(conversation.pk, alice_client) as socket:
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "send", "content": "Explain attention in transformers"})
        frames = await frames_until_turn_done(socket)

    assert frames[0]["type"] == "turn"
    first_done = frames.index(by_type(frames, "done")[0])
    slots_before_any_finished = [frame["slot"] for frame in frames[1:first_done]]
    assert set(slots_before_any_finished) == {1, 2, 3}
    switches = sum(a != b for a, b in zip(slots_before_any_finished, slots_before_any_finished[1:]))
    assert switches >= 6, slots_before_any_finished
    assert sorted(frame["slot"] for frame in by_type(frames, "done")) == [1, 2, 3]
    assert {frame["status"] for frame in by_type(frames, "done")} == {"done"}
    for answer in await answers_of(conversation):
        streamed = "".join(f["delta"] for f in by_type(frames, "chunk") if f["slot"] == answer.slot_position)
        assert answer.status == Answer.Status.DONE
        assert answer.content == streamed != ""
        assert answer.ttft_ms is not None and answer.total_ms >= answer.ttft_ms
        assert answer.completion_tokens > 0 and answer.prompt_tokens > 0


@pytest.mark.parametrize("fail_mode", ["cut", "5xx"])
async def test_flaky_model_fails_only_its_own_column(alice_client, make_model, make_conversation, settings, fail_mode):
    settings.LLM_MAX_RETRIES = 0
    flaky = await sync_to_async(make_model)("demo-flaky", fail_rate=1, fail_mode=fail_mode, tps=100)
    fast = [await sync_to_async(make_model)("demo-slow", ttft=0.02, tps=200) for _ in range(2)]
    conversation = await sync_to_async(make_conversation)(fast[0], flaky, fast[1])

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        await socket.send_json_to({"type": "send", "content": "Tell me about rivers"})
        frames = await frames_until_turn_done(socket)

    done = {frame["slot"]: frame for frame in by_type(frames, "done")}
    assert done[1]["status"] == done[3]["status"] == "done"
    assert done[2]["status"] == "error"
    assert 'data-testid="answer-error"' in done[2]["html"]
    answers = await answers_of(conversation)
    assert [answer.status for answer in answers] == ["done", "error", "done"]
    assert flaky.host in answers[1].error or "503" in answers[1].error
    if fail_mode == "5xx":
        assert "503" in answers[1].error
    else:
        assert answers[1].content  # What arrived before the break is kept.


async def test_stop_cancels_every_upstream_stream_and_keeps_partial_answers(alice_client, make_model, make_conversation, demo_llm_url):
    models = [await sync_to_async(make_model)("demo-slow", ttft=0.01, tps=20) for _ in range(3)]
    conversation = await sync_to_async(make_conversation)(*models)
    before = await demo_stats(demo_llm_url)

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        await socket.send_json_to({"type": "send", "content": "Describe the history of Rome"})
        streaming = set()
        while streaming != {1, 2, 3}:
            frame = json.loads(await socket.receive_from(timeout=5))
            if frame["type"] == "chunk":
                streaming.add(frame["slot"])
        assert (await demo_stats(demo_llm_url))["active_streams"] == 3
        await socket.send_json_to({"type": "stop"})
        frames = await frames_until_turn_done(socket)

    assert {frame["status"] for frame in by_type(frames, "done")} == {"stopped"}
    after = await wait_for_no_active_streams(demo_llm_url)
    assert after["active_streams"] == 0
    assert after["cancelled"] - before["cancelled"] == 3
    for answer in await answers_of(conversation):
        full = demo_answer("demo-slow", [{"role": "user", "content": "Describe the history of Rome"}])
        assert answer.status == Answer.Status.STOPPED
        assert answer.content and full.startswith(answer.content) and answer.content != full


async def test_disconnect_cancels_upstream_and_saves_partial_answers_as_interrupted(alice_client, make_model, make_conversation, demo_llm_url):
    models = [await sync_to_async(make_model)("demo-slow", ttft=0.01, tps=20) for _ in range(2)]
    conversation = await sync_to_async(make_conversation)(*models)
    before = await demo_stats(demo_llm_url)

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        await socket.send_json_to({"type": "send", "content": "Describe the history of Rome"})
        chunks = 0
        while chunks < 6:
            chunks += json.loads(await socket.receive_from(timeout=5))["type"] == "chunk"
    # Leaving the block closed the socket; the consumer has finished by then.

    answers = await answers_of(conversation)
    assert [answer.status for answer in answers] == ["interrupted", "interrupted"]
    assert all(answer.content for answer in answers)
    after = await wait_for_no_active_streams(demo_llm_url)
    assert after["cancelled"] - before["cancelled"] == 2


async def test_everything_is_persisted_and_the_reopened_page_shows_it(alice_client, make_model, make_conversation):
    models = [await sync_to_async(make_model)("demo-fast"), await sync_to_async(make_model)("demo-slow", ttft=0.01, tps=500)]
    conversation = await sync_to_async(make_conversation)(*models, system_prompts=["Answer in French.", ""])

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        await socket.send_json_to({"type": "send", "content": "What is photosynthesis?"})
        frames = await frames_until_turn_done(socket)

    assert by_type(frames, "turn")[0]["title"] == "What is photosynthesis?"
    message = await Message.objects.aget(conversation=conversation)
    answers = await answers_of(conversation)
    assert message.content == "What is photosynthesis?"
    assert [(a.model_name, a.system_prompt, a.slot_position) for a in answers] == [
        (models[0].name, "Answer in French.", 1), (models[1].name, "", 2),
    ]
    assert all(a.temperature == 0.7 and a.max_tokens == 1024 and a.finished_at for a in answers)
    page = (await sync_to_async(alice_client.get)(reverse("chat:detail", args=[conversation.pk]), headers=ENGLISH)).content.decode()
    assert "What is photosynthesis?" in page
    assert page.count('data-testid="answer"') == 2
    for answer in answers:
        assert f"first token {answer.ttft_ms} ms" in page and f"total {answer.total_ms} ms" in page
        assert f"{answer.prompt_tokens} prompt + {answer.completion_tokens} answer tokens" in page
    conversation_row = await Conversation.objects.aget(pk=conversation.pk)
    assert conversation_row.title == "What is photosynthesis?"


async def test_each_slot_keeps_its_own_history_and_system_prompt(alice_client, make_model, make_conversation):
    # Two models, so that their earlier answers differ and one slot's cannot pass for the other's.
    models = [await sync_to_async(make_model)("demo-fast"), await sync_to_async(make_model)("demo-slow", ttft=0.01, tps=500)]
    conversation = await sync_to_async(make_conversation)(*models, system_prompts=["You are a terse poet.", ""])
    questions = ["Tell me about mountains", "And about rivers?"]

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        for question in questions:
            await socket.send_json_to({"type": "send", "content": question})
            frames = await frames_until_turn_done(socket)
            # What the socket kept of the conversation was right: nothing was asked twice.
            assert len(by_type(frames, "turn")) == 1

    first_1, first_2, second_1, second_2 = await answers_of(conversation)
    assert first_1.content != first_2.content
    # The demo server counts the tokens of exactly the messages it was sent.
    expected_1 = [
        {"role": "system", "content": "You are a terse poet."},
        {"role": "user", "content": questions[0]}, {"role": "assistant", "content": first_1.content},
        {"role": "user", "content": questions[1]},
    ]
    expected_2 = [
        {"role": "user", "content": questions[0]}, {"role": "assistant", "content": first_2.content},
        {"role": "user", "content": questions[1]},
    ]
    assert second_1.prompt_tokens == prompt_token_count(expected_1)
    assert second_2.prompt_tokens == prompt_token_count(expected_2)
    assert first_1.prompt_tokens == prompt_token_count(expected_1[:2])


async def test_settings_changed_in_another_window_are_what_the_next_message_is_sent_with(alice_client, make_model, make_conversation):
    first, second = [await sync_to_async(make_model)("demo-fast") for _ in range(2)]
    conversation = await sync_to_async(make_conversation)(first)

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        # Another window moves the slot to another model; this socket does not hear of it.
        slot = await Slot.objects.aget(conversation=conversation)
        await sync_to_async(services.slot_update)(
            slot=slot, model=second, system_prompt="Be brief.", temperature=0.1, max_tokens=50
        )
        await socket.send_json_to({"type": "send", "content": "Tell me about rivers"})
        frames = await frames_until_turn_done(socket)

    # Asked at once with what the socket knew, then again once the change was seen.
    assert len(by_type(frames, "turn")) == 2
    [answer] = await answers_of(conversation)
    assert (answer.model_id, answer.system_prompt, answer.temperature, answer.max_tokens) == (second.pk, "Be brief.", 0.1, 50)
    assert answer.status == Answer.Status.DONE
    assert answer.prompt_tokens == prompt_token_count([
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about rivers"},
    ])
    assert await Message.objects.filter(conversation=conversation).acount() == 1
    streamed = "".join(f["delta"] for f in frames[frames.index(by_type(frames, "turn")[1]):] if f["type"] == "chunk")
    assert streamed == answer.content


async def test_a_change_the_page_announces_is_sent_with_at_once(alice_client, make_model, make_conversation):
    conversation = await sync_to_async(make_conversation)(await sync_to_async(make_model)("demo-fast"))

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        response = await sync_to_async(alice_client.post)(
            reverse("chat:slot-add", args=[conversation.pk]), headers={"HX-Request": "true"}
        )
        assert response.status_code == 200
        await socket.send_json_to({"type": "reload"})
        await socket.send_json_to({"type": "send", "content": "Tell me about rivers"})
        frames = await frames_until_turn_done(socket)

    assert len(by_type(frames, "turn")) == 1
    assert sorted(frame["slot"] for frame in by_type(frames, "done")) == [1, 2]
    assert [answer.slot_position for answer in await answers_of(conversation)] == [1, 2]


async def test_history_written_by_another_window_is_part_of_the_next_message(alice_client, make_model, make_conversation):
    conversation = await sync_to_async(make_conversation)(await sync_to_async(make_model)("demo-fast"))

    async with chat_socket(conversation.pk, alice_client) as window_a, chat_socket(conversation.pk, alice_client) as window_b:
        await window_a.connect()
        await window_b.connect()
        await window_a.send_json_to({"type": "send", "content": "Tell me about mountains"})
        await frames_until_turn_done(window_a)
        await window_b.send_json_to({"type": "send", "content": "And about rivers?"})
        await frames_until_turn_done(window_b)

    first, second = await answers_of(conversation)
    assert second.prompt_tokens == prompt_token_count([
        {"role": "user", "content": "Tell me about mountains"}, {"role": "assistant", "content": first.content},
        {"role": "user", "content": "And about rivers?"},
    ])


async def test_a_title_given_while_chatting_is_kept(alice_client, make_model, make_conversation):
    conversation = await sync_to_async(make_conversation)(await sync_to_async(make_model)("demo-fast"))

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        await socket.send_json_to({"type": "send", "content": "Tell me about mountains"})
        await frames_until_turn_done(socket)
        assert (await Conversation.objects.aget(pk=conversation.pk)).title == "Tell me about mountains"
        await sync_to_async(alice_client.post)(reverse("chat:rename", args=[conversation.pk]), {"title": "Geography"})
        await socket.send_json_to({"type": "send", "content": "And about rivers?"})
        await frames_until_turn_done(socket)

    assert (await Conversation.objects.aget(pk=conversation.pk)).title == "Geography"


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[str] = []
        self.handler_attributes: list[tuple[str, str]] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        self.handler_attributes += [(tag, name) for name, _ in attrs if name.startswith("on")]

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)

    def handle_endtag(self, tag):
        self._in_script = False


def assert_no_injected_script(html: str) -> None:
    elements = _Elements()
    elements.feed(html)
    assert not [script for script in elements.scripts if "alert" in script]
    assert not [attr for attr in elements.handler_attributes if attr[0] == "img"]
    assert "<img" not in html


async def test_a_models_script_and_event_handlers_are_never_rendered(alice_client, make_model, make_conversation):
    conversation = await sync_to_async(make_conversation)(await sync_to_async(make_model)("demo-fast"))

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        await socket.send_json_to({"type": "send", "content": XSS})
        frames = await frames_until_turn_done(socket)

    [answer] = await answers_of(conversation)
    assert answer.content == XSS  # The model really answered with the script.
    [done] = by_type(frames, "done")
    assert_no_injected_script(done["html"])
    assert_no_injected_script(by_type(frames, "turn")[0]["html"])
    page = await sync_to_async(alice_client.get)(reverse("chat:detail", args=[conversation.pk]), headers=ENGLISH)
    assert_no_injected_script(page.content.decode())
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content.decode()


async def test_a_slot_without_a_usable_model_shows_why_and_the_others_answer(alice_client, make_model, make_conversation):
    models = [await sync_to_async(make_model)("demo-fast") for _ in range(2)]
    conversation = await sync_to_async(make_conversation)(*models)
    models[1].enabled = False
    await models[1].asave()

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        await socket.send_json_to({"type": "send", "content": "Hello"})
        frames = await frames_until_turn_done(socket)

    assert [(f["slot"], f["status"]) for f in sorted(by_type(frames, "done"), key=lambda f: f["slot"])] == [(1, "done"), (2, "error")]
    assert "not available" in (await answers_of(conversation))[1].error


async def test_refused_endpoint_is_an_error_in_its_column(alice, alice_client, make_model, make_conversation, settings, closed_port_url):
    down = await sync_to_async(make_model)("demo-fast", base_url=closed_port_url)
    conversation = await sync_to_async(make_conversation)(await sync_to_async(make_model)("demo-fast"), down)
    settings.LLM_MAX_RETRIES = 0

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        await socket.send_json_to({"type": "send", "content": "Hello"})
        frames = await frames_until_turn_done(socket)

    statuses = {f["slot"]: f["status"] for f in by_type(frames, "done")}
    assert statuses == {1: "done", 2: "error"}
    assert (await answers_of(conversation))[1].error.startswith("Connection refused")


async def test_sending_while_a_turn_streams_is_refused_and_empty_messages_too(alice_client, make_model, make_conversation):
    conversation = await sync_to_async(make_conversation)(await sync_to_async(make_model)("demo-slow", ttft=0.01, tps=50))

    async with chat_socket(conversation.pk, alice_client) as socket:
        await socket.connect()
        await socket.send_json_to({"type": "send", "content": "   "})
        assert json.loads(await socket.receive_from())["type"] == "error"
        await socket.send_json_to({"type": "send", "content": "First"})
        await socket.send_json_to({"type": "send", "content": "Second"})
        frames = await frames_until_turn_done(socket)

    assert "Wait for the answers" in by_type(frames, "error")[0]["message"]
    assert await Message.objects.filter(conversation=conversation).acount() == 1


async def test_stranger_cannot_open_the_websocket(bob_client, make_model, make_conversation):
    conversation = await sync_to_async(make_conversation)(await sync_to_async(make_model)("demo-fast"))
    async with chat_socket(conversation.pk, bob_client) as socket:
        connected, _ = await socket.connect()
    assert not connected


async def test_anonymous_websocket_is_refused(make_model, make_conversation):
    conversation = await sync_to_async(make_conversation)(await sync_to_async(make_model)("demo-fast"))
    async with chat_socket(conversation.pk) as socket:
        connected, _ = await socket.connect()
    assert not connected


async def test_websocket_from_a_foreign_origin_is_refused(alice_client, make_model, make_conversation):
    conversation = await sync_to_async(make_conversation)(await sync_to_async(make_model)("demo-fast"))
    async with chat_socket(conversation.pk, alice_client, origin=b"http://evil.example") as socket:
        connected, _ = await socket.connect()
    assert not connected
    async with chat_socket(conversation.pk, alice_client) as socket:
        connected, _ = await socket.connect()
    assert connected


async def test_unknown_conversation_is_refused(alice_client: Client):
    async with chat_socket(987654, alice_client) as socket:
        connected, _ = await socket.connect()
    assert not connected
