from django.contrib import admin

from evaluations.models import EvaluationRun


@admin.register(EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    list_display = ["__str__", "owner", "model_label", "judge_label", "status", "done_items", "failed_items", "total_items", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "model_label", "owner__username"]
    readonly_fields = [field.name for field in EvaluationRun._meta.fields]
