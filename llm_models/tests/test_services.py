import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection

from llm_models import services
from llm_models.models import LLMModel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_key_column_holds_ciphertext(alice):
    model = services.llm_model_create(
        owner=alice, name="k", base_url="http://127.0.0.1:9/v1", model_name="x", api_key="sk-plaintext-key"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM llm_models_llmmodel WHERE id = %s", [model.pk])
        (raw,) = cursor.fetchone()
    assert "sk-plaintext-key" not in raw and raw.startswith("gAAAA")
    assert LLMModel.objects.get(pk=model.pk).api_key == "sk-plaintext-key"


def test_key_survives_rotation_when_old_key_is_kept(alice, settings):
    from llm_models import fields

    model = services.llm_model_create(
        owner=alice, name="k", base_url="http://127.0.0.1:9/v1", model_name="x", api_key="sk-rotate"
    )
    settings.FIELD_ENCRYPTION_KEYS = ["a-brand-new-key", *settings.FIELD_ENCRYPTION_KEYS]
    fields._fernet.cache_clear()
    try:
        assert LLMModel.objects.get(pk=model.pk).api_key == "sk-rotate"
    finally:
        fields._fernet.cache_clear()


def test_system_models_file_applies_idempotently(tmp_path, monkeypatch):
    monkeypatch.setenv("TEAM_KEY", "sk-from-env")
    path = tmp_path / "models.json"
    path.write_text(json.dumps([
        {"name": "Qwen", "base_url": "http://10.0.0.5:8000/v1", "model_name": "qwen", "api_key_env": "TEAM_KEY"},
        {"name": "GLM", "base_url": "http://10.0.0.6:8000/v1", "model_name": "glm", "enabled": False},
    ]))
    call_command("sync_system_models", file=str(path))
    call_command("sync_system_models", file=str(path))
    assert list(LLMModel.objects.system().values_list("name", "enabled")) == [("GLM", False), ("Qwen", True)]
    assert LLMModel.objects.get(name="Qwen").api_key == "sk-from-env"


def test_system_models_file_with_bad_json_says_where(tmp_path):
    path = tmp_path / "models.json"
    path.write_text('[{"name": "Qwen",\n  "base_url": }]')
    with pytest.raises(CommandError, match="line 2, column 15"):
        call_command("sync_system_models", file=str(path))


def test_system_model_with_unknown_field_is_refused():
    with pytest.raises(ValidationError, match="unknown fields colour"):
        services.system_models_sync(definitions=[{"name": "x", "base_url": "http://h/v1", "model_name": "m", "colour": 1}])


def test_register_demo_models(demo_llm_url):
    call_command("register_demo_models", url=demo_llm_url)
    call_command("register_demo_models", url=demo_llm_url)
    assert set(LLMModel.objects.system().values_list("model_name", flat=True)) == {"demo-fast", "demo-slow", "demo-flaky"}
    assert LLMModel.objects.count() == 3


def test_client_factory_refuses_metadata_address_even_for_system_models():
    from llm_models.clients import openai_client

    model = LLMModel(name="x", base_url="http://169.254.169.254/v1", model_name="m")
    with pytest.raises(ValidationError):
        openai_client(model)
