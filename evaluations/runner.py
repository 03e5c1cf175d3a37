"""Runs an evaluation's open items concurrently: ask the model, score the answer, save it.

One asyncio loop per run: `concurrency` workers take items from a queue; a heartbeat writes the
progress every second, notices a cancel, and stops the run if another worker has claimed it.
"""

import asyncio
import random
import time
from dataclasses import dataclass, field

import openai
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from evaluations import prompts
from evaluations.models import EvaluationItem, EvaluationRun
from evaluations.scoring import extract_choice
from llm_models.clients import async_openai_client, describe_call_error
from llm_models.models import LLMModel

HEARTBEAT_SECONDS = 1.0
SAVE_SECONDS = 0.1
ITEM_FIELDS = ("pk", "question", "choices", "reference", "answer", "answered_at", "run_dataset__format")
RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)
# A QA item counts as correct (for the report's filter) from this score (0–1) on.
QA_CORRECT_FROM = 0.6


class RunLost(Exception):
    """Another worker owns the run now, or it was cancelled."""


@dataclass
class Caller:
    """One model's client and the exact parameters of every call to it."""

    model: LLMModel
    params: dict
    client: openai.AsyncOpenAI = field(init=False)

    def __post_init__(self):
        self.client = async_openai_client(self.model, max_retries=0)

    async def ask(self, content: str) -> tuple[str, int, int, int]:
        """The reply text, its prompt and completion tokens, and the attempts it took; retries on
        429, 5xx, timeouts and broken connections, with backoff."""
        for attempt in range(1, settings.EVALUATION_MAX_ATTEMPTS + 1):
            try:
                completion = await self.client.chat.completions.create(
                    messages=[{"role": "user", "content": content}], **self.params
                )
            except RETRYABLE as exc:
                if attempt == settings.EVALUATION_MAX_ATTEMPTS:
                    raise
                await asyncio.sleep(_backoff(exc, attempt))
                continue
            if not isinstance(completion, openai.types.chat.ChatCompletion) or not completion.choices:
                raise ValueError("The reply is not an OpenAI chat completion.")
            usage = completion.usage
            return (
                completion.choices[0].message.content or "",
                usage.prompt_tokens if usage else 0,
                usage.completion_tokens if usage else 0,
                attempt,
            )
        raise AssertionError("unreachable")


def _backoff(exc: Exception, attempt: int) -> float:
    response = getattr(exc, "response", None)
    retry_after = response.headers.get("retry-after") if response is not None else None
    if retry_after and retry_after.replace(".", "", 1).isdigit():
        return min(float(retry_after), 30.0)
    base = settings.EVALUATION_RETRY_BACKOFF * 2 ** (attempt - 1)
    return min(base, 30.0) * (0.5 + random.random())


@dataclass
class ItemResult:
    fields: dict
    score: float | None = None
    failed: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    judge_tokens: int = 0


async def _judge(judge: Caller, prompt: str, result: ItemResult) -> prompts.JudgeVerdict | None:
    try:
        reply, prompt_tokens, completion_tokens, _attempts = await judge.ask(prompt)
    except Exception as exc:  # noqa: BLE001 - a judge failure is stored on the item
        result.fields.update(judge_error=True, error=describe_call_error(exc, judge.model))
        return None
    result.judge_tokens = prompt_tokens + completion_tokens
    verdict = prompts.judge_reply_parse(reply)
    result.fields.update(
        judge_reply=reply, judge_reason=verdict.reason, judge_score=verdict.score,
        judge_error=verdict.is_error, judge_tokens=prompt_tokens + completion_tokens,
    )
    return None if verdict.is_error else verdict


async def score_answer(item: dict, answer: str, judge: Caller, result: ItemResult) -> None:
    """Fill in the score: by rule for a multiple-choice letter, else by the judge."""
    if item["run_dataset__format"] == "mcq":
        letters = extract_choice(answer, item["choices"])
        if not letters:
            prompt = prompts.mcq_judge_prompt(
                question=item["question"], choices=item["choices"], reference=item["reference"], answer=answer
            )
            verdict = await _judge(judge, prompt, result)
            if verdict is None:
                return
            letters = item["reference"] if verdict.score >= prompts.JUDGE_SCALE / 2 else "?"
        correct = letters == item["reference"]
        result.fields.update(extracted=letters, is_correct=correct, score=1.0 if correct else 0.0)
    else:
        prompt = prompts.qa_judge_prompt(question=item["question"], reference=item["reference"], answer=answer)
        verdict = await _judge(judge, prompt, result)
        if verdict is None:
            return
        score = verdict.score / prompts.JUDGE_SCALE
        result.fields.update(score=score, is_correct=score >= QA_CORRECT_FROM)
    result.score = result.fields["score"]


def model_prompt(item: dict) -> str:
    if item["run_dataset__format"] == "mcq":
        return prompts.mcq_question_prompt(item["question"], item["choices"])
    return item["question"]


async def process_item(item: dict, model: Caller, judge: Caller) -> ItemResult:
    result = ItemResult(fields={
        "judge_error": False, "error": "", "judge_reply": "", "judge_reason": "", "judge_score": None,
        "score": None, "is_correct": None, "extracted": "",
    })
    answer = item["answer"]
    if item["answered_at"] is None:
        started = time.monotonic()
        try:
            answer, result.prompt_tokens, result.completion_tokens, attempts = await model.ask(model_prompt(item))
        except Exception as exc:  # noqa: BLE001 - a failed item is stored, the run goes on
            result.failed = True
            result.fields.update(status=EvaluationItem.Status.ERROR, error=describe_call_error(exc, model.model))
            return result
        result.fields.update(
            answer=answer, answered_at=timezone.now(), latency_ms=round((time.monotonic() - started) * 1000),
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
            attempts=attempts,
        )
    await score_answer(item, answer, judge, result)
    result.fields["status"] = EvaluationItem.Status.DONE
    return result


