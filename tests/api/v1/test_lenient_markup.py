"""Lenient in, strict out: markup shaped as fact-checkers publish it is imported, each repair
reported as a warning pointing at the value as sent, and what the service emits stays valid.

Every example is made up, in the shape of markup seen on real fact-checkers' pages (issue 15)."""

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app.core import validation
from tests.api.v1.test_import import FCE, HTML, LD_JSON, NDJSON, claim_review, post_import
from tests.conftest import ADMIN, bearer, make_key, make_publisher

SITE = "https://factcheck.example"
ARTICLE = f"{SITE}/2020/06/bridge-sold"


@pytest.fixture
def fce(client: TestClient) -> dict[str, str]:
    make_publisher(client, **FCE)
    return bearer(make_key(client, "fce", "reviews:write"))


def imported(
    client: TestClient,
    headers: dict[str, str],
    body: Any,
    *,
    content_type: dict[str, str] = LD_JSON,
    **params: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The reviews an import made (native JSON), and every item's findings."""
    report = post_import(client, body, headers, content_type=content_type, **params)
    findings = [finding for item in report["items"] for finding in item["findings"]]
    stored = [
        client.get(f"/v1/claim-reviews/{item['id']}", headers=headers).json()
        for item in report["items"]
        if item["id"] is not None
    ]
    for review in stored:  # strict out: what is served passes both profiles
        served = client.get(f"/v1/claim-reviews/{review['id']}.jsonld")
        assert not validation.has_errors(validation.validate(served.json())), served.text
    return stored, findings


def repairs(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(item["path"], item["code"]) for item in findings if item["profile"] == "repair"}


def yoast_page(*nodes: dict[str, Any]) -> bytes:
    graph = {"@context": "https://schema.org", "@graph": list(nodes)}
    return (
        b'<!doctype html><html lang="en-GB"><head><link rel="canonical" href="'
        + ARTICLE.encode()
        + b'"><script type="application/ld+json" class="yoast-schema-graph">'
        + orjson.dumps(graph)
        + b"</script></head><body></body></html>"
    )


ORGANIZATION = {
    "@type": "Organization",
    "@id": f"{SITE}/#organization",
    "name": "Fact Check Example",
    "url": f"{SITE}/",
    "logo": {"@type": "ImageObject", "url": f"{SITE}/logo.png", "width": "600", "height": ""},
}


# 1. Graphs and wrappers


def test_claim_review_in_a_graph_reads_its_author_from_an_id_reference(
    client: TestClient, fce: dict[str, str]
) -> None:
    node = claim_review(url=ARTICLE, author={"@id": f"{SITE}/#organization"})
    del node["@context"]
    webpage = {"@type": "WebPage", "@id": "#webpage", "name": "Bridge"}
    organization = {**ORGANIZATION, "@id": "/#organization"}  # relative: read on the page
    organization["logo"] = {**ORGANIZATION["logo"], "width": 600}
    page = yoast_page(webpage, organization, node)

    stored, findings = imported(client, fce, page, content_type=HTML)

    assert [review["url"] for review in stored] == [ARTICLE]
    assert ("/json-ld/0/@graph/2/author", "reference-resolved") in repairs(findings)
    assert ("/json-ld/0/@graph/1/logo/height", "empty-value") in repairs(findings)
    # What the validator says of the node read through the reference points at that node.
    assert {(f["path"], f["code"]) for f in findings if f["profile"] == "schemaorg"} == {
        ("/json-ld/0/@graph/1/logo/width", "unexpected-value-type")
    }


def test_references_across_scripts_and_feed_items_as_arrays_and_top_level_arrays(
    client: TestClient, fce: dict[str, str]
) -> None:
    organization = orjson.dumps({"@context": "https://schema.org", **ORGANIZATION})
    review = claim_review(1, author={"@id": f"{SITE}/#organization"})
    page = (
        b'<html><head><script type="application/ld+json">'
        + organization
        + b'</script><script type="application/ld+json">'
        + orjson.dumps(review)
        + b"</script></head></html>"
    )
    feed = {
        "@context": "https://schema.org",
        "@type": "DataFeed",
        "dataFeedElement": [{"@type": "DataFeedItem", "item": [claim_review(2)]}],
    }

    from_page, page_findings = imported(client, fce, page, content_type=HTML)
    from_feed, _ = imported(client, fce, feed)
    from_array, _ = imported(client, fce, [claim_review(3), claim_review(4)])

    assert ("/json-ld/1/author", "reference-resolved") in repairs(page_findings)
    assert len(from_page) == len(from_feed) == 1
    assert len(from_array) == 2


# 2. Types


@pytest.mark.parametrize(
    "types",
    [["Review", "ClaimReview"], "claimReview", "http://schema.org/ClaimReview"],
)
def test_claim_review_types_in_other_spellings(
    client: TestClient, fce: dict[str, str], types: Any
) -> None:
    node = claim_review(**{"@type": types})
    node["itemReviewed"]["@type"] = "CreativeWork"

    stored, findings = imported(client, fce, node)

    assert len(stored) == 1
    assert ("/itemReviewed", "claim-typed") in repairs(findings)
    assert stored[0]["claim"]["author"]["name"] == "Pat Example"


# 3. Numbers and empty values


def test_numbers_as_strings_empty_values_and_numbers_where_text_belongs(
    client: TestClient, fce: dict[str, str]
) -> None:
    rating = {
        "@type": "Rating",
        "ratingValue": " 4.5 ",
        "bestRating": "5",
        "worstRating": "1",
        "alternateName": "Mostly true",
        "ratingExplanation": 5,
    }
    node = claim_review(reviewRating=rating, headline="", keywords=[], image="")

    stored, findings = imported(client, fce, node)

    assert stored[0]["rating"] == {"value": 4.5, "best": 5, "worst": 1, "label": "Mostly true"}
    assert "headline" not in stored[0] and "image" not in stored[0]
    assert repairs(findings) >= {
        ("/reviewRating/ratingValue", "number-repaired"),
        ("/reviewRating/ratingExplanation", "not-text"),
        ("/headline", "empty-value"),
        ("/keywords", "empty-value"),
    }


# 4. Rating scales


@pytest.mark.parametrize(
    ("numbers", "kept", "code"),
    [
        ({"ratingValue": 2}, {"value": 2, "best": 5, "worst": 1}, "rating-scale-default"),
        ({"ratingValue": 2, "bestRating": 2, "worstRating": 2}, {}, "rating-scale-dropped"),
        ({"ratingValue": -1, "bestRating": -1, "worstRating": -1}, {}, "rating-scale-dropped"),
        ({"ratingValue": 7, "bestRating": 5, "worstRating": 1}, {}, "rating-scale-dropped"),
        ({"ratingValue": 2, "bestRating": 1, "worstRating": 5}, {}, "rating-scale-dropped"),
        ({"ratingValue": 9}, {}, "rating-scale-dropped"),
    ],
)
def test_rating_scales_take_defaults_or_drop_their_numbers(
    client: TestClient,
    fce: dict[str, str],
    numbers: dict[str, Any],
    kept: dict[str, Any],
    code: str,
) -> None:
    node = claim_review(reviewRating={"@type": "Rating", "alternateName": "False", **numbers})

    stored, findings = imported(client, fce, node)

    assert stored[0]["rating"] == {"label": "False", **kept}
    assert ("/reviewRating", code) in repairs(findings)


def test_a_rating_with_only_a_label_or_only_a_number_says_something(
    client: TestClient, fce: dict[str, str]
) -> None:
    label_only = claim_review(1, reviewRating={"alternateName": "Pants on Fire"})
    number_only = claim_review(2, reviewRating={"ratingValue": 1, "bestRating": 5})
    label_as_name = claim_review(3, reviewRating={"@type": "Rating", "name": "Falso"})
    nothing = claim_review(4, reviewRating={"@type": "Rating", "ratingValue": ""})

    report = post_import(client, [label_only, number_only, label_as_name, nothing], fce)

    assert [item["status"] for item in report["items"]] == [
        "created",
        "created",
        "created",
        "invalid",
    ]
    labels = [
        client.get(f"/v1/claim-reviews/{item['id']}", headers=fce).json()["rating"]["label"]
        for item in report["items"][:3]
    ]
    assert labels == ["Pants on Fire", "False", "Falso"]
    assert ("/1/reviewRating", "rating-label-derived") in repairs(report["items"][1]["findings"])
    assert [
        (f["path"], f["code"]) for f in report["items"][3]["findings"] if f["severity"] == "error"
    ] == [("/3/reviewRating", "missing-rating")]


# 5. Dates


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("2020-06-23 20:02", "2020-06-23T20:02:00Z"),
        ("2020-08-31 17:22:16", "2020-08-31T17:22:16Z"),
        ("2020-08-31T17:22:16", "2020-08-31T17:22:16Z"),
        ("2020-08-31T17:22:16+5:30", "2020-08-31T11:52:16Z"),
        ("2020-08-31Z", "2020-08-31"),
        ("Mon, 31 Aug 2020 17:22:16 +0200", "2020-08-31T15:22:16Z"),
    ],
)
def test_dates_without_a_zone_or_with_malformed_offsets_are_read(
    client: TestClient, fce: dict[str, str], sent: str, read: str
) -> None:
    stored, findings = imported(client, fce, claim_review(datePublished=sent))

    assert stored[0]["date_published"] == read
    assert ("/datePublished", "date-repaired") in repairs(findings)


