"""Writes for models: create, update, delete, the availability check, system models from config."""

import json
import os
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openai import OpenAI
from openai.types.chat import ChatCompletion

from llm_models.clients import NotOpenAIFormat, chat_completion_params, describe_call_error, openai_client
from llm_models.models import LLMModel

SYSTEM_MODEL_FIELDS = {
    "base_url", "model_name", "api_key", "temperature", "max_tokens", "extra_headers",
    "extra_body", "enabled",
}


def llm_model_create(*, owner, **fields: Any) -> LLMModel:
    model = LLMModel(owner=owner, **fields)
    model.full_clean()
    model.save()
    return model


def llm_model_update(*, model: LLMModel, api_key: str = "", **fields: Any) -> LLMModel:
    """Change a model's settings; an empty `api_key` keeps the stored key."""
    for name, value in fields.items():
        setattr(model, name, value)
    if api_key:
        model.api_key = api_key
    model.full_clean()
    model.save()
    return model


def llm_model_delete(*, model: LLMModel) -> None:
    model.delete()


def llm_models_set_enabled(*, models: QuerySet[LLMModel], enabled: bool) -> int:
    return models.update(enabled=enabled)


def _listed_model_ids(client: OpenAI) -> list[str] | None:
    """The model names the endpoint lists, or None when it does not implement the listing."""
    raw = client.models.with_raw_response.list()
    response = raw.http_response
    try:
        payload = response.json()
    except ValueError:
        raise NotOpenAIFormat(
            _("GET /models returned %(type)s") % {"type": response.headers.get("content-type", "?")}
        ) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise NotOpenAIFormat(_("GET /models did not return a model list"))
    return [entry.get("id") for entry in payload["data"] if isinstance(entry, dict)]


def _probe(model: LLMModel) -> int:
    """Call the model for real; return the 1-token completion's latency in ms or raise."""
    client = openai_client(model, timeout=settings.LLM_CHECK_TIMEOUT, max_retries=0)
    with client:
        listed = _listed_model_ids(client)
        if listed is not None and model.model_name not in listed:
            offered = ", ".join(listed[:10]) or _("none")
            raise ValidationError(
                _("404 Not Found: the endpoint does not offer the model “%(name)s”; it offers: %(offered)s.")
                % {"name": model.model_name, "offered": offered}
            )
        started = time.monotonic()
        completion = client.chat.completions.create(
            **chat_completion_params(model, max_tokens=1, temperature=0),
            messages=[{"role": "user", "content": "ping"}],
        )
        latency_ms = round((time.monotonic() - started) * 1000)
    if not isinstance(completion, ChatCompletion) or not completion.choices:
        raise NotOpenAIFormat(_("POST /chat/completions did not return a chat completion"))
    return latency_ms


def llm_model_check(*, model: LLMModel) -> LLMModel:
    """Check availability with a real call and record the result on the model."""
    try:
        latency_ms, error = _probe(model), ""
    except ValidationError as exc:
        latency_ms, error = None, " ".join(exc.messages)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message for the user
        latency_ms, error = None, describe_call_error(exc, model)
    model.last_check_ok = not error
    model.last_check_latency_ms = latency_ms
    model.last_check_error = error
    model.last_checked_at = timezone.now()
    model.save(update_fields=[
        "last_check_ok", "last_check_latency_ms", "last_check_error", "last_checked_at"
    ])
    return model


@transaction.atomic
def system_models_sync(*, definitions: list[dict[str, Any]]) -> list[LLMModel]:
    """Create or update system models by name; running it twice changes nothing more."""
    synced = []
    for definition in definitions:
        definition = dict(definition)
        name = definition.pop("name")
        unknown = set(definition) - SYSTEM_MODEL_FIELDS
        if unknown:
            raise ValidationError(
                _("System model %(name)s: unknown fields %(fields)s.")
                % {"name": name, "fields": ", ".join(sorted(unknown))}
            )
        model = LLMModel.objects.system().filter(name=name).first() or LLMModel(name=name)
        for field, value in definition.items():
            setattr(model, field, value)
        model.full_clean()
        model.save()
        synced.append(model)
    return synced


def system_models_file_read(path: str | Path) -> list[dict[str, Any]]:
    """Read the system models file: a JSON list of objects (see README, "System models")."""
    try:
        definitions = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationError(
            _("%(path)s: invalid JSON at line %(line)s, column %(col)s: %(msg)s")
            % {"path": path, "line": exc.lineno, "col": exc.colno, "msg": exc.msg}
        ) from exc
    if not isinstance(definitions, list) or not all(isinstance(d, dict) and d.get("name") for d in definitions):
        raise ValidationError(_("%(path)s must hold a JSON list of objects, each with a name.") % {"path": path})
    for definition in definitions:
        # Keys stay out of the file: "api_key_env" names the environment variable holding one.
        if variable := definition.pop("api_key_env", None):
            if variable not in os.environ:
                raise ValidationError(
                    _("System model %(name)s: environment variable %(var)s is not set.")
                    % {"name": definition["name"], "var": variable}
                )
            definition["api_key"] = os.environ[variable]
    return definitions
