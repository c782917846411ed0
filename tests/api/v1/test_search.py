"""Listing and searching (§8 Query): filters, full-text, paging, facets."""

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.v1.search import ListParams
from tests.conftest import ADMIN, bearer, create_review, make_key, make_publisher

OTHER = {"slug": "maldita", "name": "Maldita.es", "url": "https://maldita.es/", "language": "es"}


def ids(response: Any) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


def review(client: TestClient, headers: dict[str, str], n: int, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "external_id": f"r-{n}",
        "url": f"https://www.polygraph.info/a/{n}.html",
        "date_published": f"2024-01-{n:02d}",
    }
    fields.update(changes)
    return create_review(client, headers, **fields)


@pytest.fixture
def corpus(client: TestClient, writer: dict[str, str]) -> dict[str, Any]:
    """A small multilingual corpus across two publishers."""
    made = {
        "bridge": review(
            client,
            writer,
            1,
            claim_reviewed="El Puente de Brooklyn se vendió",
            language="es",
            tags=["Infraestructura"],
            rating={"label": "Falso", "value": 1, "best": 5, "worst": 1},
        ),
        "brucke": review(
            client,
            writer,
            2,
            claim_reviewed="Die Brücke wurde verkauft",
            language="de",
            claim={"author": {"name": "Ángela Müller"}},
        ),
        "cyrillic": review(
            client,
            writer,
            3,
            claim_reviewed="Мост продан иностранцам",
            language="ru",
            rating={"label": "Ложь", "value": 1, "best": 5, "worst": 1},
        ),
        "greek": review(client, writer, 4, claim_reviewed="Η γέφυρα πουλήθηκε", language="el"),
        "arabic": review(client, writer, 5, claim_reviewed="تم بيع الجسر للأجانب", language="ar"),
        "pt": review(
            client,
            writer,
            6,
            claim_reviewed="A ponte foi vendida",
            language="pt-BR",
            rating={"label": "Enganoso", "value": 2, "best": 5, "worst": 1},
        ),
        "draft": review(client, writer, 7, status="draft", claim_reviewed="Secret bridge draft"),
    }
    make_publisher(client, **OTHER)
    other = bearer(make_key(client, "maldita"))
    made["other"] = create_review(
        client,
        other,
        external_id="m-1",
        url="https://maldita.es/b.html",
        claim_reviewed="Otro puente vendido",
        language="es",
        date_published="2024-02-01",
    )
    return made  # fmt: skip


def test_list_is_newest_first_and_public_sees_published_only(
    client: TestClient, corpus: dict[str, Any]
) -> None:
    response = client.get("/v1/claim-reviews")

    assert response.status_code == 200
    listed = ids(response)
    expected = ["other", "pt", "arabic", "greek", "cyrillic", "brucke", "bridge"]
    assert listed == [corpus[name]["id"] for name in expected]
    assert response.json()["next_cursor"] is None
    assert response.headers["cache-control"].startswith("public")


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("puente", "bridge"),
        ("PUENTE", "bridge"),
        ("Brucke", "brucke"),
        ("brücke", "brucke"),
        ("мост", "cyrillic"),
        ("ΓΕΦΥΡΑ", "greek"),
        ("الجسر", "arabic"),
        ("angela", "brucke"),
        ("infraestructura", "bridge"),
    ],
)
def test_q_finds_words_in_any_script_ignoring_case_and_accents(
    client: TestClient, corpus: dict[str, Any], word: str, name: str
) -> None:
    response = client.get("/v1/claim-reviews", params={"q": word, "publisher": "polygraph"})

    assert ids(response) == [corpus[name]["id"]]


