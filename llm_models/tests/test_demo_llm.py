"""The demo LLM server, run as a subprocess and driven over HTTP by the official openai client."""

import asyncio
import re
import time

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from llm_models.demo_llm import (
    JUDGE_ANSWER_MARKER,
    JUDGE_QUESTION_MARKER,
    JUDGE_REFERENCE_MARKER,
    JUDGE_REPLY_FORMAT,
    demo_answer,
    prompt_token_count,
    tokenize,
)

QUESTION = [{"role": "user", "content": "Explain how streaming responses work in web servers."}]
STREAM_USAGE = {"include_usage": True}


@pytest.fixture
def client(demo_llm_url) -> OpenAI:
    return OpenAI(base_url=demo_llm_url, api_key="no-key", max_retries=0)


@pytest.fixture
async def async_client(demo_llm_url):
    async with AsyncOpenAI(base_url=demo_llm_url, api_key="no-key", max_retries=0) as client:
        yield client


def _ask(client: OpenAI, content: str) -> str:
    messages = [{"role": "user", "content": content}]
    completion = client.chat.completions.create(model="demo-fast", messages=messages)
    return completion.choices[0].message.content


def _stats(base_url: str) -> dict:
    return httpx.get(base_url.removesuffix("/v1") + "/demo/stats").json()


def test_models_are_listed(client):
    assert [model.id for model in client.models.list()] == ["demo-fast", "demo-slow", "demo-flaky"]


def test_answer_usage_adds_up(client):
    completion = client.chat.completions.create(model="demo-fast", messages=QUESTION)

    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "stop"
    content, usage = completion.choices[0].message.content, completion.usage
    assert "streaming" in content
    assert usage.completion_tokens == len(tokenize(content))
    assert usage.prompt_tokens == prompt_token_count(QUESTION)
    assert usage.prompt_tokens + usage.completion_tokens == usage.total_tokens


def test_stream_matches_the_answer(client):
    answer = client.chat.completions.create(model="demo-fast", messages=QUESTION)
    chunks = list(
        client.chat.completions.create(
            model="demo-fast", messages=QUESTION, stream=True, stream_options=STREAM_USAGE
        )
    )

    assert chunks[0].object == "chat.completion.chunk"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks[:-1])
    assert content == answer.choices[0].message.content
    assert chunks[-1].usage == answer.usage


async def test_stream_with_the_async_client(async_client):
    stream = await async_client.chat.completions.create(
        model="demo-fast", messages=QUESTION, stream=True, stream_options=STREAM_USAGE
    )
    chunks = [chunk async for chunk in stream]

    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks[:-1])
    assert content == demo_answer("demo-fast", QUESTION)
    assert chunks[-1].usage.completion_tokens == len(tokenize(content))


def test_max_tokens_cuts_the_answer(client):
    chunks = list(
        client.chat.completions.create(
            model="demo-fast", messages=QUESTION, max_tokens=5, stream=True,
            stream_options=STREAM_USAGE,
        )
    )
    completion = client.chat.completions.create(
        model="demo-fast", messages=QUESTION, max_completion_tokens=5
    )

    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens == 5
    assert len([chunk for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]) == 5
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 5


@pytest.mark.parametrize(
    "question",
    [
        "Which of these is a fruit?\nA. Apple\nB. Car\nC. Rock\nD. Chair",
        "Pick one:\n(A) red\n(B) green\n(C) blue",
        "下列哪个是水果？\nA、苹果\nB、汽车\nC、石头\nD、椅子",
    ],
)
def test_multiple_choice_answer_names_one_option(client, question):
    answer = _ask(client, question)

    assert len(re.findall(r"(?<![A-Za-z])[A-D](?![A-Za-z])", answer)) == 1
    assert len(tokenize(answer)) > 5  # Prose, not a bare letter.


def _judge_prompt(reference: str, answer: str) -> str:
    return (
        "You grade answers.\n"
        f"{JUDGE_QUESTION_MARKER}\nWhat is the capital of France?\n"
        f"{JUDGE_REFERENCE_MARKER}\n{reference}\n"
        f"{JUDGE_ANSWER_MARKER}\n{answer}\n"
        f"Reply exactly in this format:\n{JUDGE_REPLY_FORMAT}"
    )


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        ("Paris is the capital of France.", 10),
        ("paris IS the capital of france", 10),
        ("The capital is Paris.", 7),
        ("Bananas grow in tropical climates.", 0),
    ],
)
def test_judge_prompt_gets_a_score(client, answer, score):
    reply = _ask(client, _judge_prompt("Paris is the capital of France.", answer))

    assert re.fullmatch(rf"SCORE: {score}\nREASON: [^\n]+\.", reply)


def test_same_question_same_answer(client):
    assert _ask(client, "Why is the sky blue?") == _ask(client, "Why is the sky blue?")


