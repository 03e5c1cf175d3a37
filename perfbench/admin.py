from django.contrib import admin

from perfbench import services
from perfbench.models import BenchmarkResult, BenchmarkRun


class BenchmarkResultInline(admin.TabularInline):
    model = BenchmarkResult
    extra = 0
    can_delete = False
    fields = [
        "concurrency", "number", "succeeded", "failed", "request_throughput", "output_throughput",
        "avg_latency_s", "avg_ttft_ms", "avg_tpot_ms",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BenchmarkRun)
class BenchmarkRunAdmin(admin.ModelAdmin):
    """Operators look at runs here (users' own pages are under /perf/); nothing is edited."""

    list_display = ["__str__", "owner", "model_display_name", "dataset_name", "pairs", "status", "created_at"]
    list_filter = ["status", "stream"]
    search_fields = ["name", "model_display_name", "dataset_name", "owner__username"]
    inlines = [BenchmarkResultInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        services.benchmark_run_delete(run=obj)  # the run folder goes too

    def delete_queryset(self, request, queryset) -> None:
        for run in queryset:
            services.benchmark_run_delete(run=run)
