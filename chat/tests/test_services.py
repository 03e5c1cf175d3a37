import pytest
from django.core.exceptions import ValidationError

from chat import services
from chat.models import Answer, Slot
from chat.streaming import upstream_messages
from chat.tests.conftest import answer_finish, turn_start
from datasets.models import Dataset, DatasetItem
from llm_models.models import LLMModel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_new_conversation_without_a_model_takes_the_first_one_the_owner_may_use(alice, make_model):
    model = make_model(name="A first")
    conversation = services.conversation_create(owner=alice)
    assert conversation.slots.get().model == model


def test_new_conversation_refuses_a_strangers_model(alice, bob, demo_llm_url):
    bobs = LLMModel.objects.create(owner=bob, name="Bob's", base_url=demo_llm_url, model_name="demo-fast")
    with pytest.raises(ValidationError):
        services.conversation_create(owner=alice, model=bobs)


def test_a_removed_slots_position_is_reused_and_its_answers_stay(alice, make_model, make_conversation):
    conversation = make_conversation(make_model(), make_model(), make_model())
    turn_start(conversation, "Hi")
    middle = conversation.slots.get(position=2)
    services.slot_remove(slot=middle)
    assert [slot.position for slot in conversation.slots.all()] == [1, 3]
    assert Answer.objects.filter(slot_position=2, slot=None).exists()
    assert services.slot_add(conversation=conversation).position == 2


def test_turn_start_snapshots_each_slots_settings_and_titles_the_conversation(alice, make_model, make_conversation):
    conversation = make_conversation(make_model(name="One"), make_model(name="Two"), system_prompts=["Be kind.", ""])
    Slot.objects.filter(position=2).update(temperature=0.1, max_tokens=7)
    long_question = "Why is the sky blue?   And why\nare sunsets red, orange and sometimes even purple or green?"
    turn = turn_start(conversation, long_question)
    answers = list(turn.message.answers.all())
    assert [(a.model_name, a.system_prompt, a.temperature, a.max_tokens, a.status) for a in answers] == [
        ("One", "Be kind.", 0.7, 1024, "streaming"), ("Two", "", 0.1, 7, "streaming"),
    ]
    conversation.refresh_from_db()
    assert conversation.title == "Why is the sky blue? And why are sunsets red, orange and so…"
    assert len(conversation.title) == services.TITLE_FROM_MESSAGE_LENGTH
    turn_start(conversation, "Another question")
    conversation.refresh_from_db()
    assert conversation.title.startswith("Why is the sky blue?")


