"""Claim reviews: create, upsert, read, replace, merge-patch, retract, correct, history, images."""

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, Header, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.api import openapi
from app.api.deps import (
    Body,
    JsonBody,
    OptionalPrincipalDep,
    ReaderDep,
    SessionDep,
    SettingsDep,
    WriterDep,
    acting_publisher,
    no_review,
    owned_review,
    require_visible,
    validated,
)
from app.api.hot import StoredRead, serve_stored_review
from app.config import Settings
from app.core import document
from app.core.bounds import INT4_MAX
from app.core.document import CorrectionIn, ReviewIn, format_timestamp
from app.core.ids import is_review_id
from app.core.review_images import image_places
from app.core.security import Principal
from app.core.validation import Finding
from app.db import crud
from app.db.tables import ClaimReview, Publisher, ReviewImagePublic, ReviewRevision
from app.errors import (
    Conflict,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from app.http.caching import JSONLD, NATIVE, etag, http_date, if_match_fails
from app.services import idempotency, importer, reviews

router = APIRouter(prefix="/v1/claim-reviews", tags=["claim reviews"])

LD_JSON = "application/ld+json"
IfMatch = Annotated[str | None, Header(description="ETag of the version you edited.")]
IdempotencyKey = Annotated[str | None, Header(max_length=255)]


@dataclass(slots=True)
class Parsed:
    """A write's review, and the repairs made to it when it came as JSON-LD markup."""

    incoming: ReviewIn
    repairs: list[Finding] = field(default_factory=list)


def markup_source(body: Body) -> dict[str, Any] | None:
    """What the revision keeps of a JSON-LD body (the body as sent); native JSON keeps none."""
    if body.media_type != LD_JSON:
        return None
    return document.markup_source(body.data, media_type=LD_JSON)


def parse_review(
    body: Body,
    *,
    session: Session,
    principal: Principal,
    overrides: dict[str, Any] | None = None,
) -> Parsed:
    """Native JSON (read strictly), or a ClaimReview in JSON-LD (repaired, then mapped onto
    the native shape: markup from outside is read leniently, like an import)."""
    if body.media_type != LD_JSON:
        data = body.data
        if isinstance(data, dict) and overrides:
            data = {**data, **overrides}
        return Parsed(validated(ReviewIn, data))
    incoming, repairs = _from_markup(
        body.data, publisher=acting_publisher(session=session, principal=principal)
    )
    if overrides:
        incoming = validated(ReviewIn, {**incoming.model_dump(), **overrides})
    return Parsed(incoming, repairs)


def _from_markup(data: Any, *, publisher: Publisher | None) -> tuple[ReviewIn, list[Finding]]:
    """The one ClaimReview of a JSON-LD body (a node, or a graph that holds one), as an import
    would read it."""
    items = list(importer.claim_reviews([importer.Source("", data)]))
    if len(items) != 1:
        raise Unprocessable(
            "Send one ClaimReview as application/ld+json (a node, or a @graph holding one).",
            errors=[{"path": "/@type", "message": f"{len(items)} ClaimReview nodes found"}],
        )
    assessed = importer.assess(
        items[0],
        language=publisher.language if publisher else None,
        time_zone=publisher.time_zone if publisher else None,
    )
    if assessed.incoming is None:
        errors = [finding for finding in assessed.findings if finding.severity == "error"]
        raise Unprocessable(
            "The ClaimReview cannot be read: it lacks what a review cannot do without.",
            errors=[{"path": finding.path, "message": finding.message} for finding in errors],
            findings=[dataclasses.asdict(finding) for finding in assessed.findings],
        )
    return assessed.incoming, assessed.findings


def target_publisher(*, session: Session, principal: Principal, incoming: ReviewIn) -> Publisher:
    """The publisher a write stores the review for (``deps.acting_publisher``): the admin token,
    which has none, must name one."""
    publisher = acting_publisher(
        session=session,
        principal=principal,
        slug=incoming.publisher,
        refusal="A key can only write its own publisher's reviews.",
    )
    if publisher is None:
        raise Unprocessable(
            "The admin token has no publisher: name one.",
            errors=[{"path": "/publisher", "message": "required for the admin token"}],
        )
    return publisher


def review_response(
    review: ClaimReview,
    *,
    status_code: int = 200,
    request: Request,
    repairs: Sequence[Finding] = (),
) -> Response:
    headers = {
        "ETag": etag(review.id, review.version, NATIVE),
        "Last-Modified": http_date(review.updated_at),
        "Cache-Control": "no-store",
    }
    if status_code == 201:
        headers["Location"] = str(request.url_for("get_review", review_id=review.id))
    body = review.native
    if repairs:  # what the normaliser did to markup: this answer's, not the stored review's
        body = orjson.dumps(
            orjson.loads(body) | {"repairs": [dataclasses.asdict(item) for item in repairs]}
        )
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def _duplicate_external_id(external_id: str | None) -> Conflict:
    return Conflict(
        f"A review with external_id '{external_id}' already exists for this publisher; "
        "use PUT /v1/claim-reviews/by-external-id/{external_id} to update it.",
        errors=[{"path": "/external_id", "message": "already used by another review"}],
    )


@router.post(
    "",
    status_code=201,
    response_class=Response,
    openapi_extra=openapi.review_body(),
    responses=openapi.responses(201, 400, 401, 403, 409, 413, 415, 422),
)
def create_review(
    request: Request,
    body: JsonBody,
    session: SessionDep,
    principal: WriterDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a claim review from native JSON or a ClaimReview in JSON-LD."""
    request_hash = ""
    if idempotency_key is not None:
        idempotency.check_key(idempotency_key)
        request_hash = idempotency.fingerprint(
            method="POST", path=request.url.path, media_type=body.media_type, raw=body.raw
        )

    def replayed() -> Response | None:
        """The stored answer to an earlier request with this Idempotency-Key, if any."""
        if idempotency_key is None:
            return None
        return idempotency.replay(
            session=session,
            principal=principal,
            key=idempotency_key,
            request_hash=request_hash,
            ttl_hours=settings.idempotency_ttl_hours,
        )

    if (earlier := replayed()) is not None:
        return earlier
    parsed = parse_review(body, session=session, principal=principal)
    incoming = parsed.incoming
    publisher = target_publisher(session=session, principal=principal, incoming=incoming)

    def taken() -> Response:
        """The external_id is taken: by a concurrent retry of this very request (replay its
        answer, which committed with the review), or by another review (409)."""
        if (earlier := replayed()) is not None:
            return earlier
        raise _duplicate_external_id(incoming.external_id)

    if incoming.external_id is not None and crud.get_review_by_external_id(
        session=session, publisher_id=publisher.id, external_id=incoming.external_id
    ):
        return taken()
    try:
        review = reviews.create(
            session=session,
            publisher=publisher,
            incoming=incoming,
            actor=principal.actor,
            base_url=settings.public_base_url,
            source=markup_source(body),
        )
        response = review_response(
            review,
            status_code=201,
            request=request,
            repairs=parsed.repairs,
        )
        if idempotency_key is not None:
            idempotency.remember(
                session=session,
                principal=principal,
                key=idempotency_key,
                request_hash=request_hash,
                response=response,
                ttl_hours=settings.idempotency_ttl_hours,
            )
    except IntegrityError:
        # A concurrent request committed first (the same retry, or the same external_id).
        session.rollback()
        return taken()
    return response


@router.put(
    "/by-external-id/{external_id}",
    response_class=Response,
    openapi_extra=openapi.review_body(),
    responses=openapi.responses(200, 201, 400, 401, 403, 412, 413, 415, 422, native=True),
)
def upsert_review(
    external_id: str,
    request: Request,
    body: JsonBody,
    session: SessionDep,
    principal: WriterDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
) -> Response:
    """Create or replace the review with this CMS id (201 when created, 200 when replaced)."""
    parsed = parse_review(
        body, session=session, principal=principal, overrides={"external_id": external_id}
    )
    incoming = parsed.incoming
    # Find the review by the id as stored (validated: surrounding whitespace stripped).
    external_id = incoming.external_id or external_id
    publisher = target_publisher(session=session, principal=principal, incoming=incoming)
    review = crud.get_review_by_external_id(
        session=session, publisher_id=publisher.id, external_id=external_id, for_update=True
    )
    if review is None:
        if if_match not in (None, "*"):
            raise PreconditionFailed("No review has this external_id yet.")
        try:
            with session.begin_nested():
                review = reviews.create(
                    session=session,
                    publisher=publisher,
                    incoming=incoming,
                    actor=principal.actor,
                    base_url=settings.public_base_url,
                    source=markup_source(body),
                )
            return review_response(
                review,
                status_code=201,
                request=request,
                repairs=parsed.repairs,
            )
        except IntegrityError:
            # Created concurrently by another request: fall through and replace it.
            review = crud.get_review_by_external_id(
                session=session, publisher_id=publisher.id, external_id=external_id, for_update=True
            )
            assert review is not None
    # A retracted review comes back to life here: the CMS re-published it under the same id.
    _check_if_match(if_match, review)
    reviews.replace(
        session=session,
        review=review,
        publisher=publisher,
        incoming=incoming,
        actor=principal.actor,
        base_url=settings.public_base_url,
        source=markup_source(body),
    )
    return review_response(review, request=request, repairs=parsed.repairs)


async def get_review_jsonld(review_id: str, request: Request) -> Response:
    """Get a claim review as schema.org ClaimReview JSON-LD (the stored bytes)."""
    return await serve_stored_review(request, review_id, JSONLD)


async def get_review(review_id: str, request: Request) -> Response:
    """Get a claim review: native JSON, or JSON-LD with `Accept: application/ld+json`."""
    accept = request.headers.get("accept", "")
    wants_jsonld = LD_JSON in accept and "application/json" not in accept
    return await serve_stored_review(request, review_id, JSONLD if wants_jsonld else NATIVE)


def install_hot_reads(app: FastAPI) -> None:
    """Register the two hot GETs first on the app itself, ahead of every router and of
    FastAPI's documentation routes: the router tries routes in order, and FastAPI matches an
    included router's routes twice per request (bench/README.md, "Where the time goes")."""
    for path, endpoint, responses in (
        (".jsonld", get_review_jsonld, openapi.responses(200, 304, 401, 404, 410, jsonld=True)),
        ("", get_review, openapi.responses(200, 304, 401, 404, 410, jsonld=True, native=True)),
    ):
        app.router.add_api_route(
            f"{router.prefix}/{{review_id}}{path}",
            endpoint,
            methods=["GET"],
            response_class=Response,
            responses=responses,
            tags=list(router.tags),
            route_class_override=StoredRead,
        )
    hot = [route for route in app.router.routes if isinstance(route, StoredRead)]
    app.router.routes[:] = hot + [route for route in app.router.routes if route not in hot]


def _change(
    *,
    review_id: str,
    request: Request,
    session: Session,
    principal: Principal,
    settings: Settings,
    if_match: str | None,
    revise: Callable[[ClaimReview], ReviewIn | Parsed],
    kind: str | None = None,
    status_code: int = 200,
    source: dict[str, Any] | None = None,
) -> Response:
    """Apply ``revise`` to a review the caller owns, if ``If-Match`` still names its version."""
    review = owned_review(session=session, review_id=review_id, principal=principal)
    _check_if_match(if_match, review)
    publisher = crud.get_publisher_by_id(session=session, publisher_id=review.publisher_id)
    assert publisher is not None
    revised = revise(review)
    parsed = revised if isinstance(revised, Parsed) else Parsed(revised)
    incoming = parsed.incoming
    if incoming.publisher not in (None, publisher.slug):
        raise Unprocessable(
            "A review cannot move to another publisher.",
            errors=[{"path": "/publisher", "message": "cannot be changed"}],
        )
    if incoming.external_id not in (None, review.external_id) and crud.get_review_by_external_id(
        session=session, publisher_id=review.publisher_id, external_id=incoming.external_id
    ):
        raise _duplicate_external_id(incoming.external_id)
    reviews.replace(
        session=session,
        review=review,
        publisher=publisher,
        incoming=incoming,
        actor=principal.actor,
        base_url=settings.public_base_url,
        kind=kind,
        source=source,
    )
    return review_response(
        review,
        status_code=status_code,
        request=request,
        repairs=parsed.repairs,
    )


def _check_if_match(if_match: str | None, review: ClaimReview) -> None:
    if if_match_fails(if_match, review.id, review.version):
        raise PreconditionFailed(
            f"The review has changed: it is at version {review.version}.",
            current_version=review.version,
        )


@router.put(
    "/{review_id}",
    response_class=Response,
    openapi_extra=openapi.review_body(),
    responses=openapi.responses(200, 400, 401, 403, 404, 409, 410, 412, 413, 415, 422, native=True),
)
def replace_review(
    review_id: str,
    request: Request,
    body: JsonBody,
    session: SessionDep,
    principal: WriterDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
) -> Response:
    """Replace a claim review (send `If-Match` to refuse overwriting someone else's change)."""
    return _change(
        review_id=review_id,
        request=request,
        session=session,
        principal=principal,
        settings=settings,
        if_match=if_match,
        revise=lambda _review: parse_review(body, session=session, principal=principal),
        source=markup_source(body),
    )


@router.patch(
    "/{review_id}",
    response_class=Response,
    openapi_extra=openapi.merge_patch_body(),
    responses=openapi.responses(200, 400, 401, 403, 404, 409, 410, 412, 413, 415, 422, native=True),
)
def patch_review(
    review_id: str,
    request: Request,
    body: JsonBody,
    session: SessionDep,
    principal: WriterDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
) -> Response:
    """Change some fields of a claim review (JSON Merge Patch, RFC 7396; `null` removes)."""
    if not isinstance(body.data, dict):
        raise Unprocessable(
            "A merge patch must be a JSON object.",
            errors=[{"path": "/", "message": "must be an object"}],
        )

    def revise(review: ClaimReview) -> ReviewIn:
        current = {**review.document, "status": review.status}
        if "language" in body.data and "language_source" not in body.data:
            current.pop("language_source", None)  # a language set by hand is not detected
        return validated(ReviewIn, merge_patch(current, body.data))

    return _change(
        review_id=review_id,
        request=request,
        session=session,
        principal=principal,
        settings=settings,
        if_match=if_match,
        revise=revise,
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@router.delete(
    "/{review_id}",
    status_code=204,
    response_class=Response,
    responses=openapi.responses(204, 401, 403, 404, 410, 412),
)
def retract_review(
    review_id: str, session: SessionDep, principal: WriterDep, if_match: IfMatch = None
) -> Response:
    """Retract a claim review: later reads answer 410 and feeds keep a tombstone."""
    review = owned_review(session=session, review_id=review_id, principal=principal)
    _check_if_match(if_match, review)
    reviews.retract(session=session, review=review, actor=principal.actor)
    return Response(status_code=204)


@router.post(
    "/{review_id}/corrections",
    status_code=201,
    response_class=Response,
    openapi_extra=openapi.body_of(CorrectionIn),
    responses=openapi.responses(201, 400, 401, 403, 404, 410, 412, 413, 415, 422),
)
def add_correction(
    review_id: str,
    request: Request,
    body: JsonBody,
    session: SessionDep,
    principal: WriterDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
) -> Response:
    """Add a public correction (schema.org `correction`) to a claim review."""
    correction = validated(CorrectionIn, body.data)

    def revise(review: ClaimReview) -> ReviewIn:
        document = reviews.with_correction(
            review.document, text=correction.text, when=correction.date
        )
        return ReviewIn.model_validate({**document, "status": review.status})

    return _change(
        review_id=review_id,
        request=request,
        session=session,
        principal=principal,
        settings=settings,
        if_match=if_match,
        revise=revise,
        kind="corrected",
        status_code=201,
    )


@router.get("/{review_id}/revisions", responses=openapi.responses(200, 401, 403, 404, 410))
def list_revisions(
    review_id: str, session: SessionDep, principal: ReaderDep
) -> dict[str, list[dict[str, Any]]]:
    """List the versions of a claim review, oldest first (the publisher's own history)."""
    review = owned_review(session=session, review_id=review_id, principal=principal, history=True)
    rows = crud.list_revisions(session=session, review_id=review.id)
    return {"items": [_revision_summary(row) for row in rows]}


@router.get(
    "/{review_id}/revisions/{version}", responses=openapi.responses(200, 401, 403, 404, 410)
)
def get_revision(
    review_id: str,
    version: Annotated[int, Path(ge=1, le=INT4_MAX, description="A version of the review.")],
    session: SessionDep,
    principal: ReaderDep,
    include: Annotated[
        Literal["source"] | None,
        Query(
            description="`source`: add the markup this version was read from, as it arrived "
            "(`null` for native JSON)."
        ),
    ] = None,
) -> dict[str, Any]:
    """Get one version of a claim review: the full snapshot and the JSON-LD it produced."""
    review = owned_review(session=session, review_id=review_id, principal=principal, history=True)
    row = crud.get_revision(session=session, review_id=review.id, version=version)
    if row is None:
        raise NotFound(f"Review '{review.id}' has no version {version}.")
    revision = {
        **_revision_summary(row),
        "document": row.document,
        "jsonld": orjson.loads(row.jsonld),
    }
    if include == "source":
        revision["source"] = row.source
    return revision


class ReviewImageList(BaseModel):
    items: list[ReviewImagePublic]


@router.get(
    "/{review_id}/images",
    response_model=ReviewImageList,
    responses=openapi.responses(401, 404, 410),
)
def list_images(
    review_id: str, session: SessionDep, principal: OptionalPrincipalDep
) -> ReviewImageList:
    """List the images a claim review names, in document order: fetch state and hashes."""
    review = (
        crud.get_review(session=session, review_id=review_id) if is_review_id(review_id) else None
    )
    if review is None:
        raise no_review(review_id)
    require_visible(review, principal=principal)
    order = {place: index for index, (place, _url) in enumerate(image_places(review.document))}
    rows = sorted(
        crud.list_review_images(session=session, review_pk=review.pk),
        key=lambda row: order.get(row[0], len(order)),
    )
    return ReviewImageList(
        items=[
            ReviewImagePublic.model_validate(image, update={"place": place})
            for place, image in rows
        ]
    )


def _revision_summary(row: ReviewRevision) -> dict[str, Any]:
    return {
        "version": row.version,
        "kind": row.kind,
        "status": row.status,
        "actor": row.actor,
        "created_at": format_timestamp(row.created_at),
    }
