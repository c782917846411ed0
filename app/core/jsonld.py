"""The one ClaimReview and MediaReview JSON-LD renderer.

Every output of the service (the JSON-LD endpoints, embeds, the HTML card, the feed, exports and
webhooks) is these bytes: a review is rendered once when it is written, the bytes are stored and
reads serve them as they are. Keeping the mapping in this single pure function is what makes
them agree with one another, and what lets the renderer be tested without a database.

Output is deterministic (fixed key order, no nulls, no empty arrays or objects), so the same
stored review always gives byte-identical JSON.

Where each native field goes is the ``jsonld`` path of its row in `app.core.fields.FIELDS`
(tests/core/test_fields.py holds `render` to it); the server adds ``@id`` and ``dateModified``, and
``author`` is the publisher's organisation (`app.core.fields.PUBLISHER_CARD`).

A review of ``kind`` "media" is a schema.org ``MediaReview``: its ``itemReviewed`` is a
``MediaReviewItem`` whose ``mediaItemAppearance`` are the ImageObjects, VideoObjects and
AudioObjects it was seen as, and ``mediaAuthenticityCategory`` names the enumeration member as
Google's Fact Check Markup Tool writes it (``"TransformedContent"``, no schema.org prefix).
"""

from collections.abc import Iterable
from typing import Any

import orjson

from app.core import fields

_HTML_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def render(
    *,
    review_id: str,
    document: dict[str, Any],
    publisher: dict[str, Any],
    base_url: str,
    date_modified: str,
) -> dict[str, Any]:
    """Render a stored review document as one ClaimReview JSON-LD object.

    `document` is the stored native form (`ReviewIn.document()`), `publisher` the publishing
    organisation (`name`, `url`, optional `logo` and `same_as`), `base_url` the service's public
    base without a trailing slash, and `date_modified` an RFC 3339 timestamp.
    """
    review_iri = f"{base_url}/v1/claim-reviews/{review_id}"
    media = document.get("kind") == "media"
    item_reviewed = (
        _media_item(document.get("media") or {}, item_iri=f"{review_iri}#media")
        if media
        else _claim(document.get("claim") or {}, claim_iri=f"{review_iri}#claim")
    )
    review = _node(
        "MediaReview" if media else "ClaimReview",
        {
            "url": document.get("url"),
            "headline": document.get("headline"),
            "claimReviewed": document.get("claim_reviewed"),
            "mediaAuthenticityCategory": document.get("media_authenticity"),
            "originalMediaContextDescription": document.get("original_media_context"),
            "originalMediaLink": document.get("original_media_link"),
            "inLanguage": document.get("language"),
            "datePublished": document.get("date_published"),
            "dateModified": date_modified,
            "author": _node(
                "Organization",
                {
                    "name": publisher.get("name"),
                    "url": publisher.get("url"),
                    "logo": publisher.get("logo"),
                    "sameAs": publisher.get("same_as"),
                },
            ),
            "itemReviewed": item_reviewed,
            "reviewRating": _rating(document.get("rating") or {}),
            "image": document.get("image"),
            "keywords": document.get("tags"),
            "correction": _nodes(
                _node("CorrectionComment", {"datePublished": c.get("date"), "text": c.get("text")})
                for c in document.get("corrections", [])
            ),
            "creator": _nodes(
                _node("Person", {"name": a.get("name"), "url": a.get("url")})
                for a in document.get("authors", [])
            ),
        },
        node_id=review_iri,
    )
    return {"@context": "https://schema.org"} | (review or {})


def dumps(node: dict[str, Any] | list[Any]) -> bytes:
    """Serialise compactly, keeping the renderer's key order."""
    return orjson.dumps(node)


def escape_for_html(payload: bytes) -> bytes:
    """Make JSON safe inside a ``<script>`` element without changing its meaning.

    These characters can only occur inside JSON strings, where escapes such as ``\\u003c`` decode
    to the same text; raw, ``</script>`` or ``<!--`` in a claim could end the element early, and
    U+2028/U+2029 break older JavaScript parsers.
    """
    for raw, escaped in _HTML_ESCAPES:
        payload = payload.replace(raw, escaped)
    return payload


def script_block(payload: bytes) -> bytes:
    """Wrap JSON-LD bytes in a ``<script type="application/ld+json">`` element."""
    return b'<script type="application/ld+json">' + escape_for_html(payload) + b"</script>"


def native_pointer(jsonld_pointer: str, *, kind: fields.Kind = "claim") -> str:
    """Map a JSON pointer into a rendered review of ``kind`` back to the native field it came
    from (``itemReviewed`` is the claim of a ClaimReview, the media of a MediaReview).

    Validation findings are reported on the JSON-LD; this lets the API point a CMS at the field
    it sent (``/reviewRating/alternateName`` -> ``/rating/label``). The publisher's fields map
    under ``/publisher``. Pointers with no native counterpart are returned unchanged.
    """
    if not jsonld_pointer.startswith("/"):
        return jsonld_pointer
    tree = _REVIEW_FIELDS[kind]
    native: list[str] = []
    for token in jsonld_pointer[1:].split("/"):
        if token.isdigit():
            native.append(token)
            continue
        if token not in tree:
            return jsonld_pointer
        name, tree = tree[token]
        if name:
            native.append(name)
    return "".join(f"/{token}" for token in native)


