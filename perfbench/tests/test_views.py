import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django_q.models import OrmQ

from datasets.models import Dataset
from llm_models.models import LLMModel
from perfbench.models import BenchmarkResult, BenchmarkRun
from perfbench.tests.conftest import make_run

pytestmark = pytest.mark.django_db
Status = BenchmarkRun.Status


def form_data(model, dataset, **overrides) -> dict:
    data = {
        "model": model.pk, "dataset": dataset.pk, "subset": "", "split": "", "concurrency": "2",
        "number": "8", "sweep": "", "max_tokens": "32", "stream": "on", "name": "",
    }
    data.update(overrides)
    return data


def post_create(client: Client, data: dict):
    return client.post(reverse("perfbench:create"), data, headers={"Accept-Language": "en"})


@pytest.fixture
def bobs_run(bob, demo_model, prompts_dataset) -> BenchmarkRun:
    return make_run(bob, demo_model, prompts_dataset, status=Status.DONE, name="Bob's run")


def test_dashboard_card_leads_to_the_benchmarks(alice_client: Client):
    html = alice_client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("perfbench:list")}"' in html


def test_create_records_the_run_for_the_user_and_enqueues_it(
    alice_client: Client, alice, bob, demo_model, prompts_dataset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_create(alice_client, form_data(demo_model, prompts_dataset, owner=bob.pk, name=" Mine "))
    run = BenchmarkRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("perfbench:detail", args=[run.pk])
    assert run.owner == alice and run.name == "Mine" and run.status == Status.QUEUED
    assert run.pairs == [[2, 8]] and run.requests_total == 8 and run.max_tokens == 32 and run.stream
    assert (run.model_display_name, run.endpoint_model_name, run.dataset_name) == ("Demo Fast", "demo-fast", "Prompts")
    assert [task.func() for task in OrmQ.objects.all()] == ["perfbench.tasks.run_benchmark"]


def test_sweep_replaces_the_single_pair(alice_client: Client, demo_model, prompts_dataset):
    post_create(alice_client, form_data(demo_model, prompts_dataset, sweep="1x4, 4 x 16; 8×32", stream=""))
    run = BenchmarkRun.objects.get()
    assert run.pairs == [[1, 4], [4, 16], [8, 32]] and run.requests_total == 52 and not run.stream


@pytest.mark.parametrize("overrides, message", [
    ({"sweep": "1x4, 2by8"}, "“2by8” is not a pair like 4x40"),
    ({"sweep": "1x4, 1x4"}, "Each pair may appear only once."),
    ({"concurrency": "8", "number": "4"}, "8x4: send at least as many requests as the concurrency."),
    ({"concurrency": "1000", "number": "1000"}, "Concurrency may be at most 512."),
    ({"sweep": "1x60000, 2x60000"}, "At most 100000 requests in one run."),
    ({"subset": "nope"}, "The dataset has no subset “nope”."),
    ({"subset": "s1", "split": "train"}, "The dataset has no split “train”."),
    ({"max_tokens": "0"}, "Ensure this value is greater than or equal to 1."),
])
def test_invalid_configuration_is_refused_with_a_reason(
    alice_client: Client, demo_model, prompts_dataset, settings, overrides, message
):
    settings.PERF_MAX_CONCURRENCY, settings.PERF_MAX_REQUESTS = 512, 100_000
    response = post_create(alice_client, form_data(demo_model, prompts_dataset, **overrides))
    assert response.status_code == 200 and message in response.content.decode()
    assert not BenchmarkRun.objects.exists()


def test_another_users_model_and_dataset_cannot_be_chosen(alice_client: Client, bob, demo_llm_url):
    bobs_model = LLMModel.objects.create(owner=bob, name="Bob's model", base_url=demo_llm_url, model_name="demo-fast")
    bobs_dataset = Dataset.objects.create(owner=bob, name="Bob's data", format=Dataset.Format.QA, item_count=1)
    page = alice_client.get(reverse("perfbench:create")).content.decode()
    assert "Bob&#x27;s model" not in page and "Bob&#x27;s data" not in page
    response = post_create(alice_client, form_data(bobs_model, bobs_dataset))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not BenchmarkRun.objects.exists()


def test_picking_a_dataset_offers_its_subsets_and_splits(alice_client: Client, prompts_dataset, bob_client):
    url = reverse("perfbench:dataset-slices")
    html = alice_client.get(url, {"dataset": prompts_dataset.pk}, headers={"HX-Request": "true"}).content.decode()
    assert '<option value="s1">s1 (2)</option>' in html and '<option value="test">test (5)</option>' in html
    assert bob_client.get(url, {"dataset": prompts_dataset.pk}).status_code == 404


def test_run_again_fills_the_form_like_the_run(alice_client: Client, finished_run):
    html = alice_client.get(reverse("perfbench:create"), {"again": finished_run.pk}).content.decode()
    assert 'value="1x4, 2x4"' in html and f'<option value="{finished_run.model_id}" selected>' in html


def test_list_shows_model_dataset_pairs_status_and_headline_numbers(alice_client: Client, finished_run, bobs_run):
    html = alice_client.get(reverse("perfbench:list"), headers={"Accept-Language": "en"}).content.decode()
    assert "Captured" in html and "Demo Fast" in html and "Prompts" in html
    assert "1, 2" in html and "4, 4" in html and "Done" in html
    # The headline is the pair with the best output throughput: 2x4, 632.69 tok/s, 0.050 s.
    assert "632.7 tok/s" in html and "39.54 req/s @ 2" in html and "0.050 s" in html
    assert "Bob&#x27;s run" not in html


def test_detail_shows_tables_and_chart_data(alice_client: Client, finished_run):
    response = alice_client.get(reverse("perfbench:detail", args=[finished_run.pk]), headers={"Accept-Language": "en"})
    html = response.content.decode()
    assert html.count('data-testid="result-row"') == 2 and html.count('data-testid="percentile-table"') == 2
    assert "632.69" in html and "22.25" in html  # output tok/s and avg TTFT (ms) of 2x4
    assert "js/chart.umd.min.js" in html and "perfbench/charts.js" in html
    charts = json.loads(html.split('<script id="perf-charts" type="application/json">')[1].split("</script>")[0])
    assert [chart["canvas"] for chart in charts] == ["chart-throughput", "chart-latency", "chart-percentiles"]
    assert charts[0]["x"] == ["1", "2"] and charts[0]["datasets"][0]["data"] == [329.4584, 632.69]
    ttft = charts[2]["choices"][0]
    assert ttft["label"] == "Time to first token (ms)" and [s["label"] for s in ttft["datasets"]] == ["1×4", "2×4"]
    assert len(ttft["datasets"][0]["data"]) == 11


def test_running_detail_polls_and_reloads_once_finished(alice_client: Client, alice, demo_model, prompts_dataset):
    run = make_run(alice, demo_model, prompts_dataset, pairs=[(1, 4), (2, 8)], status=Status.RUNNING,
                   requests_done=6, subset="s1")
    url = reverse("perfbench:detail", args=[run.pk])
    html = alice_client.get(url, headers={"Accept-Language": "en"}).content.decode()
    assert 'hx-trigger="every 1s"' in html and "6 of 12 requests done" in html
    assert "Prompts · s1 / all splits" in html
    assert "pair 2 of 2: concurrency 2, 8 requests" in html
    BenchmarkRun.objects.filter(pk=run.pk).update(status=Status.DONE)
    response = alice_client.get(url, {"poll": 1}, headers={"HX-Request": "true"})
    assert response["HX-Refresh"] == "true" and "hx-trigger" not in response.content.decode()


def test_failed_run_shows_the_reason_and_the_log(alice_client: Client, alice, demo_model, prompts_dataset):
    run = make_run(alice, demo_model, prompts_dataset, status=Status.FAILED, error="Connection refused", log="evalscope said no")
    html = alice_client.get(reverse("perfbench:detail", args=[run.pk])).content.decode()
    assert "Connection refused" in html and "evalscope said no" in html
    assert re.search(r'<details [^>]*\bopen\b[^>]*data-testid="run-log"', html)  # the log shown unfolded


def test_cancel_stops_the_run_and_answers_htmx_with_the_status(alice_client: Client, alice, demo_model, prompts_dataset):
    run = make_run(alice, demo_model, prompts_dataset, status=Status.RUNNING)
    response = alice_client.post(reverse("perfbench:cancel", args=[run.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'data-status="cancelled"' in response.content.decode()
    assert BenchmarkRun.objects.get(pk=run.pk).status == Status.CANCELLED


def test_cancel_is_post_only(alice_client: Client, finished_run):
    assert alice_client.get(reverse("perfbench:cancel", args=[finished_run.pk])).status_code == 405


def test_delete_asks_then_deletes(alice_client: Client, finished_run):
    url = reverse("perfbench:delete", args=[finished_run.pk])
    assert "Delete the benchmark" in alice_client.get(url, headers={"Accept-Language": "en"}).content.decode()
    response = alice_client.post(url)
    assert response["Location"] == reverse("perfbench:list") and not BenchmarkRun.objects.exists()


def test_compare_puts_two_runs_side_by_side_with_the_difference(alice_client: Client, alice, finished_run, demo_model, prompts_dataset):
    other = make_run(alice, demo_model, prompts_dataset, pairs=[(2, 4)], status=Status.DONE, name="Other")
    BenchmarkResult.objects.create(
        run=other, concurrency=2, number=4, succeeded=4, total_requests=4, output_throughput=316.345, avg_latency_s=0.1
    )
    response = alice_client.get(reverse("perfbench:compare"), {"a": finished_run.pk, "b": other.pk}, headers={"Accept-Language": "en"})
    html = response.content.decode()
    assert "Captured" in html and "Other" in html
    assert "-50.0%" in html  # output tok/s of 2x4: 632.69 -> 316.345
    assert "+98.4%" in html  # average latency: 0.0504 -> 0.1


def test_compare_without_two_runs_goes_back_to_the_list(alice_client: Client, finished_run):
    response = alice_client.get(reverse("perfbench:compare"), {"a": finished_run.pk})
    assert response.status_code == 302 and response["Location"] == reverse("perfbench:list")


def test_stranger_gets_404_everywhere(bob_client: Client, finished_run, bobs_run):
    pk = finished_run.pk
    assert bob_client.get(reverse("perfbench:detail", args=[pk])).status_code == 404
    assert bob_client.get(reverse("perfbench:detail", args=[pk]), headers={"HX-Request": "true"}).status_code == 404
    assert bob_client.post(reverse("perfbench:cancel", args=[pk])).status_code == 404
    assert bob_client.get(reverse("perfbench:delete", args=[pk])).status_code == 404
    assert bob_client.post(reverse("perfbench:delete", args=[pk])).status_code == 404
    assert bob_client.get(reverse("perfbench:compare"), {"a": bobs_run.pk, "b": pk}).status_code == 404
    assert bob_client.get(reverse("perfbench:create"), {"again": pk}).status_code == 404
    assert BenchmarkRun.objects.filter(pk=pk, status=Status.DONE).exists()