def test_a_time_without_a_zone_is_read_in_the_publishers_time_zone(
    client: TestClient, fce: dict[str, str]
) -> None:
    bad = client.patch("/v1/publishers/fce", json={"time_zone": "Mars/Olympus"}, headers=ADMIN)
    client.patch(
        "/v1/publishers/fce", json={"time_zone": "Europe/Paris"}, headers=ADMIN
    ).raise_for_status()
    node = claim_review(datePublished="2020-06-23 20:02")
    node["itemReviewed"]["datePublished"] = "2020-01-10T08:00:00"  # winter: UTC+1

    stored, findings = imported(client, fce, node)
    written = client.post(
        "/v1/claim-reviews",
        content=orjson.dumps(claim_review(2, datePublished="2020-06-23 20:02")),
        headers={**fce, **LD_JSON},
    )

    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "/time_zone"
    assert client.get("/v1/publishers/fce", headers=ADMIN).json()["time_zone"] == "Europe/Paris"
    assert stored[0]["date_published"] == "2020-06-23T18:02:00Z"
    assert stored[0]["claim"]["date"] == "2020-01-10T07:00:00Z"
    assert written.json()["date_published"] == "2020-06-23T18:02:00Z"
    assert ("/datePublished", "date-repaired") in repairs(findings)


