import copy
import dataclasses
import json
import random
import re
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.core import validation
from app.core.validation import PROFILES, Finding, has_errors, url_on_domains, validate
from tests.conftest import EXAMPLES

SEED = EXAMPLES / "seed-factcheck.jsonld"
DOMAINS = ["polygraph.info"]


def seed() -> dict[str, Any]:
    """The seed ClaimReview with the server's placeholders filled in."""
    document = json.loads(SEED.read_text(encoding="utf-8").replace("{id}", "r1"))
    assert document["dateModified"].startswith("{")
    document["dateModified"] = "2024-01-30T12:00:00Z"
    return document


def found(findings: list[Finding]) -> set[tuple[str, str, str, str]]:
    return {(item.profile, item.severity, item.path, item.code) for item in findings}


def codes_at(findings: list[Finding], path: str) -> set[str]:
    return {item.code for item in findings if item.path == path}


# The seed


def test_seed_passes_both_profiles_without_findings() -> None:
    assert validate(seed(), publisher_domains=DOMAINS) == []


@pytest.mark.parametrize("profile", PROFILES)
def test_seed_passes_each_profile(profile: str) -> None:
    assert validate(seed(), profiles=[profile], publisher_domains=DOMAINS) == []


def test_findings_are_frozen_records() -> None:
    document = seed()
    del document["url"]
    [finding] = validate(document, profiles=["google"])
    assert dataclasses.asdict(finding) == {
        "severity": "error",
        "profile": "google",
        "path": "/url",
        "code": "missing-required",
        "message": finding.message,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.code = "other"  # type: ignore[misc]


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown validation profile"):
        validate(seed(), profiles=["bing"])


def test_profile_given_as_a_string_is_one_profile() -> None:
    document = seed()
    document["colour"] = "red"
    assert validate(document, profiles="google") == []


# Google profile: required fields and the rating scale


@pytest.mark.parametrize("blank", [None, "", "   ", 5, []])
def test_google_missing_claim_reviewed_is_an_error(blank: Any) -> None:
    document = seed()
    document["claimReviewed"] = blank
    findings = validate(document, profiles=["google"])
    assert ("google", "error", "/claimReviewed", "missing-required") in found(findings)
    del document["claimReviewed"]
    findings = validate(document, profiles=["google"])
    assert found(findings) == {("google", "error", "/claimReviewed", "missing-required")}


def test_google_missing_rating_label_is_an_error() -> None:
    document = seed()
    del document["reviewRating"]["alternateName"]
    findings = validate(document, publisher_domains=DOMAINS)
    assert found(findings) == {
        ("google", "error", "/reviewRating/alternateName", "missing-required")
    }
    assert has_errors(findings)


def test_google_missing_rating_or_url_is_an_error() -> None:
    document = seed()
    del document["reviewRating"], document["url"]
    assert found(validate(document, profiles=["google"])) == {
        ("google", "error", "/reviewRating", "missing-required"),
        ("google", "error", "/url", "missing-required"),
    }


def test_google_rating_that_is_not_an_object_is_an_error() -> None:
    document = seed()
    document["reviewRating"] = "False"
    assert ("google", "error", "/reviewRating", "invalid-rating") in found(validate(document))


@pytest.mark.parametrize(("worst", "best"), [(5, 5), (5, 1), ("5", "1")])
def test_google_worst_rating_not_below_best_is_an_error(worst: Any, best: Any) -> None:
    document = seed()
    document["reviewRating"].update(worstRating=worst, bestRating=best, ratingValue=3)
    findings = validate(document, profiles=["google"])
    assert found(findings) == {
        ("google", "error", "/reviewRating/worstRating", "invalid-rating-scale")
    }


@pytest.mark.parametrize("value", [0, 6, 5.5, "7"])
def test_google_rating_value_outside_the_scale_is_an_error(value: Any) -> None:
    document = seed()
    document["reviewRating"]["ratingValue"] = value
    findings = validate(document, profiles=["google"])
    assert found(findings) == {
        ("google", "error", "/reviewRating/ratingValue", "rating-out-of-range")
    }


@pytest.mark.parametrize("value", [1, 5, 2.5, "3"])
def test_google_rating_value_on_the_scale_passes(value: Any) -> None:
    document = seed()
    document["reviewRating"]["ratingValue"] = value
    assert validate(document, profiles=["google"]) == []


def test_google_numeric_rating_without_its_scale_is_a_warning() -> None:
    document = seed()
    del document["reviewRating"]["bestRating"], document["reviewRating"]["worstRating"]
    findings = validate(document, profiles=["google"])
    assert found(findings) == {
        ("google", "warning", "/reviewRating/bestRating", "missing-rating-scale"),
        ("google", "warning", "/reviewRating/worstRating", "missing-rating-scale"),
    }
    assert not has_errors(findings)


def test_google_label_only_rating_passes() -> None:
    document = seed()
    for key in ("ratingValue", "bestRating", "worstRating"):
        del document["reviewRating"][key]
    assert validate(document, publisher_domains=DOMAINS) == []


def test_google_worst_rating_below_one_is_a_warning() -> None:
    document = seed()
    document["reviewRating"].update(worstRating=0, ratingValue=0)
    findings = validate(document, profiles=["google"])
    assert found(findings) == {
        ("google", "warning", "/reviewRating/worstRating", "worst-rating-below-one")
    }


def test_google_rating_that_is_not_a_number_is_a_warning() -> None:
    document = seed()
    document["reviewRating"]["ratingValue"] = "False"
    findings = validate(document, profiles=["google"])
    assert found(findings) == {
        ("google", "warning", "/reviewRating/ratingValue", "rating-not-numeric")
    }


# Google profile: the article url


@pytest.mark.parametrize(
    "url",
    [
        "https://www.polygraph.info/a/x.html",
        "https://polygraph.info/a/x.html",
        "http://news.polygraph.info/x#claim-2",
        "https://WWW.Polygraph.INFO./x",
        "https://www.polygraph.info:443/x",
    ],
)
def test_google_url_on_a_publisher_domain_or_subdomain_passes(url: str) -> None:
    document = seed()
    document["url"] = url
    assert validate(document, publisher_domains=DOMAINS) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://evilpolygraph.info/x",
        "https://polygraph.info.evil.example/x",
        "https://polygraph.info@evil.example/x",
        "https://evil.example/?next=https://polygraph.info/",
        "https://evil.example#@polygraph.info",
    ],
)
def test_google_url_off_the_publisher_domains_is_an_error(url: str) -> None:
    document = seed()
    document["url"] = url
    findings = validate(document, profiles=["google"], publisher_domains=DOMAINS)
    assert found(findings) == {("google", "error", "/url", "url-off-domain")}
    assert validate(document, profiles=["google"]) == []  # no domains given: not checked


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "javascript://polygraph.info/%0aalert(1)",
        "data:text/html,hi",
        "/a/relative.html",
        "https://",
        "https://evil.example\\@polygraph.info/",
        "https://polygraph.info/a b",
        "https://polygraph.info:99999/",
        "https://.polygraph.info/",
        "https://polygraph%2Einfo/",
    ],
)
def test_google_url_that_is_not_plain_http_is_an_error(url: str) -> None:
    document = seed()
    document["url"] = url
    findings = validate(document, profiles=["google"], publisher_domains=DOMAINS)
    assert found(findings) == {("google", "error", "/url", "invalid-url")}


