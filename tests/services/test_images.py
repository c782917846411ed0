"""Images named by reviews (issue 18): queued in the write's transaction, fetched from a real
server on 127.0.0.1 serving generated images by the real image worker, hashed, and shown by
``GET /v1/claim-reviews/{id}/images`` — dedup, the outbound policy, retries and failure."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.core import perceptual
from app.main import create_app
from app.services import outbound
from tests.conftest import (
    ADMIN,
    BASE_URL,
    bearer,
    create_review,
    load_example,
    make_key,
    make_publisher,
)
from tests.image_server import Answer, ImageServer, picture, running_image_server, wait_for_images


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Quick retries; the image server on 127.0.0.1 is allowed (conftest)."""
    return settings.model_copy(
        update={"image_backoff_seconds": 0.05, "image_max_attempts": 3, "image_max_bytes": 4096}
    )


@pytest.fixture
def images() -> Iterator[ImageServer]:
    with running_image_server() as server:
        yield server


@contextmanager
def service(settings: Settings, **changes: Any) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app with other settings, and a write key of the seed publisher."""
    app = create_app(settings.model_copy(update=changes))
    with TestClient(app, base_url=BASE_URL) as client:
        make_publisher(client)
        yield client, bearer(make_key(client, "polygraph", "reviews:write"))


def hex64(value: int) -> str:
    return f"{perceptual.unsigned(value):016x}"


def attempted(times: int) -> Any:
    return lambda image: image["attempts"] >= times


def settled(image: dict[str, Any]) -> bool:
    return bool(image["status"] != "pending")


def small_picture(seed: int) -> bytes:
    """A PNG under the tests' 4096-byte cap."""
    return picture(seed, size=(48, 32))


