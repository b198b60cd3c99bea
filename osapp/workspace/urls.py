"""Workspace pages. `<org>` and `<project>` are slugs (DESIGN §8)."""

from django.urls import path

from . import views

app_name = "workspace"

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/new", views.new_project, name="new-project"),
    path("o/<slug:org>/", views.organization, name="organization"),
    path("o/<slug:org>/p/<slug:project>/", views.project, name="project"),
]
