from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from llm_models.models import LLMModel

MAX_SLOTS = 3
TITLE_MAX_LENGTH = 200


class ConversationQuerySet(models.QuerySet):
    def for_user(self, user) -> "ConversationQuerySet":
        """The user's own conversations; nobody else's, and none for an anonymous visitor."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Moved on every turn, so the sidebar lists the conversations last used first.
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="conversation_recent_idx")]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")

    def __str__(self) -> str:
        return self.display_title

    @property
    def display_title(self) -> str:
        return self.title or str(_("New chat"))


class SlotQuerySet(models.QuerySet):
    def for_user(self, user) -> "SlotQuerySet":
        return self.filter(conversation__in=Conversation.objects.for_user(user))


class Slot(models.Model):
    """One model in a conversation, with its own settings: up to MAX_SLOTS answer each message.

    A slot keeps its position when another is removed, so its column keeps its place on the page.
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveSmallIntegerField()
    model = models.ForeignKey(
        LLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("model"),
    )
    # The model's name when it was chosen, shown if the model is deleted later.
    model_name = models.CharField(max_length=100, blank=True)
    system_prompt = models.TextField(_("system prompt"), blank=True)
    temperature = models.FloatField(_("temperature"), default=0.7)
    max_tokens = models.PositiveIntegerField(_("max tokens"), default=1024)

    objects = SlotQuerySet.as_manager()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "position"], name="unique_slot_position"
            ),
            models.CheckConstraint(
                condition=Q(position__gte=1, position__lte=MAX_SLOTS), name="slot_position_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}: {self.model_name}"


class Message(models.Model):
    """What the user sent; every slot answered it in its own Answer."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.content[:60]


class AnswerQuerySet(models.QuerySet):
    def for_user(self, user) -> "AnswerQuerySet":
        return self.filter(message__conversation__in=Conversation.objects.for_user(user))

    def history_of(self, slot_ids) -> "AnswerQuerySet":
        """The exchanges these slots took part in, oldest first: what each slot said before.
        The same rule as Answer.in_history."""
        return (
            self.filter(slot_id__in=slot_ids)
            .exclude(status=Answer.Status.ERROR)
            .exclude(content="")
            .order_by("message_id")
        )


class Answer(models.Model):
    """One slot's answer to one message, with the settings it was asked with and how it went."""

    class Status(models.TextChoices):
        STREAMING = "streaming", _("Streaming")
        DONE = "done", _("Done")
        ERROR = "error", _("Error")
        STOPPED = "stopped", _("Stopped")
        INTERRUPTED = "interrupted", _("Interrupted")

    class Rating(models.TextChoices):
        GOOD = "good", _("Good")
        BAD = "bad", _("Bad")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="answers")
    slot = models.ForeignKey(
        Slot, null=True, blank=True, on_delete=models.SET_NULL, related_name="answers"
    )
    slot_position = models.PositiveSmallIntegerField()
    # The slot's settings when the message was sent: the slot may change or go later.
    model = models.ForeignKey(
        LLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_name = models.CharField(_("model"), max_length=100)
    system_prompt = models.TextField(_("system prompt"), blank=True)
    temperature = models.FloatField(_("temperature"))
    max_tokens = models.PositiveIntegerField(_("max tokens"))
    content = models.TextField(blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.STREAMING
    )
    error = models.TextField(blank=True)
    ttft_ms = models.PositiveIntegerField(_("time to first token (ms)"), null=True, blank=True)
    total_ms = models.PositiveIntegerField(_("total time (ms)"), null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    rating = models.CharField(_("rating"), max_length=8, choices=Rating.choices, blank=True)
    # The dataset item made from this answer ("Add to dataset"), while it exists.
    dataset_item = models.ForeignKey(
        "datasets.DatasetItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = AnswerQuerySet.as_manager()

    class Meta:
        ordering = ["message_id", "slot_position"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "slot_position"], name="unique_answer_per_slot"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_name}: {self.content[:60]}"

    FINISH_FIELDS = [
        "status", "content", "error", "ttft_ms", "total_ms", "prompt_tokens", "completion_tokens",
        "finished_at",
    ]

    def finish(
        self,
        *,
        status: str,
        content: str,
        error: str = "",
        ttft_ms: int | None = None,
        total_ms: int | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        """Record how the answer ended, with what arrived (saved by chat.services.answers_save)."""
        self.status = status
        self.content = content
        self.error = error
        self.ttft_ms = ttft_ms
        self.total_ms = total_ms
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.finished_at = timezone.now()

    @property
    def is_streaming(self) -> bool:
        return self.status == self.Status.STREAMING

    @property
    def in_history(self) -> bool:
        """Whether the slot's later messages carry this answer (AnswerQuerySet.history_of)."""
        return self.status != self.Status.ERROR and self.content != ""

    @property
    def is_partial(self) -> bool:
        """Cut short by the user, a lost connection or an error: the content is what arrived."""
        return self.status in (self.Status.STOPPED, self.Status.INTERRUPTED, self.Status.ERROR)
