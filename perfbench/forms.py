import re

from django import forms
from django.conf import settings
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from datasets.models import Dataset, DatasetItem
from llm_models.models import LLMModel

MAX_PAIRS = 20
MAX_TOKENS_LIMIT = 65_536
_PAIR = re.compile(r"^(\d+)\s*[x×X*]\s*(\d+)$")


def pairs_parse(text: str) -> list[tuple[int, int]]:
    """"1x10, 4x40" (also ×, *, or separated by semicolons and spaces) -> [(1, 10), (4, 40)]."""
    pairs = []
    text = re.sub(r"\s*([x×X*])\s*", r"\1", text.strip())
    for part in re.split(r"[,;，；\s]+", text):
        if not part:
            continue
        match = _PAIR.match(part)
        if not match:
            raise forms.ValidationError(
                _("“%(part)s” is not a pair like 4x40 (concurrency x number of requests)."),
                params={"part": part},
            )
        pairs.append((int(match.group(1)), int(match.group(2))))
    return pairs


class ModelChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, model: LLMModel) -> str:
        return f"{model.name} — {model.model_name} @ {model.host}"


class DatasetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, dataset: Dataset) -> str:
        return _("%(name)s (%(count)s questions)") % {
            "name": dataset.name, "count": dataset.item_count}


class BenchmarkRunForm(forms.Form):
    model = ModelChoiceField(
        label=_("Model"), queryset=LLMModel.objects.none(), widget=forms.Select(attrs={"class": "select w-full"})
    )
    dataset = DatasetChoiceField(
        label=_("Dataset"),
        queryset=Dataset.objects.none(),
        help_text=_(
            "Its questions become the prompts, in order, repeated when there are more requests "
            "than questions."
        ),
        widget=forms.Select(attrs={
            "class": "select w-full",
            "hx-get": reverse_lazy("perfbench:dataset-slices"),
            "hx-target": "#dataset-slices",
            "hx-trigger": "change",
        }),
    )
    subset = forms.CharField(label=_("Subset"), required=False, max_length=100)
    split = forms.CharField(label=_("Split"), required=False, max_length=32)
    concurrency = forms.IntegerField(
        label=_("Concurrency"), min_value=1, initial=1,
        help_text=_("Requests in flight at the same time."),
        widget=forms.NumberInput(attrs={"class": "input w-full", "min": "1"}),
    )
    number = forms.IntegerField(
        label=_("Number of requests"), min_value=1, initial=20,
        widget=forms.NumberInput(attrs={"class": "input w-full", "min": "1"}),
    )
    sweep = forms.CharField(
        label=_("Sweep (optional)"), required=False, max_length=500,
        help_text=_(
            "Several concurrency x requests pairs measured one after the other in one run, "
            "e.g. 1x10, 4x40, 16x160. When filled in, it replaces the two fields above."
        ),
        widget=forms.TextInput(attrs={"class": "input w-full font-mono", "placeholder": "1x10, 4x40, 16x160"}),
    )
    max_tokens = forms.IntegerField(
        label=_("Max tokens"), min_value=1, max_value=MAX_TOKENS_LIMIT, initial=256,
        help_text=_("The most tokens each answer may have."),
        widget=forms.NumberInput(attrs={"class": "input w-full", "min": "1"}),
    )
    stream = forms.BooleanField(
        label=_("Stream the answers (needed for time to first token and inter-token latency)"),
        required=False, initial=True,
    )
    name = forms.CharField(
        label=_("Name (optional)"), required=False, max_length=200,
        widget=forms.TextInput(attrs={"class": "input w-full"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = LLMModel.objects.for_user(user).enabled().order_by("owner_id", "name")
        datasets = Dataset.objects.for_user(user).ready().enabled().order_by("owner_id", "name")
        self.fields["dataset"].queryset = datasets
        self.selected_dataset = self._selected_dataset(datasets)
        subsets = self.selected_dataset.subsets if self.selected_dataset else {}
        splits = self.selected_dataset.splits if self.selected_dataset else {}
        self.fields["subset"].widget = forms.Select(
            choices=[("", _("All subsets")), *((name, f"{name} ({n})") for name, n in subsets.items())],
            attrs={"class": "select w-full"},
        )
        self.fields["split"].widget = forms.Select(
            choices=[("", _("All splits")), *((name, f"{name} ({n})") for name, n in splits.items())],
            attrs={"class": "select w-full"},
        )

    def _selected_dataset(self, datasets) -> Dataset | None:
        value = self.data.get(self.add_prefix("dataset")) if self.is_bound else self.initial.get("dataset")
        if isinstance(value, Dataset):
            return value
        try:
            return datasets.filter(pk=int(value)).first() if value else None
        except (TypeError, ValueError):
            return None

    def clean_sweep(self) -> list[tuple[int, int]]:
        return pairs_parse(self.cleaned_data["sweep"])

    def clean(self):
        cleaned = super().clean()
        pairs = cleaned.get("sweep") or []
        if not pairs and cleaned.get("concurrency") and cleaned.get("number"):
            pairs = [(cleaned["concurrency"], cleaned["number"])]
        if pairs:
            self._pairs_check(pairs)
        cleaned["pairs"] = pairs
        dataset = cleaned.get("dataset")
        if dataset:
            self._slice_check(dataset, cleaned.get("subset", ""), cleaned.get("split", ""))
        return cleaned

    def _pairs_check(self, pairs: list[tuple[int, int]]) -> None:
        field = "sweep" if self.cleaned_data.get("sweep") else None
        if len(pairs) > MAX_PAIRS:
            self.add_error(field, _("At most %(n)s pairs in one run.") % {"n": MAX_PAIRS})
        if len(set(pairs)) < len(pairs):
            self.add_error(field, _("Each pair may appear only once."))
        for concurrency, number in pairs:
            if concurrency < 1 or number < 1:
                self.add_error(field or "concurrency",
                               _("Concurrency and number of requests must be at least 1."))
            elif concurrency > settings.PERF_MAX_CONCURRENCY:
                self.add_error(field or "concurrency", _("Concurrency may be at most %(max)s.") % {
                    "max": settings.PERF_MAX_CONCURRENCY})
            elif number < concurrency:
                self.add_error(field or "number", _(
                    "%(c)sx%(n)s: send at least as many requests as the concurrency."
                ) % {"c": concurrency, "n": number})
        if sum(number for _concurrency, number in pairs) > settings.PERF_MAX_REQUESTS:
            self.add_error(field or "number", _("At most %(max)s requests in one run.") % {
                "max": settings.PERF_MAX_REQUESTS})

    def _slice_check(self, dataset: Dataset, subset: str, split: str) -> None:
        if subset and subset not in dataset.subsets:
            self.add_error("subset", _("The dataset has no subset “%(name)s”.") % {"name": subset})
        elif split and split not in dataset.splits:
            self.add_error("split", _("The dataset has no split “%(name)s”.") % {"name": split})
        elif not DatasetItem.objects.filter(dataset=dataset).matching(subset=subset, split=split).exists():
            self.add_error("split", _("The dataset has no questions in this subset and split."))


class CompareForm(forms.Form):
    a = forms.IntegerField(min_value=1)
    b = forms.IntegerField(min_value=1)
