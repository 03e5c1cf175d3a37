from django.urls import path

from llm_models import views

app_name = "llm_models"

urlpatterns = [
    path("", views.model_list, name="list"),
]
