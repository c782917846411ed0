"""The field table (app/core/fields.py) against the models, schemas and mappings it describes; the
doors over HTTP are walked in tests/system/test_field_doors.py."""

import copy
import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from app.core import google, normalise
from app.core.document import ReviewIn, ReviewPublic
from app.core.fields import FIELDS, PUBLISHER_CARD, Absent, absent_from
from app.core.jsonld import native_pointer, render
from app.core.reader import to_native
from app.services import syndication
from app.services.syndication import CSV_COLUMNS
from tests.conftest import REPO
from tests.every_field import PUBLISHER, REVIEW, REVIEWS, misplaced, pick, unset_fields

SCHEMAS = REPO / "schemas"
# What ReviewPublic adds to a review: the server keeps these.
SERVER_FIELDS = {
    "id",
    "verdict",
    "verdict_dictionary_version",
    "version",
    "created_at",
    "updated_at",
    "findings",
}
# What the renderer adds to a review's JSON-LD (constants aside): @type says the review's kind.
SERVER_JSONLD = {"@id", "@type", "dateModified", "itemReviewed.@id"}
# The CSV columns of v1, in their documented order: partners read them by position.
V1_CSV_COLUMNS = (
    "id",
    "jsonld_url",
    "url",
    "publisher",
    "status",
    "language",
    "date_published",
    "date_modified",
    "headline",
    "claim_reviewed",
    "claimant",
    "claimant_type",
    "rating_label",
    "rating_value",
    "rating_best",
    "rating_worst",
    "verdict",
    "rating_explanation",
    "appearance_urls",
    "tags",
)
CSV_SERVER_COLUMNS = {"id", "jsonld_url", "date_modified", "verdict"}


KINDS = pytest.mark.parametrize("kind", list(REVIEWS))


def document(kind: str = "claim") -> dict[str, Any]:
    return ReviewIn.model_validate(REVIEWS[kind]).document()


def rendered(kind: str = "claim") -> dict[str, Any]:
    card = {key: PUBLISHER[key] for key in ("name", "url", "logo", "same_as")}
    return render(
        review_id="r1",
        document=document(kind),
        publisher=card,
        base_url="http://127.0.0.1:8000",
        date_modified="2024-05-05T10:00:00Z",
    )


def schema_fields(schema: dict[str, Any]) -> tuple[dict[str, list[Any]], set[str]]:
    """The paths of a JSON Schema's values (``[]``: an array's items; constants left out), each
    with the schemas it may have, and the paths that are required in their object."""
    found: dict[str, list[Any]] = {}
    required: set[str] = set()

    def walk(node: dict[str, Any], path: str) -> None:
        if "$ref" in node:
            walk(schema["$defs"][node["$ref"].removeprefix("#/$defs/")], path)
        elif "anyOf" in node:
            for option in node["anyOf"]:
                if option != {"type": "null"}:
                    walk(option, path)
        elif "then" in node:  # a shape that depends on the node's @type
            walk(node["then"], path)
            walk(node["else"], path)
        elif "properties" in node:
            for name, value in node["properties"].items():
                if "const" not in value:
                    walk(value, f"{path}.{name}" if path else name)
            required.update(f"{path}.{name}" if path else name for name in node.get("required", []))
        elif "items" in node:
            walk(node["items"], path + "[]")
        else:
            found.setdefault(path, []).append(node)

    walk(schema, "")
    return found, required & set(found)


def load(name: str) -> Any:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def top(path: str) -> str:
    """The top-level key of a path: ``authors`` of ``authors[].name``."""
    return path.split(".")[0].removesuffix("[]")


def pointer(path: str) -> str:
    """A JSON pointer to a path's value, taking the second item of each list."""
    return "".join(
        f"/{step.removesuffix('[]')}" + ("/1" if step.endswith("[]") else "")
        for step in path.split(".")
    )


def test_table_names_each_field_once_and_says_why_a_shape_lacks_one():
    places = {
        shape: [field.place(shape) for field in FIELDS if field.place(shape) is not None]
        for shape in ("jsonld", "csv", "google")
    }
    reasons = [
        place.reason
        for field in FIELDS
        for place in (field.jsonld, field.csv, field.google)
        if isinstance(place, Absent)
    ]

    assert [name for name, count in Counter(f.native for f in FIELDS).items() if count > 1] == []
    for shape, paths in places.items():
        assert [path for path, count in Counter(paths).items() if count > 1] == [], shape
    assert all(reason.strip() for reason in reasons)


@pytest.mark.parametrize(
    "schema",
    [
        ReviewIn.model_json_schema(),
        load("native-review.schema.json"),
    ],
    ids=["ReviewIn", "native-review.schema.json"],
)
def test_native_model_and_schema_hold_the_fields_of_the_table(schema):
    found, required = schema_fields(schema)
    dates = {path for path, types in found.items() if types[0].get("description") == "ISO 8601"}

    assert set(found) == {field.native for field in FIELDS}
    assert required == {field.native for field in FIELDS if field.required}
    assert dates == {field.native for field in FIELDS if field.date}


