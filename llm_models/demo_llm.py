"""A small OpenAI-compatible LLM server for demos, tests and benchmarks (aiohttp only, no Django).

Models: `demo-fast`, `demo-slow` (settable time to first token and token rate) and `demo-flaky`
(fails an exact, reproducible share of its requests). Endpoints: `GET /v1/models`,
`POST /v1/chat/completions` (streaming or not), `GET /demo/stats`, and `/html/...`, which answers
every path with an nginx-like HTML page to stand for an endpoint that does not speak OpenAI.

Answers are deterministic: a hash of the model name and the last user message picks them.
- A multiple-choice question (option lines `A. ...`, `A) ...`, `A、...` or `(A) ...`) gets a
  sentence naming exactly one option letter.
- A judge prompt, one that has `[Reference Answer]` and `[Model Answer]` sections (and usually
  `[Question]`), gets exactly two lines:

      SCORE: <integer 0-10>
      REASON: <one short sentence>

  A section runs from its header to the next `[...]` header line or to the first instruction
  line: one starting with `SCORE:`, `REASON:`, `Reply`, `Respond`, `Rate`, `Grade` or `Evaluate`.
  The score is the share of the reference answer's words found in the model answer, times 10,
  rounded half up (10 when both normalise to the same words).
- A message containing `DEMO:ECHO` is echoed verbatim; anything else gets a short prose answer
  with a little Markdown that mentions the question's words (in Chinese for a Chinese question).

A request may override its model's behaviour with a top-level object
`"demo": {"ttft": s, "tps": n, "fail_rate": 0..1, "fail_mode": "5xx"|"429"|"cut"|"mixed"}`.

Tokens: each CJK character is one token, other text splits into words and punctuation marks, each
carrying the whitespace before it. prompt_tokens counts every message's content plus
MESSAGE_TOKEN_OVERHEAD per message.
"""

import argparse
import asyncio
import dataclasses
import hashlib
import hmac
import json
import math
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

MODELS = ("demo-fast", "demo-slow", "demo-flaky")
MODELS_CREATED = 1_735_689_600  # 2025-01-01, fixed so /v1/models never changes.
FAIL_MODES = ("5xx", "429", "cut", "mixed")
MESSAGE_TOKEN_OVERHEAD = 4
ECHO_MARKER = "DEMO:ECHO"

JUDGE_QUESTION_MARKER = "[Question]"
JUDGE_REFERENCE_MARKER = "[Reference Answer]"
JUDGE_ANSWER_MARKER = "[Model Answer]"
JUDGE_SCORE_PREFIX = "SCORE:"
JUDGE_REASON_PREFIX = "REASON:"
JUDGE_SCORE_MAX = 10
# What a judge prompt can show the judge; the demo judge always answers in this shape.
JUDGE_REPLY_FORMAT = (
    f"{JUDGE_SCORE_PREFIX} <integer 0-10>\n{JUDGE_REASON_PREFIX} <one short sentence>"
)

# Sleeping once per token costs more than the token at high rates: sleep only once this is due.
_MIN_SLEEP = 0.005
# Tokens a "cut" stream sends before it breaks the connection.
_CUT_AFTER_TOKENS = 3

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN_RE = re.compile(rf"\s*(?:[{_CJK}]|[^\W{_CJK}]+|[^\w\s])|\s+\Z")
_CJK_RE = re.compile(rf"[{_CJK}]+")
_OPTION_RE = re.compile(r"^[ \t]*(?:[(（]([A-Z])[)）]|([A-Z])[.)、．:：])", re.MULTILINE)
_SECTION_END_RE = re.compile(
    r"\s*(?:\[[^\]\n]*\]\s*$|(?:SCORE|REASON)\s*:|(?:Reply|Respond|Rate|Grade|Evaluate)\b)"
)
_STOPWORDS = frozenset(
    "about after also been before could does explain from have into more most please should some "
    "tell than that their them then there these they this what when where which while with would "
    "your".split()
)

