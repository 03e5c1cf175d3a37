"""Run the demo OpenAI-compatible LLM server (llm_models/demo_llm.py) until interrupted."""

from django.core.management.base import BaseCommand

from llm_models import demo_llm


class Command(BaseCommand):
    help = "Run the demo OpenAI-compatible LLM server (models demo-fast, demo-slow, demo-flaky)."
    requires_system_checks = []  # The server uses nothing of Django's: start at once.

    def add_arguments(self, parser):
        demo_llm.add_arguments(parser)

    def handle(self, *args, host: str, port: int, **options):
        demo_llm.run(host, port, demo_llm.config_from_options(options))
