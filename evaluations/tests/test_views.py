import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from evaluations import services
from evaluations.models import EvaluationRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(make_run) -> EvaluationRun:
    return make_run(item_limit=2)


def test_create_page_offers_models_judge_and_datasets_with_test_split_by_default(alice_client: Client, demo_model, demo_datasets):
    response = alice_client.get(reverse("evaluations:create"))
    form = response.context["form"]
    mcq, qa = demo_datasets
    assert demo_model in form.fields["models"].queryset and demo_model in form.fields["judge"].queryset
    assert form.fields[f"splits_{mcq.pk}"].initial == ["test"]
    assert form.fields[f"subsets_{qa.pk}"].initial == ["product_faq", "science"]


def test_create_one_run_queues_it_and_opens_it(alice_client: Client, alice, demo_model, judge_model, demo_datasets, django_capture_on_commit_callbacks):
    mcq, _qa = demo_datasets
    with django_capture_on_commit_callbacks() as callbacks:
        response = alice_client.post(reverse("evaluations:create"), {
            "models": [demo_model.pk], "judge": judge_model.pk, "datasets": [mcq.pk],
            f"subsets_{mcq.pk}": ["geography"], f"splits_{mcq.pk}": ["test", "val"],
            "temperature": "0.2", "max_tokens": "64", "concurrency": "4", "item_limit": "", "name": "Geo",
        })
    run = EvaluationRun.objects.get(owner=alice)
    assert response["Location"] == reverse("evaluations:run-detail", args=[run.pk])
    assert run.total_items == 10 and run.status == EvaluationRun.Status.QUEUED and run.name == "Geo"
    assert run.model_params == {"model": "demo-fast", "temperature": 0.2, "max_tokens": 64}
    assert len(callbacks) == 1


def test_create_for_several_models_groups_them_on_the_compare_page(alice_client: Client, alice, demo_model, judge_model, demo_datasets):
    _mcq, qa = demo_datasets
    response = alice_client.post(reverse("evaluations:create"), {
        "models": [demo_model.pk, judge_model.pk], "judge": judge_model.pk, "datasets": [qa.pk],
        f"subsets_{qa.pk}": ["science"], f"splits_{qa.pk}": ["test"],
        "temperature": "0", "max_tokens": "64", "concurrency": "4",
    })
    runs = EvaluationRun.objects.filter(owner=alice)
    assert runs.count() == 2 and len({run.group for run in runs}) == 1
    assert response["Location"] == f"{reverse('evaluations:compare')}?group={runs[0].group}"


def test_create_with_empty_slice_says_so(alice_client: Client, demo_model, demo_datasets):
    mcq, _qa = demo_datasets
    response = alice_client.post(reverse("evaluations:create"), {
        "models": [demo_model.pk], "judge": demo_model.pk, "datasets": [mcq.pk],
        f"subsets_{mcq.pk}": [], f"splits_{mcq.pk}": ["test"], "temperature": "0", "max_tokens": "64", "concurrency": "4",
    }, headers={"Accept-Language": "en"})
    assert response.status_code == 200 and "choose subsets and splits that hold items" in response.content.decode()
    assert not EvaluationRun.objects.exists()


def test_cannot_pick_another_users_model_or_dataset(alice_client: Client, bob, demo_llm_url, demo_model, demo_datasets):
    from datasets.models import Dataset
    from llm_models.models import LLMModel

    bobs_model = LLMModel.objects.create(owner=bob, name="Bob's", base_url=demo_llm_url, model_name="demo-fast")
    bobs_dataset = Dataset.objects.create(owner=bob, name="Bob's", format="qa")
    form = alice_client.get(reverse("evaluations:create")).context["form"]
    assert bobs_model not in form.fields["models"].queryset
    assert bobs_dataset not in form.fields["datasets"].queryset


def test_history_lists_own_runs_newest_first(alice_client: Client, bob_client: Client, make_run):
    first, second = make_run(item_limit=1, name="First"), make_run(item_limit=1, name="Second")
    html = alice_client.get(reverse("evaluations:list")).content.decode()
    assert html.index("Second") < html.index("First")
    assert "First" not in bob_client.get(reverse("evaluations:list")).content.decode()


def test_report_filters_items_and_exports(alice_client: Client, run):
    run.items.filter(run_dataset__format="mcq").update(status="done", score=1.0, is_correct=True, answer="B")
    url = reverse("evaluations:run-detail", args=[run.pk])
    page = alice_client.get(url, {"result": "correct"}, headers={"HX-Request": "true", "HX-Target": "items"})
    assert len(page.context["page"].object_list) == 2 and "<html" not in page.content.decode()
    assert alice_client.get(url).status_code == 200
    csv_text = b"".join(alice_client.get(reverse("evaluations:run-export-csv", args=[run.pk])).streaming_content).decode()
    assert csv_text.lstrip("\ufeff").startswith("dataset,subset,split,item_id") and csv_text.count("\n") == 5
    document = json.loads(b"".join(alice_client.get(reverse("evaluations:run-export-json", args=[run.pk])).streaming_content))
    assert document["run"]["id"] == run.pk and len(document["items"]) == 4


