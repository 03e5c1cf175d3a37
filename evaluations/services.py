"""Writes for evaluations: create runs, execute them (in a worker), cancel, resume, retry, reproduce."""

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from datasets.models import Dataset, DatasetItem
from evaluations import runner
from evaluations.models import EvaluationDataset, EvaluationItem, EvaluationRun
from llm_models.clients import chat_completion_params
from llm_models.models import LLMModel

logger = logging.getLogger(__name__)

ITEM_BATCH_SIZE = 1000
# The judge should be as repeatable as it can be, whatever the model under test uses.
JUDGE_TEMPERATURE = 0.0
JUDGE_MAX_TOKENS = 256


@dataclass(frozen=True)
class DatasetChoice:
    dataset: Dataset
    subsets: list[str]
    splits: list[str]


def _enqueue_run(run: EvaluationRun) -> None:
    """Queue the run for a worker. A queued run's heartbeat is the time it was queued: a task lost
    with a worker that died before claiming it is queued again by the scheduled check."""
    from django_q.tasks import async_task

    EvaluationRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    transaction.on_commit(lambda: async_task("evaluations.tasks.run_evaluation", run.pk))


def _copy_items(run: EvaluationRun, run_dataset: EvaluationDataset, choice: DatasetChoice, limit: int | None) -> int:
    items = DatasetItem.objects.filter(
        dataset=choice.dataset, subset__in=choice.subsets, split__in=choice.splits
    ).order_by("id")
    if limit:
        items = items[:limit]
    batch, count = [], 0
    for item in items.iterator(chunk_size=ITEM_BATCH_SIZE):
        batch.append(EvaluationItem(
            run=run, run_dataset=run_dataset, dataset_item=item, item_id=item.item_id,
            subset=item.subset, split=item.split, question=item.question, choices=item.choices,
            reference=item.answer,
        ))
        if len(batch) >= ITEM_BATCH_SIZE:
            count += len(EvaluationItem.objects.bulk_create(batch))
            batch = []
    return count + len(EvaluationItem.objects.bulk_create(batch))


@transaction.atomic
def evaluation_run_create(
    *,
    owner,
    model: LLMModel,
    judge: LLMModel,
    datasets: list[DatasetChoice],
    temperature: float,
    max_tokens: int,
    concurrency: int = 8,
    item_limit: int | None = None,
    name: str = "",
    group: uuid.UUID | None = None,
) -> EvaluationRun:
    """Create a run with a copy of every chosen item, and queue it for a worker."""
    run = EvaluationRun.objects.create(
        owner=owner, name=name, group=group, model=model, judge=judge,
        model_label=f"{model.name} ({model.model_name})", judge_label=f"{judge.name} ({judge.model_name})",
        model_params=chat_completion_params(model, temperature=temperature, max_tokens=max_tokens),
        judge_params=chat_completion_params(judge, temperature=JUDGE_TEMPERATURE, max_tokens=JUDGE_MAX_TOKENS),
        temperature=temperature, max_tokens=max_tokens, concurrency=concurrency, item_limit=item_limit,
    )
    total = 0
    for choice in datasets:
        run_dataset = EvaluationDataset.objects.create(
            run=run, dataset=choice.dataset, dataset_name=choice.dataset.name,
            format=choice.dataset.format, subsets=choice.subsets, splits=choice.splits,
        )
        total += _copy_items(run, run_dataset, choice, item_limit)
    run.total_items = total
    run.save(update_fields=["total_items"])
    _enqueue_run(run)
    return run


@transaction.atomic
def evaluation_runs_create_for_models(*, models: list[LLMModel], name: str = "", **options: Any) -> list[EvaluationRun]:
    """One run per model on the same data and settings, grouped for the compare page."""
    group = uuid.uuid4() if len(models) > 1 else None
    return [
        evaluation_run_create(model=model, name=name, group=group, **options)
        for model in models
    ]


def _recount(run: EvaluationRun) -> None:
    """Set the run's counters from its items: exact, whatever the heartbeats saw."""
    totals = run.items.scores()
    run.done_items = totals["answered"]
    run.failed_items = totals["failed"]
    run.scored_items = totals["scored"]
    run.score_sum = (totals["mean"] or 0) * totals["scored"]
    run.prompt_tokens = totals["prompt_tokens"] or 0
    run.completion_tokens = totals["completion_tokens"] or 0
    run.judge_tokens = totals["judge_tokens"] or 0


