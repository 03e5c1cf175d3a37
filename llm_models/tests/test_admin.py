import pytest
from django.test import Client
from django.urls import reverse

from llm_models.models import LLMModel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_admin_check_availability_action(admin_client: Client, demo_llm_url, closed_port_url):
    good = LLMModel.objects.create(name="Good", base_url=demo_llm_url, model_name="demo-fast")
    bad = LLMModel.objects.create(name="Bad", base_url=closed_port_url, model_name="demo-fast")
    response = admin_client.post(
        reverse("admin:llm_models_llmmodel_changelist"),
        {"action": "check_availability", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    html = response.content.decode()
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.last_check_ok is True and bad.last_check_ok is False
    assert f"Good: OK, {good.last_check_latency_ms} ms" in html
    assert f"Bad: {bad.last_check_error}" in html


def test_admin_list_search_and_disable(admin_client: Client, demo_llm_url):
    model = LLMModel.objects.create(name="Qwen 72B", base_url=demo_llm_url, model_name="qwen")
    LLMModel.objects.create(name="GLM", base_url=demo_llm_url, model_name="glm")
    html = admin_client.get(reverse("admin:llm_models_llmmodel_changelist"), {"q": "qwen"}).content.decode()
    assert "Qwen 72B" in html and "GLM" not in html
    admin_client.post(reverse("admin:llm_models_llmmodel_changelist"), {"action": "disable", "_selected_action": [model.pk]})
    model.refresh_from_db()
    assert model.enabled is False


def test_admin_change_form_keeps_key_when_left_empty(admin_client: Client, demo_llm_url):
    model = LLMModel.objects.create(name="Keyed", base_url=demo_llm_url, model_name="demo-fast", api_key="sk-admin-5678")
    page = admin_client.get(reverse("admin:llm_models_llmmodel_change", args=[model.pk])).content.decode()
    assert "sk-admin-5678" not in page
    response = admin_client.post(reverse("admin:llm_models_llmmodel_change", args=[model.pk]), {
        "name": "Keyed", "base_url": demo_llm_url, "model_name": "demo-fast", "api_key": "",
        "temperature": "0.7", "max_tokens": "100", "extra_headers": "{}", "extra_body": "{}", "enabled": "on",
        "owner": "",
    })
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.api_key == "sk-admin-5678"

