"""Google Fact Check Tools API compatibility (/v1alpha1), driven by Google's own clients.

The mapping is tested as pure functions first; then google-api-python-client (and, through
Node, @googleapis/factchecktools) talk to a real uvicorn, with the same data /v1 serves.
"""

import asyncio
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httplib2
import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from app.api import v1alpha1
from app.core import google
from app.core.google import GoogleClaimReviewMarkup
from app.errors import BadRequest
from tests.conftest import ADMIN, bearer, create_review, make_key, make_publisher
from tests.image_server import Answer, ImageServer, running_image_server, wait_for_images

ARTICLE = "https://www.polygraph.info/a/russia-north-korea-arms.html"
NODE_DIR = Path(__file__).resolve().parents[2] / "node"
RACERS = 6
OTHER = {"slug": "maldita", "name": "Maldita.es", "url": "https://maldita.es/", "language": "es"}


def markup(n: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "url": f"{ARTICLE}#claim-{n}",
        "claimReviewed": f"Claim number {n} about arms deliveries was checked.",
        "claimDate": "2024-01-26",
        "claimAuthor": {
            "name": "Maria Zakharova",
            "jobTitle": "Spokeswoman, Russian Ministry of Foreign Affairs",
            "sameAs": "https://en.wikipedia.org/wiki/Maria_Zakharova",
        },
        "claimAppearances": ["https://mid.ru/en/press_service/spokesman/briefings/"],
        "rating": {
            "textualRating": "False",
            "ratingValue": 1,
            "bestRating": 5,
            "worstRating": 1,
            "ratingExplanation": "Fifty countries documented the transfers.",
        },
    }
    body.update(changes)
    return body


def page(*markups: dict[str, Any], url: str = ARTICLE, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pageUrl": url,
        "publishDate": "2024-01-30",
        "claimReviewAuthor": {"name": "Polygraph.info"},
        "claimReviewMarkups": list(markups) or [markup(1)],
    }
    body.update(changes)
    return body


# The mapping, without a server


def test_page_id_round_trips_the_article_url() -> None:
    identifier = google.page_id(ARTICLE)

    assert google.page_url_of(identifier) == ARTICLE
    assert identifier.replace("-", "").replace("_", "").isalnum()
    assert google.page_url_of(identifier + "=") is None
    assert google.page_url_of("bm90IGEgdXJs") is None  # "not a url"
    assert google.page_url_of(google.page_id(ARTICLE + "#a")) is None


def test_version_id_changes_with_any_review() -> None:
    first = google.version_id([("a", 1), ("b", 1)])

    assert google.version_id([("b", 1), ("a", 1)]) == first
    assert google.version_id([("a", 2), ("b", 1)]) != first
    assert google.version_id([("a", 1)]) != first


def test_markup_shows_a_native_review_in_google_fields() -> None:
    review = {
        "id": "r1",
        "version": 3,
        "url": f"{ARTICLE}#c",
        "claim_reviewed": "The claim",
        "date_published": "2024-01-30",
        "rating": {"label": "False", "value": 1.0, "best": 5, "worst": 1, "explanation": "x"},
        "claim": {
            "author": {"type": "Person", "name": "A", "job_title": "B", "same_as": ["u1", "u2"]},
            "date": "2024-01-26",
            "location": "Moscow",
            "appearances": [{"url": "https://a.example/1", "date_published": "2024-01-26"}, {}],
            "first_appearance": {"url": "https://a.example/0"},
        },
    }

    shown = google.page_of(
        page_url=ARTICLE, reviews=[review], publisher={"name": "P", "logo": None}
    )

    assert shown == {
        "name": f"pages/{google.page_id(ARTICLE)}",
        "pageUrl": ARTICLE,
        "publishDate": "2024-01-30",
        "claimReviewAuthor": {"name": "P"},
        "claimReviewMarkups": [
            {
                "url": f"{ARTICLE}#c",
                "claimReviewed": "The claim",
                "claimDate": "2024-01-26",
                "claimLocation": "Moscow",
                "claimFirstAppearance": "https://a.example/0",
                "claimAppearances": ["https://a.example/1"],
                "claimAuthor": {"name": "A", "jobTitle": "B", "sameAs": "u1"},
                "rating": {
                    "textualRating": "False",
                    "ratingValue": 1,
                    "bestRating": 5,
                    "worstRating": 1,
                    "ratingExplanation": "x",
                },
            }
        ],
        "versionId": google.version_id([("r1", 3)]),
    }


