from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.ownership import SystemOrOwnedQuerySet
from llm_models.endpoints import endpoint_validate
from llm_models.fields import EncryptedTextField


class LLMModel(models.Model):
    """An OpenAI-compatible endpoint and the model name to ask there."""

    name = models.CharField(_("display name"), max_length=100)
    # Not a URLField: internal endpoints often have single-label host names ("http://vllm:8000/v1").
    base_url = models.CharField(
        _("base URL"), max_length=500, help_text=_("For example http://10.0.0.5:8000/v1")
    )
    model_name = models.CharField(_("model name at the endpoint"), max_length=200)
    api_key = EncryptedTextField(_("API key"), blank=True)
    temperature = models.FloatField(_("default temperature"), default=0.7)
    max_tokens = models.PositiveIntegerField(_("default max tokens"), default=1024)
    extra_headers = models.JSONField(_("extra headers"), default=dict, blank=True)
    extra_body = models.JSONField(_("extra body parameters"), default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="llm_models",
        help_text=_("Empty for a system model shared with every user."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_check_ok = models.BooleanField(_("last check passed"), null=True, blank=True)
    last_check_latency_ms = models.PositiveIntegerField(_("last check latency (ms)"), null=True, blank=True)
    last_check_error = models.TextField(_("last check error"), blank=True)
    last_checked_at = models.DateTimeField(_("last checked at"), null=True, blank=True)

    objects = SystemOrOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("model")
        verbose_name_plural = _("models")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                name="unique_model_name_per_owner",
                violation_error_message=_("You already have a model with this name."),
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(owner__isnull=True),
                name="unique_system_model_name",
                violation_error_message=_("A system model with this name already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        try:
            endpoint_validate(self.base_url, user_model=not self.is_system)
        except ValidationError as exc:
            errors["base_url"] = exc.messages
        headers = self.extra_headers
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            errors["extra_headers"] = _("Extra headers must be a JSON object of strings.")
        if not isinstance(self.extra_body, dict):
            errors["extra_body"] = _("Extra body parameters must be a JSON object.")
        if errors:
            raise ValidationError(errors)

    @property
    def is_system(self) -> bool:
        return self.owner_id is None

    @property
    def host(self) -> str:
        parts = urlsplit(self.base_url)
        return parts.netloc or self.base_url

    @property
    def api_key_hint(self) -> str:
        """The key as users may see it: its last four characters only."""
        return f"••••{self.api_key[-4:]}" if self.api_key else ""
