"""The one place that builds openai clients from a model record and explains their failures.

Chat, evaluations and perfbench call these; they never construct clients themselves.
"""

import errno
import socket
from typing import Any

import httpx2
import openai
from django.conf import settings
from django.utils.translation import gettext as _
from openai import AsyncOpenAI, DefaultAioHttpClient, OpenAI
from openai._constants import RAW_RESPONSE_HEADER

from llm_models.endpoints import endpoint_validate
from llm_models.models import LLMModel


def _client_kwargs(model: LLMModel, timeout: float | None, max_retries: int | None) -> dict:
    # Checked at every use, not only when saved: the allow-list may have changed since.
    endpoint_validate(model.base_url, user_model=not model.is_system)
    return {
        "base_url": model.base_url,
        # The openai client refuses an empty key; endpoints without auth ignore this one.
        "api_key": model.api_key or "no-key",
        "default_headers": model.extra_headers or None,
        "timeout": timeout if timeout is not None else settings.LLM_REQUEST_TIMEOUT,
        "max_retries": max_retries if max_retries is not None else settings.LLM_MAX_RETRIES,
    }


def _limits() -> httpx2.Limits:
    return httpx2.Limits(
        max_connections=settings.LLM_MAX_CONNECTIONS,
        max_keepalive_connections=settings.LLM_MAX_CONNECTIONS,
    )


def openai_client(
    model: LLMModel, *, timeout: float | None = None, max_retries: int | None = None
) -> OpenAI:
    """A synchronous client for one model; redirects are never followed."""
    kwargs = _client_kwargs(model, timeout, max_retries)
    http_client = httpx2.Client(follow_redirects=False, limits=_limits(), timeout=kwargs["timeout"])
    return OpenAI(http_client=http_client, **kwargs)


def async_openai_client(
    model: LLMModel, *, timeout: float | None = None, max_retries: int | None = None
) -> AsyncOpenAI:
    """An asyncio client for one model; close it (`await client.close()`) when done.

    It sends over aiohttp (the SDK's own aiohttp option): with 150 streams at once a stream
    costs about half the CPU it costs over httpx2's own pool (bench/openai_transport.py)."""
    kwargs = _client_kwargs(model, timeout, max_retries)
    http_client = DefaultAioHttpClient(
        follow_redirects=False, limits=_limits(), timeout=kwargs["timeout"]
    )
    return AsyncOpenAI(http_client=http_client, **kwargs)


def chat_completion_params(
    model: LLMModel,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Keyword arguments for `client.chat.completions.create` from the model's defaults."""
    params: dict[str, Any] = {
        "model": model.model_name,
        "temperature": model.temperature if temperature is None else temperature,
        "max_tokens": model.max_tokens if max_tokens is None else max_tokens,
    }
    if model.extra_body:
        params["extra_body"] = dict(model.extra_body)
    params.update(overrides)
    return params


async def chat_completion_stream(client: AsyncOpenAI, params: dict[str, Any]) -> httpx2.Response:
    """Start a streaming chat completion and return its event stream, unread (`aclose()` it).

    The request `client.chat.completions.create(**params, stream=True)` makes, through the same
    client (its retries, errors and headers), without the SDK's typed transform of the
    parameters: that costs about a millisecond of CPU per request (more with a long history)
    for a body that is plain JSON already."""
    body = {key: value for key, value in params.items() if key != "extra_body"}
    body.update(params.get("extra_body") or {})
    body["stream"] = True
    return await client.post(
        "/chat/completions", cast_to=httpx2.Response, body=body, stream=True,
        options={"headers": {RAW_RESPONSE_HEADER: "stream"}},
    )


class NotOpenAIFormat(Exception):
    """The endpoint answered, but not with what the OpenAI API returns."""


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and the ones behind it, outermost first."""
    chain = [exc]
    while (exc := exc.__cause__ or exc.__context__) is not None and exc not in chain:
        chain.append(exc)
    return chain


def _api_error_message(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = body.get("error", body).get("message") if isinstance(body.get("error", body), dict) else None
    return str(detail or exc.message)[:300]


def describe_call_error(exc: BaseException, model: LLMModel) -> str:
    """One sentence for the user saying what went wrong when calling the model; never a trace."""
    host = model.host
    if isinstance(exc, (openai.APIConnectionError, TimeoutError)):  # Timeouts included.
        causes = _causes(exc)
        if any(isinstance(c, (httpx2.RemoteProtocolError, httpx2.ReadError)) for c in causes):
            return _("The connection to %(host)s broke off before the answer was complete.") % {
                "host": host
            }
        if any(isinstance(c, socket.gaierror) for c in causes):
            return _("DNS failure: the host name in %(host)s cannot be resolved.") % {"host": host}
        # Looked for before timeouts: the aiohttp transport reports a refused connection as a
        # connect timeout caused by it.
        if any(getattr(c, "errno", None) == errno.ECONNREFUSED for c in causes):
            return _("Connection refused by %(host)s: nothing is listening there.") % {"host": host}
        if isinstance(exc, (openai.APITimeoutError, TimeoutError)):
            return _("Timed out waiting for %(host)s.") % {"host": host}
        return _("Cannot connect to %(host)s: %(reason)s") % {"host": host, "reason": causes[-1]}
    if isinstance(exc, openai.AuthenticationError):
        return _("401 Unauthorized: the endpoint rejected the API key.")
    if isinstance(exc, openai.PermissionDeniedError):
        return _("403 Forbidden: the API key may not use this model.")
    if isinstance(exc, openai.NotFoundError):
        return _("404 Not Found: the endpoint does not know the model name “%(name)s” (or the base URL is wrong): %(detail)s") % {
            "name": model.model_name, "detail": _api_error_message(exc)}
    if isinstance(exc, openai.RateLimitError):
        return _("429 Too Many Requests: the endpoint is rate-limiting; try again later.")
    if isinstance(exc, openai.APIStatusError):
        return _("The endpoint answered with HTTP %(status)s: %(detail)s") % {
            "status": exc.status_code, "detail": _api_error_message(exc)}
    if isinstance(exc, openai.APIError):
        return _("The endpoint's answer could not be read: %(detail)s") % {"detail": str(exc)[:300]}
    if isinstance(exc, NotOpenAIFormat):
        return _("The reply is not in the OpenAI format (%(detail)s): is the base URL right? It usually ends in /v1.") % {
            "detail": str(exc)}
    return _("Unexpected error: %(detail)s") % {"detail": f"{type(exc).__name__}: {exc}"[:300]}
