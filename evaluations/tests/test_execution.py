"""Running evaluations in-process against the demo server: answers, scores, faults, resume."""

import pytest

from evaluations import services
from evaluations.models import EvaluationItem, EvaluationRun
from llm_models.demo_llm import judge_score
from llm_models.models import LLMModel

pytestmark = pytest.mark.django_db(transaction=True)


def test_run_answers_scores_and_counts_every_item(make_run, demo_datasets):
    run = make_run()
    run = services.evaluation_run_execute(run_id=run.pk)
    items = run.items.all()
    assert run.status == EvaluationRun.Status.DONE
    assert run.total_items == run.done_items == items.count() == sum(d.item_count for d in demo_datasets)
    assert run.failed_items == 0 and run.scored_items == run.total_items
    mcq = items.filter(run_dataset__format="mcq")
    assert all(item.extracted and item.is_correct == (item.extracted == item.reference) for item in mcq)
    assert not mcq.exclude(judge_reply="").exists()  # letters were read by rule, judge not asked
    qa = items.filter(run_dataset__format="qa")
    for item in qa:
        assert item.judge_reply.startswith("SCORE:")
        assert item.judge_score == judge_score(item.reference, item.answer)
        assert item.score == item.judge_score / 10
    expected = round(sum(item.score for item in items) / items.count() * 100, 1)
    assert run.score_percent == expected
    assert run.prompt_tokens > 0 and run.completion_tokens > 0 and run.judge_tokens > 0
    assert run.started_at <= run.finished_at


def test_item_limit_and_chosen_slices(make_run, demo_datasets):
    mcq, _qa = demo_datasets
    run = make_run(datasets=[services.DatasetChoice(mcq, ["computing"], ["test"])], item_limit=3)
    assert list(run.items.order_by().values_list("subset", "split").distinct()) == [("computing", "test")]
    assert run.total_items == 3


def test_failing_model_fails_items_not_the_run(make_run, demo_llm_url, english):
    down = LLMModel.objects.create(
        name="Down", base_url=demo_llm_url, model_name="demo-flaky",
        extra_body={"demo": {"fail_rate": 1.0, "fail_mode": "5xx"}},
    )
    run = services.evaluation_run_execute(run_id=make_run(model=down, item_limit=2).pk)
    assert run.status == EvaluationRun.Status.DONE
    assert run.failed_items == run.total_items == 4 and run.score_percent is None
    item = run.items.first()
    assert item.status == EvaluationItem.Status.ERROR and "503" in item.error


def test_flaky_model_succeeds_through_retries(make_run, demo_llm_url, settings):
    settings.EVALUATION_RETRY_BACKOFF = 0.01
    flaky = LLMModel.objects.create(
        name="Flaky", base_url=demo_llm_url, model_name="demo-flaky",
        extra_body={"demo": {"fail_rate": 0.5, "fail_mode": "mixed"}},
    )
    run = services.evaluation_run_execute(run_id=make_run(model=flaky, concurrency=1).pk)
    assert run.status == EvaluationRun.Status.DONE
    assert run.failed_items == 0 and run.done_items == run.total_items
    assert run.items.filter(attempts__gt=1).exists()


def test_unreadable_judge_reply_is_a_judge_error_not_a_zero(make_run, demo_datasets, demo_llm_url):
    _mcq, qa = demo_datasets
    run = make_run(datasets=[services.DatasetChoice(qa, ["science"], ["test"])])
    # A judge cut off after one token replies "SCORE:" and no number.
    EvaluationRun.objects.filter(pk=run.pk).update(judge_params={**run.judge_params, "max_tokens": 1})
    run = services.evaluation_run_execute(run_id=run.pk)
    items = list(run.items.all())
    assert all(item.judge_error and item.score is None and item.judge_reply for item in items)
    assert run.scored_items == 0 and run.score_percent is None and run.done_items == len(items)


def test_retry_failed_items_only_reruns_those(make_run, demo_llm_url):
    model = LLMModel.objects.create(
        name="Down", base_url=demo_llm_url, model_name="demo-flaky",
        extra_body={"demo": {"fail_rate": 1.0, "fail_mode": "5xx"}},
    )
    run = services.evaluation_run_execute(run_id=make_run(model=model, item_limit=1).pk)
    assert run.failed_items == 2
    model.extra_body = {}
    model.model_name = "demo-fast"
    model.save()
    EvaluationRun.objects.filter(pk=run.pk).update(model_params={**run.model_params, "model": "demo-fast", "extra_body": {}})
    assert services.evaluation_items_retry_failed(run=run) == 2
    run = services.evaluation_run_execute(run_id=run.pk)
    assert run.status == EvaluationRun.Status.DONE and run.failed_items == 0 and run.done_items == 2


def test_a_run_is_claimed_once(make_run):
    run = make_run(item_limit=1)
    assert services.evaluation_run_execute(run_id=run.pk) is not None
    assert services.evaluation_run_execute(run_id=run.pk) is None


def test_reproduce_sends_the_item_n_times_with_the_run_parameters(make_run):
    run = services.evaluation_run_execute(run_id=make_run(item_limit=1).pk)
    item = run.items.filter(run_dataset__format="qa").first()
    reproduction = services.evaluation_item_reproduce(item=item, times=3)
    assert reproduction.params["model"] == "demo-fast" and reproduction.params["temperature"] == 0.0
    assert reproduction.params["messages"] == [{"role": "user", "content": item.question}]
    assert len(reproduction.attempts) == 3
    assert {attempt["answer"] for attempt in reproduction.attempts} == {item.answer}  # deterministic demo
    assert all(attempt["score"] == item.score for attempt in reproduction.attempts)


def test_stale_runs_are_resumed_by_the_scheduled_check(make_run, settings):
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import OrmQ

    stale, alive, lost, waiting = (make_run(item_limit=1) for _ in range(4))
    long_ago = timezone.now() - timedelta(seconds=settings.EVALUATION_HEARTBEAT_STALE + 5)
    EvaluationRun.objects.filter(pk=stale.pk).update(status="running", heartbeat_at=long_ago)
    EvaluationRun.objects.filter(pk=alive.pk).update(status="running", heartbeat_at=timezone.now())
    # Queued long ago and never claimed: its task went down with a worker.
    EvaluationRun.objects.filter(pk=lost.pk).update(heartbeat_at=long_ago)
    queued_tasks = OrmQ.objects.count()
    assert services.evaluation_runs_resume_stale() == [stale.pk, lost.pk]
    assert OrmQ.objects.count() == queued_tasks + 2
    statuses = dict(EvaluationRun.objects.values_list("pk", "status"))
    assert [statuses[run.pk] for run in (stale, alive, lost, waiting)] == ["queued", "running", "queued", "queued"]
    lost.refresh_from_db()
    assert lost.heartbeat_at > long_ago
