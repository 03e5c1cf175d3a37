"""Writes for datasets: imports (upload and command line), metadata, deletion, single items."""

import csv
import json
import logging
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from datasets.models import Dataset, DatasetImport, DatasetItem
from datasets.parsing import ParsedItem, RowError, iter_dataset_rows

logger = logging.getLogger(__name__)

IMPORT_BATCH_SIZE = 2000


@dataclass
class ItemFacts:
    """Tags and extra keys seen on items: gathered while importing, or read back afterwards."""

    tags: Counter = field(default_factory=Counter)
    extra_keys: set[str] = field(default_factory=set)

    def add(self, tags: list[str], extra: dict) -> None:
        self.tags.update(tags or [])
        self.extra_keys.update(extra or {})


def _imports_dir() -> Path:
    return Path(settings.DATA_DIR) / "imports"


def dataset_import_create(
    *,
    owner,
    name: str,
    format: str,
    source_name: str,
    file_path: str | Path,
    description: str = "",
    subset: str = "",
    split: str = "",
    skip_invalid: bool = False,
    replace: bool = False,
) -> DatasetImport:
    """Record an import of a file (or folder) already on disk; run it with dataset_import_run."""
    return DatasetImport.objects.create(
        owner=owner, name=name, format=format, source_name=source_name, file_path=str(file_path),
        description=description, subset=subset, split=split, skip_invalid=skip_invalid,
        replace=replace,
    )


def dataset_upload_import(*, owner, uploaded_file: UploadedFile, **options: Any) -> DatasetImport:
    """Keep an uploaded file under DATA_DIR/imports and import it: at once when small, else by a
    worker (enqueued after commit)."""
    folder = _imports_dir() / uuid.uuid4().hex
    folder.mkdir(parents=True)
    file_path = folder / Path(uploaded_file.name).name
    with file_path.open("wb") as destination:
        for chunk in uploaded_file.chunks():
            destination.write(chunk)
    dataset_import = dataset_import_create(
        owner=owner, source_name=uploaded_file.name, file_path=file_path, **options
    )
    dataset_import_start(dataset_import=dataset_import, inline=uploaded_file.size <= settings.DATASET_INLINE_IMPORT_MAX_BYTES)
    return dataset_import


def dataset_import_start(*, dataset_import: DatasetImport, inline: bool) -> None:
    if inline:
        dataset_import_run(import_id=dataset_import.pk)
        dataset_import.refresh_from_db()
        return
    from datasets.tasks import run_dataset_import

    transaction.on_commit(lambda: _enqueue(run_dataset_import, dataset_import.pk))


def _enqueue(func, *args) -> None:
    from django_q.tasks import async_task

    async_task(func, *args)


def dataset_import_retry_skipping_invalid(*, dataset_import: DatasetImport) -> DatasetImport:
    """Run a rejected import again, importing the valid rows and listing the skipped ones."""
    retry = dataset_import_create(
        owner=dataset_import.owner, name=dataset_import.name, format=dataset_import.format,
        source_name=dataset_import.source_name, file_path=dataset_import.file_path,
        description=dataset_import.description, subset=dataset_import.subset,
        split=dataset_import.split, skip_invalid=True, replace=dataset_import.replace,
    )
    inline = Path(retry.file_path).is_file() and Path(retry.file_path).stat().st_size <= settings.DATASET_INLINE_IMPORT_MAX_BYTES
    dataset_import_start(dataset_import=retry, inline=inline)
    return retry


def _count_lines(path: Path) -> int:
    if path.is_dir() or path.suffix.lower() == ".zip":
        return 0
    lines = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def _record_error(dataset_import: DatasetImport, error: RowError) -> None:
    dataset_import.error_count += 1
    if len(dataset_import.errors) < DatasetImport.MAX_STORED_ERRORS:
        dataset_import.errors.append({"source": error.source, "line": error.line, "message": error.message})


def _item_row(dataset: Dataset, item: ParsedItem) -> DatasetItem:
    return DatasetItem(
        dataset=dataset, item_id=item.item_id, subset=item.subset, split=item.split,
        question=item.question, choices=item.choices, answer=item.answer, tags=item.tags,
        extra=item.extra,
    )


