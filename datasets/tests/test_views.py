import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from datasets.models import Dataset, DatasetImport, DatasetItem

pytestmark = pytest.mark.django_db

MCQ_CSV = (
    "id,question,A,B,C,D,answer\n"
    "q1,1+1=?,1,2,3,4,B\n"
    "q2,首都是？,北京,上海,广州,深圳,A\n"
    "q3,Emoji 🙂?,yes,no,,,A\n"
)


def upload(client: Client, content: str, *, name="Mine", filename="maths_test.csv", format="mcq", **extra):
    data = {"name": name, "format": format, "file": SimpleUploadedFile(filename, content.encode()), **extra}
    return client.post(reverse("datasets:upload"), data, headers={"Accept-Language": "en"})


@pytest.fixture
def alices_dataset(alice, alice_client) -> Dataset:
    upload(alice_client, MCQ_CSV)
    return Dataset.objects.get(owner=alice)


def test_clean_upload_imports_and_opens_the_preview(alice_client: Client, alice):
    response = upload(alice_client, MCQ_CSV)
    dataset = Dataset.objects.get(owner=alice, name="Mine")
    assert response.status_code == 302 and response["Location"] == reverse("datasets:detail", args=[dataset.pk])
    assert dataset.item_count == 3 and dataset.subsets == {"maths": 3} and dataset.splits == {"test": 3}
    assert "choices" in dataset.fields


def test_upload_with_errors_imports_nothing_and_lists_each_bad_line(alice_client: Client, alice):
    bad = MCQ_CSV + "q4,,a,b,,,A\nq5,Which?,a,b,c,d,E\n"
    response = upload(alice_client, bad)
    dataset_import = DatasetImport.objects.get(owner=alice)
    assert response["Location"] == reverse("datasets:import-detail", args=[dataset_import.pk])
    assert dataset_import.status == DatasetImport.Status.INVALID
    assert not Dataset.objects.exists() and not DatasetItem.objects.exists()
    html = alice_client.get(response["Location"], headers={"Accept-Language": "en"}).content.decode()
    assert [error["line"] for error in dataset_import.errors] == [5, 6]
    assert "“E”" in html and "A–D" in html


def test_importing_the_valid_rows_lists_the_skipped_ones(alice_client: Client, alice):
    upload(alice_client, MCQ_CSV + "q4,,a,b,,,A\n")
    rejected = DatasetImport.objects.get(owner=alice)
    response = alice_client.post(reverse("datasets:import-skip-invalid", args=[rejected.pk]))
    retry = DatasetImport.objects.exclude(pk=rejected.pk).get()
    assert response["Location"] == reverse("datasets:import-detail", args=[retry.pk])
    assert retry.status == DatasetImport.Status.DONE and retry.rows_imported == 3
    assert [error["line"] for error in retry.errors] == [5]
    assert Dataset.objects.get(owner=alice).item_count == 3


def test_duplicate_name_is_refused(alice_client: Client, alices_dataset):
    response = upload(alice_client, MCQ_CSV)
    assert response.status_code == 200
    assert "You already have a dataset with this name." in response.content.decode()


def test_unsupported_file_type_is_refused(alice_client: Client):
    response = upload(alice_client, "hello", filename="notes.txt")
    assert response.status_code == 200 and ".jsonl" in response.content.decode()


def test_list_shows_format_counts_subsets_splits_and_kind(alice_client: Client, alices_dataset, bob_client):
    html = alice_client.get(reverse("datasets:list")).content.decode()
    assert "Mine" in html and "MCQ" in html and "maths (3)" in html and "test (3)" in html
    assert "Mine" not in bob_client.get(reverse("datasets:list")).content.decode()


def test_preview_filters_and_marks_correct_choice(alice_client: Client, alices_dataset):
    url = reverse("datasets:detail", args=[alices_dataset.pk])
    html = alice_client.get(url, {"q": "首都"}, headers={"HX-Request": "true"}).content.decode()
    assert "首都是？" in html and "1+1=?" not in html and "<html" not in html
    assert 'data-testid="correct-choice">\n          A. 北京' in html