def test_q_needs_every_word_and_ranks_by_relevance(
    client: TestClient, corpus: dict[str, Any]
) -> None:
    both = client.get("/v1/claim-reviews", params={"q": "puente vendido"})
    ranked = client.get("/v1/claim-reviews", params={"q": "puente", "sort": "relevance"})

    assert ids(both) == [corpus["other"]["id"]]
    assert set(ids(ranked)) == {corpus["other"]["id"], corpus["bridge"]["id"]}


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"publisher": "maldita"}, ["other"]),
        ({"language": "es"}, ["other", "bridge"]),
        ({"language": "pt"}, ["pt"]),
        ({"verdict": "misleading"}, ["pt"]),
        ({"label": "falso"}, ["bridge"]),
        ({"label": "ЛОЖЬ"}, ["cyrillic"]),
        ({"claimant": "angela muller"}, ["brucke"]),
        ({"tag": "infraestructura"}, ["bridge"]),
        ({"url": "https://www.polygraph.info/a/3.html#claim-2"}, ["cyrillic"]),
        ({"published_since": "2024-01-05", "published_until": "2024-01-06"}, ["pt", "arabic"]),
        ({"publisher": "polygraph", "language": "es"}, ["bridge"]),
        ({"publisher": "nobody"}, []),
    ],
)
def test_filters_combine(
    client: TestClient, corpus: dict[str, Any], params: dict[str, str], names: list[str]
) -> None:
    response = client.get("/v1/claim-reviews", params=params)

    assert response.status_code == 200, response.text
    assert ids(response) == [corpus[name]["id"] for name in names]


def test_updated_since_sees_later_changes(
    client: TestClient, writer: dict[str, str], corpus: dict[str, Any]
) -> None:
    changed = client.patch(
        f"/v1/claim-reviews/{corpus['greek']['id']}", json={"headline": "x"}, headers=writer
    ).json()

    response = client.get("/v1/claim-reviews", params={"updated_since": changed["updated_at"]})

    assert ids(response) == [corpus["greek"]["id"]]


def test_drafts_are_listed_only_for_their_publisher(
    client: TestClient, writer: dict[str, str], corpus: dict[str, Any]
) -> None:
    other = bearer(make_key(client, "maldita", "reviews:read"))

    own = client.get("/v1/claim-reviews", params={"status": "draft"}, headers=writer)
    foreign = client.get("/v1/claim-reviews", params={"status": "draft"}, headers=other)
    admin = client.get("/v1/claim-reviews", params={"status": "draft"}, headers=ADMIN)
    anonymous = client.get("/v1/claim-reviews", params={"status": "draft"})

    assert ids(own) == [corpus["draft"]["id"]]
    assert own.headers["cache-control"] == "private, no-cache"
    assert ids(foreign) == []
    assert ids(admin) == [corpus["draft"]["id"]]
    assert anonymous.status_code == 401


def test_cursor_pages_through_everything_once(client: TestClient, corpus: dict[str, Any]) -> None:
    seen: list[str] = []
    url: str | None = "/v1/claim-reviews?limit=3"
    while url:
        response = client.get(url)
        seen += ids(response)
        link = response.headers.get("link")
        assert (link is None) == (response.json()["next_cursor"] is None)
        url = link[1 : link.index(">")] if link else None

    assert len(seen) == len(set(seen)) == 7


def test_paging_while_others_insert_neither_repeats_nor_skips(
    client: TestClient, writer: dict[str, str], corpus: dict[str, Any]
) -> None:
    existing = set(ids(client.get("/v1/claim-reviews", params={"limit": 100})))
    seen: list[str] = []
    cursor = None
    n = 100
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/claim-reviews", params=params).json()
        seen += [item["id"] for item in page["items"]]
        for date in ("2023-12-31", "2024-01-03", "2030-01-01"):  # before, among, after
            n += 1
            review(client, writer, n, date_published=date)
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen))
    assert existing <= set(seen)


def test_tampered_or_foreign_cursor_is_400(client: TestClient, corpus: dict[str, Any]) -> None:
    cursor = client.get("/v1/claim-reviews", params={"limit": 1}).json()["next_cursor"]
    body, tag = cursor.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + tag

    tampered = client.get("/v1/claim-reviews", params={"limit": 1, "cursor": forged})
    garbage = client.get("/v1/claim-reviews", params={"cursor": "%%%"})
    foreign = client.get(
        "/v1/claim-reviews", params={"limit": 1, "cursor": cursor, "language": "es"}
    )

    assert tampered.status_code == 400
    assert tampered.headers["content-type"] == "application/problem+json"
    assert garbage.status_code == 400
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["path"] == "cursor"


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"verdict": "nonsense"}, "verdict"),
        ({"sort": "relevance"}, "sort"),
        ({"published_since": "yesterday"}, "published_since"),
        ({"language": "english!"}, "language"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"q": "!!!"}, "q"),
        ({"q": "x" * 501}, "q"),
    ],
)
def test_bad_query_parameters_are_named(
    client: TestClient, params: dict[str, Any], path: str
) -> None:
    response = client.get("/v1/claim-reviews", params=params)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["path"] == path


