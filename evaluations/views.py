from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def run_list(request: HttpRequest) -> HttpResponse:
    return render(request, "coming_soon.html", {"area": _("Evaluations")})
