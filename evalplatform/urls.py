from django.contrib import admin
from django.urls import include, path

from accounts.views import dashboard, set_language

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("accounts/", include("allauth.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("models/", include("llm_models.urls")),
    path("chat/", include("chat.urls")),
    path("datasets/", include("datasets.urls")),
    path("evaluations/", include("evaluations.urls")),
    path("perf/", include("perfbench.urls")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = admin.site.site_title = "LLM Evaluation Platform"
