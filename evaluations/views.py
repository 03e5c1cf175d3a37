import json
import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from evaluations import prompts, reports, services
from evaluations.forms import EvaluationCreateForm, ItemFilterForm, ReproduceForm
from evaluations.models import EvaluationRun

ITEMS_PER_PAGE = 50


def _run_for(request: HttpRequest, pk: int) -> EvaluationRun:
    return get_object_or_404(EvaluationRun.objects.for_user(request.user), pk=pk)


def run_list(request: HttpRequest) -> HttpResponse:
    runs = EvaluationRun.objects.for_user(request.user).prefetch_related("run_datasets")
    page = Paginator(runs, 30).get_page(request.GET.get("page"))
    return render(request, "evaluations/list.html", {"page": page})


def run_create(request: HttpRequest) -> HttpResponse:
    form = EvaluationCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        runs = services.evaluation_runs_create_for_models(
            owner=request.user, models=list(data["models"]), judge=data["judge"],
            datasets=form.dataset_choices(), temperature=data["temperature"],
            max_tokens=data["max_tokens"], concurrency=data["concurrency"],
            item_limit=data["item_limit"], name=data["name"],
        )
        if len(runs) > 1:
            return redirect(f"{reverse('evaluations:compare')}?group={runs[0].group}")
        return redirect("evaluations:run-detail", pk=runs[0].pk)
    return render(request, "evaluations/create.html", {"form": form})


def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    filters = ItemFilterForm(request.GET)
    filters.is_valid()
    criteria = {"run_dataset": filters.cleaned_data.get("dataset"), "subset": filters.cleaned_data.get("subset") or "",
                "result": filters.cleaned_data.get("result") or ""}
    items = run.items.matching(**criteria).select_related("run_dataset")
    page = Paginator(items, ITEMS_PER_PAGE).get_page(filters.cleaned_data.get("page"))
    context = {"run": run, "page": page, "filters": criteria, "filter_form": filters}
    if request.htmx and request.htmx.target == "items":
        return render(request, "evaluations/partials/items.html", context)
    context.update(breakdown=reports.breakdown(run), prompts=prompts)
    return render(request, "evaluations/detail.html", context)


def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    response = render(request, "evaluations/partials/progress.html", {"run": run})
    if run.is_finished and request.htmx:
        # The run just ended: reload the page so the whole report shows.
        response["HX-Refresh"] = "true"
    return response


@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    if services.evaluation_run_cancel(run=_run_for(request, pk)):
        messages.success(request, _("The run was cancelled; the answers so far are kept."))
    return redirect("evaluations:run-detail", pk=pk)


@require_POST
def run_resume(request: HttpRequest, pk: int) -> HttpResponse:
    if services.evaluation_run_resume(run=_run_for(request, pk)):
        messages.success(request, _("The run continues with the items not answered yet."))
    else:
        messages.warning(request, _("This run cannot be resumed now."))
    return redirect("evaluations:run-detail", pk=pk)


@require_POST
def run_retry_failed(request: HttpRequest, pk: int) -> HttpResponse:
    count = services.evaluation_items_retry_failed(run=_run_for(request, pk))
    messages.info(request, _("%(count)s items will be run again.") % {"count": count})
    return redirect("evaluations:run-detail", pk=pk)


def run_delete(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    if request.method == "POST":
        services.evaluation_run_delete(run=run)
        messages.success(request, _("Evaluation deleted."))
        return redirect("evaluations:list")
    return render(request, "evaluations/confirm_delete.html", {"run": run})


def run_export(request: HttpRequest, pk: int, file_format: str) -> StreamingHttpResponse:
    run = _run_for(request, pk)
    rows = reports.item_rows(run)
    if file_format == "csv":
        content, content_type = reports.csv_lines(rows), "text/csv; charset=utf-8"
    else:
        content, content_type = reports.json_document(run, rows), "application/json; charset=utf-8"
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="evaluation-{run.pk}.{file_format}"'
    return response


def item_reproduce(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    item = get_object_or_404(run.items.select_related("run_dataset"), pk=item_pk)
    form = ReproduceForm(request.POST or None)
    context = {"run": run, "item": item, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            reproduction = services.evaluation_item_reproduce(item=item, times=form.cleaned_data["times"])
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            context.update(reproduction=reproduction, params_json=json.dumps(reproduction.params, ensure_ascii=False, indent=2))
    template = "evaluations/partials/reproduction.html" if request.htmx else "evaluations/reproduce.html"
    return render(request, template, context)


def compare(request: HttpRequest) -> HttpResponse:
    runs = EvaluationRun.objects.for_user(request.user)
    if group := request.GET.get("group"):
        try:
            runs = runs.filter(group=uuid.UUID(group))
        except ValueError:
            raise Http404 from None
    else:
        ids = [int(pk) for pk in request.GET.getlist("runs") if pk.isdigit()]
        runs = runs.filter(pk__in=ids)
    runs = list(runs.order_by("pk"))
    if not runs:
        raise Http404
    return render(request, "evaluations/compare.html", {"runs": runs, "table": reports.comparison(runs)})
