from django import forms
from django.utils.translation import gettext_lazy as _

from chat.models import TITLE_MAX_LENGTH, Answer, Slot
from datasets.models import Dataset
from llm_models.models import LLMModel


def _usable_models(user):
    return LLMModel.objects.for_user(user).enabled().order_by("owner_id", "name")


class NewChatForm(forms.Form):
    model = forms.ModelChoiceField(
        label=_("Model"), queryset=LLMModel.objects.none(),
        widget=forms.Select(attrs={"class": "select w-full"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = _usable_models(user)
        self.fields["model"].empty_label = _("Choose a model")


class SlotForm(forms.ModelForm):
    class Meta:
        model = Slot
        fields = ["model", "system_prompt", "temperature", "max_tokens"]
        widgets = {
            "model": forms.Select(attrs={"class": "select select-sm w-full"}),
            "system_prompt": forms.Textarea(attrs={
                "class": "textarea textarea-sm w-full", "rows": 3,
                "placeholder": _("You are a helpful assistant."),
            }),
            "temperature": forms.NumberInput(attrs={
                "class": "input input-sm w-full", "step": "0.1", "min": "0", "max": "2",
            }),
            "max_tokens": forms.NumberInput(attrs={"class": "input input-sm w-full", "min": "1"}),
        }

    def __init__(self, *args, user, **kwargs):
        kwargs.setdefault("prefix", f"slot{kwargs['instance'].position}")
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = _usable_models(user)
        self.fields["model"].required = True
        self.fields["model"].empty_label = _("Choose a model")

    def clean_temperature(self) -> float:
        value = self.cleaned_data["temperature"]
        if not 0 <= value <= 2:
            raise forms.ValidationError(_("Temperature must be between 0 and 2."))
        return value

    def clean_max_tokens(self) -> int:
        value = self.cleaned_data["max_tokens"]
        if value < 1:
            raise forms.ValidationError(_("Max tokens must be at least 1."))
        return value


class RenameForm(forms.Form):
    title = forms.CharField(
        label=_("Title"), max_length=TITLE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"class": "input input-sm w-full"}),
    )


class RateForm(forms.Form):
    rating = forms.ChoiceField(
        choices=[("", _("No rating")), *Answer.Rating.choices], required=False
    )


class AddToDatasetForm(forms.Form):
    dataset = forms.ModelChoiceField(
        label=_("Dataset"), queryset=Dataset.objects.none(),
        widget=forms.Select(attrs={"class": "select select-sm w-full"}),
    )
    ground_truth = forms.CharField(
        label=_("Ground truth (optional)"), required=False,
        widget=forms.Textarea(attrs={"class": "textarea textarea-sm w-full", "rows": 2}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = (
            Dataset.objects.owned_by(user).ready().filter(format=Dataset.Format.QA)
        )
