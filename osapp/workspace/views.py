"""Pages built from the Principal: no issuer call, and no database lookup for who may see what.

A project that is not in the claims is a 404, whether or not it exists elsewhere: the claims
are the whole truth about what this user may open (DESIGN §3). The event stream itself lives
in osapp's database.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from .events import InvalidEvent, append_event, list_events
from .projects import ProjectCreationFailed, create_project, renew_with

MAX_PROJECT_NAME = 100


def home(request: HttpRequest) -> HttpResponse:
    principal = request.principal
    if principal is None:
        return render(request, "workspace/landing.html")
    orgs = [(org, principal.projects_in(org)) for org in principal.orgs]
    return render(request, "workspace/home.html", {"orgs": orgs})


@login_required
def organization(request: HttpRequest, org: str) -> HttpResponse:
    membership = request.principal.org(org)
    if membership is None:
        raise Http404("No such organization")
    return render(
        request,
        "workspace/organization.html",
        {"org": membership, "projects": request.principal.projects_in(membership)},
    )


def _before(request: HttpRequest) -> int | None:
    raw = request.GET.get("before", "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


@login_required
@require_http_methods(["GET", "POST"])
def project(request: HttpRequest, org: str, project: str) -> HttpResponse:
    found = request.principal.project_in(org, project)
    if found is None:
        raise Http404("No such project")
    membership, project_ref = found
    error, draft = "", ""
    if request.method == "POST":
        draft = request.POST.get("body", "")
        try:
            append_event(request.principal, membership, project_ref, draft)
        except InvalidEvent as exc:
            error = str(exc)
        else:
            return HttpResponseRedirect(request.path)  # post/redirect/get
    page = list_events(project_ref, before=_before(request))
    return render(
        request,
        "workspace/project.html",
        {"org": membership, "project": project_ref, "page": page, "error": error, "draft": draft},
        status=400 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def new_project(request: HttpRequest) -> HttpResponse:
    principal = request.principal
    orgs = principal.orgs
    if not orgs:
        raise Http404("No organization to create a project in")
    error, name, chosen = "", "", orgs[0].slug
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        chosen = request.POST.get("org", orgs[0].slug if len(orgs) == 1 else "")
        org = principal.org(chosen)
        if org is None:
            error = "Choose one of your organizations."
        elif not name or len(name) > MAX_PROJECT_NAME:
            error = f"Give the project a name of 1 to {MAX_PROJECT_NAME} characters."
        else:
            try:
                created = create_project(request, org, name)
            except ProjectCreationFailed as exc:
                error = str(exc)
            else:
                principal = renew_with(request, created)
                if principal is not None and principal.project(created.id) is not None:
                    return HttpResponseRedirect(reverse("workspace:project", args=[org.slug, created.slug]))
                # Created, but the session could not be renewed yet: it appears after sign-in.
                return HttpResponseRedirect(reverse("workspace:organization", args=[org.slug]))
    return render(
        request,
        "workspace/new_project.html",
        {"orgs": orgs, "error": error, "name": name, "chosen": chosen},
        status=400 if error else 200,
    )
