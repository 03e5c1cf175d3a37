from django import forms
from django.utils.translation import gettext_lazy as _

from datasets.models import Dataset
from evaluations.services import DatasetChoice
from llm_models.models import LLMModel

NUMBER = {"class": "input input-sm w-32"}


class EvaluationCreateForm(forms.Form):
    models = forms.ModelMultipleChoiceField(
        label=_("Models to evaluate"), queryset=LLMModel.objects.none(), widget=forms.CheckboxSelectMultiple,
        help_text=_("Pick several to compare them: each gets its own run, opened side by side."),
    )
    judge = forms.ModelChoiceField(
        label=_("Judge model"), queryset=LLMModel.objects.none(), widget=forms.Select(attrs={"class": "select w-full"})
    )
    datasets = forms.ModelMultipleChoiceField(
        label=_("Datasets"), queryset=Dataset.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    temperature = forms.FloatField(label=_("Temperature"), min_value=0, max_value=2, initial=0.0,
                                   widget=forms.NumberInput(attrs={**NUMBER, "step": "0.1"}))
    max_tokens = forms.IntegerField(label=_("Max tokens"), min_value=1, max_value=32768, initial=512,
                                    widget=forms.NumberInput(attrs=NUMBER))
    concurrency = forms.IntegerField(label=_("Concurrency"), min_value=1, max_value=64, initial=8,
                                     widget=forms.NumberInput(attrs=NUMBER))
    item_limit = forms.IntegerField(label=_("Item limit per dataset"), min_value=1, required=False,
                                    help_text=_("Empty: every item of the chosen subsets and splits."),
                                    widget=forms.NumberInput(attrs=NUMBER))
    name = forms.CharField(label=_("Name"), max_length=200, required=False,
                           widget=forms.TextInput(attrs={"class": "input w-full"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        usable = LLMModel.objects.for_user(user).enabled().order_by("owner_id", "name")
        self.fields["models"].queryset = usable
        self.fields["judge"].queryset = usable
        datasets = Dataset.objects.for_user(user).ready().enabled().order_by("owner_id", "name")
        self.fields["datasets"].queryset = datasets
        self.dataset_rows = []
        for dataset in datasets:
            subsets = forms.MultipleChoiceField(
                choices=[(name, f"{name} ({count})") for name, count in dataset.subsets.items()],
                initial=list(dataset.subsets), required=False, widget=forms.CheckboxSelectMultiple,
            )
            # The test split when there is one: train and dev items are usually not for scoring.
            default_splits = ["test"] if "test" in dataset.splits else list(dataset.splits)
            splits = forms.MultipleChoiceField(
                choices=[(name, f"{name} ({count})") for name, count in dataset.splits.items()],
                initial=default_splits, required=False, widget=forms.CheckboxSelectMultiple,
            )
            self.fields[f"subsets_{dataset.pk}"] = subsets
            self.fields[f"splits_{dataset.pk}"] = splits
            self.dataset_rows.append((dataset, self[f"subsets_{dataset.pk}"], self[f"splits_{dataset.pk}"]))

    def clean(self):
        cleaned = super().clean()
        for dataset in cleaned.get("datasets") or []:
            subsets = cleaned.get(f"subsets_{dataset.pk}") or []
            splits = cleaned.get(f"splits_{dataset.pk}") or []
            slices = dataset.structure.get("slices", {})
            if not any(f"{subset}/{split}" in slices for subset in subsets for split in splits):
                self.add_error("datasets", _("“%(name)s”: choose subsets and splits that hold items.") % {"name": dataset.name})
        return cleaned

    def dataset_choices(self) -> list[DatasetChoice]:
        return [
            DatasetChoice(dataset, self.cleaned_data[f"subsets_{dataset.pk}"], self.cleaned_data[f"splits_{dataset.pk}"])
            for dataset in self.cleaned_data["datasets"]
        ]


class ItemFilterForm(forms.Form):
    RESULTS = [("", _("All")), ("correct", _("Correct")), ("incorrect", _("Incorrect")), ("error", _("Errors"))]

    dataset = forms.IntegerField(required=False)
    subset = forms.CharField(required=False)
    result = forms.ChoiceField(choices=RESULTS, required=False)
    page = forms.IntegerField(required=False, min_value=1)


class ReproduceForm(forms.Form):
    times = forms.IntegerField(label=_("Times"), min_value=1, max_value=20, initial=5,
                               widget=forms.NumberInput(attrs={"class": "input input-sm w-20"}))