@pytest.mark.parametrize(
    ("url", "domains", "expected"),
    [
        ("https://polygraph.info/", ["polygraph.info"], True),
        ("https://www.polygraph.info/", ["polygraph.info"], True),
        ("https://a.b.polygraph.info/", ["Polygraph.Info."], True),
        ("https://polygraph.info./", ["polygraph.info"], True),
        ("https://evilpolygraph.info/", ["polygraph.info"], False),
        ("https://polygraph.info.evil.example/", ["polygraph.info"], False),
        ("https://www.polygraph.info/", ["other.example", "www.polygraph.info"], True),
        ("https://polygraph.info/", ["www.polygraph.info"], False),
        ("https://polygraph.info/", [], False),
        ("https://polygraph.info/", ["", "."], False),
        ("ftp://polygraph.info/", ["polygraph.info"], False),
        ("javascript://polygraph.info/", ["polygraph.info"], False),
        ("not a url", ["polygraph.info"], False),
        ("https://polygraph.info/", "polygraph.info", True),
    ],
)
def test_url_on_domains(url: str, domains: Any, expected: bool) -> None:
    assert url_on_domains(url, domains) is expected


# Google profile: recommendations and warnings


def test_google_long_claim_is_a_warning() -> None:
    document = seed()
    assert len(document["claimReviewed"]) == 75  # the limit itself passes
    document["claimReviewed"] += "!"
    findings = validate(document, publisher_domains=DOMAINS)
    assert found(findings) == {("google", "warning", "/claimReviewed", "claim-reviewed-too-long")}
    assert not has_errors(findings)


