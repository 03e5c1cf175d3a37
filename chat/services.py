"""Writes for chat: conversations and their model slots, turns and their answers, ratings, and
turning an answer into a dataset item."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Max, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext as _

from chat.models import MAX_SLOTS, TITLE_MAX_LENGTH, Answer, Conversation, Message, Slot
from datasets.models import Dataset, DatasetItem
from datasets.services import dataset_items_add
from llm_models.models import LLMModel

TITLE_FROM_MESSAGE_LENGTH = 60
DATASET_ITEM_SUBSET = "chat"
DATASET_ITEM_SPLIT = "test"


def _usable_model(owner, model: LLMModel | None) -> LLMModel | None:
    """The model if the owner may chat with it (theirs or a system one, enabled), else an error."""
    if model is None:
        return None
    if not LLMModel.objects.for_user(owner).enabled().filter(pk=model.pk).exists():
        raise ValidationError(_("This model is not available to you."))
    return model


def _first_usable_model(owner) -> LLMModel | None:
    return LLMModel.objects.for_user(owner).enabled().order_by("owner_id", "name").first()


def _default_model(owner, slots: list[Slot]) -> LLMModel | None:
    """The last slot's model, to compare it with other settings, if it is still usable."""
    usable = LLMModel.objects.for_user(owner).enabled()
    if slots and slots[-1].model_id and usable.filter(pk=slots[-1].model_id).exists():
        return slots[-1].model
    return _first_usable_model(owner)


def _slot_settings(model: LLMModel | None) -> dict:
    if model is None:
        return {"model": None, "model_name": ""}
    return {
        "model": model, "model_name": model.name, "temperature": model.temperature,
        "max_tokens": model.max_tokens,
    }


@transaction.atomic
def conversation_create(*, owner, model: LLMModel | None = None) -> Conversation:
    """A new conversation with one slot: this model, or else the first the owner may use."""
    model = _usable_model(owner, model) or _first_usable_model(owner)
    conversation = Conversation.objects.create(owner=owner)
    Slot.objects.create(conversation=conversation, position=1, **_slot_settings(model))
    return conversation


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    conversation.title = title.strip()[:TITLE_MAX_LENGTH]
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


@transaction.atomic
def slot_add(*, conversation: Conversation, model: LLMModel | None = None) -> Slot:
    """Add a slot in the first free position; by default with the last slot's model."""
    # Lock the conversation so that two quick clicks cannot both take the last free position.
    Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
    slots = list(conversation.slots.all())
    if len(slots) >= MAX_SLOTS:
        raise ValidationError(
            _("A conversation has at most %(max)s models.") % {"max": MAX_SLOTS}
        )
    taken = {slot.position for slot in slots}
    position = min(set(range(1, MAX_SLOTS + 1)) - taken)
    if model is not None:
        model = _usable_model(conversation.owner, model)
    else:
        model = _default_model(conversation.owner, slots)
    return Slot.objects.create(
        conversation=conversation, position=position, **_slot_settings(model)
    )


def slot_update(
    *, slot: Slot, model: LLMModel, system_prompt: str, temperature: float, max_tokens: int
) -> Slot:
    """Change a slot's settings; they apply from the next message on."""
    slot.model = _usable_model(slot.conversation.owner, model)
    slot.model_name = model.name
    slot.system_prompt = system_prompt
    slot.temperature = temperature
    slot.max_tokens = max_tokens
    slot.save()
    return slot


@transaction.atomic
def slot_remove(*, slot: Slot) -> None:
    """Remove a slot; its answers stay in the conversation. The last slot cannot go."""
    Conversation.objects.select_for_update().filter(pk=slot.conversation_id).first()
    if Slot.objects.filter(conversation_id=slot.conversation_id).count() <= 1:
        raise ValidationError(_("A conversation needs at least one model."))
    slot.delete()


def title_from_message(content: str) -> str:
    """The first words of the first message, on one line."""
    text = re.sub(r"\s+", " ", content).strip()
    if len(text) <= TITLE_FROM_MESSAGE_LENGTH:
        return text
    return text[: TITLE_FROM_MESSAGE_LENGTH - 1].rstrip() + "…"


@dataclass(frozen=True)
class SlotPlan:
    """One slot as the next message will be sent to it."""

    slot: Slot
    # The slot's own earlier exchanges, oldest first: (question, its answer).
    history: tuple[tuple[str, str], ...]
    # Why the slot cannot be asked (no model, model disabled), or "".
    problem: str


