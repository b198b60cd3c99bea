"""Who the request is for, built from verified token claims alone.

`Principal` is frozen: once a token is verified nothing downstream mutates or re-reads the raw
claims. It answers the membership questions the app asks and quacks like a Django user so
`request.user`, `login_required` and templates work unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import TokenInvalid

# Bounds on what one token may claim; past them the token is refused, not truncated.
MAX_ORGS = 1000
MAX_PROJECTS = 5000
MAX_FIELD_CHARS = 200
ROLES = ("owner", "admin", "member")


@dataclass(frozen=True)
class Org:
    id: str
    slug: str
    name: str
    role: str


@dataclass(frozen=True)
class ProjectRef:
    id: str
    slug: str
    name: str
    org_id: str


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    email: str
    orgs: tuple[Org, ...]
    projects: tuple[ProjectRef, ...]
    scopes: frozenset[str]
    expires_at: int
    session_id: str | None = None
    issued_at: int | None = None  # `iat`: a revocation refuses tokens issued before it
    token_id: str | None = None  # `jti`: a sign-out here revokes this very token
    _orgs_by_slug: Mapping[str, Org] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_orgs_by_slug", {org.slug: org for org in self.orgs})

    # Django-compatible user surface.
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    @property
    def pk(self) -> str:
        return self.user_id

    @property
    def id(self) -> str:
        return self.user_id

    def get_username(self) -> str:
        return self.email or self.user_id

    def __str__(self) -> str:
        return self.name or self.get_username()

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    # Membership questions.
    def org(self, slug: str) -> Org | None:
        return self._orgs_by_slug.get(slug)

    def project(self, project_id: str) -> ProjectRef | None:
        return next((p for p in self.projects if p.id == project_id), None)

    def projects_in(self, org: Org) -> tuple[ProjectRef, ...]:
        return tuple(p for p in self.projects if p.org_id == org.id)

    def project_in(self, org_slug: str, project_slug: str) -> tuple[Org, ProjectRef] | None:
        """The (org, project) pair for a URL, or None when the claims do not grant it."""
        org = self.org(org_slug)
        if org is None:
            return None
        for project in self.projects_in(org):
            if project.slug == project_slug:
                return org, project
        return None


def _text(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TokenInvalid(f"{what} is not a string")
    text = str(value)
    if not text or len(text) > MAX_FIELD_CHARS:
        raise TokenInvalid(f"{what} is empty or longer than {MAX_FIELD_CHARS} characters")
    return text


def _list_of_objects(value: Any, what: str, limit: int) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TokenInvalid(f"claim {what!r} is not a list")
    if len(value) > limit:
        raise TokenInvalid(f"claim {what!r} has more than {limit} entries")
    if not all(isinstance(item, dict) for item in value):
        raise TokenInvalid(f"claim {what!r} holds a non-object entry")
    return value


def principal_from_claims(
    claims: Mapping[str, Any],
    *,
    orgs_claim: str = "orgs",
    projects_claim: str = "projects",
    display: Mapping[str, Any] | None = None,
) -> Principal:
    """Turn verified claims into a Principal; a claim of the wrong shape raises TokenInvalid.

    `display` (the ID token's claims) supplies `name`/`email` when the access token has none.
    """
    display = display or {}
    orgs = tuple(
        Org(
            id=_text(o.get("id"), "org id"),
            slug=_text(o.get("slug"), "org slug"),
            name=_text(o.get("name"), "org name"),
            role=str(o["role"]) if o.get("role") in ROLES else "member",
        )
        for o in _list_of_objects(claims.get(orgs_claim), orgs_claim, MAX_ORGS)
    )
    projects = tuple(
        ProjectRef(
            id=_text(p.get("id"), "project id"),
            slug=_text(p.get("slug"), "project slug"),
            name=_text(p.get("name"), "project name"),
            org_id=_text(p.get("org_id"), "project org_id"),
        )
        for p in _list_of_objects(claims.get(projects_claim), projects_claim, MAX_PROJECTS)
    )
    scope = claims.get("scope", "")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    name = claims.get("name") or display.get("name") or claims.get("preferred_username") or ""
    email = claims.get("email") or display.get("email") or ""
    sid = claims.get("sid")
    iat, jti = claims.get("iat"), claims.get("jti")
    return Principal(
        user_id=_text(claims["sub"], "sub"),
        name=name if isinstance(name, str) else "",
        email=email if isinstance(email, str) else "",
        orgs=orgs,
        projects=projects,
        scopes=scopes,
        expires_at=int(claims["exp"]),
        session_id=sid if isinstance(sid, str) else None,
        issued_at=int(iat) if isinstance(iat, (int, float)) and not isinstance(iat, bool) else None,
        token_id=jti if isinstance(jti, str) and jti else None,
    )
