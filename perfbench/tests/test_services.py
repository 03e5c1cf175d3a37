"""Executing a run in-process: the endpoint check, evalscope's outcome, limits and claims."""

import json
import time

import pytest

from datasets.models import Dataset
from datasets.services import dataset_items_add
from llm_models.models import LLMModel
from perfbench import services
from perfbench.models import BenchmarkRun
from perfbench.tests.conftest import QUESTIONS, processes_in, make_run

pytestmark = pytest.mark.django_db
Status = BenchmarkRun.Status
DEMO_LLM_KEY = "demo-secret-key"  # what the root conftest's demo_llm_keyed_url server wants


def execute(run: BenchmarkRun) -> BenchmarkRun:
    services.benchmark_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def test_unreachable_endpoint_fails_at_once_with_a_reason_and_a_log(alice, prompts_dataset, closed_port_url, english):
    model = LLMModel.objects.create(owner=alice, name="Gone", base_url=closed_port_url, model_name="demo-fast")
    started = time.monotonic()
    run = execute(make_run(alice, model, prompts_dataset))
    assert time.monotonic() - started < 5
    assert run.status == Status.FAILED and run.finished_at
    assert run.error.startswith("The endpoint did not answer a test request: Connection refused by 127.0.0.1:")
    assert "nothing is listening there" in run.error
    assert f"Endpoint check: demo-fast at {closed_port_url} failed" in run.log
    assert not run.results.exists()


def test_endpoint_operators_do_not_allow_fails_before_any_request(alice, prompts_dataset, demo_llm_url, settings, english):
    settings.USER_MODEL_ALLOWED_HOSTS = ["10.0.0.0/8"]
    model = LLMModel.objects.create(owner=alice, name="Local", base_url=demo_llm_url, model_name="demo-fast")
    run = execute(make_run(alice, model, prompts_dataset))
    assert run.status == Status.FAILED
    assert run.error == "The host 127.0.0.1 is not on the list of endpoints operators allow."
    assert not (run.folder / "prompts.jsonl").exists()


def test_evalscope_whose_requests_all_fail_gives_a_failed_run_with_its_log(
    alice, prompts_dataset, demo_llm_start, english
):
    # demo-flaky at 0.99 answers its first request (the endpoint check) and fails the next 98.
    url = demo_llm_start("--flaky-rate", "0.99", "--flaky-mode", "5xx")
    model = LLMModel.objects.create(owner=alice, name="Flaky", base_url=url, model_name="demo-flaky")
    run = execute(make_run(alice, model, prompts_dataset, pairs=[(2, 4)]))
    assert run.status == Status.FAILED
    assert run.error.startswith("None of the 4 requests succeeded.")
    assert "Endpoint check: demo-flaky" in run.log and "evalscope - INFO" in run.log
    result = run.results.get()
    assert (result.succeeded, result.failed) == (0, 4)
    assert result.avg_ttft_ms is None and result.percentiles == {}


def test_key_reaches_the_endpoint_and_stays_out_of_the_log_and_the_files(alice, demo_llm_keyed_url):
    dataset = Dataset.objects.create(owner=alice, name="Quiz", format=Dataset.Format.MCQ)
    dataset_items_add(dataset=dataset, items=[
        {"item_id": "1", "question": "2+2=?", "choices": ["3", "4"], "answer": "B"},
        {"item_id": "2", "question": "Sky colour?", "choices": ["blue", "green"], "answer": "A"},
    ])
    model = LLMModel.objects.create(
        owner=alice, name="Keyed", base_url=demo_llm_keyed_url, model_name="demo-fast", api_key=DEMO_LLM_KEY
    )
    run = execute(make_run(alice, model, dataset, pairs=[(2, 5)], stream=False))
    assert run.status == Status.DONE, run.error + run.log
    result = run.results.get()
    assert (result.succeeded, result.failed) == (5, 0) and result.avg_latency_s > 0
    assert "itl_ms" not in result.percentiles  # not streamed
    assert run.requests_done == 5 and run.evalscope_version == "1.14.1"
    assert DEMO_LLM_KEY not in run.log and "--api-key ••••" in run.log
    for path in run.folder.rglob("*"):
        assert not path.is_file() or DEMO_LLM_KEY.encode() not in path.read_bytes(), path
    prompts = [json.loads(line) for line in (run.folder / "prompts.jsonl").read_text().splitlines()]
    assert prompts == [[{"role": "user", "content": "2+2=?\nA. 3\nB. 4"}], [{"role": "user", "content": "Sky colour?\nA. blue\nB. green"}]]