def test_ratings_google_cannot_show_are_left_out() -> None:
    review = {"url": ARTICLE, "rating": {"label": "Half", "value": 2.5, "best": 2**40, "worst": 0}}

    assert google.markup_of(review)["rating"] == {"textualRating": "Half", "worstRating": 0}


def test_update_keeps_what_google_cannot_show() -> None:
    previous = {
        "external_id": "cms-1",
        "url": ARTICLE,
        "headline": "Headline",
        "language": "en",
        "tags": ["Russia"],
        "authors": [{"name": "Reporter"}],
        "claim_reviewed": "Old",
        "rating": {"label": "Half true", "value": 2.5, "best": 5, "worst": 1},
        "claim": {
            "author": {"type": "Person", "name": "A", "same_as": ["u1", "u2", "u3"]},
            "appearances": [
                {"url": "https://a.example/1", "archived_at": "https://archive.org/1"},
                {"archived_at": "https://archive.org/only"},
            ],
            "first_appearance": {"url": "https://a.example/0", "platform": "Telegram"},
        },
    }
    sent = GoogleClaimReviewMarkup.model_validate(
        {
            "claimReviewed": "New",
            "claimAuthor": {"name": "A", "sameAs": "u2"},
            "claimAppearances": ["https://a.example/1", "https://a.example/2"],
            "claimFirstAppearance": "https://a.example/0",
            "rating": {"textualRating": "Mostly false", "bestRating": 5},
        }
    )

    document = google.to_document(
        sent, url=ARTICLE, publish_date="2024-02-01", previous=previous, language="fr"
    )

    assert document == {
        "external_id": "cms-1",
        "headline": "Headline",
        "language": "en",
        "tags": ["Russia"],
        "authors": [{"name": "Reporter"}],
        "status": "published",
        "url": ARTICLE,
        "claim_reviewed": "New",
        "date_published": "2024-02-01",
        # value 2.5 was never shown, so leaving it out keeps it; worst 1 was shown and is gone.
        "rating": {"label": "Mostly false", "value": 2.5, "best": 5},
        "claim": {
            "author": {"type": "Person", "name": "A", "same_as": ["u2", "u3"]},
            "appearances": [
                {"url": "https://a.example/1", "archived_at": "https://archive.org/1"},
                {"url": "https://a.example/2"},
                {"archived_at": "https://archive.org/only"},
            ],
            "first_appearance": {"url": "https://a.example/0", "platform": "Telegram"},
        },
    }


def test_new_markup_takes_the_publisher_language() -> None:
    sent = GoogleClaimReviewMarkup.model_validate({"claimReviewed": "C"})

    document = google.to_document(sent, url=ARTICLE, publish_date=None, language="es")

    assert document["language"] == "es"


@pytest.mark.parametrize("value", [2.5, "2.5", True, 2**31, "x"])
def test_int32_ratings_refuse_what_int32_cannot_hold(value: Any) -> None:
    with pytest.raises(BadRequest) as raised:
        v1alpha1.parse_page(page(markup(1, rating={"textualRating": "F", "ratingValue": value})))

    assert raised.value.errors[0]["path"] == "claimReviewMarkups[0].rating.ratingValue"


def test_int32_ratings_accept_numbers_and_numeric_strings() -> None:
    body = page(markup(1, rating={"ratingValue": "3", "bestRating": 5.0, "worstRating": 1}))

    rating = v1alpha1.parse_page(body).claim_review_markups[0].rating

    assert rating is not None
    assert (rating.rating_value, rating.best_rating, rating.worst_rating) == (3, 5, 1)


def test_page_accepts_proto_field_names_and_refuses_unknown_fields() -> None:
    parsed = v1alpha1.parse_page({"page_url": ARTICLE, "claim_review_markups": [{}]})
    assert parsed.page_url == ARTICLE

    with pytest.raises(BadRequest) as raised:
        v1alpha1.parse_page({"pageUrl": ARTICLE, "claimReviewMarkups": [{"verdict": "x"}]})
    assert raised.value.errors[0]["path"] == "claimReviewMarkups[0].verdict"


def test_markups_pair_by_url_then_claim_then_order() -> None:
    existing = [("u#1", "a"), ("u", "b"), ("u", "c"), ("u#2", "d")]
    incoming = [("u", "c"), ("u#2", "changed"), ("u", "new text"), ("u", "another"), ("u#3", "x")]

    assert google.pair_markups(existing, incoming) == [2, 3, 1, None, None]


