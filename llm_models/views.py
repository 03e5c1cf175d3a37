from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from llm_models import services
from llm_models.forms import LLMModelForm
from llm_models.models import LLMModel


def _model_for(request: HttpRequest, pk: int) -> LLMModel:
    return get_object_or_404(LLMModel.objects.for_user(request.user), pk=pk)


def _own_model_for(request: HttpRequest, pk: int) -> LLMModel:
    """A model the user may change: a stranger's is a 404, a system one a 403."""
    model = _model_for(request, pk)
    if model.is_system:
        raise PermissionDenied(_("System models are managed by operators."))
    return model


def model_list(request: HttpRequest) -> HttpResponse:
    models = LLMModel.objects.for_user(request.user).order_by("owner_id", "name")
    return render(request, "llm_models/list.html", {"models": models})


def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "llm_models/detail.html", {"model": _model_for(request, pk)})


def model_create(request: HttpRequest) -> HttpResponse:
    form = LLMModelForm(request.POST or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        model = services.llm_model_create(owner=request.user, **form.cleaned_data)
        messages.success(request, _("Model “%(name)s” created.") % {"name": model.name})
        return redirect("llm_models:detail", pk=model.pk)
    return render(request, "llm_models/form.html", {"form": form})


def model_edit(request: HttpRequest, pk: int) -> HttpResponse:
    model = _own_model_for(request, pk)
    form = LLMModelForm(request.POST or None, instance=model, owner=request.user)
    if request.method == "POST" and form.is_valid():
        services.llm_model_update(model=model, **form.cleaned_data)
        messages.success(request, _("Model “%(name)s” saved.") % {"name": model.name})
        return redirect("llm_models:detail", pk=model.pk)
    return render(request, "llm_models/form.html", {"form": form, "model": model})


def model_delete(request: HttpRequest, pk: int) -> HttpResponse:
    model = _own_model_for(request, pk)
    if request.method == "POST":
        services.llm_model_delete(model=model)
        messages.success(request, _("Model “%(name)s” deleted.") % {"name": model.name})
        return redirect("llm_models:list")
    return render(request, "llm_models/confirm_delete.html", {"model": model})


@require_POST
def model_check(request: HttpRequest, pk: int) -> HttpResponse:
    model = services.llm_model_check(model=_model_for(request, pk))
    if request.htmx:
        return render(request, "llm_models/partials/check_status.html", {"model": model})
    return redirect("llm_models:detail", pk=model.pk)
