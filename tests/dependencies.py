"""The test extras of pyproject.toml, checked before anything imports them.

A missing or too old test dependency must stop the run with its name, never turn into a skip
or into an import error deep in one module: ``conftest.py`` calls ``require_test_extras``
first. Skips stay for what a machine legitimately lacks (PostgreSQL-only tests on SQLite).
"""

import tomllib
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def declared_test_extras() -> list[str]:
    with PYPROJECT.open("rb") as file:
        extras: list[str] = tomllib.load(file)["project"]["optional-dependencies"]["test"]
    return extras


def unmet(requirements: Iterable[str]) -> list[str]:
    """Each requirement the environment does not meet, with what is installed instead."""
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            problems.append(f"{text} (not installed)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            problems.append(f"{text} ({installed} installed)")
    return problems


def require_test_extras() -> None:
    problems = unmet(declared_test_extras())
    if problems:
        raise pytest.UsageError(
            "The test dependencies of pyproject.toml are not met: "
            + ", ".join(problems)
            + ". Install them with: pip install -e '.[test]'"
        )
