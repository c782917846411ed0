"""Images named by reviews: queued on write, fetched from a local server and hashed by the
image worker, shown by ``GET /v1/claim-reviews/{id}/images``."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core import perceptual
from tests.conftest import create_review
from tests.image_server import ImageServer, picture, running_image_server, wait_for_images


@pytest.fixture
def images() -> Iterator[ImageServer]:
    with running_image_server() as server:
        yield server


def test_an_image_named_by_a_review_is_fetched_and_hashed(
    client: TestClient, writer: dict[str, str], images: ImageServer
) -> None:
    url = images.image("/a.png", seed=1)
    review = create_review(client, writer, image=url)
    [image] = wait_for_images(client, review["id"])
    expected = perceptual.hash_image(picture(1))
    assert image["place"] == "image"
    assert image["url"] == url
    assert image["phash"] == f"{perceptual.unsigned(expected.phash):016x}"
    assert image["dhash"] == f"{perceptual.unsigned(expected.dhash):016x}"
    assert (image["width"], image["height"]) == (320, 240)
    assert image["content_type"] == "image/png"
    assert image["size_bytes"] == len(picture(1))
    assert image["hash_version"] == perceptual.HASH_VERSION
    assert image["attempts"] == 1 and image["last_error"] is None
    assert image["next_attempt_at"] is None and image["fetched_at"]
