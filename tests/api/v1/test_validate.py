"""POST /v1/validate: JSON-LD in every shape, NDJSON and HTML pages, with pointers into them."""

from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LD_JSON = {"Content-Type": "application/ld+json"}
HTML = {"Content-Type": "text/html; charset=utf-8"}


def claim_review(**changes: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": "https://factcheck.example/2024/03/bridge",
        "claimReviewed": "The city sold the bridge to a private company.",
        "datePublished": "2024-03-04",
        "author": {"@type": "Organization", "name": "Fact Check Example"},
        "itemReviewed": {
            "@type": "Claim",
            "author": {"@type": "Person", "name": "Pat Example"},
            "datePublished": "2024-03-01",
            "appearance": [{"@type": "CreativeWork", "url": "https://social.example/pat/1"}],
        },
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": 1,
            "bestRating": 5,
            "worstRating": 1,
            "alternateName": "False",
        },
    }
    node.update(changes)
    return {key: value for key, value in node.items() if value is not None}


def validate(client: TestClient, body: Any, **params: str) -> dict[str, Any]:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    response = client.post("/v1/validate", content=content, headers=LD_JSON, params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def paths(result: dict[str, Any], severity: str = "error") -> list[str]:
    return [item["path"] for item in result["findings"] if item["severity"] == severity]


def test_validate_object_needs_no_key_and_finds_nothing_wrong(client: TestClient) -> None:
    result = validate(client, claim_review())

    assert result == {"valid": True, "findings": []}


def test_validate_finding_has_severity_profile_pointer_code_and_message(
    client: TestClient,
) -> None:
    result = validate(client, claim_review(reviewRating={"@type": "Rating"}))

    assert result["valid"] is False
    assert result["findings"] == [
        {
            "severity": "error",
            "profile": "repair",
            "path": "/reviewRating",
            "code": "missing-rating",
            "message": "reviewRating needs a textual rating (alternateName) or a ratingValue on "
            "a usable scale.",
        }
    ]


def test_validate_array_points_into_each_element(client: TestClient) -> None:
    result = validate(client, [claim_review(), claim_review(url="ftp://factcheck.example/x")])

    assert paths(result) == ["/1/url"]
    assert [item["code"] for item in result["findings"] if item["path"] == "/1/url"] == [
        "url-dropped",
        "missing-url",
    ]


def test_validate_graph_points_into_the_graph(client: TestClient) -> None:
    node = claim_review()
    del node["@context"], node["claimReviewed"]
    graph = {
        "@context": "https://schema.org",
        "@graph": [{"@type": "WebPage", "name": "A page"}, node],
    }

    result = validate(client, graph)

    assert paths(result) == ["/@graph/1/claimReviewed"]


def test_validate_data_commons_feed(client: TestClient) -> None:
    result = validate(client, (FIXTURES / "datacommons-feed.json").read_bytes())

    assert result["valid"] is True
    warnings = {(item["path"], item["code"]) for item in result["findings"]}
    assert ("/dataFeedElement/0/item/0/reviewRating/ratingValue", "number-repaired") in warnings
    assert (
        "/dataFeedElement/3/0/item/itemReviewed/appearance",
        "missing-recommended",
    ) in warnings


def test_validate_property_in_another_case_is_read_as_the_schema_org_property(
    client: TestClient,
) -> None:
    node = claim_review(claimReviewed=None, claimreviewed="The bridge was sold.")

    result = validate(client, node)

    assert result == {
        "valid": True,
        "findings": [
            {
                "severity": "warning",
                "profile": "repair",
                "path": "/claimreviewed",
                "code": "property-repaired",
                "message": "claimreviewed was read as claimReviewed.",
            }
        ],
    }


def test_validate_vendor_properties_are_warnings_on_input(client: TestClient) -> None:
    node = claim_review(claimReviewSiteLogo="https://factcheck.example/logo.png", colour="red")

    result = validate(client, node)

    assert result["valid"] is True
    assert [(item["path"], item["severity"], item["code"]) for item in result["findings"]] == [
        ("/claimReviewSiteLogo", "warning", "unknown-property"),
        ("/colour", "warning", "unknown-property"),
    ]


def test_validate_checks_the_chosen_profile_only(client: TestClient) -> None:
    node = claim_review(colour="red", itemReviewed=None)

    both = validate(client, node)
    google = validate(client, node, profile="google")
    schemaorg = validate(client, node, profile="schemaorg")
    unknown = client.post("/v1/validate", json=node, params={"profile": "bing"})

    assert {item["profile"] for item in both["findings"]} == {"google", "schemaorg"}
    assert google["findings"] and {item["profile"] for item in google["findings"]} == {"google"}
    assert schemaorg["findings"] == [
        item for item in both["findings"] if item["profile"] == "schemaorg"
    ]
    assert [item["path"] for item in schemaorg["findings"]] == ["/colour"]
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"


def test_validate_html_page_pointers_name_the_block(client: TestClient) -> None:
    for page, expected in [
        ("jsonld-page.html", []),
        ("rdfa-page.html", []),
        ("microdata-page.html", ["/microdata/1/claimreviewed"]),
    ]:
        response = client.post("/v1/validate", content=(FIXTURES / page).read_bytes(), headers=HTML)

        assert response.status_code == 200, response.text
        repairs = [
            item["path"] for item in response.json()["findings"] if item["profile"] == "repair"
        ]
        assert paths(response.json()) == [], page
        assert [path for path in repairs if not path.endswith("/inLanguage")] == expected, page


def test_validate_html_reads_json_ld_microdata_and_rdfa(client: TestClient) -> None:
    broken_rating = orjson.dumps(
        {"@context": "https://schema.org", "@graph": [{"@type": "WebPage"}, claim_review()]}
    ).replace(
        b'"ratingValue":1,"bestRating":5,"worstRating":1,"alternateName":"False"',
        b'"alternateName":null',
    )
    page = (
        b"""<!doctype html><html><head>
      <script type="application/ld+json">{"@context": "https://schema.org", "@type": "Thing"}
      </script>
      <script type="application/ld+json">"""
        + broken_rating
        + b"""</script>
      <script type="application/ld+json">{"oops": </script>
    </head><body>
      <div itemscope itemtype="https://schema.org/ClaimReview">
        <link itemprop="url" href="https://factcheck.example/a">
        <span itemprop="claimReviewed">A claim</span>
        <div itemprop="reviewRating" itemscope itemtype="https://schema.org/Rating">
          <meta itemprop="ratingValue" content="9"><meta itemprop="bestRating" content="5">
          <meta itemprop="worstRating" content="1"><span itemprop="alternateName">False</span>
        </div>
      </div>
      <div vocab="https://schema.org/" typeof="ClaimReview">
        <span property="claimReviewed">Another claim</span>
        <div property="reviewRating" typeof="Rating">
          <span property="alternateName">True</span>
        </div>
      </div>
    </body></html>"""
    )

    result = client.post("/v1/validate", content=page, headers=HTML).json()

    errors = {
        (item["path"], item["code"]) for item in result["findings"] if item["severity"] == "error"
    }
    assert errors == {
        ("/json-ld/1/@graph/1/reviewRating", "missing-rating"),
        ("/json-ld/2", "invalid-json"),
        ("/rdfa/0/url", "missing-url"),
    }
    assert {
        (item["path"], item["code"]) for item in result["findings"] if item["profile"] == "repair"
    } >= {
        ("/json-ld/1/@graph/1/reviewRating/alternateName", "empty-value"),
        ("/microdata/0/reviewRating", "rating-scale-dropped"),
    }


def test_validate_html_without_structured_data_is_an_error(client: TestClient) -> None:
    response = client.post("/v1/validate", content=b"<html><p>Hello</p></html>", headers=HTML)

    assert response.json() == {
        "valid": False,
        "findings": [
            {
                "severity": "error",
                "profile": "schemaorg",
                "path": "",
                "code": "empty-document",
                "message": "The page holds no JSON-LD, microdata or RDFa.",
            }
        ],
    }


def test_validate_ndjson_points_at_lines(client: TestClient) -> None:
    body = orjson.dumps(claim_review()) + b"\n{not json\n\n" + orjson.dumps(claim_review(url=None))

    response = client.post(
        "/v1/validate", content=body, headers={"Content-Type": "application/x-ndjson"}
    )

    assert paths(response.json()) == ["/1", "/3/url"]


def test_validate_sniffs_a_body_without_a_known_type(client: TestClient) -> None:
    page = (FIXTURES / "microdata-page.html").read_bytes()

    as_text = client.post("/v1/validate", content=page, headers={"Content-Type": "text/plain"})
    as_json = client.post(
        "/v1/validate", content=orjson.dumps(claim_review()), headers={"Content-Type": ""}
    )

    assert "/microdata/1/claimreviewed" in [item["path"] for item in as_text.json()["findings"]]
    assert as_json.json()["valid"] is True


def test_validate_refuses_what_is_not_json_or_html(client: TestClient) -> None:
    for body, headers in [
        (b"certainly not json", LD_JSON),
        (b"{'single': 'quotes'}", {"Content-Type": "application/json"}),
        (b"\xff\xfe garbage", {}),
        (b"   ", LD_JSON),
    ]:
        response = client.post("/v1/validate", content=body, headers=headers)

        assert response.status_code == 400, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["path"] == "/"


def test_validate_body_size_is_capped(client: TestClient) -> None:
    huge = [claim_review(headline="x" * 1000) for _ in range(1100)]

    response = client.post("/v1/validate", content=orjson.dumps(huge), headers=LD_JSON)

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
