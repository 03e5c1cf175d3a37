from django.urls import path

from perfbench import views

app_name = "perfbench"

urlpatterns = [
    path("", views.run_list, name="list"),
    path("new/", views.run_create, name="create"),
    path("new/slices/", views.dataset_slices, name="dataset-slices"),
    path("compare/", views.run_compare, name="compare"),
    path("<int:pk>/", views.run_detail, name="detail"),
    path("<int:pk>/cancel/", views.run_cancel, name="cancel"),
    path("<int:pk>/delete/", views.run_delete, name="delete"),
]
