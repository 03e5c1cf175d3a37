"""Background jobs for datasets (django-q2)."""

from datasets import services


def run_dataset_import(import_id: int) -> None:
    services.dataset_import_run(import_id=import_id)
