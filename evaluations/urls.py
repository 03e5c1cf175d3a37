from django.urls import path

from evaluations import views

app_name = "evaluations"

urlpatterns = [
    path("", views.run_list, name="list"),
    path("new/", views.run_create, name="create"),
    path("compare/", views.compare, name="compare"),
    path("<int:pk>/", views.run_detail, name="run-detail"),
    path("<int:pk>/progress/", views.run_progress, name="run-progress"),
    path("<int:pk>/cancel/", views.run_cancel, name="run-cancel"),
    path("<int:pk>/resume/", views.run_resume, name="run-resume"),
    path("<int:pk>/retry-failed/", views.run_retry_failed, name="run-retry-failed"),
    path("<int:pk>/delete/", views.run_delete, name="run-delete"),
    path("<int:pk>/export.csv", views.run_export, {"file_format": "csv"}, name="run-export-csv"),
    path("<int:pk>/export.json", views.run_export, {"file_format": "json"}, name="run-export-json"),
    path("<int:pk>/items/<int:item_pk>/reproduce/", views.item_reproduce, name="item-reproduce"),
]