@dataclass(frozen=True)
class ChatPlan:
    """What a conversation's next message is sent with: every slot's settings and model as they
    are now, and each slot's own earlier exchanges. Read once (chat_plan) and kept between
    messages by the websocket, so that a message goes out without waiting for the database."""

    conversation: Conversation
    title: str
    slots: tuple[SlotPlan, ...]
    # The last message and the last time an answer ended: the histories follow from them.
    progress: tuple

    @cached_property
    def signature(self) -> tuple:
        """Every value the requests depend on: two plans with the same signature ask the same."""
        return tuple(
            (_field_values(plan.slot), _field_values(plan.slot.model), plan.problem)
            for plan in self.slots
        ) + (self.progress,)


@dataclass(frozen=True)
class SlotCall:
    """What one slot sends upstream for a turn, and the answer it fills."""

    answer: Answer
    slot: int
    model: LLMModel | None
    system_prompt: str
    temperature: float
    max_tokens: int
    history: tuple[tuple[str, str], ...]
    problem: str = ""


@dataclass(frozen=True)
class Turn:
    """A message about to go to every slot: its rows, not saved yet, and each slot's call."""

    plan: ChatPlan
    message: Message
    calls: list[SlotCall]
    title: str

    @property
    def conversation(self) -> Conversation:
        return self.plan.conversation


def chat_plan(*, conversation: Conversation, known: ChatPlan | None = None) -> ChatPlan:
    """Read what the conversation's next message needs. The slots' earlier exchanges are read
    only if the conversation's answers changed since `known` was read (three queries, else two),
    so that checking a kept plan costs the same however long the conversation is."""
    slots = list(conversation.slots.select_related("model", "conversation"))
    progress = _answers_progress(conversation)
    if known is not None and known.progress == progress:
        kept = {slot_plan.slot.pk: slot_plan.history for slot_plan in known.slots}
        histories = {slot.pk: kept.get(slot.pk, ()) for slot in slots}  # A new slot has none.
    else:
        histories = _histories([slot.pk for slot in slots])
    owner_id = conversation.owner_id
    slot_plans = tuple(
        SlotPlan(slot=slot, history=histories[slot.pk], problem=_slot_problem(slot, owner_id))
        for slot in slots
    )
    title = slots[0].conversation.title if slots else ""
    return ChatPlan(conversation=conversation, title=title, slots=slot_plans, progress=progress)


def _answers_progress(conversation: Conversation) -> tuple:
    """Changes whenever an answer of the conversation is added or ends."""
    latest = Answer.objects.filter(message__conversation=conversation).aggregate(
        message=Max("message_id"), finished=Max("finished_at")
    )
    return (latest["message"], latest["finished"])


def _histories(slot_ids: list[int]) -> dict[int, tuple[tuple[str, str], ...]]:
    history: dict[int, list[tuple[str, str]]] = {slot_id: [] for slot_id in slot_ids}
    earlier = Answer.objects.history_of(slot_ids).values_list(
        "slot_id", "message__content", "content"
    )
    for slot_id, question, answer in earlier:
        history[slot_id].append((question, answer))
    return {slot_id: tuple(exchanges) for slot_id, exchanges in history.items()}


def chat_plan_after(*, plan: ChatPlan, turn: Turn) -> ChatPlan:
    """The plan for the message after this turn, without reading the database: each slot's
    history ends with its answer, as chat_plan reads it once answers_save stored the answers.
    The turn was built from this plan or from one with the same signature."""
    answers = {call.answer.slot_id: call.answer for call in turn.calls}
    slot_plans = []
    for slot_plan in plan.slots:
        answer = answers.get(slot_plan.slot.pk)
        if answer is not None and answer.in_history:
            exchange = (turn.message.content, answer.content)
            slot_plan = replace(slot_plan, history=(*slot_plan.history, exchange))
        slot_plans.append(slot_plan)
    finished = [answer.finished_at for answer in answers.values()] + [plan.progress[1]]
    progress = (turn.message.pk, max((at for at in finished if at is not None), default=None))
    return ChatPlan(
        conversation=plan.conversation, title=plan.title or turn.title, slots=tuple(slot_plans),
        progress=progress,
    )


def _field_values(row) -> tuple:
    if row is None:
        return ()
    return tuple(getattr(row, field.attname) for field in row._meta.concrete_fields)


