"""Apply the system models file (SYSTEM_MODELS_FILE or --file); safe to run at every start."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from llm_models import services


class Command(BaseCommand):
    help = "Create or update system models from a JSON file (default: $SYSTEM_MODELS_FILE)."

    def add_arguments(self, parser):
        parser.add_argument("--file", default=settings.SYSTEM_MODELS_FILE)

    def handle(self, *args, file: str, **options):
        if not file:
            self.stdout.write("SYSTEM_MODELS_FILE is not set: no system models to sync.")
            return
        try:
            models = services.system_models_sync(definitions=services.system_models_file_read(file))
        except (OSError, ValidationError) as exc:
            raise CommandError(str(exc.messages[0] if isinstance(exc, ValidationError) else exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{len(models)} system model(s) in sync with {file}."))
