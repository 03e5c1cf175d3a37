from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from datasets import services
from datasets.models import Dataset, DatasetImport


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "format", "item_count", "owner", "enabled", "status", "updated_at"]
    list_filter = ["format", "enabled", ("owner", admin.EmptyFieldListFilter)]
    list_editable = ["enabled"]
    search_fields = ["name", "description", "owner__username"]
    readonly_fields = ["item_count", "structure", "status", "created_at", "updated_at"]
    autocomplete_fields = ["owner"]
    actions = ["enable", "disable"]

    @admin.action(description=_("Enable the selected datasets"))
    def enable(self, request, queryset):
        count = services.datasets_set_enabled(datasets=queryset, enabled=True)
        self.message_user(request, ngettext("%d dataset enabled.", "%d datasets enabled.", count) % count)

    @admin.action(description=_("Disable the selected datasets"))
    def disable(self, request, queryset):
        count = services.datasets_set_enabled(datasets=queryset, enabled=False)
        self.message_user(request, ngettext("%d dataset disabled.", "%d datasets disabled.", count) % count)

    def delete_queryset(self, request, queryset):
        for dataset in queryset:
            services.dataset_delete(dataset=dataset)


@admin.register(DatasetImport)
class DatasetImportAdmin(admin.ModelAdmin):
    list_display = ["source_name", "name", "owner", "status", "rows_imported", "error_count", "created_at"]
    list_filter = ["status", "format"]
    search_fields = ["name", "source_name", "owner__username"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False
