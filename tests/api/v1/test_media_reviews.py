"""MediaReviews over HTTP: written as native JSON, refused in the wrong combination, rated by their
authenticity category, filtered by kind, imported from the shapes fact-checkers publish
(Google's Fact Check Markup Tool, the Reporters' Lab's MediaReviewItem), exported and searched
through Google's claims:search."""

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.conftest import bearer, make_key, make_publisher

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FCE = {"slug": "fce", "name": "Fact Check Example", "url": "https://factcheck.example/"}
LD_JSON = {"Content-Type": "application/ld+json"}


@pytest.fixture
def fce(client: TestClient) -> dict[str, str]:
    """Headers of a write key of Fact Check Example (factcheck.example)."""
    make_publisher(client, **FCE)
    return bearer(make_key(client, "fce", "reviews:write"))


def media_review(number: int = 1, **changes: Any) -> dict[str, Any]:
    return {
        "kind": "media",
        "url": f"https://factcheck.example/checks/photo-{number}",
        "headline": f"Photo {number} is not what it claims",
        "date_published": "2024-03-05",
        "media_authenticity": "TransformedContent",
        "original_media_link": "https://news.example/original",
        "media": {
            "appearances": [
                {"type": "ImageObject", "content_url": f"https://social.example/p/{number}"}
            ]
        },
    } | changes


def claim_review(number: int = 1) -> dict[str, Any]:
    return {
        "url": f"https://factcheck.example/checks/claim-{number}",
        "claim_reviewed": f"Claim number {number}.",
        "rating": {"label": "False"},
    }


def test_media_review_is_stored_and_rendered_as_a_media_review(client, fce):
    created = client.post("/v1/claim-reviews", json=media_review(), headers=fce)

    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["verdict"], body["findings"]) == ("media", "false", [])
    node = client.get(f"/v1/claim-reviews/{body['id']}.jsonld").json()
    assert node["@type"] == "MediaReview"
    assert node["mediaAuthenticityCategory"] == "TransformedContent"
    assert node["itemReviewed"]["@type"] == "MediaReviewItem"
    assert node["itemReviewed"]["mediaItemAppearance"] == [
        {"@type": "ImageObject", "contentUrl": "https://social.example/p/1"}
    ]


def test_claim_review_answers_kind_claim(client, fce):
    created = client.post("/v1/claim-reviews", json=claim_review(), headers=fce)

    assert created.json()["kind"] == "claim"
    assert client.get(f"/v1/claim-reviews/{created.json()['id']}.jsonld").json()["@type"] == (
        "ClaimReview"
    )


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (claim_review() | {"media_authenticity": "StagedContent"}, "/media_authenticity"),
        (claim_review() | {"original_media_context": "Taken in 2019."}, "/original_media_context"),
        (claim_review() | {"media": {"appearances": []}}, "/media"),
        (media_review(claim_reviewed="A claim."), "/claim_reviewed"),
        (media_review(claim={"location": "Fieldtown"}), "/claim"),
        (media_review(media_authenticity="Fake"), "/media_authenticity"),
        (media_review(media={"appearances": [{"content_url": "https://x.example/"}]}), None),
        (
            media_review(media={"appearances": [{"type": "VideoObject", "start_time": "soon"}]}),
            None,
        ),
    ],
)
def test_wrong_combination_or_value_is_refused_naming_the_field(client, fce, body, pointer):
    response = client.post("/v1/claim-reviews", json=body, headers=fce)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    paths = [error["path"] for error in response.json()["errors"]]
    if pointer is None:
        assert paths and all(path.startswith("/media/appearances/0/") for path in paths)
    else:
        assert paths == [pointer]


def test_publishing_a_media_review_without_its_category_is_refused_by_the_google_profile(
    client, fce
):
    body = media_review()
    del body["media_authenticity"]

    refused = client.post("/v1/claim-reviews", json=body, headers=fce)
    draft = client.post("/v1/claim-reviews", json=body | {"status": "draft"}, headers=fce)

    assert refused.status_code == 422
    assert {"path": "/media_authenticity", "message": refused.json()["errors"][0]["message"]} in (
        refused.json()["errors"]
    )
    assert draft.status_code == 201
    codes = {(item["path"], item["code"]) for item in draft.json()["findings"]}
    assert ("/media_authenticity", "missing-required") in codes


@pytest.mark.parametrize(
    ("category", "verdict"),
    [
        ("OriginalMediaContent", "true"),
        ("TransformedContent", "false"),
        ("EditedOrCroppedContent", "misleading"),
        ("DecontextualizedContent", "misleading"),
        ("StagedContent", "false"),
        ("SatireOrParodyContent", "satire"),
    ],
)
def test_verdict_of_a_media_review_is_its_category_mapped(client, fce, category, verdict):
    body = media_review(media_authenticity=category, original_media_context="In 2019.")

    created = client.post("/v1/claim-reviews", json=body, headers=fce)

    assert created.json()["verdict"] == verdict


