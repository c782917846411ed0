import copy
import json
from typing import Any

import orjson
import pytest

from app.core.document import ReviewIn
from app.core.jsonld import dumps, escape_for_html, native_pointer, render, script_block
from tests.conftest import EXAMPLES

BASE_URL = "http://127.0.0.1:8000"
MODIFIED = "2024-02-01T09:15:00Z"
SEED_PUBLISHER = {"name": "Polygraph.info", "url": "https://www.polygraph.info/"}

FULL_PUBLISHER = {
    "name": "Verifica Exemplo",
    "url": "https://verifica.example/",
    "logo": "https://verifica.example/logo.png",
    "same_as": ["https://x.example/verifica", "https://www.wikidata.org/wiki/Q1"],
}
FULL_REVIEW = {
    "external_id": "cms-42",
    "status": "published",
    "url": "https://verifica.example/2024/05/vacinas#claim-2",
    "headline": "Ministério não proibiu vacinas",
    "claim_reviewed": "O ministério proibiu a vacina em maio.",
    "language": "pt-br",
    "date_published": "2024-05-02T11:30:00+02:00",
    "rating": {
        "value": 2.5,
        "best": 5,
        "worst": 1,
        "label": "Enganoso",
        "explanation": "A portaria citada trata de outro assunto.",
        "image": "https://verifica.example/img/enganoso.png",
    },
    "claim": {
        "author": {
            "type": "Person",
            "name": "Fulano de Tal",
            "job_title": "Deputado",
            "same_as": ["https://pt.wikipedia.org/wiki/Fulano", "https://x.example/fulano"],
            "image": "https://verifica.example/img/fulano.jpg",
        },
        "date": "2024-04-30",
        "appearances": [
            {
                "url": "https://video.example/watch?v=1",
                "date_published": "2024-04-30",
                "archived_at": "https://web.archive.org/web/2024/https://video.example/watch?v=1",
                "platform": "VideoSite",
            },
            {"url": "https://social.example/post/2"},
        ],
        "first_appearance": {
            "url": "https://video.example/watch?v=1",
            "date_published": "2024-04-30",
            "archived_at": "https://web.archive.org/web/2024/https://video.example/watch?v=1",
            "platform": "VideoSite",
        },
        "location": "Brasília",
    },
    "authors": [
        {"name": "Ana Souza", "url": "https://verifica.example/equipe/ana"},
        {"name": "João Lima"},
    ],
    "image": "https://verifica.example/img/vacinas.jpg",
    "tags": ["saúde", "vacinas"],
    "corrections": [{"date": "2024-05-03", "text": "Corrigimos a data da portaria."}],
}
FULL_JSONLD = {
    "@context": "https://schema.org",
    "@type": "ClaimReview",
    "@id": "http://127.0.0.1:8000/v1/claim-reviews/rev1",
    "url": "https://verifica.example/2024/05/vacinas#claim-2",
    "headline": "Ministério não proibiu vacinas",
    "claimReviewed": "O ministério proibiu a vacina em maio.",
    "inLanguage": "pt-BR",
    "datePublished": "2024-05-02T09:30:00Z",
    "dateModified": MODIFIED,
    "author": {
        "@type": "Organization",
        "name": "Verifica Exemplo",
        "url": "https://verifica.example/",
        "logo": "https://verifica.example/logo.png",
        "sameAs": ["https://x.example/verifica", "https://www.wikidata.org/wiki/Q1"],
    },
    "itemReviewed": {
        "@type": "Claim",
        "@id": "http://127.0.0.1:8000/v1/claim-reviews/rev1#claim",
        "author": {
            "@type": "Person",
            "name": "Fulano de Tal",
            "jobTitle": "Deputado",
            "sameAs": ["https://pt.wikipedia.org/wiki/Fulano", "https://x.example/fulano"],
            "image": "https://verifica.example/img/fulano.jpg",
        },
        "datePublished": "2024-04-30",
        "appearance": [
            {
                "@type": "CreativeWork",
                "url": "https://video.example/watch?v=1",
                "datePublished": "2024-04-30",
                "archivedAt": "https://web.archive.org/web/2024/https://video.example/watch?v=1",
                "publisher": {"@type": "Organization", "name": "VideoSite"},
            },
            {"@type": "CreativeWork", "url": "https://social.example/post/2"},
        ],
        "firstAppearance": {
            "@type": "CreativeWork",
            "url": "https://video.example/watch?v=1",
            "datePublished": "2024-04-30",
            "archivedAt": "https://web.archive.org/web/2024/https://video.example/watch?v=1",
            "publisher": {"@type": "Organization", "name": "VideoSite"},
        },
        "contentLocation": {"@type": "Place", "name": "Brasília"},
    },
    "reviewRating": {
        "@type": "Rating",
        "ratingValue": 2.5,
        "bestRating": 5,
        "worstRating": 1,
        "alternateName": "Enganoso",
        "ratingExplanation": "A portaria citada trata de outro assunto.",
        "image": "https://verifica.example/img/enganoso.png",
    },
    "image": "https://verifica.example/img/vacinas.jpg",
    "keywords": ["saúde", "vacinas"],
    "correction": [
        {
            "@type": "CorrectionComment",
            "datePublished": "2024-05-03",
            "text": "Corrigimos a data da portaria.",
        }
    ],
    "creator": [
        {"@type": "Person", "name": "Ana Souza", "url": "https://verifica.example/equipe/ana"},
        {"@type": "Person", "name": "João Lima"},
    ],
}


