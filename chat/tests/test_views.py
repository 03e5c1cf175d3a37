import pytest
from django.test import Client
from django.urls import reverse

from chat import services
from chat.models import Answer, Conversation, Message
from chat.tests.conftest import answer_finish, turn_start
from datasets.models import Dataset, DatasetItem
from llm_models.models import LLMModel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

HTMX = {"HX-Request": "true", "Accept-Language": "en"}


@pytest.fixture
def conversation(make_model, make_conversation) -> Conversation:
    return make_conversation(make_model("demo-fast", name="Fast"), make_model("demo-slow", name="Slow"))


@pytest.fixture
def answer(conversation) -> Answer:
    turn = turn_start(conversation, "What is 2+2?")
    return answer_finish(turn.calls[0].answer, status=Answer.Status.DONE, content="**4**", ttft_ms=12, total_ms=40)


@pytest.fixture
def qa_dataset(alice) -> Dataset:
    return Dataset.objects.create(owner=alice, name="Chat finds", format=Dataset.Format.QA)


def test_start_chat_from_the_model_list_opens_a_conversation_with_that_model(alice_client: Client, alice, make_model):
    model = make_model("demo-fast", name="Picked")
    models_page = alice_client.get(reverse("llm_models:list")).content.decode()
    assert f'action="{reverse("chat:create")}"' in models_page and f'name="model" value="{model.pk}"' in models_page
    response = alice_client.post(reverse("chat:create"), {"model": model.pk})
    conversation = Conversation.objects.get(owner=alice)
    assert response.status_code == 302 and response["Location"] == reverse("chat:detail", args=[conversation.pk])
    [slot] = conversation.slots.all()
    assert (slot.position, slot.model, slot.model_name) == (1, model, "Picked")
    assert (slot.temperature, slot.max_tokens) == (model.temperature, model.max_tokens)


def test_start_chat_with_a_strangers_or_disabled_model_is_404(alice_client: Client, bob, make_model, demo_llm_url):
    bobs = LLMModel.objects.create(owner=bob, name="Bob's", base_url=demo_llm_url, model_name="demo-fast")
    disabled = make_model("demo-fast", name="Off")
    disabled.enabled = False
    disabled.save()
    for pk in (bobs.pk, disabled.pk, "abc"):
        assert alice_client.get(reverse("chat:index"), {"model": pk}).status_code == 404
    for pk in (bobs.pk, disabled.pk):
        assert alice_client.post(reverse("chat:create"), {"model": pk}).status_code == 400
    assert not Conversation.objects.exists()


def test_index_with_a_model_preselects_it_and_creates_nothing(alice_client: Client, make_model):
    model = make_model("demo-fast", name="Picked")
    response = alice_client.get(reverse("chat:index"), {"model": model.pk})
    assert response.status_code == 200 and response.context["form"].initial["model"] == model
    assert not Conversation.objects.exists()


def test_index_lists_only_my_conversations_and_offers_a_new_chat(alice_client: Client, bob, conversation, make_conversation, make_model):
    bobs = make_conversation(make_model(), owner=bob)
    Conversation.objects.filter(pk=bobs.pk).update(title="Bob's secret chat")
    Conversation.objects.filter(pk=conversation.pk).update(title="Alice's chat")
    html = alice_client.get(reverse("chat:index")).content.decode()
    assert "Alice&#x27;s chat" in html and "secret" not in html
    assert 'data-testid="new-chat-form"' in html


def test_new_chat_form_creates_a_conversation(alice_client: Client, alice, make_model):
    model = make_model()
    response = alice_client.post(reverse("chat:create"), {"model": model.pk})
    conversation = Conversation.objects.get(owner=alice)
    assert response["Location"] == reverse("chat:detail", args=[conversation.pk])


def test_detail_shows_the_slots_configuration_and_the_websocket_path(alice_client: Client, conversation):
    html = alice_client.get(reverse("chat:detail", args=[conversation.pk]), headers={"Accept-Language": "en"}).content.decode()
    assert html.count('data-testid="slot-form"') == 2
    assert f'data-ws-path="/ws/chat/{conversation.pk}/"' in html
    assert "Model configuration" in html and 'data-testid="send"' in html and 'data-testid="stop"' in html
    assert "js/chat.js" in html


