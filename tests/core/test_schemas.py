"""The contracts in schemas/ against the code they describe."""

import json
import re
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel, ValidationError

from app.core import verdicts
from app.core.document import ReviewIn
from app.core.jsonld import render
from tests import every_field
from tests.conftest import EXAMPLES, REPO, load_script

SCHEMAS = REPO / "schemas"
NATIVE_FILE = SCHEMAS / "native-review.schema.json"
JSONLD_FILE = SCHEMAS / "claimreview-jsonld.schema.json"
BASE_URL = "http://127.0.0.1:8000"
MODIFIED = "2024-02-01T09:15:00Z"

SEED_PUBLISHER = {"name": "Polygraph.info", "url": "https://www.polygraph.info/"}
FULL_PUBLISHER = {
    "name": "Verifica Exemplo",
    "url": "https://verifica.example/",
    "logo": "https://verifica.example/logo.png",
    "same_as": ["https://x.example/verifica", "https://www.wikidata.org/wiki/Q1"],
}
# Every field of ReviewIn, at every depth (test_every_field_fixture_uses_every_native_field):
# the review the field-table walks use.
EVERY_FIELD = every_field.REVIEW
EVERY_MEDIA_FIELD = every_field.MEDIA_REVIEW

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
# RFC 3987: a scheme, then no whitespace, controls or the characters IRIs exclude.
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f<>\"{}|\\^`]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return _RFC3339.fullmatch(value) is not None and bool(datetime.fromisoformat(value.upper()))


def _is_iri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return _IRI.fullmatch(value) is not None and _BAD_PERCENT.search(value) is None


def format_checker() -> FormatChecker:
    """jsonschema's own `date`, plus `date-time` and `iri` checks that need no extra package.

    jsonschema checks `date-time` and `iri` only when rfc3339-validator and rfc3987 are
    installed and otherwise passes them silently; these two are checked here on purpose.
    """
    checker = FormatChecker(formats=["date"])
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    checker.checks("iri")(_is_iri)
    return checker


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script("export_schemas")


@pytest.fixture(scope="module")
def native_validator() -> Draft202012Validator:
    return Draft202012Validator(load(NATIVE_FILE))


@pytest.fixture(scope="module")
def jsonld_validator() -> Draft202012Validator:
    return Draft202012Validator(load(JSONLD_FILE), format_checker=format_checker())


def seed() -> dict[str, Any]:
    return load(EXAMPLES / "seed-factcheck.json")


def render_native(native: dict[str, Any], publisher: dict[str, Any]) -> dict[str, Any]:
    return render(
        review_id="Ab3_x-9",
        document=ReviewIn.model_validate(native).document(),
        publisher=publisher,
        base_url=BASE_URL,
        date_modified=MODIFIED,
    )


def full_jsonld(native: dict[str, Any] = EVERY_FIELD) -> dict[str, Any]:
    return render_native(native, FULL_PUBLISHER)


def errors_of(validator: Draft202012Validator, instance: Any) -> list[str]:
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(instance)]


def rejected_at(validator: Draft202012Validator, instance: Any) -> set[str]:
    """The JSON pointers of the nodes the validator rejects."""
    return {
        "".join(f"/{token}" for token in error.absolute_path)
        for error in validator.iter_errors(instance)
    }


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _unused_fields(model: type[BaseModel], values: list[dict[str, Any]], path: str) -> list[str]:
    """Fields of `model` (and its nested models) that none of `values` sets."""
    unused = []
    for name, field in model.model_fields.items():
        given = [value[name] for value in values if value.get(name) not in (None, [], {})]
        if not given:
            unused.append(f"{path}/{name}")
            continue
        items = [
            item for value in given for item in (value if isinstance(value, list) else [value])
        ]
        for nested in _models_in(field.annotation):
            unused += _unused_fields(nested, items, f"{path}/{name}")
    return unused


_DELETE = object()


def _set(node: Any, pointer: str, value: Any) -> None:
    *parents, last = pointer.split("/")[1:]
    for token in parents:
        node = node[int(token)] if isinstance(node, list) else node[token]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value


@pytest.mark.parametrize("path", [NATIVE_FILE, JSONLD_FILE], ids=lambda path: path.name)
def test_schema_file_is_valid_draft_2020_12(path):
    schema = load(path)

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"] and schema["description"]


def test_committed_native_schema_matches_model(script):
    assert load(NATIVE_FILE) == script.native_schema()
    assert NATIVE_FILE.read_text(encoding="utf-8") == script.dumps(script.native_schema())