def test_search_result_maps_the_stored_jsonld() -> None:
    node = {
        "url": "https://www.polygraph.info/a/1.html",
        "headline": "Title",
        "claimReviewed": "Claim",
        "inLanguage": "en",
        "datePublished": "2024-01-30",
        "author": {"@type": "Organization", "name": "Polygraph.info"},
        "itemReviewed": {"author": {"name": "Maria"}, "datePublished": "2024-01-26T10:00:00Z"},
        "reviewRating": {"alternateName": "False"},
    }

    assert google.claim_from_jsonld(node) == {
        "text": "Claim",
        "claimant": "Maria",
        "claimDate": "2024-01-26T10:00:00Z",
        "claimReview": [
            {
                "publisher": {"name": "Polygraph.info", "site": "polygraph.info"},
                "url": "https://www.polygraph.info/a/1.html",
                "title": "Title",
                "reviewDate": "2024-01-30T00:00:00Z",
                "textualRating": "False",
                "languageCode": "en",
            }
        ],
    }


@pytest.mark.parametrize(
    ("pointer", "field"),
    [
        ("/rating/label", "claimReviewMarkups[2].rating.textualRating"),
        ("/claim_reviewed", "claimReviewMarkups[2].claimReviewed"),
        ("/claim/appearances/1/url", "claimReviewMarkups[2].claimAppearances[1]"),
        ("/claim/author/same_as/0", "claimReviewMarkups[2].claimAuthor.sameAs"),
        ("/claim/first_appearance/url", "claimReviewMarkups[2].claimFirstAppearance"),
        ("/date_published", "publishDate"),
        ("/headline", "claimReviewMarkups[2]"),
    ],
)
def test_native_fields_are_named_as_google_fields(pointer: str, field: str) -> None:
    assert google.google_field(pointer, markup=2) == field


# Google's Python client against a real server


Connect = Callable[..., Any]


@pytest.fixture
def connect(live_server: str) -> Iterator[Connect]:
    """Google's client for the live server: ``connect(key)``; without a key, anonymous (no
    Google login is attempted). Every client made is closed afterwards."""
    made: list[Any] = []

    def factchecktools(key: str | None = "AIzaSy-a-google-api-key") -> Any:
        service = build(
            "factchecktools",
            "v1alpha1",
            developerKey=key,
            static_discovery=True,
            client_options={"api_endpoint": live_server},
            http=None if key else httplib2.Http(),
        )
        made.append(service)
        return service

    yield factchecktools
    for service in made:
        service.close()


@pytest.fixture
def key(client: TestClient) -> str:
    """A write key of the seed publisher (polygraph)."""
    make_publisher(client)
    return make_key(client, "polygraph", "reviews:write")


@pytest.fixture
def pages(connect: Connect, key: str) -> Any:
    return connect(key).pages()


@pytest.fixture
def claims(connect: Connect) -> Any:
    return connect().claims()


def error_of(raised: pytest.ExceptionInfo[HttpError]) -> dict[str, Any]:
    error: dict[str, Any] = orjson.loads(raised.value.content)["error"]
    assert error["code"] == raised.value.resp.status
    return error


def revisions(client: TestClient, key: str, review_id: str) -> list[str]:
    response = client.get(f"/v1/claim-reviews/{review_id}/revisions", headers=bearer(key))
    return [item["kind"] for item in response.json()["items"]]


def review_ids(client: TestClient, key: str) -> dict[str, str]:
    """Published review id by URL, through /v1."""
    response = client.get("/v1/claim-reviews", params={"url": ARTICLE, "limit": 100})
    return {item["url"]: item["id"] for item in response.json()["items"]}


