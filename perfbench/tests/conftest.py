"""Fixtures for the benchmark tests: a dataset whose questions become prompts, run folders in a
temporary DATA_DIR, workers that share it, and a finished run built from captured evalscope files."""

from pathlib import Path

import pytest

from datasets.models import Dataset
from datasets.services import dataset_items_add
from perfbench import evalscope_output
from perfbench.models import BenchmarkRun
from perfbench.services import benchmark_results_store

CAPTURED = Path(__file__).parent / "data"

QUESTIONS = [
    ("What is the capital of France?", "s1"),
    ("Explain, in two lines:\nwhy is the sky blue?\nKeep it short.", "s1"),
    ('[1, 2, 3] — what is this JSON?', "s2"),
    ("量子计算是什么？", "s2"),
    ("Name three prime numbers.", "s2"),
]


@pytest.fixture(autouse=True)
def perf_data_dir(settings, tmp_path) -> Path:
    """Run folders go to a temporary DATA_DIR (never the developer's); sweeps do not pause."""
    settings.DATA_DIR = tmp_path / "data"
    settings.PERF_SWEEP_PAUSE = 0
    return settings.DATA_DIR


@pytest.fixture
def perf_worker(qcluster_start, perf_data_dir):
    """A real django-q2 worker with the same DATA_DIR and settings as the test."""
    worker = qcluster_start(DATA_DIR=str(perf_data_dir), PERF_SWEEP_PAUSE="0")
    yield worker
    worker.kill()  # nothing is left for it to finish, and a graceful stop takes 10 s


@pytest.fixture
def prompts_dataset(alice) -> Dataset:
    """Alice's QA dataset: five questions, one spanning lines, one that looks like JSON."""
    dataset = Dataset.objects.create(owner=alice, name="Prompts", format=Dataset.Format.QA)
    dataset_items_add(dataset=dataset, items=[
        {"item_id": str(i), "question": question, "answer": "-", "subset": subset, "split": "test"}
        for i, (question, subset) in enumerate(QUESTIONS)
    ])
    return dataset


def make_run(owner, model, dataset, *, pairs=((1, 4),), status=BenchmarkRun.Status.QUEUED, **fields) -> BenchmarkRun:
    """A run row without enqueueing it (tests call the service or the worker themselves)."""
    pairs = [list(pair) for pair in pairs]
    return BenchmarkRun.objects.create(
        owner=owner, model=model, model_display_name=model.name, endpoint_model_name=model.model_name,
        dataset=dataset, dataset_name=dataset.name, pairs=pairs, status=status,
        requests_total=sum(n for _c, n in pairs), **{"max_tokens": 16, **fields},
    )


@pytest.fixture
def finished_run(alice, demo_model, prompts_dataset) -> BenchmarkRun:
    """A done sweep of 1x4 and 2x4 whose results are the captured evalscope files."""
    run = make_run(alice, demo_model, prompts_dataset, pairs=[(1, 4), (2, 4)], status=BenchmarkRun.Status.DONE,
                     name="Captured", requests_done=8, log="evalscope log line")
    benchmark_results_store(run=run, results=[evalscope_output.pair_result_read(CAPTURED / "stream", c, n) for c, n in run.pairs])
    return run


def processes_in(folder: Path) -> list[int]:
    """Ids of the processes whose working directory is `folder` (evalscope runs in its run folder)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(proc / "cwd").resolve() == folder.resolve():
                pids.append(int(proc.name))
        except OSError:
            continue  # gone meanwhile, or not ours to look at
    return pids
