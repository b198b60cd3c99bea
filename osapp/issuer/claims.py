"""The claims this issuer puts in tokens about a user, read fresh from the database.

The shapes are the contract of DESIGN.md §3: ``orgs`` is a list of ``{id, slug, name, role}``
and ``projects`` a list of ``{id, slug, name, org_id}``. Ids are strings.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from osapp.issuer.models import Membership, Project


def display_name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def identity_claims(user: Any) -> dict[str, str]:
    """``name``, ``email`` and ``preferred_username`` (OIDC Core §5.1 standard claims)."""
    return {
        "name": display_name(user),
        "email": user.email,
        "preferred_username": user.get_username(),
    }


def membership_claims(user: AbstractBaseUser) -> dict[str, list[dict[str, str]]]:
    """``orgs`` and ``projects`` the user belongs to, in a stable order."""
    memberships = Membership.objects.filter(user=user).select_related("org").order_by("org__slug")
    projects = Project.objects.filter(members__user=user).order_by("org__slug", "slug")
    return {
        "orgs": [
            {"id": str(m.org.pk), "slug": m.org.slug, "name": m.org.name, "role": m.role}
            for m in memberships
        ],
        "projects": [
            {"id": str(p.pk), "slug": p.slug, "name": p.name, "org_id": str(p.org_id)}
            for p in projects
        ],
    }
