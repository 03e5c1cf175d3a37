"""Benchmark: dataset import rate and memory, and the preview query deep in a million items.

    .venv/bin/python bench/dataset_import.py                      # a fresh SQLite file
    DATABASE_URL=mysql://root@127.0.0.1:3306/evalbench .venv/bin/python bench/dataset_import.py

1. Imports a generated 100,000-item JSONL through the real path (`dataset_import_run`: streaming
   parse, validation, batched inserts, structure refresh) and, in the same run, inserts the same
   rows with a plain `bulk_create`; prints both rates, their ratio and the peak memory growth.
2. Fills a dataset with 1,000,000 items and times the preview query (subset + split filter, a page
   half-way through) against the same page fetched with OFFSET.
Targets: import ≥ 50% of the bulk_create rate with flat memory; preview ≤ 50 ms on MariaDB.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")
# DEBUG off: with it on, Django keeps every SQL statement in memory.
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
WORK = Path(tempfile.mkdtemp(prefix="bench-dataset-"))
os.environ.setdefault("DATA_DIR", str(WORK))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORK / 'bench.sqlite3'}")

from evalplatform.devtools import fresh_mysql_database  # noqa: E402

if os.environ["DATABASE_URL"].startswith("mysql"):
    fresh_mysql_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from datasets import services  # noqa: E402
from datasets.models import Dataset, DatasetItem  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rows(n: int):
    for i in range(n):
        yield {
            "id": f"q{i}", "subset": f"subject_{i % 20}", "split": ("test", "val")[i % 2 == 0 and i % 10 == 0],
            "question": f"第 {i} 题：下列哪一项描述是正确的？ Which statement about item {i} holds?",
            "choices": [f"选项 A {i}", f"选项 B {i}", f"option C {i}", f"option D {i}"], "answer": "ABCD"[i % 4],
            "tags": ["bench"],
        }


def bench_import(n: int) -> None:
    path = WORK / "items.jsonl"
    with path.open("w", encoding="utf-8") as file:
        for row in rows(n):
            file.write(json.dumps(row, ensure_ascii=False) + "\n")
    owner = get_user_model().objects.create_user("bench")

    rss_before = peak_rss_mb()
    started = time.perf_counter()
    dataset_import = services.dataset_import_create(owner=owner, name="via import", format="mcq",
                                                    source_name=path.name, file_path=path)
    dataset_import = services.dataset_import_run(import_id=dataset_import.pk)
    import_seconds = time.perf_counter() - started
    import_rss = peak_rss_mb() - rss_before
    assert dataset_import.rows_imported == n, dataset_import.errors[:3]

    baseline = Dataset.objects.create(owner=owner, name="via bulk_create", format="mcq")
    rows_in_memory = list(rows(n))
    started = time.perf_counter()
    batch = []
    for row in rows_in_memory:
        batch.append(DatasetItem(dataset=baseline, item_id=row["id"], subset=row["subset"], split=row["split"],
                                 question=row["question"], choices=row["choices"], answer=row["answer"], tags=row["tags"]))
        if len(batch) == services.IMPORT_BATCH_SIZE:
            DatasetItem.objects.bulk_create(batch)
            batch = []
    DatasetItem.objects.bulk_create(batch)
    bulk_seconds = time.perf_counter() - started

    import_rate, bulk_rate = n / import_seconds, n / bulk_seconds
    print(f"\n== Import of {n:,} items on {connection.vendor} ==")
    print(f"{'path':<34}{'seconds':>9}{'items/s':>12}")
    print(f"{'platform import (parse+validate)':<34}{import_seconds:>9.2f}{import_rate:>12,.0f}")
    print(f"{'plain bulk_create (rows in memory)':<34}{bulk_seconds:>9.2f}{bulk_rate:>12,.0f}")
    print(f"ratio: {import_rate / bulk_rate:.0%} of bulk_create (target ≥ 50%)")
    print(f"peak memory growth during the import: {import_rss:.1f} MB for a {path.stat().st_size / 1e6:.0f} MB file "
          f"(the bulk_create baseline holds all rows: {peak_rss_mb() - rss_before:.1f} MB in all)")


def bench_preview(n: int, page_size: int = 20, repeats: int = 30) -> None:
    owner = get_user_model().objects.get(username="bench")
    dataset = Dataset.objects.create(owner=owner, name="million", format="qa")
    started = time.perf_counter()
    batch = []
    for i in range(n):
        batch.append(DatasetItem(dataset=dataset, item_id=str(i), subset=f"s{i % 10}", split=("test", "dev")[(i // 10) % 2],
                                 question=f"question {i}", answer=f"answer {i}"))
        if len(batch) == 5000:
            DatasetItem.objects.bulk_create(batch)
            batch = []
    DatasetItem.objects.bulk_create(batch)
    print(f"\n== Preview query on {n:,} items ({connection.vendor}; filled in {time.perf_counter() - started:.0f} s) ==")
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE TABLE datasets_datasetitem")
    items = DatasetItem.objects.filter(dataset=dataset).matching(subset="s3", split="test")
    count = items.count()
    middle = count // 2
    after = items.order_by("id").values_list("id", flat=True)[middle - 1]

    def timed(query) -> float:
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            query()
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    keyset = timed(lambda: items.keyset_page(after=after, size=page_size))
    offset = timed(lambda: list(items.order_by("id")[middle:middle + page_size]))
    page, _, _ = items.keyset_page(after=after, size=page_size)
    assert [item.pk for item in page] == list(items.order_by("id").values_list("id", flat=True)[middle:middle + page_size])
    print(f"slice s3/test holds {count:,} items; page {middle // page_size:,} of {count // page_size:,}")
    print(f"platform preview (keyset): {keyset:.2f} ms median   OFFSET baseline: {offset:.2f} ms   (target ≤ 50 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--preview-items", type=int, default=1_000_000)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    bench_import(options.items)
    bench_preview(options.preview_items)
