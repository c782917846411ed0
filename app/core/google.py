"""Google Fact Check Tools API (v1alpha1) shapes <-> native review documents. Pure: no database,
no HTTP; the routes in ``app/api/v1alpha1.py`` do the reading and writing.

A Google *page* is the set of one publisher's published reviews that share an article URL (the
review ``url`` without its ``#anchor``); each review is one ``ClaimReviewMarkup``:

    ClaimReviewMarkupPage                     native review document
    name                 "pages/" + base64url(article URL)             (output; the page id)
    pageUrl              the article URL, i.e. ``url`` without ``#anchor``
    publishDate          date_published of every markup on the page
    claimReviewAuthor    the publisher's name and logo                 (output; keys decide it)
    versionId            hash of the page's sorted (review id, version) pairs     (output)
    claimReviewMarkups[] one review each: the fields with a ``google`` path in app.core.fields

Google's shape holds less than a native review. Writing through it replaces what it can show and
keeps what it cannot: every field whose ``google`` place in app.core.fields is ``Absent``, the links
of a claimant's ``sameAs`` after the first, and rating numbers that are not whole int32 values
(those are kept while the update leaves the field out).

``claims:search`` and ``claims:imageSearch`` answer from the stored ClaimReview JSON-LD
(``claim_from_jsonld``): one Google ``Claim`` per review, with that review as its only
``claimReview``. A MediaReview is a ``Claim`` too, as Fact Check Explorer lists fact-checks of
images: its ``text`` is the review's headline (else the original media's context), its
``claimant`` whoever posted the media, its ``claimDate`` when they did, and its
``textualRating`` the rating's label, else the authenticity category as fact-checkers name it
("Missing context"). Google's pages hold ClaimReview markup only: a MediaReview is in none (its
fields are ``Absent`` from ``google``).
"""

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from app.core import fields, normalise, verdicts
from app.core.document import markup_source, prune

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_MARKUPS = 100
_PAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,4096}$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# Google's shapes (request bodies and, for the OpenAPI document, responses)


def _unset_if_blank(value: Any) -> Any:
    # proto3 JSON: an empty string is the default value, i.e. not set.
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _int32(value: Any) -> Any:
    """proto3 JSON int32: a number or a numeric string, whole, within int32."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, str):
        if not _INTEGER.match(value.strip()):
            raise ValueError("must be an integer")
        value = int(value.strip())
    elif isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number (int32)")
        value = int(value)
    elif not isinstance(value, int):
        raise ValueError("must be an integer")
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueError("must be within the int32 range")
    return value


Text = Annotated[str | None, BeforeValidator(_unset_if_blank)]
Int32 = Annotated[
    int | None,
    BeforeValidator(_int32),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": INT32_MIN, "maximum": INT32_MAX},
                {"type": "null"},
            ]
        }
    ),
]


class _GoogleShape(BaseModel):
    # camelCase as Google's JSON; snake_case (the proto field names) is accepted too, as
    # Google's own servers do. Unknown fields are refused, as Google's servers do.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class GoogleClaimAuthor(_GoogleShape):
    name: Text = None
    job_title: Text = None
    image_url: Text = None
    same_as: Text = None


class GoogleClaimRating(_GoogleShape):
    textual_rating: Text = None
    rating_value: Int32 = None
    best_rating: Int32 = None
    worst_rating: Int32 = None
    rating_explanation: Text = None
    image_url: Text = None


class GoogleClaimReviewMarkup(_GoogleShape):
    url: Text = None
    claim_reviewed: Text = None
    claim_date: Text = None
    claim_location: Text = None
    claim_first_appearance: Text = None
    claim_appearances: list[Text] = Field(default_factory=list, max_length=100)
    claim_author: GoogleClaimAuthor | None = None
    rating: GoogleClaimRating | None = None


class GoogleClaimReviewAuthor(_GoogleShape):
    name: Text = None
    image_url: Text = None


class GoogleClaimReviewMarkupPage(_GoogleShape):
    """Google's ``ClaimReviewMarkupPage``: every ClaimReview on one article."""

    name: Text = None
    page_url: Text = None
    publish_date: Text = None
    claim_review_author: GoogleClaimReviewAuthor | None = None
    claim_review_markups: list[GoogleClaimReviewMarkup] = Field(
        default_factory=list, max_length=MAX_MARKUPS
    )
    version_id: Text = None


class GoogleListClaimReviewMarkupPagesResponse(_GoogleShape):
    claim_review_markup_pages: list[GoogleClaimReviewMarkupPage] = []
    next_page_token: str | None = None


