"""Writing reviews. Every change goes through ``_commit_change``, which renders the JSON-LD once,
validates it, normalises the verdict, bumps the version and writes the revision, the outbox
event and the review's images (queued for the image worker, app/services/images/) in the
caller's transaction — so no route can store a review some other way.

The importer creates reviews by the hundred: ``new_review`` computes the very same rows as
``create`` (``_apply_change`` sets the columns of both) as plain values, and
``crud.insert_reviews`` writes a batch of them with a few multi-row INSERTs instead of ORM
flushes, which cost ten times the rendering.

A change read from markup (JSON-LD, HTML, a Google page) passes its ``source``, which its
revision keeps (``markup_source``); native JSON passes none.
"""

import dataclasses
import types
from datetime import UTC, date, datetime, time
from typing import Any

import orjson
from sqlalchemy.orm import Session

from app.core import jsonld, validation, verdicts
from app.core.document import ReviewIn, article_url, format_timestamp, prune
from app.core.ids import new_review_id
from app.core.review_images import image_places
from app.core.textfold import fold
from app.db import crud
from app.db.tables import ClaimReview, OutboxEvent, Publisher, ReviewRevision
from app.errors import Unprocessable
from app.services.images import queue as image_queue


def publisher_card(publisher: Publisher) -> dict[str, Any]:
    card = {
        "name": publisher.name,
        "url": publisher.url,
        "logo": publisher.logo,
        "same_as": publisher.same_as,
    }
    return prune(card)


@dataclasses.dataclass(frozen=True, slots=True)
class Rendered:
    jsonld: bytes
    findings: list[dict[str, Any]]
    verdict: str


def render(
    *, review_id: str, document: dict[str, Any], publisher: Publisher, base_url: str, now: datetime
) -> Rendered:
    """Render, validate and rate one document; refuse to publish one with errors."""
    node = jsonld.render(
        review_id=review_id,
        document=document,
        publisher=publisher_card(publisher),
        base_url=base_url,
        date_modified=format_timestamp(now),
    )
    found = validation.validate(node, publisher_domains=publisher.domains)
    findings = [
        {
            "severity": item.severity,
            "profile": item.profile,
            "path": jsonld.native_pointer(item.path),
            "code": item.code,
            "message": item.message,
        }
        for item in found
    ]
    errors = [item for item in findings if item["severity"] == "error"]
    if errors and document.get("status") == "published":
        raise Unprocessable(
            "The review cannot be published: fix the errors or save it as a draft.",
            errors=[{"path": item["path"], "message": item["message"]} for item in errors],
            findings=findings,
        )
    verdict = rating_verdict(document, publisher)
    return Rendered(jsonld=jsonld.dumps(node), findings=findings, verdict=verdict)


def rating_verdict(document: dict[str, Any], publisher: Publisher) -> str:
    """The normalised verdict of a document's rating, on its publisher's scale."""
    rating = document.get("rating", {})
    return verdicts.normalise(
        label=rating.get("label"),
        value=rating.get("value"),
        best=rating.get("best"),
        worst=rating.get("worst"),
        scale=publisher.rating_scale,
    )


class Fields(types.SimpleNamespace):
    """The columns of a review being created in bulk: plain attributes, no ORM instrumentation
    (which costs a third of the time of building a row)."""


@dataclasses.dataclass(frozen=True, slots=True)
class NewReview:
    """The rows ``create`` would write for one review, as column values."""

    review: dict[str, Any]
    revision: dict[str, Any]
    event: dict[str, Any] | None
    tag_keys: list[str]
    images: list[tuple[str, str]]  # (place, url)

    @property
    def id(self) -> str:
        return str(self.review["id"])


# Every column of claim_review but the key, which the database hands out.
_REVIEW_COLUMNS = tuple(
    column.key for column in ClaimReview.__table__.columns if column.key != "pk"
)


def new_review(
    *,
    publisher: Publisher,
    incoming: ReviewIn,
    actor: str,
    base_url: str,
    source: dict[str, Any] | None = None,
) -> NewReview:
    """A created review's rows, for ``crud.insert_reviews``; Unprocessable as ``create``."""
    now, review_id, document, rendered = _first_version(publisher, incoming, base_url)
    return rendered_review(
        review_id=review_id,
        publisher=publisher,
        document=document,
        status=incoming.status,
        rendered=rendered,
        now=now,
        actor=actor,
        source=source,
    )


