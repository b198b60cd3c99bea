"""The issuer's own page: who is signed in here, and where the endpoints are."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "issuer/home.html")