_MCQ_TEMPLATES = {
    "en": (
        "The answer is {letter} because it fits the question best.",
        "After weighing the options, my choice is {letter}: it is the most consistent with the "
        "question.",
        "Option {letter} is correct; the other choices do not match the question as well.",
    ),
    "zh": ("答案是 {letter}，因为它最符合题意。", "经过分析，正确选项是 {letter}。"),
}
# A prose answer is one opening, one body and one closing paragraph.
_PROSE_TEMPLATES = {
    "en": (
        (
            "Good question about {topic}.",
            "Here is a short overview of {topic}.",
            "Let me explain {topic} briefly.",
        ),
        (
            "In short, **{word1}** depends on the context, so look closely at {word2} before "
            "deciding.",
            "The key points are:\n\n- **{word1}**: the main idea to keep in mind.\n"
            "- **{word2}**: how it applies in practice.",
            "Most sources agree that {word1} and {word2} are closely related, so it helps to look "
            "at them together.",
        ),
        (
            "Hope this helps!",
            "Let me know if you would like more detail.",
            "In summary, it comes down to *{word1}*.",
        ),
    ),
    "zh": (
        ("关于「{topic}」，这是一个好问题。", "简单来说，「{topic}」可以从几个方面理解。"),
        (
            "首先，**核心概念**需要理解清楚；其次，要结合具体场景来分析。",
            "要点如下：\n\n- **背景**：了解它的来龙去脉。\n- **应用**：看它在实践中如何发挥作用。",
        ),
        ("希望这个回答对你有帮助。", "如果需要更多细节，欢迎继续提问。"),
    ),
}

# The numbers a request's "demo" object and the command line may set: (check, what it must be).
_RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    "ttft": (lambda value: value >= 0, "a number of seconds ≥ 0"),
    "tps": (lambda value: value > 0, "a number of tokens per second > 0"),
    "fail_rate": (lambda value: 0 <= value <= 1, "a share between 0 and 1"),
}


@dataclass(frozen=True)
class DemoConfig:
    """How the server behaves; the field names are the command-line options' names."""

    api_key: str = dataclasses.field(default="", repr=False)
    fast_ttft: float = 0.02
    fast_tps: float = 500.0
    slow_ttft: float = 1.0
    slow_tps: float = 20.0
    flaky_rate: float = 0.5
    flaky_mode: str = "5xx"


@dataclass(frozen=True)
class _Behaviour:
    ttft: float
    tps: float
    fail_rate: float
    fail_mode: str


@dataclass
class _Stats:
    active_streams: int = 0
    cancelled: int = 0
    requests: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(MODELS, 0))


_CONFIG = web.AppKey("config", DemoConfig)
_STATS = web.AppKey("stats", _Stats)


def _error(
    status: int, message: str, code: str, error_type: str = "invalid_request_error", **kwargs
) -> web.Response:
    body = {"error": {"message": message, "type": error_type, "code": code}}
    return web.json_response(body, status=status, **kwargs)


class _RequestError(Exception):
    def __init__(self, status: int, message: str, code: str):
        super().__init__(message)
        self.response = _error(status, message, code)


def _sse(chunk: dict) -> bytes:
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()


# Tokens and answers


def tokenize(text: str) -> list[str]:
    """Split text into tokens that join back into exactly the same text."""
    return _TOKEN_RE.findall(text)


