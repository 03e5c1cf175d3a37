import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from datasets import services
from datasets.models import Dataset, DatasetImport, DatasetItem
from datasets.tasks import run_dataset_import

pytestmark = pytest.mark.django_db


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def qa_rows(n, **extra):
    return [{"id": f"r{i}", "question": f"问题 {i}?", "answer": f"答案 {i}", **extra} for i in range(n)]


def test_import_dataset_command_twice_with_replace_leaves_one_copy(tmp_path, capsys):
    path = write_jsonl(tmp_path / "faq.jsonl", qa_rows(5, subset="faq", split="dev"))
    call_command("import_dataset", str(path), format="qa", name="FAQ")
    call_command("import_dataset", str(path), format="qa", name="FAQ", replace=True)
    assert Dataset.objects.system().filter(name="FAQ").count() == 1
    assert DatasetItem.objects.count() == 5
    assert "Imported 5 items" in capsys.readouterr().out


def test_import_dataset_command_without_replace_refuses_existing_name(tmp_path, english):
    path = write_jsonl(tmp_path / "faq.jsonl", qa_rows(2))
    call_command("import_dataset", str(path), format="qa", name="FAQ")
    with pytest.raises(CommandError, match="already exists"):
        call_command("import_dataset", str(path), format="qa", name="FAQ")
    assert DatasetItem.objects.count() == 2


def test_import_dataset_command_reports_errors_with_lines_and_imports_nothing(tmp_path, capsys):
    rows = qa_rows(3)
    rows[1]["answer"] = ""
    path = write_jsonl(tmp_path / "faq.jsonl", rows)
    with pytest.raises(CommandError, match="1 errors"):
        call_command("import_dataset", str(path), format="qa")
    assert "faq.jsonl:2:" in capsys.readouterr().err
    assert not Dataset.objects.exists()


def test_import_dataset_command_for_an_owner_from_a_zip(tmp_path, alice):
    archive = tmp_path / "ceval.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("law_val.csv", "law_test.csv", "art_test.csv"):
            zf.writestr(name, "id,question,A,B,C,D,answer\n1,q?,a,b,c,d,C\n2,r?,a,b,c,d,D\n")
    call_command("import_dataset", str(archive), format="mcq", owner="alice", name="C-Eval mini")
    dataset = Dataset.objects.get(owner=alice)
    assert dataset.subsets == {"art": 2, "law": 4}
    assert dataset.splits == {"test": 4, "val": 2}
    assert dataset.structure["slices"] == {"art/test": 2, "law/test": 2, "law/val": 2}


def test_load_demo_datasets_once(capsys):
    call_command("load_demo_datasets")
    call_command("load_demo_datasets")
    mcq, qa = Dataset.objects.system().order_by("format")
    assert (mcq.format, qa.format) == ("mcq", "qa")
    for dataset in (mcq, qa):
        assert len(dataset.subsets) >= 2 and len(dataset.splits) == 2
    assert Dataset.objects.count() == 2


def test_large_upload_runs_in_the_background_with_progress(alice, tmp_path, django_capture_on_commit_callbacks, settings):
    path = write_jsonl(tmp_path / "big.jsonl", qa_rows(5000))
    dataset_import = services.dataset_import_create(owner=alice, name="Big", format="qa", source_name="big.jsonl", file_path=path)
    with django_capture_on_commit_callbacks() as callbacks:
        services.dataset_import_start(dataset_import=dataset_import, inline=False)
    assert len(callbacks) == 1  # enqueued after commit, not run in the request
    dataset_import.refresh_from_db()
    assert dataset_import.status == DatasetImport.Status.QUEUED
    run_dataset_import(dataset_import.pk)
    dataset_import.refresh_from_db()
    assert dataset_import.status == DatasetImport.Status.DONE and dataset_import.rows_imported == 5000
    assert dataset_import.total_lines == 5000 and dataset_import.progress_percent == 100
    assert Dataset.objects.get(owner=alice, name="Big").item_count == 5000


def test_a_claimed_import_never_runs_twice(alice, tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", qa_rows(3))
    dataset_import = services.dataset_import_create(owner=alice, name="X", format="qa", source_name="x.jsonl", file_path=path)
    assert services.dataset_import_run(import_id=dataset_import.pk) is not None
    assert services.dataset_import_run(import_id=dataset_import.pk) is None
    assert DatasetItem.objects.count() == 3


def test_unreadable_file_fails_with_the_reason_and_leaves_nothing(alice, tmp_path):
    dataset_import = services.dataset_import_create(
        owner=alice, name="Gone", format="qa", source_name="gone.jsonl", file_path=tmp_path / "gone.jsonl"
    )
    services.dataset_import_run(import_id=dataset_import.pk)
    dataset_import.refresh_from_db()
    assert dataset_import.status in (DatasetImport.Status.FAILED, DatasetImport.Status.INVALID)
    assert dataset_import.error or dataset_import.errors
    assert not Dataset.objects.exists()


def test_long_chinese_and_emoji_text_survive_the_database(alice, tmp_path):
    long_question = "长问题🙂" * 30000  # 120k characters: more than MySQL's TEXT holds
    path = write_jsonl(tmp_path / "long.jsonl", [{"id": "a", "question": long_question, "answer": "答🎉", "tags": ["中文"]}])
    call_command("import_dataset", str(path), format="qa", name="长文本 🙂")
    item = DatasetItem.objects.get()
    assert item.question == long_question and item.answer == "答🎉" and item.tags == ["中文"]
    assert Dataset.objects.get().name == "长文本 🙂"


def test_item_ids_differing_only_in_case_are_distinct_on_every_database(alice, tmp_path):
    path = write_jsonl(tmp_path / "ids.jsonl", [
        {"id": "Q1", "question": "a?", "answer": "a"}, {"id": "q1", "question": "b?", "answer": "b"},
    ])
    dataset_import = services.dataset_import_create(owner=alice, name="Ids", format="qa", source_name="ids.jsonl", file_path=path)
    services.dataset_import_run(import_id=dataset_import.pk)
    dataset_import.refresh_from_db()
    assert dataset_import.status == DatasetImport.Status.DONE
    assert sorted(DatasetItem.objects.values_list("item_id", flat=True)) == ["Q1", "q1"]


def test_preview_filter_by_subset_is_exact_about_case(alice):
    dataset = Dataset.objects.create(owner=alice, name="Case", format="qa")
    DatasetItem.objects.bulk_create([
        DatasetItem(dataset=dataset, item_id="1", subset="Math", question="q", answer="a"),
        DatasetItem(dataset=dataset, item_id="2", subset="math", question="q", answer="a"),
    ])
    assert [item.item_id for item in DatasetItem.objects.filter(dataset=dataset).matching(subset="math")] == ["2"]