def test_export_script_writes_the_committed_file(script, tmp_path):
    output = tmp_path / "native.schema.json"

    assert script.main(["--output", str(output)]) == 0
    assert output.read_bytes() == NATIVE_FILE.read_bytes()


def test_export_script_check_fails_on_stale_file(script, tmp_path, capsys):
    stale = tmp_path / "native.schema.json"
    stale.write_text("{}\n", encoding="utf-8")

    assert script.main(["--output", str(stale), "--check"]) == 1
    assert stale.read_text(encoding="utf-8") == "{}\n"
    assert script.main(["--output", str(NATIVE_FILE), "--check"]) == 0
    capsys.readouterr()


def test_every_field_fixture_uses_every_native_field():
    assert _unused_fields(ReviewIn, [EVERY_FIELD, EVERY_MEDIA_FIELD], "") == []


@pytest.mark.parametrize(
    "native",
    [seed(), EVERY_FIELD, EVERY_MEDIA_FIELD],
    ids=["seed", "every-field", "every-media-field"],
)
def test_native_schema_accepts_valid_input(native_validator, native):
    ReviewIn.model_validate(native)

    assert errors_of(native_validator, native) == []


@pytest.mark.parametrize(
    "native",
    [
        {"url": "https://verifica.example/a", "colour": "red"},
        {"headline": "No URL"},
        {"url": "https://verifica.example/a", "status": "retracted"},
        {"url": "https://verifica.example/a", "rating": {"value": "1"}},
        {"url": "https://verifica.example/a", "claim": {"author": {"type": "Robot"}}},
        {"url": "https://verifica.example/a", "authors": [{"url": "https://a.example/"}]},
        {"url": "https://verifica.example/a", "corrections": [{"text": "No date."}]},
        {"url": "https://verifica.example/a", "publisher": "Not A Slug"},
    ],
)
def test_native_schema_rejects_what_the_model_rejects(native_validator, native):
    with pytest.raises(ValidationError):
        ReviewIn.model_validate(native)

    assert not native_validator.is_valid(native)


@pytest.mark.parametrize(
    ("native", "publisher"),
    [
        (seed(), SEED_PUBLISHER),
        (EVERY_FIELD, FULL_PUBLISHER),
        (EVERY_MEDIA_FIELD, FULL_PUBLISHER),
        ({"status": "draft", "url": "https://verifica.example/a"}, SEED_PUBLISHER),
        ({"status": "draft", "url": "https://verifica.example/a", "kind": "media"}, SEED_PUBLISHER),
        ({"url": "https://verifica.example/a", "rating": {"value": 1.0}}, FULL_PUBLISHER),
    ],
    ids=[
        "seed",
        "every-field",
        "every-media-field",
        "bare-draft",
        "bare-media-draft",
        "rating-value-only",
    ],
)
def test_rendered_jsonld_matches_schema(jsonld_validator, native, publisher):
    rendered = render_native(native, publisher)

    assert errors_of(jsonld_validator, rendered) == []


def test_rendered_jsonld_of_every_field_has_every_schema_property(jsonld_validator):
    claim, media = full_jsonld(), full_jsonld(EVERY_MEDIA_FIELD)
    schema = load(JSONLD_FILE)

    assert set(claim) | set(media) == set(schema["properties"])
    assert errors_of(jsonld_validator, claim) == errors_of(jsonld_validator, media) == []