def _content_text(content) -> str:
    if isinstance(content, list):  # Content parts: [{"type": "text", "text": ...}, ...]
        return "".join(part.get("text") or "" for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def prompt_token_count(messages: list[dict]) -> int:
    return sum(
        len(tokenize(_content_text(message.get("content")))) + MESSAGE_TOKEN_OVERHEAD
        for message in messages
    )


def _is_chinese(text: str) -> bool:
    return _CJK_RE.search(text) is not None


def _mcq_letters(question: str) -> str:
    """The option letters of a multiple-choice question ("ABCD"), or "" for any other text."""
    found = {paren or plain for paren, plain in _OPTION_RE.findall(question)}
    letters = ""
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if letter not in found:
            break
        letters += letter
    return letters if len(letters) >= 2 else ""


def _words(text: str) -> list[str]:
    """Lower-cased tokens without punctuation or surrounding space, for comparing texts."""
    return [word for token in tokenize(text) if re.match(r"\w", word := token.strip().lower())]


def _judge_section(prompt: str, marker: str) -> str:
    start = prompt.find(marker)
    if start < 0:
        return ""
    first, *rest = prompt[start + len(marker):].split("\n")
    lines = [first]
    for line in rest:
        if _SECTION_END_RE.match(line):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def judge_score(reference: str, answer: str) -> int:
    """The demo judge's score: the share of the reference's words found in the answer, 0-10."""
    reference_words, answer_words = _words(reference), _words(answer)
    if reference_words == answer_words:
        return JUDGE_SCORE_MAX
    if not reference_words:
        return 0
    shared = len(set(reference_words) & set(answer_words))
    total = len(set(reference_words))
    return (2 * JUDGE_SCORE_MAX * shared + total) // (2 * total)  # Rounded half up.


def _judge_reply(prompt: str) -> str:
    score = judge_score(
        _judge_section(prompt, JUDGE_REFERENCE_MARKER), _judge_section(prompt, JUDGE_ANSWER_MARKER)
    )
    if score == JUDGE_SCORE_MAX:
        reason = "The model answer matches the reference answer."
    elif score >= 7:
        reason = "The model answer covers most of the reference answer."
    elif score >= 4:
        reason = "The model answer covers part of the reference answer."
    else:
        reason = "The model answer has little in common with the reference answer."
    return f"{JUDGE_SCORE_PREFIX} {score}\n{JUDGE_REASON_PREFIX} {reason}"


def _prose(question: str, rng: random.Random) -> str:
    if _is_chinese(question):
        language, words = "zh", []
        topic = max(_CJK_RE.findall(question), key=len)[:12]
    else:
        language = "en"
        candidates = (token.strip() for token in tokenize(question))
        by_lower = {w.lower(): w for w in candidates if len(w) >= 4 and w.isalpha()}
        words = [word for lower, word in by_lower.items() if lower not in _STOPWORDS]
        topic = " ".join(words[:2]) or "this topic"
    fields = {
        "topic": topic,
        "word1": words[0] if words else "the question",
        "word2": words[1] if len(words) > 1 else "the details",
    }
    return "\n\n".join(rng.choice(part).format(**fields) for part in _PROSE_TEMPLATES[language])


def demo_answer(model: str, messages: list[dict]) -> str:
    """The whole answer a demo model gives to these messages, before any max_tokens cut."""
    question = next(
        (_content_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
        "",
    )
    if JUDGE_REFERENCE_MARKER in question and JUDGE_ANSWER_MARKER in question:
        return _judge_reply(question)
    if ECHO_MARKER in question:
        return question
    digest = hashlib.sha256(f"{model}\n{question}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    if letters := _mcq_letters(question):
        templates = _MCQ_TEMPLATES["zh" if _is_chinese(question) else "en"]
        return rng.choice(templates).format(letter=rng.choice(letters))
    return _prose(question, rng)


# Requests


@dataclass(frozen=True)
class _Reply:
    head: dict  # id, object, created, model: the start of the completion or of each chunk.
    tokens: list[str]
    finish_reason: str
    usage: dict


def _behaviour(config: DemoConfig, model: str, overrides: dict) -> _Behaviour:
    if model == "demo-slow":
        base = _Behaviour(config.slow_ttft, config.slow_tps, 0.0, config.flaky_mode)
    else:
        fail_rate = config.flaky_rate if model == "demo-flaky" else 0.0
        base = _Behaviour(config.fast_ttft, config.fast_tps, fail_rate, config.flaky_mode)
    return dataclasses.replace(base, **overrides)


def _overrides(body: dict) -> dict:
    demo = body.get("demo") or {}
    if not isinstance(demo, dict):
        raise _RequestError(400, "'demo' must be an object.", "invalid_value")
    overrides = {}
    for name, (check, rule) in _RULES.items():
        if name in demo:
            value = demo[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not check(value):
                raise _RequestError(400, f"'demo.{name}' must be {rule}.", "invalid_value")
            overrides[name] = float(value)
    if "fail_mode" in demo:
        if demo["fail_mode"] not in FAIL_MODES:
            message = f"'demo.fail_mode' must be one of {', '.join(FAIL_MODES)}."
            raise _RequestError(400, message, "invalid_value")
        overrides["fail_mode"] = demo["fail_mode"]
    return overrides


def _max_tokens(body: dict) -> int | None:
    value = body.get("max_completion_tokens")
    if value is None:
        value = body.get("max_tokens")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise _RequestError(400, "'max_tokens' must be a positive integer.", "invalid_value")
    return value


def _model_and_messages(body) -> tuple[str, list[dict]]:
    if not isinstance(body, dict):
        raise _RequestError(400, "The request body must be a JSON object.", "invalid_json")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise _RequestError(400, "You must provide a model parameter.", "missing_model")
    if not (isinstance(messages, list) and messages and all(isinstance(m, dict) for m in messages)):
        raise _RequestError(400, "'messages' must be a non-empty array.", "invalid_messages")
    if model not in MODELS:
        raise _RequestError(404, f"The model `{model}` does not exist.", "model_not_found")
    return model, messages


def _failure(behaviour: _Behaviour, number: int) -> str | None:
    """How request `number` (counted from 1) fails, or None: exactly `fail_rate` of them fail."""
    failures = math.floor(number * behaviour.fail_rate)
    if failures == math.floor((number - 1) * behaviour.fail_rate):
        return None
    if behaviour.fail_mode == "mixed":
        return "5xx" if failures % 2 else "cut"
    return behaviour.fail_mode


def _reply(model: str, messages: list[dict], max_tokens: int | None) -> _Reply:
    tokens = tokenize(demo_answer(model, messages))
    finish_reason = "stop"
    if max_tokens is not None and len(tokens) > max_tokens:
        tokens, finish_reason = tokens[:max_tokens], "length"
    prompt_tokens = prompt_token_count(messages)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(tokens),
        "total_tokens": prompt_tokens + len(tokens),
    }
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
    }
    return _Reply(head, tokens, finish_reason, usage)


def _abort(request: web.Request) -> None:
    """Break the connection without a word, as a crashing server would."""
    if request.transport is not None:
        request.transport.abort()


async def chat_completions(request: web.Request) -> web.StreamResponse:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "The request body is not valid JSON.", "invalid_json")
    try:
        model, messages = _model_and_messages(body)
        behaviour = _behaviour(request.app[_CONFIG], model, _overrides(body))
        max_tokens = _max_tokens(body)
    except _RequestError as exc:
        return exc.response

    stats = request.app[_STATS]
    stats.requests[model] += 1
    failure = _failure(behaviour, stats.requests[model])
    if failure == "5xx":
        message = f"The model `{model}` is overloaded (demo failure)."
        return _error(503, message, "service_unavailable", "server_error")
    if failure == "429":
        message = f"Rate limit reached for `{model}` (demo failure)."
        return _error(429, message, "rate_limit_exceeded", "requests", headers={"Retry-After": "0"})

    reply = _reply(model, messages, max_tokens)
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return await _stream(request, reply, behaviour, include_usage, cut=failure == "cut")

    await asyncio.sleep(behaviour.ttft + len(reply.tokens) / behaviour.tps)
    if failure == "cut":
        _abort(request)
        return web.Response()
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": "".join(reply.tokens)},
        "logprobs": None,
        "finish_reason": reply.finish_reason,
    }
    return web.json_response({**reply.head, "choices": [choice], "usage": reply.usage})