def evaluation_run_execute(*, run_id: int) -> EvaluationRun | None:
    """Claim a queued run and answer its open items; a run claimed by another worker is left alone."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = EvaluationRun.objects.filter(pk=run_id, status=EvaluationRun.Status.QUEUED).update(
        status=EvaluationRun.Status.RUNNING, worker_token=token, heartbeat_at=now, error="",
        finished_at=None,
    )
    if not claimed:
        return None
    EvaluationRun.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=now)
    run = EvaluationRun.objects.get(pk=run_id)
    if run.model is None or run.judge is None:
        return _finish(run, token, EvaluationRun.Status.FAILED, _("The model or the judge was deleted."))
    try:
        asyncio.run(runner.run_items(run, run.model, run.judge, token))
    except runner.RunLost:
        run.refresh_from_db()
        return run
    except Exception as exc:  # noqa: BLE001 - the run records why it stopped
        logger.exception("Evaluation run %s failed", run_id)
        return _finish(run, token, EvaluationRun.Status.FAILED, _("The run stopped: %(reason)s") % {"reason": exc})
    return _finish(run, token, EvaluationRun.Status.DONE, "")


def _finish(run: EvaluationRun, token: str, status: str, error: str) -> EvaluationRun:
    run.refresh_from_db()
    if run.worker_token != token or run.status != EvaluationRun.Status.RUNNING:
        return run
    _recount(run)
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.save()
    return run


def evaluation_run_cancel(*, run: EvaluationRun) -> bool:
    """Stop a queued or running run; its worker notices within a second. Answers so far stay."""
    cancelled = EvaluationRun.objects.filter(
        pk=run.pk, status__in=[EvaluationRun.Status.QUEUED, EvaluationRun.Status.RUNNING]
    ).update(status=EvaluationRun.Status.CANCELLED, finished_at=timezone.now(), worker_token="")
    if cancelled:
        run.refresh_from_db()
        _recount(run)
        run.save()
    return bool(cancelled)


def evaluation_run_resume(*, run: EvaluationRun) -> bool:
    """Queue again a run whose worker died (or that was cancelled or failed): it continues with
    the items not answered yet; answered items are never asked again."""
    resumable = Q(status=EvaluationRun.Status.RUNNING, heartbeat_at__lt=_stale_before()) | Q(
        status__in=[EvaluationRun.Status.CANCELLED, EvaluationRun.Status.FAILED]
    )
    with transaction.atomic():
        resumed = EvaluationRun.objects.filter(resumable, pk=run.pk).update(
            status=EvaluationRun.Status.QUEUED, worker_token="", finished_at=None
        )
        if resumed:
            _enqueue_run(run)
    return bool(resumed)


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.EVALUATION_HEARTBEAT_STALE)


def evaluation_runs_resume_stale() -> list[int]:
    """For the scheduled check: resume every run whose worker stopped sending heartbeats, and
    queue again every run queued long ago but never claimed (its task went down with a worker).
    A second task for a run is harmless: only one worker can claim it."""
    resumed = []
    stale = EvaluationRun.objects.filter(heartbeat_at__lt=_stale_before())
    for run in stale.filter(status=EvaluationRun.Status.RUNNING):
        if evaluation_run_resume(run=run):
            resumed.append(run.pk)
    for run in stale.filter(status=EvaluationRun.Status.QUEUED):
        with transaction.atomic():
            _enqueue_run(run)
        resumed.append(run.pk)
    return resumed


def evaluation_items_retry_failed(*, run: EvaluationRun) -> int:
    """Run again the items that failed or whose judge reply could not be read; a finished run only."""
    if not run.is_finished:
        return 0
    with transaction.atomic():
        count = run.items.filter(Q(status=EvaluationItem.Status.ERROR) | Q(judge_error=True)).update(
            status=EvaluationItem.Status.PENDING
        )
        if count:
            EvaluationRun.objects.filter(pk=run.pk).update(
                status=EvaluationRun.Status.QUEUED, finished_at=None, worker_token=""
            )
            _enqueue_run(run)
    return count


@dataclass(frozen=True)
class Reproduction:
    params: dict
    attempts: list[dict]


def evaluation_item_reproduce(*, item: EvaluationItem, times: int) -> Reproduction:
    """Send one item `times` times to the run's model with the run's exact parameters, score each."""
    run = item.run
    if run.model is None or run.judge is None:
        raise ValueError(_("The model or the judge was deleted."))
    item_data = {
        "question": item.question, "choices": item.choices, "reference": item.reference,
        "answer": "", "answered_at": None, "run_dataset__format": item.run_dataset.format,
    }

    async def attempts() -> list[runner.ItemResult]:
        model, judge = runner.Caller(run.model, run.model_params), runner.Caller(run.judge, run.judge_params)
        try:
            return await asyncio.gather(*(runner.process_item(item_data, model, judge) for _ in range(times)))
        finally:
            await model.client.close()
            await judge.client.close()

    results = asyncio.run(attempts())
    params = {**run.model_params, "messages": [{"role": "user", "content": runner.model_prompt(item_data)}]}
    return Reproduction(params=params, attempts=[result.fields for result in results])


def evaluation_run_delete(*, run: EvaluationRun) -> None:
    """Delete a run and its items; a running one is cancelled first so its worker stops."""
    evaluation_run_cancel(run=run)
    run.delete()
