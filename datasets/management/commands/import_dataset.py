"""Bulk-import a file, a zip or a folder as a dataset, with the upload's validation."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from datasets import services
from datasets.models import Dataset, DatasetImport


class Command(BaseCommand):
    help = (
        "Import PATH (.jsonl, .json, .csv, .zip or a folder of them) as a dataset. "
        "Nothing is imported while the file has errors, unless --skip-invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--name", help="Dataset name (default: the file or folder name).")
        parser.add_argument("--format", required=True, choices=[c.value for c in Dataset.Format])
        parser.add_argument("--owner", help="Username of the owner (default: a system dataset).")
        parser.add_argument("--description", default="")
        parser.add_argument("--subset", default="", help="Subset for rows that name none.")
        parser.add_argument("--split", default="", help="Split for rows that name none.")
        parser.add_argument("--replace", action="store_true", help="Replace a dataset of the same name.")
        parser.add_argument("--skip-invalid", action="store_true", help="Import the valid rows, list the rest.")

    def handle(self, *args, path: str, name: str | None, owner: str | None, **options):
        source = Path(path)
        if not source.exists():
            raise CommandError(f"{path}: no such file or folder.")
        user = None
        if owner:
            user = get_user_model().objects.filter(username=owner).first()
            if user is None:
                raise CommandError(f"No user named {owner}.")
        dataset_import = services.dataset_import_create(
            owner=user, name=name or source.stem, format=options["format"], source_name=source.name,
            file_path=source.resolve(), description=options["description"], subset=options["subset"],
            split=options["split"], skip_invalid=options["skip_invalid"], replace=options["replace"],
        )
        dataset_import = services.dataset_import_run(import_id=dataset_import.pk)
        for error in dataset_import.errors:
            self.stderr.write(f"{error['source']}:{error['line']}: {error['message']}")
        if dataset_import.error_count > len(dataset_import.errors):
            self.stderr.write(f"... and {dataset_import.error_count - len(dataset_import.errors)} more errors.")
        if dataset_import.status != DatasetImport.Status.DONE:
            raise CommandError(dataset_import.error or f"{dataset_import.error_count} errors: nothing imported.")
        dataset = dataset_import.dataset
        skipped = f", {dataset_import.error_count} rows skipped" if dataset_import.error_count else ""
        self.stdout.write(self.style.SUCCESS(
            f"Imported {dataset_import.rows_imported} items into “{dataset.name}” "
            f"({len(dataset.subsets)} subsets, splits: {', '.join(dataset.splits)}){skipped}."
        ))
