"""SEO embedding over HTTP: the embed snippet, article markup and the public page (§8 Embedding),
and hostile text that must stay text in every one of them (§5)."""

import re
from typing import Any

import extruct
import orjson
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import BASE_URL, bearer, create_review, make_key, make_publisher, seed_review

ARTICLE = "https://www.polygraph.info/a/fact-check-roundup.html"
SCRIPT_OPEN = b'<script type="application/ld+json">'

# Each line tries another way out of a <script> element or an HTML attribute; the browser test
# (tests/system/test_browser.py) checks that none of them runs.
HOSTILE_CLAIM = (
    "Minister said </script><script>window.pwned=1</script> & <!-- <script>alert(1)</script>"
    " \"quoted\" 'single' a\u2028b\u2029c"
)
HOSTILE_HEADLINE = '</SCRIPT><img src=x onerror="window.pwned=1"> & \'Tom\' "Jerry" <!--'
HOSTILE_EXPLANATION = "--> <script>window.pwned=1</script>\u2028</script ><b>bold</b> &amp; done"
HOSTILE_CLAIMANT = "\"><svg onload=alert(1)> O'Brien & Co"


def hostile_review(**changes: Any) -> dict[str, Any]:
    review = seed_review(headline=HOSTILE_HEADLINE, claim_reviewed=HOSTILE_CLAIM)
    review["rating"] = {**review["rating"], "explanation": HOSTILE_EXPLANATION}
    review["claim"]["author"]["name"] = HOSTILE_CLAIMANT
    return {**review, **changes}


def post_review(client: TestClient, headers: dict[str, str], review: dict[str, Any]) -> str:
    response = client.post("/v1/claim-reviews", json=review, headers=headers)
    assert response.status_code == 201, response.text
    review_id: str = response.json()["id"]
    return review_id


def jsonld_of(client: TestClient, review_id: str) -> Any:
    response = client.get(f"/v1/claim-reviews/{review_id}.jsonld")
    assert response.status_code == 200
    return orjson.loads(response.content)


