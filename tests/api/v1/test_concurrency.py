"""Retries and races through a real uvicorn: concurrent requests must not duplicate anything."""

import asyncio
from typing import Any

import httpx

from tests.conftest import ADMIN, SEED_PUBLISHER, seed_review

CONCURRENT = 8


def _writer(base: str) -> dict[str, str]:
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.post("/v1/publishers", json=SEED_PUBLISHER, headers=ADMIN).status_code == 201
        created = http.post(
            "/v1/publishers/polygraph/keys",
            json={"name": "cms", "scopes": ["reviews:write"]},
            headers=ADMIN,
        )
    return {"Authorization": f"Bearer {created.json()['key']}"}


async def _fire(base: str, method: str, path: str, **kwargs: Any) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        return await asyncio.gather(
            *(http.request(method, path, **kwargs) for _ in range(CONCURRENT))
        )


def _revisions(base: str, review_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = httpx.get(f"{base}/v1/claim-reviews/{review_id}/revisions", headers=headers)
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_concurrent_retries_with_one_idempotency_key_create_one_review(live_server: str) -> None:
    writer = _writer(live_server)
    headers = {**writer, "Idempotency-Key": "burst-1"}

    responses = asyncio.run(
        _fire(live_server, "POST", "/v1/claim-reviews", json=seed_review(), headers=headers)
    )

    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    review_id = responses[0].json()["id"]
    assert [item["kind"] for item in _revisions(live_server, review_id, writer)] == ["created"]


def test_concurrent_upserts_of_one_external_id_make_one_review(live_server: str) -> None:
    writer = _writer(live_server)

    responses = asyncio.run(
        _fire(
            live_server,
            "PUT",
            "/v1/claim-reviews/by-external-id/race-1",
            json=seed_review(external_id=None),
            headers=writer,
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * (CONCURRENT - 1) + [201]
    assert len({response.json()["id"] for response in responses}) == 1
    assert {response.json()["version"] for response in responses} == {1}


def test_concurrent_patches_with_if_match_let_exactly_one_win(live_server: str) -> None:
    writer = _writer(live_server)
    created = httpx.post(
        f"{live_server}/v1/claim-reviews", json=seed_review(), headers=writer
    ).json()
    path = f"/v1/claim-reviews/{created['id']}"

    async def patch_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live_server, timeout=60) as http:
            return await asyncio.gather(
                *(
                    http.patch(
                        path,
                        json={"headline": f"Edit {n}"},
                        headers={**writer, "If-Match": f'"{created["id"]}.1"'},
                    )
                    for n in range(CONCURRENT)
                )
            )

    responses = asyncio.run(patch_all())

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * (CONCURRENT - 1)
    assert len(_revisions(live_server, created["id"], writer)) == 2


def test_concurrent_reads_of_many_ids_each_get_their_own_review(live_server: str) -> None:
    """Lookups arriving together are answered together (PostgreSQL coalesces them into one
    query): every request must still get exactly its own review, a draft stays hidden, and a
    missing id is a 404."""
    writer = _writer(live_server)
    with httpx.Client(base_url=live_server, timeout=30, headers=writer) as http:
        published = [
            http.post(
                "/v1/claim-reviews", json=seed_review(claim_reviewed=f"Claim {n}", external_id=None)
            ).json()["id"]
            for n in range(12)
        ]
        draft = http.post(
            "/v1/claim-reviews", json=seed_review(status="draft", external_id=None)
        ).json()["id"]
    missing = "A" * 16
    asked = [*published, draft, missing] * 4

    async def read_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live_server, timeout=60) as http:
            return await asyncio.gather(
                *(http.get(f"/v1/claim-reviews/{review_id}.jsonld") for review_id in asked)
            )

    for review_id, response in zip(asked, asyncio.run(read_all()), strict=True):
        if review_id in (draft, missing):
            assert response.status_code == 404, response.text
        else:
            assert response.status_code == 200, response.text
            assert response.json()["claimReviewed"] == f"Claim {published.index(review_id)}"
