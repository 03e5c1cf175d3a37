from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BenchmarkRunQuerySet(models.QuerySet):
    def for_user(self, user) -> "BenchmarkRunQuerySet":
        return self.filter(owner=user)

    def active(self) -> "BenchmarkRunQuerySet":
        return self.filter(status__in=BenchmarkRun.ACTIVE_STATUSES)

    def with_results(self) -> "BenchmarkRunQuerySet":
        results = BenchmarkResult.objects.order_by("concurrency", "number")
        return self.prefetch_related(Prefetch("results", queryset=results))


class BenchmarkRun(models.Model):
    """One evalscope perf run: a model, prompts from a dataset, and one or more
    concurrency/number pairs measured one after the other."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="benchmark_runs")
    name = models.CharField(_("name"), max_length=200, blank=True)
    model = models.ForeignKey(
        "llm_models.LLMModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="benchmark_runs"
    )
    # Snapshots, so that the history still says what was measured after a model or dataset is gone.
    model_display_name = models.CharField(_("model"), max_length=100)
    endpoint_model_name = models.CharField(_("model name at the endpoint"), max_length=200)
    dataset = models.ForeignKey(
        "datasets.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="benchmark_runs"
    )
    dataset_name = models.CharField(_("dataset"), max_length=200)
    subset = models.CharField(_("subset"), max_length=100, blank=True)
    split = models.CharField(_("split"), max_length=32, blank=True)
    # [[concurrency, number], ...] in the order evalscope runs them.
    pairs = models.JSONField(_("concurrency × requests"))
    max_tokens = models.PositiveIntegerField(_("max tokens"))
    stream = models.BooleanField(_("streaming"), default=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    # evalscope's console output, cleaned and with secrets removed.
    log = models.TextField(blank=True)
    requests_total = models.PositiveIntegerField(default=0)
    requests_done = models.PositiveIntegerField(default=0)
    prompt_count = models.PositiveIntegerField(default=0)
    evalscope_version = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = BenchmarkRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("benchmark run")
        verbose_name_plural = _("benchmark runs")

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        return self.name or _("Benchmark #%(id)s") % {"id": self.pk}

    @property
    def is_finished(self) -> bool:
        return self.status not in self.ACTIVE_STATUSES

    @property
    def is_stale(self) -> bool:
        """Running, but its worker stopped writing the heartbeat (it was killed or crashed)."""
        if self.status != self.Status.RUNNING or not self.heartbeat_at:
            return False
        return timezone.now() - self.heartbeat_at > timedelta(seconds=settings.PERF_HEARTBEAT_STALE)

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.requests_total:
            return 0
        return min(99, self.requests_done * 100 // self.requests_total)

    @property
    def current_pair(self) -> tuple[int, int, int] | None:
        """(position from 1, concurrency, number) of the pair evalscope is measuring now."""
        done = self.requests_done
        for position, (concurrency, number) in enumerate(self.pairs, start=1):
            if done < number:
                return position, concurrency, number
            done -= number
        return None

    @property
    def concurrencies(self) -> list[int]:
        return [concurrency for concurrency, _number in self.pairs]

    @property
    def numbers(self) -> list[int]:
        return [number for _concurrency, number in self.pairs]

    @property
    def elapsed(self) -> timedelta | None:
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    @property
    def elapsed_seconds(self) -> int | None:
        return int(self.elapsed.total_seconds()) if self.elapsed else None

    @property
    def folder(self) -> Path:
        """Where evalscope runs and writes: its working directory and outputs."""
        return Path(settings.DATA_DIR) / "perf" / str(self.pk)

    @property
    def headline(self) -> "BenchmarkResult | None":
        """The pair with the highest output token throughput (results prefetched or not)."""
        results = [result for result in self.results.all() if result.output_throughput is not None]
        return max(results, key=lambda result: result.output_throughput, default=None)


class BenchmarkResult(models.Model):
    """evalscope's summary and percentiles for one concurrency/number pair of a run."""

    run = models.ForeignKey(BenchmarkRun, on_delete=models.CASCADE, related_name="results")
    concurrency = models.PositiveIntegerField(_("concurrency"))
    number = models.PositiveIntegerField(_("requests"))
    duration_s = models.FloatField(_("duration (s)"), null=True)
    total_requests = models.PositiveIntegerField(_("requests sent"), default=0)
    succeeded = models.PositiveIntegerField(_("succeeded"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    # None where evalscope had no successful request to measure.
    request_throughput = models.FloatField(_("request throughput (req/s)"), null=True)
    output_throughput = models.FloatField(_("output token throughput (tok/s)"), null=True)
    total_throughput = models.FloatField(_("total token throughput (tok/s)"), null=True)
    avg_latency_s = models.FloatField(_("average latency (s)"), null=True)
    avg_ttft_ms = models.FloatField(_("average time to first token (ms)"), null=True)
    avg_tpot_ms = models.FloatField(_("average time per output token (ms)"), null=True)
    avg_itl_ms = models.FloatField(_("average inter-token latency (ms)"), null=True)
    avg_input_tokens = models.FloatField(_("average input tokens"), null=True)
    avg_output_tokens = models.FloatField(_("average output tokens"), null=True)
    # Every key of evalscope's benchmark_summary.json, as it named them.
    summary = models.JSONField(default=dict)
    # {"ttft_ms": {"min": ..., "p1": ..., ..., "p99": ..., "max": ...}, "latency_s": {...}, ...}
    percentiles = models.JSONField(default=dict)

    class Meta:
        ordering = ["concurrency", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "concurrency", "number"], name="unique_result_per_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.concurrency}×{self.number}"

    @property
    def success_percent(self) -> float:
        return 100 * self.succeeded / self.total_requests if self.total_requests else 0.0
