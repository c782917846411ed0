"""The normaliser on any JSON at all: it never raises, what it keeps validates as far as the
service reads it, and its findings are repairs or refusals with pointers into the input."""

from typing import Any

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.core import normalise
from app.core.validation import Finding
from app.services import importer

PROPERTIES = [
    "@id",
    "@type",
    "url",
    "claimReviewed",
    "datePublished",
    "author",
    "itemReviewed",
    "reviewRating",
    "ratingValue",
    "bestRating",
    "worstRating",
    "alternateName",
    "name",
    "inLanguage",
    "image",
    "sameAs",
    "appearance",
    "creator",
    "ClaimReviewed",
]
TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "2020-06-23 20:02",
            "2020-06-23T20:02:00+5:30",
            "9999-12-31T23:59:59-14:00",
            "Mon, 31 Aug 20200 17:22:16 +0200",
            "http://[broken",
            "//cdn.example/x.png",
            "example.org/a b",
            "#organization",
            "en_US",
            "Português",
            " 4,5 ",
            "1e999",
            "ClaimReview",
            "claimReview",
            "&amp;#039;<b>x</b>",
            "javascript:alert(1)",
        ]
    ),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXTS)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(PROPERTIES), children, max_size=5),
    ),
    max_leaves=25,
)
NODES = st.dictionaries(st.sampled_from(PROPERTIES), JSON, max_size=8).map(
    lambda node: {"@type": "ClaimReview", **node}
)


@hypothesis_settings(max_examples=300, deadline=None, database=None)
@given(node=NODES, page_url=st.sampled_from([None, "https://site.example/a/b", "http://[x"]))
def test_the_normaliser_reads_any_json_without_raising(
    node: dict[str, Any], page_url: str | None
) -> None:
    references = {"#organization": ("/@graph/0", {"@type": "Organization", "name": "Org"})}

    result = normalise.claim_review(node, pointer="/0", references=references, page_url=page_url)
    item = importer.Item(0, "/0", node, references=references)
    assessed = importer.assess(item, language="en", time_zone="Europe/Paris")

    assert all(isinstance(finding, Finding) for finding in result.findings)
    assert all(finding.path.startswith(("/0", "/@graph/0")) for finding in result.findings)
    if result.node is None:
        assert any(finding.severity == "error" for finding in result.findings)
        assert assessed.incoming is None
    else:
        assert isinstance(result.node["claimReviewed"], str)
        assert isinstance(result.node["reviewRating"]["alternateName"], str)


def test_a_keywords_list_of_one_tag_stays_that_tag() -> None:
    """Keywords as one string are comma-separated; a list of one is not: ["a, b"] is one tag
    (as the service exports it), not two, and [","] is the tag ",", not none."""
    for tags in (["Politics, Economy"], [","], ["vaccines"]):
        node = {
            "@context": "https://schema.org",
            "@type": "ClaimReview",
            "url": "https://www.polygraph.info/a/1.html",
            "claimReviewed": "A claim",
            "reviewRating": {"@type": "Rating", "alternateName": "False"},
            "keywords": tags,
        }
        assessed = importer.assess(importer.Item(0, "/0", node), language="en")
        assert assessed.incoming is not None
        assert assessed.incoming.tags == tags