@pytest.mark.parametrize("prefix", ["False: ", "FALSE - ", "false \u2014 ", " False:"])
def test_google_claim_that_starts_with_the_verdict_is_a_warning(prefix: str) -> None:
    document = seed()
    document["claimReviewed"] = prefix + "Russia is not arming North Korea."
    findings = validate(document, profiles=["google"])
    assert found(findings) == {("google", "warning", "/claimReviewed", "claim-contains-verdict")}


def test_google_claim_that_only_begins_with_the_label_word_passes() -> None:
    document = seed()
    document["claimReviewed"] = "False flags were raised over North Korea."
    assert validate(document, profiles=["google"]) == []


def test_google_missing_recommended_fields_are_warnings() -> None:
    document = seed()
    del document["author"], document["datePublished"]
    claim = document["itemReviewed"]
    del claim["author"]["name"], claim["appearance"], claim["datePublished"]
    findings = validate(document, profiles=["google"], publisher_domains=DOMAINS)
    assert found(findings) == {
        ("google", "warning", "/author", "missing-recommended"),
        ("google", "warning", "/datePublished", "missing-recommended"),
        ("google", "warning", "/itemReviewed/author/name", "missing-recommended"),
        ("google", "warning", "/itemReviewed/appearance", "missing-recommended"),
        ("google", "warning", "/itemReviewed/datePublished", "missing-recommended"),
    }
    assert not has_errors(findings)


def test_google_first_appearance_stands_in_for_appearance() -> None:
    document = seed()
    claim = document["itemReviewed"]
    claim["firstAppearance"] = claim.pop("appearance")[0]
    assert validate(document, publisher_domains=DOMAINS) == []


def test_google_item_reviewed_that_is_not_a_claim_is_a_warning() -> None:
    document = seed()
    document["itemReviewed"]["@type"] = "CreativeWork"
    findings = validate(document, profiles=["google"])
    assert found(findings) == {("google", "warning", "/itemReviewed", "item-reviewed-not-claim")}


def test_google_date_published_in_the_future_is_a_warning() -> None:
    document = seed()
    document["datePublished"] = "2999-01-01"
    findings = validate(document, publisher_domains=DOMAINS)
    assert found(findings) == {("google", "warning", "/datePublished", "date-in-future")}


def test_google_checks_only_claim_reviews() -> None:
    person = {"@context": "https://schema.org", "@type": "Person", "name": "Maria Zakharova"}
    assert validate(person) == []


# schema.org profile


@pytest.mark.parametrize(("key", "hint"), [("colour", "color"), ("claimreviewed", "claimReviewed")])
def test_schemaorg_misspelled_property_is_unknown(key: str, hint: str) -> None:
    document = seed()
    document[key] = "x"
    [finding] = validate(document, publisher_domains=DOMAINS)
    assert (finding.profile, finding.severity, finding.path) == ("schemaorg", "error", f"/{key}")
    assert finding.code == "unknown-property"
    assert f"Did you mean {hint}?" in finding.message