def test_pages_create_get_update_delete_several_markups(
    pages: Any, client: TestClient, key: str
) -> None:
    created = pages.create(body=page(markup(1), markup(2), markup(3))).execute()

    name = created["name"]
    assert name == f"pages/{google.page_id(ARTICLE)}"
    assert created["pageUrl"] == ARTICLE
    assert created["publishDate"] == "2024-01-30"
    assert created["claimReviewAuthor"] == {"name": "Polygraph.info"}
    assert created["claimReviewMarkups"] == [markup(1), markup(2), markup(3)]
    assert pages.get(name=name).execute() == created
    ids = review_ids(client, key)
    assert set(ids) == {f"{ARTICLE}#claim-{n}" for n in (1, 2, 3)}

    # Full replace: 1 kept unchanged, 2 changed, 3 left out, 4 new.
    changed = markup(2, rating={"textualRating": "Mostly false"})
    body = page(markup(1), changed, markup(4), name=name, versionId=created["versionId"])
    updated = pages.update(name=name, body=body).execute()

    assert updated["claimReviewMarkups"] == [markup(1), changed, markup(4)]
    assert updated["versionId"] != created["versionId"]
    assert pages.get(name=name).execute() == updated
    assert revisions(client, key, ids[f"{ARTICLE}#claim-1"]) == ["created"]
    assert revisions(client, key, ids[f"{ARTICLE}#claim-2"]) == ["created", "re-rated"]
    assert revisions(client, key, ids[f"{ARTICLE}#claim-3"]) == ["created", "retracted"]
    assert client.get(f"/v1/claim-reviews/{ids[f'{ARTICLE}#claim-3']}").status_code == 410

    assert pages.delete(name=name).execute() == {}
    with pytest.raises(HttpError) as raised:
        pages.get(name=name).execute()
    assert error_of(raised)["status"] == "NOT_FOUND"
    assert client.get(f"/v1/claim-reviews/{ids[f'{ARTICLE}#claim-1']}").status_code == 410
    with pytest.raises(HttpError) as raised:
        pages.delete(name=name).execute()
    assert raised.value.resp.status == 404


def test_markups_without_anchors_are_told_apart_by_claim_and_order(pages: Any) -> None:
    first, second = markup(1, url=None), markup(2, url=None)
    created = pages.create(body=page(first, second)).execute()
    assert [m["url"] for m in created["claimReviewMarkups"]] == [ARTICLE, ARTICLE]

    swapped = page(markup(2, url=None), markup(1, url=None, claimLocation="Moscow"))
    updated = pages.update(name=created["name"], body=swapped).execute()

    # Same claims, same reviews (page order is creation order); only the location changed.
    assert [m["claimReviewed"] for m in updated["claimReviewMarkups"]] == [
        first["claimReviewed"],
        second["claimReviewed"],
    ]
    assert updated["claimReviewMarkups"][0]["claimLocation"] == "Moscow"


def test_update_with_a_stale_version_id_is_aborted(pages: Any) -> None:
    created = pages.create(body=page(markup(1))).execute()
    name, stale = created["name"], created["versionId"]
    pages.update(name=name, body=page(markup(1, claimLocation="Kyiv"), versionId=stale)).execute()

    with pytest.raises(HttpError) as raised:
        pages.update(name=name, body=page(markup(1), versionId=stale)).execute()

    assert raised.value.resp.status == 409
    assert error_of(raised)["status"] == "ABORTED"
    assert pages.get(name=name).execute()["claimReviewMarkups"][0]["claimLocation"] == "Kyiv"


def test_update_without_a_change_keeps_the_version(pages: Any) -> None:
    created = pages.create(body=page(markup(1))).execute()

    again = pages.update(name=created["name"], body=page(markup(1))).execute()

    assert again["versionId"] == created["versionId"]


def test_create_on_a_page_with_markup_already_exists(pages: Any) -> None:
    pages.create(body=page(markup(1))).execute()

    with pytest.raises(HttpError) as raised:
        pages.create(body=page(markup(2))).execute()

    assert raised.value.resp.status == 409
    assert error_of(raised)["status"] == "ALREADY_EXISTS"


async def _race(base: str, method: str, path: str, key: str, body: Any) -> list[int]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        responses = await asyncio.gather(
            *(http.request(method, path, params={"key": key}, json=body) for _ in range(RACERS))
        )
    return sorted(response.status_code for response in responses)


def test_racing_creates_of_one_page_make_it_once(
    live_server: str, key: str, client: TestClient
) -> None:
    body = page(markup(1), markup(2))

    statuses = asyncio.run(_race(live_server, "POST", "/v1alpha1/pages", key, body))

    assert statuses == [200] + [409] * (RACERS - 1)
    assert len(review_ids(client, key)) == 2


def test_racing_updates_from_one_version_let_one_win(
    live_server: str, key: str, pages: Any
) -> None:
    created = pages.create(body=page(markup(1))).execute()
    body = page(markup(1, claimLocation="Kyiv"), versionId=created["versionId"])

    statuses = asyncio.run(_race(live_server, "PUT", f"/v1alpha1/{created['name']}", key, body))

    assert statuses == [200] + [409] * (RACERS - 1)


def test_invalid_markup_is_refused_and_writes_nothing(pages: Any, client: TestClient) -> None:
    unrated = markup(2, rating={"ratingValue": 1, "bestRating": 5, "worstRating": 1})

    with pytest.raises(HttpError) as raised:
        pages.create(body=page(markup(1), unrated)).execute()

    error = error_of(raised)
    assert error["status"] == "INVALID_ARGUMENT"
    fields = [v["field"] for v in error["details"][0]["fieldViolations"]]
    assert "claimReviewMarkups[1].rating.textualRating" in fields
    assert client.get("/v1/claim-reviews", params={"url": ARTICLE}).json()["items"] == []


