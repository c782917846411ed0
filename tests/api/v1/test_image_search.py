"""Search by image through HTTP: reviews whose images a local server serves, hashed by the image
worker, found by a resized and a re-compressed copy (``GET /v1/claim-reviews?image_url=`` and
``POST /v1/image-search``), never by an unrelated picture; with the list's filters, visibility
rules and paging; and every way a query image can be unusable."""

import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.core import perceptual
from app.main import create_app
from tests.conftest import BASE_URL, bearer, create_review, make_key, make_publisher
from tests.image_server import Answer, ImageServer, picture, running_image_server, wait_for_images

OTHER = {"slug": "maldita", "name": "Maldita.es", "url": "https://maldita.es/", "language": "es"}


@pytest.fixture
def images() -> Iterator[ImageServer]:
    with running_image_server() as server:
        yield server


def variant(seed: int, *, scale: float = 1.0, quality: int | None = None) -> bytes:
    """``picture(seed)`` resized by ``scale`` (Lanczos) and, with ``quality``, saved as JPEG."""
    with Image.open(io.BytesIO(picture(seed))) as image:
        width, height = image.size
        copy = image.resize((round(width * scale), round(height * scale)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if quality is None:
        copy.save(out, "PNG")
    else:
        copy.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def serve(images: ImageServer, path: str, body: bytes) -> str:
    kind = "image/jpeg" if body[:2] == b"\xff\xd8" else "image/png"
    return images.answer(path, Answer(body=body, content_type=kind))


def reviewed(
    client: TestClient, headers: dict[str, str], name: str, *images_at: str, **changes: Any
) -> dict[str, Any]:
    """A review named ``name`` whose own image is the first URL and its rating's the second,
    once the worker has hashed them."""
    fields: dict[str, Any] = {"external_id": name, "url": f"https://www.polygraph.info/a/{name}"}
    if images_at:
        fields["image"] = images_at[0]
    if len(images_at) > 1:
        fields["rating"] = {"label": "False", "value": 1, "best": 5, "worst": 1}
        fields["rating"]["image"] = images_at[1]
    review = create_review(client, headers, **(fields | changes))
    wait_for_images(client, review["id"], headers=headers, count=len(images_at))
    return review


def distances(query: bytes, stored: bytes) -> tuple[int, int]:
    a, b = perceptual.hash_image(query), perceptual.hash_image(stored)
    return perceptual.distance(a.phash, b.phash), perceptual.distance(a.dhash, b.dhash)


def found(response: Any) -> list[tuple[str, int]]:
    assert response.status_code == 200, response.text
    return [(item["id"], item["image_match"]["distance"]) for item in response.json()["items"]]


def test_copies_find_the_reviews_with_the_image_nearest_first(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    original, jpeg = picture(1), variant(1, quality=60)
    exact = reviewed(client, writer, "exact", serve(images, "/1.png", original))
    recompressed = reviewed(client, writer, "jpeg", serve(images, "/1.jpg", jpeg))
    other = reviewed(client, writer, "other", serve(images, "/2.png", picture(2)))
    half = serve(images, "/q/half.png", variant(1, scale=0.5))
    unrelated = serve(images, "/q/unrelated.png", picture(99))

    by_url = client.get("/v1/claim-reviews", params={"image_url": half})
    answer = by_url.json()["items"]

    # Nearest first (then oldest), each at the sum of the two Hamming distances of its image.
    query = variant(1, scale=0.5)
    expected = sorted(
        (sum(distances(query, body)), order, review["id"])
        for order, (review, body) in enumerate(((exact, original), (recompressed, jpeg)))
        if max(distances(query, body)) <= 3
    )
    assert found(by_url) == [(review_id, distance) for distance, _, review_id in expected]
    assert exact["id"] in {item["id"] for item in answer}
    assert other["id"] not in {item["id"] for item in answer}
    first = next(item for item in answer if item["id"] == exact["id"])
    phash, dhash = distances(variant(1, scale=0.5), original)
    assert first["image_match"]["images"] == [
        {
            "place": "image",
            "url": images.url("/1.png"),
            "distance": phash + dhash,
            "phash_distance": phash,
            "dhash_distance": dhash,
        }
    ]
    assert first["claim_reviewed"] == exact["claim_reviewed"]  # the review itself, as listed
    assert max(phash, dhash) <= 3
    assert found(client.get("/v1/claim-reviews", params={"image_url": unrelated})) == []
    assert by_url.json()["next_cursor"] is None


def test_upload_and_json_url_find_what_the_list_finds(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    review = reviewed(client, writer, "a", serve(images, "/1.png", picture(1)))
    jpeg = variant(1, quality=60)
    query_url = serve(images, "/q.jpg", jpeg)

    listed = client.get("/v1/claim-reviews", params={"image_url": query_url})
    uploaded = client.post("/v1/image-search", files={"image": ("q.jpg", jpeg, "image/jpeg")})
    linked = client.post("/v1/image-search", json={"image_url": query_url})
    form_url = client.post("/v1/image-search", data={"image_url": query_url})

    expected = [(review["id"], sum(distances(jpeg, picture(1))))]
    assert found(listed) == found(uploaded) == found(linked) == found(form_url) == expected
    assert uploaded.json() == listed.json()


def test_a_review_is_as_near_as_its_nearest_image(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    review = reviewed(
        client,
        writer,
        "two",
        serve(images, "/own.png", variant(1, quality=60)),
        serve(images, "/rating.png", picture(1)),
    )

    answer = client.post("/v1/image-search", files={"image": ("q.png", picture(1), "image/png")})

    [item] = answer.json()["items"]
    assert item["id"] == review["id"]
    assert item["image_match"]["distance"] == 0
    places = [image["place"] for image in item["image_match"]["images"]]
    assert places[0] == "rating.image"  # the exact copy first
    assert set(places) <= {"rating.image", "image"}


def test_every_list_filter_combines_with_the_image(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    url = serve(images, "/1.png", picture(1))
    make_publisher(client, **OTHER)
    spanish = bearer(make_key(client, "maldita"))
    english = reviewed(client, writer, "en", url, tags=["vaccines"])
    true_one = reviewed(
        client,
        writer,
        "true",
        url,
        rating={"label": "True", "value": 5, "best": 5, "worst": 1},
    )
    es = reviewed(
        client,
        spanish,
        "es",
        url,
        url="https://maldita.es/es",
        language="es",
        claim_reviewed="El puente fue vendido a extranjeros.",
    )
    reviewed(client, writer, "elsewhere", serve(images, "/2.png", picture(2)), tags=["vaccines"])

    def ids(**filters: str) -> set[str]:
        response = client.get("/v1/claim-reviews", params={"image_url": url, **filters})
        return {review_id for review_id, _ in found(response)}

    everyone = {english["id"], true_one["id"], es["id"]}
    assert ids() == everyone
    assert ids(publisher="maldita") == {es["id"]}
    assert ids(language="es") == {es["id"]}
    assert ids(verdict="true") == {true_one["id"]}
    assert ids(tag="vaccines") == {english["id"]}
    assert ids(q="puente vendido") == {es["id"]}
    assert ids(url="https://maldita.es/es") == {es["id"]}
    assert ids(published_since="2100-01-01") == set()
    assert ids(publisher="polygraph", verdict="false", language="en") == {english["id"]}
    posted = client.post(
        "/v1/image-search", params={"publisher": "maldita"}, json={"image_url": url}
    )
    assert {review_id for review_id, _ in found(posted)} == {es["id"]}


def test_drafts_and_retracted_reviews_are_never_found_anonymously(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    """A draft is found only by its publisher's key with status=draft; a retracted review by
    nobody."""
    url = serve(images, "/1.png", picture(1))
    published = reviewed(client, writer, "published", url)
    draft = reviewed(client, writer, "draft", url, status="draft")
    retracted = reviewed(client, writer, "retracted", url)
    assert client.delete(f"/v1/claim-reviews/{retracted['id']}", headers=writer).status_code == 204
    make_publisher(client, **OTHER)
    stranger = bearer(make_key(client, "maldita", "reviews:read"))

    anonymous = client.get("/v1/claim-reviews", params={"image_url": url})
    drafts = client.get(
        "/v1/claim-reviews", params={"image_url": url, "status": "draft"}, headers=writer
    )
    strangers = client.post(
        "/v1/image-search", params={"status": "draft"}, json={"image_url": url}, headers=stranger
    )
    nobody = client.post("/v1/image-search", params={"status": "draft"}, json={"image_url": url})

    assert [review_id for review_id, _ in found(anonymous)] == [published["id"]]
    assert [review_id for review_id, _ in found(drafts)] == [draft["id"]]
    assert found(strangers) == []
    assert nobody.status_code == 401


def test_pages_follow_the_cursor_nearest_first_without_repeats(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    copies = [picture(1), variant(1, quality=60), variant(1, scale=0.5), variant(1, scale=2)]
    made = [
        reviewed(client, writer, f"r{n}", serve(images, f"/{n}.img", copies[n % len(copies)]))
        for n in range(7)
    ]
    url = serve(images, "/q.png", picture(1))
    whole = found(client.get("/v1/claim-reviews", params={"image_url": url, "limit": 100}))

    paged: list[tuple[str, int]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"image_url": url, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/claim-reviews", params=params)
        paged += found(page)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
        assert f"cursor={cursor}" in page.headers["link"]

    assert paged == whole
    assert {review_id for review_id, _ in whole} == {review["id"] for review in made}
    assert [distance for _, distance in whole] == sorted(distance for _, distance in whole)
    first = client.get("/v1/claim-reviews", params={"image_url": url, "limit": 2}).json()
    elsewhere = serve(images, "/other.png", picture(2))
    reused = client.get(
        "/v1/claim-reviews",
        params={"image_url": elsewhere, "limit": 2, "cursor": first["next_cursor"]},
    )
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["path"] == "cursor"


def test_threshold_setting_decides_how_near_is_near(
    settings: Settings, writer: dict[str, str], client: TestClient, images: ImageServer
) -> None:
    jpeg = variant(1, quality=60)
    reviewed(client, writer, "exact", serve(images, "/1.png", picture(1)))
    reviewed(client, writer, "jpeg", serve(images, "/1.jpg", jpeg))
    phash, dhash = distances(jpeg, picture(1))
    assert max(phash, dhash) > 0, "the JPEG copy must differ for this test to mean anything"

    strict = settings.model_copy(update={"image_search_threshold": 0})
    with TestClient(create_app(strict), base_url=BASE_URL) as exact_only:
        answer = exact_only.post(
            "/v1/image-search", files={"image": ("q.png", picture(1), "image/png")}
        )

    assert [distance for _, distance in found(answer)] == [0]


def problem(response: Any, status: int, path: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["errors"][0]["path"] == path
    return body


def test_unusable_query_images_are_refused_naming_the_field(
    client: TestClient, images: ImageServer
) -> None:
    text_url = images.answer("/text", Answer(body=b"hello", content_type="text/plain"))
    garbage = images.answer(
        "/bad.png", Answer(body=b"\x89PNG not really", content_type="image/png")
    )
    missing = images.url("/missing.png")
    good = serve(images, "/1.png", picture(1))

    not_image = problem(
        client.get("/v1/claim-reviews", params={"image_url": text_url}), 422, "image_url"
    )
    undecodable = problem(
        client.post("/v1/image-search", json={"image_url": garbage}), 422, "/image_url"
    )
    gone = problem(client.get("/v1/claim-reviews", params={"image_url": missing}), 422, "image_url")
    unreachable = problem(
        client.get("/v1/claim-reviews", params={"image_url": "http://127.0.0.1:9/a.png"}),
        422,
        "image_url",
    )
    not_http = problem(
        client.get("/v1/claim-reviews", params={"image_url": "ftp://x/a.png"}), 422, "image_url"
    )
    upload = problem(
        client.post("/v1/image-search", files={"image": ("a.txt", b"plain words", "text/plain")}),
        422,
        "/image",
    )
    both = problem(
        client.post(
            "/v1/image-search",
            files={"image": ("a.png", picture(1), "image/png")},
            data={"image_url": good},
        ),
        422,
        "/image",
    )
    neither = problem(client.post("/v1/image-search", files={"other": ("a", b"x")}), 422, "/image")
    empty_json = problem(client.post("/v1/image-search", json={}), 422, "/image_url")
    extra = problem(
        client.post("/v1/image-search", json={"image_url": good, "image": "x"}), 422, "/image"
    )
    sorted_too = problem(
        client.get("/v1/claim-reviews", params={"image_url": good, "sort": "oldest"}),
        422,
        "sort",
    )
    wrong_type = client.post(
        "/v1/image-search", content=b"raw", headers={"content-type": "image/png"}
    )

    assert not_image["reason"] == "not_image"
    assert undecodable["reason"] == "not_image"
    assert gone["reason"] == "status"
    assert unreachable["reason"] == "network"
    assert "http" in not_http["detail"]
    assert upload["reason"] == "not_image"
    assert upload["errors"][0]["message"] == (
        "it is not an image that can be read (no format Pillow knows)"
    )
    assert "not both" in both["detail"]
    assert "image" in neither["detail"]
    assert empty_json["status"] == extra["status"] == sorted_too["status"] == 422
    assert wrong_type.status_code == 415


def test_too_large_query_images_are_refused(settings: Settings, images: ImageServer) -> None:
    small = settings.model_copy(update={"image_max_bytes": 4096})
    big = variant(1, scale=2)
    assert len(big) > 4096 + 64 * 1024  # beyond even the multipart allowance of the body limit
    url = serve(images, "/big.png", big)
    medium = picture(1)
    assert 4096 < len(medium) < 4096 + 64 * 1024

    with TestClient(create_app(small), base_url=BASE_URL) as client:
        fetched = client.get("/v1/claim-reviews", params={"image_url": url})
        uploaded = client.post("/v1/image-search", files={"image": ("a.png", medium, "image/png")})
        body_too_large = client.post(
            "/v1/image-search", files={"image": ("a.png", big, "image/png")}
        )

    assert problem(fetched, 422, "image_url")["reason"] == "too_large"
    problem(uploaded, 413, "/image")
    assert body_too_large.status_code == 413


def test_private_addresses_are_refused_unless_allowed(
    settings: Settings, images: ImageServer
) -> None:
    url = serve(images, "/1.png", picture(1))
    public_only = settings.model_copy(update={"outbound_allow_private": False})

    with TestClient(create_app(public_only), base_url=BASE_URL) as client:
        listed = client.get("/v1/claim-reviews", params={"image_url": url})
        posted = client.post("/v1/image-search", json={"image_url": url})

    assert problem(listed, 422, "image_url")["reason"] == "refused"
    assert problem(posted, 422, "/image_url")["reason"] == "refused"
    assert images.hits["/1.png"] == 0


def test_appearance_and_media_images_are_hashed_and_found_with_kind(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    """Every place a review names an image is searchable: a claim appearance's ``image``, and a
    MediaReview's image appearance (its ``content_url``) and a clip's still (its ``image``)."""
    photo, still = serve(images, "/photo.png", picture(5)), serve(images, "/still.png", picture(6))
    appearance = {"url": "https://social.example/post/1", "image": photo}
    claim = create_review(
        client,
        writer,
        external_id="claim",
        url="https://www.polygraph.info/a/claim",
        claim={"appearances": [appearance]},
    )
    media = create_review(
        client,
        writer,
        external_id="media",
        kind="media",
        url="https://www.polygraph.info/a/media",
        claim=None,
        claim_reviewed=None,
        rating={"label": "Out of context"},
        media_authenticity="DecontextualizedContent",
        original_media_context="Taken in 2019.",
        media={
            "appearances": [
                {"type": "ImageObject", "content_url": photo},
                {"type": "VideoObject", "embed_url": "https://video.example/1", "image": still},
            ]
        },
    )
    assert [image["place"] for image in wait_for_images(client, claim["id"], count=1)] == [
        "claim.appearances[0].image"
    ]
    assert [image["place"] for image in wait_for_images(client, media["id"], count=2)] == [
        "media.appearances[0].content_url",
        "media.appearances[1].image",
    ]

    query = serve(images, "/q/photo.jpg", variant(5, quality=60))
    both = client.get("/v1/claim-reviews", params={"image_url": query})
    assert {review_id for review_id, _ in found(both)} == {claim["id"], media["id"]}
    only_media = client.get("/v1/claim-reviews", params={"image_url": query, "kind": "media"})
    assert [review_id for review_id, _ in found(only_media)] == [media["id"]]
    [match] = only_media.json()["items"]
    assert match["kind"] == "media" and match["verdict"] == "misleading"
    assert [image["place"] for image in match["image_match"]["images"]] == [
        "media.appearances[0].content_url"
    ]
    by_still = client.post(
        "/v1/image-search",
        params={"kind": "media"},
        files={"image": ("still.png", variant(6, scale=0.5), "image/png")},
    )
    assert [review_id for review_id, _ in found(by_still)] == [media["id"]]
