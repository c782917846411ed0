"""Lenient in: repair ClaimReview and MediaReview markup as fact-checkers publish it.

Every door that takes markup from outside (``application/ld+json`` writes, ``/v1/import`` and
``claimreview import``, ``/v1/validate``) passes each ClaimReview node through `claim_review`
before anything else reads it. It repairs what has one sensible reading and says so in a warning
finding (profile ``repair``) whose path points at the value as it was sent; it refuses (an error
finding) only a review that lacks what a ClaimReview cannot do without: the claim, the article
URL, and a rating that says something. What it returns is ordinary, tidy JSON-LD, which the
validator, `core.reader` and the native model then read as strictly as ever: the service
emits exactly what it emitted before.

Repair codes (W warning, E error), each with the shape that triggers it:

    empty-value W         ``""``, ``[]``, ``{}`` or null: treated as absent
    type-repaired W       ``"claimReview"``, ``"http://schema.org/ClaimReview"``
    context-repaired W    a ClaimReview with no schema.org ``@context`` (or another one)
    property-repaired W   ``"ClaimReviewed"``, ``"itemprop"`` spelt in another case
    reference-resolved W  ``{"@id": "https://site/#organization"}`` read from the node elsewhere
    multiple-values W     ``"claimReviewed": ["a", "b"]`` where one text belongs: the first kept
    text-repaired W       ``&#039;``, ``&quot;``, ``<b>`` tags in text: decoded, stripped
    not-text W            ``"ratingExplanation": 5``: dropped
    number-repaired W     ``"ratingValue": " 4.5 "``: read as the number
    not-a-number W        ``"bestRating": "five"``: dropped
    date-repaired W       ``2020-06-23 20:02``, ``+5:30``, ``2020-06-23Z``: read (rule below)
    date-unreadable W     ``"datePublished": "last week"``: dropped
    url-resolved W        ``/author/x``, ``aosfatos.org/noticias/…``, ``//cdn…``: made absolute
    url-dropped W         ``""``, ``"#"``, ``"N/A"``, ``javascript:…`` in an optional URL: dropped
    language-repaired W   ``en_US``, ``EN``, ``English``, ``Português``: the BCP 47 tag
    language-unreadable W ``"inLanguage": "Klingon"``: dropped
    author-chosen W       ``author`` as an array: the Organization kept, the others as creators
    author-is-person W    a journalist as ``author``: kept as a fact-checker (``creator``)
    claim-typed W         ``itemReviewed`` untyped or a CreativeWork: read as the Claim
    rating-repaired W     a rating as plain text, or its label in ``name``
    rating-scale-default W a ratingValue without bestRating/worstRating: Google's 5 and 1
    rating-scale-dropped W a degenerate, reversed or impossible scale: the numbers dropped,
                          the textual rating kept
    rating-label-derived W a rating with a number on a usable scale and no label: the label
                          named by the number's place on the scale ("Mostly false")
    language-from-page W  no inLanguage: the page's ``<html lang>`` taken
    language-from-publisher W  no language anywhere in the markup: the publisher's taken
    language-detected W   no language anywhere, publisher's included: detected from the claim
                          text (``language_source: "detected"`` on the review)
    media-item-typed W    a MediaReview's itemReviewed given as the ImageObject (VideoObject,
                          AudioObject) itself, as Google's Fact Check Markup Tool writes it, or
                          untyped: read as a MediaReviewItem with that one appearance
    media-typed W         ``VideoObjectSnapshot``, ``Photograph``, ``Clip``: the media type
    media-dropped W       an appearance that is no image, video or audio: left out
    media-author-moved W  the MediaReviewItem's author or creator: read as the author of each
                          appearance that names none (authorship applies to the items)
    authenticity-repaired W  ``["TransformedContent"]``, ``schema:StagedContent``,
                          ``DecontexualizedContent``, the 2020 pilot's ``Transformed`` or
                          ``Original, Missing Context``: the one category, spelt right
    not-media-property W  claimReviewed on a MediaReview (a ClaimReview's): left out
    missing-claim E       no claimReviewed text (a ClaimReview)
    missing-url E         no article url that resolves to http(s)
    missing-rating E      no textual rating and no number on a usable scale (a ClaimReview);
                          no mediaAuthenticityCategory and no textual rating (a MediaReview)

Dates: a date-time without a zone is read in the publisher's ``time_zone`` when it has one, else
in UTC (``2020-06-23 20:02`` is ``2020-06-23T18:02:00Z`` for a publisher in Europe/Paris, and
``2020-06-23T20:02:00Z`` for one without a time zone); an offset missing its padding
(``+5:30``) is padded; a ``Z`` after a bare date is dropped. URLs resolve against the page's
address: the ``page_url`` the caller gave, else (for HTML) the page's ``<base href>`` or
canonical link, else the ClaimReview's own ``url``, else its author's (the publisher's) ``url``.
"""

import difflib
import html
import itertools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from app.core import languages, verdicts
from app.core.document import format_timestamp, many
from app.core.pointers import json_pointer
from app.core.validation import (
    MEDIA_AUTHENTICITY,
    Finding,
    canonical_property,
    local_term,
    type_name,
    type_names,
)

PROFILE = "repair"
CONTEXT = "https://schema.org"
_MAX_DEPTH = 32

