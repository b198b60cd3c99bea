"""The layering of DESIGN §2, checked on the source: `claims` could be lifted into another project.

`workspace` may import `claims`; `claims` never imports `workspace` or `issuer`; `issuer` shares
nothing with the other two but the token claim format.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

OSAPP = Path(__file__).resolve().parents[2] / "osapp"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved against its package."""
    package = ".".join(path.relative_to(OSAPP.parent).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(OSAPP.parent).parts[:-1])
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


@pytest.mark.parametrize(
    ("component", "forbidden"),
    [
        ("claims", ("osapp.workspace", "osapp.issuer")),
        ("issuer", ("osapp.claims", "osapp.workspace")),
    ],
)
def test_component_never_imports_the_others(component, forbidden):
    offenders = sorted(
        f"{path.relative_to(OSAPP.parent)}: {module}"
        for path in (OSAPP / component).rglob("*.py")
        for module in imported_modules(path)
        if module.startswith(forbidden)
    )
    assert offenders == []


def test_the_check_sees_relative_imports():
    # The checker itself: a relative import out of claims/ must resolve to its absolute name.
    assert "osapp.claims.verifier" in imported_modules(OSAPP / "claims" / "middleware.py")
