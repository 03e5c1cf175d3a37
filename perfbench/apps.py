from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PerfbenchConfig(AppConfig):
    name = "perfbench"
    verbose_name = _("Performance")
