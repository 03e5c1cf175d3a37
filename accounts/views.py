from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import i18n


def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard.html")


# The language switch is also offered on the login page.
set_language = login_not_required(i18n.set_language)


@login_not_required
def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)
