import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import REPO, load_script

SCHEMAORG = REPO / "schemas" / "schemaorg"
VOCABULARY_FILE = REPO / "schemas" / "schemaorg-vocabulary.json"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script("derive_schemaorg_vocabulary")


@pytest.fixture(scope="module")
def derived(script: ModuleType) -> dict[str, Any]:
    return script.derive(SCHEMAORG / "schema.ttl")


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return json.loads(VOCABULARY_FILE.read_text(encoding="utf-8"))


def test_committed_vocabulary_matches_schema_ttl(
    script: ModuleType, derived: dict[str, Any], committed: dict[str, Any]
) -> None:
    assert committed == derived
    assert VOCABULARY_FILE.read_text(encoding="utf-8") == script.dumps(derived)


def test_script_writes_the_committed_file(script: ModuleType, tmp_path: Path) -> None:
    output = tmp_path / "vocabulary.json"
    script.main([str(SCHEMAORG / "schema.ttl"), "--output", str(output)])
    assert output.read_bytes() == VOCABULARY_FILE.read_bytes()


def test_vocabulary_names_the_release_of_its_source(committed: dict[str, Any]) -> None:
    readme = (SCHEMAORG / "README.md").read_text(encoding="utf-8")
    match = re.search(r"release (\d+(?:\.\d+)*)", readme)
    assert match is not None
    assert committed["source"].startswith(f"schema.org release {match[1]} ")


def test_vocabulary_holds_the_claimreview_terms(committed: dict[str, Any]) -> None:
    types, properties = committed["types"], committed["properties"]
    assert types["ClaimReview"] == ["Review"]
    assert types["Claim"] == ["CreativeWork"]
    assert types["Thing"] == []
    assert properties["claimReviewed"] == {"domains": ["ClaimReview"], "ranges": ["Text"]}
    assert properties["reviewRating"] == {"domains": ["Review"], "ranges": ["Rating"]}
    assert properties["appearance"]["domains"] == ["Claim"]


def test_vocabulary_marks_datatypes_and_their_subclasses(committed: dict[str, Any]) -> None:
    datatypes = set(committed["datatypes"])
    assert {"Text", "URL", "Date", "DateTime", "Number", "Integer", "Float", "Boolean", "Time"} <= (
        datatypes
    )
    assert "Thing" not in datatypes and "DataType" not in datatypes
    assert committed["types"]["URL"] == ["Text"]
    assert committed["types"]["Integer"] == ["Number"]
    assert committed["types"]["Float"] == ["Number"]


def test_vocabulary_keeps_superseded_terms_and_marks_them(committed: dict[str, Any]) -> None:
    assert committed["superseded"]["language"] == "inLanguage"
    assert "language" in committed["properties"]


def test_vocabulary_is_compact_and_without_descriptions() -> None:
    text = VOCABULARY_FILE.read_text(encoding="utf-8")
    assert len(text.encode()) < 300_000
    assert "comment" not in json.loads(text)["properties"]["claimReviewed"]