@dataclass
class Progress:
    done: int = 0
    failed: int = 0
    score_sum: float = 0.0
    scored: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    judge_tokens: int = 0

    def add(self, result: ItemResult) -> None:
        if result.failed:
            self.failed += 1
        else:
            self.done += 1
        if result.score is not None:
            self.score_sum += result.score
            self.scored += 1
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.judge_tokens += result.judge_tokens

    def take(self) -> dict:
        """The increments since the last call, as F() updates, and reset."""
        increments = {name: F(name) + value for name, value in [
            ("done_items", self.done), ("failed_items", self.failed), ("score_sum", self.score_sum),
            ("scored_items", self.scored), ("prompt_tokens", self.prompt_tokens),
            ("completion_tokens", self.completion_tokens),
            ("judge_tokens", self.judge_tokens),
        ] if value}
        self.__init__()
        return increments


@sync_to_async
def _save_items(results: list[tuple[dict, ItemResult]]) -> list[ItemResult]:
    """Store a batch of results in one transaction; returns those that were stored.

    Only items still open are written, and a new answer only onto an item that has none: should
    two workers ever hold the same item, the first answer stored is the one that counts. This is
    the runner's hot path, so the rows go out as one executemany per set of columns."""
    with transaction.atomic():
        answered_at = dict(
            EvaluationItem.objects.select_for_update()
            .filter(pk__in=[item["pk"] for item, _ in results], status=EvaluationItem.Status.PENDING)
            .values_list("pk", "answered_at")
        )
        stored, rows_by_columns = [], {}
        for item, result in results:
            if item["pk"] not in answered_at or ("answer" in result.fields and answered_at[item["pk"]]):
                continue
            stored.append(result)
            columns = tuple(sorted(result.fields))
            rows_by_columns.setdefault(columns, []).append(
                [_db_value(column, result.fields[column]) for column in columns] + [item["pk"]]
            )
        table = connection.ops.quote_name(EvaluationItem._meta.db_table)
        with connection.cursor() as cursor:
            for columns, rows in rows_by_columns.items():
                assignments = ", ".join(f"{connection.ops.quote_name(column)} = %s" for column in columns)
                cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)
    return stored


def _db_value(column: str, value):
    return EvaluationItem._meta.get_field(column).get_db_prep_save(value, connection)


@sync_to_async
def _open_items_chunk(run_id: int, after: int, size: int) -> list[dict]:
    items = EvaluationItem.objects.filter(run_id=run_id, status=EvaluationItem.Status.PENDING, pk__gt=after)
    return list(items.order_by("pk").values(*ITEM_FIELDS)[:size])


@sync_to_async
def _heartbeat(run_id: int, token: str, increments: dict) -> bool:
    """Write the progress; False when the run was cancelled or claimed by another worker."""
    return bool(
        EvaluationRun.objects.filter(pk=run_id, worker_token=token, status=EvaluationRun.Status.RUNNING)
        .update(heartbeat_at=timezone.now(), **increments)
    )


async def run_items(run: EvaluationRun, model: LLMModel, judge: LLMModel, token: str) -> None:
    model_caller = Caller(model, run.model_params)
    judge_caller = Caller(judge, run.judge_params)
    queue: asyncio.Queue = asyncio.Queue(maxsize=run.concurrency * 2)
    finished: list[tuple[dict, ItemResult]] = []
    progress = Progress()

    async def produce() -> None:
        last = 0
        while chunk := await _open_items_chunk(run.pk, last, 500):
            for item in chunk:
                await queue.put(item)
            last = chunk[-1]["pk"]
        for _ in range(run.concurrency):
            await queue.put(None)

    async def work() -> None:
        while (item := await queue.get()) is not None:
            finished.append((item, await process_item(item, model_caller, judge_caller)))

    async def save() -> None:
        # Workers hand results over and go on; a writer stores them in batches, so the
        # database's pace never holds up the calls to the models.
        while finished:
            batch = finished[:]
            del finished[: len(batch)]
            for result in await _save_items(batch):
                progress.add(result)

    async def write() -> None:
        while True:
            await asyncio.sleep(SAVE_SECONDS)
            await save()

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            if not await _heartbeat(run.pk, token, progress.take()):
                raise RunLost()

    writer = asyncio.ensure_future(write())
    workers = asyncio.gather(produce(), *(work() for _ in range(run.concurrency)))
    heartbeat = asyncio.ensure_future(beat())
    try:
        done, _pending = await asyncio.wait({workers, heartbeat}, return_when=asyncio.FIRST_COMPLETED)
        if heartbeat in done:
            workers.cancel()
            await asyncio.gather(workers, return_exceptions=True)
            heartbeat.result()  # raises RunLost
        workers.result()
    finally:
        writer.cancel()
        heartbeat.cancel()
        await asyncio.gather(writer, heartbeat, return_exceptions=True)
        await save()
        await _heartbeat(run.pk, token, progress.take())
        await model_caller.client.close()
        await judge_caller.client.close()