def test_a_date_that_cannot_be_read_is_dropped_not_refused(
    client: TestClient, fce: dict[str, str]
) -> None:
    stored, findings = imported(client, fce, claim_review(datePublished="last Tuesday"))

    assert "date_published" not in stored[0]
    assert ("/datePublished", "date-unreadable") in repairs(findings)


# 6. URLs


def test_relative_schemeless_and_protocol_relative_urls_resolve_against_the_page(
    client: TestClient, fce: dict[str, str]
) -> None:
    node = claim_review(
        url="/2020/06/bridge-sold",
        image="//cdn.factcheck.example/bridge.jpg",
        creator={"@type": "Person", "name": "Devesh", "url": "/author/devesh"},
    )
    node["itemReviewed"]["appearance"] = [{"url": "social.example/posts/1"}]
    page = (
        b'<html><head><base href="https://factcheck.example/"><script type="application/ld+json">'
        + orjson.dumps(node)
        + b"</script></head></html>"
    )

    given, _ = imported(client, fce, page, content_type=HTML, page_url=ARTICLE)
    from_base, findings = imported(
        client, fce, page.replace(b"bridge-sold", b"b2"), content_type=HTML
    )

    assert given[0]["url"] == ARTICLE
    assert given[0]["image"] == "https://cdn.factcheck.example/bridge.jpg"
    assert given[0]["authors"] == [{"name": "Devesh", "url": f"{SITE}/author/devesh"}]
    assert given[0]["claim"]["appearances"] == [{"url": "https://social.example/posts/1"}]
    assert from_base[0]["url"] == f"{SITE}/2020/06/b2"
    assert ("/json-ld/0/url", "url-resolved") in repairs(findings)


