"""Writes for performance benchmarks: create, execute (in a worker), cancel, delete."""

import logging
import math
import shutil
import time
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from datasets.models import Dataset, DatasetItem
from llm_models.clients import chat_completion_params, describe_call_error, openai_client
from llm_models.endpoints import endpoint_validate
from llm_models.models import LLMModel
from perfbench import evalscope_output, runner
from perfbench.models import BenchmarkResult, BenchmarkRun

logger = logging.getLogger(__name__)

PROMPTS_FILE = "prompts.jsonl"
OUTPUTS_DIR = "outputs"


class BenchmarkFailed(Exception):
    """Why a run could not be measured, in words for its owner."""


def benchmark_run_create(
    *,
    owner,
    model: LLMModel,
    dataset: Dataset,
    pairs: Iterable[tuple[int, int]],
    max_tokens: int,
    stream: bool = True,
    subset: str = "",
    split: str = "",
    name: str = "",
) -> BenchmarkRun:
    """Record a run and hand it to a worker once the transaction commits."""
    pairs = [[int(concurrency), int(number)] for concurrency, number in pairs]
    run = BenchmarkRun.objects.create(
        owner=owner, name=name, model=model, model_display_name=model.name,
        endpoint_model_name=model.model_name, dataset=dataset, dataset_name=dataset.name,
        subset=subset, split=split, pairs=pairs, max_tokens=max_tokens, stream=stream,
        requests_total=sum(number for _concurrency, number in pairs),
    )
    transaction.on_commit(lambda: _enqueue("perfbench.tasks.run_benchmark", run.pk))
    return run


def _enqueue(func: str, *args) -> None:
    from django_q.tasks import async_task

    async_task(func, *args)


