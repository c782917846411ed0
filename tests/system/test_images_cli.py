"""``claimreview images rehash``, run as a real process against the database the service
(and its image worker) wrote, fetching from a real image server on 127.0.0.1."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.config import Settings
from app.core import perceptual
from app.db.engine import sqlalchemy_url
from tests.conftest import create_review
from tests.image_server import Answer, ImageServer, picture, running_image_server, wait_for_images

CLAIMREVIEW = str(Path(sys.executable).parent / "claimreview")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"image_backoff_seconds": 0.05, "image_max_attempts": 2})


@pytest.fixture
def images() -> Iterator[ImageServer]:
    with running_image_server() as server:
        yield server


def rehash(
    *options: str, database_url: str, allow: str = "CLAIMREVIEW_OUTBOUND_ALLOW_PRIVATE"
) -> str:
    """Run the command, the image server's loopback address allowed by the variable ``allow``;
    its summary line."""
    return images_command("rehash", *options, database_url=database_url, allow=allow)


def images_command(
    *arguments: str, database_url: str, allow: str = "CLAIMREVIEW_OUTBOUND_ALLOW_PRIVATE"
) -> str:
    """Run ``claimreview images ...``; its summary line."""
    env = {**os.environ, "CLAIMREVIEW_DATABASE_URL": database_url, allow: "true"}
    done = subprocess.run(
        [CLAIMREVIEW, "images", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.strip().splitlines()[-1]


def phash_of(body: bytes) -> str:
    return f"{perceptual.unsigned(perceptual.hash_image(body).phash):016x}"


def test_rehash_fetches_stale_then_failed_then_every_image(
    client: TestClient, writer: dict[str, str], images: ImageServer, database_url: str
) -> None:
    first, second, third = (picture(seed, size=(64, 48)) for seed in (1, 2, 3))
    ok = images.answer("/ok.png", Answer(body=first))
    broken = images.url("/broken.png")  # 404 until it is served below
    review = create_review(client, writer, image=ok, rating={"label": "False", "image": broken})
    hashed, failed = wait_for_images(
        client, review["id"], done=lambda image: image["status"] != "pending", count=2
    )
    assert (hashed["status"], failed["status"]) == ("hashed", "failed")
    images.answer("/ok.png", Answer(body=second))
    images.answer("/broken.png", Answer(body=third))

    # Nothing is stale yet, and failed images are only taken with --failed.
    assert rehash(database_url=database_url) == "hashed 0 of 0 images"
    # As if the hashing algorithm had changed since the image was hashed.
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE image SET hash_version = 'older' WHERE url = :u"), {"u": ok}
        )
    engine.dispose()
    # The setting's older name is read too.
    allowed = "CLAIMREVIEW_WEBHOOK_ALLOW_PRIVATE"
    assert rehash(database_url=database_url, allow=allowed) == "hashed 1 of 1 images"
    now_ok, still_failed = wait_for_images(client, review["id"], done=lambda _: True)
    assert now_ok["phash"] == phash_of(second) != hashed["phash"]
    assert now_ok["hash_version"] == perceptual.HASH_VERSION
    assert still_failed["status"] == "failed"

    assert rehash("--failed", database_url=database_url) == "hashed 1 of 1 images"
    [_, retried] = wait_for_images(client, review["id"])
    assert retried["phash"] == phash_of(third) and retried["last_error"] is None

    # --all takes every hashed image; one that cannot be fetched keeps its hashes.
    images.answer("/ok.png", Answer(status=500, content_type="text/plain"))
    assert rehash("--all", database_url=database_url) == "hashed 1 of 2 images; not: 1 status"
    kept, _ = wait_for_images(client, review["id"])
    assert kept["phash"] == now_ok["phash"]
    assert kept["last_error"] == f"{ok} answered HTTP 500"
    assert images.hits == {"/ok.png": 3, "/broken.png": 4}


def test_queue_links_the_images_of_reviews_written_before_images_were_hashed(
    client: TestClient, writer: dict[str, str], images: ImageServer, database_url: str
) -> None:
    url = images.answer("/old.png", Answer(body=picture(4, size=(64, 48))))
    old = create_review(client, writer, image=url, rating={"label": "False", "image": url})
    # No image: nothing to queue.
    plain = create_review(
        client, writer, external_id="plain", url="https://www.polygraph.info/a/plain.html"
    )
    [hashed, _] = wait_for_images(client, old["id"])
    # As a database upgraded to migration 0009 holds them: reviews, no images.
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM review_image"))
        connection.execute(text("DELETE FROM image"))
    engine.dispose()
    assert client.get(f"/v1/claim-reviews/{old['id']}/images").json()["items"] == []

    assert images_command("queue", "--batch", "1", database_url=database_url) == (
        "queued 2 review images; the image worker hashes them"
    )
    # The worker of the running service picks them up; nothing is left to queue.
    image, rating_image = wait_for_images(client, old["id"], count=2)
    assert image["place"] == "image" and rating_image["place"] == "rating.image"
    assert image["phash"] == rating_image["phash"] == hashed["phash"]
    assert client.get(f"/v1/claim-reviews/{plain['id']}/images").json()["items"] == []
    assert images_command("queue", database_url=database_url) == (
        "queued 0 review images; the image worker hashes them"
    )
