"""Sign-in required on every page; HTMX requests from an expired session reload into login."""

from urllib.parse import urlsplit

from django.contrib.auth import middleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import resolve_url


class LoginRequiredMiddleware(middleware.LoginRequiredMiddleware):
    def handle_no_permission(self, request, view_func):
        if not getattr(request, "htmx", False):
            return super().handle_no_permission(request, view_func)
        # A redirect answered to htmx would be swapped into a fragment of the page: send the
        # whole browser to login instead, coming back to the page the user was looking at.
        current = urlsplit(request.htmx.current_url or request.get_full_path())
        back_to = current.path + (f"?{current.query}" if current.query else "")
        login = redirect_to_login(back_to, resolve_url(self.get_login_url(view_func)))
        response = HttpResponse(status=204)
        response["HX-Redirect"] = login["Location"]
        return response