def test_markup_url_must_stay_on_the_page(pages: Any) -> None:
    elsewhere = markup(1, url="https://www.polygraph.info/a/another-article.html")

    with pytest.raises(HttpError) as raised:
        pages.create(body=page(elsewhere)).execute()

    violations = error_of(raised)["details"][0]["fieldViolations"]
    assert violations[0]["field"] == "claimReviewMarkups[0].url"


def test_list_pages_by_organization_and_by_url_pages_through_all(pages: Any) -> None:
    urls = [f"https://www.polygraph.info/a/page-{n}.html" for n in range(7)]
    for n, url in enumerate(urls):
        pages.create(
            body=page(markup(1, url=url), url=url, publishDate=f"2024-02-{n + 1:02d}")
        ).execute()
    # A second markup on an older page does not list it twice.
    name = f"pages/{google.page_id(urls[0])}"
    pages.update(
        name=name,
        body=page(
            markup(1, url=urls[0]),
            markup(2, url=urls[0] + "#b"),
            url=urls[0],
            publishDate="2024-02-01",
        ),
    ).execute()

    listed: list[str] = []
    request = pages.list(organization="polygraph.info", pageSize=3)
    while request is not None:
        response = request.execute()
        listed += [item["pageUrl"] for item in response.get("claimReviewMarkupPages", [])]
        request = pages.list_next(request, response)

    assert listed == urls[::-1]
    assert (
        pages.list(organization="polygraph.info", offset=5).execute()["claimReviewMarkupPages"][0][
            "pageUrl"
        ]
        == urls[1]
    )
    by_url = pages.list(url=urls[0] + "#b").execute()["claimReviewMarkupPages"]
    assert [len(item["claimReviewMarkups"]) for item in by_url] == [2]
    assert pages.list(url="https://www.polygraph.info/a/none.html").execute() == {}
    with pytest.raises(HttpError) as raised:
        pages.list(organization="maldita.es").execute()
    assert error_of(raised)["status"] == "PERMISSION_DENIED"
    with pytest.raises(HttpError) as raised:
        pages.list(organization="polygraph.info", url=urls[0]).execute()
    assert error_of(raised)["status"] == "INVALID_ARGUMENT"


def test_pages_need_a_write_key_of_their_publisher(
    connect: Connect, client: TestClient, pages: Any
) -> None:
    created = pages.create(body=page(markup(1))).execute()
    make_publisher(client, **OTHER)
    others = connect(make_key(client, "maldita", "reviews:write")).pages()
    reader = connect(make_key(client, "polygraph", "reviews:read")).pages()
    anonymous = connect(None).pages()

    for service, status in ((others, "NOT_FOUND"), (reader, "PERMISSION_DENIED")):
        with pytest.raises(HttpError) as raised:
            service.get(name=created["name"]).execute()
        assert error_of(raised)["status"] == status
    with pytest.raises(HttpError) as raised:
        anonymous.list().execute()
    assert error_of(raised)["status"] == "UNAUTHENTICATED"
    assert others.list().execute() == {}


def test_key_may_come_as_bearer_token(live_server: str, key: str, pages: Any) -> None:
    created = pages.create(body=page(markup(1))).execute()

    response = httpx.get(f"{live_server}/v1alpha1/{created['name']}", headers=bearer(key))
    wrong = httpx.get(f"{live_server}/v1alpha1/{created['name']}", params={"key": "crk_nope"})

    assert response.json() == created
    assert wrong.status_code == 401
    assert wrong.json()["error"]["status"] == "UNAUTHENTICATED"


def corpus(pages: Any) -> list[str]:
    """Twelve reviews on six pages: English and Spanish, dated 2024-03-01 .. 2024-03-06."""
    made = []
    for n in range(6):
        url = f"https://www.polygraph.info/a/bridge-{n}.html"
        body = page(
            markup(1, url=url, claimReviewed=f"The bridge number {n} was sold to foreigners."),
            markup(2, url=url + "#2", claimReviewed=f"Another claim {n} about tunnels."),
            url=url,
            publishDate=f"2024-03-{n + 1:02d}",
        )
        pages.create(body=body).execute()
        made.append(url)
    return made


