"""Hostile text in a real browser (§5, issue 5 item 3).

Debian's headless Chromium, driven by Playwright's Python package through its own
``executable_path`` (no browser download), loads from a real uvicorn:

- the public page of a review whose claim, headline, explanation and claimant try to break out;
- a partner's page on another origin that pastes the review's ``/embed`` snippet into its HTML,
  as a CMS template would, and one that pastes the article's ``/v1/markup?format=html``.

In each it reads the JSON-LD the way a consumer does and compares it with ``GET .jsonld``, and
checks that nothing the hostile text carries ran: no dialog, no ``window.pwned``, no element
injected, no script blocked by the page's CSP (a blocked script would mean markup got through).

No skip: CI installs Chromium (.ci/run), so a browser that cannot start fails the test.
"""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.api.v1.test_embedding import (
    ARTICLE,
    HOSTILE_CLAIM,
    HOSTILE_CLAIMANT,
    HOSTILE_HEADLINE,
    hostile_review,
    post_review,
)

CHROMIUM = "/usr/bin/chromium"
# Root in a container: no sandbox. Playwright adds --headless and gives the persistent
# context the fresh --user-data-dir below.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READ_BLOCKS = """() => Array.from(
    document.querySelectorAll('script[type="application/ld+json"]'),
    (element) => JSON.parse(element.textContent))"""
# Runs before any page script and is not subject to the page's CSP.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (event) => window.__violations.push(event.violatedDirective));
"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's package (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "profile"),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                timeout=30_000,
            )
        except PlaywrightError as error:
            pytest.fail(f"Chromium ({CHROMIUM}) could not start: {error}")
        context.add_init_script(WATCH)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def partner_site() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A page server on another origin (another port): path -> HTML to serve."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            """Quiet: the test reads the browser, not the server's log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


def partner_page(snippet: bytes) -> bytes:
    return (
        b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Partner</title>'
        + snippet
        + b"</head><body><h1>A partner's article</h1></body></html>"
    )


def open_and_check(browser: BrowserContext, url: str) -> Page:
    """Load a page and check that no script the hostile text carries ran or tried to."""
    dialogs: list[str] = []
    page = browser.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    assert page.evaluate("typeof window.pwned") == "undefined", url
    assert dialogs == [], url
    assert page.evaluate("window.__violations") == [], url
    assert page.evaluate("document.querySelectorAll('script').length") == page.evaluate(
        "document.querySelectorAll('script[type=\"application/ld+json\"]').length"
    )
    assert page.evaluate("document.querySelectorAll('svg, img, iframe').length") == 0, url
    return page


def test_hostile_text_stays_text_in_chromium(
    client: TestClient,
    writer: dict[str, str],
    live_server: str,
    browser: BrowserContext,
    partner_site: tuple[str, dict[str, bytes]],
) -> None:
    first = post_review(client, writer, hostile_review(url=ARTICLE))
    second = post_review(client, writer, hostile_review(url=ARTICLE + "#2", external_id="2"))
    api = httpx.Client(base_url=live_server)
    expected = [api.get(f"/v1/claim-reviews/{i}.jsonld").json() for i in (first, second)]
    partner, pages = partner_site
    pages["/embed.html"] = partner_page(api.get(f"/v1/claim-reviews/{first}/embed").content)
    markup = api.get("/v1/markup", params={"url": ARTICLE, "format": "html"})
    pages["/markup.html"] = partner_page(markup.content)
    api.close()

    card = open_and_check(browser, f"{live_server}/claim-reviews/{first}")
    assert card.evaluate(READ_BLOCKS) == [expected[0]]
    assert card.text_content("blockquote") == HOSTILE_CLAIM
    assert card.text_content("h1") == HOSTILE_HEADLINE
    assert card.text_content(".claimant strong") == HOSTILE_CLAIMANT
    assert card.evaluate("document.documentElement.lang") == "en"

    embedded = open_and_check(browser, f"{partner}/embed.html")
    assert embedded.evaluate(READ_BLOCKS) == [expected[0]]
    assert embedded.text_content("h1") == "A partner's article"
    # The partner's script can also fetch the JSON-LD across origins (CORS).
    fetched = embedded.evaluate(
        "(url) => fetch(url).then((response) => response.json())",
        f"{live_server}/v1/claim-reviews/{first}.jsonld",
    )
    assert fetched == expected[0]

    article = open_and_check(browser, f"{partner}/markup.html")
    assert article.evaluate(READ_BLOCKS) == expected