def rendered_review(
    *,
    review_id: str,
    publisher: Publisher,
    document: dict[str, Any],
    status: str,
    rendered: Rendered,
    now: datetime,
    actor: str,
    source: dict[str, Any] | None = None,
) -> NewReview:
    """The rows of a created review rendered already: what ``new_review`` makes of its
    rendering. The benchmarks' data generator renders its own (unvalidated) and stores these."""
    review = Fields(
        id=review_id,
        publisher=publisher,
        publisher_id=publisher.id,
        status="draft",
        created_at=now,
        version=0,
        kind="claim",  # the column's default, which a bulk INSERT must name (migration 0009)
    )
    _apply_change(review, document=document, status=status, rendered=rendered, now=now)
    event = _event_type("draft", status)
    return NewReview(
        review={column: getattr(review, column) for column in _REVIEW_COLUMNS},
        revision=_revision(review, kind="created", actor=actor, source=source),
        event=_event(review, event) if event else None,
        tag_keys=sorted(_tag_keys(document)),
        images=image_places(document),
    )


def create(
    *,
    session: Session,
    publisher: Publisher,
    incoming: ReviewIn,
    actor: str,
    base_url: str,
    source: dict[str, Any] | None = None,
) -> ClaimReview:
    now, review_id, document, rendered = _first_version(publisher, incoming, base_url)
    # The document's columns are set by _commit_change, as for every later version.
    review = ClaimReview(  # type: ignore[call-arg]
        id=review_id,
        publisher=publisher,
        external_id=incoming.external_id,
        status="draft",
        created_at=now,
        version=0,
    )
    _commit_change(
        session=session,
        review=review,
        document=document,
        status=incoming.status,
        rendered=rendered,
        kind="created",
        actor=actor,
        now=now,
        source=source,
    )
    return review


def _first_version(
    publisher: Publisher, incoming: ReviewIn, base_url: str
) -> tuple[datetime, str, dict[str, Any], Rendered]:
    now = datetime.now(UTC)
    review_id = new_review_id()
    document = incoming.document()
    rendered = render(
        review_id=review_id, document=document, publisher=publisher, base_url=base_url, now=now
    )
    return now, review_id, document, rendered


def replace(
    *,
    session: Session,
    review: ClaimReview,
    publisher: Publisher,
    incoming: ReviewIn,
    actor: str,
    base_url: str,
    kind: str | None = None,
    source: dict[str, Any] | None = None,
) -> bool:
    """Store ``incoming`` as the review's new content; ``False`` when nothing changed."""
    document = incoming.document()
    if document == review.document and incoming.status == review.status:
        return False
    now = datetime.now(UTC)
    rendered = render(
        review_id=review.id, document=document, publisher=publisher, base_url=base_url, now=now
    )
    _commit_change(
        session=session,
        review=review,
        document=document,
        status=incoming.status,
        rendered=rendered,
        kind=kind or _change_kind(review.document, document),
        actor=actor,
        now=now,
        source=source,
    )
    return True


def retract(*, session: Session, review: ClaimReview, actor: str) -> None:
    now = datetime.now(UTC)
    kept = Rendered(jsonld=review.jsonld, findings=review.findings, verdict=review.verdict)
    _commit_change(
        session=session,
        review=review,
        document=review.document,
        status="retracted",
        rendered=kept,
        kind="retracted",
        actor=actor,
        now=now,
    )


def rerender(*, session: Session, review: ClaimReview, publisher: Publisher, base_url: str) -> None:
    """Refresh stored JSON-LD and verdict after the publisher itself changed (name, scale...)."""
    now = datetime.now(UTC)
    rendered = render(
        review_id=review.id,
        document=review.document,
        publisher=publisher,
        base_url=base_url,
        now=now,
    )
    _commit_change(
        session=session,
        review=review,
        document=review.document,
        status=review.status,
        rendered=rendered,
        kind="updated",
        actor="system",
        now=now,
    )


def with_correction(document: dict[str, Any], *, text: str, when: str | None) -> dict[str, Any]:
    corrections = [*document.get("corrections", []), {"date": when or _today(), "text": text}]
    return {**document, "corrections": corrections}


def _today() -> str:
    return date.today().isoformat()


def _change_kind(before: dict[str, Any], after: dict[str, Any]) -> str:
    rating_before, rating_after = before.get("rating", {}), after.get("rating", {})
    if any(rating_before.get(k) != rating_after.get(k) for k in ("label", "value")):
        return "re-rated"
    if len(after.get("corrections", [])) > len(before.get("corrections", [])):
        return "corrected"
    return "updated"