def test_search_filters_like_google(claims: Any, pages: Any, client: TestClient, key: str) -> None:
    corpus(pages)
    spanish = create_review(
        client,
        bearer(key),
        external_id="es-1",
        url="https://www.polygraph.info/es/puente.html",
        claim_reviewed="El puente fue vendido a extranjeros.",
        language="es",
        date_published="2099-01-01",
    )
    make_publisher(client, **OTHER)
    create_review(
        client,
        bearer(make_key(client, "maldita")),
        external_id="m-1",
        url="https://maldita.es/bulo/bridge.html",
        claim_reviewed="A bridge was sold, says a hoax.",
        language="en",
    )

    def texts(**params: Any) -> list[str]:
        return [c["text"] for c in claims.search(**params).execute().get("claims", [])]

    assert len(texts(query="bridge", pageSize=50)) == 7
    assert texts(query="bridge sold", reviewPublisherSiteFilter="maldita.es") == [
        "A bridge was sold, says a hoax."
    ]
    assert len(texts(query="bridge", reviewPublisherSiteFilter="www.polygraph.info")) == 6
    assert texts(reviewPublisherSiteFilter="polygraph.info", languageCode="es-ES") == [
        spanish["claim_reviewed"]
    ]
    assert texts(query="puente", languageCode="en") == []
    assert texts(query="puente", maxAgeDays=1) == [spanish["claim_reviewed"]]
    assert texts(query="tunnels", maxAgeDays=1) == []
    # The corpus' markups name no language: theirs is detected from the claim (English).
    newest_first = texts(reviewPublisherSiteFilter="polygraph.info", languageCode="en", pageSize=50)
    assert len(newest_first) == 12
    assert (
        texts(reviewPublisherSiteFilter="polygraph.info", languageCode="en", offset=3, pageSize=50)
        == (newest_first[3:])
    )
    found = claims.search(query="bridge number 4", pageSize=1).execute()
    assert found["claims"] == [
        {
            "text": "The bridge number 4 was sold to foreigners.",
            "claimant": "Maria Zakharova",
            "claimDate": "2024-01-26T00:00:00Z",
            "claimReview": [
                {
                    "publisher": {"name": "Polygraph.info", "site": "polygraph.info"},
                    "url": "https://www.polygraph.info/a/bridge-4.html",
                    "reviewDate": "2024-03-05T00:00:00Z",
                    "textualRating": "False",
                    "languageCode": "en",
                }
            ],
        }
    ]


def test_markup_without_a_language_is_found_in_the_language_of_its_claim(
    claims: Any, pages: Any, client: TestClient, key: str
) -> None:
    """Google's markups carry no language and the seed publisher names none: the language is
    detected from the claim, marked as detected in /v1, and searchable by languageCode."""
    portuguese = markup(2, claimReviewed="O ministro disse que a vacina contém microchips.")
    created = pages.create(body=page(markup(1), portuguese)).execute()

    def texts(language: str) -> list[str]:
        found = claims.search(reviewPublisherSiteFilter="polygraph.info", languageCode=language)
        return [claim["text"] for claim in found.execute().get("claims", [])]

    assert texts("en") == [markup(1)["claimReviewed"]]
    assert texts("pt") == [portuguese["claimReviewed"]]
    ids = review_ids(client, key)
    english = client.get(f"/v1/claim-reviews/{ids[f'{ARTICLE}#claim-1']}").json()
    assert (english["language"], english["language_source"]) == ("en", "detected")
    # Updating the page keeps the detected language; a language set by hand replaces it.
    body = page(markup(1), portuguese, name=created["name"], versionId=created["versionId"])
    pages.update(name=created["name"], body=body).execute()
    patched = client.patch(
        f"/v1/claim-reviews/{english['id']}", json={"language": "en-GB"}, headers=bearer(key)
    ).json()
    assert (patched["language"], patched.get("language_source")) == ("en-GB", None)


def test_markup_dates_without_a_zone_are_read_in_the_publishers_time_zone(
    pages: Any, client: TestClient, key: str
) -> None:
    client.patch(
        "/v1/publishers/polygraph", json={"time_zone": "Europe/Prague"}, headers=ADMIN
    ).raise_for_status()

    pages.create(
        body=page(markup(1, claimDate="2024-01-26 09:15"), publishDate="2024-01-30 18:00")
    ).execute()

    stored = client.get(f"/v1/claim-reviews/{review_ids(client, key)[f'{ARTICLE}#claim-1']}")
    assert stored.json()["date_published"] == "2024-01-30T17:00:00Z"
    assert stored.json()["claim"]["date"] == "2024-01-26T08:15:00Z"


