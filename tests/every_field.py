"""A review that sets every field of app.core.fields to a value of its own, and what each shape
should show of it: the walks of tests/core/test_fields.py and tests/system/test_field_doors.py.

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
            },
            {
                "url": "https://social.example/post/2",
                "date_published": "2024-04-30T18:00:00Z",
                "archived_at": "https://archive.example/post-2",
                "platform": "Social",
            },
        ],
        "first_appearance": {
            "url": "https://blog.example/first",
            "date_published": "2024-04-28",
            "archived_at": "https://archive.example/first",
            "platform": "Blog",
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
    """The fields ``review`` leaves out, or sets on fewer than two items of their list."""
    return [
        field.native
        for field in FIELDS
        if len(pick(review, field.native)) < (2 if "[]" in field.native else 1)
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
