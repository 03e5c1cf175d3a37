"""The main user journeys in headless Chromium against the running platform (Daphne, a worker,
the demo LLM server). Each journey saves screenshots of the pages it passes through."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from conftest import PASSWORD
from datasets.models import Dataset
from evaluations.models import EvaluationRun
from llm_models.models import LLMModel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

BAD_CSV = "id,question,A,B,C,D,answer\nq1,1+1=?,1,2,3,4,B\nq2,,a,b,c,d,A\nq3,Capital?,Paris,Rome,,,E\n"
GOOD_CSV = "id,question,A,B,C,D,answer\nq1,1+1=?,1,2,3,4,B\nq2,2+2=?,3,4,5,6,B\nq3,Capital of France?,Paris,Rome,,,A\n"


@pytest.fixture
def page(browser, platform) -> Page:
    context = browser.new_context(base_url=platform, viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def sign_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("user-menu")).to_contain_text(username)


def test_sign_in_add_and_check_a_model(page: Page, alice, demo_llm_url, screenshot):
    page.goto("/models/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/models/"))
    screenshot(page, "login")
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/models/$"))

    page.goto("/models/new/")
    page.fill("input[name=name]", "My demo")
    page.fill("input[name=base_url]", demo_llm_url)
    page.fill("input[name=model_name]", "demo-fast")
    page.fill("input[name=api_key]", "sk-journey-7777")
    screenshot(page, "model-form")
    page.click("main button[type=submit]")
    expect(page.get_by_test_id("key-hint")).to_have_text("••••7777")
    page.get_by_test_id("check-button").click()
    expect(page.get_by_test_id("check-status")).to_contain_text(re.compile(r"\d+ (ms|毫秒)"))

    LLMModel.objects.create(name="Nothing here", base_url="http://127.0.0.1:9/v1", model_name="x", owner=alice)
    page.goto("/models/")
    row = page.get_by_test_id("model-row").filter(has_text="Nothing here")
    row.get_by_test_id("check-button").click()
    expect(row.get_by_test_id("check-error")).to_contain_text("127.0.0.1:9")
    screenshot(page, "models")


def test_upload_with_an_error_then_a_clean_file_and_preview(page: Page, alice, tmp_path, screenshot):
    sign_in(page, "alice")
    bad, good = tmp_path / "maths_test.csv", tmp_path / "maths_val.csv"
    bad.write_text(BAD_CSV)
    good.write_text(GOOD_CSV)
    page.goto("/datasets/upload/")
    page.fill("input[name=name]", "Maths")
    page.select_option("select[name=format]", "mcq")
    page.set_input_files("input[name=file]", str(bad))
    screenshot(page, "dataset-upload")
    page.click("main button[type=submit]")
    errors = page.get_by_test_id("import-errors")
    expect(errors).to_contain_text("maths_test.csv")
    lines = errors.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert lines == ["3", "4"]
    screenshot(page, "dataset-import-errors")
    assert not Dataset.objects.filter(owner=alice).exists()

    page.goto("/datasets/upload/")
    page.fill("input[name=name]", "Maths")
    page.select_option("select[name=format]", "mcq")
    page.set_input_files("input[name=file]", str(good))
    page.click("main button[type=submit]")
    expect(page.get_by_test_id("item")).to_have_count(3)
    expect(page.get_by_test_id("correct-choice").first).to_contain_text("2")
    page.fill("input[name=q]", "France")
    expect(page.get_by_test_id("item")).to_have_count(1)
    screenshot(page, "dataset-preview")


def test_run_an_evaluation_and_watch_it_reach_its_report(page: Page, alice, demo_llm_url, screenshot):
    call_command("register_demo_models", url=demo_llm_url, verbosity=0)
    call_command("load_demo_datasets", verbosity=0)
    fast = LLMModel.objects.get(model_name="demo-fast")
    slow = LLMModel.objects.get(model_name="demo-slow")
    LLMModel.objects.filter(pk=slow.pk).update(extra_body={"demo": {"ttft": 0.2, "tps": 200}})
    qa = Dataset.objects.get(format="qa")
    sign_in(page, "alice")
    page.goto("/evaluations/new/")
    page.check(f"input[name=models][value='{slow.pk}']")
    page.select_option("select[name=judge]", str(fast.pk))
    page.check(f"input[name=datasets][value='{qa.pk}']")
    page.check(f"input[name=splits_{qa.pk}][value='dev']")
    page.fill("input[name=concurrency]", "2")
    screenshot(page, "evaluation-create")
    page.get_by_test_id("start-evaluation").click()
    expect(page.get_by_test_id("run-progress")).to_be_visible()
    run = EvaluationRun.objects.get(owner=alice)
    expect(page.get_by_test_id("run-progress")).to_have_attribute("data-status", "running")
    screenshot(page, "evaluation-running")
    expect(page.get_by_test_id("overall-score")).not_to_have_text("–", timeout=60_000)
    run.refresh_from_db()
    assert run.status == "done" and run.total_items == qa.item_count
    expect(page.get_by_test_id("overall-score")).to_have_text(str(run.score_percent))
    expect(page.get_by_test_id("item-row")).to_have_count(run.total_items)
    screenshot(page, "evaluation-report")


def test_a_second_user_sees_none_of_it(page: Page, alice, bob, demo_llm_url):
    model = LLMModel.objects.create(owner=alice, name="Alice's model", base_url=demo_llm_url, model_name="demo-fast")
    dataset = Dataset.objects.create(owner=alice, name="Alice's data", format="qa")
    sign_in(page, "bob")
    for url, secret in [("/models/", "Alice's model"), ("/datasets/", "Alice's data")]:
        page.goto(url)
        expect(page.locator("main")).not_to_contain_text(secret)
    for url in [f"/models/{model.pk}/", f"/datasets/{dataset.pk}/", f"/models/{model.pk}/edit/"]:
        assert page.goto(url).status == 404


def test_chat_with_three_models_side_by_side_one_of_them_flaky(page: Page, alice, demo_llm_url, screenshot):
    from chat import services as chat_services

    call_command("register_demo_models", url=demo_llm_url, verbosity=0)
    fast, slow, flaky = (LLMModel.objects.get(model_name=name) for name in ("demo-fast", "demo-slow", "demo-flaky"))
    LLMModel.objects.filter(pk=slow.pk).update(extra_body={"demo": {"ttft": 0.3, "tps": 40}})
    LLMModel.objects.filter(pk=flaky.pk).update(extra_body={"demo": {"fail_rate": 1, "fail_mode": "cut"}})
    sign_in(page, "alice")
    page.goto("/models/")
    page.get_by_test_id("model-row").filter(has_text="Demo Fast").get_by_test_id("start-chat").click()
    expect(page.get_by_test_id("chat")).to_be_visible()
    conversation = alice.conversations.get()
    chat_services.slot_add(conversation=conversation, model=slow)
    chat_services.slot_add(conversation=conversation, model=flaky)
    page.reload()
    expect(page.get_by_test_id("send")).to_be_enabled()
    page.get_by_test_id("message-input").fill("请用三句话介绍一下你自己。")
    page.get_by_test_id("send").click()
    columns = page.get_by_test_id("slot-column")
    expect(columns).to_have_count(3)
    expect(columns.nth(1).get_by_test_id("answer-content")).not_to_be_empty()
    screenshot(page, "chat-streaming")
    expect(columns.nth(2).get_by_test_id("answer-error")).to_be_visible()
    for index in (0, 1):
        expect(columns.nth(index).get_by_test_id("answer-stats")).to_be_visible()
        expect(columns.nth(index).get_by_test_id("answer-content")).not_to_be_empty()
    expect(columns.nth(1).get_by_test_id("answer-model")).to_contain_text("Demo Slow")
    screenshot(page, "chat")


def test_run_a_perf_benchmark_and_see_its_charts(page: Page, alice, demo_llm_url, screenshot):
    call_command("register_demo_models", url=demo_llm_url, verbosity=0)
    call_command("load_demo_datasets", verbosity=0)
    fast = LLMModel.objects.get(model_name="demo-fast")
    qa = Dataset.objects.get(format="qa")
    sign_in(page, "alice")
    page.goto("/perf/")
    page.get_by_test_id("new-benchmark").click()
    page.select_option("select[name=model]", str(fast.pk))
    page.select_option("select[name=dataset]", str(qa.pk))
    page.fill("input[name=sweep]", "1x4, 2x8")
    page.fill("input[name=max_tokens]", "32")
    screenshot(page, "perf-create")
    page.get_by_test_id("start-benchmark").click()
    expect(page.get_by_test_id("run-status-panel")).to_have_attribute("data-status", "done", timeout=120_000)
    expect(page.get_by_test_id("chart").first).to_be_visible()
    expect(page.get_by_test_id("percentile-table").first).to_be_visible()
    screenshot(page, "perf-detail")
    page.goto("/perf/")
    expect(page.get_by_test_id("run-row")).to_have_count(1)
    screenshot(page, "perf-list")
