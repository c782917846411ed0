"""Import and validation: check markup, and bring existing markup in as reviews.

Both read JSON-LD (an object, an array, an ``@graph``, a DataFeed), NDJSON or an HTML page; the
Content-Type says which, and when it names none of them the body is sniffed (``<`` -> HTML).
What they accept, how findings point into the body and how the import keys reviews is described
in ``app/services/importer.py``.
"""

import dataclasses
import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.api import openapi
from app.api.deps import SessionDep, SettingsDep, WriterDep, acting_publisher, media_type
from app.core import validation
from app.core.document import check_http_url
from app.core.security import Principal
from app.core.validation import Finding
from app.db import crud
from app.errors import Forbidden, MalformedBody, Unprocessable
from app.services import importer

router = APIRouter(tags=["import and validation"])

# One import at a time per server process checks and renders in worker processes, one per CPU
# (``importer.upsert`` forks them only for an input of more than one batch); any other import
# meanwhile runs in its own thread as before, so the workers never outnumber the cores.
_WORKERS = threading.Lock()

_BODY_TYPES = {
    "application/ld+json": "JSON-LD: a ClaimReview, an array, an @graph or a DataFeed",
    "application/json": "the same as application/ld+json",
    "application/x-ndjson": "one JSON-LD document (a ClaimReview or a DataFeed) per line",
    "text/html": "a page: its JSON-LD scripts, microdata and RDFa are read",
}
# JSON bodies are any JSON (an object or an array); NDJSON and HTML are text.
_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {
                "schema": {"description": text}
                | ({"type": "string"} if media in ("text/html", "application/x-ndjson") else {})
            }
            for media, text in _BODY_TYPES.items()
        },
    }
}


class ValidationReport(BaseModel):
    valid: bool = Field(description="No finding is an error.")
    findings: list[Finding]


class ImportedItem(BaseModel):
    index: int = Field(description="Position of the ClaimReview in the input, from 0.")
    status: Literal["created", "updated", "unchanged", "invalid"]
    id: str | None = Field(description="The review's id; null when invalid.")
    findings: list[Finding]


class CreatedPublisher(BaseModel):
    slug: str
    name: str
    url: str
    domains: list[str]


class ImportReport(BaseModel):
    created: int
    updated: int
    unchanged: int
    invalid: int
    items: list[ImportedItem]
    publishers_created: list[CreatedPublisher] = Field(
        description="Publishers this import created (?create_publishers=true), in order."
    )


@dataclass(frozen=True, slots=True)
class Upload:
    raw: bytes
    kind: importer.Kind


async def upload(request: Request) -> Upload:
    """The raw body and what it is. Size is capped by the middleware before this runs
    (``CLAIMREVIEW_MAX_IMPORT_BYTES`` for imports, ``CLAIMREVIEW_MAX_BODY_BYTES`` else)."""
    raw = await request.body()
    if not raw.strip():
        raise MalformedBody(
            "The request body is empty.", errors=[{"path": "/", "message": "empty"}]
        )
    return Upload(raw, importer.kind_of(media_type(request), raw))


UploadDep = Annotated[Upload, Depends(upload)]
PageUrl = Annotated[
    str | None,
    Query(
        max_length=2048,
        description="Where the markup was published (an http(s) URL): relative URLs in it "
        "resolve against it. For an HTML page it wins over the page's <base href> and "
        "canonical link.",
    ),
]