def test_schemaorg_unknown_type_is_an_error() -> None:
    document = seed()
    document["itemReviewed"]["author"]["@type"] = "Persona"
    [finding] = validate(document, publisher_domains=DOMAINS)
    assert (finding.path, finding.code) == ("/itemReviewed/author/@type", "unknown-type")
    assert "Did you mean Person?" in finding.message


def test_schemaorg_misspelled_claim_review_type_is_an_error() -> None:
    document = seed()
    document["@type"] = ["ClaimReveiw"]
    findings = validate(document, publisher_domains=DOMAINS)
    assert found(findings) == {("schemaorg", "error", "/@type/0", "unknown-type")}


def test_schemaorg_nested_node_of_a_wrong_type_is_an_error() -> None:
    document = seed()
    document["reviewRating"]["@type"] = "Person"
    document["author"]["@type"] = "Rating"
    findings = validate(document, profiles=["schemaorg"])
    assert ("schemaorg", "error", "/reviewRating", "unexpected-value-type") in found(findings)
    assert ("schemaorg", "error", "/author", "unexpected-value-type") in found(findings)


def test_schemaorg_subtype_of_the_range_passes() -> None:
    document = seed()
    document["reviewRating"]["@type"] = "AggregateRating"
    document["author"]["@type"] = "NewsMediaOrganization"
    assert validate(document, profiles=["schemaorg"]) == []


def test_schemaorg_property_outside_its_domain_is_an_error() -> None:
    document = seed()
    document["ratingExplanation"] = "Because."
    findings = validate(document, profiles=["schemaorg"])
    assert found(findings) == {
        ("schemaorg", "error", "/ratingExplanation", "property-not-in-domain")
    }


@pytest.mark.parametrize("value", [5, 1.5, True, {"@type": "Claim"}, {"name": "x"}])
def test_schemaorg_non_text_where_text_is_expected_is_an_error(value: Any) -> None:
    document = seed()
    document["headline"] = value
    findings = validate(document, profiles=["schemaorg"])
    assert found(findings) == {("schemaorg", "error", "/headline", "unexpected-value-type")}


@pytest.mark.parametrize(
    "value", ["30/01/2024", "2024-02-30", "January 30, 2024", "2024-01-30 10:00"]
)
def test_schemaorg_bad_date_is_an_error(value: str) -> None:
    document = seed()
    document["datePublished"] = value
    findings = validate(document, profiles=["schemaorg"])
    assert found(findings) == {("schemaorg", "error", "/datePublished", "invalid-date")}


@pytest.mark.parametrize(
    "value", ["2024", "2024-01", "2024-01-30", "2024-01-30T10:00:00Z", "2024-01-30T10:00+01:00"]
)
def test_schemaorg_iso_dates_pass(value: str) -> None:
    document = seed()
    document["datePublished"] = value
    assert validate(document, profiles=["schemaorg"]) == []


@pytest.mark.parametrize("value", ["not a url", "www.example.org/x", "https://"])
def test_schemaorg_url_that_is_not_absolute_is_an_error(value: str) -> None:
    document = seed()
    document["itemReviewed"]["author"]["sameAs"] = [value]
    findings = validate(document, profiles=["schemaorg"])
    assert found(findings) == {
        ("schemaorg", "error", "/itemReviewed/author/sameAs/0", "invalid-url")
    }


def test_schemaorg_number_property_wants_a_json_number() -> None:
    document = seed()
    document["commentCount"] = "3"
    assert found(validate(document, profiles=["schemaorg"])) == {
        ("schemaorg", "warning", "/commentCount", "numeric-string")
    }
    for wrong in ("many", 2.5, [1, "x"]):
        document["commentCount"] = wrong
        assert has_errors(validate(document, profiles=["schemaorg"]))
    document["commentCount"] = 3
    assert validate(document, profiles=["schemaorg"]) == []


def test_schemaorg_text_may_stand_in_for_a_thing() -> None:
    document = seed()
    document["itemReviewed"]["author"] = "Maria Zakharova"
    assert validate(document, profiles=["schemaorg"]) == []