def _node(
    node_type: str, properties: dict[str, Any], *, node_id: str | None = None
) -> dict[str, Any] | None:
    """A typed node without its empty properties, or None when nothing but its type is left."""
    present = {key: value for key, value in properties.items() if value not in (None, [], {})}
    if not present:
        return None
    head = {"@type": node_type} if node_id is None else {"@type": node_type, "@id": node_id}
    return head | present


def _nodes(nodes: Iterable[dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [node for node in nodes if node is not None]


def _claim(claim: dict[str, Any], *, claim_iri: str) -> dict[str, Any] | None:
    return _node(
        "Claim",
        {
            "author": _person(claim.get("author") or {}),
            "datePublished": claim.get("date"),
            "appearance": _nodes(_creative_work(a) for a in claim.get("appearances", [])),
            "firstAppearance": _creative_work(claim.get("first_appearance") or {}),
            # Claim.name would be read as the claim's title; contentLocation is the schema.org
            # property for the place a work is about.
            "contentLocation": _node("Place", {"name": claim.get("location")}),
        },
        node_id=claim_iri,
    )


def _person(author: dict[str, Any]) -> dict[str, Any] | None:
    return _node(
        author.get("type", "Person"),
        {
            "name": author.get("name"),
            "jobTitle": author.get("job_title"),
            "sameAs": author.get("same_as"),
            "image": author.get("image"),
        },
    )


def _creative_work(appearance: dict[str, Any]) -> dict[str, Any] | None:
    return _node(
        "CreativeWork",
        {
            "url": appearance.get("url"),
            "datePublished": appearance.get("date_published"),
            "archivedAt": appearance.get("archived_at"),
            "publisher": _node("Organization", {"name": appearance.get("platform")}),
            "image": appearance.get("image"),
        },
    )


def _media_item(media: dict[str, Any], *, item_iri: str) -> dict[str, Any] | None:
    return _node(
        "MediaReviewItem",
        {
            "mediaItemAppearance": [
                _media_object(appearance) for appearance in media.get("appearances", [])
            ]
        },
        node_id=item_iri,
    )


def _media_object(appearance: dict[str, Any]) -> dict[str, Any]:
    media_type = appearance["type"]  # required: a bare type still says what was reviewed
    properties = {
        "contentUrl": appearance.get("content_url"),
        "embedUrl": appearance.get("embed_url"),
        "startTime": appearance.get("start_time"),
        "endTime": appearance.get("end_time"),
        "datePublished": appearance.get("date_published"),
        "author": _person(appearance.get("author") or {}),
        "archivedAt": appearance.get("archived_at"),
        "image": appearance.get("image"),
    }
    return _node(media_type, properties) or {"@type": media_type}


def _rating(rating: dict[str, Any]) -> dict[str, Any] | None:
    return _node(
        "Rating",
        {
            "ratingValue": _number(rating.get("value")),
            "bestRating": _number(rating.get("best")),
            "worstRating": _number(rating.get("worst")),
            "alternateName": rating.get("label"),
            "ratingExplanation": rating.get("explanation"),
            "image": rating.get("image"),
        },
    )


def _number(value: Any) -> Any:
    # A database may hand back 1.0 for a stored 1; emitting 1 keeps the bytes independent of it.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# JSON-LD property -> (native field, or "" when the node folds into its parent; its own tree).
_Tree = dict[str, tuple[str, "_Tree"]]


def _pointer_tree(kind: fields.Kind) -> _Tree:
    """The JSON-LD -> native tree of `native_pointer` for a review of ``kind``, from the field
    table.

    Paths align step by step, except that a field's last native step may stand for several
    JSON-LD steps: ``itemReviewed.contentLocation.name`` is ``claim.location``, its ``name``
    folding into ``location``."""
    tree: _Tree = {}
    pairs = [(field.native, field.jsonld) for field in fields.FIELDS if kind in field.kinds]
    for native, jsonld in [*pairs, *fields.PUBLISHER_CARD]:
        if not isinstance(jsonld, str):
            continue
        jsonld_steps, native_steps = fields.steps(jsonld), fields.steps(native)
        folded = len(jsonld_steps) - len(native_steps)
        if folded < 0:
            raise ValueError(f"{native}: its JSON-LD path {jsonld} has fewer steps")
        node = tree
        for token, name in zip(jsonld_steps, [*native_steps, *[""] * folded], strict=True):
            known, node = node.setdefault(token, (name, {}))
            if known != name:
                raise ValueError(f"{native}: {token} is {known!r} in another field's path")
    return tree


_REVIEW_FIELDS = {kind: _pointer_tree(kind) for kind in fields.KINDS}