class GooglePublisher(_GoogleShape):
    name: str | None = None
    site: str | None = None


class GoogleClaimReview(_GoogleShape):
    publisher: GooglePublisher | None = None
    url: str | None = None
    title: str | None = None
    review_date: str | None = None
    textual_rating: str | None = None
    language_code: str | None = None


class GoogleClaim(_GoogleShape):
    text: str | None = None
    claimant: str | None = None
    claim_date: str | None = None
    claim_review: list[GoogleClaimReview] = []


class GoogleFactCheckedClaimSearchResponse(_GoogleShape):
    claims: list[GoogleClaim] = []
    next_page_token: str | None = None


class GoogleFactCheckedClaimImageSearchResult(_GoogleShape):
    claim: GoogleClaim | None = None


class GoogleFactCheckedClaimImageSearchResponse(_GoogleShape):
    results: list[GoogleFactCheckedClaimImageSearchResult] = []
    next_page_token: str | None = None


# Page ids and versions


def page_id(page_url: str) -> str:
    """The URL-safe id of the page at ``page_url`` (reversible: no lookup table needed)."""
    return base64.urlsafe_b64encode(page_url.encode()).rstrip(b"=").decode()


def page_url_of(identifier: str) -> str | None:
    """The article URL a page id stands for; ``None`` when it is not one this service makes."""
    if not _PAGE_ID.match(identifier):
        return None
    try:
        url = base64.urlsafe_b64decode(identifier + "=" * (-len(identifier) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    if "#" in url or urlsplit(url).scheme not in ("http", "https") or page_id(url) != identifier:
        return None
    return url


def page_name(page_url: str) -> str:
    return f"pages/{page_id(page_url)}"


def version_id(reviews: Iterable[tuple[str, int]]) -> str:
    """Changes whenever a review of the page changes, appears or goes."""
    pairs = ",".join(f"{review_id}:{version}" for review_id, version in sorted(reviews))
    return hashlib.sha256(pairs.encode()).hexdigest()[:20]


# Reading Google's request body


def page_source(
    data: dict[str, Any], *, page_url: str, markup: int, media_type: str
) -> dict[str, Any]:
    """What the revision of the review made from markup number ``markup`` keeps of the page
    (``reviews.markup_source``): the page as sent with only that markup in its list, and where
    the markup sat. Keeping the whole page with each of its reviews would store a page of a
    hundred markups a hundred times over."""
    key = "claim_review_markups" if "claim_review_markups" in data else "claimReviewMarkups"
    node = {**data, key: [data[key][markup]]}
    return markup_source(node, media_type=media_type, page_url=page_url, pointer=f"/{key}/{markup}")


# Google -> native


def to_document(
    markup: GoogleClaimReviewMarkup,
    *,
    url: str,
    publish_date: str | None,
    previous: dict[str, Any] | None = None,
    language: str | None = None,
    time_zone: str | None = None,
) -> dict[str, Any]:
    """The native input (``ReviewIn``) for one markup, published.

    ``previous`` is the stored document of the review this markup replaces: what Google's
    shape cannot carry is kept from it. A new review is in the publisher's ``language``, else
    in the language detected from its claim (Google's markup names none). Dates are read as
    the normaliser reads markup's (``2020-06-23 20:02`` in the publisher's ``time_zone``).
    """
    before = previous or {}
    document = _kept(before, under="")
    document.update(
        status="published",
        url=url,
        claim_reviewed=markup.claim_reviewed,
        date_published=normalise.hand_written_date(publish_date),
        rating=_rating(markup.rating, before.get("rating") or {}),
        claim=_claim(markup, before.get("claim") or {}),
    )
    if previous is None:
        normalise.fill_language(document, pointer="", publisher=language)
    normalise.localise(document, time_zone)
    return prune(document)


def _kept(before: dict[str, Any], *, under: str) -> dict[str, Any]:
    """What ``before``, the object at native path ``under``, holds that Google's markup has no
    place for: an update through Google's shape keeps it."""
    return {key: before[key] for key in fields.absent_from("google", under) if key in before}


def _rating(rating: GoogleClaimRating | None, before: dict[str, Any]) -> dict[str, Any]:
    given = rating or GoogleClaimRating()
    native = _kept(before, under="rating") | {
        "label": given.textual_rating,
        "explanation": given.rating_explanation,
        "image": given.image_url,
    }
    numbers = (
        ("value", given.rating_value),
        ("best", given.best_rating),
        ("worst", given.worst_rating),
    )
    for field, value in numbers:
        kept = before.get(field)
        # A number Google's int32 cannot show was never seen by this client: leaving the field
        # out cannot mean "remove it".
        native[field] = value if value is not None or as_int32(kept) is not None else kept
    return native


def _claim(markup: GoogleClaimReviewMarkup, before: dict[str, Any]) -> dict[str, Any]:
    appearances_before = before.get("appearances", [])
    by_url = {item["url"]: item for item in appearances_before if item.get("url")}
    appearances = [by_url.get(url, {"url": url}) for url in markup.claim_appearances if url]
    appearances += [item for item in appearances_before if not item.get("url")]
    first_before = before.get("first_appearance") or {}
    first: dict[str, Any] | None
    if markup.claim_first_appearance:
        url = markup.claim_first_appearance
        first = first_before if first_before.get("url") == url else {"url": url}
    else:
        first = first_before if not first_before.get("url") else None
    return _kept(before, under="claim") | {
        "author": _claimant(markup.claim_author, before.get("author") or {}),
        "date": normalise.hand_written_date(markup.claim_date),
        "appearances": appearances,
        "first_appearance": first,
        "location": markup.claim_location,
    }


def _claimant(author: GoogleClaimAuthor | None, before: dict[str, Any]) -> dict[str, Any] | None:
    if author is None:
        return None
    same_as = []
    if author.same_as:
        # Google shows the first link only; the others stay behind it.
        same_as = [
            author.same_as,
            *(u for u in before.get("same_as", [])[1:] if u != author.same_as),
        ]
    kind = "Person" if author.job_title else before.get("type")
    return _kept(before, under="claim.author") | {
        "type": kind,
        "name": author.name,
        "job_title": author.job_title,
        "image": author.image_url,
        "same_as": same_as,
    }


def pair_markups(
    existing: Sequence[tuple[str, str | None]], incoming: Sequence[tuple[str, str | None]]
) -> list[int | None]:
    """For each incoming ``(url, claimReviewed)``, the index of the existing review it updates
    (``None``: a new review). Markups are the same when their URLs (anchors included) are, and
    among markups that share a URL, first those with the same claim text, then in order."""
    taken: set[int] = set()
    chosen: list[int | None] = [None] * len(incoming)
    for same_claim in (True, False):
        for position, (url, claim) in enumerate(incoming):
            if chosen[position] is not None:
                continue
            for index, (existing_url, existing_claim) in enumerate(existing):
                if index in taken or existing_url != url:
                    continue
                if same_claim and existing_claim != claim:
                    continue
                chosen[position] = index
                taken.add(index)
                break
    return chosen


# Native -> Google


def as_int32(value: Any) -> int | None:
    """A stored rating number as Google's int32, or ``None`` when it cannot be one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    number = int(value)
    return number if INT32_MIN <= number <= INT32_MAX else None


def markup_of(review: dict[str, Any]) -> dict[str, Any]:
    """One stored review (native JSON) as a ``ClaimReviewMarkup``."""
    claim = review.get("claim") or {}
    author = claim.get("author") or {}
    rating = review.get("rating") or {}
    return prune(
        {
            "url": review.get("url"),
            "claimReviewed": review.get("claim_reviewed"),
            "claimDate": claim.get("date"),
            "claimLocation": claim.get("location"),
            "claimFirstAppearance": (claim.get("first_appearance") or {}).get("url"),
            "claimAppearances": [a["url"] for a in claim.get("appearances", []) if a.get("url")],
            "claimAuthor": {
                "name": author.get("name"),
                "jobTitle": author.get("job_title"),
                "imageUrl": author.get("image"),
                "sameAs": next(iter(author.get("same_as", [])), None),
            },
            "rating": {
                "textualRating": rating.get("label"),
                "ratingValue": as_int32(rating.get("value")),
                "bestRating": as_int32(rating.get("best")),
                "worstRating": as_int32(rating.get("worst")),
                "ratingExplanation": rating.get("explanation"),
                "imageUrl": rating.get("image"),
            },
        }
    )


def page_of(
    *, page_url: str, reviews: Sequence[dict[str, Any]], publisher: dict[str, Any]
) -> dict[str, Any]:
    """A page (its reviews as native JSON, in page order) as a ``ClaimReviewMarkupPage``."""
    return prune(
        {
            "name": page_name(page_url),
            "pageUrl": page_url,
            "publishDate": next(
                (r["date_published"] for r in reviews if r.get("date_published")), None
            ),
            "claimReviewAuthor": {"name": publisher.get("name"), "imageUrl": publisher.get("logo")},
            "claimReviewMarkups": [markup_of(review) for review in reviews],
            "versionId": version_id((review["id"], review["version"]) for review in reviews),
        }
    )


def google_datetime(value: Any) -> str | None:
    """Google's ``google-datetime`` (RFC 3339): a date becomes its midnight UTC."""
    if not isinstance(value, str):
        return None
    return f"{value}T00:00:00Z" if _DATE_ONLY.match(value) else value


def site_of(url: Any) -> str | None:
    """Google's ``publisher.site``: the URL's host without ``www.``."""
    host = urlsplit(url).hostname if isinstance(url, str) else None
    return host.removeprefix("www.") if host else None


def normalise_site(text: str) -> str:
    """``https://www.Example.com/x`` or ``www.example.com`` -> ``example.com``."""
    text = text.strip().lower()
    host = urlsplit(text).hostname if "://" in text else text.split("/", 1)[0].split(":", 1)[0]
    return (host or "").rstrip(".").removeprefix("www.")


def claim_from_jsonld(node: dict[str, Any]) -> dict[str, Any]:
    """A stored ClaimReview or MediaReview (JSON-LD) as a ``claims:search`` result."""
    if node.get("@type") == "MediaReview":
        return _media_claim(node)
    claim = node.get("itemReviewed") or {}
    claimant = claim.get("author") or {}
    return prune(
        {
            "text": node.get("claimReviewed"),
            "claimant": claimant.get("name"),
            "claimDate": google_datetime(claim.get("datePublished")),
            "claimReview": [_claim_review(node, node.get("reviewRating") or {})],
        }
    )


def _media_claim(node: dict[str, Any]) -> dict[str, Any]:
    appearances = (node.get("itemReviewed") or {}).get("mediaItemAppearance", [])
    posted: dict[str, Any] = next((item for item in appearances if "author" in item), {})
    dated = [item["datePublished"] for item in appearances if "datePublished" in item]
    rating = node.get("reviewRating") or {}
    category = node.get("mediaAuthenticityCategory")
    if "alternateName" not in rating and category:
        rating = {"alternateName": verdicts.media_label(category)}
    return prune(
        {
            "text": node.get("headline") or node.get("originalMediaContextDescription"),
            "claimant": posted.get("author", {}).get("name"),
            "claimDate": google_datetime(dated[0] if dated else None),
            "claimReview": [_claim_review(node, rating)],
        }
    )


def _claim_review(node: dict[str, Any], rating: dict[str, Any]) -> dict[str, Any]:
    """A review as a ``claims:search`` result's ``claimReview``."""
    publisher = node.get("author") or {}
    return {
        "publisher": {"name": publisher.get("name"), "site": site_of(node.get("url"))},
        "url": node.get("url"),
        "title": node.get("headline"),
        "reviewDate": google_datetime(node.get("datePublished")),
        "textualRating": rating.get("alternateName"),
        "languageCode": node.get("inLanguage"),
    }


# Native error paths -> Google field names


def _google_names() -> dict[str, str]:
    """Native path (keys joined by "/") -> Google path, from the field table. An object is named
    as its Google fields are named in common: ``claim/author`` is ``claimAuthor``."""
    shown: dict[str, list[tuple[str, ...]]] = {}
    for field in fields.FIELDS:
        google = field.place("google")
        if google is None:
            continue
        native = fields.steps(field.native)
        for length in range(1, len(native) + 1):
            shown.setdefault("/".join(native[:length]), []).append(fields.steps(google))
    names = {}
    for native_path, paths in shown.items():
        common = os.path.commonprefix(paths)  # of tuples of keys, not of strings
        if common:
            names[native_path] = ".".join(common)
    return names


_GOOGLE_NAMES = _google_names()
_MARKUPS = fields.GOOGLE_MARKUP.removesuffix("[]")


def google_field(pointer: str, *, markup: int) -> str:
    """Where a finding on a native field (a JSON pointer) lies in the Google request."""
    parts = [part for part in pointer.split("/") if part]
    if parts[:1] == ["publisher"]:
        return "claimReviewAuthor"  # the card of the key's publisher
    prefix = f"claimReviewMarkups[{markup}]"
    if parts[:2] == ["claim", "appearances"] and len(parts) > 2 and parts[2].isdigit():
        return f"{prefix}.claimAppearances[{parts[2]}]"
    names = [part for part in parts if not part.isdigit()]
    for length in range(len(names), 0, -1):
        name = _GOOGLE_NAMES.get("/".join(names[:length]))
        if name:
            return name.replace(_MARKUPS, prefix, 1)
    return prefix
