from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.chat_index, name="index"),
    path("new/", views.conversation_create, name="create"),
    path("<int:pk>/", views.conversation_detail, name="detail"),
    path("<int:pk>/rename/", views.conversation_rename, name="rename"),
    path("<int:pk>/delete/", views.conversation_delete, name="delete"),
    path("<int:pk>/slots/add/", views.slot_add, name="slot-add"),
    path("<int:pk>/slots/<int:slot_pk>/", views.slot_update, name="slot-update"),
    path("<int:pk>/slots/<int:slot_pk>/remove/", views.slot_remove, name="slot-remove"),
    path("answers/<int:pk>/rate/", views.answer_rate, name="answer-rate"),
    path(
        "answers/<int:pk>/add-to-dataset/", views.answer_add_to_dataset,
        name="answer-add-to-dataset",
    ),
]
