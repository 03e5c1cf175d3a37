"""A big upload is imported by a real django-q2 worker while the page reports progress."""

import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from datasets.models import Dataset, DatasetImport


@pytest.mark.django_db(transaction=True)
def test_big_upload_is_imported_by_a_worker(qcluster, alice_client: Client, alice, settings):
    settings.DATASET_INLINE_IMPORT_MAX_BYTES = 1000
    lines = "".join(
        json.dumps({"id": str(i), "question": f"问题 {i}?", "answer": f"答案 {i}", "subset": f"s{i % 3}"}) + "\n"
        for i in range(20000)
    )
    response = alice_client.post(
        reverse("datasets:upload"),
        {"name": "Big", "format": "qa", "file": SimpleUploadedFile("big.jsonl", lines.encode())},
    )
    dataset_import = DatasetImport.objects.get(owner=alice)
    assert response["Location"] == reverse("datasets:import-detail", args=[dataset_import.pk])
    deadline = time.monotonic() + 60
    while not dataset_import.is_finished and time.monotonic() < deadline:
        time.sleep(0.2)
        dataset_import.refresh_from_db()
    assert dataset_import.status == DatasetImport.Status.DONE, qcluster.output()
    assert Dataset.objects.get(owner=alice, name="Big").subsets == {"s0": 6667, "s1": 6667, "s2": 6666}
    page = alice_client.get(reverse("datasets:import-detail", args=[dataset_import.pk]), headers={"HX-Request": "true"})
    assert 'data-status="done"' in page.content.decode() and "hx-trigger" not in page.content.decode()
