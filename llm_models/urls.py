from django.urls import path

from llm_models import views

app_name = "llm_models"

urlpatterns = [
    path("", views.model_list, name="list"),
    path("new/", views.model_create, name="create"),
    path("<int:pk>/", views.model_detail, name="detail"),
    path("<int:pk>/edit/", views.model_edit, name="edit"),
    path("<int:pk>/delete/", views.model_delete, name="delete"),
    path("<int:pk>/check/", views.model_check, name="check"),
]