def test_preview_pages_by_keyset(alice, alice_client: Client):
    dataset = Dataset.objects.create(owner=alice, name="Big", format="qa")
    DatasetItem.objects.bulk_create(
        DatasetItem(dataset=dataset, item_id=str(i), subset="s" if i % 2 else "t", split="test", question=f"Q{i}?", answer="a")
        for i in range(60)
    )
    url = reverse("datasets:detail", args=[dataset.pk])
    first = alice_client.get(url, {"subset": "s"}, headers={"HX-Request": "true"})
    items = first.context["items"]
    assert [item.item_id for item in items] == [str(i) for i in range(1, 40, 2)]
    second = alice_client.get(url, {"subset": "s", "after": items[-1].pk}, headers={"HX-Request": "true"})
    assert [item.item_id for item in second.context["items"]] == [str(i) for i in range(41, 60, 2)]
    assert second.context["has_previous"] and not second.context["has_next"]
    back = alice_client.get(url, {"subset": "s", "before": second.context["items"][0].pk}, headers={"HX-Request": "true"})
    assert [item.pk for item in back.context["items"]] == [item.pk for item in items]


def test_edit_metadata_and_disable(alice_client: Client, alices_dataset):
    response = alice_client.post(
        reverse("datasets:edit", args=[alices_dataset.pk]),
        {"name": "Renamed", "description": "d", "tags": "maths, smoke", "enabled": ""},
    )
    assert response.status_code == 302
    alices_dataset.refresh_from_db()
    assert (alices_dataset.name, alices_dataset.tags, alices_dataset.enabled) == ("Renamed", ["maths", "smoke"], False)


def test_delete_after_confirmation(alice_client: Client, alices_dataset):
    url = reverse("datasets:delete", args=[alices_dataset.pk])
    assert alice_client.get(url).status_code == 200 and Dataset.objects.exists()
    assert alice_client.post(url).status_code == 302
    assert not Dataset.objects.exists() and not DatasetItem.objects.exists()


def test_export_jsonl_and_csv_round_trip(alice_client: Client, alices_dataset, alice):
    for file_format in ("jsonl", "csv"):
        response = alice_client.get(reverse(f"datasets:export-{file_format}", args=[alices_dataset.pk]))
        content = b"".join(response.streaming_content).decode("utf-8")
        reply = upload(alice_client, content, name=f"Copy {file_format}", filename=f"copy.{file_format}")
        copy = Dataset.objects.get(owner=alice, name=f"Copy {file_format}")
        assert reply.status_code == 302, reply.content.decode()[:2000]
        fields = ("item_id", "subset", "split", "question", "choices", "answer", "tags", "extra")
        assert list(copy.items.values_list(*fields)) == list(alices_dataset.items.values_list(*fields))


def test_export_jsonl_lines(alice_client: Client, alices_dataset):
    response = alice_client.get(reverse("datasets:export-jsonl", args=[alices_dataset.pk]))
    rows = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert rows[2] == {"id": "q3", "subset": "maths", "split": "test", "question": "Emoji 🙂?", "choices": ["yes", "no"], "answer": "A", "tags": []}


def test_system_dataset_is_readable_but_not_changeable(alice_client: Client):
    dataset = Dataset.objects.create(owner=None, name="Shared", format="qa")
    assert alice_client.get(reverse("datasets:detail", args=[dataset.pk])).status_code == 200
    assert alice_client.get(reverse("datasets:export-jsonl", args=[dataset.pk])).status_code == 200
    assert alice_client.get(reverse("datasets:edit", args=[dataset.pk])).status_code == 403
    assert alice_client.post(reverse("datasets:delete", args=[dataset.pk])).status_code == 403
    assert Dataset.objects.filter(pk=dataset.pk).exists()


@pytest.mark.parametrize(
    "name, method",
    [("detail", "get"), ("edit", "get"), ("edit", "post"), ("delete", "get"), ("delete", "post"),
     ("export-jsonl", "get"), ("export-csv", "get")],
)
def test_stranger_gets_404_on_dataset(bob_client: Client, alices_dataset, name, method):
    response = getattr(bob_client, method)(reverse(f"datasets:{name}", args=[alices_dataset.pk]))
    assert response.status_code == 404
    assert Dataset.objects.filter(pk=alices_dataset.pk, name="Mine").exists()


def test_stranger_gets_404_on_import(alice_client: Client, bob_client: Client, alice):
    upload(alice_client, MCQ_CSV + "q4,,a,b,,,A\n")
    dataset_import = DatasetImport.objects.get(owner=alice)
    assert bob_client.get(reverse("datasets:import-detail", args=[dataset_import.pk])).status_code == 404
    assert bob_client.post(reverse("datasets:import-skip-invalid", args=[dataset_import.pk])).status_code == 404
    assert DatasetImport.objects.count() == 1


def test_skip_invalid_is_post_only(alice_client: Client, alice):
    upload(alice_client, MCQ_CSV + "q4,,a,b,,,A\n")
    dataset_import = DatasetImport.objects.get(owner=alice)
    assert alice_client.get(reverse("datasets:import-skip-invalid", args=[dataset_import.pk])).status_code == 405