@pytest.mark.parametrize(
    "context",
    [
        "https://schema.org",
        "https://schema.org/",
        "http://schema.org",
        "http://schema.org/",
        ["https://schema.org"],
        {"@vocab": "https://schema.org/"},
    ],
)
def test_schemaorg_context_variants_pass(context: Any) -> None:
    document = seed()
    document["@context"] = context
    assert validate(document, publisher_domains=DOMAINS) == []


@pytest.mark.parametrize(
    "context", ["https://example.org", "https://schema.org/docs", 1, [], {"@vocab": "x"}]
)
def test_schemaorg_other_context_is_an_error(context: Any) -> None:
    document = seed()
    document["@context"] = context
    findings = validate(document, publisher_domains=DOMAINS)
    assert found(findings) == {("schemaorg", "error", "/@context", "invalid-context")}


def test_missing_context_is_an_error_under_either_profile() -> None:
    document = seed()
    del document["@context"]
    assert found(validate(document)) == {("schemaorg", "error", "", "missing-context")}
    assert found(validate(document, profiles=["google"])) == {
        ("google", "error", "", "missing-context")
    }


def test_schemaorg_prefixed_and_absolute_terms_are_understood() -> None:
    document = seed()
    document["@type"] = "schema:ClaimReview"
    document["https://schema.org/alternativeHeadline"] = "x"
    document["itemReviewed"]["@type"] = "http://schema.org/Claim"
    assert validate(document, publisher_domains=DOMAINS) == []


def test_schemaorg_terms_are_read_as_the_importer_reads_them() -> None:
    """www. and upper-case prefixes name schema.org terms; a type in the wrong case is an error
    naming the right one, and the node is still checked as that type (Google's rules too)."""
    document = seed()
    document["@type"] = "HTTPS://www.schema.org/ClaimReview"
    document["http://www.schema.org/alternativeHeadline"] = "x"
    assert validate(document, publisher_domains=DOMAINS) == []
    document["@type"] = "claimReview"
    del document["claimReviewed"]
    findings = validate(document, publisher_domains=DOMAINS)
    assert found(findings) == {
        ("schemaorg", "error", "/@type", "unknown-type"),
        ("google", "error", "/claimReviewed", "missing-required"),
    }
    assert "Did you mean ClaimReview?" in findings[0].message


def test_schemaorg_terms_from_other_vocabularies_are_warnings() -> None:
    document = seed()
    document["http://purl.org/dc/terms/title"] = "x"
    document["author"]["@type"] = ["Organization", "foaf:Organization"]
    findings = validate(document, publisher_domains=DOMAINS)
    assert found(findings) == {
        ("schemaorg", "warning", "/author/@type/1", "unknown-type"),
        ("schemaorg", "warning", "/http:~1~1purl.org~1dc~1terms~1title", "unknown-property"),
    }


def test_schemaorg_superseded_term_is_a_warning() -> None:
    document = seed()
    document["fileFormat"] = "text/html"
    findings = validate(document, profiles=["schemaorg"])
    assert found(findings) == {("schemaorg", "warning", "/fileFormat", "superseded-term")}
    assert "encodingFormat" in findings[0].message


def test_schemaorg_value_objects_and_node_references_pass() -> None:
    document = seed()
    document["reviewRating"]["alternateName"] = {"@value": "Falso", "@language": "pt"}
    document["url"] = {"@id": document["url"]}
    assert validate(document, profiles=["schemaorg"]) == []


def test_schemaorg_untyped_object_passes_where_a_thing_is_expected() -> None:
    document = seed()
    del document["author"]["@type"]
    assert validate(document, profiles=["schemaorg"]) == []


def test_null_value_is_a_warning() -> None:
    document = seed()
    document["image"] = None
    assert found(validate(document, publisher_domains=DOMAINS)) == {
        ("schemaorg", "warning", "/image", "null-value")
    }


# Document shapes and pointers


def _broken(document: dict[str, Any]) -> dict[str, Any]:
    """A ClaimReview without a label and with an unknown property."""
    document = copy.deepcopy(document)
    del document["reviewRating"]["alternateName"]
    document["claimreviewed"] = "x"
    return document


