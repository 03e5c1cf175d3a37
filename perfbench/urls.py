from django.urls import path

from perfbench import views

app_name = "perfbench"

urlpatterns = [
    path("", views.run_list, name="list"),
]
