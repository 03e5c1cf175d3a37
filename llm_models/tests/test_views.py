import pytest
from django.test import Client
from django.urls import reverse

from llm_models import services
from llm_models.models import LLMModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_model(alice, demo_llm_url) -> LLMModel:
    return services.llm_model_create(
        owner=alice, name="My fast", base_url=demo_llm_url, model_name="demo-fast", api_key="sk-alice-1234"
    )


@pytest.fixture
def system_model(demo_llm_url) -> LLMModel:
    return services.llm_model_create(owner=None, name="Shared fast", base_url=demo_llm_url, model_name="demo-fast")


def form_data(**overrides) -> dict:
    data = {
        "name": "Local vLLM", "base_url": "http://127.0.0.1:9/v1", "model_name": "qwen",
        "api_key": "", "temperature": "0.5", "max_tokens": "256", "extra_headers": "",
        "extra_body": "", "enabled": "on",
    }
    data.update(overrides)
    return data


def test_list_shows_system_and_own_models_with_start_chat(alice_client: Client, alices_model, system_model, bob, demo_llm_url):
    services.llm_model_create(owner=bob, name="Bob's secret", base_url=demo_llm_url, model_name="demo-fast")
    html = alice_client.get(reverse("llm_models:list")).content.decode()
    assert "My fast" in html and "Shared fast" in html
    assert "Bob&#x27;s secret" not in html and "Bob's secret" not in html
    assert f'name="model" value="{alices_model.pk}"' in html  # its "Start chat" button
    assert "127.0.0.1" in html  # the endpoint host


def test_create_sets_owner_from_request_and_encrypts_key(alice_client: Client, alice, bob):
    response = alice_client.post(
        reverse("llm_models:create"), form_data(api_key="sk-secret-abcd", owner=bob.pk)
    )
    model = LLMModel.objects.get(name="Local vLLM")
    assert response.status_code == 302
    assert model.owner == alice
    assert model.api_key == "sk-secret-abcd"


def test_detail_shows_only_last_four_characters_of_key(alice_client: Client, alices_model):
    html = alice_client.get(reverse("llm_models:detail", args=[alices_model.pk])).content.decode()
    assert "••••1234" in html
    assert "sk-alice" not in html


def test_edit_without_typing_a_key_keeps_the_old_key(alice_client: Client, alices_model):
    response = alice_client.post(
        reverse("llm_models:edit", args=[alices_model.pk]),
        form_data(name="Renamed", base_url=alices_model.base_url, api_key=""),
    )
    assert response.status_code == 302
    alices_model.refresh_from_db()
    assert alices_model.name == "Renamed"
    assert alices_model.api_key == "sk-alice-1234"
    edit_page = alice_client.get(reverse("llm_models:edit", args=[alices_model.pk])).content.decode()
    assert "sk-alice-1234" not in edit_page and "••••1234" in edit_page


def test_edit_with_a_new_key_replaces_it(alice_client: Client, alices_model):
    alice_client.post(
        reverse("llm_models:edit", args=[alices_model.pk]),
        form_data(base_url=alices_model.base_url, api_key="sk-new-9999"),
    )
    alices_model.refresh_from_db()
    assert alices_model.api_key == "sk-new-9999"


def test_delete_asks_for_confirmation_then_deletes(alice_client: Client, alices_model):
    url = reverse("llm_models:delete", args=[alices_model.pk])
    assert "My fast" in alice_client.get(url).content.decode()
    assert LLMModel.objects.filter(pk=alices_model.pk).exists()
    assert alice_client.post(url).status_code == 302
    assert not LLMModel.objects.filter(pk=alices_model.pk).exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"base_url": "ftp://example.com/v1"}, "http://"),
        ({"base_url": "http:///v1"}, "http://"),
        ({"base_url": "http://169.254.169.254/latest"}, "metadata"),
        ({"extra_headers": '{"X-Team": "a",\n "X-Bad": }'}, "line 2, column 11"),
        ({"extra_body": "[1, 2]"}, "JSON object"),
        ({"temperature": "3"}, "between 0 and 2"),
    ],
)
def test_invalid_input_is_refused_with_a_message(alice_client: Client, overrides, message, settings):
    settings.LANGUAGE_CODE = "en"
    response = alice_client.post(reverse("llm_models:create"), form_data(**overrides), headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not LLMModel.objects.exists()


def test_duplicate_name_for_same_owner_is_refused_but_other_users_may_use_it(alice_client: Client, bob_client: Client, alices_model):
    response = alice_client.post(reverse("llm_models:create"), form_data(name="My fast"), headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "You already have a model with this name." in response.content.decode()
    assert bob_client.post(reverse("llm_models:create"), form_data(name="My fast")).status_code == 302


def test_allow_list_limits_user_models_to_operator_approved_hosts(alice_client: Client, settings):
    settings.USER_MODEL_ALLOWED_HOSTS = ["10.0.0.0/8", "*.corp.example"]
    refused = alice_client.post(reverse("llm_models:create"), form_data(base_url="http://127.0.0.1:8000/v1"), headers={"Accept-Language": "en"})
    assert "not on the list" in refused.content.decode()
    allowed = alice_client.post(reverse("llm_models:create"), form_data(base_url="http://10.1.2.3:8000/v1"))
    assert allowed.status_code == 302


def test_check_in_place_with_htmx_shows_latency(alice_client: Client, alices_model):
    response = alice_client.post(
        reverse("llm_models:check", args=[alices_model.pk]),
        headers={"HX-Request": "true", "Accept-Language": "en"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="check-{alices_model.pk}"' in html and "<html" not in html
    alices_model.refresh_from_db()
    assert alices_model.last_check_ok is True
    assert f"{alices_model.last_check_latency_ms} ms" in html


def test_check_is_post_only(alice_client: Client, alices_model):
    assert alice_client.get(reverse("llm_models:check", args=[alices_model.pk])).status_code == 405


def test_system_model_is_usable_but_not_changeable(alice_client: Client, system_model):
    assert alice_client.get(reverse("llm_models:detail", args=[system_model.pk])).status_code == 200
    assert alice_client.get(reverse("llm_models:edit", args=[system_model.pk])).status_code == 403
    assert alice_client.post(reverse("llm_models:edit", args=[system_model.pk]), form_data()).status_code == 403
    assert alice_client.post(reverse("llm_models:delete", args=[system_model.pk])).status_code == 403
    assert LLMModel.objects.filter(pk=system_model.pk, name="Shared fast").exists()


@pytest.mark.parametrize(
    "name, method",
    [("detail", "get"), ("edit", "get"), ("edit", "post"), ("delete", "get"), ("delete", "post"), ("check", "post")],
)
def test_stranger_gets_404(bob_client: Client, alices_model, name, method):
    url = reverse(f"llm_models:{name}", args=[alices_model.pk])
    response = getattr(bob_client, method)(url, form_data() if method == "post" else None)
    assert response.status_code == 404
    alices_model.refresh_from_db()
    assert alices_model.name == "My fast" and alices_model.last_checked_at is None
