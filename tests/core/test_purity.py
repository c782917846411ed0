"""app/core is pure: no module in it imports a web framework, a database library or any part of
the service outside app/core, at the top of a file or inside a function. Routes, services and the
database layer build on it and never the other way round, so it runs, and is tested, without a
server or a database."""

import ast

from tests.conftest import REPO

CORE = REPO / "app" / "core"
FORBIDDEN = ("fastapi", "starlette", "sqlalchemy", "sqlmodel")


def imported(source: str, module: str) -> list[str]:
    """Every module an import statement in ``source`` (the text of ``module``) names, wherever
    the statement is: ``from a import b`` names ``a`` and ``a.b``; relative imports resolved."""
    package = module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return found


def impure(name: str) -> bool:
    if name.split(".")[0] in FORBIDDEN:
        return True
    in_app = name == "app" or name.startswith("app.")
    return in_app and not (name == "app.core" or name.startswith("app.core."))


def test_core_imports_nothing_outside_core() -> None:
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 10
    found = [
        f"{path.relative_to(REPO)}: {name}"
        for path in modules
        for name in imported(
            path.read_text(encoding="utf-8"),
            ".".join(path.relative_to(REPO).with_suffix("").parts),
        )
        if impure(name)
    ]
    assert found == []


def test_the_check_sees_imports_inside_functions_and_relative_ones() -> None:
    source = """
import json
from app.core import jsonld
from . import document


def later():
    from sqlalchemy import select
    from .. import errors
    import fastapi.responses
"""
    names = imported(source, "app.core.example")
    assert [name for name in names if impure(name)] == [
        "sqlalchemy",
        "sqlalchemy.select",
        "app",
        "app.errors",
        "fastapi.responses",
    ]
    assert "app.core.document" in names