def test_json_ld_resolves_against_its_own_url_and_junk_urls_are_dropped(
    client: TestClient, fce: dict[str, str]
) -> None:
    node = claim_review(image="N/A", url=ARTICLE)
    node["author"] = {"@type": "Organization", "name": "FCE", "url": "#", "sameAs": ["", "/fce"]}
    node["itemReviewed"]["appearance"] = [
        {"url": "javascript:alert(1)"},
        {"url": "/share/1"},
        {"url": "http://[not-an-address/x"},
        {"url": f"{SITE}/posts/bridge-\n  sold now"},  # wrapped by the page's HTML
    ]

    stored, findings = imported(client, fce, node)

    assert "image" not in stored[0]
    assert stored[0]["claim"]["appearances"] == [
        {"url": f"{SITE}/share/1"},
        {"url": f"{SITE}/posts/bridge-%20%20sold%20now"},
    ]
    assert repairs(findings) >= {
        ("/image", "url-dropped"),
        ("/author/url", "url-dropped"),
        ("/itemReviewed/appearance/0/url", "url-dropped"),
        ("/itemReviewed/appearance/1/url", "url-resolved"),
    }


def test_an_article_url_that_does_not_resolve_refuses_the_review(
    client: TestClient, fce: dict[str, str]
) -> None:
    node = claim_review(url="/relative/with/nothing/to/resolve/against")
    node["author"] = {"@type": "Organization", "name": "Fact Check Example"}

    report = post_import(client, node, fce)

    assert report["invalid"] == 1
    errors = [
        (f["path"], f["code"]) for f in report["items"][0]["findings"] if f["severity"] == "error"
    ]
    assert errors == [("/url", "missing-url")]


# 7. Text


def test_text_as_arrays_with_entities_and_tags(client: TestClient, fce: dict[str, str]) -> None:
    node = claim_review(
        claimReviewed=["  Minister&#039;s &quot;bridge&quot; <b>sold</b>\n  abroad ", "Other"],
        headline="Bridge &ndash; sold?",
    )

    stored, findings = imported(client, fce, node)

    assert stored[0]["claim_reviewed"] == 'Minister\'s "bridge" sold abroad'
    assert stored[0]["headline"] == "Bridge \u2013 sold?"
    assert repairs(findings) >= {
        ("/claimReviewed", "multiple-values"),
        ("/claimReviewed/0", "text-repaired"),
        ("/headline", "text-repaired"),
    }


# 8. Language


@pytest.mark.parametrize(
    ("sent", "tag"),
    [("en_US", "en-US"), ("EN", "en"), ("English", "en"), ("Português", "pt"), ("pt_br", "pt-BR")],
)
def test_language_tags_and_names_are_read_as_bcp_47(
    client: TestClient, fce: dict[str, str], sent: str, tag: str
) -> None:
    stored, findings = imported(client, fce, claim_review(inLanguage=sent))

    assert stored[0]["language"] == tag
    assert "language_source" not in stored[0]
    assert ("/inLanguage", "language-repaired") in repairs(findings)


def test_language_comes_from_the_page_then_the_publisher_then_detection(
    client: TestClient, fce: dict[str, str]
) -> None:
    portuguese = claim_review(
        1, inLanguage=None, claimReviewed="O ministro vendeu a ponte para uma empresa privada."
    )
    page = (
        b'<html lang="es"><head><script type="application/ld+json">'
        + orjson.dumps(claim_review(2, inLanguage=None))
        + b"</script></head></html>"
    )

    detected, findings = imported(client, fce, portuguese)
    from_page, _ = imported(client, fce, page, content_type=HTML)
    client.patch("/v1/publishers/fce", json={"language": "fr"}, headers=ADMIN).raise_for_status()
    from_publisher, _ = imported(client, fce, claim_review(3, inLanguage=None))

    assert (detected[0]["language"], detected[0]["language_source"]) == ("pt", "detected")
    assert ("/inLanguage", "language-detected") in repairs(findings)
    assert from_page[0]["language"] == "es"
    assert from_publisher[0]["language"] == "fr"
    assert "language_source" not in from_page[0] and "language_source" not in from_publisher[0]
    overridden = client.patch(
        f"/v1/claim-reviews/{detected[0]['id']}", json={"language": "pt-PT"}, headers=fce
    ).json()
    assert (overridden["language"], overridden.get("language_source")) == ("pt-PT", None)