def test_page_as_jsonld_is_a_graph(client: TestClient, corpus: dict[str, Any]) -> None:
    response = client.get(
        "/v1/claim-reviews",
        params={"publisher": "maldita"},
        headers={"Accept": "application/ld+json"},
    )

    assert response.headers["content-type"] == "application/ld+json"
    graph = response.json()["@graph"]
    single = client.get(f"/v1/claim-reviews/{corpus['other']['id']}.jsonld").json()
    assert graph == [single]


def test_link_header_keeps_the_filters(client: TestClient, corpus: dict[str, Any]) -> None:
    response = client.get("/v1/claim-reviews", params={"language": "es", "limit": 1})

    link = response.headers["link"]
    query = parse_qs(urlsplit(link[1 : link.index(">")]).query)
    assert query["language"] == ["es"]
    assert query["limit"] == ["1"]
    assert link.endswith('rel="next"')


def test_facets_count_with_the_same_filters(client: TestClient, corpus: dict[str, Any]) -> None:
    everything = client.get("/v1/facets").json()
    spanish = client.get("/v1/facets", params={"language": "es"}).json()

    assert everything["total"] == 7
    assert {"value": "polygraph", "count": 6} in everything["publisher"]
    assert {"value": "maldita", "count": 1} in everything["publisher"]
    assert everything["verdict"] == [
        {"value": "false", "count": 6},
        {"value": "misleading", "count": 1},
    ]
    assert {"value": "Ángela Müller", "count": 1} in everything["claimant"]
    assert spanish["total"] == 2
    assert spanish["language"] == [{"value": "es", "count": 2}]
    assert client.get("/v1/facets", params={"top": 1}).json()["publisher"] == [
        {"value": "polygraph", "count": 6}
    ]


def test_relevance_paging_visits_every_match_once(
    client: TestClient, writer: dict[str, str], corpus: dict[str, Any]
) -> None:
    for n in range(20, 26):
        review(client, writer, n, claim_reviewed="puente " * (n - 19) + "vendido")
    expected = set(ids(client.get("/v1/claim-reviews", params={"q": "puente", "limit": 100})))

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "puente", "sort": "relevance", "limit": 2}
        page = client.get(
            "/v1/claim-reviews", params={**params, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen)) == len(expected) == 8
    assert set(seen) == expected


def test_a_repeated_parameter_counts_once_with_its_last_value(
    client: TestClient, corpus: dict[str, Any]
) -> None:
    response = client.get("/v1/claim-reviews?limit=5&limit=1&language=de&language=es")

    assert ids(response) == [corpus["other"]["id"]]


def test_openapi_documents_every_list_parameter(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/claim-reviews"]["get"]
    documented = {parameter["name"]: parameter for parameter in operation["parameters"]}

    assert documented.keys() == ListParams.model_fields.keys()
    assert all(parameter["in"] == "query" for parameter in documented.values())
    assert all(parameter.get("description") for parameter in documented.values())
    assert (
        documented["limit"]["schema"] | {"minimum": 1, "maximum": 100}
        == documented["limit"]["schema"]
    )
    assert "misleading" in str(documented["verdict"]["schema"])
    assert "422" in operation["responses"]


def test_concurrent_pages_each_get_their_own_answer(
    client: TestClient, corpus: dict[str, Any], live_server: str
) -> None:
    """Pages asked for at once, alike and different (on PostgreSQL they share round trips and
    identical queries run once), each get the page they asked for."""
    queries: list[dict[str, Any]] = [
        {"limit": 20},
        {"publisher": "polygraph", "limit": 2},
        {"publisher": "maldita"},
        {"language": "es"},
        {"q": "ponte"},
        {"limit": 1, "sort": "oldest"},
    ]
    expected = [client.get("/v1/claim-reviews", params=query).json() for query in queries]

    async def all_at_once() -> list[Any]:
        async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
            asked = [queries[n % len(queries)] for n in range(60)]
            responses = await asyncio.gather(
                *(http.get("/v1/claim-reviews", params=query) for query in asked)
            )
        return [response.json() for response in responses]

    answers = asyncio.run(all_at_once())

    assert answers == [expected[n % len(queries)] for n in range(60)]
    assert len({str(page) for page in expected}) == len(queries)  # all different