def test_reopened_conversation_shows_each_answer_with_its_model_and_timings(alice_client: Client, conversation, answer):
    html = alice_client.get(reverse("chat:detail", args=[conversation.pk]), headers={"Accept-Language": "en"}).content.decode()
    assert "What is 2+2?" in html
    assert "<strong>4</strong>" in html  # Rendered Markdown.
    assert "Fast" in html and "first token 12 ms" in html and "total 40 ms" in html
    assert 'data-status="streaming"' in html  # The second slot's answer never finished.
    assert 'id="messages"' not in html  # Chat messages are not flash messages.


def test_rename_answers_with_the_sidebar_entry(alice_client: Client, conversation):
    response = alice_client.post(reverse("chat:rename", args=[conversation.pk]), {"title": "  Maths  "}, headers=HTMX)
    conversation.refresh_from_db()
    assert conversation.title == "Maths"
    assert response.status_code == 200 and 'id="conversation-' in response.content.decode()


def test_delete_from_its_own_page_goes_back_to_the_index(alice_client: Client, conversation, answer):
    detail = reverse("chat:detail", args=[conversation.pk])
    response = alice_client.post(reverse("chat:delete", args=[conversation.pk]),
                                 headers={**HTMX, "HX-Current-URL": f"http://testserver{detail}"})
    assert response["HX-Redirect"] == reverse("chat:index")
    assert not Conversation.objects.exists() and not Message.objects.exists() and not Answer.objects.exists()


def test_delete_from_another_page_removes_just_the_sidebar_entry(alice_client: Client, conversation, make_conversation, make_model):
    other = make_conversation(make_model())
    other_page = reverse("chat:detail", args=[other.pk])
    response = alice_client.post(reverse("chat:delete", args=[conversation.pk]),
                                 headers={**HTMX, "HX-Current-URL": f"http://testserver{other_page}"})
    assert response.status_code == 200 and response.content == b""
    assert list(Conversation.objects.all()) == [other]


def test_slots_are_added_up_to_three_and_the_last_one_cannot_be_removed(alice_client: Client, conversation):
    add = reverse("chat:slot-add", args=[conversation.pk])
    html = alice_client.post(add, headers=HTMX).content.decode()
    assert html.count('data-testid="slot-form"') == 3 and 'data-testid="slot-add"' not in html
    assert "at most 3" in alice_client.post(add, headers=HTMX).content.decode()
    assert conversation.slots.count() == 3
    slots = list(conversation.slots.all())
    for slot in slots[:2]:
        alice_client.post(reverse("chat:slot-remove", args=[conversation.pk, slot.pk]), headers=HTMX)
    html = alice_client.post(reverse("chat:slot-remove", args=[conversation.pk, slots[2].pk]), headers=HTMX).content.decode()
    assert "at least one model" in html
    assert [slot.position for slot in conversation.slots.all()] == [3]


def test_slot_settings_change_between_turns(alice_client: Client, conversation, make_model):
    other = make_model("demo-slow", name="Other")
    slot = conversation.slots.get(position=2)
    data = {"slot2-model": other.pk, "slot2-system_prompt": "Be brief.", "slot2-temperature": "0.2", "slot2-max_tokens": "64"}
    response = alice_client.post(reverse("chat:slot-update", args=[conversation.pk, slot.pk]), data, headers=HTMX)
    slot.refresh_from_db()
    assert response.status_code == 200
    assert (slot.model, slot.model_name, slot.system_prompt, slot.temperature, slot.max_tokens) == (other, "Other", "Be brief.", 0.2, 64)


def test_slot_cannot_use_a_strangers_model_or_a_wild_temperature(alice_client: Client, conversation, bob, demo_llm_url):
    bobs = LLMModel.objects.create(owner=bob, name="Bob's", base_url=demo_llm_url, model_name="demo-fast")
    slot = conversation.slots.get(position=1)
    url = reverse("chat:slot-update", args=[conversation.pk, slot.pk])
    base = {"slot1-system_prompt": "", "slot1-temperature": "0.5", "slot1-max_tokens": "10"}
    html = alice_client.post(url, {**base, "slot1-model": bobs.pk}, headers=HTMX).content.decode()
    assert "Select a valid choice" in html
    html = alice_client.post(url, {**base, "slot1-model": slot.model_id, "slot1-temperature": "5"}, headers=HTMX).content.decode()
    assert "between 0 and 2" in html
    slot.refresh_from_db()
    assert slot.temperature == 0.7


