"""The shortcuts an import takes for the commonest input must answer exactly as the general
code they skip: each is checked against that code on generated input."""

import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.core import document, textfold, validation

_URL_TEXT = st.text(alphabet=string.printable + "é\u00a0\u3000", max_size=40)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
@example("It's  FALSE!\tsaid `someone`")
def test_fold_of_ascii_text_is_the_general_fold(text: str) -> None:
    assert textfold.fold(text) == textfold._fold_unicode(text)


@given(st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "//", ""]), _URL_TEXT)
@example("https://", "example.org/a b")
@example("https://", "-example.org/")
@example("http://", "example.org:99999/x")
def test_plain_url_shortcut_accepts_only_what_parsing_accepts(scheme: str, rest: str) -> None:
    url = scheme + rest
    if document._PLAIN_HTTP_URL.fullmatch(url):
        assert document._check_parsed_url(url) == url
    try:
        answer = document.check_http_url(url)
    except ValueError:
        answer = None
    try:
        parsed = document._check_parsed_url(url)
    except ValueError:
        parsed = None
    assert answer == parsed


@pytest.mark.parametrize(
    "spelling",
    ["claimReview", " ClaimReview ", "schema:ClaimReview", "https://schema.org/ClaimReview"],
)
def test_a_node_type_read_inline_is_read_as_type_names_reads_it(spelling: str) -> None:
    """The validator reads a plain known @type inline; any other spelling goes through
    type_names, and Google's checks then apply to it just the same."""
    review = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": "https://example.org/check",
        "reviewRating": {"@type": "Rating", "ratingValue": 9, "bestRating": 5},
    }
    google = sorted((f.path, f.code) for f in validation.validate(review, profiles=["google"]))
    assert ("/claimReviewed", "missing-required") in google
    spelt = {**review, "@type": spelling}
    assert (
        sorted((f.path, f.code) for f in validation.validate(spelt, profiles=["google"])) == google
    )