def test_pointers_into_a_graph() -> None:
    review = seed()
    del review["@context"]
    graph = {"@context": "https://schema.org", "@graph": [review["author"], _broken(review)]}
    assert found(validate(graph, publisher_domains=DOMAINS)) == {
        ("google", "error", "/@graph/1/reviewRating/alternateName", "missing-required"),
        ("schemaorg", "error", "/@graph/1/claimreviewed", "unknown-property"),
    }


def test_pointers_into_an_array() -> None:
    document = [seed(), _broken(seed())]
    assert found(validate(document, publisher_domains=DOMAINS)) == {
        ("google", "error", "/1/reviewRating/alternateName", "missing-required"),
        ("schemaorg", "error", "/1/claimreviewed", "unknown-property"),
    }


def test_pointers_into_a_data_feed() -> None:
    review = seed()
    del review["@context"]
    no_claim = copy.deepcopy(review)
    del no_claim["claimReviewed"]
    feed = {
        "@context": "https://schema.org",
        "@type": "DataFeed",
        "dataFeedElement": [
            {"@type": "DataFeedItem", "dateModified": "2024-01-30", "item": no_claim},
            _broken(review),
            {"@type": "DataFeedItem", "item": [review, None]},
            {
                "@type": "DataFeedItem",
                "dateDeleted": "2024-02-01",
                "item": {"@id": "x", "url": "y"},
            },
            None,
        ],
    }
    assert found(validate(feed, publisher_domains=DOMAINS)) == {
        ("google", "error", "/dataFeedElement/0/item/claimReviewed", "missing-required"),
        ("google", "error", "/dataFeedElement/1/reviewRating/alternateName", "missing-required"),
        ("schemaorg", "error", "/dataFeedElement/1/claimreviewed", "unknown-property"),
        ("schemaorg", "warning", "/dataFeedElement/2/item/1", "null-value"),
        ("schemaorg", "error", "/dataFeedElement/3/item/url", "invalid-url"),
        ("schemaorg", "warning", "/dataFeedElement/4", "null-value"),
    }


def test_pointer_segments_are_escaped() -> None:
    document = seed()
    document["a/b~c"] = 1
    [finding] = validate(document, publisher_domains=DOMAINS)
    assert finding.path == "/a~1b~0c"


def test_findings_come_in_document_order_then_profile() -> None:
    document = seed()
    document["url"] = "not a url"
    document["zzz"] = 1
    document["reviewRating"]["worstRating"] = 9
    del document["claimReviewed"]
    findings = validate(document)
    assert [(item.path, item.profile) for item in findings] == [
        ("/url", "schemaorg"),
        ("/url", "google"),
        ("/reviewRating/worstRating", "google"),
        ("/zzz", "schemaorg"),
        ("/claimReviewed", "google"),  # a missing member sorts after its siblings
    ]


def test_validation_is_deterministic() -> None:
    document = _broken(seed())
    assert validate(document) == validate(copy.deepcopy(document))


def _deep(levels: int, make: Any) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = make(value)
    return value


ODD_DOCUMENTS: list[Any] = [
    None,
    1,
    -0.5,
    True,
    "x",
    "",
    [],
    [None],
    [[]],
    [1, "x", {}],
    {},
    {"@graph": 3},
    {"@graph": None},
    {"@graph": []},
    {"@graph": [None, 1, {"@type": "ClaimReview"}]},
    {"@graph": {"@type": "ClaimReview"}},
    {"@context": None, "@type": None, "@id": 5},
    {"@context": [[["https://schema.org"]]], "@type": [[["ClaimReview"]]]},
    {"@type": "ClaimReview", "reviewRating": [None, 1, [], {"ratingValue": [1]}]},
    {"@type": "ClaimReview", "reviewRating": {"ratingValue": float("nan"), "bestRating": "1e999"}},
    {"@type": "ClaimReview", "reviewRating": {"ratingValue": 10**400, "worstRating": -(10**400)}},
    {
        "@type": "ClaimReview",
        "url": ["https://[::1", "http://[::1]/", 7, None],
        "claimReviewed": {},
    },
    {"@type": "ClaimReview", "itemReviewed": [None, "x", {"@type": 1, "author": [3]}]},
    {"@type": ["ClaimReview", "ClaimReview"], "datePublished": ["2999", "9999-12-31", 1]},
    {"@type": "Thing", "name": {"@value": {"@value": None}}, "@reverse": {"x": 1}},
    {"\ud800": "\ud800", "@type": "\x00", "url": "http://\u0130.example/"},
    {"x" * 10_000: "y" * 10_000, "@type": "z" * 10_000},
    _deep(10_000, lambda inner: [inner]),
    _deep(10_000, lambda inner: {"@type": "Thing", "subjectOf": inner}),
    _deep(10_000, lambda inner: {"name": {"@value": inner}}),
    {"@context": "https://schema.org", "@graph": [_deep(10_000, lambda inner: {"a": [inner]})]},
]


