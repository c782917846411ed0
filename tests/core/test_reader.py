import json
from typing import Any

import pytest

from app.core.document import ReviewIn
from app.core.jsonld import render
from app.core.reader import to_native
from tests.conftest import EXAMPLES

URL = "https://factcheck.example/2024/claim"
SERVER_FIELDS = ("external_id", "status")

ALL_FIELDS = {
    "url": "https://factcheck.example/2024/03/bridge#c1",
    "headline": "No, the bridge was not sold",
    "claim_reviewed": "The city sold the bridge to a private company.",
    "language": "en-GB",
    "date_published": "2024-03-04T08:00:00Z",
    "rating": {
        "value": 1.5,
        "best": 6,
        "worst": 1,
        "label": "Mostly false",
        "explanation": "A maintenance contract was signed; ownership did not change.",
        "image": "https://factcheck.example/img/mostly-false.png",
    },
    "claim": {
        "author": {
            "type": "Organization",
            "name": "Bridge Truth Campaign",
            "same_as": ["https://social.example/bridgetruth"],
            "image": "https://factcheck.example/img/btc.png",
        },
        "date": "2024-03-01",
        "appearances": [
            {
                "url": "https://social.example/bridgetruth/1",
                "date_published": "2024-03-01T17:45:00Z",
                "archived_at": "https://archive.example/abc",
                "platform": "Social",
            }
        ],
        "first_appearance": {"url": "https://blog.example/bridge", "platform": "Blog"},
        "location": "Riverton",
    },
    "authors": [{"name": "Sam Reyes", "url": "https://factcheck.example/staff/sam"}],
    "image": "https://factcheck.example/img/bridge.jpg",
    "tags": ["infrastructure", "local"],
    "corrections": [
        {"date": "2024-03-05", "text": "Added the contract date."},
        {"date": "2024-03-06", "text": "Fixed a typo."},
    ],
}


def document(native: dict[str, Any]) -> dict[str, Any]:
    return ReviewIn.model_validate(native).document()


def rendered(doc: dict[str, Any]) -> dict[str, Any]:
    return render(
        review_id="r1",
        document=doc,
        publisher={
            "name": "Fact Check Example",
            "url": "https://factcheck.example/",
            "logo": "https://factcheck.example/logo.png",
            "same_as": ["https://social.example/fce"],
        },
        base_url="http://127.0.0.1:8000",
        date_modified="2024-03-06T10:00:00Z",
    )


def review(**properties: Any) -> dict[str, Any]:
    return {"@context": "https://schema.org", "@type": "ClaimReview", "url": URL} | properties


@pytest.mark.parametrize(
    "native",
    [json.loads((EXAMPLES / "seed-factcheck.json").read_text()), ALL_FIELDS],
    ids=["seed", "all-fields"],
)
def test_to_native_round_trips_rendered_review(native):
    doc = document(native)
    expected = {key: value for key, value in doc.items() if key not in SERVER_FIELDS}

    read = to_native(rendered(doc))

    assert read == expected
    assert document(read) == document(expected)


@pytest.mark.parametrize(
    "context", ["https://schema.org", "http://schema.org", "https://schema.org/"]
)
@pytest.mark.parametrize(
    ("claimant_type", "native_type"),
    [
        ("Organization", "Organization"),
        ("schema:Organization", "Organization"),
        (["Organization"], "Organization"),
        ("http://schema.org/GovernmentOrganization", "Organization"),
        (["schema:Person", "Thing"], "Person"),
    ],
)
def test_to_native_accepts_context_and_type_spellings(context, claimant_type, native_type):
    node = review(
        itemReviewed={
            "@type": ["schema:Claim"],
            "author": {"@type": claimant_type, "name": "Someone"},
        }
    ) | {"@context": context, "@type": ["schema:ClaimReview"]}

    assert to_native(node)["claim"]["author"] == {"type": native_type, "name": "Someone"}


def test_to_native_leaves_claimant_type_unset_when_unknown():
    node = review(itemReviewed={"author": {"@type": "Thing", "name": "Someone"}})

    assert to_native(node)["claim"]["author"] == {"name": "Someone"}


def test_to_native_takes_first_of_lists_where_native_has_one_value():
    node = review(
        headline=["First headline", "Second headline"],
        itemReviewed=[
            {
                "@type": "Claim",
                "author": [
                    {"@type": "Person", "name": "First"},
                    {"@type": "Person", "name": "Second"},
                ],
                "firstAppearance": [{"url": "https://a.example/1"}, {"url": "https://a.example/2"}],
            },
            {"@type": "Claim", "author": {"name": "Other claim"}},
        ],
        reviewRating=[{"@type": "Rating", "alternateName": "False"}],
    )

    assert to_native(node) == {
        "url": URL,
        "headline": "First headline",
        "rating": {"label": "False"},
        "claim": {
            "author": {"type": "Person", "name": "First"},
            "first_appearance": {"url": "https://a.example/1"},
        },
    }


def test_to_native_accepts_single_values_where_native_has_lists():
    node = review(
        itemReviewed={
            "@type": "Claim",
            "author": {"@type": "Person", "name": "A", "sameAs": "https://wiki.example/A"},
            "appearance": {"@type": "CreativeWork", "url": "https://a.example/1"},
        },
        creator={"@type": "Person", "name": "Checker"},
        correction={"@type": "CorrectionComment", "datePublished": "2024-03-05", "text": "Fix."},
    )

    native = to_native(node)

    assert native["claim"] == {
        "author": {"type": "Person", "name": "A", "same_as": ["https://wiki.example/A"]},
        "appearances": [{"url": "https://a.example/1"}],
    }
    assert native["authors"] == [{"name": "Checker"}]
    assert native["corrections"] == [{"date": "2024-03-05", "text": "Fix."}]