def test_changing_the_category_re_rates_the_review(client, fce):
    created = client.post("/v1/claim-reviews", json=media_review(), headers=fce).json()
    path = f"/v1/claim-reviews/{created['id']}"

    patched = client.patch(path, json={"media_authenticity": "StagedContent"}, headers=fce)

    assert patched.json()["verdict"] == "false"
    revisions = client.get(f"{path}/revisions", headers=fce).json()["items"]
    assert [revision["kind"] for revision in revisions] == ["created", "re-rated"]


def test_kind_filters_lists_facets_exports_and_the_feed(client, fce):
    claim = client.post("/v1/claim-reviews", json=claim_review(), headers=fce).json()
    media = client.post("/v1/claim-reviews", json=media_review(), headers=fce).json()

    def ids(path: str, **params: Any) -> list[str]:
        return [item["id"] for item in client.get(path, params=params).json()["items"]]

    assert ids("/v1/claim-reviews", kind="media") == [media["id"]]
    assert ids("/v1/claim-reviews", kind="claim") == [claim["id"]]
    assert sorted(ids("/v1/claim-reviews")) == sorted([claim["id"], media["id"]])
    assert ids("/v1/claim-reviews", kind="media", verdict="false") == [media["id"]]
    facets = client.get("/v1/facets", params={"kind": "media"}).json()
    assert facets["total"] == 1
    lines = client.get("/v1/export", params={"format": "ndjson", "kind": "media"}).content
    assert [orjson.loads(line)["@type"] for line in lines.splitlines()] == ["MediaReview"]
    feed = client.get("/v1/feed", params={"kind": "claim"}).json()["dataFeedElement"]
    assert [item["item"]["@type"] for item in feed] == ["ClaimReview"]
    bad = client.get("/v1/claim-reviews", params={"kind": "video"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "kind"


def test_csv_export_ends_with_the_media_columns(client, fce):
    client.post("/v1/claim-reviews", json=claim_review(), headers=fce)
    client.post("/v1/claim-reviews", json=media_review(), headers=fce)

    rows = list(csv.reader(io.StringIO(client.get("/v1/export?format=csv").text)))

    assert rows[0][-5:] == [
        "kind",
        "media_authenticity",
        "original_media_context",
        "original_media_link",
        "media_urls",
    ]
    tails = sorted(row[-5:] for row in rows[1:])
    assert tails == [
        ["claim", "", "", "", ""],
        [
            "media",
            "TransformedContent",
            "",
            "https://news.example/original",
            "https://social.example/p/1",
        ],
    ]


def test_import_html_page_reads_the_markup_tools_media_review(client, fce):
    page = (FIXTURES / "mediareview-page.html").read_bytes()

    response = client.post("/v1/import", content=page, headers={**fce, "Content-Type": "text/html"})

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["created"] == 2, report
    [media_item] = [item for item in report["items"] if item["index"] == 0]
    codes = {finding["code"] for finding in media_item["findings"]}
    assert "media-item-typed" in codes
    stored = client.get(f"/v1/claim-reviews/{media_item['id']}").json()
    assert stored["kind"] == "media"
    assert stored["media_authenticity"] == "TransformedContent"
    assert stored["media"] == {
        "appearances": [
            {"type": "ImageObject", "content_url": "https://social.example/posts/barrier-1"}
        ]
    }
    again = client.post("/v1/import", content=page, headers={**fce, "Content-Type": "text/html"})
    assert again.json()["unchanged"] == 2


def test_import_data_feed_reads_a_media_review_item(client, fce):
    feed = (FIXTURES / "mediareview-feed.json").read_bytes()

    response = client.post("/v1/import", content=feed, headers={**fce, **LD_JSON})

    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert item["status"] == "created", item
    codes = {finding["code"] for finding in item["findings"]}
    assert {"type-repaired", "authenticity-repaired", "media-typed", "media-author-moved"} <= codes
    stored = client.get(f"/v1/claim-reviews/{item['id']}").json()
    assert (stored["media_authenticity"], stored["verdict"]) == (
        "DecontextualizedContent",
        "misleading",
    )
    [_, zoomed] = stored["media"]["appearances"]
    assert zoomed == {
        "type": "VideoObject",
        "content_url": "https://video.example/p/zoomed",
        "author": {"type": "Person", "name": "A video-sharing account"},
        "archived_at": "https://archive.example/zoomed",
    }


def test_import_drops_a_claim_reviewed_on_a_media_review_with_a_warning(client, fce):
    node = {
        "@context": "https://schema.org",
        "@type": "MediaReview",
        "url": "https://factcheck.example/checks/staged",
        "author": {"@type": "Organization", "name": "Fact Check Example"},
        "claimReviewed": "The video shows a real protest.",
        "mediaAuthenticityCategory": "https://schema.org/StagedContent",
        "itemReviewed": {
            "@type": "MediaReviewItem",
            "mediaItemAppearance": {"@type": "Clip", "embedUrl": "https://video.example/e/1"},
        },
    }

    response = client.post("/v1/import", content=orjson.dumps(node), headers={**fce, **LD_JSON})

    [item] = response.json()["items"]
    assert item["status"] == "created", item
    codes = {finding["code"] for finding in item["findings"]}
    assert {"not-media-property", "media-typed"} <= codes
    stored = client.get(f"/v1/claim-reviews/{item['id']}").json()
    assert "claim_reviewed" not in stored
    assert stored["media"]["appearances"] == [
        {"type": "VideoObject", "embed_url": "https://video.example/e/1"}
    ]


@pytest.mark.parametrize(
    ("sent", "category"),
    [
        ("Transformed", "TransformedContent"),
        ("Original, Missing Context", "DecontextualizedContent"),
        ("Satire/Parody", "SatireOrParodyContent"),
    ],
)
def test_import_reads_the_2020_pilots_rating_names(client, fce, sent, category):
    """PolitiFact and FactCheck.org published MediaReviews in the 2020 pilot with its names."""
    node = {
        "@context": "https://schema.org",
        "@type": "MediaReview",
        "url": "https://factcheck.example/checks/pilot",
        "author": {"@type": "Organization", "name": "Fact Check Example"},
        "mediaAuthenticityCategory": sent,
        "itemReviewed": {
            "@type": "MediaReviewItem",
            "mediaItemAppearance": [{"@type": "ImageObject", "contentUrl": "https://s.example/1"}],
        },
    }

    response = client.post("/v1/import", content=orjson.dumps(node), headers={**fce, **LD_JSON})

    [item] = response.json()["items"]
    assert item["status"] == "created", item
    [repair] = [f for f in item["findings"] if f["code"] == "authenticity-repaired"]
    assert repair["message"] == f"mediaAuthenticityCategory was read as {category}."
    stored = client.get(f"/v1/claim-reviews/{item['id']}").json()
    assert stored["media_authenticity"] == category


def test_import_refuses_a_media_review_that_rates_nothing(client, fce):
    node = {
        "@context": "https://schema.org",
        "@type": "MediaReview",
        "url": "https://factcheck.example/checks/unrated",
        "author": {"@type": "Organization", "name": "Fact Check Example"},
        "mediaAuthenticityCategory": "Doctored",
        "itemReviewed": {"@type": "ImageObject", "contentUrl": "https://social.example/p/9"},
    }

    response = client.post("/v1/import", content=orjson.dumps(node), headers={**fce, **LD_JSON})

    [item] = response.json()["items"]
    assert item["status"] == "invalid"
    assert {(f["path"], f["code"]) for f in item["findings"]} >= {
        ("/mediaAuthenticityCategory", "authenticity-repaired"),
        ("/mediaAuthenticityCategory", "missing-rating"),
    }


def test_media_review_in_claims_search_shows_its_headline_and_authenticity(client, fce):
    body = media_review(
        media_authenticity="DecontextualizedContent",
        original_media_context="Taken in 2019.",
        media={
            "appearances": [
                {
                    "type": "VideoObject",
                    "content_url": "https://video.example/p/7",
                    "date_published": "2024-03-01",
                    "author": {"type": "Organization", "name": "Clip Channel"},
                }
            ]
        },
    )
    client.post("/v1/claim-reviews", json=body, headers=fce)

    [claim] = client.get("/v1alpha1/claims:search", params={"query": "photo"}).json()["claims"]

    assert claim["text"] == "Photo 1 is not what it claims"
    assert claim["claimant"] == "Clip Channel"
    assert claim["claimDate"] == "2024-03-01T00:00:00Z"
    assert claim["claimReview"][0]["textualRating"] == "Missing context"


def test_google_pages_hold_claim_reviews_only(client, fce):
    article = "https://factcheck.example/checks/both"
    client.post("/v1/claim-reviews", json=claim_review() | {"url": article}, headers=fce)
    client.post("/v1/claim-reviews", json=media_review(url=article + "#photo"), headers=fce)

    listed = client.get("/v1alpha1/pages", headers=fce).json()["claimReviewMarkupPages"]

    assert [len(page["claimReviewMarkups"]) for page in listed] == [1]
    assert listed[0]["claimReviewMarkups"][0]["claimReviewed"] == "Claim number 1."


def test_embed_and_public_page_of_a_media_review(client, fce):
    created = client.post("/v1/claim-reviews", json=media_review(), headers=fce).json()

    embed = client.get(f"/v1/claim-reviews/{created['id']}/embed")
    page = client.get(f"/claim-reviews/{created['id']}")
    markup = client.get("/v1/markup", params={"url": media_review()["url"], "format": "jsonld"})

    assert b'"@type":"MediaReview"' in embed.content
    assert page.status_code == 200
    assert "Media reviewed" in page.text and "Claim</h2>" not in page.text
    assert '<p class="label" lang="en">Transformed</p>' in page.text
    assert 'href="https://social.example/p/1"' in page.text
    assert 'href="https://news.example/original"' in page.text
    assert [node["@type"] for node in markup.json()] == ["MediaReview"]