_TEXT = frozenset(
    {
        "claimReviewed",
        "headline",
        "name",
        "alternateName",
        "ratingExplanation",
        "jobTitle",
        "text",
        "description",
        "alternativeHeadline",
    }
)
_DATES = frozenset({"datePublished", "dateCreated", "dateModified", "uploadDate"})
# Lists that stay lists when one item is left: keywords as one string are read as
# comma-separated, so ["a, b"] made "a, b" would become two tags and [","] none.
_LISTS = frozenset({"keywords"})
# Numbers the service reads; other numeric properties (an image's width) are passed on as sent.
_NUMBERS = frozenset({"ratingValue", "bestRating", "worstRating"})
_URLS = frozenset(
    {"url", "sameAs", "archivedAt", "contentUrl", "embedUrl", "thumbnailUrl", "logo", "image"}
)
_CONTEXTS = frozenset(
    {"https://schema.org", "https://schema.org/", "http://schema.org", "http://schema.org/"}
)
_JUNK_URLS = frozenset({"#", "n/a", "na", "none", "null", "undefined", "-", "/", "about:blank"})
_SCHEMELESS = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}(?::\d+)?(?:[/?#].*)?$", re.I
)
_INTEGER = re.compile(r"[+-]?\d+")
# An absolute http(s) URL with a plain host name and nothing to encode.
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?"
    r"(?:[/?#][^\s\"<>`{}|^\\\[\]]*)?"
)
_URL_BREAKS = re.compile(r"[\t\n\r]")
_URL_UNSAFE = re.compile(r'[ "<>`{}|^]')
_TAG = re.compile(r"<[A-Za-z/!][^<>]*>")
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")
_LOOSE_DATE = re.compile(
    r"(?P<date>\d{4}-\d{1,2}-\d{1,2})"
    r"(?:[T ]+(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?))?"
    r"\s*(?P<zone>Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?)?",
    re.I,
)
_ZONED = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})"
)
# Google's documented defaults for a Rating's scale (developers.google.com, ClaimReview).
DEFAULT_BEST, DEFAULT_WORST = 5, 1
_ORGANIZATION_TYPES = frozenset({"Organization", "NewsMediaOrganization", "Corporation", "NGO"})


@dataclass(slots=True)
class Normalised:
    """A ClaimReview node repaired (None when refused), and the findings that say how.

    ``origins`` maps (by ``id``) each object of ``node`` that was read from another node of
    the input, through an ``@id`` reference, to that node's pointer: ``pointer`` uses it to
    point a finding on the repaired node at the value as it was sent."""

    node: dict[str, Any] | None
    findings: list[Finding]
    origins: dict[int, str] = field(default_factory=dict)

    def pointer(self, path: str, *, base: str) -> str:
        """The pointer into the input of ``path``, a JSON pointer into ``node`` (whose own
        place in the input is ``base``)."""
        if not self.origins or not path:
            return base + path
        parts = path.split("/")[1:]
        current: Any = self.node
        start = 0
        for index, part in enumerate(parts):
            key = part.replace("~1", "/").replace("~0", "~")
            if isinstance(current, dict):
                current = current.get(key)
            elif isinstance(current, list) and key.isdigit() and int(key) < len(current):
                current = current[int(key)]
            else:
                break
            if id(current) in self.origins:
                base, start = self.origins[id(current)], index + 1
        return base + "".join("/" + part for part in parts[start:])


@dataclass(slots=True)
class _Walk:
    """One node's repair: the findings so far, the references it may follow, the base URL."""

    references: Mapping[str, tuple[str, Any]]
    base_url: str | None
    literals_are_text: bool
    root: tuple[str, dict[str, Any]]
    findings: list[Finding] = field(default_factory=list)
    _inside: dict[str, tuple[str, Any]] | None = None
    resolved: set[str] = field(default_factory=set)
    origins: dict[int, str] = field(default_factory=dict)

    def inside(self) -> dict[str, tuple[str, Any]]:
        """The ClaimReview's own nodes by @id, indexed on the first reference that needs it."""
        if self._inside is None:
            self._inside = identified(self.root[1], self.root[0])
        return self._inside

    def warn(self, pointer: str, code: str, message: str) -> None:
        self.findings.append(Finding("warning", PROFILE, pointer, code, message))

    def refuse(self, pointer: str, code: str, message: str) -> None:
        self.findings.append(Finding("error", PROFILE, pointer, code, message))


REVIEW_TYPES = frozenset({"ClaimReview", "MediaReview"})
_MEDIA_TYPES = frozenset({"ImageObject", "VideoObject", "AudioObject"})
# schema.org subtypes of a MediaObject read as the media type they are.
_MEDIA_SUBTYPES = {"Photograph": "ImageObject", "Barcode": "ImageObject", "Clip": "VideoObject"}


def is_review(node: Any) -> bool:
    """Whether a JSON object is a ClaimReview or a MediaReview, however its ``@type`` is spelt."""
    return isinstance(node, dict) and not REVIEW_TYPES.isdisjoint(type_names(node.get("@type")))