def test_an_image_named_by_a_review_is_fetched_and_hashed(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    body = small_picture(1)
    url = images.answer("/a.png", Answer(body=body))
    review = create_review(client, writer, image=url)
    [image] = wait_for_images(client, review["id"])
    expected = perceptual.hash_image(body)
    assert image == {
        "place": "image",
        "url": url,
        "status": "hashed",
        "attempts": 1,
        "last_error": None,
        "next_attempt_at": None,
        "content_type": "image/png",
        "size_bytes": len(body),
        "width": 48,
        "height": 32,
        "phash": hex64(expected.phash),
        "dhash": hex64(expected.dhash),
        "hash_version": perceptual.HASH_VERSION,
        "fetched_at": image["fetched_at"],
    }
    assert image["fetched_at"].endswith("Z")


def test_a_url_named_by_two_reviews_is_fetched_once(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    url = images.answer("/shared.png", Answer(body=small_picture(2)))
    first = create_review(client, writer, image=url, rating={"label": "False", "image": url})
    one, same = wait_for_images(client, first["id"], count=2)
    assert (same["place"], same["phash"]) == ("rating.image", one["phash"])
    second = create_review(
        client, writer, external_id="second", rating={"label": "False", "image": url}
    )
    [two] = wait_for_images(client, second["id"])
    assert two["place"] == "rating.image"
    assert (two["phash"], two["fetched_at"]) == (one["phash"], one["fetched_at"])
    assert images.hits["/shared.png"] == 1


def test_rewriting_a_review_replaces_its_images(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    old, kept, new = (
        images.answer(f"/{name}.png", Answer(body=small_picture(seed)))
        for seed, name in enumerate(("old", "kept", "new"))
    )
    review = create_review(client, writer, image=old, rating={"label": "False", "image": kept})
    found = wait_for_images(client, review["id"], count=2)
    assert [(image["place"], image["url"]) for image in found] == [
        ("image", old),
        ("rating.image", kept),
    ]
    merge_patch = {**writer, "Content-Type": "application/merge-patch+json"}
    path = f"/v1/claim-reviews/{review['id']}"
    assert client.patch(path, json={"image": new}, headers=merge_patch).status_code == 200
    found = wait_for_images(client, review["id"], count=2)
    assert [(image["place"], image["url"]) for image in found] == [
        ("image", new),
        ("rating.image", kept),
    ]
    # The image kept was not fetched again.
    assert images.hits == {"/old.png": 1, "/kept.png": 1, "/new.png": 1}
    replaced = client.put(path, json=load_example("seed-factcheck.json"), headers=writer)
    assert replaced.status_code == 200, replaced.text
    assert wait_for_images(client, review["id"]) == []


def test_an_image_over_the_size_cap_is_refused(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    big = picture(3, size=(400, 300))
    assert len(big) > 4096
    declared = images.answer("/declared.png", Answer(body=big))
    # No Content-Length: the body is read up to the cap, then given up.
    streamed = images.answer("/streamed.png", Answer(body=big, content_length=""))
    review = create_review(
        client, writer, image=declared, rating={"label": "False", "image": streamed}
    )
    found = wait_for_images(client, review["id"], done=attempted(1), count=2)
    for image, url in zip(found, (declared, streamed), strict=True):
        assert image["status"] == "pending" and image["phash"] is None
        assert image["last_error"] == f"{url} is larger than 4096 bytes"
        assert image["next_attempt_at"] is not None


def test_a_body_that_is_not_an_image_is_refused(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    page = images.answer("/page", Answer(body=b"<html></html>", content_type="text/html"))
    liar = images.answer("/liar.png", Answer(body=b"GIF89a but not really"))
    review = create_review(client, writer, image=page, rating={"label": "False", "image": liar})
    first, second = wait_for_images(client, review["id"], done=attempted(1), count=2)
    assert first["last_error"] == f"{page} is text/html, not an image"
    assert second["last_error"].startswith(f"{liar} is not an image that can be read")


def test_redirects_are_followed_and_each_hop_is_checked(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    images.answer("/final.png", Answer(body=small_picture(4)))
    first = images.redirect("/first", "/second", status=301)
    images.redirect("/second", images.url("/final.png"), status=307)
    loop = images.redirect("/loop", "/loop")
    review = create_review(client, writer, image=first, rating={"label": "False", "image": loop})
    moved, looping = wait_for_images(client, review["id"], done=attempted(1), count=2)
    assert moved["status"] == "hashed" and moved["url"] == first
    assert moved["phash"] == hex64(perceptual.hash_image(small_picture(4)).phash)
    assert looping["last_error"] == "more than 5 redirects"
    assert images.hits["/loop"] == 6


def test_loopback_is_refused_when_private_addresses_are_not_allowed(
    settings: Settings, images: ImageServer
) -> None:
    url = images.answer("/a.png", Answer(body=small_picture(5)))
    with service(settings, outbound_allow_private=False) as (client, writer):
        review = create_review(client, writer, image=url)
        [image] = wait_for_images(client, review["id"], done=attempted(1))
    assert image["status"] == "pending"
    assert image["last_error"] == (
        f"refused {url}: the host '127.0.0.1' resolves to 127.0.0.1, which is not a public "
        "address (loopback, private, link-local, multicast or reserved)"
    )
    assert images.hits["/a.png"] == 0


def test_a_redirect_to_a_private_address_is_refused() -> None:
    """The first hop is a public address (answered by a stand-in transport: nothing leaves the
    machine); the redirect it answers, to the loopback, is checked like it and refused."""
    requested: list[httpx.URL] = []

    def public_server(request: httpx.Request) -> httpx.Response:
        requested.append(request.url)
        return httpx.Response(302, headers={"Location": "http://127.0.0.1:9/secret.png"})

    async def fetch() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(public_server))
        async with client:
            await outbound.fetch_image(
                "http://93.184.215.14/a.png", settings=Settings(), client=client
            )

    with pytest.raises(outbound.ImageFetchError) as refused:
        asyncio.run(fetch())
    assert refused.value.reason == "refused"
    assert str(refused.value).startswith(
        "refused http://127.0.0.1:9/secret.png: the host '127.0.0.1' resolves to 127.0.0.1"
    )
    assert [str(url) for url in requested] == ["http://93.184.215.14/a.png"]


def test_a_failing_image_is_retried_with_backoff_until_it_is_hashed(
    settings: Settings, images: ImageServer
) -> None:
    base = 0.2
    url = images.answer("/flaky.png", Answer(body=small_picture(6)))
    images.fail_first("/flaky.png", 500, 503)
    with service(settings, image_backoff_seconds=base, image_max_attempts=5) as (client, writer):
        review = create_review(client, writer, image=url)
        [image] = wait_for_images(client, review["id"])
    assert image["attempts"] == 3 and image["last_error"] is None
    gaps = [later - earlier for earlier, later in pairwise(images.times["/flaky.png"])]
    # base * 2**(attempt - 1), ±25 % jitter
    assert gaps[0] >= 0.75 * base and gaps[1] >= 0.75 * 2 * base


def test_an_image_fails_after_its_last_attempt(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    url = images.url("/missing.png")
    review = create_review(client, writer, image=url)
    [image] = wait_for_images(client, review["id"], done=settled)
    assert image["status"] == "failed"
    assert image["attempts"] == 3 == images.hits["/missing.png"]
    assert image["last_error"] == f"{url} answered HTTP 404"
    assert image["next_attempt_at"] is None and image["phash"] is None


def test_writing_a_review_again_retries_its_failed_images(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    url = images.url("/later.png")
    review = create_review(client, writer, image=url)
    [failed] = wait_for_images(client, review["id"], done=settled)
    assert failed["status"] == "failed" and failed["attempts"] == 3
    images.answer("/later.png", Answer(body=small_picture(7)))

    # Another review naming the URL is a write like any other: the image is tried again.
    other = create_review(
        client, writer, external_id="other", url="https://www.polygraph.info/a/other", image=url
    )
    [hashed] = wait_for_images(client, other["id"])
    assert hashed["attempts"] == 1 and hashed["last_error"] is None
    assert hashed["phash"] == hex64(perceptual.hash_image(small_picture(7)).phash)
    assert wait_for_images(client, review["id"]) == [hashed]
    assert images.hits["/later.png"] == 4


def import_body(*items: dict[str, Any]) -> bytes:
    """NDJSON of the seed's ClaimReview markup, one line per item's changes."""
    markup = load_example("seed-factcheck.jsonld")
    for key in ("@id", "dateModified"):
        markup.pop(key)
    markup["itemReviewed"].pop("@id")
    return b"\n".join(orjson.dumps({**markup, **changes}) for changes in items)


def test_imported_reviews_queue_their_images(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    shared = images.answer("/shared.png", Answer(body=small_picture(7)))
    own = images.answer("/own.png", Answer(body=small_picture(8)))
    url = load_example("seed-factcheck.json")["url"]
    items = (
        {"url": url + "#one", "image": shared},
        {"url": url + "#two", "image": own, "claimReviewed": "Another claim."},
    )
    ndjson = {**writer, "Content-Type": "application/x-ndjson"}
    report = client.post("/v1/import", content=import_body(*items), headers=ndjson)
    assert report.status_code == 200, report.text
    ids = [item["id"] for item in report.json()["items"]]
    assert [wait_for_images(client, id)[0]["url"] for id in ids] == [shared, own]
    # Imported again with another image: the per-review update path replaces it.
    again = client.post(
        "/v1/import",
        content=import_body({**items[0], "image": own}, items[1]),
        headers=ndjson,
    )
    assert [item["status"] for item in again.json()["items"]] == ["updated", "unchanged"]
    assert [image["url"] for image in wait_for_images(client, ids[0])] == [own]
    assert images.hits == {"/shared.png": 1, "/own.png": 1}


def test_images_are_seen_as_their_review_is(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    url = images.answer("/a.png", Answer(body=small_picture(9)))
    draft = create_review(client, writer, image=url, status="draft")
    assert len(wait_for_images(client, draft["id"], headers=writer)) == 1
    hidden = client.get(f"/v1/claim-reviews/{draft['id']}/images")
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"
    reader = bearer(make_key(client, "polygraph", "reviews:read"))
    other = make_publisher(client, slug="other", name="Other", url="https://other.example/")
    stranger = bearer(make_key(client, other["slug"], "reviews:read"))
    assert client.get(f"/v1/claim-reviews/{draft['id']}/images", headers=reader).status_code == 200
    assert (
        client.get(f"/v1/claim-reviews/{draft['id']}/images", headers=stranger).status_code == 404
    )
    unknown = client.get("/v1/claim-reviews/nope/images")
    assert unknown.status_code == 404
    assert unknown.json()["status"] == 404
    assert client.delete(f"/v1/claim-reviews/{draft['id']}", headers=writer).status_code == 204
    gone = client.get(f"/v1/claim-reviews/{draft['id']}/images", headers=writer)
    assert gone.status_code == 410


def test_image_fetches_are_counted_by_outcome(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    def count(outcome: str) -> float:
        exposition = client.get("/metrics", headers=ADMIN).text
        line = f'claimreview_image_fetches_total{{outcome="{outcome}"}} '
        found = [row for row in exposition.splitlines() if row.startswith(line)]
        return float(found[0].split()[-1]) if found else 0.0

    hashed_before, status_before = count("hashed"), count("status")
    ok = images.answer("/ok.png", Answer(body=small_picture(10)))
    review = create_review(
        client, writer, image=ok, rating={"label": "False", "image": images.url("/404.png")}
    )
    wait_for_images(client, review["id"], done=settled, count=2)
    assert count("hashed") == hashed_before + 1
    assert count("status") == status_before + 3
    exposition = client.get("/metrics", headers=ADMIN).text
    assert "claimreview_images_failed 1.0" in exposition
    assert "claimreview_images_pending 0.0" in exposition
