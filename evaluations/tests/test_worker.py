"""Evaluations through real `qcluster` processes: a full run, and a worker killed mid-run."""

import json
import urllib.request

import pytest

from conftest import wait_for_row
from django.test import Client
from django.urls import reverse

from evaluations.models import EvaluationItem, EvaluationRun
from llm_models.models import LLMModel

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(run: EvaluationRun, condition, worker, timeout: float = 60) -> EvaluationRun:
    return wait_for_row(run, condition, worker, timeout=timeout,
                        describe=lambda run: f"run {run.pk} is {run.status} ({run.done_items}/{run.total_items})")


def test_small_evaluation_through_a_real_worker(qcluster, make_run, alice_client: Client):
    run = make_run(item_limit=2)
    run = wait_for(run, lambda r: r.is_finished, qcluster)
    assert run.status == EvaluationRun.Status.DONE and run.done_items == run.total_items == 4
    assert run.score_percent is not None
    html = alice_client.get(reverse("evaluations:run-detail", args=[run.pk])).content.decode()
    assert 'data-testid="overall-score">' + str(run.score_percent) in html


def test_killed_worker_leaves_the_run_resumable_and_no_answer_is_stored_twice(
    qcluster_start, make_run, demo_llm_start, alice_client: Client, settings
):
    settings.EVALUATION_HEARTBEAT_STALE = 2
    server = demo_llm_start()
    slow = LLMModel.objects.create(
        name="Slow", base_url=server, model_name="demo-slow", extra_body={"demo": {"ttft": 0.4, "tps": 500}}
    )
    run = make_run(model=slow, concurrency=2)
    first = qcluster_start()
    run = wait_for(run, lambda r: r.done_items >= 3, first)
    first.kill()
    answered_before = set(run.items.filter(answered_at__isnull=False).values_list("pk", "answered_at"))
    run = wait_for(run, lambda r: r.is_stale, first, timeout=10)
    assert not run.is_finished and run.done_items < run.total_items

    response = alice_client.post(reverse("evaluations:run-resume", args=[run.pk]))
    assert response.status_code == 302
    second = qcluster_start()
    run = wait_for(run, lambda r: r.is_finished, second)

    assert run.status == EvaluationRun.Status.DONE and run.done_items == run.total_items
    # Answers stored before the kill were kept, not asked again...
    assert answered_before <= set(run.items.values_list("pk", "answered_at"))
    assert not run.items.exclude(status=EvaluationItem.Status.DONE).exists()
    # ...and the model was asked at most once per item, plus the two calls in flight at the kill.
    stats = json.load(urllib.request.urlopen(server.removesuffix("/v1") + "/demo/stats"))
    assert run.total_items <= stats["requests"]["demo-slow"] <= run.total_items + run.concurrency