def reference_ids(value: Any, *, depth: int = 0) -> set[str]:
    """Every ``@id`` a node refers to with a reference-only object (``{"@id": ...}``)."""
    found: set[str] = set()
    if depth > _MAX_DEPTH:
        return found
    if isinstance(value, dict):
        if _is_reference(value):
            found.add(value["@id"].strip())
        for item in value.values():
            found |= reference_ids(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            found |= reference_ids(item, depth=depth + 1)
    return found


def claim_review(
    node: dict[str, Any],
    *,
    pointer: str = "",
    references: Mapping[str, tuple[str, Any]] | None = None,
    page_url: str | None = None,
    page_language: str | None = None,
    literals_are_text: bool = False,
) -> Normalised:
    """Repair one ClaimReview (or MediaReview) node; ``pointer`` is where it sits in the input.

    ``literals_are_text`` for microdata and RDFa, which have no numbers: their numeric strings
    are read as numbers without a warning.

    ``references`` maps the ``@id`` of other nodes of the same document (or page) to their
    pointer and node, so that ``{"@id": ...}`` references are read from them. ``page_language``
    is the page's ``lang``, used when the markup names no language.
    """
    walk = _Walk(references or {}, page_url or _own_base(node), literals_are_text, (pointer, node))
    repaired = dict(_node(walk, node, pointer, depth=0))  # changed below, never the input
    _context(walk, node, repaired, pointer)
    _authors(walk, repaired, pointer)
    media = "MediaReview" in type_names(repaired.get("@type"))
    if media:
        _media_review(walk, repaired, pointer)
    else:
        _item_reviewed(walk, repaired, pointer)
    _rating(walk, repaired, pointer)
    _language(walk, repaired, pointer, page_language)
    _essentials(walk, repaired, pointer, media=media)
    if any(finding.severity == "error" for finding in walk.findings):
        return Normalised(None, walk.findings)
    return Normalised(repaired, walk.findings, walk.origins)


def identified(document: Any, pointer: str = "") -> dict[str, tuple[str, Any]]:
    """Every node of a document that has an ``@id`` and says more than it, by that ``@id``
    (the first when two share one), with its pointer (the document's own is ``pointer``)."""
    found: dict[str, tuple[str, Any]] = {}
    todo: list[tuple[str, Any, int]] = [(pointer, document, 0)]
    while todo:
        here, value, depth = todo.pop()
        if depth > _MAX_DEPTH:
            continue
        children: Iterable[tuple[Any, Any]]
        if isinstance(value, dict):
            reference = value.get("@id")
            if isinstance(reference, str) and value.keys() - {"@id", "@type"}:
                found.setdefault(reference.strip(), (here, value))
            children = value.items()
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        todo.extend(
            (_child(here, str(key)), item, depth + 1)
            for key, item in reversed(list(children))
            if isinstance(item, dict | list)
        )
    return found


def inline(node: Any, references: Mapping[str, tuple[str, Any]], *, depth: int = 0) -> Any:
    """The node with the references it makes replaced by the nodes they name (for the record
    of what arrived: the repairs read the same nodes)."""
    if depth > _MAX_DEPTH:
        return node
    if isinstance(node, dict):
        if _is_reference(node) and node["@id"].strip() in references:
            target = references[node["@id"].strip()][1]
            return inline(
                target, {k: v for k, v in references.items() if v[1] is not target}, depth=depth + 1
            )
        return {key: inline(value, references, depth=depth + 1) for key, value in node.items()}
    if isinstance(node, list):
        return [inline(item, references, depth=depth + 1) for item in node]
    return node


# The walk over every value


def _node(walk: _Walk, node: dict[str, Any], pointer: str, *, depth: int) -> dict[str, Any]:
    """The node repaired: the node itself when nothing in it needs a repair (most of the
    markup of an import), else a copy; the input is never changed."""
    repaired: dict[str, Any] | None = None  # made at the first change
    name: str | None
    # The loop runs for every value of every import: the common case is inlined in it.
    for index, (key, value) in enumerate(node.items()):
        here = pointer + "/" + key if "/" not in key and "~" not in key else _child(pointer, key)
        if key[:1] == "@":
            name, kept = _keyword(walk, key, value, here)
        else:
            name = _known_property(key) or key
            if name != key:
                walk.warn(here, "property-repaired", f"{key} was read as {name}.")
            kept = _value(walk, name, value, here, depth=depth + 1)
        if repaired is None:
            if name == key and (kept is value or (type(kept) is str and kept == value)):
                continue
            repaired = dict(itertools.islice(node.items(), index))
        if name is None or kept is None:
            continue
        if name in repaired:  # two spellings of one property: keep both values
            repaired[name] = many(repaired[name]) + many(kept)
        else:
            repaired[name] = kept
    return node if repaired is None else repaired


def _keyword(walk: _Walk, key: str, value: Any, here: str) -> tuple[str | None, Any]:
    """A JSON-LD keyword of a node, repaired: its name and value (None: left out)."""
    if key == "@type":
        return key, _types(walk, value, here)
    if key == "@id":
        if isinstance(value, str) and value.strip():
            return key, _absolute_id(walk, value.strip())
        return None, None
    if key == "@context":
        return None, None  # settled for the ClaimReview by _context; inner contexts add nothing
    return key, value


def _same(kept: Any, value: Any) -> bool:
    return kept is value or (type(kept) is str and kept == value)


def _value(walk: _Walk, key: str, value: Any, pointer: str, *, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return value
    if type(value) is str:  # the commonest value first
        if not value or value.isspace():
            walk.warn(pointer, "empty-value", f"{key} is empty and was left out.")
            return None
        if key in _TEXT:
            return _clean_text(walk, key, value, pointer, strip_tags=True)
        if key in _URLS:
            return _url(walk, key, value, pointer)
        if key in _DATES:
            return _date(walk, key, value, pointer)
        if key in _NUMBERS:
            return _number(walk, key, value, pointer)
        if key == "inLanguage":
            return _language_tag(walk, value, pointer)
        return _clean_text(walk, key, value, pointer, strip_tags=False)
    if _is_empty(value):
        walk.warn(pointer, "empty-value", f"{key} is empty and was left out.")
        return None
    if isinstance(value, list):
        return _list(walk, key, value, pointer, depth=depth)
    if isinstance(value, dict):
        if "@value" in value:
            return _value(walk, key, value["@value"], f"{pointer}/@value", depth=depth + 1)
        if _is_reference(value):
            return _reference(walk, key, value, pointer, depth=depth)
        return _node(walk, value, pointer, depth=depth)
    if key in _TEXT:
        return _text(walk, key, value, pointer)
    if key in _NUMBERS:
        return _number(walk, key, value, pointer)
    if key in _DATES:
        return _date(walk, key, value, pointer)
    return value


def _list(walk: _Walk, key: str, value: list[Any], pointer: str, *, depth: int) -> Any:
    items = []
    changed = False
    for index, item in enumerate(value):
        kept = _value(walk, key, item, f"{pointer}/{index}", depth=depth + 1)
        changed = changed or not _same(kept, item)
        if kept is not None:
            items.append(kept)
    if key in _TEXT and len(items) > 1:
        walk.warn(
            pointer, "multiple-values", f"{key} holds {len(items)} values; the first was kept."
        )
        return items[0]
    if not items:
        return None
    if len(items) == 1 and key not in _LISTS:
        return items[0]
    return items if changed else value


def _reference(walk: _Walk, key: str, value: dict[str, Any], pointer: str, *, depth: int) -> Any:
    """A ``{"@id": ...}`` reference: the node it names when the document holds it."""
    reference = value["@id"].strip()
    found = walk.references.get(reference) or walk.references.get(_absolute_id(walk, reference))
    if found is None:  # a node inside the ClaimReview itself
        found = walk.inside().get(reference) or walk.inside().get(_absolute_id(walk, reference))
    if found is None or reference in walk.resolved:
        if key in _URLS:  # a bare link written as a reference (image, sameAs)
            return _url(walk, key, reference, pointer)
        return {"@id": _absolute_id(walk, reference)}
    target_pointer, target = found
    if not isinstance(target, dict):
        return {"@id": reference}
    walk.resolved.add(reference)
    walk.warn(
        pointer,
        "reference-resolved",
        f"{key} was read from the node {reference} at {target_pointer or '/'}.",
    )
    repaired = _node(walk, target, target_pointer, depth=depth + 1)
    walk.resolved.discard(reference)
    walk.origins[id(repaired)] = target_pointer
    return repaired


def _types(walk: _Walk, value: Any, pointer: str) -> Any:
    if type(value) is str and type_name(value) == value:  # the common case
        return value
    raw = [item for item in many(value) if isinstance(item, str) and item.strip()]
    if not raw:
        walk.warn(pointer, "empty-value", "@type is empty and was left out.")
        return None
    names = type_names(raw)
    if names != raw:
        walk.warn(pointer, "type-repaired", f"@type was read as {', '.join(names)}.")
    return names[0] if len(names) == 1 else names


@lru_cache(maxsize=4096)
def _known_property(key: str) -> str | None:
    """The schema.org property ``key`` names, in any case or with a prefix (remembered: a
    document repeats a few dozen keys, and they are input, so the memory is bounded)."""
    return canonical_property(local_term(key))


# Literal values


def _text(walk: _Walk, key: str, value: Any, pointer: str) -> Any:
    if not isinstance(value, str):
        walk.warn(
            pointer,
            "not-text",
            f"{key} should be text, not {type(value).__name__}; it was left out.",
        )
        return None
    return _clean_text(walk, key, value, pointer, strip_tags=True)


def _clean_text(walk: _Walk, key: str, value: str, pointer: str, *, strip_tags: bool) -> str | None:
    if "&" not in value and "<" not in value and " ".join(value.split()) == value:
        return value  # the common case: no entity, tag, run of spaces or space at either end
    text = value
    if "&" in text:
        text = html.unescape(html.unescape(text))  # entities encoded twice are common too
    if strip_tags and "<" in text:
        text = _TAG.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    if text != _SPACE.sub(" ", value).strip():
        walk.warn(pointer, "text-repaired", f"{key} had HTML entities or tags; they were decoded.")
    if not text:
        walk.warn(pointer, "empty-value", f"{key} is empty and was left out.")
        return None
    return text


def _number(walk: _Walk, key: str, value: Any, pointer: str) -> Any:
    if isinstance(value, bool):
        walk.warn(pointer, "not-a-number", f"{key} should be a number; it was left out.")
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    text = value.strip() if isinstance(value, str) else ""
    if _NUMBER.fullmatch(text) and not ("," in text and "." in text):
        number = float(text.replace(",", "."))  # "4,5": the decimal comma of most of Europe
        if math.isfinite(number):
            result: int | float = int(number) if _INTEGER.fullmatch(text) else number
            if walk.literals_are_text and text == value:
                return result
            walk.warn(
                pointer,
                "number-repaired",
                f"{key} was sent as text {value!r} and read as {result}.",
            )
            return result
    walk.warn(pointer, "not-a-number", f"{key} should be a number, not {value!r}; it was left out.")
    return None


def _date(walk: _Walk, key: str, value: Any, pointer: str) -> str | None:
    if not isinstance(value, str):
        walk.warn(pointer, "date-unreadable", f"{key} should be an ISO 8601 date; it was left out.")
        return None
    text = value.strip()
    if _ISO_DATE.fullmatch(text) and _valid_date(text):
        return text
    if _ISO_DATETIME.fullmatch(text):
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
            return text
        except ValueError:
            pass
    read = read_date(text)
    if read is None:
        walk.warn(
            pointer,
            "date-unreadable",
            f"{key} {value!r} is not a date that can be read; it was left out.",
        )
        return None
    if "T" in read and not _ZONED.search(read):
        message = f"{key} {value!r} has no time zone; it was read as {read} in the publisher's "
        walk.warn(pointer, "date-repaired", message + "time zone (UTC when it has none).")
    else:
        walk.warn(pointer, "date-repaired", f"{key} {value!r} was read as {read}.")
    return read


def hand_written_date(text: str | None) -> str | None:
    """A date as ``read_date`` reads it, for shapes without a warning to give (Google's pages);
    text it cannot read is passed on, for the native model to refuse by name."""
    if text is None or _ISO_DATE.fullmatch(text.strip()) or _ISO_DATETIME.fullmatch(text.strip()):
        return text
    return read_date(text) or text


def localise(native: dict[str, Any], time_zone: str | None) -> None:
    """Read the native review's date-times that have no zone in ``time_zone`` (else UTC)."""
    zone = ZoneInfo(time_zone) if time_zone else UTC
    claim = native.get("claim") or {}
    media = native.get("media") or {}
    holders = [
        (native, "date_published"),
        (claim, "date"),
        *((item, "date_published") for item in claim.get("appearances") or []),
        (claim.get("first_appearance") or {}, "date_published"),
        *((item, "date") for item in native.get("corrections") or []),
        *((item, "date_published") for item in media.get("appearances") or []),
    ]
    for holder, key in holders:
        value = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(value, str) and "T" in value and not _ZONED.search(value):
            try:
                moment = datetime.fromisoformat(value).replace(tzinfo=zone)
            except ValueError:
                continue
            holder[key] = format_timestamp(moment)


def read_date(text: str) -> str | None:
    """A date or date-time as written by hand, in ISO 8601; None when it has no one reading.

    A time without a zone stays without one (``localise`` reads it in the publisher's time
    zone); ``+5:30`` is ``+05:30``; ``2020-06-23Z`` is the date ``2020-06-23``; RFC 2822 dates
    (``Tue, 23 Jun 2020 20:02:00 +0000``) are read too.
    """
    match = _LOOSE_DATE.fullmatch(text.strip())
    if match is None:
        try:
            return _timestamp(parsedate_to_datetime(text))
        except (TypeError, ValueError, IndexError):
            return None
    try:
        day = date(*(int(part) for part in match["date"].split("-")))
    except ValueError:
        return None
    if match["time"] is None:
        return day.isoformat()
    hour, minute, *rest = match["time"].replace(",", ".").split(":")
    seconds = float(rest[0]) if rest else 0.0
    try:
        moment = datetime(
            day.year,
            day.month,
            day.day,
            int(hour),
            int(minute),
            int(seconds),
            round((seconds % 1) * 1_000_000),
            tzinfo=_zone(match["zone"]),
        )
    except ValueError:
        return None
    return _timestamp(moment)


def _zone(text: str | None) -> timezone | None:
    if text is None:
        return None
    if text.upper() in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    if ":" in text:
        hours, minutes = text[1:].split(":")
    elif len(digits) <= 2:
        hours, minutes = digits, "0"
    else:
        hours, minutes = digits[:-2], digits[-2:]
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def _timestamp(moment: datetime) -> str:
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _url(walk: _Walk, key: str, value: Any, pointer: str) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    resolved = absolute_url(text, walk.base_url)
    if resolved is None:
        walk.warn(pointer, "url-dropped", f"{key} {value!r} is not a web address; it was left out.")
        return None
    if resolved != text:
        walk.warn(pointer, "url-resolved", f"{key} {value!r} was read as {resolved}.")
    return resolved


def absolute_url(text: str, base: str | None) -> str | None:
    """An absolute http(s) URL for ``text`` (resolved against ``base``), or None for junk.

    As browsers read a link (the WHATWG URL standard): tabs and newlines inside it are dropped,
    and spaces and the other characters a URL cannot hold as they are (``"<>`{}|^``) are
    percent-encoded."""
    if _PLAIN_URL.fullmatch(text):  # the common case, told without parsing it
        return text
    if ":" in text.split("/", 1)[0]:
        return _with_scheme(text)
    text = _URL_BREAKS.sub("", text)
    if not text or text.lower() in _JUNK_URLS or text.startswith("#"):
        return None
    text = _URL_UNSAFE.sub(_percent_encoded, text)
    try:
        if text.startswith("//"):
            base_scheme = urlsplit(base).scheme if base else ""
            candidate = f"{base_scheme or 'https'}:{text}"
        elif not text.startswith((".", "/", "?")) and _SCHEMELESS.match(text):
            candidate = "https://" + text
        elif base is not None:
            candidate = urljoin(base, text)
        else:
            return None
    except ValueError:  # urlsplit: "http://[not-an-ipv6"
        return None
    return candidate if _has_host(candidate) else None


@lru_cache(maxsize=4096)
def _with_scheme(text: str) -> str | None:
    """``absolute_url`` of a URL with a scheme (remembered: a publisher's URLs recur in
    every review of an import, and the memory is bounded)."""
    text = _URL_UNSAFE.sub(_percent_encoded, _URL_BREAKS.sub("", text))
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https"):
        return None  # javascript:, mailto:, data:, ftp: ...
    return text if _has_host(text) else None


def _percent_encoded(match: re.Match[str]) -> str:
    return f"%{ord(match[0]):02X}"


def _has_host(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url
    except ValueError:
        return False


def _absolute_id(walk: _Walk, reference: str) -> str:
    if reference.startswith("_:") or ":" in reference.split("/", 1)[0]:
        return reference
    return joined(walk.base_url, reference) if walk.base_url else reference


def joined(base: str, reference: str) -> str:
    """``reference`` resolved against ``base``; as it is when it cannot be (``http://[x``)."""
    try:
        return urljoin(base, reference)
    except ValueError:
        return reference


def _language_tag(walk: _Walk, value: str, pointer: str) -> str | None:
    tag = languages.tag(value)
    if tag is None:
        walk.warn(
            pointer,
            "language-unreadable",
            f"inLanguage {value!r} is not a language; it was left out.",
        )
        return None
    if tag != value:
        walk.warn(pointer, "language-repaired", f"inLanguage {value!r} was read as {tag}.")
    return tag


# What a ClaimReview needs


def _context(walk: _Walk, sent: dict[str, Any], node: dict[str, Any], pointer: str) -> None:
    context = sent.get("@context")
    if not _is_schema_context(context):
        where = f"{pointer}/@context" if "@context" in sent else pointer
        walk.warn(
            where, "context-repaired", f'The ClaimReview is read with "@context": "{CONTEXT}".'
        )
    node["@context"] = context if _is_schema_context(context) else CONTEXT
    # The context first, as written markup has it.
    node.update({key: node.pop(key) for key in list(node) if key != "@context"})


def _authors(walk: _Walk, node: dict[str, Any], pointer: str) -> None:
    """One organisation as ``author``; journalists among the authors become ``creator``s."""
    authors = [item for item in many(node.get("author")) if item is not None]
    if not authors:
        return
    organisations = [
        item
        for item in authors
        if isinstance(item, dict) and set(many(item.get("@type"))) & _ORGANIZATION_TYPES
    ]
    people = [
        item for item in authors if isinstance(item, dict) and "Person" in many(item.get("@type"))
    ]
    if people:
        node["creator"] = many(node.get("creator")) + people
        walk.warn(
            f"{pointer}/author",
            "author-is-person",
            "A Person given as author was kept as a fact-checker (creator); the publisher is "
            "the organisation.",
        )
    if organisations:
        chosen: Any = organisations[0]
    else:
        others = [item for item in authors if item not in people]
        chosen = others[0] if others else None
    if len(authors) > 1 and chosen is not None:
        walk.warn(
            f"{pointer}/author",
            "author-chosen",
            f"author holds {len(authors)} values; {_label(chosen)} was taken as the publisher.",
        )
    if chosen is None:
        node.pop("author", None)
    else:
        node["author"] = chosen


def _item_reviewed(walk: _Walk, node: dict[str, Any], pointer: str) -> None:
    claims = many(node.get("itemReviewed"))
    if not claims:
        return
    claim = claims[0]
    if isinstance(claim, str):
        claim = {"name": claim}
    if not isinstance(claim, dict):
        return
    types = many(claim.get("@type"))
    if "Claim" not in types:
        claim = {"@type": "Claim", **{k: v for k, v in claim.items() if k != "@type"}}
        walk.warn(f"{pointer}/itemReviewed", "claim-typed", "itemReviewed was read as the Claim.")
    author = claim.get("author")
    if isinstance(author, str):
        claim = {**claim, "author": {"name": author}}  # a copy: the input is never changed
    node["itemReviewed"] = claim


def _rating(walk: _Walk, node: dict[str, Any], pointer: str) -> None:
    here = f"{pointer}/reviewRating"
    ratings = many(node.get("reviewRating"))
    rating = next((item for item in ratings if isinstance(item, dict)), None)
    if rating is None:
        label = next((item for item in ratings if isinstance(item, str)), None)
        if label is None:
            return
        rating = {"@type": "Rating", "alternateName": label}
        walk.warn(
            here,
            "rating-repaired",
            "reviewRating was text; it was read as the rating's alternateName.",
        )
    rating = dict(rating)
    if not isinstance(rating.get("alternateName"), str) and isinstance(rating.get("name"), str):
        rating["alternateName"] = rating["name"]
        walk.warn(f"{here}/name", "rating-repaired", "The rating's label was read from its name.")
    rating.setdefault("@type", "Rating")
    _scale(walk, rating, here)
    if not isinstance(rating.get("alternateName"), str) and "ratingValue" in rating:
        verdict = verdicts.normalise(
            label=None,
            value=rating["ratingValue"],
            best=rating["bestRating"],
            worst=rating["worstRating"],
        )
        rating["alternateName"] = verdict.replace("_", " ").capitalize()
        walk.warn(
            here,
            "rating-label-derived",
            f"The rating has only numbers; its label {rating['alternateName']!r} was read from "
            "the value's place on the scale.",
        )
    node["reviewRating"] = rating


def _scale(walk: _Walk, rating: dict[str, Any], pointer: str) -> None:
    numbers = {key: rating.get(key) for key in ("ratingValue", "bestRating", "worstRating")}
    value, best, worst = (
        item if isinstance(item, int | float) else None for item in numbers.values()
    )
    for key in ("ratingValue", "bestRating", "worstRating"):
        if not isinstance(rating.get(key), int | float):
            rating.pop(key, None)
    if value is None:
        if best is not None or worst is not None:
            rating.pop("bestRating", None)
            rating.pop("worstRating", None)
        return
    filled_best = DEFAULT_BEST if best is None else best
    filled_worst = DEFAULT_WORST if worst is None else worst
    if filled_worst < filled_best and filled_worst <= value <= filled_best:
        if best is None or worst is None:
            rating["bestRating"], rating["worstRating"] = filled_best, filled_worst
            walk.warn(
                pointer,
                "rating-scale-default",
                "The rating has no full scale; Google's defaults were used "
                f"(bestRating {filled_best}, worstRating {filled_worst}).",
            )
        return
    for key in ("ratingValue", "bestRating", "worstRating"):
        rating.pop(key, None)
    walk.warn(
        pointer,
        "rating-scale-dropped",
        f"The numbers of the rating (ratingValue {value}, bestRating {best}, worstRating "
        f"{worst}) make no usable scale; they were left out and the textual rating kept.",
    )


def _language(walk: _Walk, node: dict[str, Any], pointer: str, page_language: str | None) -> None:
    language = node.get("inLanguage")
    if isinstance(language, list):
        language = node["inLanguage"] = language[0]
    if isinstance(language, dict):
        code = language.get("alternateName") or language.get("name")
        tag = languages.tag(code) if isinstance(code, str) else None
        if tag is not None:
            node["inLanguage"] = tag
        else:
            node.pop("inLanguage")
    if "inLanguage" not in node and page_language:
        tag = languages.tag(page_language)
        if tag is not None:
            node["inLanguage"] = tag
            walk.warn(
                f"{pointer}/inLanguage",
                "language-from-page",
                f"The language was taken from the page's lang ({page_language}).",
            )


def _media_review(walk: _Walk, node: dict[str, Any], pointer: str) -> None:
    """A MediaReview as a MediaReviewItem of typed appearances, with one category."""
    if "claimReviewed" in node:
        del node["claimReviewed"]
        walk.warn(
            f"{pointer}/claimReviewed",
            "not-media-property",
            "claimReviewed is a ClaimReview's: a MediaReview reviews media; it was left out.",
        )
    _authenticity(walk, node, f"{pointer}/mediaAuthenticityCategory")
    here = f"{pointer}/itemReviewed"
    items = [item for item in many(node.get("itemReviewed")) if isinstance(item, dict)]
    if not items:
        return
    item = items[0]
    if "MediaReviewItem" not in type_names(item.get("@type")):
        if "mediaItemAppearance" not in item:
            item = {"mediaItemAppearance": [item]}
        item = {"@type": "MediaReviewItem", **{k: v for k, v in item.items() if k != "@type"}}
        walk.warn(here, "media-item-typed", "itemReviewed was read as a MediaReviewItem.")
        here_items = here
    else:
        here_items = f"{here}/mediaItemAppearance"
    poster = item.get("author") or item.get("creator")
    appearances = []
    for index, appearance in enumerate(many(item.get("mediaItemAppearance"))):
        where = (
            f"{here_items}/{index}"
            if isinstance(item.get("mediaItemAppearance"), list)
            else here_items
        )
        media = _media_object(walk, appearance, where)
        if media is None:
            continue
        if poster is not None and "author" not in media and "creator" not in media:
            media["author"] = poster
            walk.warn(
                where,
                "media-author-moved",
                "The MediaReviewItem's author was read as the author of this appearance.",
            )
        appearances.append(media)
    node["itemReviewed"] = {"@type": "MediaReviewItem", "mediaItemAppearance": appearances}


def _media_object(walk: _Walk, appearance: Any, pointer: str) -> dict[str, Any] | None:
    if not isinstance(appearance, dict):
        walk.warn(pointer, "media-dropped", "An appearance of the media must be an object.")
        return None
    for name in type_names(appearance.get("@type")):
        media_type = _MEDIA_SUBTYPES.get(name, name.removesuffix("Snapshot"))
        if media_type in _MEDIA_TYPES:
            if media_type != name:
                walk.warn(f"{pointer}/@type", "media-typed", f"{name} was read as {media_type}.")
            media = dict(appearance)
            if "author" not in media and "creator" in media:
                media["author"] = media.pop("creator")
            return media | {"@type": media_type}
    walk.warn(
        pointer,
        "media-dropped",
        "An appearance of the media must be an ImageObject, VideoObject or AudioObject; it "
        "was left out.",
    )
    return None


# The rating names of the 2020 MediaReview pilot (Duke Reporters' Lab), which fact-checkers
# published before schema.org named the categories; each has one reading. Keys are folded:
# lower case, letters only ("Original, Missing Context" -> "originalmissingcontext").
_PILOT_AUTHENTICITY = {
    "original": "OriginalMediaContent",
    "missingcontext": "DecontextualizedContent",
    "originalmissingcontext": "DecontextualizedContent",
    "transformed": "TransformedContent",
    "edited": "EditedOrCroppedContent",
    "editedorcropped": "EditedOrCroppedContent",
    "staged": "StagedContent",
    "satireparody": "SatireOrParodyContent",
    "satireorparody": "SatireOrParodyContent",
}


def _authenticity(walk: _Walk, node: dict[str, Any], pointer: str) -> None:
    sent = node.get("mediaAuthenticityCategory")
    values = many(sent)
    if not values:
        return
    value = values[0]
    name = value.get("@id") if isinstance(value, dict) else value
    term = local_term(name.strip()) if isinstance(name, str) else ""
    pilot = _PILOT_AUTHENTICITY.get("".join(filter(str.isalpha, term.lower())))
    close = (
        [pilot] if pilot else difflib.get_close_matches(term, MEDIA_AUTHENTICITY, n=1, cutoff=0.8)
    )
    if not close:
        del node["mediaAuthenticityCategory"]
        walk.warn(
            pointer,
            "authenticity-repaired",
            f"mediaAuthenticityCategory {_label(value)} is none of "
            f"{', '.join(MEDIA_AUTHENTICITY)}; it was left out.",
        )
        return
    node["mediaAuthenticityCategory"] = close[0]
    if close[0] != sent:
        extra = f" (the first of {len(values)})" if len(values) > 1 else ""
        walk.warn(
            pointer,
            "authenticity-repaired",
            f"mediaAuthenticityCategory was read as {close[0]}{extra}.",
        )


def _essentials(walk: _Walk, node: dict[str, Any], pointer: str, *, media: bool) -> None:
    if media:
        _media_essentials(walk, node, pointer)
    elif not isinstance(node.get("claimReviewed"), str):
        walk.refuse(
            f"{pointer}/claimReviewed",
            "missing-claim",
            "claimReviewed (the claim as checked, as text) is required.",
        )
    urls = [url for url in many(node.get("url")) if isinstance(url, str)]
    if not urls:
        walk.refuse(
            f"{pointer}/url",
            "missing-url",
            "url (the fact-check article's http(s) address) is required.",
        )
    else:
        node["url"] = urls[0]
    rating = node.get("reviewRating")
    labelled = isinstance(rating, dict) and isinstance(rating.get("alternateName"), str)
    if not media and not labelled:
        walk.refuse(
            f"{pointer}/reviewRating",
            "missing-rating",
            "reviewRating needs a textual rating (alternateName) or a ratingValue on a usable "
            "scale.",
        )


def _media_essentials(walk: _Walk, node: dict[str, Any], pointer: str) -> None:
    rating = node.get("reviewRating")
    labelled = isinstance(rating, dict) and isinstance(rating.get("alternateName"), str)
    if "mediaAuthenticityCategory" not in node and not labelled:
        walk.refuse(
            f"{pointer}/mediaAuthenticityCategory",
            "missing-rating",
            "A MediaReview needs its mediaAuthenticityCategory (or a textual reviewRating).",
        )


def fill_language(native: dict[str, Any], *, pointer: str, publisher: str | None) -> list[Finding]:
    """Give a native review whose markup names no language one: its publisher's, else the
    language its claim is written in, marked ``language_source: "detected"`` (a later write
    that sets ``language`` overrides it)."""
    if native.get("language"):
        return []
    here = pointer + "/inLanguage"
    if publisher:
        native["language"] = publisher
        message = f"No language was given; the publisher's ({publisher}) was taken."
        return [Finding("warning", PROFILE, here, "language-from-publisher", message)]
    text = native.get("claim_reviewed") or native.get("headline")
    detected = languages.detect(text) if isinstance(text, str) else None
    if detected is None:
        return []
    native["language"] = detected
    native["language_source"] = "detected"
    message = f"No language was given; {detected} was detected from the claim's text."
    return [Finding("warning", PROFILE, here, "language-detected", message)]


# Small helpers


def _own_base(node: dict[str, Any]) -> str | None:
    """The base for relative URLs of JSON-LD: the ClaimReview's url, else its author's."""
    for candidate in (node.get("url"), *(_urls_of(node.get("author")))):
        for url in many(candidate):
            if isinstance(url, str) and absolute_url(url.strip(), None) == url.strip():
                return url.strip()
    return None


def _urls_of(value: Any) -> list[Any]:
    return [item.get("url") for item in many(value) if isinstance(item, dict)]


def _child(pointer: str, key: str) -> str:
    """``pointer`` + ``/key``, escaped as JSON pointers are (RFC 6901) only when it must be."""
    if "/" in key or "~" in key:
        return pointer + json_pointer([key])
    return pointer + "/" + key


def _is_reference(value: dict[str, Any]) -> bool:
    """``{"@id": ...}`` (perhaps with its ``@type``): a node described elsewhere."""
    return isinstance(value.get("@id"), str) and value.keys() <= {"@id", "@type"}


def _is_empty(value: Any) -> bool:
    if value is None or value == [] or value == {}:
        return True
    return isinstance(value, str) and not value.strip()


def _is_schema_context(context: Any) -> bool:
    if isinstance(context, str):
        return context in _CONTEXTS
    if isinstance(context, dict):
        vocabulary = context.get("@vocab")
        return context.keys() <= {"@vocab", "@language"} and vocabulary in _CONTEXTS
    return False


def _label(node: Any) -> str:
    if isinstance(node, dict):
        name = node.get("name")
        return repr(name) if isinstance(name, str) else "the first"
    return repr(node)
