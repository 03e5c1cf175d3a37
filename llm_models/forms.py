import json

from django import forms
from django.utils.translation import gettext_lazy as _

from llm_models.models import LLMModel


class JSONObjectField(forms.CharField):
    """A JSON object typed into a textarea; a syntax error says where it is."""

    widget = forms.Textarea(attrs={"rows": 3, "class": "textarea w-full font-mono text-sm"})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False, indent=2) if value else ""
        return value

    def to_python(self, value):
        value = (value or "").strip()
        if not value:
            return {}
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("Invalid JSON at line %(line)s, column %(col)s: %(msg)s"),
                params={"line": exc.lineno, "col": exc.colno, "msg": exc.msg},
            ) from exc
        if not isinstance(parsed, dict):
            raise forms.ValidationError(_("Enter a JSON object, like {\"key\": \"value\"}."))
        return parsed


class LLMModelForm(forms.ModelForm):
    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(attrs={"class": "input w-full", "autocomplete": "off"}),
    )
    extra_headers = JSONObjectField(label=_("Extra headers (JSON)"), required=False)
    extra_body = JSONObjectField(
        label=_("Extra body parameters (JSON)"),
        required=False,
        help_text=_("Sent with every request, e.g. {\"top_p\": 0.9}"),
    )

    class Meta:
        model = LLMModel
        fields = [
            "name", "base_url", "model_name", "api_key", "temperature", "max_tokens",
            "extra_headers", "extra_body", "enabled",
        ]
        widgets = {
            "name": forms.TextInput(attrs={"class": "input w-full"}),
            "base_url": forms.TextInput(attrs={"class": "input w-full", "placeholder": "http://10.0.0.5:8000/v1"}),
            "model_name": forms.TextInput(attrs={"class": "input w-full", "placeholder": "qwen2.5-7b-instruct"}),
            "temperature": forms.NumberInput(attrs={"class": "input w-full", "step": "0.1", "min": "0", "max": "2"}),
            "max_tokens": forms.NumberInput(attrs={"class": "input w-full", "min": "1"}),
        }

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        # The owner is never a form field; it is set here so that validation sees it.
        self.instance.owner = owner
        if self.instance.pk and self.instance.api_key:
            self.fields["api_key"].help_text = _(
                "Stored key: %(hint)s. Leave empty to keep it."
            ) % {"hint": self.instance.api_key_hint}
        self.fields["temperature"].validators.append(_temperature_range)

    def _get_validation_exclusions(self):
        # Validate the per-owner unique name too, so a duplicate is a message, not an error page.
        exclusions = super()._get_validation_exclusions()
        exclusions.discard("owner")
        return exclusions

    def _post_clean(self):
        # An empty key field on edit means "keep the stored key".
        stored_key = self.instance.api_key
        super()._post_clean()
        if not self.cleaned_data.get("api_key"):
            self.instance.api_key = stored_key


def _temperature_range(value: float) -> None:
    if not 0 <= value <= 2:
        raise forms.ValidationError(_("Temperature must be between 0 and 2."))
