"""The publisher an aggregator's import creates for a ClaimReview whose author matches none
(``POST /v1/import?create_publishers=true``, ``claimreview import --create-publishers``).

It is the fact-checking organisation that wrote the review: ``name`` and ``url`` are the
author's, its one domain is the registrable domain of the review's ``url`` (``app.core.domains``),
and its slug is the name made into a slug, numbered when taken. The author is the review's first
``author`` that is not a Person (a journalist is not the organisation); a review with none, or a
nameless one, is named after that domain, and one whose author has no usable URL takes the
review site's address.
"""

import html
import re
import unicodedata
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from app.core import domains
from app.db.tables import Publisher, PublisherCreate
from app.services import accounts

_SLUG_LENGTH = 64
_NAME_LENGTH = 500
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def review_domain(node: dict[str, Any]) -> str | None:
    """The registrable domain of a ClaimReview's (first) http(s) ``url``."""
    host = _http_host(_first(node.get("url")))
    return domains.registrable_domain(host) if host else None


def for_review(node: dict[str, Any], *, taken: Collection[str]) -> Publisher | None:
    """A new publisher (not yet stored) for a ClaimReview's author; None when the review has no
    http(s) url to place it on, or its domain is no valid host name."""
    review_url = _first(node.get("url"))
    host = _http_host(review_url)
    if host is None:
        return None
    domain = domains.registrable_domain(host)
    author = _organisation(node.get("author"))
    name = _text(author.get("name")) or domain
    url = _first(author.get("url"))
    if _http_host(url) is None:
        url = f"{urlsplit(review_url.strip()).scheme.lower()}://{host}/"
    try:
        incoming = PublisherCreate(
            slug=slug_for(name, domain, taken),
            name=name[:_NAME_LENGTH],
            url=url,
            domains=[domain],
        )
    except ValidationError:
        return None
    return accounts.new_publisher(incoming)


def slug_for(name: str, domain: str, taken: Collection[str]) -> str:
    """A free slug for a publisher: from its name, else its domain."""
    return unique_slug(slugify(name) or slugify(domain) or "publisher", taken)


def slugify(text: str) -> str:
    """Lower-case ASCII letters and digits joined by hyphens: "Agência Lupa" -> "agencia-lupa"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")[:_SLUG_LENGTH].rstrip("-")


def unique_slug(base: str, taken: Collection[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... (shortened to fit) when taken."""
    if base not in taken:
        return base
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = base[: _SLUG_LENGTH - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
        number += 1


def _organisation(raw: Any) -> dict[str, Any]:
    """The first author that is not a Person (a plain string is a name)."""
    for author in raw if isinstance(raw, list) else [raw]:
        if isinstance(author, str):
            return {"name": author}
        if isinstance(author, dict) and not _is_person(author.get("@type")):
            return author
    return {}


def _is_person(types: Any) -> bool:
    """``Person`` however the markup spells it: ``person``, ``schema:Person``, an IRI."""
    names = types if isinstance(types, list) else [types]
    return any(
        isinstance(name, str) and re.split(r"[/:#]", name)[-1].casefold() == "person"
        for name in names
    )


def _text(raw: Any) -> str:
    value = _first(raw)
    return " ".join(html.unescape(value).split()) if isinstance(value, str) else ""


def _first(raw: Any) -> Any:
    return raw[0] if isinstance(raw, list) and raw else raw


def _http_host(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return domains.clean(host)