@pytest.mark.parametrize(
    ("native", "pointer", "value", "where"),
    [
        (EVERY_FIELD, "/mediaAuthenticityCategory", "StagedContent", "/mediaAuthenticityCategory"),
        (EVERY_MEDIA_FIELD, "/claimReviewed", "A claim", "/claimReviewed"),
        (EVERY_MEDIA_FIELD, "/mediaAuthenticityCategory", "Staged", "/mediaAuthenticityCategory"),
        (EVERY_MEDIA_FIELD, "/itemReviewed/mediaItemAppearance/0/@type", "WebPage", None),
        (EVERY_MEDIA_FIELD, "/itemReviewed/mediaItemAppearance/1/startTime", "1:05", None),
        (EVERY_MEDIA_FIELD, "/itemReviewed/mediaItemAppearance/1/caption", "A caption", "parent"),
    ],
)
def test_jsonld_schema_rejects_what_a_review_of_its_kind_cannot_hold(
    jsonld_validator, native, pointer, value, where
):
    rendered = full_jsonld(native)
    _set(rendered, pointer, value)

    expected = pointer.rsplit("/", 1)[0] if where == "parent" else where or pointer
    assert rejected_at(jsonld_validator, rendered) == {expected}


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("/sdDatePublished", "2024-05-03"),
        ("/name", "A title"),
        ("/author/email", "desk@verifica.example"),
        ("/itemReviewed/name", "Brasília"),
        ("/itemReviewed/author/birthDate", "1970-01-01"),
        ("/itemReviewed/appearance/0/headline", "A video"),
        ("/itemReviewed/appearance/0/publisher/url", "https://video.example/"),
        ("/itemReviewed/contentLocation/geo", "-15.8,-47.9"),
        ("/reviewRating/ratingCount", 3),
        ("/correction/0/author", "Ana Souza"),
        ("/creator/0/jobTitle", "Editor"),
    ],
)
def test_jsonld_schema_rejects_extra_property(jsonld_validator, pointer, value):
    rendered = full_jsonld()
    _set(rendered, pointer, value)

    assert rejected_at(jsonld_validator, rendered) == {pointer.rsplit("/", 1)[0]}


@pytest.mark.parametrize(
    "pointer",
    [
        "/headline",
        "/claimReviewed",
        "/image",
        "/author/logo",
        "/itemReviewed/author/name",
        "/itemReviewed/appearance/1/url",
        "/reviewRating/alternateName",
        "/reviewRating/ratingValue",
        "/keywords/0",
        "/correction/0/text",
        "/creator/1",
    ],
)
def test_jsonld_schema_rejects_null(jsonld_validator, pointer):
    rendered = full_jsonld()
    _set(rendered, pointer, None)

    assert rejected_at(jsonld_validator, rendered) == {pointer}


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("/keywords", []),
        ("/correction", []),
        ("/creator", []),
        ("/author/sameAs", []),
        ("/itemReviewed/appearance", []),
        ("/itemReviewed/author/sameAs", []),
        ("/reviewRating", {"@type": "Rating"}),
        ("/itemReviewed/appearance/0", {"@type": "CreativeWork"}),
        ("/headline", ""),
    ],
)
def test_jsonld_schema_rejects_empty_value(jsonld_validator, pointer, value):
    rendered = full_jsonld()
    _set(rendered, pointer, value)

    assert rejected_at(jsonld_validator, rendered) == {pointer}


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("/@context", "http://schema.org"),
        ("/@type", "Review"),
        ("/@id", "http://127.0.0.1:8000/reviews/Ab3_x-9"),
        ("/itemReviewed/@id", "http://127.0.0.1:8000/v1/claim-reviews/Ab3_x-9"),
        ("/url", "javascript:alert(1)"),
        ("/image", "https://verifica.example/a b.jpg"),
        ("/author/url", "https://verifica.example/{slug}"),
        ("/datePublished", "2024-02-30"),
        ("/datePublished", "30/01/2024"),
        ("/dateModified", "2024-02-01T10:15:00+01:00"),
        ("/dateModified", "2024-02-01"),
        ("/inLanguage", "pt-br"),
        ("/reviewRating/ratingValue", "2.5"),
        ("/reviewRating/bestRating", True),
        ("/keywords", "saúde, vacinas"),
        ("/itemReviewed/author/@type", "Thing"),
        ("/creator/0/@type", "Organization"),
    ],
)
def test_jsonld_schema_rejects_malformed_value(jsonld_validator, pointer, value):
    rendered = full_jsonld()
    _set(rendered, pointer, value)

    assert rejected_at(jsonld_validator, rendered) == {pointer}


@pytest.mark.parametrize(
    "pointer",
    [
        "/@context",
        "/@id",
        "/url",
        "/dateModified",
        "/author",
        "/author/url",
        "/itemReviewed/@id",
        "/correction/0/datePublished",
        "/creator/0/name",
    ],
)
def test_jsonld_schema_rejects_missing_required_property(jsonld_validator, pointer):
    rendered = full_jsonld()
    _set(rendered, pointer, _DELETE)

    assert rejected_at(jsonld_validator, rendered) == {pointer.rsplit("/", 1)[0]}


def test_verdict_vocabulary_file_matches_code():
    vocabulary = load(SCHEMAS / "verdicts.json")["vocabulary"]

    assert tuple(item["verdict"] for item in vocabulary) == verdicts.VOCABULARY