# 9. Authors


def test_authors_arrays_journalists_and_claimants_as_strings(
    client: TestClient, fce: dict[str, str]
) -> None:
    journalist = {"@type": "Person", "name": "Devesh Kumar", "url": f"{SITE}/author/devesh"}
    organization = {"@type": "Organization", "name": "Fact Check Example", "url": f"{SITE}/"}
    node = claim_review(1, author=[journalist, organization])
    node["itemReviewed"]["author"] = "Viral social media post"
    person_only = claim_review(2, author=journalist)
    person_only["itemReviewed"]["author"] = {"@type": "Person", "name": " "}
    internet = claim_review(3)
    internet["itemReviewed"]["author"] = {"@type": "Organization", "name": "Internet"}

    stored, findings = imported(client, fce, [node, person_only, internet])

    assert [review["authors"] for review in stored[:2]] == [
        [{"name": "Devesh Kumar", "url": f"{SITE}/author/devesh"}]
    ] * 2
    assert stored[0]["claim"]["author"] == {"type": "Person", "name": "Viral social media post"}
    assert "author" not in stored[1]["claim"]
    assert stored[2]["claim"]["author"] == {"type": "Organization", "name": "Internet"}
    assert {(path, code) for path, code in repairs(findings) if "author" in path} >= {
        ("/0/author", "author-chosen"),
        ("/0/author", "author-is-person"),
        ("/1/author", "author-is-person"),
        ("/1/itemReviewed/author/name", "empty-value"),
    }


# 10. Properties outside the model


def test_image_sizes_and_vendor_properties_never_refuse(
    client: TestClient, fce: dict[str, str]
) -> None:
    node = claim_review(
        image={"@type": "ImageObject", "url": f"{SITE}/i.png", "width": "1200", "height": 300},
        claimReviewSiteLogo=f"{SITE}/logo.png",
        icon="fa-times",
        color="#ff0000",
        postTerms=["bridges"],
    )

    stored, findings = imported(client, fce, node)

    assert stored[0]["image"] == f"{SITE}/i.png"
    vendor = {
        (f["path"], f["code"])
        for f in findings
        if f["path"] in ("/claimReviewSiteLogo", "/icon", "/color", "/postTerms")
    }
    assert vendor == {
        ("/claimReviewSiteLogo", "unknown-property"),
        ("/icon", "unknown-property"),
        ("/color", "property-not-in-domain"),  # a Product's property in schema.org
        ("/postTerms", "unknown-property"),
    }
    assert not any(f["severity"] == "error" for f in findings)


# 11. Microdata and RDFa quirks


def test_microdata_with_odd_case_hidden_ratings_http_types_and_entities(
    client: TestClient, fce: dict[str, str]
) -> None:
    page = f"""<html lang="en"><body>
    <div itemscope itemtype="http://schema.org/ClaimReview">
      <link itemProp="URL" href="{ARTICLE}">
      <span itemprop="ClaimReviewed">The mayor&amp;#039;s bridge was sold</span>
      <div itemprop="reviewRating" itemscope itemtype="http://schema.org/Rating">
        <span itemprop="ratingValue" style="display:none">1</span>
        <meta itemprop="bestRating" content="5"><meta itemprop="worstRating" content="1">
        <span itemprop="alternateName">False</span>
      </div>
    </div></body></html>""".encode()

    stored, findings = imported(client, fce, page, content_type=HTML)

    assert stored[0]["claim_reviewed"] == "The mayor's bridge was sold"
    assert stored[0]["rating"] == {"value": 1, "best": 5, "worst": 1, "label": "False"}
    assert repairs(findings) >= {
        ("/microdata/0/URL", "property-repaired"),
        ("/microdata/0/ClaimReviewed", "property-repaired"),
    }
    assert not any(f["code"] == "number-repaired" for f in findings)  # microdata has no numbers


# Every door reads the same way


