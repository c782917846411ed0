"""A ClaimReview and a MediaReview that between them set every field of app.core.fields to a value
of its own (each every field of its kind), and what each shape should show of them: the walks
of tests/core/test_fields.py and tests/system/test_field_doors.py.

Values are given as the service stores them (dates in UTC, BCP 47 casing), so a door that
carries a field shows exactly this value; numbers are whole int32 values, which Google's shape
can show. Lists have two items, so an item dropped or swapped is seen.
"""

from typing import Any

from app.core.fields import FIELDS, PUBLISHER_CARD, Field, Shape

# The publisher (polygraph, the seed publisher) with every field its card shows.
PUBLISHER = {
    "slug": "polygraph",
    "name": "Polygraph.info",
    "url": "https://www.polygraph.info/",
    "logo": "https://www.polygraph.info/img/logo.png",
    "same_as": ["https://x.example/polygraph", "https://www.wikidata.org/wiki/Q4"],
}
ARTICLE = "https://www.polygraph.info/a/every-field.html"

REVIEW: dict[str, Any] = {
    "publisher": "polygraph",
    "external_id": "every-field-1",
    "status": "published",
    "kind": "claim",
    "url": f"{ARTICLE}#claim-1",
    "headline": "No, Fieldtown did not sell its bridge",
    "claim_reviewed": "Fieldtown sold the Field Street bridge in 2023.",
    "language": "en-GB",
    "language_source": "detected",
    "date_published": "2024-05-02T09:30:00Z",
    "rating": {
        "value": 2,
        "best": 5,
        "worst": 1,
        "label": "Mostly false",
        "explanation": "A maintenance contract was signed; the bridge was not sold.",
        "image": "https://www.polygraph.info/img/mostly-false.png",
    },
    "claim": {
        "author": {
            "type": "Person",
            "name": "Pat Claimant",
            "job_title": "Mayor of Fieldtown",
            "same_as": [
                "https://en.wikipedia.org/wiki/Pat_Claimant",
                "https://www.wikidata.org/wiki/Q42",
            ],
            "image": "https://www.polygraph.info/img/pat.png",
        },
        "date": "2024-04-30",
        "appearances": [
            {
                "url": "https://video.example/watch?v=1",
                "date_published": "2024-04-29",
                "archived_at": "https://archive.example/video-1",
                "platform": "VideoSite",
                "image": "https://archive.example/video-1.jpg",
            },
            {
                "url": "https://social.example/post/2",
                "date_published": "2024-04-30T18:00:00Z",
                "archived_at": "https://archive.example/post-2",
                "platform": "Social",
                "image": "https://archive.example/post-2.png",
            },
        ],
        "first_appearance": {
            "url": "https://blog.example/first",
            "date_published": "2024-04-28",
            "archived_at": "https://archive.example/first",
            "platform": "Blog",
            "image": "https://archive.example/first.png",
        },
        "location": "Fieldtown",
    },
    "authors": [
        {"name": "Ana Writer", "url": "https://www.polygraph.info/staff/ana"},
        {"name": "Ben Editor", "url": "https://www.polygraph.info/staff/ben"},
    ],
    "image": "https://www.polygraph.info/img/every-field.jpg",
    "tags": ["bridges", "Fieldtown"],
    "corrections": [
        {"date": "2024-05-03", "text": "Corrected the street name."},
        {"date": "2024-05-04T08:00:00Z", "text": "Added the contract date."},
    ],
}