def test_history_holds_only_the_slots_own_answers_and_skips_failed_ones(alice, make_model, make_conversation):
    conversation = make_conversation(make_model(), make_model())
    first = turn_start(conversation, "Q1").calls
    answer_finish(first[0].answer, status=Answer.Status.DONE, content="A1 from slot 1")
    answer_finish(first[1].answer, status=Answer.Status.ERROR, content="", error="503")
    second = turn_start(conversation, "Q2").calls
    answer_finish(second[0].answer, status=Answer.Status.STOPPED, content="A2 partial")
    answer_finish(second[1].answer, status=Answer.Status.DONE, content="A2 from slot 2")
    third = services.turn_build(plan=services.chat_plan(conversation=conversation), content="Q3").calls
    assert third[0].history == (("Q1", "A1 from slot 1"), ("Q2", "A2 partial"))
    assert third[1].history == (("Q2", "A2 from slot 2"),)
    assert upstream_messages(third[1], "Q3") == [
        {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2 from slot 2"},
        {"role": "user", "content": "Q3"},
    ]


def test_the_plan_kept_after_a_turn_is_the_one_the_database_gives(alice, make_model, make_conversation):
    conversation = make_conversation(make_model(), make_model(), make_model())
    plan = services.chat_plan(conversation=conversation)
    for question, outcomes in [
        ("Q1", [(Answer.Status.DONE, "A1"), (Answer.Status.ERROR, ""), (Answer.Status.STOPPED, "")]),
        ("Q2", [(Answer.Status.INTERRUPTED, "A2 partial"), (Answer.Status.DONE, "A2"), (Answer.Status.ERROR, "half")]),
    ]:
        turn = services.turn_build(plan=plan, content=question)
        services.turn_save(turn=turn)
        for call, (status, content) in zip(turn.calls, outcomes, strict=True):
            call.answer.finish(status=status, content=content)
        services.answers_save(answers=[call.answer for call in turn.calls])
        plan = services.chat_plan_after(plan=plan, turn=turn)
        read = services.chat_plan(conversation=conversation)
        assert plan.signature == read.signature
        assert [slot.history for slot in plan.slots] == [slot.history for slot in read.slots]
        assert plan.title == read.title == "Q1"
    assert [slot.history for slot in plan.slots] == [(("Q1", "A1"), ("Q2", "A2 partial")), (("Q2", "A2"),), ()]


def test_checking_a_kept_plan_reads_no_history(alice, make_model, make_conversation, django_assert_num_queries):
    conversation = make_conversation(make_model(), make_model())
    for question in ["Q1", "Q2", "Q3"]:
        for call in turn_start(conversation, question).calls:
            answer_finish(call.answer, status=Answer.Status.DONE, content=f"A to {question}")
    plan = services.chat_plan(conversation=conversation)
    with django_assert_num_queries(2):
        checked = services.chat_plan(conversation=conversation, known=plan)
    assert checked.signature == plan.signature and checked.slots[0].history == plan.slots[0].history


def test_the_plans_signature_changes_with_any_setting_the_requests_depend_on(alice, make_model, make_conversation):
    model = make_model()
    model.api_key = "sk-secret-1234"
    model.save()
    conversation = make_conversation(model)
    before = services.chat_plan(conversation=conversation).signature
    assert services.chat_plan(conversation=conversation).signature == before
    LLMModel.objects.filter(pk=model.pk).update(base_url="http://127.0.0.1:9/v1")
    assert services.chat_plan(conversation=conversation).signature != before
    LLMModel.objects.filter(pk=model.pk).update(base_url=model.base_url)
    assert services.chat_plan(conversation=conversation).signature == before
    Slot.objects.filter(conversation=conversation).update(temperature=0.2)
    assert services.chat_plan(conversation=conversation).signature != before


def test_system_prompt_opens_the_upstream_messages(alice, make_model, make_conversation):
    conversation = make_conversation(make_model(), system_prompts=["Answer in French."])
    [call] = services.turn_build(plan=services.chat_plan(conversation=conversation), content="Hello").calls
    assert upstream_messages(call, "Hello") == [
        {"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hello"},
    ]


def test_a_slot_whose_model_was_deleted_or_disabled_is_reported(alice, make_model, make_conversation):
    gone, disabled = make_model(name="Gone"), make_model(name="Off")
    conversation = make_conversation(gone, disabled)
    gone.delete()
    LLMModel.objects.filter(pk=disabled.pk).update(enabled=False)
    calls = services.turn_build(plan=services.chat_plan(conversation=conversation), content="Hello").calls
    assert "no model" in calls[0].problem
    assert "“Off” is not available" in calls[1].problem
    assert calls[0].answer.model_name == "Gone"  # The name it had is kept for the record.


def test_adding_the_same_answer_twice_to_a_dataset_is_refused(alice, make_model, make_conversation):
    dataset = Dataset.objects.create(owner=alice, name="QA", format=Dataset.Format.QA)
    conversation = make_conversation(make_model())
    [call] = turn_start(conversation, "Q").calls
    with pytest.raises(ValidationError, match="not complete"):
        services.answer_add_to_dataset(answer=call.answer, dataset=dataset)
    answer = answer_finish(call.answer, status=Answer.Status.DONE, content="A")
    item = services.answer_add_to_dataset(answer=answer, dataset=dataset)
    assert (item.subset, item.split, item.answer, item.tags) == ("chat", "test", "", ["chat"])
    with pytest.raises(ValidationError, match="already"):
        services.answer_add_to_dataset(answer=answer, dataset=dataset)
    assert DatasetItem.objects.count() == 1


def test_rating_must_be_good_bad_or_nothing(alice, make_model, make_conversation):
    conversation = make_conversation(make_model())
    [call] = turn_start(conversation, "Q").calls
    with pytest.raises(ValidationError):
        services.answer_rate(answer=call.answer, rating="meh")