def document(native: dict[str, Any]) -> dict[str, Any]:
    """The stored form, as the service keeps it."""
    return ReviewIn.model_validate(native).document()


def render_full(doc: dict[str, Any] | None = None) -> dict[str, Any]:
    return render(
        review_id="rev1",
        document=document(FULL_REVIEW) if doc is None else doc,
        publisher=FULL_PUBLISHER,
        base_url=BASE_URL,
        date_modified=MODIFIED,
    )


def seed() -> dict[str, Any]:
    return json.loads((EXAMPLES / "seed-factcheck.json").read_text())


def render_seed(native: dict[str, Any]) -> dict[str, Any]:
    return render(
        review_id="rev1",
        document=document(native),
        publisher=SEED_PUBLISHER,
        base_url=BASE_URL,
        date_modified=MODIFIED,
    )


def leaves(node: Any, pointer: str = "") -> list[tuple[str, Any]]:
    """Every (JSON pointer, value) in a tree, containers included."""
    found = [(pointer, node)]
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return found
    for key, value in items:
        found += leaves(value, f"{pointer}/{key}")
    return found


def resolve(node: Any, pointer: str) -> Any:
    for token in pointer.split("/")[1:]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def test_render_seed_matches_example():
    expected_text = (EXAMPLES / "seed-factcheck.jsonld").read_text()
    expected = json.loads(
        expected_text.replace("{id}", "rev1").replace(
            "{server time of the last change, RFC 3339}", MODIFIED
        )
    )

    assert dumps(render_seed(seed())) == dumps(expected)


def test_render_organization_claimant():
    native = seed()
    native["claim"]["author"] = {
        "type": "Organization",
        "name": "Russian Ministry of Foreign Affairs",
        "same_as": ["https://www.wikidata.org/wiki/Q1589765"],
    }

    claim = render_seed(native)["itemReviewed"]

    assert claim["author"] == {
        "@type": "Organization",
        "name": "Russian Ministry of Foreign Affairs",
        "sameAs": ["https://www.wikidata.org/wiki/Q1589765"],
    }


def test_render_all_fields():
    assert dumps(render_full()) == dumps(FULL_JSONLD)


def test_render_is_deterministic_whatever_the_key_order():
    def reversed_keys(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: reversed_keys(node[key]) for key in reversed(node)}
        if isinstance(node, list):
            return [reversed_keys(item) for item in node]
        return node

    doc = document(FULL_REVIEW)

    assert dumps(render_full(doc)) == dumps(render_full(reversed_keys(copy.deepcopy(doc))))
    assert dumps(render_full(doc)) == dumps(render_full(doc))


@pytest.mark.parametrize(
    "native",
    [
        FULL_REVIEW,
        {"url": "https://verifica.example/a"},
        {
            "url": "https://verifica.example/a",
            "rating": {},
            "claim": {"author": {"type": "Person"}, "appearances": [{}], "first_appearance": {}},
            "authors": [],
            "tags": [],
            "corrections": [],
        },
    ],
)
def test_render_omits_nulls_and_empty_values(native):
    rendered = render_full(document(native))

    assert [pointer for pointer, value in leaves(rendered) if value in (None, [], {})] == []


def test_render_omits_nodes_without_content():
    doc = {"url": "https://verifica.example/a", "claim": {"author": {"type": "Person"}}}

    rendered = render_full(doc)

    assert "itemReviewed" not in rendered
    assert "reviewRating" not in rendered
    assert list(rendered) == ["@context", "@type", "@id", "url", "dateModified", "author"]


