"""The isolation matrix (issue 7): every operation of the app × every kind of caller.

Publisher A ("alpha") owns a published review, a draft, a review it published and then took
back to draft, a webhook and a Google page; publisher B ("beta") owns a key and nothing of A's;
partner G ("gamma", a syndication partner) has a key with reviews:read and webhooks:manage.
Every operation is sent with A's write key (the control: it must work), A's read-only key, B's
key, G's key, the admin token, no key, a revoked key and malformed ``Authorization`` headers,
and, with no key, to a second app on the same database whose public reads are switched off.
``EXPECTED`` states the status of every cell; a route the table does not name fails
``test_every_route_has_expectations``, so a new endpoint cannot slip past the matrix.

Every answer is also checked for what it must never carry: A's private text (in its drafts and
its webhook URL) for anyone but A and the admin, and the secrets (A's keys, its webhook's
signing secret) for anyone at all. Rows marked ``reveals`` must show A's private text to A,
which proves the leak check can fail.

One app and one seeded database serve the whole module; operations that change or delete
something act on a fresh object made for that cell, so no cell depends on another's outcome.
"""

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from app.config import Settings
from app.core import google
from app.main import create_app
from tests.conftest import (
    ADMIN_TOKEN,
    BASE_URL,
    bearer,
    fresh_database_url,
    make_key,
    make_publisher,
    seed_review,
)
from tests.image_server import running_image_server

PRIVATE = "qz7isolationmarker"  # A's draft text and webhook URL: only A and the admin see it
SECRET = "qz7signingsecret-never-shown"  # A's webhook secret: nobody ever sees it again
ALPHA = {"slug": "alpha", "name": "Alpha Checks", "url": "https://alpha.example/"}
BETA = {"slug": "beta", "name": "Beta Checks", "url": "https://beta.example/"}
GAMMA = {"slug": "gamma", "name": "Gamma Aggregator", "url": "https://gamma.example/"}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
SCALE = {"best": 5, "worst": 1, "labels": [{"label": "False", "value": 1, "verdict": "false"}]}

# The callers. The invalid credentials all share one column of EXPECTED.
VALID = ("owner", "reader", "other", "partner", "admin", "anonymous", "anonymous-private")
INVALID = ("revoked", "bearer-no-token", "basic", "garbage", "wrong-secret", "too-long")
COLUMNS = (
    "owner",
    "reader",
    "other",
    "partner",
    "admin",
    "anonymous",
    "invalid",
    "anonymous-private",
)
# Who must never see A's private text.
OUTSIDERS = frozenset({"other", "partner", "anonymous", "anonymous-private", *INVALID})


@dataclass(frozen=True, slots=True)
class Call:
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