def test_validate_answers_valid_exactly_when_the_import_keeps_the_review(
    client: TestClient, fce: dict[str, str]
) -> None:
    messy = claim_review(1, datePublished="2020-06-23 20:02", inLanguage="en_US")
    messy["reviewRating"] = {"ratingValue": "1", "bestRating": "", "alternateName": "False"}
    broken = claim_review(2, claimReviewed="")
    body = orjson.dumps([messy, broken])

    validated = client.post("/v1/validate", content=body, headers=LD_JSON).json()
    report = post_import(client, body, fce)

    assert validated["valid"] is False
    assert [item["status"] for item in report["items"]] == ["created", "invalid"]
    errors = {(f["path"], f["code"]) for f in validated["findings"] if f["severity"] == "error"}
    assert errors == {("/1/claimReviewed", "missing-claim")}
    assert repairs(validated["findings"]) == repairs(report["items"][0]["findings"]) | repairs(
        report["items"][1]["findings"]
    )
    alone = client.post("/v1/validate", content=orjson.dumps(messy), headers=LD_JSON).json()
    assert alone["valid"] is True


def test_ndjson_lines_and_the_ld_json_write_repair_alike(
    client: TestClient, fce: dict[str, str]
) -> None:
    node = claim_review(datePublished="2020-06-23 20:02", inLanguage="EN")

    report = post_import(client, orjson.dumps(node) + b"\n", fce, content_type=NDJSON)
    written = client.post(
        "/v1/claim-reviews",
        content=orjson.dumps(claim_review(9, datePublished="2020-06-23 20:02", inLanguage="EN")),
        headers={**fce, **LD_JSON},
    )

    assert report["created"] == 1
    assert written.status_code == 201, written.text
    assert {(f["path"], f["code"]) for f in written.json()["repairs"]} == {
        ("/datePublished", "date-repaired"),
        ("/inLanguage", "language-repaired"),
    }
    assert {(f["path"], f["code"]) for f in report["items"][0]["findings"]} == {
        ("/0/datePublished", "date-repaired"),
        ("/0/inLanguage", "language-repaired"),
    }


def test_an_author_with_only_a_url_picks_its_publisher(client: TestClient) -> None:
    make_publisher(client, **FCE)
    node = claim_review(author={"url": f"{SITE}/"})

    report = post_import(client, node, ADMIN)

    assert report["created"] == 1
    review = client.get(f"/v1/claim-reviews/{report['items'][0]['id']}", headers=ADMIN).json()
    assert review["publisher"] == "fce"


# Nothing is lost


def test_a_repaired_page_imported_again_is_unchanged_and_its_source_is_kept(
    client: TestClient, fce: dict[str, str]
) -> None:
    node = claim_review(url="/2020/06/bridge-sold", datePublished="2020-06-23 20:02")
    node["author"] = {"@id": f"{SITE}/#organization"}
    page = yoast_page(ORGANIZATION, node)

    first = post_import(client, page, fce, content_type=HTML)
    again = post_import(client, page, fce, content_type=HTML)

    assert [item["status"] for item in again["items"]] == ["unchanged"]
    assert again["items"][0]["findings"] == first["items"][0]["findings"]
    review_id = first["items"][0]["id"]
    revision = client.get(
        f"/v1/claim-reviews/{review_id}/revisions/1", params={"include": "source"}, headers=fce
    ).json()
    assert revision["source"]["page_url"] == ARTICLE
    assert revision["source"]["pointer"] == "/json-ld/0/@graph/1"
    sent = revision["source"]["node"]
    assert (sent["url"], sent["datePublished"]) == ("/2020/06/bridge-sold", "2020-06-23 20:02")
    assert sent["author"]["name"] == "Fact Check Example"  # the reference, written in


def test_a_reference_to_a_node_inside_the_claim_review_itself(
    client: TestClient, fce: dict[str, str]
) -> None:
    node = claim_review(author={"@id": "#fce"})
    node["publisher"] = {"@type": "Organization", "@id": "#fce", "name": "Fact Check Example"}

    stored, findings = imported(client, fce, ndjson_line(node), content_type=NDJSON)

    assert len(stored) == 1
    assert ("/0/author", "reference-resolved") in repairs(findings)


def ndjson_line(node: dict[str, Any]) -> bytes:
    return orjson.dumps(node) + b"\n"