# A MediaReview of a photo and a clip, on another article of the same publisher.
MEDIA_ARTICLE = "https://www.polygraph.info/a/every-media-field.html"
MEDIA_REVIEW: dict[str, Any] = {
    "publisher": "polygraph",
    "external_id": "every-media-field-1",
    "status": "published",
    "kind": "media",
    "url": f"{MEDIA_ARTICLE}#photo-1",
    "headline": "No, this photo of the Field Street bridge is not from 2023",
    "language": "en-GB",
    "language_source": "detected",
    "date_published": "2024-06-02T09:30:00Z",
    "rating": {
        "value": 2,
        "best": 5,
        "worst": 1,
        "label": "Out of context",
        "explanation": "The photo shows the bridge's 2019 repairs.",
        "image": "https://www.polygraph.info/img/out-of-context.png",
    },
    "authors": [
        {"name": "Ana Writer", "url": "https://www.polygraph.info/staff/ana"},
        {"name": "Ben Editor", "url": "https://www.polygraph.info/staff/ben"},
    ],
    "image": "https://www.polygraph.info/img/every-media-field.jpg",
    "tags": ["bridges", "photos"],
    "corrections": [
        {"date": "2024-06-03", "text": "Corrected the year of the repairs."},
        {"date": "2024-06-04T08:00:00Z", "text": "Added the archive link."},
    ],
    "media_authenticity": "DecontextualizedContent",
    "original_media_context": "Taken during the bridge's repairs in May 2019.",
    "original_media_link": "https://news.example/2019/bridge-repairs",
    "media": {
        "appearances": [
            {
                "type": "ImageObject",
                "content_url": "https://social.example/photo/1",
                "embed_url": "https://social.example/embed/photo/1",
                "start_time": "00:00:00",
                "end_time": "00:00:01",
                "date_published": "2024-05-30",
                "author": {
                    "type": "Person",
                    "name": "Sam Poster",
                    "job_title": "Influencer",
                    "same_as": ["https://social.example/sam", "https://www.wikidata.org/wiki/Q7"],
                    "image": "https://social.example/sam.png",
                },
                "archived_at": "https://archive.example/photo-1",
                "image": "https://social.example/photo/1.jpg",
            },
            {
                "type": "VideoObject",
                "content_url": "https://video.example/clip/2",
                "embed_url": "https://video.example/embed/2",
                "start_time": "00:01:05",
                "end_time": "00:01:30.500",
                "date_published": "2024-05-31T18:00:00Z",
                "author": {
                    "type": "Person",
                    "name": "Chris Clipper",
                    "job_title": "Video editor",
                    "same_as": ["https://video.example/c", "https://www.wikidata.org/wiki/Q8"],
                    "image": "https://video.example/c.png",
                },
                "archived_at": "https://archive.example/clip-2",
                "image": "https://video.example/clip/2.jpg",
            },
        ]
    },
}
REVIEWS = {"claim": REVIEW, "media": MEDIA_REVIEW}


def pick(node: Any, path: str) -> list[Any]:
    """Every value at ``path`` (an app.core.fields path) in ``node``, in order: one at most, unless
    the path goes through a list. Missing keys, nulls and values of the wrong shape are skipped."""
    found = [node]
    for step in path.split("."):
        key = step.removesuffix("[]")
        found = [
            item[key] for item in found if isinstance(item, dict) and item.get(key) is not None
        ]
        if step.endswith("[]"):
            found = [value for items in found if isinstance(items, list) for value in items]
    return found


def unset_fields(review: dict[str, Any]) -> list[str]:
    """The fields of its kind ``review`` leaves out, or sets on fewer than two items of their
    list; and the fields of the other kind it sets."""
    kind = review.get("kind", "claim")
    return [
        field.native
        for field in FIELDS
        if (len(pick(review, field.native)) < (2 if "[]" in field.native else 1))
        == (kind in field.kinds)
    ]


def shown(field: Field, path: str, review: dict[str, Any]) -> list[Any]:
    """The values of ``field`` in ``review`` as a shape shows them at ``path``: a list that a
    shape holds as one value (Google's claimAuthor.sameAs) shows its first item."""
    values = pick(review, field.native)
    if field.native.endswith("[]") and not path.endswith("[]"):
        return values[:1]
    return values


def cell(field: Field, review: dict[str, Any]) -> str:
    """The CSV cell of ``field`` in ``review``: a list's items joined, a number as text."""
    values = pick(review, field.native)
    return field.csv_join.join(values) if "[]" in field.native else "".join(map(str, values))


def misplaced(
    door: str,
    view: Any,
    *,
    shape: Shape | None,
    expected: dict[str, Any] = REVIEW,
    through: Shape | None = None,
) -> list[str]:
    """Each field of ``expected`` that ``view`` (a review as a door gave it, in ``shape``; None:
    native JSON) lacks or holds wrongly. A field the table gives no place in ``shape``, or in
    ``through`` (the shape the review passed through to reach a native ``view``), is skipped:
    that door does not carry it, by design."""
    problems = []
    for field in FIELDS:
        place = field.native if shape is None else field.place(shape)
        passage = place if through is None else field.place(through)
        if place is None or passage is None:
            continue
        if shape == "csv":
            got, want = view[place], cell(field, expected)
        else:
            got, want = pick(view, place), shown(field, passage, expected)
        if got != want:
            problems.append(f"{door}: {field.native} at {place} is {got!r}, not {want!r}")
    if shape == "jsonld":
        problems += [
            f"{door}: the publisher's {native} at {jsonld} is {pick(view, jsonld)!r}"
            for native, jsonld in PUBLISHER_CARD
            if pick(view, jsonld) != pick({"publisher": PUBLISHER}, native)
        ]
    return problems
