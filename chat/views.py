from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from chat import services
from chat.forms import AddToDatasetForm, NewChatForm, RateForm, RenameForm, SlotForm
from chat.models import Answer, Conversation, Slot
from chat.rendering import dataset_choices
from llm_models.models import LLMModel

SIDEBAR_SIZE = 100


def _conversation_for(request: HttpRequest, pk: int) -> Conversation:
    return get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)


def _slot_for(request: HttpRequest, pk: int, slot_pk: int) -> Slot:
    return get_object_or_404(
        Slot.objects.for_user(request.user).select_related("conversation"),
        pk=slot_pk, conversation_id=pk,
    )


def _answer_for(request: HttpRequest, pk: int) -> Answer:
    answers = Answer.objects.for_user(request.user).select_related(
        "message__conversation", "dataset_item__dataset"
    )
    return get_object_or_404(answers, pk=pk)


def _sidebar(request: HttpRequest) -> list[Conversation]:
    return list(Conversation.objects.for_user(request.user)[:SIDEBAR_SIZE])


def chat_index(request: HttpRequest) -> HttpResponse:
    """The conversation list and a new chat; `?model=<pk>` picks that model in the form (a GET
    never creates anything: "Start chat" buttons post to chat:create)."""
    initial = {}
    if (model_id := request.GET.get("model")) is not None:
        if not model_id.isdigit():
            raise Http404
        initial["model"] = get_object_or_404(LLMModel.objects.for_user(request.user).enabled(), pk=model_id)
    context = {"conversations": _sidebar(request), "form": NewChatForm(user=request.user, initial=initial)}
    return render(request, "chat/index.html", context)


@require_POST
def conversation_create(request: HttpRequest) -> HttpResponse:
    form = NewChatForm(request.POST, user=request.user)
    if not form.is_valid():
        context = {"conversations": _sidebar(request), "form": form}
        return render(request, "chat/index.html", context, status=400)
    model = form.cleaned_data["model"]
    conversation = services.conversation_create(owner=request.user, model=model)
    return redirect("chat:detail", pk=conversation.pk)


def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation_for(request, pk)
    answers = Answer.objects.select_related("dataset_item__dataset")
    # Not "messages": that name belongs to the messages framework, shown by the base template.
    turns = conversation.messages.prefetch_related(Prefetch("answers", queryset=answers))
    context = {
        "conversation": conversation,
        "conversations": _sidebar(request),
        "turns": turns,
        "datasets": dataset_choices(request.user),
        "ws_path": f"/ws/chat/{conversation.pk}/",
        **_slot_panel_context(request, conversation),
    }
    return render(request, "chat/detail.html", context)


@require_POST
def conversation_rename(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation_for(request, pk)
    form = RenameForm(request.POST)
    if form.is_valid():
        services.conversation_rename(conversation=conversation, title=form.cleaned_data["title"])
    if not request.htmx:
        return redirect("chat:detail", pk=conversation.pk)
    context = {"item": conversation, "conversation": conversation, "rename_form": form}
    return render(request, "chat/partials/conversation_item.html", context)


@require_POST
def conversation_delete(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation_for(request, pk)
    was_open = request.htmx and urlsplit(request.htmx.current_url_abs_path or "").path == reverse(
        "chat:detail", args=[conversation.pk]
    )
    services.conversation_delete(conversation=conversation)
    if request.htmx and not was_open:
        return HttpResponse("")  # Its entry leaves the sidebar; the page shown stays.
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("chat:index")
        return response
    return redirect("chat:index")


def _slot_panel_context(
    request: HttpRequest,
    conversation: Conversation,
    failed: SlotForm | None = None,
    error: str = "",
) -> dict:
    """The slot forms; a form that failed validation is shown as it was sent, with its errors."""
    forms = [
        failed if failed is not None and failed.instance.pk == slot.pk
        else SlotForm(instance=slot, user=request.user)
        for slot in conversation.slots.select_related("model")
    ]
    return {"conversation": conversation, "slot_forms": forms, "slot_error": error}


def _slot_panel(request: HttpRequest, conversation: Conversation, **kwargs) -> HttpResponse:
    context = _slot_panel_context(request, conversation, **kwargs)
    return render(request, "chat/partials/slot_panel.html", context)


@require_POST
def slot_add(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation_for(request, pk)
    try:
        services.slot_add(conversation=conversation)
    except ValidationError as exc:
        return _slot_panel(request, conversation, error=" ".join(exc.messages))
    return _slot_panel(request, conversation)


@require_POST
def slot_update(request: HttpRequest, pk: int, slot_pk: int) -> HttpResponse:
    slot = _slot_for(request, pk, slot_pk)
    form = SlotForm(request.POST, instance=slot, user=request.user)
    if not form.is_valid():
        return _slot_panel(request, slot.conversation, failed=form)
    services.slot_update(slot=slot, **form.cleaned_data)
    return _slot_panel(request, slot.conversation)


@require_POST
def slot_remove(request: HttpRequest, pk: int, slot_pk: int) -> HttpResponse:
    slot = _slot_for(request, pk, slot_pk)
    try:
        services.slot_remove(slot=slot)
    except ValidationError as exc:
        return _slot_panel(request, slot.conversation, error=" ".join(exc.messages))
    return _slot_panel(request, slot.conversation)


def _answer_actions(request: HttpRequest, answer: Answer, **context) -> HttpResponse:
    context = {"answer": answer, "datasets": dataset_choices(request.user), **context}
    return render(request, "chat/partials/answer_actions.html", context)


@require_POST
def answer_rate(request: HttpRequest, pk: int) -> HttpResponse:
    answer = _answer_for(request, pk)
    form = RateForm(request.POST)
    if form.is_valid():
        services.answer_rate(answer=answer, rating=form.cleaned_data["rating"])
    return _answer_actions(request, answer)


@require_POST
def answer_add_to_dataset(request: HttpRequest, pk: int) -> HttpResponse:
    answer = _answer_for(request, pk)
    form = AddToDatasetForm(request.POST, user=request.user)
    if not form.is_valid():
        return _answer_actions(request, answer, dataset_form=form)
    try:
        services.answer_add_to_dataset(answer=answer, **form.cleaned_data)
    except ValidationError as exc:
        return _answer_actions(request, answer, dataset_error=" ".join(exc.messages))
    return _answer_actions(request, answer)
