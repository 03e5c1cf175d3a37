"""Register the demo LLM server's models as system models (the default set-up does this)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from llm_models import services

DEMO_MODELS = [
    ("Demo Fast", "demo-fast"),
    ("Demo Slow", "demo-slow"),
    ("Demo Flaky", "demo-flaky"),
]


class Command(BaseCommand):
    help = "Create or update the system models that point at the demo LLM server."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.DEMO_LLM_URL, help="The demo server's base URL.")
        parser.add_argument("--api-key", default="", help="The key the demo server was started with.")

    def handle(self, *args, url: str, api_key: str, **options):
        models = services.system_models_sync(definitions=[
            {"name": name, "base_url": url, "model_name": model_name, "api_key": api_key,
             "temperature": 0.7, "max_tokens": 512}
            for name, model_name in DEMO_MODELS
        ])
        self.stdout.write(self.style.SUCCESS(f"{len(models)} demo models registered at {url}."))
