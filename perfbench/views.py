from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from datasets.models import Dataset
from perfbench import reports, services
from perfbench.forms import BenchmarkRunForm, CompareForm
from perfbench.models import BenchmarkRun

PAGE_SIZE = 50


def _run_for(request: HttpRequest, pk: int) -> BenchmarkRun:
    return get_object_or_404(BenchmarkRun.objects.for_user(request.user), pk=pk)


def run_list(request: HttpRequest) -> HttpResponse:
    runs = BenchmarkRun.objects.for_user(request.user).with_results()
    page = Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "perfbench/list.html", {"page": page})


def run_create(request: HttpRequest) -> HttpResponse:
    again = request.GET.get("again", "")
    initial = reports.run_form_initial(_run_for(request, int(again))) if again.isdigit() else {}
    form = BenchmarkRunForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        run = services.benchmark_run_create(
            owner=request.user, model=data["model"], dataset=data["dataset"], pairs=data["pairs"],
            max_tokens=data["max_tokens"], stream=data["stream"], subset=data["subset"],
            split=data["split"], name=data["name"].strip(),
        )
        return redirect("perfbench:detail", pk=run.pk)
    return render(request, "perfbench/create.html", {"form": form})


def dataset_slices(request: HttpRequest) -> HttpResponse:
    """The subset and split choices of the dataset picked in the create form."""
    dataset_id = request.GET.get("dataset", "")
    dataset = None
    if dataset_id:
        datasets = Dataset.objects.for_user(request.user).ready().enabled()
        dataset = get_object_or_404(datasets, pk=int(dataset_id) if dataset_id.isdigit() else 0)
    form = BenchmarkRunForm(user=request.user, initial={"dataset": dataset})
    return render(request, "perfbench/partials/dataset_slices.html", {"form": form})


def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    if request.htmx:
        response = render(request, "perfbench/partials/run_status.html", {"run": run})
        if run.is_finished and request.GET.get("poll"):
            response["HX-Refresh"] = "true"  # the page was waiting: reload it with the results
        return response
    results = list(run.results.all())
    others = BenchmarkRun.objects.for_user(request.user).filter(status=BenchmarkRun.Status.DONE).exclude(pk=run.pk)
    context = {
        "run": run, "results": results, "rows": reports.result_rows(results),
        "metric_titles": reports.metric_titles(), "percentile_tables": reports.percentile_tables(results),
        "percentile_columns": reports.PERCENTILE_COLUMNS,
        "chart_data": reports.run_chart_data(results), "others": others[:50],
    }
    return render(request, "perfbench/detail.html", context)


@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = services.benchmark_run_cancel(run=_run_for(request, pk))
    if request.htmx:
        return render(request, "perfbench/partials/run_status.html", {"run": run})
    return redirect("perfbench:detail", pk=run.pk)


def run_delete(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    if request.method == "POST":
        services.benchmark_run_delete(run=run)
        messages.success(request, _("Benchmark “%(name)s” deleted.") % {"name": run.title})
        return redirect("perfbench:list")
    return render(request, "perfbench/confirm_delete.html", {"run": run})


def run_compare(request: HttpRequest) -> HttpResponse:
    form = CompareForm(request.GET)
    if not form.is_valid():
        messages.info(request, _("Pick two runs to compare: one in column A and one in column B."))
        return redirect("perfbench:list")
    runs = BenchmarkRun.objects.for_user(request.user).with_results()
    run_a = get_object_or_404(runs, pk=form.cleaned_data["a"])
    run_b = get_object_or_404(runs, pk=form.cleaned_data["b"])
    context = {
        "runs": [("A", run_a), ("B", run_b)], "rows": reports.comparison_rows(run_a, run_b),
        "chart_data": reports.comparison_chart_data(run_a, run_b),
    }
    return render(request, "perfbench/compare.html", context)
