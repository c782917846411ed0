"""Test set-up: a real database per test, the app through FastAPI's TestClient.

Every test runs on SQLite; with ``CLAIMREVIEW_TEST_DATABASE_URL`` set (CI sets it) the same
tests run on that PostgreSQL database instead.

- SQLite: each test gets its own database file, copied from one migrated template (a rolled
  back transaction does not isolate pysqlite, and copying beats migrating per test).
- PostgreSQL: the database is migrated once per run and every table is truncated before each
  test. Tests cannot run inside a rolled-back transaction here, because the hot read path
  reads on its own connection (app/db/reads.py) and must see committed rows.
"""

import importlib.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.dependencies import require_test_extras

# Before the imports below: a missing test dependency is named, not an ImportError or a skip.
require_test_extras()

# Settings are read from the environment: make sure nothing here touches ./claimreview.db.
os.environ.setdefault("CLAIMREVIEW_DATABASE_URL", "sqlite:////nonexistent/claimreview-tests.db")

import orjson  # noqa: E402
import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db import migrate  # noqa: E402
from app.db.engine import sqlalchemy_url  # noqa: E402
from app.db.tables import metadata  # noqa: E402
from app.main import create_app  # noqa: E402

POSTGRES_URL = os.environ.get("CLAIMREVIEW_TEST_DATABASE_URL")
ADMIN_TOKEN = "test-admin-token-0123456789"
BASE_URL = "http://127.0.0.1:8000"
REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SEED_PUBLISHER = {
    "slug": "polygraph",
    "name": "Polygraph.info",
    "url": "https://www.polygraph.info/",
}


def load_script(name: str) -> ModuleType:
    """A script of ``scripts/`` as a module (they are not part of the app package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_example(name: str) -> Any:
    return orjson.loads((EXAMPLES / name).read_bytes())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    assert POSTGRES_URL is not None
    migrate.upgrade(POSTGRES_URL)
    yield POSTGRES_URL


def truncate(url: str) -> None:
    """Empty every table of the PostgreSQL test database."""
    engine = create_engine(sqlalchemy_url(url))
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database_url(request, tmp_path)


def fresh_database_url(request: pytest.FixtureRequest, directory: Path) -> str:
    """An empty migrated database: a copy of the SQLite template in ``directory``, or the
    PostgreSQL test database with every table emptied."""
    if POSTGRES_URL:
        url: str = request.getfixturevalue("postgres_url")
        truncate(url)
        return url
    path = directory / "claimreview.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Outbound requests may reach loopback: the tests' webhook receivers and image servers
    listen there."""
    return Settings(
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        base_url=BASE_URL,
        outbound_allow_private=True,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=BASE_URL) as test_client:
        yield test_client


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_publisher(client: TestClient, **fields: Any) -> dict[str, Any]:
    body = {**SEED_PUBLISHER, **fields}
    response = client.post("/v1/publishers", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


def make_key(client: TestClient, slug: str, *scopes: str) -> str:
    body = {"name": "test", "scopes": list(scopes or ("reviews:write",))}
    response = client.post(f"/v1/publishers/{slug}/keys", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def seed_review(**changes: Any) -> dict[str, Any]:
    review: dict[str, Any] = load_example("seed-factcheck.json")
    review.update(changes)
    return review


@pytest.fixture
def writer(client: TestClient) -> dict[str, str]:
    """Headers of a write key of the seed publisher (polygraph)."""
    make_publisher(client)
    return bearer(make_key(client, "polygraph", "reviews:write"))


def create_review(client: TestClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/claim-reviews", json=seed_review(**changes), headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The app on a real uvicorn (in a thread) on a free port; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The app on a real uvicorn: for concurrency tests."""
    with serving(settings) as base:
        yield base