def _page_url(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_http_url(value.strip())
    except ValueError as error:
        raise MalformedBody(
            f"page_url {error}.", errors=[{"path": "page_url", "message": str(error)}]
        ) from None


def _unreadable(error: ValueError) -> MalformedBody:
    return MalformedBody(
        f"The request body is {error}.", errors=[{"path": "/", "message": str(error)}]
    )


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


@router.post(
    "/v1/validate",
    response_class=Response,
    openapi_extra=_REQUEST_BODY,
    responses={
        200: {"description": "The findings", "model": ValidationReport},
        **openapi.responses(400, 413, 422),
    },
)
def validate_markup(
    body: UploadDep,
    page_url: PageUrl = None,
    profile: Annotated[
        Literal["google", "schemaorg"] | None,
        Query(description="Check one profile only; both when omitted."),
    ] = None,
) -> Response:
    """Check ClaimReview JSON-LD, NDJSON or an HTML page's markup as an import would read it."""
    profiles = (profile,) if profile else validation.PROFILES
    try:
        findings = importer.check(
            body.raw, kind=body.kind, profiles=profiles, page_url=_page_url(page_url)
        )
    except ValueError as error:
        raise _unreadable(error) from None
    return _json(
        {
            "valid": not validation.has_errors(findings),
            "findings": [dataclasses.asdict(finding) for finding in findings],
        }
    )


@router.post(
    "/v1/import",
    response_class=Response,
    openapi_extra=_REQUEST_BODY,
    responses={
        200: {"description": "What became of each ClaimReview", "model": ImportReport},
        **openapi.responses(400, 401, 403, 413, 422),
    },
)
def import_markup(
    principal: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
    body: UploadDep,
    page_url: PageUrl = None,
    publisher: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Admins: import every review for this publisher instead of matching "
            "each ClaimReview's author to a publisher.",
        ),
    ] = None,
    create_publishers: Annotated[
        bool,
        Query(
            description="Admins: create a publisher for each ClaimReview author that matches "
            "none, on the registrable domain of its review URLs (an aggregator's feed).",
        ),
    ] = False,
) -> Response:
    """Create or update reviews from ClaimReview markup (idempotent; batches commit one by one)."""
    publishers = (
        _creating_publishers(session, principal, publisher)
        if create_publishers
        else _publishers(session, principal, publisher)
    )
    # Parsed batch by batch as the import goes (the first item read here to refuse an input
    # without any), so a large NDJSON body is never held as Python objects all at once.
    items = importer.claim_reviews(
        importer.sources(body.raw, body.kind, page_url=_page_url(page_url))
    )
    try:
        first = next(items, None)
    except ValueError as error:
        raise _unreadable(error) from None
    if first is None:
        raise Unprocessable(
            "The body holds no ClaimReview.",
            errors=[{"path": "/", "message": "no node with @type ClaimReview"}],
        )
    with _worker_processes() as processes:
        report = importer.upsert(
            session=session,
            items=itertools.chain([first], items),
            publishers=publishers,
            actor=principal.actor,
            base_url=settings.public_base_url,
            commit=session.commit,
            processes=processes,
        )
    return _json(report.as_dict())


@contextmanager
def _worker_processes() -> Iterator[int]:
    """How many processes this import may check and render in: one per CPU, or 1 (this one)
    while another import of this server process has them."""
    if not _WORKERS.acquire(blocking=False):
        yield 1
        return
    try:
        yield os.cpu_count() or 1
    finally:
        _WORKERS.release()


def _creating_publishers(
    session: Session, principal: Principal, slug: str | None
) -> importer.Publishers:
    """Every publisher, to match authors against; an author matching none makes a new one."""
    if not principal.is_admin:
        raise Forbidden(
            "Only an admin can create publishers.",
            errors=[{"path": "create_publishers", "message": "needs the admin scope"}],
        )
    if slug is not None:
        raise Unprocessable(
            "create_publishers matches each review's author: it cannot be combined with publisher.",
            errors=[{"path": "create_publishers", "message": "not with publisher"}],
        )
    return importer.Publishers(candidates=crud.list_publishers(session=session), create=True)


def _publishers(session: Session, principal: Principal, slug: str | None) -> importer.Publishers:
    """A key imports for its publisher (``deps.acting_publisher``); an admin for ``slug``, or
    for whoever each author is."""
    chosen = acting_publisher(
        session=session,
        principal=principal,
        slug=slug,
        named_at="publisher",
        refusal="A key can only import its own publisher's reviews.",
    )
    if slug is not None or not principal.is_admin:
        return importer.Publishers(only=chosen)
    return importer.Publishers(candidates=crud.list_publishers(session=session), fallback=chosen)
