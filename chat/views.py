from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def chat_index(request: HttpRequest) -> HttpResponse:
    return render(request, "coming_soon.html", {"area": _("Chat")})