def test_search_next_pages_to_the_end_without_duplicates(claims: Any, pages: Any) -> None:
    corpus(pages)

    for params in ({"query": "zakharova"}, {"reviewPublisherSiteFilter": "polygraph.info"}):
        seen: list[str] = []
        request = claims.search(pageSize=5, **params)
        while request is not None:
            response = request.execute()
            seen += [c["claimReview"][0]["url"] for c in response.get("claims", [])]
            request = claims.search_next(request, response)
        assert len(seen) == 12
        assert len(set(seen)) == 12


def test_review_made_through_v1_is_seen_and_kept_through_v1alpha1(
    pages: Any, claims: Any, client: TestClient, key: str
) -> None:
    made = create_review(client, bearer(key), url=ARTICLE, image="https://x.example/i.png")
    name = f"pages/{google.page_id(ARTICLE)}"

    found = claims.search(query="Zakharova military-technical").execute()["claims"]
    shown = pages.get(name=name).execute()

    assert [c["claimReview"][0]["url"] for c in found] == [ARTICLE]
    assert found[0]["claimReview"][0]["title"] == made["headline"]
    assert found[0]["claimReview"][0]["languageCode"] == "en"
    only = shown["claimReviewMarkups"][0]
    assert only["claimReviewed"] == made["claim_reviewed"]
    assert only["claimAuthor"]["sameAs"] == "https://en.wikipedia.org/wiki/Maria_Zakharova"
    assert only["rating"]["ratingValue"] == 1

    only["rating"]["textualRating"] = "Pants on Fire"
    shown["claimReviewMarkups"] = [only]
    pages.update(name=name, body=shown).execute()

    after = client.get(f"/v1/claim-reviews/{made['id']}").json()
    assert after["rating"]["label"] == "Pants on Fire"
    assert after["verdict"] == "false"
    for field in ("headline", "tags", "image", "external_id", "language"):
        assert after[field] == made[field]
    assert after["claim"]["appearances"] == made["claim"]["appearances"]
    assert after["version"] == made["version"] + 1


def test_errors_have_google_shape_never_problem_json(live_server: str, key: str) -> None:
    with httpx.Client(base_url=live_server) as http:
        answers = {
            "missing page": http.get("/v1alpha1/pages/bm9wZQ", params={"key": key}),
            "unknown method": http.get("/v1alpha1/claims:find"),
            "wrong verb": http.patch("/v1alpha1/pages", params={"key": key}),
            "no query": http.get("/v1alpha1/claims:search"),
            "bad integer": http.get("/v1alpha1/claims:search?query=x&pageSize=ten"),
            "bad token": http.get("/v1alpha1/claims:search?query=x&pageToken=forged"),
            "not json": http.post(
                "/v1alpha1/pages",
                params={"key": key},
                content=b"{",
                headers={"content-type": "application/json"},
            ),
            "no key": http.post("/v1alpha1/pages", json=page()),
            "image search": http.get("/v1alpha1/claims:imageSearch"),
        }

    statuses = {what: (r.status_code, r.json()["error"]["status"]) for what, r in answers.items()}
    assert statuses == {
        "missing page": (404, "NOT_FOUND"),
        "unknown method": (404, "NOT_FOUND"),
        "wrong verb": (404, "NOT_FOUND"),
        "no query": (400, "INVALID_ARGUMENT"),
        "bad integer": (400, "INVALID_ARGUMENT"),
        "bad token": (400, "INVALID_ARGUMENT"),
        "not json": (400, "INVALID_ARGUMENT"),
        "no key": (401, "UNAUTHENTICATED"),
        "image search": (400, "INVALID_ARGUMENT"),
    }
    for response in answers.values():
        assert response.headers["content-type"] == "application/json"
        assert set(response.json()["error"]) >= {"code", "message", "status"}


def test_token_made_for_other_parameters_is_refused(claims: Any, pages: Any) -> None:
    corpus(pages)
    token = claims.search(query="claim", pageSize=2).execute()["nextPageToken"]

    with pytest.raises(HttpError) as raised:
        claims.search(query="bridge", pageSize=2, pageToken=token).execute()

    assert error_of(raised)["status"] == "INVALID_ARGUMENT"


def test_standard_parameters_are_ignored_in_any_order(live_server: str, pages: Any) -> None:
    corpus(pages)
    plain = httpx.get(f"{live_server}/v1alpha1/claims:search?query=bridge")
    noisy = httpx.get(
        f"{live_server}/v1alpha1/claims:search?prettyPrint=false&alt=json&fields=claims&"
        "%24.xgafv=2&quotaUser=u1&callback=cb&upload_protocol=raw&uploadType=media&"
        "access_token=t&key=AIza-not-ours&query=bridge&oauth_token=t"
    )

    assert noisy.status_code == 200
    assert noisy.json() == plain.json()