def test_prompts_are_the_chosen_subsets_questions_line_breaks_kept(alice, demo_model, prompts_dataset):
    run = execute(make_run(alice, demo_model, prompts_dataset, pairs=[(1, 3)], subset="s1"))
    assert run.status == Status.DONE, run.error + run.log
    prompts = [json.loads(line)[0]["content"] for line in (run.folder / "prompts.jsonl").read_text().splitlines()]
    assert prompts == [question for question, subset in QUESTIONS if subset == "s1"]
    assert run.prompt_count == 2 and run.results.get().succeeded == 3


def test_time_limit_kills_evalscope_and_fails_the_run(alice, demo_llm_url, prompts_dataset, settings, english):
    settings.JOB_TIME_LIMIT = 4
    model = LLMModel.objects.create(owner=alice, name="Slow", base_url=demo_llm_url, model_name="demo-slow")
    started = time.monotonic()
    run = execute(make_run(alice, model, prompts_dataset, pairs=[(1, 100)], max_tokens=400))
    assert time.monotonic() - started < 12
    assert run.status == Status.FAILED
    assert run.error == "Stopped at the time limit of 4 seconds (JOB_TIME_LIMIT)."
    assert "evalscope" in run.log and processes_in(run.folder) == []


def test_run_that_is_not_queued_is_left_alone(alice, demo_model, prompts_dataset):
    running = make_run(alice, demo_model, prompts_dataset, status=Status.RUNNING)
    cancelled = make_run(alice, demo_model, prompts_dataset, status=Status.CANCELLED)
    for run in (running, cancelled):
        assert services.benchmark_run_execute(run_id=run.pk) is None
        assert not run.folder.exists()
    assert BenchmarkRun.objects.get(pk=cancelled.pk).status == Status.CANCELLED


def test_model_deleted_before_the_start_fails_the_run(alice, demo_model, prompts_dataset, english):
    run = make_run(alice, demo_model, prompts_dataset)
    demo_model.delete()
    run = execute(run)
    assert run.status == Status.FAILED and run.error == "The model was deleted before the benchmark started."
    assert run.model_display_name == "Demo Fast"


def test_slice_without_questions_fails_the_run(alice, demo_model, prompts_dataset, english):
    run = execute(make_run(alice, demo_model, prompts_dataset, subset="s1", split="train"))
    assert run.status == Status.FAILED and run.error == "The dataset has no questions in the chosen subset and split."


def test_cancel_stops_a_queued_run_and_leaves_a_finished_one(alice, demo_model, prompts_dataset):
    queued = services.benchmark_run_cancel(run=make_run(alice, demo_model, prompts_dataset))
    done = services.benchmark_run_cancel(run=make_run(alice, demo_model, prompts_dataset, status=Status.DONE))
    assert queued.status == Status.CANCELLED and queued.finished_at
    assert done.status == Status.DONE


def test_delete_removes_the_run_its_results_and_its_folder(finished_run):
    finished_run.folder.mkdir(parents=True)
    (finished_run.folder / "prompts.jsonl").write_text("[]\n")
    services.benchmark_run_delete(run=finished_run)
    assert not BenchmarkRun.objects.exists() and not finished_run.folder.exists()