class World:
    """A's and B's objects, the credentials, and factories of fresh objects for writes."""

    def __init__(self, client: TestClient, private: TestClient, *, image_url: str) -> None:
        self.client, self.private = client, private
        self.image_url = image_url  # a picture on a local server: a query of search by image
        self.counter = itertools.count()
        make_publisher(client, **ALPHA)
        make_publisher(client, **BETA)
        self.owner_key = make_key(client, "alpha", "reviews:write")
        self.reader_key = make_key(client, "alpha", "reviews:read")
        revoked = make_key(client, "alpha", "reviews:write")
        self.other_key = make_key(client, "beta", "reviews:write")
        created = client.post("/v1/partners", json=GAMMA, headers=bearer(ADMIN_TOKEN))
        assert created.status_code == 201, created.text
        self.partner_key = self.new_partner_key("reviews:read", "webhooks:manage")
        revoked_id = revoked.split("_")[1]
        revoking = client.delete(f"/v1/keys/{revoked_id}", headers=bearer(ADMIN_TOKEN))
        assert revoking.status_code == 204

        self.published_url = self.url("published")
        self.published = self.review(url=self.published_url)
        self.draft_url = self.url("draft")
        self.draft = self.review(status="draft", url=self.draft_url, private=True)
        # Published, then taken back to draft with private text and a new URL: its feed and
        # export history must not show what it became.
        self.unpublished = self.review()
        changes = {**_private_fields(), "status": "draft", "url": self.url(PRIVATE)}
        self.write("PATCH", f"/v1/claim-reviews/{self.unpublished}", 200, changes, MERGE_PATCH)
        self.write("DELETE", f"/v1/claim-reviews/{self.review()}", 204)
        self.webhook = self.new_webhook()
        self.page = google.page_id(self.published_url)
        self.published_jsonld = client.get(f"/v1/claim-reviews/{self.published}.jsonld").content
        self.headers = self._credentials(revoked)

    def _credentials(self, revoked: str) -> dict[str, dict[str, Any]]:
        key_id = self.owner_key.split("_")[1]
        return {
            "owner": bearer(self.owner_key),
            "reader": bearer(self.reader_key),
            "other": bearer(self.other_key),
            "partner": bearer(self.partner_key),
            "admin": bearer(ADMIN_TOKEN),
            "anonymous": {},
            "anonymous-private": {},
            "revoked": bearer(revoked),
            "bearer-no-token": {"Authorization": "Bearer"},
            "basic": {"Authorization": "Basic YWxwaGE6c2VjcmV0"},
            "garbage": {"Authorization": b"\xff\xfe;;= garbage"},
            "wrong-secret": bearer(f"crk_{key_id}_{'A' * 43}"),
            "too-long": bearer(self.owner_key + "x" * 16_000),
        }

    def write(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """A request with A's write key that must succeed; its JSON answer."""
        response = self.client.request(
            method,
            path,
            content=orjson.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json", **(headers or {})}
            | bearer(self.owner_key),
        )
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def url(self, name: str = "") -> str:
        return f"https://alpha.example/checks/{name or 'fresh'}-{next(self.counter)}"

    def review(self, *, status: str = "published", url: str = "", private: bool = False) -> str:
        """A fresh review of A; ``private`` puts A's private text in every free-text field."""
        body = seed_review(
            status=status, url=url or self.url(), external_id=f"alpha-{next(self.counter)}"
        )
        if private:
            body.update(_private_fields())
        created: str = self.write("POST", "/v1/claim-reviews", 201, body)["id"]
        return created

    def review_external_id(self) -> str:
        """The external_id of a fresh published review of A."""
        review_id = self.review()
        external_id: str = self.client.get(f"/v1/claim-reviews/{review_id}").json()["external_id"]
        return external_id

    def new_webhook(self) -> str:
        body = {"url": f"http://127.0.0.1:9/{PRIVATE}", "secret": SECRET}
        created: str = self.write("POST", "/v1/webhooks", 201, body)["id"]
        return created

    def new_key_id(self) -> str:
        return make_key(self.client, "alpha", "reviews:read").split("_")[1]

    def new_partner_key(self, *scopes: str) -> str:
        body = {"name": "partner", "scopes": list(scopes)}
        created = self.client.post(
            "/v1/partners/gamma/keys", json=body, headers=bearer(ADMIN_TOKEN)
        )
        assert created.status_code == 201, created.text
        key: str = created.json()["key"]
        return key

    def new_partner_key_id(self) -> str:
        return self.new_partner_key("reviews:read").split("_")[1]

    def new_page(self) -> str:
        page_url = self.url("page")
        self.write("POST", "/v1alpha1/pages", 200, google_page(page_url))
        return google.page_id(page_url)


def _private_fields() -> dict[str, Any]:
    return {
        "claim_reviewed": f"The {PRIVATE} claim, not yet checked.",
        "headline": f"Draft: {PRIVATE}",
        "rating": {
            "label": "False",
            "value": 1,
            "best": 5,
            "worst": 1,
            "explanation": f"Review body {PRIVATE}.",
        },
        "claim": {"author": {"type": "Person", "name": f"Claimant {PRIVATE}"}},
        "tags": [PRIVATE],
    }


def google_page(page_url: str) -> dict[str, Any]:
    rating = {"textualRating": "False", "ratingValue": 1, "bestRating": 5, "worstRating": 1}
    markup = {"url": page_url, "claimReviewed": "Checked over the Google API.", "rating": rating}
    return {"pageUrl": page_url, "claimReviewMarkups": [markup]}


def review_body(w: World) -> dict[str, Any]:
    return seed_review(publisher="alpha", url=w.url(), external_id=None)


@dataclass(frozen=True, slots=True)
class Case:
    """One operation (a route and a method) on one target: ``variant`` tells targets apart."""

    method: str
    route: str
    build: Callable[[World], Call]
    variant: str = ""
    reveals: bool = False  # A's own answer carries A's private text

    @property
    def name(self) -> str:
        return f"{self.method} {self.route}" + (f" [{self.variant}]" if self.variant else "")


REVIEW = "/v1/claim-reviews/{review_id}"
CASES = [
    # Reviews
    Case("GET", "/v1/claim-reviews", lambda w: Call("/v1/claim-reviews", {"q": PRIVATE}), "q"),
    Case(
        "GET",
        "/v1/claim-reviews",
        lambda w: Call("/v1/claim-reviews", {"status": "draft", "publisher": "alpha"}),
        "drafts",
        reveals=True,
    ),
    Case(
        "GET",
        "/v1/claim-reviews",
        lambda w: Call(
            "/v1/claim-reviews", {"status": "draft"}, headers={"Accept": "application/ld+json"}
        ),
        "drafts as JSON-LD",
        reveals=True,
    ),
    Case(
        "GET",
        "/v1/claim-reviews",
        lambda w: Call("/v1/claim-reviews", {"image_url": w.image_url}),
        "image",
    ),
    Case(
        "POST",
        "/v1/image-search",
        lambda w: Call("/v1/image-search", json={"image_url": w.image_url}),
        "published",
    ),
    Case(
        "POST",
        "/v1/image-search",
        lambda w: Call("/v1/image-search", {"status": "draft"}, json={"image_url": w.image_url}),
        "drafts",
    ),
    Case("GET", "/v1/facets", lambda w: Call("/v1/facets", {"q": PRIVATE}), "q"),
    Case(
        "GET",
        "/v1/facets",
        lambda w: Call("/v1/facets", {"status": "draft"}),
        "drafts",
        reveals=True,
    ),
    Case("POST", "/v1/claim-reviews", lambda w: Call("/v1/claim-reviews", json=review_body(w))),
    Case(
        "PUT",
        "/v1/claim-reviews/by-external-id/{external_id}",
        lambda w: Call(
            f"/v1/claim-reviews/by-external-id/{w.review_external_id()}", json=review_body(w)
        ),
    ),
    Case(
        "GET",
        "/v1/claim-reviews/{review_id}.jsonld",
        lambda w: Call(f"/v1/claim-reviews/{w.published}.jsonld"),
        "published",
    ),
    Case(
        "GET",
        "/v1/claim-reviews/{review_id}.jsonld",
        lambda w: Call(f"/v1/claim-reviews/{w.draft}.jsonld"),
        "draft",
        reveals=True,
    ),
    Case("GET", REVIEW, lambda w: Call(f"/v1/claim-reviews/{w.published}"), "published"),
    Case("GET", REVIEW, lambda w: Call(f"/v1/claim-reviews/{w.draft}"), "draft", reveals=True),
    Case(
        "GET",
        REVIEW,
        lambda w: Call(f"/v1/claim-reviews/{w.unpublished}"),
        "unpublished",
        reveals=True,
    ),
    Case(
        "GET",
        REVIEW,
        lambda w: Call(
            f"/v1/claim-reviews/{w.draft}",
            headers={"Accept": "application/ld+json", "If-None-Match": "*"},
        ),
        "draft as JSON-LD, If-None-Match",
    ),
    Case(
        "PUT",
        REVIEW,
        lambda w: Call(f"/v1/claim-reviews/{w.review()}", json=review_body(w)),
    ),
    Case(
        "PATCH",
        REVIEW,
        lambda w: Call(
            f"/v1/claim-reviews/{w.review()}",
            content=b'{"headline": "Patched"}',
            headers=MERGE_PATCH,
        ),
        "published",
    ),
    Case(
        "PATCH",
        REVIEW,
        lambda w: Call(
            f"/v1/claim-reviews/{w.review(status='draft', private=True)}",
            content=b'{"headline": "Patched"}',
            headers=MERGE_PATCH,
        ),
        "draft",
        reveals=True,
    ),
    Case("DELETE", REVIEW, lambda w: Call(f"/v1/claim-reviews/{w.review()}")),
    Case(
        "POST",
        "/v1/claim-reviews/{review_id}/corrections",
        lambda w: Call(f"/v1/claim-reviews/{w.review()}/corrections", json={"text": "Fixed."}),
    ),
    Case(
        "GET",
        "/v1/claim-reviews/{review_id}/images",
        lambda w: Call(f"/v1/claim-reviews/{w.published}/images"),
        "published",
    ),
    Case(
        "GET",
        "/v1/claim-reviews/{review_id}/images",
        lambda w: Call(f"/v1/claim-reviews/{w.draft}/images"),
        "draft",
    ),
    Case(
        "GET",
        "/v1/claim-reviews/{review_id}/revisions",
        lambda w: Call(f"/v1/claim-reviews/{w.published}/revisions"),
        "published",
    ),
    Case(
        "GET",
        "/v1/claim-reviews/{review_id}/revisions",
        lambda w: Call(f"/v1/claim-reviews/{w.draft}/revisions"),
        "draft",
    ),
    Case(
        "GET",
        "/v1/claim-reviews/{review_id}/revisions/{version}",
        lambda w: Call(f"/v1/claim-reviews/{w.draft}/revisions/1"),
        "draft",
        reveals=True,
    ),
    Case(
        "GET",
        "/v1/claim-reviews/{review_id}/revisions/{version}",
        lambda w: Call(f"/v1/claim-reviews/{w.unpublished}/revisions/2"),
        "unpublished",
        reveals=True,
    ),
    # Embedding
    Case(
        "GET",
        "/v1/claim-reviews/{review_id}/embed",
        lambda w: Call(f"/v1/claim-reviews/{w.published}/embed"),
        "published",
    ),
    Case(
        "GET",
        "/v1/claim-reviews/{review_id}/embed",
        lambda w: Call(f"/v1/claim-reviews/{w.draft}/embed"),
        "draft",
        reveals=True,
    ),
    Case("GET", "/v1/markup", lambda w: Call("/v1/markup", {"url": w.published_url}), "published"),
    Case("GET", "/v1/markup", lambda w: Call("/v1/markup", {"url": w.draft_url}), "draft"),
    Case(
        "GET",
        "/v1/markup",
        lambda w: Call("/v1/markup", {"url": w.draft_url, "format": "html"}),
        "draft as HTML",
    ),
    Case(
        "GET",
        "/claim-reviews/{review_id}",
        lambda w: Call(f"/claim-reviews/{w.published}"),
        "published",
    ),
    Case(
        "GET",
        "/claim-reviews/{review_id}",
        lambda w: Call(f"/claim-reviews/{w.draft}"),
        "draft",
        reveals=True,
    ),
    # Administration
    Case(
        "POST",
        "/v1/publishers",
        lambda w: Call(
            "/v1/publishers",
            json={"slug": f"new-{next(w.counter)}", "name": "New", "url": "https://new.example/"},
        ),
    ),
    Case("GET", "/v1/publishers", lambda w: Call("/v1/publishers")),
    Case("GET", "/v1/publishers/{slug}", lambda w: Call("/v1/publishers/alpha")),
    Case(
        "PATCH",
        "/v1/publishers/{slug}",
        lambda w: Call("/v1/publishers/alpha", json={"logo": "https://alpha.example/logo.png"}),
    ),
    Case(
        "POST",
        "/v1/publishers/{slug}/keys",
        lambda w: Call("/v1/publishers/alpha/keys", json={"name": "x", "scopes": ["admin"]}),
    ),
    Case("GET", "/v1/publishers/{slug}/keys", lambda w: Call("/v1/publishers/alpha/keys")),
    Case("DELETE", "/v1/keys/{key_id}", lambda w: Call(f"/v1/keys/{w.new_key_id()}")),
    Case(
        "DELETE",
        "/v1/keys/{key_id}",
        lambda w: Call(f"/v1/keys/{w.new_partner_key_id()}"),
        "partner's",
    ),
    Case(
        "POST",
        "/v1/partners",
        lambda w: Call(
            "/v1/partners",
            json={"slug": f"new-{next(w.counter)}", "name": "New", "url": "https://new.example/"},
        ),
    ),
    Case("GET", "/v1/partners", lambda w: Call("/v1/partners")),
    Case("GET", "/v1/partners/{slug}", lambda w: Call("/v1/partners/gamma")),
    Case(
        "POST",
        "/v1/partners/{slug}/keys",
        lambda w: Call("/v1/partners/gamma/keys", json={"name": "x", "scopes": ["reviews:read"]}),
    ),
    Case("GET", "/v1/partners/{slug}/keys", lambda w: Call("/v1/partners/gamma/keys")),
    Case(
        "GET",
        "/v1/publishers/{slug}/rating-scale",
        lambda w: Call("/v1/publishers/alpha/rating-scale"),
    ),
    Case(
        "PUT",
        "/v1/publishers/{slug}/rating-scale",
        lambda w: Call("/v1/publishers/alpha/rating-scale", json=SCALE),
    ),
    # Syndication
    Case("GET", "/v1/feed", lambda w: Call("/v1/feed", {"publisher": "alpha"})),
    Case("GET", "/v1/export", lambda w: Call("/v1/export"), "ndjson"),
    Case(
        "GET",
        "/v1/export",
        lambda w: Call("/v1/export", {"format": "jsonld", "include_deleted": "true"}),
        "jsonld with tombstones",
    ),
    Case(
        "GET",
        "/v1/export",
        lambda w: Call(
            "/v1/export",
            {"format": "csv", "status": "draft", "include_deleted": "true"},
            headers={"Accept-Encoding": "identity"},
        ),
        "drafts as CSV",
        reveals=True,
    ),
    Case(
        "GET",
        "/v1/export",
        lambda w: Call("/v1/export", {"status": "draft", "publisher": "alpha"}),
        "drafts as gzipped NDJSON",
        reveals=True,
    ),
    Case(
        "POST",
        "/v1/webhooks",
        lambda w: Call(
            "/v1/webhooks",
            json={"url": "http://127.0.0.1:9/new", "secret": "s" * 16, "publisher": "alpha"},
        ),
    ),
    Case("GET", "/v1/webhooks", lambda w: Call("/v1/webhooks"), reveals=True),
    Case(
        "GET",
        "/v1/webhooks/{webhook_id}",
        lambda w: Call(f"/v1/webhooks/{w.webhook}"),
        reveals=True,
    ),
    Case("DELETE", "/v1/webhooks/{webhook_id}", lambda w: Call(f"/v1/webhooks/{w.new_webhook()}")),
    Case(
        "GET",
        "/v1/webhooks/{webhook_id}/deliveries",
        lambda w: Call(f"/v1/webhooks/{w.webhook}/deliveries"),
    ),
    # Import and validation
    Case(
        "POST",
        "/v1/validate",
        lambda w: Call(
            "/v1/validate",
            content=w.published_jsonld,
            headers={"Content-Type": "application/ld+json"},
        ),
    ),
    Case(
        "POST",
        "/v1/import",
        lambda w: Call(
            "/v1/import",
            {"publisher": "alpha"},
            content=w.published_jsonld,
            headers={"Content-Type": "application/ld+json"},
        ),
    ),
    # Operations and documentation
    Case("GET", "/healthz", lambda w: Call("/healthz")),
    Case("GET", "/readyz", lambda w: Call("/readyz")),
    Case("GET", "/metrics", lambda w: Call("/metrics")),
    Case("GET", "/v1/verdicts", lambda w: Call("/v1/verdicts")),
    Case("GET", "/openapi.json", lambda w: Call("/openapi.json")),
    Case("GET", "/docs", lambda w: Call("/docs")),
    Case("GET", "/docs/oauth2-redirect", lambda w: Call("/docs/oauth2-redirect")),
    Case("GET", "/redoc", lambda w: Call("/redoc")),
    # Google Fact Check Tools compatibility
    Case("POST", "/v1alpha1/pages", lambda w: Call("/v1alpha1/pages", json=google_page(w.url()))),
    Case(
        "GET",
        "/v1alpha1/pages/{page_id}",
        lambda w: Call(f"/v1alpha1/pages/{w.page}"),
        "published",
    ),
    Case(
        "GET",
        "/v1alpha1/pages/{page_id}",
        lambda w: Call(f"/v1alpha1/pages/{google.page_id(w.draft_url)}"),
        "draft",
    ),
    Case(
        "PUT",
        "/v1alpha1/pages/{page_id}",
        lambda w: Call(f"/v1alpha1/pages/{(page := w.new_page())}", json=_page_of(page)),
    ),
    Case("DELETE", "/v1alpha1/pages/{page_id}", lambda w: Call(f"/v1alpha1/pages/{w.new_page()}")),
    Case(
        "GET",
        "/v1alpha1/pages",
        lambda w: Call("/v1alpha1/pages", {"organization": "alpha.example"}),
    ),
    Case(
        "GET",
        "/v1alpha1/pages",
        lambda w: Call("/v1alpha1/pages", {"url": w.draft_url}),
        "draft URL",
    ),
    Case(
        "GET",
        "/v1alpha1/claims:search",
        lambda w: Call("/v1alpha1/claims:search", {"query": PRIVATE}),
        "query",
    ),
    Case(
        "GET",
        "/v1alpha1/claims:search",
        lambda w: Call("/v1alpha1/claims:search", {"reviewPublisherSiteFilter": "alpha.example"}),
        "site",
    ),
    Case(
        "GET",
        "/v1alpha1/claims:imageSearch",
        lambda w: Call("/v1alpha1/claims:imageSearch", {"imageUri": w.image_url}),
    ),
    *(
        Case(method, "/v1alpha1/{path:path}", lambda w: Call("/v1alpha1/claims:unknown"))
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    ),
]


def _page_of(page_id: str) -> dict[str, Any]:
    page_url = google.page_url_of(page_id)
    assert page_url is not None
    return google_page(page_url)


# The expected status of every cell. "invalid" is each of INVALID; "anonymous-private" is no
# key on a service with CLAIMREVIEW_PUBLIC_READS=false. The rows most operations share:
# fmt: off
#              owner reader other partner admin anon invalid private
PUBLIC =       (200, 200,   200,  200,    200,  200, 401,    401)  # published: any but a bad key
OWN_DRAFTS =   (200, 200,   200,  200,    200,  401, 401,    401)  # each key lists its own drafts
DRAFT =        (200, 200,   404,  404,    200,  404, 401,    401)  # A's draft: 404 to others
OWN =          (200, 200,   404,  404,    200,  401, 401,    401)  # A's records: history, scale
CHANGE =       (200, 403,   404,  403,    200,  401, 401,    401)  # changing A's review
ADMIN_ONLY =   (403, 403,   403,  403,    200,  401, 401,    401)
OPEN =         (200, 200,   200,  200,    200,  200, 200,    200)  # nothing stored is read
UNPUBLISHED =  (404, 404,   404,  404,    404,  404, 401,    401)  # public views of drafts: none
PAGE_READ =    (200, 403,   404,  403,    403,  401, 401,    401)  # Google pages: A's write key
GOOGLE_404 =   (404, 404,   404,  404,    404,  404, 404,    404)
HOOK =         (200, 403,   404,  404,    200,  401, 401,    401)  # A's webhook: webhooks:manage
EXPECTED: dict[str, tuple[int, int, int, int, int, int, int, int]] = {
    "GET /v1/claim-reviews [q]":                           PUBLIC,
    "GET /v1/claim-reviews [drafts]":                      OWN_DRAFTS,
    "GET /v1/claim-reviews [drafts as JSON-LD]":           OWN_DRAFTS,
    "GET /v1/claim-reviews [image]":                       PUBLIC,
    "POST /v1/image-search [published]":                   PUBLIC,
    "POST /v1/image-search [drafts]":                      OWN_DRAFTS,
    "GET /v1/facets [q]":                                  PUBLIC,
    "GET /v1/facets [drafts]":                             OWN_DRAFTS,
    "POST /v1/claim-reviews":                              (201, 403, 403, 403, 201, 401, 401, 401),
    "PUT /v1/claim-reviews/by-external-id/{external_id}":  (200, 403, 403, 403, 200, 401, 401, 401),
    "GET /v1/claim-reviews/{review_id}.jsonld [published]": PUBLIC,
    "GET /v1/claim-reviews/{review_id}.jsonld [draft]":    DRAFT,
    "GET /v1/claim-reviews/{review_id} [published]":       PUBLIC,
    "GET /v1/claim-reviews/{review_id} [draft]":           DRAFT,
    "GET /v1/claim-reviews/{review_id} [unpublished]":     DRAFT,
    "GET /v1/claim-reviews/{review_id} [draft as JSON-LD, If-None-Match]":
                                                           (304, 304, 404, 404, 304, 404, 401, 401),
    "PUT /v1/claim-reviews/{review_id}":                   CHANGE,
    "PATCH /v1/claim-reviews/{review_id} [published]":     CHANGE,
    "PATCH /v1/claim-reviews/{review_id} [draft]":         CHANGE,
    "DELETE /v1/claim-reviews/{review_id}":                (204, 403, 404, 403, 204, 401, 401, 401),
    "POST /v1/claim-reviews/{review_id}/corrections":      (201, 403, 404, 403, 201, 401, 401, 401),
    "GET /v1/claim-reviews/{review_id}/images [published]": PUBLIC,
    "GET /v1/claim-reviews/{review_id}/images [draft]":    DRAFT,
    "GET /v1/claim-reviews/{review_id}/revisions [published]": OWN,
    "GET /v1/claim-reviews/{review_id}/revisions [draft]": OWN,
    "GET /v1/claim-reviews/{review_id}/revisions/{version} [draft]": OWN,
    "GET /v1/claim-reviews/{review_id}/revisions/{version} [unpublished]": OWN,
    "GET /v1/claim-reviews/{review_id}/embed [published]": PUBLIC,
    "GET /v1/claim-reviews/{review_id}/embed [draft]":     DRAFT,
    "GET /v1/markup [published]":                          PUBLIC,
    "GET /v1/markup [draft]":                              UNPUBLISHED,
    "GET /v1/markup [draft as HTML]":                      UNPUBLISHED,
    "GET /claim-reviews/{review_id} [published]":          PUBLIC,
    "GET /claim-reviews/{review_id} [draft]":              DRAFT,
    "POST /v1/publishers":                                 (403, 403, 403, 403, 201, 401, 401, 401),
    "GET /v1/publishers":                                  ADMIN_ONLY,
    "GET /v1/publishers/{slug}":                           OWN,
    "PATCH /v1/publishers/{slug}":                         ADMIN_ONLY,
    "POST /v1/publishers/{slug}/keys":                     (403, 403, 403, 403, 201, 401, 401, 401),
    "GET /v1/publishers/{slug}/keys":                      ADMIN_ONLY,
    "DELETE /v1/keys/{key_id}":                            (403, 403, 403, 403, 204, 401, 401, 401),
    "DELETE /v1/keys/{key_id} [partner's]":                (403, 403, 403, 403, 204, 401, 401, 401),
    "POST /v1/partners":                                   (403, 403, 403, 403, 201, 401, 401, 401),
    "GET /v1/partners":                                    ADMIN_ONLY,
    "GET /v1/partners/{slug}":                             ADMIN_ONLY,
    "POST /v1/partners/{slug}/keys":                       (403, 403, 403, 403, 201, 401, 401, 401),
    "GET /v1/partners/{slug}/keys":                        ADMIN_ONLY,
    "GET /v1/publishers/{slug}/rating-scale":              OWN,
    "PUT /v1/publishers/{slug}/rating-scale":              ADMIN_ONLY,
    "GET /v1/feed":                                        PUBLIC,
    "GET /v1/export [ndjson]":                             PUBLIC,
    "GET /v1/export [jsonld with tombstones]":             PUBLIC,
    "GET /v1/export [drafts as CSV]":                      OWN_DRAFTS,
    "GET /v1/export [drafts as gzipped NDJSON]":           OWN_DRAFTS,
    # Webhooks take webhooks:manage (write keys hold it, read keys do not; docs/webhooks.md); a key
    # subscribes for its own publisher or partner only.
    "POST /v1/webhooks":                                   (201, 403, 403, 403, 201, 401, 401, 401),
    "GET /v1/webhooks":                                    (200, 403, 200, 200, 200, 401, 401, 401),
    "GET /v1/webhooks/{webhook_id}":                       HOOK,
    "DELETE /v1/webhooks/{webhook_id}":                    (204, 403, 404, 404, 204, 401, 401, 401),
    "GET /v1/webhooks/{webhook_id}/deliveries":            HOOK,
    "POST /v1/validate":                                   OPEN,
    "POST /v1/import":                                     (200, 403, 403, 403, 200, 401, 401, 401),
    "GET /healthz":                                        OPEN,
    "GET /readyz":                                         OPEN,
    "GET /metrics":                                        OPEN,
    "GET /v1/verdicts":                                    OPEN,
    "GET /openapi.json":                                   OPEN,
    "GET /docs":                                           OPEN,
    "GET /docs/oauth2-redirect":                           OPEN,
    "GET /redoc":                                          OPEN,
    # Google's statuses: a write refused by validation is 400; the admin token has no pages.
    "POST /v1alpha1/pages":                                (200, 403, 400, 403, 403, 401, 401, 401),
    "GET /v1alpha1/pages/{page_id} [published]":           PAGE_READ,
    "GET /v1alpha1/pages/{page_id} [draft]":               (404, 403, 404, 403, 403, 401, 401, 401),
    "PUT /v1alpha1/pages/{page_id}":                       PAGE_READ,
    "DELETE /v1alpha1/pages/{page_id}":                    PAGE_READ,
    "GET /v1alpha1/pages":                                 (200, 403, 403, 403, 403, 401, 401, 401),
    "GET /v1alpha1/pages [draft URL]":                     (200, 403, 200, 403, 403, 401, 401, 401),
    # claims:search and claims:imageSearch ignore keys while reads are public (docs/google.md).
    "GET /v1alpha1/claims:search [query]":                 (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /v1alpha1/claims:search [site]":                  (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /v1alpha1/claims:imageSearch":                    (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /v1alpha1/{path:path}":                           GOOGLE_404,
    "POST /v1alpha1/{path:path}":                          GOOGLE_404,
    "PUT /v1alpha1/{path:path}":                           GOOGLE_404,
    "PATCH /v1alpha1/{path:path}":                         GOOGLE_404,
    "DELETE /v1alpha1/{path:path}":                        GOOGLE_404,
}
# fmt: on


def expected_status(case: Case, credential: str) -> int:
    column = "invalid" if credential in INVALID else credential
    return EXPECTED[case.name][COLUMNS.index(column)]


def app_operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app routes, HEAD aside (Starlette answers it like GET)."""
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        for method in context.methods or ()
        if method != "HEAD" and context.path is not None
    }


@pytest.fixture(scope="module")
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    directory: Path = tmp_path_factory.mktemp("isolation")
    settings = Settings(
        database_url=fresh_database_url(request, directory),
        admin_token=ADMIN_TOKEN,
        base_url=BASE_URL,
        outbound_allow_private=True,
        dispatcher_enabled=False,
    )
    private_settings = settings.model_copy(update={"public_reads": False})
    with (
        running_image_server() as images,
        TestClient(create_app(settings), base_url=BASE_URL) as client,
        TestClient(create_app(private_settings), base_url=BASE_URL) as private,
    ):
        yield World(client, private, image_url=images.image("/query.png", seed=1))


def test_every_route_has_expectations(world: World) -> None:
    routed = app_operations(world.client.app)  # type: ignore[arg-type]
    documented = {
        (method.upper(), path)
        for path, operations in world.client.get("/openapi.json").json()["paths"].items()
        for method in operations
    }

    assert documented <= {(method, path.replace(":path", "")) for method, path in routed}
    assert {(case.method, case.route) for case in CASES} == routed
    assert [case.name for case in CASES] == list(EXPECTED)


CELLS = [
    pytest.param(case, credential, id=f"{case.name} | {credential}")
    for case in CASES
    for credential in (*VALID, *INVALID)
]


@pytest.mark.parametrize(("case", "credential"), CELLS)
def test_isolation_matrix(world: World, case: Case, credential: str) -> None:
    call = case.build(world)
    client = world.private if credential == "anonymous-private" else world.client
    response = client.request(
        case.method,
        call.path,
        params=call.params,
        json=call.json,
        content=call.content,
        headers={**call.headers, **world.headers[credential]},
    )

    assert response.status_code == expected_status(case, credential), response.text[:500]
    if 400 <= response.status_code < 500:
        assert_error_shape(call.path, response)
    body = response.text.lower()
    for secret in (SECRET, world.owner_key, world.reader_key, world.other_key, world.partner_key):
        assert secret.lower() not in body
    if credential in OUTSIDERS:
        assert PRIVATE not in body
    if credential == "owner" and case.reveals:
        assert PRIVATE in body
    if PRIVATE in body:  # a shared cache must never hand it to someone else
        assert "public" not in response.headers.get("cache-control", "")


def assert_error_shape(path: str, response: Any) -> None:
    """problem+json, or Google's error object under /v1alpha1; 401 says how to authenticate."""
    if path.startswith("/v1alpha1/"):
        error = response.json()["error"]
        assert error["code"] == response.status_code
        assert error["status"] and error["message"]
        return
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["title"] and problem["detail"]
    if response.status_code == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_idempotency_keys_are_not_shared_between_publishers(world: World) -> None:
    """B resending A's request under A's Idempotency-Key gets a review of its own, never A's
    stored answer (which shows A's draft)."""
    body = seed_review(status="draft", url=world.url(), external_id=None) | _private_fields()
    shared = {"Idempotency-Key": "the-same-key"}

    first = world.client.post(
        "/v1/claim-reviews", json=body, headers=bearer(world.owner_key) | shared
    )
    second = world.client.post(
        "/v1/claim-reviews", json=body, headers=bearer(world.other_key) | shared
    )

    assert first.status_code == second.status_code == 201, second.text
    assert "idempotent-replayed" not in second.headers
    assert second.json()["publisher"] == "beta"
    assert second.json()["id"] != first.json()["id"]
