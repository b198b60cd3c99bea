"""The layering of DESIGN §2 and §13, checked on the source: `claims` could be lifted into
another project.

`claims` imports nothing else of osapp; `issuer` shares nothing with the other two but the
token claim format; `workspace` and the project modules use `claims` only through its public
API (`osapp.claims`, the names in its `__all__`) and never import `issuer`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

OSAPP = Path(__file__).resolve().parents[2] / "osapp"


def imported_modules(path: Path) -> set[str]:
    return imported_modules_at(path, OSAPP.parent)


def imported_modules_at(path: Path, root: Path) -> set[str]:
    """Every module a file imports, relative imports resolved against its package."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(root).parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def offenders(paths: list[Path], allowed: Callable[[str], bool]) -> list[str]:
    return sorted(
        f"{path.relative_to(OSAPP.parent)}: {module}"
        for path in paths
        for module in imported_modules(path)
        if module.startswith("osapp") and not allowed(module)
    )


def public_claims_only(module: str) -> bool:
    """`osapp.claims` itself or a name it exports; never a module inside it."""
    import osapp.claims

    if not module.startswith("osapp.claims"):
        return True
    rest = module.removeprefix("osapp.claims")
    return rest == "" or (rest.startswith(".") and rest[1:] in osapp.claims.__all__)


def within(*packages: str) -> Callable[[str], bool]:
    return lambda module: module == "osapp" or module.startswith(packages)


@pytest.mark.parametrize(
    ("component", "allowed"),
    [
        ("claims", within("osapp.claims")),
        ("issuer", within("osapp.issuer")),
    ],
)
def test_component_never_imports_the_rest_of_osapp(component, allowed):
    assert offenders(list((OSAPP / component).rglob("*.py")), allowed) == []


def product_files() -> list[Path]:
    """The workspace and the project modules around the components (settings, asgi, ops, …)."""
    return list((OSAPP / "workspace").rglob("*.py")) + [p for p in OSAPP.glob("*.py")]


def test_the_product_uses_claims_only_through_its_public_api_and_never_the_issuer():
    def allowed(module: str) -> bool:
        return public_claims_only(module) and not module.startswith("osapp.issuer")

    workspace = list((OSAPP / "workspace").rglob("*.py"))
    assert offenders(workspace, allowed) == []
    # The project modules may start the issuer (the development run), never reach into claims.
    assert offenders(product_files(), public_claims_only) == []


def test_the_public_api_is_what_all_says_and_every_name_resolves():
    import osapp.claims

    assert sorted(osapp.claims.__all__) == sorted(osapp.claims._EXPORTS)
    for name in osapp.claims.__all__:
        assert getattr(osapp.claims, name) is not None, name


def test_the_check_sees_relative_imports():
    # The checker itself: a relative import out of claims/ must resolve to its absolute name.
    assert "osapp.claims.runtime" in imported_modules(OSAPP / "claims" / "middleware.py")


def test_the_check_catches_a_private_claims_import_planted_in_the_workspace(tmp_path):
    # The checker itself, on a planted file shaped like a workspace module.
    planted = tmp_path / "osapp" / "workspace" / "planted.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("from osapp.claims.verifier import Verifier\nfrom osapp.claims import Principal\n")
    found = {m for m in imported_modules_at(planted, tmp_path) if not public_claims_only(m)}
    assert found == {"osapp.claims.verifier", "osapp.claims.verifier.Verifier"}
