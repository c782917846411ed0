"""What partners receive in bulk: DataFeed items (change feed and JSON-LD export), NDJSON
lines and CSV rows, built from stored JSON-LD bytes without re-rendering.

Shared by the HTTP feed and export and by ``claimreview export``, so a file written by the CLI
is the same as the one served over HTTP.
"""

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from operator import itemgetter
from typing import Any, Literal

import orjson

from app.core.document import format_timestamp
from app.db.query import ExportShape, ReviewFilter

Format = Literal["ndjson", "jsonld", "csv"]
FORMATS: tuple[Format, ...] = ("ndjson", "jsonld", "csv")
MEDIA_TYPES: dict[Format, str] = {
    "ndjson": "application/x-ndjson",
    "jsonld": "application/ld+json",
    "csv": "text/csv; charset=utf-8",
}
DATA_FEED_OPEN = b'{"@context":"https://schema.org","@type":"DataFeed","dataFeedElement":['
DATA_FEED_CLOSE = b"]}"

# The CSV columns, in order (documented in docs/api.md, "Exports"). Partners read them by
# position: a new column goes at the end. Their cells are read in `_csv_values` by hand, for
# speed (a loop over app.core.fields cost 3 µs a row, a fifth of the row's time);
# tests/core/test_fields.py and tests/system/test_field_doors.py hold both to the field table.
CSV_COLUMNS = (
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
    "kind",
    "media_authenticity",
    "original_media_context",
    "original_media_link",
    "media_urls",
)


def review_uri(base_url: str, review_id: str) -> str:
    return f"{base_url}/v1/claim-reviews/{review_id}"


def _stamp(moment: Any) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return format_timestamp(moment)


def feed_item(
    *,
    jsonld: bytes | None,
    review_uri: str,
    url: str | None,
    created_at: Any,
    changed_at: Any,
    deleted: bool,
) -> bytes:
    """A schema.org DataFeedItem: the ClaimReview, or a tombstone with only @id and url
    (``url`` is needed only for a tombstone)."""
    if deleted:
        tombstone = orjson.dumps({"@id": review_uri, "url": url})
        head = {"@type": "DataFeedItem", "dateCreated": _stamp(created_at)}
        head["dateDeleted"] = _stamp(changed_at)
        return orjson.dumps(head)[:-1] + b',"item":' + tombstone + b"}"
    head = {
        "@type": "DataFeedItem",
        "dateCreated": _stamp(created_at),
        "dateModified": _stamp(changed_at),
    }
    return orjson.dumps(head)[:-1] + b',"item":' + (jsonld or b"{}") + b"}"


def export_head(format: Format) -> bytes:
    if format == "jsonld":
        return DATA_FEED_OPEN
    if format == "csv":
        return _csv_lines([CSV_COLUMNS])
    return b""


def export_shape(format: Format, review_filter: ReviewFilter) -> ExportShape:
    """The rows an export reads (``query.export_reviews``): NDJSON without tombstones needs
    nothing but the stored JSON-LD."""
    if format == "csv":
        return "csv"
    if format == "ndjson" and "retracted" not in review_filter.statuses:
        return "stored"
    return "items"


_stored_bytes = itemgetter(0)


def export_rows(
    rows: list[Any], *, format: Format, shape: ExportShape, base_url: str, first: bool
) -> bytes:
    """One batch of export rows of ``shape`` as bytes of the chosen format."""
    if shape == "stored":
        # The hot loop of a million-row dump: each stored line is copied once, in C.
        return b"\n".join([*map(_stored_bytes, rows), b""])
    if format == "ndjson":
        lines = [row[7] if row[2] != "retracted" else _tombstone(row, base_url) for row in rows]
        return b"\n".join(lines) + b"\n" if lines else b""
    if format == "csv":
        return _csv_lines(_csv_values(row, base_url) for row in rows)
    items = b",".join(_export_item(row, base_url) for row in rows)
    return items if first or not items else b"," + items


def export_tail(format: Format) -> bytes:
    return DATA_FEED_CLOSE if format == "jsonld" else b""


def _tombstone(row: Any, base_url: str) -> bytes:
    _pk, review_id, _status, url, _created, _updated, retracted_at = row[:7]
    tombstone = {
        "@id": review_uri(base_url, review_id),
        "url": url,
        "dateDeleted": _stamp(retracted_at),
    }
    return orjson.dumps(tombstone)


def _export_item(row: Any, base_url: str) -> bytes:
    _pk, review_id, status, url, created_at, updated_at, retracted_at, jsonld = row[:8]
    deleted = status == "retracted"
    return feed_item(
        jsonld=bytes(jsonld),
        review_uri=review_uri(base_url, review_id),
        url=url,
        created_at=created_at,
        changed_at=retracted_at if deleted else updated_at,
        deleted=deleted,
    )


def _csv_values(row: Any, base_url: str) -> list[Any]:
    _pk, review_id, status, url, _created, updated_at, retracted_at, _jsonld = row[:8]
    document_text, publisher, verdict = row[8:11]
    values: dict[str, Any] = {
        "id": review_id,
        "jsonld_url": review_uri(base_url, review_id) + ".jsonld",
        "url": url,
        "publisher": publisher,
        "status": status,
        "date_modified": _stamp(retracted_at if status == "retracted" else updated_at),
    }
    if status != "retracted":
        document = orjson.loads(document_text)
        rating = document.get("rating", {})
        claim = document.get("claim", {})
        claimant = claim.get("author", {})
        appearances = claim.get("appearances", [])
        media = document.get("media", {}).get("appearances", [])
        values.update(
            language=document.get("language"),
            date_published=document.get("date_published"),
            headline=document.get("headline"),
            claim_reviewed=document.get("claim_reviewed"),
            claimant=claimant.get("name"),
            claimant_type=claimant.get("type") if claimant else None,
            rating_label=rating.get("label"),
            rating_value=rating.get("value"),
            rating_best=rating.get("best"),
            rating_worst=rating.get("worst"),
            verdict=verdict,
            rating_explanation=rating.get("explanation"),
            appearance_urls=" ".join(item["url"] for item in appearances if "url" in item),
            tags="; ".join(document.get("tags", [])),
            kind=document.get("kind", "claim"),
            media_authenticity=document.get("media_authenticity"),
            original_media_context=document.get("original_media_context"),
            original_media_link=document.get("original_media_link"),
            media_urls=" ".join(item["content_url"] for item in media if "content_url" in item),
        )
    return [values.get(column) for column in CSV_COLUMNS]


def _csv_lines(rows: Iterable[Iterable[Any]]) -> bytes:
    """RFC 4180: fields with commas, quotes or newlines are quoted, quotes doubled."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return out.getvalue().encode()
