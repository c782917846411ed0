"""ClaimReview and MediaReview JSON-LD -> native document: the inverse of
`app.core.jsonld.render`.

Used where reviews arrive as markup (`application/ld+json` writes, `/v1/import`). Real-world
markup spells the same thing many ways, so reading is tolerant: any schema.org context, types
as lists or with a ``schema:`` prefix, one value or a list of them, ``ImageObject`` or a plain
URL, numbers as strings, keywords as one comma-separated string. It never invents a value:
anything absent stays absent, and values it cannot make sense of are passed on unchanged so that
`app.core.document` validation reports them against the field they were sent in.

Ignored: ``@id`` and ``dateModified`` (the server keeps them), ``author`` (the publisher, which
the service decides) and every property with no native counterpart. tests/core/test_fields.py holds
it to `app.core.fields`: every field with a JSON-LD path is read back into its native path.
"""

import re
from typing import Any

from app.core.document import many, prune

_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
# Organization subtypes a claimant is commonly given that do not end in "Organization".
_ORGANIZATION_TYPES = {"Corporation", "NGO", "PoliticalParty"}


# A snapshot of a post is the post's media as it was: read as the media type itself.
_MEDIA_TYPES = {"ImageObject", "VideoObject", "AudioObject"}


def is_media_review(node: dict[str, Any]) -> bool:
    return "MediaReview" in _types(node.get("@type"))


def to_native(node: dict[str, Any]) -> dict[str, Any]:
    """Map one ClaimReview or MediaReview JSON-LD object onto the native input shape
    (`app.core.document.ReviewIn`)."""
    rating = _object(node.get("reviewRating"))
    media = is_media_review(node)
    item = _object(node.get("itemReviewed"))
    return prune(
        {
            "kind": "media" if media else None,
            "url": _url(node.get("url")),
            "headline": _value(node.get("headline")),
            "claim_reviewed": _value(node.get("claimReviewed")),
            "language": _language(node.get("inLanguage")),
            "date_published": _value(node.get("datePublished")),
            "rating": {
                "value": _number(rating.get("ratingValue")),
                "best": _number(rating.get("bestRating")),
                "worst": _number(rating.get("worstRating")),
                "label": _value(rating.get("alternateName")),
                "explanation": _value(rating.get("ratingExplanation")),
                "image": _url(rating.get("image")),
            },
            "claim": None if media else _claim(item),
            "authors": [
                {"name": _value(person.get("name")), "url": _url(person.get("url"))}
                for person in map(_named, many(node.get("creator")))
            ],
            "image": _url(node.get("image")),
            "tags": _keywords(node.get("keywords")),
            "corrections": [
                {"date": _value(comment.get("datePublished")), "text": _value(comment.get("text"))}
                for comment in many(node.get("correction"))
                if isinstance(comment, dict)
            ],
            "media_authenticity": _term(node.get("mediaAuthenticityCategory")),
            "original_media_context": _value(node.get("originalMediaContextDescription")),
            "original_media_link": _url(node.get("originalMediaLink")),
            "media": {"appearances": [_media_object(_object(work)) for work in _media_of(item)]}
            if media
            else None,
        }
    )


def _media_of(item: dict[str, Any]) -> list[Any]:
    """The appearances of a MediaReviewItem; an ImageObject (VideoObject...) given as the
    item itself, as Google's Fact Check Markup Tool writes it, is its one appearance."""
    if "mediaItemAppearance" in item or not item:
        return many(item.get("mediaItemAppearance"))
    return [item]


def _media_object(work: dict[str, Any]) -> dict[str, Any]:
    types = [name.removesuffix("Snapshot") for name in _types(work.get("@type"))]
    return {
        "type": next((name for name in types if name in _MEDIA_TYPES), _value(work.get("@type"))),
        "content_url": _url(work.get("contentUrl")),
        "embed_url": _url(work.get("embedUrl")),
        "start_time": _value(work.get("startTime")),
        "end_time": _value(work.get("endTime")),
        "date_published": _value(work.get("datePublished")),
        "author": _claimant(_named(work.get("author") or work.get("creator"))),
        "archived_at": _url(work.get("archivedAt")),
        "image": _url(work.get("image")),
    }


def _term(value: Any) -> Any:
    """An enumeration member without its schema.org prefix (``schema:StagedContent``)."""
    first = _value(value)
    if isinstance(first, dict):
        first = first.get("@id")
    return _types(first)[0] if isinstance(first, str) else first


def _claim(claim: dict[str, Any]) -> dict[str, Any]:
    return {
        "author": _claimant(_named(claim.get("author"))),
        "date": _value(claim.get("datePublished")),
        "appearances": [_appearance(item) for item in many(claim.get("appearance"))],
        "first_appearance": _appearance(_value(claim.get("firstAppearance"))),
        "location": _value(_named(claim.get("contentLocation")).get("name")),
    }


def _claimant(author: dict[str, Any]) -> dict[str, Any] | None:
    details = prune(
        {
            "name": _value(author.get("name")),
            "job_title": _value(author.get("jobTitle")),
            "same_as": [_url(item) for item in many(author.get("sameAs"))],
            "image": _url(author.get("image")),
        }
    )
    if not details:
        return None
    types = _types(author.get("@type"))
    if "Person" in types:
        return {"type": "Person"} | details
    if any(name.endswith("Organization") or name in _ORGANIZATION_TYPES for name in types):
        return {"type": "Organization"} | details
    return details


def _appearance(work: Any) -> dict[str, Any] | None:
    if isinstance(work, str):
        return {"url": work}
    if not isinstance(work, dict):
        return None
    return {
        "url": _url(work.get("url")),
        "date_published": _value(work.get("datePublished")),
        "archived_at": _url(work.get("archivedAt")),
        "platform": _value(_named(work.get("publisher")).get("name")),
        "image": _url(work.get("image")),
    }


def _value(value: Any) -> Any:
    """The first of several values, unwrapping a JSON-LD value object ({"@value": ...})."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict) and "@value" in value:
        return value["@value"]
    return value


def _object(value: Any) -> dict[str, Any]:
    first = _value(value)
    return first if isinstance(first, dict) else {}


def _named(value: Any) -> dict[str, Any]:
    """A node, accepting the bare name that markup often gives instead (a claimant, a place)."""
    first = _value(value)
    return {"name": first} if isinstance(first, str) else _object(first)


def _url(value: Any) -> Any:
    """A URL given as a string, or as a node (ImageObject, a reference) that carries it."""
    first = _value(value)
    if isinstance(first, dict):
        return first.get("url") or first.get("contentUrl") or first.get("@id")
    return first


def _number(value: Any) -> Any:
    first = _value(value)
    if isinstance(first, str):
        text = first.strip()
        if _INTEGER.match(text):
            return int(text)
        if _DECIMAL.match(text):
            return float(text)
    return first


def _language(value: Any) -> Any:
    first = _value(value)
    if isinstance(first, dict):
        # alternateName usually holds the code ("en") and name the English name ("English").
        return first.get("alternateName") or first.get("name")
    return first


def _keywords(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",") if tag.strip()]
    return [tag.get("name") if isinstance(tag, dict) else tag for tag in many(value)]


def _types(value: Any) -> list[str]:
    # "Person", "schema:Person" and "https://schema.org/Person" all name the same type.
    return [
        name.rsplit("/", 1)[-1].rsplit(":", 1)[-1] for name in many(value) if isinstance(name, str)
    ]
