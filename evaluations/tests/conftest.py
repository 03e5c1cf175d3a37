import io

import pytest
from django.core.management import call_command

from datasets.models import Dataset
from evaluations import services
from llm_models.models import LLMModel


@pytest.fixture
def demo_datasets(db) -> tuple[Dataset, Dataset]:
    call_command("load_demo_datasets", stdout=io.StringIO())
    return Dataset.objects.get(format="mcq"), Dataset.objects.get(format="qa")


@pytest.fixture
def judge_model(demo_llm_url) -> LLMModel:
    return LLMModel.objects.create(name="Judge", base_url=demo_llm_url, model_name="demo-fast")


def all_of(dataset: Dataset) -> services.DatasetChoice:
    return services.DatasetChoice(dataset=dataset, subsets=list(dataset.subsets), splits=list(dataset.splits))


@pytest.fixture
def make_run(alice, demo_model, judge_model, demo_datasets):
    def make(**options):
        defaults = {
            "owner": alice, "model": demo_model, "judge": judge_model,
            "datasets": [all_of(dataset) for dataset in demo_datasets],
            "temperature": 0.0, "max_tokens": 256, "concurrency": 4,
        }
        return services.evaluation_run_create(**{**defaults, **options})

    return make