def test_rating_an_answer_good_then_taking_it_back(alice_client: Client, answer):
    url = reverse("chat:answer-rate", args=[answer.pk])
    html = alice_client.post(url, {"rating": "good"}, headers=HTMX).content.decode()
    answer.refresh_from_db()
    assert answer.rating == "good" and 'aria-pressed="true"' in html
    alice_client.post(url, {"rating": ""}, headers=HTMX)
    answer.refresh_from_db()
    assert answer.rating == ""


def test_add_to_dataset_puts_question_prediction_ground_truth_and_mark_into_my_qa_dataset(alice_client: Client, answer, qa_dataset):
    services.answer_rate(answer=answer, rating="bad")
    response = alice_client.post(reverse("chat:answer-add-to-dataset", args=[answer.pk]),
                                 {"dataset": qa_dataset.pk, "ground_truth": "4"}, headers=HTMX)
    item = DatasetItem.objects.get(dataset=qa_dataset)
    assert "In dataset “Chat finds”" in response.content.decode()
    assert (item.question, item.answer, item.choices) == ("What is 2+2?", "4", [])
    assert item.extra["prediction"] == "**4**" and item.extra["rating"] == "bad"
    assert item.tags == ["chat", "bad"] and item.extra["model"] == "Fast"
    qa_dataset.refresh_from_db()
    assert qa_dataset.item_count == 1


def test_add_to_dataset_refuses_mcq_system_and_strangers_datasets(alice_client: Client, answer, alice, bob):
    for owner, format in ((alice, Dataset.Format.MCQ), (None, Dataset.Format.QA), (bob, Dataset.Format.QA)):
        dataset = Dataset.objects.create(owner=owner, name=f"{owner}-{format}", format=format)
        response = alice_client.post(reverse("chat:answer-add-to-dataset", args=[answer.pk]), {"dataset": dataset.pk}, headers=HTMX)
        assert "Select a valid choice" in response.content.decode()
    assert not DatasetItem.objects.exists()


@pytest.mark.parametrize("name", ["rename", "delete", "slot-add"])
def test_stranger_gets_404_on_conversation_changes(bob_client: Client, conversation, name):
    response = bob_client.post(reverse(f"chat:{name}", args=[conversation.pk]), {"title": "Mine now"})
    assert response.status_code == 404
    assert Conversation.objects.filter(pk=conversation.pk, title="").exists()


def test_stranger_gets_404_on_the_page_slots_and_answers(bob_client: Client, conversation, answer, bob):
    slot = conversation.slots.first()
    bobs_dataset = Dataset.objects.create(owner=bob, name="Bob's", format=Dataset.Format.QA)
    assert bob_client.get(reverse("chat:detail", args=[conversation.pk])).status_code == 404
    assert bob_client.post(reverse("chat:slot-update", args=[conversation.pk, slot.pk]), {}).status_code == 404
    assert bob_client.post(reverse("chat:slot-remove", args=[conversation.pk, slot.pk])).status_code == 404
    assert bob_client.post(reverse("chat:answer-rate", args=[answer.pk]), {"rating": "bad"}).status_code == 404
    url = reverse("chat:answer-add-to-dataset", args=[answer.pk])
    assert bob_client.post(url, {"dataset": bobs_dataset.pk}).status_code == 404
    assert not DatasetItem.objects.exists() and Answer.objects.get(pk=answer.pk).rating == ""


def test_a_slot_is_found_only_through_its_own_conversation(alice_client: Client, conversation, make_conversation, make_model):
    other = make_conversation(make_model())
    slot = conversation.slots.first()
    assert alice_client.post(reverse("chat:slot-remove", args=[other.pk, slot.pk])).status_code == 404


@pytest.mark.parametrize("name, args", [
    ("create", []), ("rename", ["conversation"]), ("delete", ["conversation"]), ("slot-add", ["conversation"]),
    ("slot-update", ["conversation", "slot"]), ("slot-remove", ["conversation", "slot"]),
    ("answer-rate", ["answer"]), ("answer-add-to-dataset", ["answer"]),
])
def test_changes_are_post_only(alice_client: Client, conversation, answer, name, args):
    objects = {"conversation": conversation.pk, "slot": conversation.slots.first().pk, "answer": answer.pk}
    assert alice_client.get(reverse(f"chat:{name}", args=[objects[arg] for arg in args])).status_code == 405


def test_anonymous_visitor_is_sent_to_login(client: Client, conversation):
    response = client.get(reverse("chat:detail", args=[conversation.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_dashboard_card_leads_to_chat(alice_client: Client):
    html = alice_client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("chat:index")}"' in html
