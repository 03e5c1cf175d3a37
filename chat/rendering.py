"""HTML fragments shown both on the chat page and through the websocket: a turn (the question and
one card per slot) and an answer card. Rendering needs no database: the answers are in hand."""

from collections.abc import Iterable

from django.template.loader import render_to_string
from django.utils import translation

from chat.models import Answer, Message
from datasets.models import Dataset


def dataset_choices(owner) -> list[Dataset]:
    """The datasets an answer can be added to: the owner's own question-and-answer ones."""
    datasets = Dataset.objects.owned_by(owner).ready().filter(format=Dataset.Format.QA)
    return list(datasets.only("pk", "name").order_by("name"))


def turn_html(message: Message, answers: Iterable[Answer], *, language: str) -> str:
    with translation.override(language):
        context = {"message": message, "answers": list(answers)}
        return render_to_string("chat/partials/turn.html", context)


def answer_html(answer: Answer, *, datasets: list[Dataset], language: str) -> str:
    with translation.override(language):
        context = {"answer": answer, "datasets": datasets}
        return render_to_string("chat/partials/answer.html", context)
