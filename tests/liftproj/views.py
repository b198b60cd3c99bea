from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from osapp.claims import principal_of


def home(request: HttpRequest) -> HttpResponse:
    principal = principal_of(request)
    if principal is None:
        return redirect_to_login(request.get_full_path())
    return render(request, "lift/home.html", {"principal": principal})
