"""Test dependency hygiene (issue 16 item 5): a missing test dependency stops the run by name."""

from pathlib import Path

import pytest

from tests.dependencies import declared_test_extras, require_test_extras, unmet

TESTS = Path(__file__).resolve().parents[1]
# What turns a missing package into a skip or a silently different test.
SOFT_IMPORTS = ("importorskip", "except ImportError", "except ModuleNotFoundError")


def test_unmet_names_a_missing_and_a_too_old_package() -> None:
    assert unmet(["claimreview-no-such-package>=1.0", "pytest>=999", "pytest>=8.2"]) == [
        "claimreview-no-such-package>=1.0 (not installed)",
        f"pytest>=999 ({pytest.__version__} installed)",
    ]


def test_every_test_extra_is_met_here() -> None:
    assert "httpx2>=2.0" in declared_test_extras()
    assert unmet(declared_test_extras()) == []
    require_test_extras()


def test_no_test_skips_or_swallows_a_missing_import() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}: {soft}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != Path(__file__).resolve() and "node_modules" not in path.parts
        for soft in SOFT_IMPORTS
        if soft in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