@pytest.mark.parametrize("document", ODD_DOCUMENTS, ids=range(len(ODD_DOCUMENTS)))
@pytest.mark.parametrize("profiles", [PROFILES, ["schemaorg"], ["google"]], ids=str)
def test_odd_json_never_raises(document: Any, profiles: list[str]) -> None:
    findings = validate(document, profiles=profiles, publisher_domains=DOMAINS)
    assert all(isinstance(item, Finding) for item in findings)
    assert {item.profile for item in findings} <= set(profiles)


@pytest.mark.parametrize("document", [None, 1, "x", [], [None], {"@graph": 3}])
def test_documents_without_nodes_have_errors(document: Any) -> None:
    assert has_errors(validate(document))
    assert has_errors(validate(document, profiles=["google"]))


def test_deep_nesting_is_cut_off_with_an_error() -> None:
    document = {"@context": "https://schema.org", "@type": "Thing"}
    document["subjectOf"] = _deep(1_000, lambda inner: {"@type": "CreativeWork", "about": inner})
    findings = validate(document)
    assert [item.code for item in findings] == ["too-deep"]


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    keys = [
        "@type",
        "@id",
        "@context",
        "@graph",
        "@value",
        "url",
        "claimReviewed",
        "author",
        "name",
        "reviewRating",
        "ratingValue",
        "bestRating",
        "worstRating",
        "alternateName",
        "itemReviewed",
        "appearance",
        "datePublished",
        "dataFeedElement",
        "item",
        "sameAs",
    ]
    scalars = [
        None,
        True,
        0,
        1,
        -3,
        2.5,
        "",
        "ClaimReview",
        "Claim",
        "Rating",
        "DataFeed",
        "https://schema.org",
        "https://polygraph.info/x",
        "javascript:x",
        "2024-01-30",
        "2999-12-31",
        "False: x",
        "schema:Person",
        "5",
    ]
    roll = rng.random()
    if depth > 5 or roll < 0.45:
        return rng.choice(scalars)
    if roll < 0.6:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(6))}


def test_random_json_never_raises() -> None:
    rng = random.Random(20240130)
    for _ in range(3_000):
        document = _random_json(rng)
        validate(document, publisher_domains=DOMAINS)
        validate(document, profiles=["google"])


def test_validating_one_review_takes_well_under_a_millisecond() -> None:
    document = seed()
    validate(document)  # load the vocabulary
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(100):
            validate(document, publisher_domains=DOMAINS)
        best = min(best, (time.perf_counter() - start) / 100)
    assert best < 0.001


@hypothesis_settings(max_examples=500, deadline=None, database=None)
@given(
    url=st.builds(
        "{}://{}{}{}".format,
        st.sampled_from(["http", "https", "HTTP", "ftp"]),
        st.text("abAB09-._", min_size=1, max_size=12),
        st.sampled_from(["", ":80", ":0", ":65535", ":65536", ":099", ":x"]),
        st.text("/?#a b\\%é~:", max_size=8),
    )
)
def test_the_url_fast_path_reads_hosts_as_urlsplit_does(url: str) -> None:
    validation._http_host.cache_clear()
    fast = validation._http_host(url)
    parsed = validation._PLAIN_HTTP_URL
    try:
        validation._PLAIN_HTTP_URL = re.compile(r"(?!)")  # never matches: the parsing path
        validation._http_host.cache_clear()
        assert validation._http_host(url) == fast
    finally:
        validation._PLAIN_HTTP_URL = parsed
        validation._http_host.cache_clear()