def test_render_claim_without_author_has_no_author_key():
    doc = {"url": "https://verifica.example/a", "claim": {"date": "2024-04-30"}}

    assert render_full(doc)["itemReviewed"] == {
        "@type": "Claim",
        "@id": "http://127.0.0.1:8000/v1/claim-reviews/rev1#claim",
        "datePublished": "2024-04-30",
    }


def test_render_emits_numbers_as_numbers():
    doc = {"url": "https://verifica.example/a", "rating": {"value": 1.0, "best": 5.0, "worst": 0.5}}

    rating = render_full(doc)["reviewRating"]
    payload = dumps(render_full(doc))

    assert rating == {"@type": "Rating", "ratingValue": 1, "bestRating": 5, "worstRating": 0.5}
    assert type(rating["ratingValue"]) is int
    assert b'"ratingValue":1,"bestRating":5,"worstRating":0.5' in payload


def test_render_gives_same_bytes_for_integral_floats_and_ints():
    as_float = {"url": "https://verifica.example/a", "rating": {"value": 1.0, "best": 5.0}}
    as_int = {"url": "https://verifica.example/a", "rating": {"value": 1, "best": 5}}

    assert dumps(render_full(as_float)) == dumps(render_full(as_int))


def test_escape_for_html_leaves_no_markup_characters():
    native = seed()
    native["claim_reviewed"] = 'Evil </script><!-- & "quotes" \u2028 \u2029 done'
    rendered = render_seed(native)

    escaped = escape_for_html(dumps(rendered))

    for raw in (b"<", b">", b"&", "\u2028".encode(), "\u2029".encode()):
        assert raw not in escaped
    assert orjson.loads(escaped) == rendered
    assert json.loads(escaped.decode()) == rendered


def test_script_block_contains_one_closing_tag():
    native = seed()
    native["headline"] = "</script><script>alert(1)</script>"

    block = script_block(dumps(render_seed(native)))

    assert block.startswith(b'<script type="application/ld+json">')
    assert block.endswith(b"</script>")
    assert block.count(b"</script>") == 1
    assert block.count(b"<") == 2


@pytest.mark.parametrize(
    ("jsonld", "native"),
    [
        ("/url", "/url"),
        ("/headline", "/headline"),
        ("/claimReviewed", "/claim_reviewed"),
        ("/inLanguage", "/language"),
        ("/datePublished", "/date_published"),
        ("/author", "/publisher"),
        ("/author/name", "/publisher/name"),
        ("/author/sameAs/1", "/publisher/same_as/1"),
        ("/itemReviewed", "/claim"),
        ("/itemReviewed/author/name", "/claim/author/name"),
        ("/itemReviewed/author/@type", "/claim/author/type"),
        ("/itemReviewed/author/jobTitle", "/claim/author/job_title"),
        ("/itemReviewed/datePublished", "/claim/date"),
        ("/itemReviewed/appearance/0/url", "/claim/appearances/0/url"),
        ("/itemReviewed/appearance/1/archivedAt", "/claim/appearances/1/archived_at"),
        ("/itemReviewed/appearance/0/publisher/name", "/claim/appearances/0/platform"),
        ("/itemReviewed/firstAppearance/datePublished", "/claim/first_appearance/date_published"),
        ("/itemReviewed/contentLocation/name", "/claim/location"),
        ("/reviewRating", "/rating"),
        ("/reviewRating/alternateName", "/rating/label"),
        ("/reviewRating/ratingValue", "/rating/value"),
        ("/keywords/2", "/tags/2"),
        ("/correction/0/text", "/corrections/0/text"),
        ("/correction/0/datePublished", "/corrections/0/date"),
        ("/creator/1/url", "/authors/1/url"),
    ],
)
def test_native_pointer_maps_fields(jsonld, native):
    assert native_pointer(jsonld) == native


@pytest.mark.parametrize(
    "pointer",
    ["", "/dateModified", "/@id", "/sdPublisher", "/itemReviewed/name", "/reviewRating/x"],
)
def test_native_pointer_returns_unknown_pointers_unchanged(pointer):
    assert native_pointer(pointer) == pointer


def test_native_pointer_leads_to_the_rendered_value():
    doc = document(FULL_REVIEW)
    native = doc | {"publisher": FULL_PUBLISHER}
    server_made = {"@context", "@type", "@id", "dateModified"}

    for pointer, value in leaves(render_full(doc)):
        target = native_pointer(pointer)
        if isinstance(value, dict | list) or (
            target == pointer and pointer.rsplit("/", 1)[-1] in server_made
        ):
            continue
        assert resolve(native, target) == value, pointer
