"""The availability check against real endpoints: each failure kind gives its own message."""

import pytest

from llm_models import services
from llm_models.models import LLMModel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def checked(owner, base_url: str, model_name: str = "demo-fast", **fields) -> LLMModel:
    model = LLMModel.objects.create(owner=owner, name="m", base_url=base_url, model_name=model_name, **fields)
    return services.llm_model_check(model=model)


def test_ok_reports_latency(alice, demo_llm_url):
    model = checked(alice, demo_llm_url)
    assert model.last_check_ok is True
    assert model.last_check_latency_ms is not None and model.last_check_error == ""
    assert model.last_checked_at is not None


def test_connection_refused(alice, closed_port_url):
    model = checked(alice, closed_port_url)
    assert model.last_check_ok is False
    assert model.last_check_error.startswith(f"Connection refused by {model.host}")


def test_dns_failure(alice):
    model = checked(alice, "http://no-such-host.invalid/v1")
    assert model.last_check_ok is False
    assert "DNS" in model.last_check_error and "no-such-host.invalid" in model.last_check_error


def test_timeout(alice, demo_llm_url, settings):
    settings.LLM_CHECK_TIMEOUT = 0.5
    model = checked(alice, demo_llm_url, "demo-slow", extra_body={"demo": {"ttft": 3}})
    assert model.last_check_ok is False
    assert model.last_check_error.startswith("Timed out")


def test_wrong_key_is_401(alice, demo_llm_keyed_url):
    model = checked(alice, demo_llm_keyed_url, api_key="wrong")
    assert model.last_check_ok is False
    assert model.last_check_error.startswith("401")


def test_right_key_passes(alice, demo_llm_keyed_url):
    assert checked(alice, demo_llm_keyed_url, api_key="demo-secret-key").last_check_ok is True


def test_unknown_model_name_is_404_and_lists_what_the_endpoint_offers(alice, demo_llm_url):
    model = checked(alice, demo_llm_url, "gpt-17")
    assert model.last_check_ok is False
    assert model.last_check_error.startswith("404")
    assert "gpt-17" in model.last_check_error and "demo-fast" in model.last_check_error


def test_reply_not_in_openai_format(alice, demo_llm_url):
    html_url = demo_llm_url.replace("/v1", "/html/v1")
    model = checked(alice, html_url)
    assert model.last_check_ok is False
    assert "not in the OpenAI format" in model.last_check_error
    assert "Traceback" not in model.last_check_error


def test_server_error_says_status(alice, demo_llm_url):
    model = checked(alice, demo_llm_url, "demo-flaky", extra_body={"demo": {"fail_rate": 1.0, "fail_mode": "5xx"}})
    assert model.last_check_ok is False
    assert "503" in model.last_check_error


def test_a_stream_cut_midway_is_described_as_broken_off(alice, demo_llm_url):
    import openai

    from llm_models.clients import describe_call_error, openai_client

    model = LLMModel.objects.create(owner=alice, name="cut", base_url=demo_llm_url, model_name="demo-flaky")
    client = openai_client(model, max_retries=0)
    with pytest.raises(openai.APIConnectionError) as raised:
        for _chunk in client.chat.completions.create(
            model="demo-flaky", messages=[{"role": "user", "content": "hi"}], stream=True,
            extra_body={"demo": {"fail_rate": 1.0, "fail_mode": "cut"}},
        ):
            pass
    assert describe_call_error(raised.value, model).startswith("The connection to 127.0.0.1")
    assert "broke off" in describe_call_error(raised.value, model)