async def _stream(
    request: web.Request, reply: _Reply, behaviour: _Behaviour, include_usage: bool, *, cut: bool
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    chunk_head = {**reply.head, "object": "chat.completion.chunk"}
    # OpenAI sends "usage": null on every chunk but the last when usage was asked for.
    no_usage = {"usage": None} if include_usage else {}

    async def send(delta: dict, finish_reason: str | None = None) -> None:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        await response.write(_sse({**chunk_head, "choices": [choice], **no_usage}))

    tokens = reply.tokens[: min(_CUT_AFTER_TOKENS, len(reply.tokens) - 1)] if cut else reply.tokens
    stats = request.app[_STATS]
    stats.active_streams += 1
    finished = False
    loop = asyncio.get_running_loop()
    try:
        await response.prepare(request)
        await asyncio.sleep(behaviour.ttft)
        await send({"role": "assistant", "content": ""})
        due = loop.time()
        for token in tokens:
            if due - loop.time() > _MIN_SLEEP:
                await asyncio.sleep(due - loop.time())
            await send({"content": token})
            due += 1 / behaviour.tps
        if cut:
            _abort(request)
        else:
            await send({}, reply.finish_reason)
            if include_usage:
                await response.write(_sse({**chunk_head, "choices": [], "usage": reply.usage}))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        finished = True
    except ConnectionResetError:
        pass  # The client went away: stop generating, quietly (counted below).
    finally:
        stats.active_streams -= 1
        if not finished:
            stats.cancelled += 1
    return response


async def list_models(request: web.Request) -> web.Response:
    data = [
        {"id": name, "object": "model", "created": MODELS_CREATED, "owned_by": "demo"}
        for name in MODELS
    ]
    return web.json_response({"object": "list", "data": data})


async def demo_stats(request: web.Request) -> web.Response:
    stats = request.app[_STATS]
    return web.json_response(
        {
            "active_streams": stats.active_streams,
            "requests": stats.requests,
            "cancelled": stats.cancelled,
        }
    )


async def html_page(request: web.Request) -> web.Response:
    return web.Response(text="<html><body>Welcome to nginx</body></html>", content_type="text/html")


@web.middleware
async def _check_api_key(request: web.Request, handler) -> web.StreamResponse:
    api_key = request.app[_CONFIG].api_key
    if api_key and request.path.startswith("/v1/"):
        received = request.headers.get("Authorization", "").encode(errors="replace")
        if not hmac.compare_digest(received, f"Bearer {api_key}".encode()):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
    return await handler(request)


def build_app(config: DemoConfig) -> web.Application:
    app = web.Application(middlewares=[_check_api_key])
    app[_CONFIG] = config
    app[_STATS] = _Stats()
    app.router.add_get("/v1/models", list_models)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/demo/stats", demo_stats)
    app.router.add_route("*", "/html/{path:.*}", html_page)
    return app


def run(host: str, port: int, config: DemoConfig) -> None:
    """Serve until interrupted; a client that goes away cancels its request at once."""
    try:
        import uvloop
    except ImportError:
        loop = asyncio.new_event_loop()
    else:
        loop = uvloop.new_event_loop()
    web.run_app(
        build_app(config),
        host=host,
        port=port,
        loop=loop,
        access_log=None,
        backlog=2048,  # Benchmarks open hundreds of connections at the same moment.
        handler_cancellation=True,
    )


# The command line, shared by `manage.py demo_llm` and `python -m llm_models.demo_llm`.


def _option_type(rule_name: str) -> Callable[[str], float]:
    check, rule = _RULES[rule_name]

    def parse(text: str) -> float:
        value = float(text)
        if not check(value):
            raise argparse.ArgumentTypeError(f"{text} is not {rule}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = DemoConfig()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument(
        "--api-key",
        default=os.environ.get("DEMO_LLM_API_KEY", ""),
        help="Key that clients must send as a bearer token "
        "(default: $DEMO_LLM_API_KEY; empty: no key needed).",
    )
    for flag, rule_name, help_text in [
        ("--fast-ttft", "ttft", "Seconds before the first token of demo-fast and demo-flaky."),
        ("--fast-tps", "tps", "Tokens per second of demo-fast and demo-flaky."),
        ("--slow-ttft", "ttft", "Seconds before the first token of demo-slow."),
        ("--slow-tps", "tps", "Tokens per second of demo-slow."),
        ("--flaky-rate", "fail_rate", "Share of demo-flaky's requests that fail, 0 to 1."),
    ]:
        default = getattr(defaults, flag.removeprefix("--").replace("-", "_"))
        help_text = f"{help_text} Default: {default}."
        parser.add_argument(flag, type=_option_type(rule_name), default=default, help=help_text)
    parser.add_argument(
        "--flaky-mode",
        choices=FAIL_MODES,
        default=defaults.flaky_mode,
        help="How demo-flaky fails: 503, 429, a broken connection (cut), or 503 and cut in turn.",
    )


def config_from_options(options: Mapping) -> DemoConfig:
    """The DemoConfig for parsed options (a dict with at least DemoConfig's field names)."""
    return DemoConfig(**{f.name: options[f.name] for f in dataclasses.fields(DemoConfig)})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the demo OpenAI-compatible LLM server.")
    add_arguments(parser)
    options = vars(parser.parse_args())
    run(options["host"], options["port"], config_from_options(options))