def script_contents(html: bytes) -> list[bytes]:
    return re.findall(rb'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL)


def extracted(html: bytes) -> list[Any]:
    items: list[Any] = extruct.extract(html.decode(), syntaxes=["json-ld"])["json-ld"]
    return items


# Embed ---------------------------------------------------------------------------------------


def test_embed_is_one_script_block_of_the_stored_jsonld(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"

    response = client.get(path + "/embed")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    stored = client.get(path + ".jsonld").content
    assert response.content == SCRIPT_OPEN + stored + b"</script>"
    assert extracted(response.content) == [orjson.loads(stored)]


def test_embed_is_public_cacheable_and_answers_304(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"

    response = client.get(path + "/embed")

    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["last-modified"]
    tag = response.headers["etag"]
    assert tag == f'"{created["id"]}.1-embed"'
    assert tag != client.get(path + ".jsonld").headers["etag"]
    again = client.get(path + "/embed", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    client.patch(path, json={"headline": "Edited"}, headers=writer)
    changed = client.get(path + "/embed", headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] == f'"{created["id"]}.2-embed"'


def test_embed_of_a_draft_is_404_except_for_its_publisher(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = create_review(client, writer, status="draft")
    path = f"/v1/claim-reviews/{created['id']}/embed"

    anonymous = client.get(path)
    owner = client.get(path, headers=writer)

    assert anonymous.status_code == 404
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert owner.status_code == 200
    assert owner.headers["cache-control"] == "private, no-cache"


def test_embed_of_a_retracted_review_is_410(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"
    assert client.delete(path, headers=writer).status_code == 204

    response = client.get(path + "/embed")

    assert response.status_code == 410
    assert response.headers["content-type"] == "application/problem+json"


def test_embed_of_an_unknown_id_is_404(client: TestClient) -> None:
    response = client.get("/v1/claim-reviews/no-such-review/embed")

    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_jsonld_and_native_reads_allow_any_origin(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = create_review(client, writer)
    path = f"/v1/claim-reviews/{created['id']}"

    for url in (path, path + ".jsonld", path + "/embed", f"/claim-reviews/{created['id']}"):
        response = client.get(url, headers={"Origin": "https://partner.example"})
        assert response.headers["access-control-allow-origin"] == "*", url


# Markup --------------------------------------------------------------------------------------


def three_reviews_of_one_article(client: TestClient, writer: dict[str, str]) -> list[str]:
    """An article with reviews at its URL, #second and #third (published in that order), a
    draft of it, and a review of another article."""
    ids = [
        post_review(client, writer, seed_review(url=ARTICLE, date_published="2024-01-28")),
        post_review(client, writer, seed_review(url=ARTICLE + "#second", external_id="second")),
        post_review(client, writer, seed_review(url=ARTICLE + "#third", external_id="third")),
    ]
    post_review(client, writer, seed_review(url=ARTICLE + "#d", external_id="d", status="draft"))
    post_review(client, writer, seed_review(external_id="elsewhere"))
    return ids


def test_markup_lists_every_published_review_of_the_article_in_publication_order(
    client: TestClient, writer: dict[str, str]
) -> None:
    ids = three_reviews_of_one_article(client, writer)

    response = client.get("/v1/markup", params={"url": ARTICLE + "#any-anchor"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert response.json() == [jsonld_of(client, review_id) for review_id in ids]


def test_markup_of_one_review_is_still_an_array_in_mode_all(
    client: TestClient, writer: dict[str, str]
) -> None:
    review_id = post_review(client, writer, seed_review(url=ARTICLE))

    response = client.get("/v1/markup", params={"url": ARTICLE})

    assert response.json() == [jsonld_of(client, review_id)]


def test_markup_html_is_the_embed_of_each_review(
    client: TestClient, writer: dict[str, str]
) -> None:
    ids = three_reviews_of_one_article(client, writer)

    response = client.get("/v1/markup", params={"url": ARTICLE, "format": "html"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    embeds = [client.get(f"/v1/claim-reviews/{review_id}/embed").content for review_id in ids]
    assert response.content == b"\n".join(embeds)
    assert extracted(response.content) == [jsonld_of(client, review_id) for review_id in ids]


def test_markup_single_prefers_the_review_without_an_anchor(
    client: TestClient, writer: dict[str, str]
) -> None:
    ids = three_reviews_of_one_article(client, writer)
    # The anchored one is now the most recently modified, and still loses.
    client.patch(f"/v1/claim-reviews/{ids[2]}", json={"headline": "Edited"}, headers=writer)

    as_jsonld = client.get("/v1/markup", params={"url": ARTICLE, "mode": "single"})
    as_html = client.get("/v1/markup", params={"url": ARTICLE, "mode": "single", "format": "html"})

    assert as_jsonld.content == client.get(f"/v1/claim-reviews/{ids[0]}.jsonld").content
    assert as_html.content == client.get(f"/v1/claim-reviews/{ids[0]}/embed").content


def test_markup_single_otherwise_picks_the_most_recently_modified(
    client: TestClient, writer: dict[str, str]
) -> None:
    ids = three_reviews_of_one_article(client, writer)
    client.delete(f"/v1/claim-reviews/{ids[0]}", headers=writer)
    client.patch(f"/v1/claim-reviews/{ids[1]}", json={"headline": "Edited"}, headers=writer)

    response = client.get("/v1/markup", params={"url": ARTICLE, "mode": "single"})

    assert response.json() == jsonld_of(client, ids[1])


def test_markup_is_public_cacheable_and_answers_304(
    client: TestClient, writer: dict[str, str]
) -> None:
    ids = three_reviews_of_one_article(client, writer)
    params = {"url": ARTICLE}

    response = client.get("/v1/markup", params=params)

    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["access-control-allow-origin"] == "*"
    tag = response.headers["etag"]
    again = client.get("/v1/markup", params=params, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.headers["etag"] == tag
    html_tag = client.get("/v1/markup", params={**params, "format": "html"}).headers["etag"]
    assert html_tag != tag
    client.patch(f"/v1/claim-reviews/{ids[1]}", json={"headline": "Edited"}, headers=writer)
    changed = client.get("/v1/markup", params=params, headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag


def test_markup_of_an_article_without_published_reviews_is_404(
    client: TestClient, writer: dict[str, str]
) -> None:
    post_review(client, writer, seed_review(url=ARTICLE + "#draft", status="draft"))
    retracted = post_review(client, writer, seed_review(url=ARTICLE, external_id="gone"))
    client.delete(f"/v1/claim-reviews/{retracted}", headers=writer)

    response = client.get("/v1/markup", params={"url": ARTICLE})

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"No published claim review of the article '{ARTICLE}'."


def test_markup_refuses_a_url_that_is_not_http(client: TestClient) -> None:
    for url in ("javascript:alert(1)", "not a url", "ftp://example.org/a"):
        response = client.get("/v1/markup", params={"url": url})
        assert response.status_code == 422, url
        assert response.json()["errors"][0]["path"] == "url"
    assert client.get("/v1/markup").status_code == 422
    assert client.get("/v1/markup", params={"url": ARTICLE, "mode": "one"}).status_code == 422


def test_markup_needs_a_key_when_public_reads_are_off(
    client: TestClient, writer: dict[str, str], settings: Settings
) -> None:
    post_review(client, writer, seed_review(url=ARTICLE))
    reader = bearer(make_key(client, "polygraph", "reviews:read"))
    private = settings.model_copy(update={"public_reads": False})

    with TestClient(create_app(private), base_url=BASE_URL) as closed:
        anonymous = closed.get("/v1/markup", params={"url": ARTICLE})
        with_key = closed.get("/v1/markup", params={"url": ARTICLE}, headers=reader)
        bad_key = closed.get("/v1/markup", params={"url": ARTICLE}, headers=bearer("nope"))

    assert anonymous.status_code == 401
    assert with_key.status_code == 200
    assert with_key.headers["cache-control"] == "private, no-cache"
    assert bad_key.status_code == 401


# The public page -----------------------------------------------------------------------------


def test_page_is_a_fact_check_card_with_its_jsonld(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = create_review(client, writer)

    response = client.get(f"/claim-reviews/{created['id']}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert html.startswith("<!doctype html>")
    assert '<html lang="en" dir="ltr">' in html
    for landmark in ("<header", "<main>", "<article", "</article>", "</main>"):
        assert landmark in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    for text in (
        "Russia Falsely Denies Arms Deal with North Korea in Violation of UN Embargo</h1>",
        "<blockquote>Russia is not carrying out military-technical cooperation",
        "<strong>Maria Zakharova</strong>, Spokeswoman, Russian Ministry of Foreign Affairs",
        '<time datetime="2024-01-26">26 January 2024</time>',
        '<p class="label">False</p>',
        'Normalised verdict: <span class="badge v-false">False</span>',
        "South Korea, the United States and 50 countries say",
        '<time datetime="2024-01-30">30 January 2024</time>',
        f'<a class="read" href="{created["url"]}"',
        '<a class="name" href="https://www.polygraph.info/">Polygraph.info</a>',
        'href="https://mid.ru/en/press_service/spokesman/briefings/" rel="nofollow ugc noopener"',
        '<dt lang="en">Language</dt>\n    <dd><code>en</code></dd>',
    ):
        assert text in html, text
    assert html.count("<script") == 1
    assert extracted(response.content) == [jsonld_of(client, created["id"])]


def test_page_sends_a_strict_content_security_policy(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = create_review(client, writer)

    headers = client.get(f"/claim-reviews/{created['id']}").headers

    policy = [part.strip() for part in headers["content-security-policy"].split(";")]
    assert "default-src 'none'" in policy
    assert "style-src 'unsafe-inline'" in policy
    assert not any(part.startswith("script-src") for part in policy)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_page_shows_language_logo_rating_image_and_corrections(
    client: TestClient,
) -> None:
    logo = "https://www.polygraph.info/logo.png"
    make_publisher(client, logo=logo)
    writer = bearer(make_key(client, "polygraph", "reviews:write"))
    review = seed_review(language="pt-BR")
    review["rating"] = {**review["rating"], "image": "https://www.polygraph.info/false.png"}
    review_id = post_review(client, writer, review)
    path = f"/v1/claim-reviews/{review_id}"
    client.post(
        path + "/corrections", json={"text": "Fixed a date.", "date": "2024-02-01"}, headers=writer
    )

    html = client.get(f"/claim-reviews/{review_id}").text

    assert '<html lang="pt-BR" dir="ltr">' in html
    assert f'<img src="{logo}" alt="">' in html
    assert '<img src="https://www.polygraph.info/false.png" alt="">' in html
    assert '<time datetime="2024-02-01">1 February 2024</time>: Fixed a date.</li>' in html
    assert extracted(html.encode()) == [jsonld_of(client, review_id)]


def test_page_is_right_to_left_for_arabic(client: TestClient, writer: dict[str, str]) -> None:
    review_id = post_review(client, writer, seed_review(language="ar"))

    html = client.get(f"/claim-reviews/{review_id}").text

    assert '<html lang="ar" dir="rtl">' in html


def test_page_is_cacheable_and_answers_304(client: TestClient, writer: dict[str, str]) -> None:
    created = create_review(client, writer)
    path = f"/claim-reviews/{created['id']}"

    response = client.get(path)

    assert response.headers["cache-control"] == "public, max-age=60"
    tag = response.headers["etag"]
    assert tag.startswith(f'"{created["id"]}.1-html.')
    again = client.get(path, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.headers["content-security-policy"]


def test_page_of_a_draft_is_404_and_of_a_retracted_review_410(
    client: TestClient, writer: dict[str, str]
) -> None:
    draft = create_review(client, writer, status="draft")
    retracted = create_review(client, writer, external_id="retracted")
    client.delete(f"/v1/claim-reviews/{retracted['id']}", headers=writer)

    assert client.get(f"/claim-reviews/{draft['id']}").status_code == 404
    gone = client.get(f"/claim-reviews/{retracted['id']}")
    assert gone.status_code == 410
    assert gone.headers["content-type"] == "application/problem+json"


# Hostile text --------------------------------------------------------------------------------


def assert_blocks_safe(html: bytes, blocks: int) -> None:
    assert html.lower().count(b"</script") == blocks
    assert html.count(SCRIPT_OPEN) == blocks
    for content in script_contents(html):
        for raw in (b"<", b">", "\u2028".encode(), "\u2029".encode()):
            assert raw not in content


def test_hostile_text_survives_the_embed(client: TestClient, writer: dict[str, str]) -> None:
    review_id = post_review(client, writer, hostile_review())
    stored = jsonld_of(client, review_id)
    assert stored["claimReviewed"] == HOSTILE_CLAIM

    embed = client.get(f"/v1/claim-reviews/{review_id}/embed").content

    assert_blocks_safe(embed, 1)
    assert orjson.loads(script_contents(embed)[0]) == stored
    assert extracted(embed) == [stored]


def test_hostile_text_survives_the_markup(client: TestClient, writer: dict[str, str]) -> None:
    first = post_review(client, writer, hostile_review(url=ARTICLE))
    second = post_review(client, writer, hostile_review(url=ARTICLE + "#2", external_id="2"))

    html = client.get("/v1/markup", params={"url": ARTICLE, "format": "html"}).content
    as_jsonld = client.get("/v1/markup", params={"url": ARTICLE}).json()

    assert_blocks_safe(html, 2)
    expected = [jsonld_of(client, first), jsonld_of(client, second)]
    assert extracted(html) == expected
    assert as_jsonld == expected


def test_hostile_text_is_escaped_text_on_the_page(
    client: TestClient, writer: dict[str, str]
) -> None:
    review_id = post_review(client, writer, hostile_review())

    page = client.get(f"/claim-reviews/{review_id}").content
    html = page.decode()

    assert_blocks_safe(page, 1)
    assert html.count("<script") == 1
    for raw in ("<script>alert(1)</script>", "<svg", "<img src=x", "<b>bold</b>", "<!-- <"):
        assert raw not in html
    for escaped in (
        "Minister said &lt;/script&gt;&lt;script&gt;window.pwned=1&lt;/script&gt; &amp; "
        "&lt;!-- &lt;script&gt;alert(1)&lt;/script&gt; &#34;quoted&#34; &#39;single&#39;",
        "&lt;/SCRIPT&gt;&lt;img src=x onerror=&#34;window.pwned=1&#34;&gt; &amp; &#39;Tom&#39;",
        "--&gt; &lt;script&gt;window.pwned=1&lt;/script&gt;",
        "&lt;b&gt;bold&lt;/b&gt; &amp;amp; done",
        "<strong>&#34;&gt;&lt;svg onload=alert(1)&gt; O&#39;Brien &amp; Co</strong>",
        '<meta name="description" content="Minister said &lt;/script&gt;',
    ):
        assert escaped in html, escaped
    assert extracted(page) == [jsonld_of(client, review_id)]


# OpenAPI -------------------------------------------------------------------------------------


def test_openapi_describes_the_embedding_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    embed = paths["/v1/claim-reviews/{review_id}/embed"]["get"]["responses"]
    markup = paths["/v1/markup"]["get"]
    page = paths["/claim-reviews/{review_id}"]["get"]["responses"]

    assert "text/html" in embed["200"]["content"]
    assert "application/problem+json" in embed["410"]["content"]
    assert set(markup["responses"]["200"]["content"]) == {"application/ld+json", "text/html"}
    assert {parameter["name"] for parameter in markup["parameters"]} == {"url", "format", "mode"}
    assert "text/html" in page["200"]["content"]