def test_progress_partial_polls_until_finished(alice_client: Client, run):
    partial = alice_client.get(reverse("evaluations:run-progress", args=[run.pk]), headers={"HX-Request": "true"})
    assert "hx-trigger" in partial.content.decode()
    EvaluationRun.objects.filter(pk=run.pk).update(status="done")
    finished = alice_client.get(reverse("evaluations:run-progress", args=[run.pk]), headers={"HX-Request": "true"})
    assert "hx-trigger" not in finished.content.decode() and finished["HX-Refresh"] == "true"


def test_cancel_then_resume(alice_client: Client, run, django_capture_on_commit_callbacks):
    alice_client.post(reverse("evaluations:run-cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.CANCELLED
    with django_capture_on_commit_callbacks() as callbacks:
        alice_client.post(reverse("evaluations:run-resume", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.QUEUED and len(callbacks) == 1


def test_delete_after_confirmation(alice_client: Client, run):
    url = reverse("evaluations:run-delete", args=[run.pk])
    assert alice_client.get(url).status_code == 200
    alice_client.post(url)
    assert not EvaluationRun.objects.exists()


@pytest.mark.parametrize("name", ["run-cancel", "run-resume", "run-retry-failed"])
def test_actions_are_post_only(alice_client: Client, run, name):
    assert alice_client.get(reverse(f"evaluations:{name}", args=[run.pk])).status_code == 405


@pytest.mark.parametrize(
    "name, method",
    [("run-detail", "get"), ("run-progress", "get"), ("run-cancel", "post"), ("run-resume", "post"),
     ("run-retry-failed", "post"), ("run-delete", "get"), ("run-delete", "post"),
     ("run-export-csv", "get"), ("run-export-json", "get")],
)
def test_stranger_gets_404(bob_client: Client, run, name, method):
    assert getattr(bob_client, method)(reverse(f"evaluations:{name}", args=[run.pk])).status_code == 404
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.QUEUED


def test_stranger_gets_404_on_reproduce_and_compare(bob_client: Client, run):
    item = run.items.first()
    url = reverse("evaluations:item-reproduce", args=[run.pk, item.pk])
    assert bob_client.get(url).status_code == 404 and bob_client.post(url, {"times": 1}).status_code == 404
    assert bob_client.get(reverse("evaluations:compare"), {"runs": [run.pk]}).status_code == 404
    EvaluationRun.objects.filter(pk=run.pk).update(group=uuid.uuid4())
    run.refresh_from_db()
    assert bob_client.get(reverse("evaluations:compare"), {"group": str(run.group)}).status_code == 404


def test_item_of_another_run_is_404(alice_client: Client, make_run):
    one, other = make_run(item_limit=1), make_run(item_limit=1)
    url = reverse("evaluations:item-reproduce", args=[one.pk, other.items.first().pk])
    assert alice_client.get(url).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_reproduce_page_shows_parameters_and_n_answers(alice_client: Client, make_run):
    run = services.evaluation_run_execute(run_id=make_run(item_limit=1).pk)
    item = run.items.filter(run_dataset__format="mcq").first()
    response = alice_client.post(
        reverse("evaluations:item-reproduce", args=[run.pk, item.pk]), {"times": 3}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.context["reproduction"].params["model"] == "demo-fast"
    assert html.count("<li class=\"border") == 3 and "&quot;temperature&quot;: 0.0" in html


@pytest.mark.django_db(transaction=True)
def test_compare_puts_runs_side_by_side_per_dataset_and_subset(alice_client: Client, make_run, demo_llm_url):
    from llm_models.models import LLMModel

    slow = LLMModel.objects.create(name="Slow", base_url=demo_llm_url, model_name="demo-slow", extra_body={"demo": {"ttft": 0}})
    runs = [services.evaluation_run_execute(run_id=make_run(model=model, item_limit=2).pk) for model in (LLMModel.objects.get(name="Demo Fast"), slow)]
    response = alice_client.get(reverse("evaluations:compare"), {"runs": [run.pk for run in runs]})
    table = response.context["table"]
    subsets = [(row["dataset"], row["subset"]) for row in table]
    assert ("Demo QA 问答", "") in subsets and ("Demo QA 问答", "product_faq") in subsets
    overall = next(row for row in table if row["dataset"] == "Demo QA 问答" and not row["subset"])
    assert len(overall["scores"]) == 2
    html = response.content.decode()
    assert "Slow (demo-slow)" in html and "Demo Fast (demo-fast)" in html


def test_the_cluster_checks_for_stale_runs_every_minute():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="evaluations.tasks.resume_stale_evaluations")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


def test_model_answers_render_as_markdown_without_script(alice_client: Client, run):
    item = run.items.first()
    item.answer = "**bold** <script>alert(1)</script><img src=x onerror=alert(1)>"
    item.save()
    html = alice_client.get(reverse("evaluations:run-detail", args=[run.pk])).content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script>alert(1)</script>" not in html and "<img" not in html
