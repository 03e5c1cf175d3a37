from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EvaluationRunQuerySet(models.QuerySet):
    def for_user(self, user) -> "EvaluationRunQuerySet":
        return self.filter(owner=user)


class EvaluationRun(models.Model):
    """One model scored on one or more datasets, by a judge model, in the background."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="evaluation_runs")
    name = models.CharField(_("name"), max_length=200, blank=True)
    # Runs created together (several models on the same data) share a group, opened side by side.
    group = models.UUIDField(null=True, blank=True, db_index=True)
    model = models.ForeignKey(
        "llm_models.LLMModel", null=True, on_delete=models.SET_NULL, related_name="evaluation_runs"
    )
    judge = models.ForeignKey(
        "llm_models.LLMModel", null=True, on_delete=models.SET_NULL, related_name="judged_runs"
    )
    # Snapshots: the report stays readable, and reproducible, after a model changes or goes.
    model_label = models.CharField(max_length=300)
    judge_label = models.CharField(max_length=300)
    model_params = models.JSONField(default=dict)
    judge_params = models.JSONField(default=dict)
    temperature = models.FloatField(_("temperature"))
    max_tokens = models.PositiveIntegerField(_("max tokens"))
    concurrency = models.PositiveSmallIntegerField(_("concurrency"), default=8)
    item_limit = models.PositiveIntegerField(_("item limit per dataset"), null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    total_items = models.PositiveIntegerField(default=0)
    done_items = models.PositiveIntegerField(default=0)
    failed_items = models.PositiveIntegerField(default=0)
    score_sum = models.FloatField(default=0)
    scored_items = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Set by the worker that claims the run; a worker that finds another token has lost the run.
    worker_token = models.CharField(max_length=32, blank=True)
    judge_tokens = models.PositiveBigIntegerField(default=0)

    objects = EvaluationRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or f"#{self.pk} {self.model_label}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED)

    @property
    def is_stale(self) -> bool:
        """Running, but its worker has not been heard from: it died, and the run can be resumed."""
        if self.status != self.Status.RUNNING:
            return False
        last_sign = self.heartbeat_at or self.started_at or self.created_at
        return last_sign < timezone.now() - timedelta(seconds=settings.EVALUATION_HEARTBEAT_STALE)

    @property
    def score_percent(self) -> float | None:
        """The overall score, 0–100, over the items that got a score."""
        if not self.scored_items:
            return None
        return round(self.score_sum / self.scored_items * 100, 1)

    @property
    def progress_percent(self) -> int:
        if not self.total_items:
            return 0
        return (self.done_items + self.failed_items) * 100 // self.total_items

    @property
    def duration(self) -> timedelta | None:
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class EvaluationDataset(models.Model):
    """One dataset of a run, with the subsets and splits chosen for it."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="run_datasets")
    dataset = models.ForeignKey("datasets.Dataset", null=True, on_delete=models.SET_NULL, related_name="+")
    dataset_name = models.CharField(max_length=200)
    format = models.CharField(max_length=8)
    subsets = models.JSONField(default=list)
    splits = models.JSONField(default=list)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.dataset_name


class EvaluationItemQuerySet(models.QuerySet):
    def for_user(self, user) -> "EvaluationItemQuerySet":
        return self.filter(run__owner=user)

    def matching(self, *, run_dataset: int | None = None, subset: str = "", result: str = "") -> "EvaluationItemQuerySet":
        items = self
        if run_dataset:
            items = items.filter(run_dataset_id=run_dataset)
        if subset:
            items = items.filter(subset=subset)
        if result == "correct":
            items = items.filter(is_correct=True)
        elif result == "incorrect":
            items = items.filter(is_correct=False)
        elif result == "error":
            items = items.filter(Q(status=EvaluationItem.Status.ERROR) | Q(judge_error=True))
        return items

    def breakdown(self) -> list[dict]:
        """Per dataset and subset: counts and mean score (0–1), in dataset order."""
        return list(
            self.order_by()
            .values("run_dataset_id", "run_dataset__dataset_name", "subset")
            .annotate(
                total=Count("id"),
                failed=Count("id", filter=Q(status=EvaluationItem.Status.ERROR)),
                scored=Count("score"),
                mean=Avg("score"),
            )
            .order_by("run_dataset_id", "subset")
        )

    def scores(self) -> dict:
        """Counts and the mean score (0–1) of these items."""
        return self.aggregate(
            total=Count("id"),
            answered=Count("id", filter=Q(status=EvaluationItem.Status.DONE)),
            failed=Count("id", filter=Q(status=EvaluationItem.Status.ERROR)),
            scored=Count("score"),
            correct=Count("id", filter=Q(is_correct=True)),
            mean=Avg("score"),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            judge_tokens=Sum("judge_tokens"),
        )


class EvaluationItem(models.Model):
    """One question of a run: a copy of the dataset item, the model's answer and its score."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")
        ERROR = "error", _("Error")

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="items")
    run_dataset = models.ForeignKey(EvaluationDataset, on_delete=models.CASCADE, related_name="items")
    dataset_item = models.ForeignKey("datasets.DatasetItem", null=True, on_delete=models.SET_NULL, related_name="+")
    item_id = models.CharField(max_length=64)
    subset = models.CharField(max_length=100)
    split = models.CharField(max_length=32)
    question = models.TextField()
    choices = models.JSONField(default=list)
    reference = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    answer = models.TextField(blank=True)
    # MCQ: the letter(s) read from the answer, by rule or by the judge.
    extracted = models.CharField(max_length=26, blank=True)
    judge_reply = models.TextField(blank=True)
    judge_reason = models.TextField(blank=True)
    # The judge's raw score on its scale (0–10); null when not asked or not parsable.
    judge_score = models.FloatField(null=True, blank=True)
    judge_error = models.BooleanField(default=False)
    # 0–1; null when the item failed or the judge's reply could not be read.
    score = models.FloatField(null=True, blank=True)
    is_correct = models.BooleanField(null=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    judge_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    # Set once the model's answer is stored: an answered item is never asked again (a retry of a
    # judge error only asks the judge).
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = EvaluationItemQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "status"], name="evalitem_run_status_idx")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.item_id}"

    @property
    def lettered_choices(self) -> list[tuple[str, str]]:
        return [(chr(ord("A") + i), text) for i, text in enumerate(self.choices)]
