"""Search by image, shared by its three routes: ``GET /v1/claim-reviews?image_url=``,
``POST /v1/image-search`` and Google's ``GET /v1alpha1/claims:imageSearch``.

The query image comes as a URL or as uploaded bytes. A URL is fetched exactly as the image
worker fetches review images (app/services/outbound.py: http(s) only, public addresses only
unless ``CLAIMREVIEW_OUTBOUND_ALLOW_PRIVATE``, image types only, at most
``CLAIMREVIEW_IMAGE_MAX_BYTES``, a timeout), so a search cannot reach what a review cannot.
The bytes are hashed in a worker thread (decoding a large photo takes up to most of a second
of CPU), then ``find`` runs the one query builder's ``image_matches`` with the caller's
filters: a review is found when one of its images has both hashes within
``CLAIMREVIEW_IMAGE_SEARCH_THRESHOLD`` bits of the query's, and listed nearest first.

Every failure to get a usable query image is a 422 naming the field it came from, with a
``reason`` (``refused``, ``network``, ``timeout``, ``status``, ``redirects``, ``not_image``,
``too_large``) a client can act on.

Cursors and page tokens are scoped to the query image's hashes as well as the filters: a page
asked for with another image (or the same URL showing another picture by then) is refused
rather than continuing someone else's ordering.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from app.api.deps import app_state
from app.core import perceptual
from app.db import query
from app.db.image_search import ImageQuery
from app.db.query import ReviewFilter
from app.errors import PayloadTooLarge, Unprocessable
from app.http import cursors
from app.services import outbound


def _unusable(field_name: str, message: str, *, reason: str) -> Unprocessable:
    return Unprocessable(
        f"The query image '{field_name}' cannot be used: {message}.",
        errors=[{"path": field_name, "message": message}],
        reason=reason,
    )


async def image_from_url(request: Request, url: str, *, field_name: str) -> ImageQuery:
    """The query of the image at ``url``, fetched under the outbound policy."""
    settings = app_state(request).settings
    client = outbound.http_client(timeout=settings.image_timeout_seconds, max_connections=1)
    try:
        async with client:
            fetched = await outbound.fetch_image(url, settings=settings, client=client)
    except outbound.ImageFetchError as error:
        raise _unusable(field_name, str(error), reason=error.reason) from None
    return await image_from_bytes(request, fetched.body, field_name=field_name)


async def image_from_bytes(request: Request, data: bytes, *, field_name: str) -> ImageQuery:
    """The query of an image's encoded bytes (PNG, JPEG, GIF, WebP...)."""
    settings = app_state(request).settings
    if len(data) > settings.image_max_bytes:
        raise PayloadTooLarge(
            f"The query image '{field_name}' is larger than {settings.image_max_bytes} bytes.",
            errors=[{"path": field_name, "message": "too large"}],
            limit=settings.image_max_bytes,
        )
    if not data:
        raise _unusable(field_name, "it is empty", reason="not_image")
    try:
        hashes = await run_in_threadpool(perceptual.hash_image, data)
    except perceptual.NotAnImage as error:
        raise _unusable(field_name, f"it {error}", reason="not_image") from None
    return ImageQuery.of(hashes, settings.image_search_threshold)


@dataclass(slots=True)
class Match:
    """A review found by image: its stored body, its distance (the sum of the pHash and dHash
    distances of its nearest image) and each of its images that matched, nearest first."""

    pk: int
    distance: int
    body: bytes
    images: list[dict[str, Any]] = field(default_factory=list)

    def image_match(self) -> dict[str, Any]:
        return {"distance": self.distance, "images": self.images}


async def find(
    request: Request,
    review_filter: ReviewFilter,
    image: ImageQuery,
    *,
    after: tuple[int, int] | None,
    limit: int,
    body_column: Literal["native", "jsonld"],
) -> tuple[list[Match], bool]:
    """Up to ``limit`` matches after ``(distance, pk)``, and whether more follow."""
    reads = app_state(request).reads
    sql, params = query.image_matches(
        review_filter,
        image,
        dialect=reads.dialect,
        after=after,
        limit=limit + 1,
        body_column=body_column,
    )
    # Heavy: a wide threshold reads thousands of candidates, too long to hold the event loop.
    rows = await reads.fetch(sql, params, heavy=True)
    matches: list[Match] = []
    for pk, distance, body, place, url, phash_distance, dhash_distance in rows:
        if not matches or matches[-1].pk != pk:
            matches.append(Match(pk=pk, distance=distance, body=bytes(body)))
        matches[-1].images.append(
            {
                "place": place,
                "url": url,
                "distance": phash_distance + dhash_distance,
                "phash_distance": phash_distance,
                "dhash_distance": dhash_distance,
            }
        )
    return matches[:limit], len(matches) > limit


def scope(image: ImageQuery, *parts: Any) -> str:
    """The fingerprint a cursor is issued for: the query image's hashes, the threshold, and the
    caller's ``parts`` (route and filters)."""
    return cursors.fingerprint([image.phash, image.dhash, image.threshold, *parts])


async def v1_page(
    request: Request,
    review_filter: ReviewFilter,
    image: ImageQuery,
    *,
    scope_key: str,
    cursor: str | None,
    limit: int,
) -> tuple[bytes, str | None]:
    """A /v1 page: ``{"items": [...], "next_cursor": ...}`` whose items are the native reviews,
    each with its ``image_match``; and the next cursor, if any."""
    secret = app_state(request).settings.signing_key
    after = None
    if cursor is not None:
        payload = cursors.decode(cursor, secret=secret)
        if payload.get("s") != scope_key:
            raise Unprocessable(
                "The query parameter 'cursor' is not valid: it was issued for another image "
                "or other filters.",
                errors=[{"path": "cursor", "message": "issued for another image or filters"}],
            )
        after = (int(payload["k"]), int(payload["p"]))
    matches, more = await find(
        request, review_filter, image, after=after, limit=limit, body_column="native"
    )
    next_cursor = None
    if more:
        last = matches[-1]
        next_cursor = cursors.encode(
            {"s": scope_key, "k": last.distance, "p": last.pk}, secret=secret
        )
    # A stored native review is a JSON object: its image_match is spliced in before the
    # closing brace, with no parsing of the review.
    items = b",".join(
        match.body[:-1] + b',"image_match":' + orjson.dumps(match.image_match()) + b"}"
        for match in matches
    )
    body = b'{"items":[' + items + b'],"next_cursor":' + orjson.dumps(next_cursor) + b"}"
    return body, next_cursor