def test_review_public_holds_the_fields_of_the_table_and_the_server_fields():
    found, _ = schema_fields(ReviewPublic.model_json_schema())
    served = {path for path in found if top(path) not in SERVER_FIELDS}

    assert served == {field.native for field in FIELDS}
    assert {top(path) for path in found} >= SERVER_FIELDS


def test_jsonld_schema_holds_every_jsonld_path_of_the_table():
    found, _ = schema_fields(load("claimreview-jsonld.schema.json"))
    paths = {field.jsonld for field in FIELDS if isinstance(field.jsonld, str)}

    assert set(found) == paths | {jsonld for _native, jsonld in PUBLISHER_CARD} | SERVER_JSONLD


@KINDS
def test_every_field_review_sets_every_field_of_its_kind(kind):
    review = REVIEWS[kind]
    # A document says its kind only when it is not a ClaimReview, as every one before it.
    unsaid = {"publisher"} if kind == "media" else {"publisher", "kind"}

    assert unset_fields(review) == []
    assert document(kind) == {key: value for key, value in review.items() if key not in unsaid}


def test_every_field_reviews_set_every_field_between_them():
    assert {field.native for field in FIELDS} == {
        field.native
        for field in FIELDS
        for review in REVIEWS.values()
        if pick(review, field.native)
    }


@KINDS
def test_render_puts_every_field_at_its_jsonld_path(kind):
    expected = REVIEWS[kind]

    assert misplaced("render", rendered(kind), shape="jsonld", expected=expected) == []


@KINDS
def test_reader_reads_every_jsonld_path_back_into_its_field(kind):
    read = to_native(rendered(kind))
    expected = REVIEWS[kind]
    kept = {top(field.native) for field in FIELDS if field.place("jsonld") and kind in field.kinds}

    assert misplaced("to_native", read, shape=None, expected=expected, through="jsonld") == []
    assert set(read) == kept | ({"kind"} if kind == "media" else set())


@KINDS
def test_localise_reads_every_date_field_in_the_publishers_time_zone(kind):
    review = REVIEWS[kind]
    native = copy.deepcopy(review)
    dates = [field.native for field in FIELDS if field.date and kind in field.kinds]
    for path in dates:
        parent, _, key = path.rpartition(".")
        for holder in pick(native, parent) if parent else [native]:
            holder[key] = "2024-05-02T10:00:00"

    normalise.localise(native, "Europe/Paris")

    assert {path: pick(native, path) for path in dates} == {
        path: ["2024-05-02T08:00:00Z"] * len(pick(review, path)) for path in dates
    }


@KINDS
def test_native_pointer_leads_every_jsonld_path_to_its_field(kind):
    pairs = [(field.native, field.place("jsonld")) for field in FIELDS if kind in field.kinds]
    for native, jsonld in [*pairs, *PUBLISHER_CARD]:
        if jsonld is not None:
            assert native_pointer(pointer(jsonld), kind=kind) == pointer(native), jsonld


def test_csv_columns_are_those_of_the_table_with_new_ones_at_the_end():
    columns = {field.csv for field in FIELDS if isinstance(field.csv, str)}

    assert CSV_COLUMNS[: len(V1_CSV_COLUMNS)] == V1_CSV_COLUMNS
    assert set(CSV_COLUMNS) == columns | CSV_SERVER_COLUMNS
    assert len(CSV_COLUMNS) == len(set(CSV_COLUMNS))


@KINDS
def test_csv_row_has_every_field_in_its_column(kind):
    review = REVIEWS[kind]
    moment = datetime(2024, 5, 5, 10, tzinfo=UTC)
    stored = orjson.dumps(document(kind))
    row = ("pk", "r1", "published", review["url"], moment, moment, None, b"{}", stored)
    text = syndication.export_rows(
        [(*row, "polygraph", "mostly_false")],
        format="csv",
        shape="csv",
        base_url="http://127.0.0.1:8000",
        first=True,
    )
    [cells] = csv.reader(io.StringIO(text.decode()))
    row_cells = dict(zip(CSV_COLUMNS, cells, strict=True))

    assert misplaced("CSV", row_cells, shape="csv", expected=review) == []


def test_google_page_shows_every_field_at_its_google_path():
    stored = REVIEW | {"id": "r1", "version": 1}
    page = google.page_of(page_url=REVIEW["url"], reviews=[stored], publisher=PUBLISHER)

    assert misplaced("page_of", page, shape="google") == []


def test_google_update_of_a_page_as_shown_keeps_every_field():
    markup = google.markup_of(document())
    parsed = google.GoogleClaimReviewMarkup.model_validate(markup)

    again = google.to_document(
        parsed, url=REVIEW["url"], publish_date=REVIEW["date_published"], previous=document()
    )

    assert again == document()


def test_google_update_keeps_the_fields_google_has_no_place_for():
    kept = set(absent_from("google"))

    assert kept >= {"external_id", "headline", "language", "tags", "authors", "corrections"}
    assert kept.isdisjoint({"url", "claim_reviewed", "date_published", "rating", "claim"})
    assert absent_from("google", "claim.author") == ("type",)
    assert absent_from("google", "rating") == ()
