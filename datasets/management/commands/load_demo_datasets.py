"""Load the demo datasets shipped in datasets/demo_data as system datasets (once)."""

from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

from datasets.models import Dataset

DEMO_DATA = Path(__file__).resolve().parents[2] / "demo_data"
DEMO_DATASETS = [
    ("Demo MCQ 通识选择题", "mcq", DEMO_DATA / "demo_mcq", "Multiple-choice questions on computing and geography (C-Eval style CSV, one file per subset and split)."),
    ("Demo QA 问答", "qa", DEMO_DATA / "demo_qa.jsonl", "Open questions with reference answers: product FAQ and science."),
]


class Command(BaseCommand):
    help = "Import the demo datasets as system datasets unless they are already there."

    def handle(self, *args, **options):
        for name, format, path, description in DEMO_DATASETS:
            if Dataset.objects.system().filter(name=name).exists():
                self.stdout.write(f"“{name}” is already loaded.")
                continue
            call_command(
                "import_dataset", str(path), name=name, format=format, description=description,
                stdout=self.stdout, stderr=self.stderr,
            )
