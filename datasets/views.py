import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from datasets import services
from datasets.forms import DatasetEditForm, DatasetUploadForm, ItemFilterForm
from datasets.models import Dataset, DatasetImport, DatasetItem

PAGE_SIZE = 20


def _dataset_for(request: HttpRequest, pk: int) -> Dataset:
    return get_object_or_404(Dataset.objects.for_user(request.user).ready(), pk=pk)


def _own_dataset_for(request: HttpRequest, pk: int) -> Dataset:
    """A dataset the user may change: a stranger's is a 404, a system one a 403."""
    dataset = _dataset_for(request, pk)
    if dataset.is_system:
        raise PermissionDenied(_("System datasets are managed by operators."))
    return dataset


def dataset_list(request: HttpRequest) -> HttpResponse:
    datasets = Dataset.objects.for_user(request.user).ready().order_by("owner_id", "name")
    imports = DatasetImport.objects.for_user(request.user).exclude(status=DatasetImport.Status.DONE)[:10]
    return render(request, "datasets/list.html", {"datasets": datasets, "imports": imports})


def dataset_upload(request: HttpRequest) -> HttpResponse:
    form = DatasetUploadForm(request.POST or None, request.FILES or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        options = {k: v for k, v in form.cleaned_data.items() if k != "file"}
        dataset_import = services.dataset_upload_import(
            owner=request.user, uploaded_file=form.cleaned_data["file"], **options
        )
        if dataset_import.status == DatasetImport.Status.DONE:
            messages.success(request, _("Imported %(n)s items.") % {"n": dataset_import.rows_imported})
            return redirect("datasets:detail", pk=dataset_import.dataset_id)
        return redirect("datasets:import-detail", pk=dataset_import.pk)
    return render(request, "datasets/upload.html", {"form": form})


def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset_import = get_object_or_404(DatasetImport.objects.for_user(request.user), pk=pk)
    template = "datasets/partials/import_status.html" if request.htmx else "datasets/import_detail.html"
    return render(request, template, {"import": dataset_import})


@require_POST
def import_skip_invalid(request: HttpRequest, pk: int) -> HttpResponse:
    dataset_import = get_object_or_404(
        DatasetImport.objects.for_user(request.user), pk=pk, status=DatasetImport.Status.INVALID
    )
    retry = services.dataset_import_retry_skipping_invalid(dataset_import=dataset_import)
    return redirect("datasets:import-detail", pk=retry.pk)


def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = _dataset_for(request, pk)
    filters = ItemFilterForm(request.GET)
    filters.is_valid()
    criteria = {key: filters.cleaned_data.get(key) or "" for key in ("subset", "split", "tag")}
    items, has_previous, has_next = (
        DatasetItem.objects.filter(dataset=dataset)
        .matching(text=filters.cleaned_data.get("q") or "", **criteria)
        .keyset_page(after=filters.cleaned_data.get("after"), before=filters.cleaned_data.get("before"), size=PAGE_SIZE)
    )
    context = {"dataset": dataset, "items": items, "has_previous": has_previous, "has_next": has_next, "filters": filters.cleaned_data}
    template = "datasets/partials/items.html" if request.htmx else "datasets/detail.html"
    return render(request, template, context)


def dataset_edit(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = _own_dataset_for(request, pk)
    form = DatasetEditForm(request.POST or None, instance=dataset)
    if request.method == "POST" and form.is_valid():
        services.dataset_update(dataset=dataset, **form.cleaned_data)
        messages.success(request, _("Dataset saved."))
        return redirect("datasets:detail", pk=dataset.pk)
    return render(request, "datasets/edit.html", {"form": form, "dataset": dataset})


def dataset_delete(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = _own_dataset_for(request, pk)
    if request.method == "POST":
        services.dataset_delete(dataset=dataset)
        messages.success(request, _("Dataset “%(name)s” deleted.") % {"name": dataset.name})
        return redirect("datasets:list")
    return render(request, "datasets/confirm_delete.html", {"dataset": dataset})


def dataset_export(request: HttpRequest, pk: int, file_format: str) -> StreamingHttpResponse:
    dataset = _dataset_for(request, pk)
    rows = services.dataset_export_rows(dataset=dataset)
    if file_format == "csv":
        content, content_type = services.csv_lines(rows, choice_count=services.dataset_choice_count(dataset=dataset)), "text/csv; charset=utf-8"
    else:
        content, content_type = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "application/jsonl; charset=utf-8"
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="dataset-{dataset.pk}.{file_format}"'
    return response
