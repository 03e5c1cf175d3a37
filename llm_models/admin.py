from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from llm_models import services
from llm_models.models import LLMModel


class LLMModelAdminForm(forms.ModelForm):
    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the stored key."),
    )

    class Meta:
        model = LLMModel
        fields = "__all__"

    def clean_api_key(self) -> str:
        return self.cleaned_data["api_key"] or self.instance.api_key


class OwnerKindFilter(admin.SimpleListFilter):
    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("system", _("System")), ("user", _("User"))]

    def queryset(self, request, queryset):
        if self.value() == "system":
            return queryset.system()
        if self.value() == "user":
            return queryset.filter(owner__isnull=False)
        return queryset


@admin.register(LLMModel)
class LLMModelAdmin(admin.ModelAdmin):
    form = LLMModelAdminForm
    list_display = [
        "name", "model_name", "host", "owner", "enabled", "last_check_ok",
        "last_check_latency_ms", "last_checked_at",
    ]
    list_filter = [OwnerKindFilter, "enabled", "last_check_ok"]
    list_editable = ["enabled"]
    search_fields = ["name", "model_name", "base_url", "owner__username"]
    readonly_fields = [
        "last_check_ok", "last_check_latency_ms", "last_check_error", "last_checked_at",
        "created_at", "updated_at",
    ]
    autocomplete_fields = ["owner"]
    actions = ["check_availability", "enable", "disable"]

    @admin.action(description=_("Check availability of the selected models"))
    def check_availability(self, request, queryset):
        for model in queryset:
            services.llm_model_check(model=model)
            if model.last_check_ok:
                self.message_user(request, f"{model.name}: OK, {model.last_check_latency_ms} ms")
            else:
                self.message_user(request, f"{model.name}: {model.last_check_error}", messages.ERROR)

    @admin.action(description=_("Enable the selected models"))
    def enable(self, request, queryset):
        count = services.llm_models_set_enabled(models=queryset, enabled=True)
        self.message_user(request, ngettext("%d model enabled.", "%d models enabled.", count) % count)

    @admin.action(description=_("Disable the selected models"))
    def disable(self, request, queryset):
        count = services.llm_models_set_enabled(models=queryset, enabled=False)
        self.message_user(request, ngettext("%d model disabled.", "%d models disabled.", count) % count)