# Google's MediaReview profile


def media_review(**changes: Any) -> dict[str, Any]:
    """A MediaReview as Google's Fact Check Markup Tool writes one, on the seed's site."""
    return {
        "@context": "https://schema.org",
        "@type": "MediaReview",
        "url": "https://www.polygraph.info/a/photo.html",
        "author": {"@type": "Organization", "name": "Polygraph.info"},
        "datePublished": "2024-01-30",
        "mediaAuthenticityCategory": "StagedContent",
        "itemReviewed": {
            "@type": "MediaReviewItem",
            "mediaItemAppearance": [
                {"@type": "ImageObject", "contentUrl": "https://social.example/p/1"}
            ],
        },
    } | changes


def test_google_media_review_with_its_required_fields_passes_both_profiles() -> None:
    assert validate(media_review(), publisher_domains=DOMAINS) == []


@pytest.mark.parametrize(
    ("changes", "path", "code"),
    [
        ({"mediaAuthenticityCategory": None}, "/mediaAuthenticityCategory", "missing-required"),
        (
            {"mediaAuthenticityCategory": "Doctored"},
            "/mediaAuthenticityCategory",
            "invalid-authenticity",
        ),
        ({"url": None}, "/url", "missing-required"),
        ({"url": "https://elsewhere.example/a"}, "/url", "url-off-domain"),
        ({"itemReviewed": None}, "/itemReviewed", "missing-required"),
        (
            {
                "itemReviewed": {
                    "@type": "MediaReviewItem",
                    "mediaItemAppearance": {"@type": "VideoObject"},
                }
            },
            "/itemReviewed",
            "missing-required",
        ),
        (
            {"reviewRating": {"@type": "Rating", "ratingValue": 1}},
            "/reviewRating/alternateName",
            "missing-required",
        ),
    ],
)
def test_google_media_review_without_what_it_requires_is_an_error(changes, path, code) -> None:
    node = {key: value for key, value in media_review(**changes).items() if value is not None}

    findings = validate(node, profiles=["google"], publisher_domains=DOMAINS)

    assert ("google", "error", path, code) in found(findings)


@pytest.mark.parametrize(
    ("changes", "path", "code"),
    [
        ({"author": None}, "/author", "missing-recommended"),
        ({"datePublished": None}, "/datePublished", "missing-recommended"),
        (
            {"mediaAuthenticityCategory": "TransformedContent"},
            "/originalMediaLink",
            "missing-recommended",
        ),
        (
            {"mediaAuthenticityCategory": "DecontextualizedContent"},
            "/originalMediaContextDescription",
            "missing-recommended",
        ),
        (
            {"itemReviewed": {"@type": "ImageObject", "contentUrl": "https://social.example/p/1"}},
            "/itemReviewed",
            "item-reviewed-not-media",
        ),
    ],
)
def test_google_media_review_without_what_it_recommends_is_a_warning(changes, path, code) -> None:
    node = {key: value for key, value in media_review(**changes).items() if value is not None}

    findings = validate(node, profiles=["google"], publisher_domains=DOMAINS)

    assert ("google", "warning", path, code) in found(findings)
    assert not has_errors(findings)


def test_google_media_review_category_may_be_a_schema_org_iri() -> None:
    node = media_review(mediaAuthenticityCategory="https://schema.org/SatireOrParodyContent")

    assert validate(node, profiles=["google"], publisher_domains=DOMAINS) == []


def test_schemaorg_refuses_claim_reviewed_on_a_media_review() -> None:
    findings = validate(media_review(claimReviewed="A claim."), profiles=["schemaorg"])

    assert ("schemaorg", "error", "/claimReviewed", "property-not-in-domain") in found(findings)
