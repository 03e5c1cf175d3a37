from django.urls import path

from datasets import views

app_name = "datasets"

urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("upload/", views.dataset_upload, name="upload"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("imports/<int:pk>/skip-invalid/", views.import_skip_invalid, name="import-skip-invalid"),
    path("<int:pk>/", views.dataset_detail, name="detail"),
    path("<int:pk>/edit/", views.dataset_edit, name="edit"),
    path("<int:pk>/delete/", views.dataset_delete, name="delete"),
    path("<int:pk>/export.jsonl", views.dataset_export, {"file_format": "jsonl"}, name="export-jsonl"),
    path("<int:pk>/export.csv", views.dataset_export, {"file_format": "csv"}, name="export-csv"),
]