def test_chinese_question_gets_a_chinese_answer(client):
    assert re.search(r"[\u4e00-\u9fff]{5}", _ask(client, "什么是机器学习？"))


def test_echo_returns_the_message(client):
    question = "DEMO:ECHO <script>alert('x')</script> **bold**"

    assert _ask(client, question) == question


def test_slow_model_waits_before_the_first_token(client):
    started = time.monotonic()
    stream = client.chat.completions.create(
        model="demo-slow", messages=QUESTION, stream=True,
        extra_body={"demo": {"ttft": 0.3, "tps": 500}},
    )
    with stream:
        next(chunk for chunk in stream if chunk.choices and chunk.choices[0].delta.content)
        first_token = time.monotonic() - started
        list(stream)

    assert 0.3 <= first_token < 5


def test_flaky_model_fails_with_503(client):
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(
            model="demo-flaky", messages=QUESTION,
            extra_body={"demo": {"fail_rate": 1.0, "fail_mode": "5xx"}},
        )


def test_flaky_model_cuts_the_stream(client):
    stream = client.chat.completions.create(
        model="demo-flaky", messages=QUESTION, stream=True,
        extra_body={"demo": {"fail_rate": 1.0, "fail_mode": "cut"}},
    )
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)

    assert "".join(received)


def test_flaky_model_fails_the_configured_share(demo_llm_start):
    flaky = OpenAI(
        base_url=demo_llm_start("--flaky-rate", "0.5", "--flaky-mode", "429"),
        api_key="no-key",
        max_retries=0,
    )
    failed = []
    for _ in range(10):
        try:
            flaky.chat.completions.create(model="demo-flaky", messages=QUESTION)
            failed.append(False)
        except openai.RateLimitError as exc:
            assert exc.response.headers["Retry-After"] == "0"
            failed.append(True)

    assert failed == [False, True] * 5


def test_keyed_server_wants_the_key(demo_llm_keyed_url):
    wrong = OpenAI(base_url=demo_llm_keyed_url, api_key="wrong-key", max_retries=0)
    right = OpenAI(base_url=demo_llm_keyed_url, api_key="demo-secret-key", max_retries=0)

    with pytest.raises(openai.AuthenticationError) as excinfo:
        wrong.chat.completions.create(model="demo-fast", messages=QUESTION)
    assert excinfo.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    assert _ask(right, "Why is the sky blue?")
    without_key = httpx.get(f"{demo_llm_keyed_url}/models")
    assert without_key.status_code == 401
    assert without_key.json() == {
        "error": {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as excinfo:
        client.chat.completions.create(model="gpt-nothing", messages=QUESTION)

    assert excinfo.value.code == "model_not_found"
    assert "`gpt-nothing`" in excinfo.value.message


def test_bad_requests_are_400(client, demo_llm_url):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="demo-fast", messages=[])
    response = httpx.post(f"{demo_llm_url}/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_html_endpoint_is_not_openai(demo_llm_url):
    html = OpenAI(base_url=demo_llm_url.replace("/v1", "/html/v1"), api_key="no-key", max_retries=0)

    # What the openai client does with an HTML page: the platform must check for all three.
    completion = html.chat.completions.create(model="demo-fast", messages=QUESTION)
    assert completion == "<html><body>Welcome to nginx</body></html>"
    stream = html.chat.completions.create(model="demo-fast", messages=QUESTION, stream=True)
    assert list(stream) == []
    with pytest.raises(AttributeError):
        html.models.list()


async def test_many_concurrent_streams(async_client):
    async def stream(number: int) -> tuple[str, str]:
        messages = [{"role": "user", "content": f"Question {number}: what is concurrency?"}]
        chunks = await async_client.chat.completions.create(
            model="demo-fast", messages=messages, stream=True, extra_body={"demo": {"tps": 2000}}
        )
        content = "".join([chunk.choices[0].delta.content or "" async for chunk in chunks])
        return content, demo_answer("demo-fast", messages)

    results = await asyncio.gather(*(stream(number) for number in range(200)))

    assert all(content == expected for content, expected in results)


def test_stats_count_a_cancelled_stream(client, demo_llm_url):
    before = _stats(demo_llm_url)
    stream = client.chat.completions.create(
        model="demo-slow", messages=QUESTION, stream=True,
        extra_body={"demo": {"ttft": 0, "tps": 20}},
    )
    with stream:
        next(chunk for chunk in stream if chunk.choices[0].delta.content)
        assert _stats(demo_llm_url)["active_streams"] == before["active_streams"] + 1

    deadline = time.monotonic() + 5
    while _stats(demo_llm_url)["cancelled"] == before["cancelled"] and time.monotonic() < deadline:
        time.sleep(0.02)
    after = _stats(demo_llm_url)
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["active_streams"] == before["active_streams"]
    assert after["requests"]["demo-slow"] == before["requests"]["demo-slow"] + 1