def dataset_import_run(*, import_id: int) -> DatasetImport | None:
    """Import the file into a new dataset, streaming, in batches; the dataset is visible only once
    the import succeeded. A file with errors imports nothing unless `skip_invalid` is set."""
    claimed = DatasetImport.objects.filter(pk=import_id, status=DatasetImport.Status.QUEUED).update(
        status=DatasetImport.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    dataset_import = DatasetImport.objects.get(pk=import_id)
    path = Path(dataset_import.file_path)
    dataset = Dataset.objects.create(
        owner=dataset_import.owner,
        # A temporary name, so the unique name stays free until the import is complete.
        name=f"{dataset_import.name} [import {dataset_import.pk}]"[:200],
        description=dataset_import.description,
        format=dataset_import.format,
        status=Dataset.Status.IMPORTING,
    )
    dataset_import.dataset = dataset
    dataset_import.save(update_fields=["dataset"])
    try:
        dataset_import.total_lines = _count_lines(path)
        facts = _import_rows(dataset_import, dataset, path)
    except Exception as exc:  # noqa: BLE001 - the row records any failure for the user
        logger.exception("Dataset import %s failed", import_id)
        dataset.delete()
        dataset_import.dataset = None
        dataset_import.status = DatasetImport.Status.FAILED
        if isinstance(exc, FileNotFoundError):
            dataset_import.error = _("The file %(name)s is no longer there.") % {"name": dataset_import.source_name}
        else:
            dataset_import.error = _("The import stopped: %(reason)s") % {"reason": str(exc)[:2000]}
    else:
        _import_finish(dataset_import, dataset, facts)
    dataset_import.finished_at = timezone.now()
    dataset_import.save()
    return dataset_import


def _import_rows(dataset_import: DatasetImport, dataset: Dataset, path: Path) -> ItemFacts:
    rows = iter_dataset_rows(
        path,
        format=dataset_import.format,
        subset=dataset_import.subset or None,
        split=dataset_import.split or None,
        original_name=dataset_import.source_name,
    )
    batch: list[DatasetItem] = []
    facts = ItemFacts()
    for seen, row in enumerate(rows, start=1):
        dataset_import.last_line = max(dataset_import.last_line, row.line)
        if isinstance(row, RowError):
            _record_error(dataset_import, row)
        else:
            dataset_import.rows_read += 1
            # After the first error, a strict import only reads on, to report every error.
            if dataset_import.skip_invalid or not dataset_import.error_count:
                batch.append(_item_row(dataset, row))
                facts.add(row.tags, row.extra)
        if len(batch) >= IMPORT_BATCH_SIZE or seen % IMPORT_BATCH_SIZE == 0:
            _flush(dataset_import, batch)
    if dataset_import.skip_invalid or not dataset_import.error_count:
        _flush(dataset_import, batch)
    return facts


def _flush(dataset_import: DatasetImport, batch: list[DatasetItem]) -> None:
    """Write the batch and the progress (which other processes read while this one works)."""
    DatasetItem.objects.bulk_create(batch)
    dataset_import.rows_imported += len(batch)
    batch.clear()
    dataset_import.save(
        update_fields=["last_line", "rows_read", "rows_imported", "error_count", "errors"]
    )


@transaction.atomic
def _import_finish(dataset_import: DatasetImport, dataset: Dataset, facts: ItemFacts) -> None:
    rejected = dataset_import.error_count and not dataset_import.skip_invalid
    if rejected or not dataset_import.rows_imported:
        dataset.delete()
        dataset_import.dataset = None
        dataset_import.status = DatasetImport.Status.INVALID
        if not dataset_import.error_count:
            dataset_import.error = _("The file holds no rows.")
        return
    owned = Dataset.objects.filter(owner=dataset.owner) if dataset.owner else Dataset.objects.system()
    existing = owned.filter(name=dataset_import.name).exclude(pk=dataset.pk)
    if existing.exists():
        if not dataset_import.replace:
            dataset.delete()
            dataset_import.dataset = None
            dataset_import.status = DatasetImport.Status.FAILED
            dataset_import.error = _("A dataset named “%(name)s” already exists.") % {"name": dataset_import.name}
            return
        existing.delete()
    dataset.name = dataset_import.name
    dataset.status = Dataset.Status.READY
    dataset.save(update_fields=["name", "status"])
    dataset_structure_refresh(dataset=dataset, facts=facts)
    dataset_import.status = DatasetImport.Status.DONE
    _remove_upload(dataset_import)


def _remove_upload(dataset_import: DatasetImport) -> None:
    # Only uploads live under DATA_DIR/imports; operators' own files are never touched.
    path = Path(dataset_import.file_path)
    if _imports_dir() in path.parents:
        shutil.rmtree(path.parent, ignore_errors=True)


def dataset_structure_refresh(*, dataset: Dataset, facts: ItemFacts | None = None) -> Dataset:
    """Recount subsets, splits and tags from the items and store them on the dataset."""
    slices = (
        DatasetItem.objects.filter(dataset=dataset)
        .values_list("subset", "split")
        .annotate(n=Count("id"))
        .order_by("subset", "split")
    )
    subsets: Counter = Counter()
    splits: Counter = Counter()
    slice_counts = {}
    for subset, split, count in slices:
        subsets[subset] += count
        splits[split] += count
        slice_counts[f"{subset}/{split}"] = count
    items = DatasetItem.objects.filter(dataset=dataset)
    fields = ["question", "answer"]
    if items.exclude(choices=[]).exists():
        fields.insert(1, "choices")
    if facts is None:
        facts = ItemFacts()
        for tags, extra in items.exclude(tags=[], extra={}).values_list("tags", "extra").iterator(chunk_size=5000):
            facts.add(tags, extra)
    if facts.tags:
        fields.append("tags")
    fields += sorted(f"extra.{key}" for key in facts.extra_keys)
    dataset.structure = {
        "subsets": dict(subsets),
        "splits": dict(splits),
        "slices": slice_counts,
        "fields": fields,
        "item_tags": dict(facts.tags.most_common(200)),
    }
    dataset.item_count = sum(subsets.values())
    dataset.save(update_fields=["structure", "item_count", "updated_at"])
    return dataset


def dataset_update(*, dataset: Dataset, **fields: Any) -> Dataset:
    for name, value in fields.items():
        setattr(dataset, name, value)
    dataset.full_clean()
    dataset.save()
    return dataset


def dataset_delete(*, dataset: Dataset) -> None:
    dataset.delete()


def dataset_items_add(*, dataset: Dataset, items: Iterable[dict[str, Any]]) -> list[DatasetItem]:
    """Append items (e.g. from a chat answer) to a dataset and refresh its structure."""
    created = DatasetItem.objects.bulk_create(DatasetItem(dataset=dataset, **item) for item in items)
    dataset_structure_refresh(dataset=dataset)
    return created


def dataset_export_rows(*, dataset: Dataset) -> Iterable[dict[str, Any]]:
    """The items as the upload format's fields, streamed from the database in id order."""
    items = DatasetItem.objects.filter(dataset=dataset).order_by("id")
    for item in items.iterator(chunk_size=2000):
        row: dict[str, Any] = {"id": item.item_id, "subset": item.subset, "split": item.split, "question": item.question}
        if dataset.format == Dataset.Format.MCQ:
            row["choices"] = item.choices
        row["answer"] = item.answer
        row["tags"] = item.tags
        if item.extra:
            row["extra"] = item.extra
        yield row


def dataset_choice_count(*, dataset: Dataset) -> int:
    """How many option columns a CSV export of this dataset needs."""
    if dataset.format != Dataset.Format.MCQ:
        return 0
    items = DatasetItem.objects.filter(dataset=dataset).values_list("choices", flat=True)
    return max((len(choices) for choices in items.iterator(chunk_size=5000)), default=0)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[dict[str, Any]], *, choice_count: int) -> Iterable[str]:
    """CSV in the upload layout: id, subset, split, question, A, B, ..., answer, tags, extra."""
    letters = [chr(ord("A") + i) for i in range(choice_count)]
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(["id", "subset", "split", "question", *letters, "answer", "tags", "extra"])
    for row in rows:
        choices = row.get("choices", [])
        yield writer.writerow([
            row["id"], row["subset"], row["split"], row["question"],
            *(choices[i] if i < len(choices) else "" for i in range(choice_count)),
            row["answer"], ";".join(row["tags"]),
            json.dumps(row["extra"], ensure_ascii=False) if row.get("extra") else "",
        ])


def datasets_set_enabled(*, datasets, enabled: bool) -> int:
    return datasets.update(enabled=enabled)
