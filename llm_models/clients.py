"""The one place that builds openai clients from a model record.

Chat, evaluations and perfbench call these; they never construct clients themselves.
"""

from typing import Any

import httpx
from django.conf import settings
from openai import AsyncOpenAI, OpenAI

from llm_models.models import LLMModel


def _client_kwargs(model: LLMModel, timeout: float | None, max_retries: int | None) -> dict:
    return {
        "base_url": model.base_url,
        # The openai client refuses an empty key; endpoints without auth ignore this one.
        "api_key": model.api_key or "no-key",
        "default_headers": model.extra_headers or None,
        "timeout": timeout if timeout is not None else settings.LLM_REQUEST_TIMEOUT,
        "max_retries": max_retries if max_retries is not None else settings.LLM_MAX_RETRIES,
    }


def _limits() -> httpx.Limits:
    return httpx.Limits(
        max_connections=settings.LLM_MAX_CONNECTIONS,
        max_keepalive_connections=settings.LLM_MAX_CONNECTIONS,
    )


def openai_client(
    model: LLMModel, *, timeout: float | None = None, max_retries: int | None = None
) -> OpenAI:
    """A synchronous client for one model; redirects are never followed."""
    kwargs = _client_kwargs(model, timeout, max_retries)
    http_client = httpx.Client(follow_redirects=False, limits=_limits(), timeout=kwargs["timeout"])
    return OpenAI(http_client=http_client, **kwargs)


def async_openai_client(
    model: LLMModel, *, timeout: float | None = None, max_retries: int | None = None
) -> AsyncOpenAI:
    """An asyncio client for one model; close it (`await client.close()`) when done."""
    kwargs = _client_kwargs(model, timeout, max_retries)
    http_client = httpx.AsyncClient(
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