def _event_type(before: str, after: str) -> str | None:
    """What partners must hear: a review appeared, changed, or must be taken down."""
    if after == "published":
        return "review.updated" if before == "published" else "review.published"
    if before == "published":
        return "review.retracted"
    return None


def _commit_change(
    *,
    session: Session,
    review: ClaimReview,
    document: dict[str, Any],
    status: str,
    rendered: Rendered,
    kind: str,
    actor: str,
    now: datetime,
    source: dict[str, Any] | None = None,
) -> None:
    previous_status = review.status if review.version else "draft"
    previous_document = review.document if review.version else None
    _apply_change(review, document=document, status=status, rendered=rendered, now=now)
    session.add(review)
    session.flush()
    crud.replace_tags(session=session, review_pk=review.pk, tag_keys=_tag_keys(document))
    if document is not previous_document:  # a retraction or a re-rendering keeps its images
        places = image_places(document)
        crud.replace_review_images(
            session=session, review_pk=review.pk, places=places, fresh=previous_document is None
        )
        if places:
            image_queue.notify_on_commit(session)
    session.add(ReviewRevision(**_revision(review, kind=kind, actor=actor, source=source)))
    event = _event_type(previous_status, status)
    if event:
        session.add(OutboxEvent(**_event(review, event)))
    session.flush()


def _apply_change(
    review: ClaimReview | Fields,
    *,
    document: dict[str, Any],
    status: str,
    rendered: Rendered,
    now: datetime,
) -> None:
    """Set every column a change writes, the derived ones and the native bytes included."""
    review.document = document
    review.status = status
    review.url = document["url"]
    review.article_url = article_url(document["url"])
    review.language = document.get("language")
    review.date_published = document.get("date_published")
    review.external_id = document.get("external_id")
    review.jsonld = rendered.jsonld
    review.findings = rendered.findings
    review.verdict = rendered.verdict
    review.verdict_dictionary_version = verdicts.DICTIONARY_VERSION
    review.version += 1
    review.updated_at = now
    review.retracted_at = now if status == "retracted" else None
    _derive_query_columns(review, document)
    review.native = orjson.dumps(present_review(review))


def _revision(
    review: ClaimReview | Fields, *, kind: str, actor: str, source: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "review_id": review.id,
        "version": review.version,
        "kind": kind,
        "status": review.status,
        "document": review.document,
        "jsonld": review.jsonld,
        "source": source,
        "actor": actor,
        "created_at": review.updated_at,
    }


def _event(review: ClaimReview | Fields, event_type: str) -> dict[str, Any]:
    return {
        "review_id": review.id,
        "publisher_id": review.publisher_id,
        "type": event_type,
        "version": review.version,
        "created_at": review.updated_at,
    }


def _derive_query_columns(review: ClaimReview | Fields, document: dict[str, Any]) -> None:
    """The columns that filters, sorting and full-text search use, all from the document."""
    label = document.get("rating", {}).get("label")
    claimant = document.get("claim", {}).get("author", {}).get("name")
    review.published_at = moment(document.get("date_published")) or review.created_at
    review.label_key = fold(label) if label else None
    review.claimant_name = claimant
    review.claimant_key = fold(claimant) if claimant else None
    searchable = [
        document.get("claim_reviewed"),
        document.get("headline"),
        claimant,
        *document.get("tags", []),
    ]
    review.search_text = fold(" ".join(text for text in searchable if text))


def _tag_keys(document: dict[str, Any]) -> set[str]:
    return {key for key in (fold(tag) for tag in document.get("tags", [])) if key}


def moment(iso: str | None) -> datetime | None:
    """A stored ISO date (midnight UTC) or date-time as an aware datetime."""
    if iso is None:
        return None
    if len(iso) == 10:
        return datetime.combine(date.fromisoformat(iso), time(), tzinfo=UTC)
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def present_review(review: ClaimReview | Fields) -> dict[str, Any]:
    """The native JSON of a stored review (stored as bytes and served by every read)."""
    body: dict[str, Any] = {"id": review.id, "publisher": review.publisher.slug}
    body.update(review.document)
    body["status"] = review.status
    body["verdict"] = review.verdict
    body["verdict_dictionary_version"] = review.verdict_dictionary_version
    body["version"] = review.version
    body["created_at"] = format_timestamp(review.created_at)
    body["updated_at"] = format_timestamp(review.updated_at)
    body["findings"] = review.findings
    return body