def benchmark_run_cancel(*, run: BenchmarkRun) -> BenchmarkRun:
    """Stop a queued or running benchmark; its worker kills evalscope within a second."""
    BenchmarkRun.objects.filter(pk=run.pk, status__in=BenchmarkRun.ACTIVE_STATUSES).update(
        status=BenchmarkRun.Status.CANCELLED, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


def benchmark_run_delete(*, run: BenchmarkRun) -> None:
    """Delete the run, its results and its folder (a running evalscope is stopped by its worker)."""
    folder = run.folder
    run.delete()
    shutil.rmtree(folder, ignore_errors=True)


def benchmark_run_execute(*, run_id: int) -> BenchmarkRun | None:
    """Measure a queued run with evalscope and store its results; does nothing unless this call
    is the one that claims the run."""
    now = timezone.now()
    claimed = BenchmarkRun.objects.filter(pk=run_id, status=BenchmarkRun.Status.QUEUED).update(
        status=BenchmarkRun.Status.RUNNING, started_at=now, heartbeat_at=now,
        evalscope_version=_evalscope_version(),
    )
    if not claimed:
        return None
    started = time.monotonic()
    run = BenchmarkRun.objects.select_related("model", "dataset").get(pk=run_id)
    folder = run.folder
    shutil.rmtree(folder, ignore_errors=True)  # left by a database that was reset
    folder.mkdir(parents=True)
    notes: list[str] = []
    try:
        model = _endpoint_check(run, notes)
        _prompts_prepare(run, folder, notes)
        command = _command(run, model)
        notes.append(_("Command: %(command)s") % {"command": command.display()})
        outcome = runner.evalscope_run(
            command, folder=folder, time_limit=settings.JOB_TIME_LIMIT - (time.monotonic() - started),
            on_tick=lambda done: _heartbeat(run, done),
        )
    except BenchmarkFailed as exc:
        return _finish(run, status=BenchmarkRun.Status.FAILED, error=str(exc), log="\n".join(notes))
    except Exception as exc:  # noqa: BLE001 - the row records any failure for the user
        logger.exception("Benchmark run %s failed", run_id)
        error = _("The benchmark stopped: %(reason)s") % {"reason": f"{type(exc).__name__}: {exc}"[:2000]}
        return _finish(run, status=BenchmarkRun.Status.FAILED, error=error, log="\n".join(notes))
    log = "\n".join([*notes, "", outcome.log])
    if not BenchmarkRun.objects.filter(pk=run_id).exists():
        shutil.rmtree(folder, ignore_errors=True)  # deleted while it ran
        return None
    results = [
        result for concurrency, number in run.pairs
        if (result := evalscope_output.pair_result_read(folder / OUTPUTS_DIR, concurrency, number))
    ]
    benchmark_results_store(run=run, results=results)
    status, error = _verdict(run, outcome, results)
    return _finish(run, status=status, error=error, log=log,
                   requests_done=sum(result.metrics["total_requests"] for result in results))


def _evalscope_version() -> str:
    try:
        return metadata.version("evalscope")
    except metadata.PackageNotFoundError:
        return ""


def _endpoint_check(run: BenchmarkRun, notes: list[str]) -> LLMModel:
    """The run's model, after one real call: an endpoint that may not be called or does not
    answer fails here, in seconds, with the same explanation as the model's availability check."""
    model = run.model
    if model is None:
        raise BenchmarkFailed(_("The model was deleted before the benchmark started."))
    if not model.enabled:
        raise BenchmarkFailed(_("The model “%(name)s” is disabled.") % {"name": model.name})
    failure = _("Endpoint check: %(model)s at %(url)s failed: %(reason)s")
    try:
        # Checked at every run, not only when the model was saved: the allow-list may have changed.
        endpoint_validate(model.base_url, user_model=not model.is_system)
    except ValidationError as exc:
        reason = " ".join(exc.messages)
        notes.append(failure % {"model": model.model_name, "url": model.base_url, "reason": reason})
        raise BenchmarkFailed(reason) from None
    started = time.monotonic()
    try:
        with openai_client(model, timeout=settings.LLM_CHECK_TIMEOUT, max_retries=0) as client:
            client.chat.completions.create(
                **chat_completion_params(model, max_tokens=1, temperature=0),
                messages=[{"role": "user", "content": "ping"}],
            )
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message for the user
        reason = describe_call_error(exc, model)
        notes.append(failure % {"model": model.model_name, "url": model.base_url, "reason": reason})
        raise BenchmarkFailed(
            _("The endpoint did not answer a test request: %(reason)s") % {"reason": reason}
        ) from None
    notes.append(_("Endpoint check: %(model)s at %(url)s answered in %(ms)s ms.") % {
        "model": model.model_name, "url": model.base_url,
        "ms": round((time.monotonic() - started) * 1000)})
    return model


def _prompt_texts(run: BenchmarkRun) -> Iterator[str]:
    """The dataset's questions in order (multiple-choice ones with their lettered options); no
    more than the largest number of requests, since evalscope cycles through them."""
    items = (
        DatasetItem.objects.filter(dataset=run.dataset)
        .matching(subset=run.subset, split=run.split)
        .order_by("id")
        .values_list("question", "choices")
    )
    for question, choices in items[: max(run.numbers)].iterator(chunk_size=2000):
        options = "".join(f"\n{chr(ord('A') + i)}. {text}" for i, text in enumerate(choices or []))
        yield question + options


def _prompts_prepare(run: BenchmarkRun, folder: Path, notes: list[str]) -> None:
    if run.dataset is None:
        raise BenchmarkFailed(_("The dataset was deleted before the benchmark started."))
    count = runner.prompts_write(folder / PROMPTS_FILE, _prompt_texts(run))
    if not count:
        raise BenchmarkFailed(_("The dataset has no questions in the chosen subset and split."))
    BenchmarkRun.objects.filter(pk=run.pk).update(prompt_count=count)
    run.prompt_count = count
    notes.append(_("Prompts: %(count)s questions from %(dataset)s.") % {
        "count": count, "dataset": run.dataset_name})


def _command(run: BenchmarkRun, model: LLMModel) -> runner.EvalscopeCommand:
    return runner.evalscope_command(
        url=model.base_url, model_name=model.model_name, api_key=model.api_key,
        headers=model.extra_headers or {}, extra_body=model.extra_body or {},
        prompts_file=Path(PROMPTS_FILE), outputs_dir=Path(OUTPUTS_DIR),
        pairs=run.pairs, max_tokens=run.max_tokens, stream=run.stream,
        sweep_pause=settings.PERF_SWEEP_PAUSE,
        connect_timeout=math.ceil(settings.LLM_CHECK_TIMEOUT),
        read_timeout=math.ceil(settings.LLM_REQUEST_TIMEOUT),
    )


def _heartbeat(run: BenchmarkRun, requests_done: int | None) -> bool:
    """Record progress; False once the run was cancelled or deleted, so the runner stops."""
    updates = {"heartbeat_at": timezone.now()}
    if requests_done is not None:
        updates["requests_done"] = requests_done
    return bool(BenchmarkRun.objects.filter(pk=run.pk, status=BenchmarkRun.Status.RUNNING).update(**updates))


@transaction.atomic
def benchmark_results_store(*, run: BenchmarkRun, results: list[evalscope_output.PairResult]) -> None:
    """Store the pairs evalscope measured (nothing if the run was deleted meanwhile)."""
    if not BenchmarkRun.objects.select_for_update().filter(pk=run.pk).exists():
        return
    BenchmarkResult.objects.bulk_create(
        BenchmarkResult(
            run=run, concurrency=result.concurrency, number=result.number,
            summary=result.summary, percentiles=result.percentiles, **result.metrics,
        )
        for result in results
    )


def _verdict(
    run: BenchmarkRun, outcome: runner.ProcessOutcome, results: list[evalscope_output.PairResult]
) -> tuple[str, str]:
    """The run's final status and, when it failed, the reason."""
    failed = BenchmarkRun.Status.FAILED
    if outcome.stopped == "cancelled":
        return BenchmarkRun.Status.CANCELLED, ""
    if outcome.stopped == "time_limit":
        return failed, _("Stopped at the time limit of %(seconds)s seconds (JOB_TIME_LIMIT).") % {
            "seconds": settings.JOB_TIME_LIMIT}
    cause = evalscope_output.console_error_line(outcome.log)
    if outcome.returncode != 0:
        return failed, _("evalscope stopped with exit code %(code)s. %(cause)s") % {
            "code": outcome.returncode, "cause": cause or _("See the log below.")}
    measured = {(result.concurrency, result.number) for result in results}
    missing = [f"{c}×{n}" for c, n in run.pairs if (c, n) not in measured]
    if missing:
        return failed, _("evalscope wrote no results for %(pairs)s. See the log below.") % {
            "pairs": ", ".join(missing)}
    if not any(result.metrics["succeeded"] for result in results):
        sent = sum(result.metrics["total_requests"] for result in results)
        return failed, _("None of the %(sent)s requests succeeded. %(cause)s") % {
            "sent": sent, "cause": cause or _("See the log below.")}
    return BenchmarkRun.Status.DONE, ""


def _finish(run: BenchmarkRun, *, status: str, error: str, log: str, **fields) -> BenchmarkRun | None:
    """Write the outcome, unless the run was cancelled meanwhile (then only its log)."""
    now = timezone.now()
    BenchmarkRun.objects.filter(pk=run.pk, status=BenchmarkRun.Status.RUNNING).update(
        status=status, error=error, finished_at=now, heartbeat_at=now, **fields
    )
    BenchmarkRun.objects.filter(pk=run.pk).update(log=log)
    return BenchmarkRun.objects.filter(pk=run.pk).first()
