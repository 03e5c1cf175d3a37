from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class LLMModelQuerySet(models.QuerySet):
    def for_user(self, user) -> "LLMModelQuerySet":
        """Models the user may use: the system ones and their own."""
        return self.filter(Q(owner__isnull=True) | Q(owner=user))

    def owned_by(self, user) -> "LLMModelQuerySet":
        return self.filter(owner=user)

    def system(self) -> "LLMModelQuerySet":
        return self.filter(owner__isnull=True)

    def enabled(self) -> "LLMModelQuerySet":
        return self.filter(enabled=True)


class LLMModel(models.Model):
    """An OpenAI-compatible endpoint and the model name to ask there."""

    name = models.CharField(_("display name"), max_length=100)
    base_url = models.URLField(_("base URL"), max_length=500)
    model_name = models.CharField(_("model name at the endpoint"), max_length=200)
    api_key = models.TextField(_("API key"), blank=True)
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
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_check_error = models.TextField(blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    objects = LLMModelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("model")
        verbose_name_plural = _("models")
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_model_name_per_owner"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(owner__isnull=True), name="unique_system_model_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_system(self) -> bool:
        return self.owner_id is None