def turn_build(*, plan: ChatPlan, content: str) -> Turn:
    """A message to every slot of the plan; the rows are built but not saved (turn_save), so the
    models can be asked first."""
    message = Message(conversation=plan.conversation, content=content)
    calls = []
    for slot_plan in plan.slots:
        slot = slot_plan.slot
        answer = Answer(
            message=message, slot=slot, slot_position=slot.position, model=slot.model,
            model_name=slot.model.name if slot.model else slot.model_name,
            system_prompt=slot.system_prompt, temperature=slot.temperature,
            max_tokens=slot.max_tokens,
        )
        calls.append(SlotCall(
            answer=answer, slot=slot.position, model=slot.model,
            system_prompt=slot.system_prompt, temperature=slot.temperature,
            max_tokens=slot.max_tokens, history=slot_plan.history, problem=slot_plan.problem,
        ))
    title = plan.title or title_from_message(content)
    return Turn(plan=plan, message=message, calls=calls, title=title)


def _slot_problem(slot: Slot, owner_id: int) -> str:
    model = slot.model
    if model is None:
        return _("This slot has no model: choose one in the model configuration.")
    if not model.enabled or model.owner_id not in (None, owner_id):
        return _("The model “%(name)s” is not available any more.") % {"name": model.name}
    return ""


@transaction.atomic
def turn_save(*, turn: Turn) -> Message:
    """Store the message and an answer per slot (streaming until answers_save), and title the
    conversation after its first message unless it has a title already."""
    turn.message.save()
    answers = [call.answer for call in turn.calls]
    for answer in answers:
        answer.message = turn.message
    if connection.features.can_return_rows_from_bulk_insert:
        Answer.objects.bulk_create(answers)
    else:  # MySQL does not return the ids of a bulk insert (MariaDB and SQLite do).
        for answer in answers:
            answer.save()
    Conversation.objects.filter(pk=turn.conversation.pk).update(
        title=Coalesce(NullIf(F("title"), Value("")), Value(turn.title)), updated_at=timezone.now()
    )
    return turn.message


@transaction.atomic
def answers_save(*, answers: Iterable[Answer]) -> None:
    """Store how answers ended (Answer.finish): done, failed, stopped or interrupted."""
    for answer in answers:
        answer.save(update_fields=Answer.FINISH_FIELDS)


def answer_rate(*, answer: Answer, rating: str) -> Answer:
    """Mark an answer good or bad; an empty rating takes the mark away."""
    if rating not in Answer.Rating.values and rating != "":
        raise ValidationError(_("Rate an answer good or bad."))
    answer.rating = rating
    answer.save(update_fields=["rating"])
    return answer


@transaction.atomic
def answer_add_to_dataset(
    *, answer: Answer, dataset: Dataset, ground_truth: str = ""
) -> DatasetItem:
    """Add the question, this answer as the prediction, an optional ground truth and the rating
    to one of the owner's QA datasets, as one item of its "chat" subset."""
    owner = answer.message.conversation.owner
    if answer.is_streaming:
        raise ValidationError(_("This answer is not complete yet."))
    if not (
        Dataset.objects.owned_by(owner).ready()
        .filter(pk=dataset.pk, format=Dataset.Format.QA).exists()
    ):
        raise ValidationError(_("Choose one of your own question-and-answer datasets."))
    item_id = f"chat-answer-{answer.pk}"
    if DatasetItem.objects.filter(
        dataset=dataset, subset=DATASET_ITEM_SUBSET, split=DATASET_ITEM_SPLIT, item_id=item_id
    ).exists():
        raise ValidationError(_("This answer is already in that dataset."))
    tags = ["chat", answer.rating] if answer.rating else ["chat"]
    [item] = dataset_items_add(dataset=dataset, items=[{
        "item_id": item_id,
        "subset": DATASET_ITEM_SUBSET,
        "split": DATASET_ITEM_SPLIT,
        "question": answer.message.content,
        "answer": ground_truth.strip(),
        "choices": [],
        "tags": tags,
        "extra": {
            "prediction": answer.content,
            "rating": answer.rating,
            "model": answer.model_name,
            "system_prompt": answer.system_prompt,
            "temperature": answer.temperature,
            "max_tokens": answer.max_tokens,
            "answer_status": answer.status,
        },
    }])
    answer.dataset_item = item
    answer.save(update_fields=["dataset_item"])
    return item
