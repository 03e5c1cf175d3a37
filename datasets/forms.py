import re
from pathlib import Path

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from datasets.models import Dataset

UPLOAD_EXTENSIONS = {".jsonl", ".json", ".csv", ".zip"}


class DatasetUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("JSONL, JSON array, CSV, or a zip of them (one file per subset and split, named <subset>_<split>.csv)."),
        widget=forms.ClearableFileInput(attrs={"class": "file-input w-full", "accept": ".jsonl,.json,.csv,.zip"}),
    )
    name = forms.CharField(label=_("Name"), max_length=200, widget=forms.TextInput(attrs={"class": "input w-full"}))
    format = forms.ChoiceField(
        label=_("Format"), choices=Dataset.Format.choices, widget=forms.Select(attrs={"class": "select w-full"})
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"class": "textarea w-full", "rows": 2})
    )
    subset = forms.CharField(
        label=_("Default subset"), required=False, max_length=100,
        help_text=_("For rows that name no subset (and file names that give none)."),
        widget=forms.TextInput(attrs={"class": "input w-full", "placeholder": "default"}),
    )
    split = forms.CharField(
        label=_("Default split"), required=False, max_length=32,
        widget=forms.TextInput(attrs={"class": "input w-full", "placeholder": "test"}),
    )
    skip_invalid = forms.BooleanField(
        label=_("If some rows are invalid, import the valid ones and list the skipped rows"), required=False
    )

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in UPLOAD_EXTENSIONS:
            raise forms.ValidationError(_("Upload a .jsonl, .json, .csv or .zip file."))
        if upload.size > settings.DATASET_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB; ask an operator to import it with manage.py import_dataset."),
                params={"mb": settings.DATASET_UPLOAD_MAX_BYTES // (1024 * 1024)},
            )
        return upload

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Dataset.objects.owned_by(self.owner).filter(name=name).exists():
            raise forms.ValidationError(_("You already have a dataset with this name."))
        return name


class DatasetEditForm(forms.ModelForm):
    tags = forms.CharField(
        label=_("Tags"), required=False, help_text=_("Separated by commas or semicolons."),
        widget=forms.TextInput(attrs={"class": "input w-full"}),
    )

    class Meta:
        model = Dataset
        fields = ["name", "description", "tags", "enabled"]
        widgets = {
            "name": forms.TextInput(attrs={"class": "input w-full"}),
            "description": forms.Textarea(attrs={"class": "textarea w-full", "rows": 3}),
        }

    def _get_validation_exclusions(self):
        exclusions = super()._get_validation_exclusions()
        exclusions.discard("owner")  # so a duplicate name is a message, not an error page
        return exclusions

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["tags"] = ", ".join(self.instance.tags or [])

    def clean_tags(self) -> list[str]:
        return [tag.strip() for tag in re.split(r"[,，;；]", self.cleaned_data["tags"]) if tag.strip()]


class ItemFilterForm(forms.Form):
    subset = forms.CharField(required=False)
    split = forms.CharField(required=False)
    tag = forms.CharField(required=False)
    q = forms.CharField(required=False, max_length=200)
    after = forms.IntegerField(required=False, min_value=0)
    before = forms.IntegerField(required=False, min_value=0)