@pytest.fixture
def images() -> Iterator[ImageServer]:
    with running_image_server() as server:
        yield server


def imaged_review(
    client: TestClient,
    key: str,
    n: int,
    image: str,
    *,
    site: str = "https://www.polygraph.info/a",
    **changes: Any,
) -> dict[str, Any]:
    """A published review (by the key's publisher, on ``site``) showing ``image``, once the
    image is hashed."""
    url = f"{site}/imaged-{n}.html"
    made = create_review(client, bearer(key), external_id=f"imaged-{n}", url=url, image=image)
    if changes:
        client.patch(f"/v1/claim-reviews/{made['id']}", json=changes, headers=bearer(key))
    wait_for_images(client, made["id"])
    return made


def test_image_search_finds_claims_by_a_copy_of_their_image(
    claims: Any, client: TestClient, key: str, images: ImageServer
) -> None:
    shown = images.image("/1.png", seed=1)
    first = imaged_review(client, key, 1, shown)
    second = imaged_review(client, key, 2, shown)
    spanish = imaged_review(client, key, 3, shown, language="es")
    imaged_review(client, key, 4, images.image("/2.png", seed=2))
    jpeg = images.image("/copy.jpg", seed=1, format="JPEG")

    found = claims.imageSearch(imageUri=jpeg).execute()
    paged: list[str] = []
    request = claims.imageSearch(imageUri=jpeg, pageSize=1)
    while request is not None:
        response = request.execute()
        paged += [result["claim"]["claimReview"][0]["url"] for result in response["results"]]
        request = claims.imageSearch_next(request, response)
    english = claims.imageSearch(imageUri=jpeg, languageCode="en-US").execute()
    skipped = claims.imageSearch(imageUri=jpeg, offset=2).execute()
    unrelated = claims.imageSearch(imageUri=images.image("/3.png", seed=3)).execute()

    urls = [result["claim"]["claimReview"][0]["url"] for result in found["results"]]
    assert urls == [first["url"], second["url"], spanish["url"]]  # equally near: oldest first
    assert paged == urls
    assert found["results"][0]["claim"] == {
        "text": first["claim_reviewed"],
        "claimant": "Maria Zakharova",
        "claimDate": "2024-01-26T00:00:00Z",
        "claimReview": [
            {
                "publisher": {"name": "Polygraph.info", "site": "polygraph.info"},
                "url": first["url"],
                "title": first["headline"],
                "reviewDate": "2024-01-30T00:00:00Z",
                "textualRating": "False",
                "languageCode": "en",
            }
        ],
    }
    assert [r["claim"]["claimReview"][0]["url"] for r in english["results"]] == urls[:2]
    assert [r["claim"]["claimReview"][0]["url"] for r in skipped["results"]] == urls[2:]
    assert unrelated == {}


def test_image_search_errors_name_the_image_uri(claims: Any, images: ImageServer) -> None:
    text = images.answer("/text", Answer(body=b"words", content_type="text/plain"))

    for uri in (text, "ftp://example.org/a.png", images.url("/missing.png")):
        with pytest.raises(HttpError) as raised:
            claims.imageSearch(imageUri=uri).execute()
        error = error_of(raised)
        assert error["status"] == "INVALID_ARGUMENT"
        assert error["details"][0]["fieldViolations"][0]["field"] == "imageUri"


# Google's Node client (@googleapis/factchecktools)


def test_node_client_smoke(
    live_server: str, key: str, client: TestClient, images: ImageServer
) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed for the Node client smoke test (Node.js 20+)")
    # By another publisher: the script lists the pages of the key's publisher.
    make_publisher(client, **OTHER)
    other = make_key(client, "maldita")
    imaged_review(client, other, 1, images.image("/1.png", seed=1), site="https://maldita.es")
    if not (NODE_DIR / "node_modules").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=100
        )

    done = subprocess.run(
        [node, "smoke.mjs"],
        cwd=NODE_DIR,
        env={
            **os.environ,
            "FACTCHECK_BASE": live_server,
            "FACTCHECK_KEY": key,
            "FACTCHECK_IMAGE": images.image("/copy.jpg", seed=1, format="JPEG"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert orjson.loads(done.stdout.strip().splitlines()[-1]) == {"ok": True}
