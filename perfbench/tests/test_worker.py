"""Benchmarks run by a real django-q2 worker against the demo server: end to end, and cancel."""

import time

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from conftest import wait_for_row
from llm_models.models import LLMModel
from perfbench import services
from perfbench.models import BenchmarkRun
from perfbench.tests.conftest import processes_in

Status = BenchmarkRun.Status


def wait_for(run: BenchmarkRun, condition, worker, timeout: float = 60) -> BenchmarkRun:
    return wait_for_row(run, condition, worker, timeout=timeout, describe=lambda run: (
        f"{run.status} {run.requests_done}/{run.requests_total}: {run.error}\n{run.log[-2000:]}"
    ))


@pytest.mark.django_db(transaction=True)
def test_sweep_runs_in_a_worker_and_stores_metrics_and_percentiles(
    perf_worker, alice_client: Client, alice, demo_model, prompts_dataset
):
    response = alice_client.post(reverse("perfbench:create"), {
        "model": demo_model.pk, "dataset": prompts_dataset.pk, "concurrency": "1", "number": "1",
        "sweep": "1x4, 2x4", "max_tokens": "16", "stream": "on", "name": "e2e",
    })
    run = BenchmarkRun.objects.get(owner=alice)
    assert response["Location"] == reverse("perfbench:detail", args=[run.pk])
    run = wait_for(run, lambda r: r.is_finished, perf_worker)
    assert run.status == Status.DONE, run.error + run.log
    assert run.requests_done == 8 and run.started_at <= run.finished_at
    results = list(run.results.all())
    assert [(r.concurrency, r.number, r.succeeded, r.failed) for r in results] == [(1, 4, 4, 0), (2, 4, 4, 0)]
    for result in results:
        assert result.avg_ttft_ms > 0 and result.avg_latency_s > 0 and result.output_throughput > 0
        assert 0 < result.avg_output_tokens <= 16
        assert set(result.percentiles["ttft_ms"]) >= {"min", "p50", "p99", "max"}
        assert result.percentiles["latency_s"]["p99"] >= result.percentiles["latency_s"]["p50"] > 0
    html = alice_client.get(reverse("perfbench:detail", args=[run.pk])).content.decode()
    assert html.count('data-testid="result-row"') == 2 and 'id="perf-charts"' in html


@pytest.mark.django_db(transaction=True)
def test_cancel_kills_evalscope_and_its_requests(perf_worker, alice_client: Client, alice, demo_llm_start, prompts_dataset):
    url = demo_llm_start()
    model = LLMModel.objects.create(owner=alice, name="Slow", base_url=url, model_name="demo-slow")
    alice_client.post(reverse("perfbench:create"), {
        "model": model.pk, "dataset": prompts_dataset.pk, "concurrency": "4", "number": "400",
        "max_tokens": "500", "stream": "on",
    })
    run = BenchmarkRun.objects.get(owner=alice)
    stats = f"{url.removesuffix('/v1')}/demo/stats"
    run = wait_for(run, lambda r: r.status == Status.RUNNING and processes_in(r.folder), perf_worker)
    deadline = time.monotonic() + 30
    while httpx.get(stats).json()["active_streams"] < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    response = alice_client.post(reverse("perfbench:cancel", args=[run.pk]))
    assert response["Location"] == reverse("perfbench:detail", args=[run.pk])
    run.refresh_from_db()
    assert run.status == Status.CANCELLED and run.finished_at
    deadline = time.monotonic() + 15
    while (processes_in(run.folder) or httpx.get(stats).json()["active_streams"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_in(run.folder) == [], "evalscope is still running"
    assert httpx.get(stats).json()["active_streams"] == 0
    run = wait_for(run, lambda r: "evalscope" in r.log, perf_worker, timeout=10)
    assert run.status == Status.CANCELLED and run.requests_done < 400


@pytest.mark.django_db(transaction=True)
def test_evalscope_dies_with_its_worker_and_the_run_shows_as_stale(
    perf_worker, alice, demo_llm_start, prompts_dataset, settings
):
    url = demo_llm_start()
    model = LLMModel.objects.create(owner=alice, name="Slow", base_url=url, model_name="demo-slow")
    run = services.benchmark_run_create(
        owner=alice, model=model, dataset=prompts_dataset, pairs=[(2, 200)], max_tokens=500
    )
    run = wait_for(run, lambda r: processes_in(r.folder), perf_worker)
    perf_worker.kill()  # as a crash or an OOM kill would
    deadline = time.monotonic() + 10
    while processes_in(run.folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_in(run.folder) == [], "evalscope outlived its worker"
    settings.PERF_HEARTBEAT_STALE = 1
    time.sleep(1.5)
    run.refresh_from_db()
    assert run.status == Status.RUNNING and run.is_stale