def test_to_native_accepts_bare_names_and_urls():
    node = review(
        itemReviewed={
            "author": "A Politician",
            "appearance": ["https://a.example/1", {"url": "https://a.example/2"}],
            "contentLocation": "Riverton",
        },
        creator=["Checker One", {"name": "Checker Two"}],
    )

    native = to_native(node)

    assert native["claim"] == {
        "author": {"name": "A Politician"},
        "appearances": [{"url": "https://a.example/1"}, {"url": "https://a.example/2"}],
        "location": "Riverton",
    }
    assert native["authors"] == [{"name": "Checker One"}, {"name": "Checker Two"}]


@pytest.mark.parametrize(
    ("sent", "read"),
    [("1", 1), ("2.5", 2.5), (" 3 ", 3), ("-1", -1), ("1e1", 10.0), (4, 4), ("five", "five")],
)
def test_to_native_reads_numbers_sent_as_strings(sent, read):
    node = review(reviewRating={"@type": "Rating", "ratingValue": sent, "bestRating": "5"})

    rating = to_native(node)["rating"]

    assert rating == {"value": read, "best": 5}
    assert type(rating["value"]) is type(read)


def test_to_native_leaves_non_numeric_rating_for_validation_to_report():
    native = to_native(review(reviewRating={"ratingValue": "five"}))

    with pytest.raises(ValueError, match="rating.value"):
        ReviewIn.model_validate(native)


def test_to_native_accepts_image_objects_and_strings():
    node = review(
        image={"@type": "ImageObject", "url": "https://i.example/review.jpg"},
        reviewRating={"image": "https://i.example/rating.png"},
        itemReviewed={
            "author": {
                "name": "A",
                "image": [{"@type": "ImageObject", "contentUrl": "https://i.example/a.jpg"}],
            }
        },
    )

    native = to_native(node)

    assert native["image"] == "https://i.example/review.jpg"
    assert native["rating"] == {"image": "https://i.example/rating.png"}
    assert native["claim"]["author"]["image"] == "https://i.example/a.jpg"


@pytest.mark.parametrize(
    ("keywords", "tags"),
    [
        ("health, vaccines ,, covid", ["health", "vaccines", "covid"]),
        (["health", "vaccines"], ["health", "vaccines"]),
        ("health", ["health"]),
        ([{"@type": "DefinedTerm", "name": "health"}], ["health"]),
    ],
)
def test_to_native_reads_keywords(keywords, tags):
    assert to_native(review(keywords=keywords))["tags"] == tags


@pytest.mark.parametrize(
    ("in_language", "language"),
    [
        ("pt-BR", "pt-BR"),
        (["es"], "es"),
        ({"@type": "Language", "name": "English", "alternateName": "en"}, "en"),
        ({"@type": "Language", "name": "en"}, "en"),
    ],
)
def test_to_native_reads_language(in_language, language):
    assert to_native(review(inLanguage=in_language))["language"] == language


def test_to_native_unwraps_value_objects():
    node = review(headline={"@value": "Titular", "@language": "es"})

    assert to_native(node)["headline"] == "Titular"


def test_to_native_ignores_server_publisher_and_unmapped_properties():
    node = review(
        **{
            "@id": "https://elsewhere.example/reviews/9",
            "dateModified": "2024-03-06T10:00:00Z",
            "author": {"@type": "Organization", "name": "Someone Else", "url": "https://x.example"},
            "sdPublisher": {"@type": "Organization", "name": "Aggregator"},
            "name": "Some name",
            "itemReviewed": {"@id": "https://elsewhere.example/claims/9", "name": "Claim title"},
        }
    )

    assert to_native(node) == {"url": URL}


def test_to_native_omits_absent_and_empty_values():
    node = review(
        headline=None,
        keywords=[],
        reviewRating={"@type": "Rating"},
        itemReviewed={"@type": "Claim", "author": {"@type": "Person"}, "appearance": [{}]},
        creator=[],
        correction=[],
    )

    assert to_native(node) == {"url": URL}


def test_to_native_output_validates_as_native_input():
    node = {
        "@context": "http://schema.org",
        "@type": ["schema:ClaimReview"],
        "url": URL,
        "claimReviewed": "The bridge was sold.",
        "inLanguage": {"@type": "Language", "name": "English", "alternateName": "en"},
        "datePublished": "2024-03-04",
        "reviewRating": {"ratingValue": "2", "bestRating": "5", "worstRating": "1"},
        "itemReviewed": {
            "@type": "schema:Claim",
            "author": [{"@type": ["Person"], "name": "A", "sameAs": "https://wiki.example/A"}],
            "appearance": {"url": "https://a.example/1", "datePublished": "2024-03-01"},
        },
        "keywords": "bridge, city",
    }

    doc = document(to_native(node))

    assert doc["rating"] == {"value": 2, "best": 5, "worst": 1}
    assert doc["claim"]["author"] == {
        "type": "Person",
        "name": "A",
        "same_as": ["https://wiki.example/A"],
    }
    assert doc["tags"] == ["bridge", "city"]
