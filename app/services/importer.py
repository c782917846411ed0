"""Markup in: find the ClaimReviews in NDJSON, JSON-LD documents, DataFeeds and HTML pages, check
them, and create or update the importing publisher's reviews. ``POST /v1/import``,
``POST /v1/validate`` and ``claimreview import|validate`` all read their input here.

Inputs, and where each JSON pointer (``index``, ``path`` of a finding) starts:

    json     one JSON-LD document (a node, an array, an ``@graph``, a ``DataFeed``): pointers
             are into it, e.g. ``/dataFeedElement/3/item/0/reviewRating``
    ndjson   one JSON document per line: the first token is the 0-based line number, e.g.
             ``/41/claimReviewed`` (blank lines count, so that line N+1 of the file is ``/N``)
    html     a page: its JSON-LD scripts, microdata items and RDFa subjects, as ``extraction``
             names them, e.g. ``/json-ld/1/@graph/0/url`` or ``/microdata/0/claimReviewed``

A ClaimReview is a node whose ``@type`` is ClaimReview anywhere in a document: at the top, in an
array or ``@graph``, in a DataFeed's ``dataFeedElement`` or a DataFeedItem's ``item``, under a
WebPage's ``mainEntity``. What Data Commons feeds do is absorbed on the way: items that are
arrays, ``null`` items, ``http://schema.org`` contexts, numbers sent as strings (read by
``core.reader``). A nested node inherits the nearest ``@context`` around it. A ClaimReview's
``index`` is its position among the ClaimReviews of the input, from 0; an NDJSON line or JSON-LD
script that is not JSON takes an index too and is reported ``invalid``.

Each ClaimReview is checked with both profiles of ``validation`` (``url`` on the publisher's
domains), mapped to a native review by ``core.reader`` and upserted, published, by
``reviews.create`` / ``reviews.replace``; the revision each write makes keeps the node as it
was in the input, its pointer and the input's media type (``Item.source``). The upsert key is
(publisher, external_id):

    1. ``@id`` is one of this service's review IRIs (``{base_url}/v1/claim-reviews/{id}``) naming
       a review of the same publisher: that review (it keeps its own external_id);
    2. ``@id`` is another absolute IRI (not a blank node ``_:...``): the IRI itself, or
       ``"sha256:" + hex SHA-256 of it`` when longer than 200 characters;
    3. otherwise ``"import:" + the first 40 hex digits of SHA-256(url + "\\n" + claimReviewed)``,
       both trimmed as stored (a missing claimReviewed counts as ""), so two reviews of one
       article differ and the same markup always gets the same key.

So importing the same content again changes nothing (``unchanged``), changed content is an
``updated`` review with a new revision, and an item with errors is ``invalid``: reported with its
findings and not stored. A review that was retracted stays retracted (``unchanged``, with a
``retracted`` warning): bringing it back is an editorial act, done with PUT by external_id.

The input is written in batches of ``BATCH_SIZE`` ClaimReviews, each committed as one transaction,
so a review is stored whole (with its revision, outbox event, tags and queued images) or not
at all. Existing reviews of a batch are looked up in one query and updated one by one; its new
reviews are rendered by ``reviews.new_review`` (the rows ``reviews.create`` writes) and
inserted together, a few multi-row INSERTs in one SAVEPOINT. When the database refuses them (a
value it cannot store, a key another import stored meanwhile), each is inserted again in its own
SAVEPOINT, so a bad item does not sink its batch.

Findings of the import itself (profile ``import``): unknown-publisher E (no publisher matches the
author), invalid-value E (a value the service cannot store, e.g. a non-http URL or a malformed
language tag), value-dropped W (any other value it cannot store: left out, the review stored
without it), retracted W (a retracted review is left alone), duplicate W (an earlier item of
the same input wrote this review already: only the first is applied, so a page that carries one
review as both JSON-LD and microdata imports the same way every time). An NDJSON line or JSON-LD
script that is not JSON is ``invalid-json`` E, and a page without structured data
``empty-document`` E, under the shape profile as in ``validation``.
"""

import collections
import dataclasses
import hashlib
import itertools
import multiprocessing
import re
import signal
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from app.core import document, domains, extraction, jsonld, normalise, reader, validation
from app.core.document import ReviewIn, many, prune
from app.core.ids import is_review_id
from app.core.pointers import json_pointer
from app.core.validation import Finding
from app.db import crud
from app.db.tables import ClaimReview, Publisher
from app.errors import Unprocessable
from app.services import new_publishers, reviews
from app.services.images import queue as image_queue

Kind = Literal["json", "ndjson", "html"]
Status = Literal["created", "updated", "unchanged", "invalid"]

BATCH_SIZE = 500
NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_NDJSON = "application/x-ndjson"
FILE_KINDS: dict[str, Kind] = {
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".jsonld": "json",
    ".html": "html",
    ".htm": "html",
}
_MAX_DEPTH = 64
_MAX_REFERENCES = 64
Location = tuple[str | int, ...]
_MAX_EXTERNAL_ID = 200
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
_MAX_DOMAINS = 20  # as many as a publisher may be given over the API
_PUBLISHER_COLUMNS = tuple(column.key for column in Publisher.__table__.columns)
_SLUG_ATTEMPTS = 3


# Reading the input


def kind_of(media_type: str, payload: bytes) -> Kind:
    """The input kind from its media type; an unknown or missing type is told from the bytes."""
    if media_type in NDJSON_TYPES:
        return "ndjson"
    if media_type in HTML_TYPES:
        return "html"
    if media_type == "application/json" or media_type.endswith("+json"):
        return "json"
    return "html" if payload.lstrip()[:1] == b"<" else "json"


@dataclass(frozen=True, slots=True)
class Page:
    """The HTML page documents came from: its address (the caller's ``page_url``, else its
    ``<base href>`` or canonical link), against which relative URLs resolve, and its ``lang``."""

    url: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """One JSON-LD document of the input: ``data`` is None when it could not be read.

    The documents of one HTML page share their ``page``: a ClaimReview in one script may refer
    (``{"@id": ...}``) to a node in another. ``media_type`` is the input's, which the revisions
    written from it keep."""

    pointer: str
    data: Any
    problem: str | None = None
    page: Page | None = None
    media_type: str = "application/ld+json"


def sources(payload: bytes, kind: Kind, *, page_url: str | None = None) -> Iterator[Source]:
    """The JSON-LD documents of an input. ValueError when it is not JSON (or HTML) at all.

    ``page_url`` is where the input was published: relative URLs in it resolve against it."""
    if kind == "json":
        try:
            yield Source("", orjson.loads(payload), page=Page(page_url) if page_url else None)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"not valid JSON: {error}") from None
    elif kind == "ndjson":
        yield from ndjson_sources(payload.splitlines())
    else:
        extracted = extraction.extract(payload, page_url=page_url)
        page = Page(extracted.url, extracted.language)
        for block in extracted.blocks:
            yield Source(block.pointer, block.data, block.problem, page, "text/html")


def ndjson_sources(lines: Iterable[bytes], *, first_line: int = 0) -> Iterator[Source]:
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        try:
            yield Source(f"/{number}", orjson.loads(line), media_type=_NDJSON)
        except orjson.JSONDecodeError as error:
            problem = f"Line {number + 1} is not valid JSON: {error}"
            yield Source(f"/{number}", None, problem, media_type=_NDJSON)


def check(
    payload: bytes,
    *,
    kind: Kind,
    profiles: Iterable[str] = validation.PROFILES,
    page_url: str | None = None,
) -> list[Finding]:
    """What an import of the input would find: the repairs and what refuses each ClaimReview
    (no publisher is matched). A document without a ClaimReview is validated as it is.
    Finding paths point into the input as a whole."""
    selected = tuple(profiles)
    shape = "schemaorg" if "schemaorg" in selected else "google"
    findings: list[Finding] = []
    seen = False
    for group in _pages(sources(payload, kind, page_url=page_url)):
        seen = True
        items = list(claim_reviews(group))
        if any(item.node is not None for item in items):
            for item in items:
                assessed = assess(item, profiles=selected, fill_language=False)
                findings.extend(assessed.findings)
            continue
        for source in group:
            if source.data is None:
                findings.append(_unreadable(source, shape))
                continue
            found = validation.validate(source.data, profiles=selected)
            findings.extend(_moved(finding, source.pointer) for finding in found)
    if kind == "html" and not seen:
        findings.append(
            Finding(
                "error",
                shape,
                "",
                "empty-document",
                "The page holds no JSON-LD, microdata or RDFa.",
            )
        )
    return findings


def _unreadable(source: Source, profile: str) -> Finding:
    return Finding("error", profile, source.pointer, "invalid-json", source.problem or "")


def _moved(finding: Finding, prefix: str) -> Finding:
    return dataclasses.replace(finding, path=prefix + finding.path) if prefix else finding


# Finding the ClaimReviews


@dataclass(frozen=True, slots=True)
class Item:
    """One ClaimReview of the input (``node`` None: an unreadable line or script)."""

    index: int
    pointer: str
    node: dict[str, Any] | None
    problem: Finding | None = None
    # Where the @context the node inherited sits, when it has none of its own.
    context_pointer: str | None = None
    # The nodes of the same document (or page) the ClaimReview refers to by @id: their
    # pointer and content, keyed by the @id as written and as resolved against the page.
    references: dict[str, tuple[str, Any]] | None = None
    page: Page | None = None
    media_type: str = "application/ld+json"

    @property
    def source(self) -> dict[str, Any] | None:
        """What the revisions written from it keep (``reviews.markup_source``): the node as it
        arrived, without the @context it inherited and with the nodes it refers to written
        into it, where it sat in the input, and the page it came from."""
        if self.node is None:
            return None
        node = self.node
        if self.context_pointer is not None:
            node = {key: value for key, value in node.items() if key != "@context"}
        if self.references:
            node = normalise.inline(node, self.references)
        return document.markup_source(
            node,
            media_type=self.media_type,
            pointer=self.pointer,
            page_url=self.page.url if self.page else None,
        )


def claim_reviews(documents: Iterable[Source], *, first_index: int = 0) -> Iterator[Item]:
    index = first_index
    for group in _pages(documents):
        identified: dict[str, tuple[str, Any]] | None = None
        for source in group:
            if source.data is None:
                yield Item(index, source.pointer, None, _unreadable(source, "schemaorg"))
                index += 1
                continue
            for path, node, context in _walk(source.data, (), None, 0):
                pointer = source.pointer + json_pointer(path)
                # A ClaimReview that is its document's only content refers to nothing outside
                # itself: the normaliser finds what it refers to inside (most of an import).
                alone = not path and len(group) == 1
                wanted = set() if alone else normalise.reference_ids(node)
                references = None
                if wanted:
                    if identified is None:
                        identified = _identified(group)
                    page_url = source.page.url if source.page else None
                    references = _referred(wanted, identified, page_url)
                if "@context" in node or context is None:
                    yield Item(
                        index,
                        pointer,
                        node,
                        references=references,
                        page=source.page,
                        media_type=source.media_type,
                    )
                else:
                    value, context_path = context
                    yield Item(
                        index,
                        pointer,
                        {"@context": value, **node},
                        context_pointer=source.pointer + json_pointer(context_path),
                        references=references,
                        page=source.page,
                        media_type=source.media_type,
                    )
                index += 1


def _pages(documents: Iterable[Source]) -> Iterator[list[Source]]:
    """The documents one at a time, except an HTML page's, which come together."""
    group: list[Source] = []
    for source in documents:
        if group and (source.page is None or source.page is not group[0].page):
            yield group
            group = []
        group.append(source)
    if group:
        yield group


def _identified(group: list[Source]) -> dict[str, tuple[str, Any]]:
    """Every node of the documents that has an @id and says more than it: by that @id (as
    written, and resolved against the page)."""
    found: dict[str, tuple[str, Any]] = {}
    for source in group:
        page_url = source.page.url if source.page else None
        for reference, entry in normalise.identified(source.data, source.pointer).items():
            found.setdefault(reference, entry)
            if page_url:
                found.setdefault(normalise.joined(page_url, reference), entry)
    return found


def _referred(
    wanted: set[str], identified: dict[str, tuple[str, Any]], page_url: str | None
) -> dict[str, tuple[str, Any]] | None:
    """The nodes ``wanted`` names (as written, or resolved against the page), and the nodes
    those refer to in turn: by the @id as the references write it."""
    found: dict[str, tuple[str, Any]] = {}
    todo = list(wanted)
    while todo and len(found) < _MAX_REFERENCES:
        reference = todo.pop()
        if reference in found:
            continue
        entry = identified.get(reference)
        if entry is None and page_url:
            entry = identified.get(normalise.joined(page_url, reference))
        if entry is None:
            continue
        found[reference] = entry
        todo.extend(normalise.reference_ids(entry[1]) - found.keys())
    return found or None


def _walk(
    value: Any, path: Location, context: tuple[Any, Location] | None, depth: int
) -> Iterator[tuple[Location, dict[str, Any], tuple[Any, Location] | None]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                yield from _walk(item, (*path, index), context, depth + 1)
    elif isinstance(value, dict):
        if normalise.is_claim_review(value):
            yield path, value, context
            return
        if "@context" in value:
            context = (value["@context"], (*path, "@context"))
        for key, item in value.items():
            if key != "@context" and isinstance(item, dict | list):
                yield from _walk(item, (*path, key), context, depth + 1)


# Whose review it is


class Publishers:
    """Decides the publisher each ClaimReview is imported for.

    With one publisher (a publisher's key, ``?publisher=``, ``--publisher``) every item is its.
    Otherwise the ClaimReview's ``author`` is matched: its ``url`` host on a publisher's domains
    (or a subdomain within its registrable domain, ``app.core.domains``; the longest domain wins),
    then its ``name`` (case-insensitively), then the host of the ClaimReview's own ``url``;
    ``fallback`` (an admin key's own publisher) when none.

    With ``create`` (an aggregator's import, admins only) an item that matches none gets a new
    publisher instead (``new_publishers``), which the items after it match at once. It is
    stored by ``store``, in the transaction of the first batch that writes one of its reviews:
    a publisher none of whose reviews could be stored is never created. A later review of it
    on another registrable domain adds that domain to it. Only the writing process decides
    this: worker processes are told each item's publisher (``_prepared_in_workers``).
    """

    def __init__(
        self,
        *,
        only: Publisher | None = None,
        candidates: Sequence[Publisher] = (),
        fallback: Publisher | None = None,
        create: bool = False,
    ) -> None:
        self.only = only
        self.fallback = fallback
        self.create = create
        self.by_id = {row.id: row for row in (only, fallback, *candidates) if row is not None}
        self._by_domain: dict[str, Publisher] = {}
        self._by_name: dict[str, Publisher] = {}
        self._made: set[Publisher] = set()  # by this import (stored or not yet)
        self.renamed: set[Publisher] = set()  # made, and stored under another slug
        self._slugs = {row.slug for row in self.by_id.values()}
        for publisher in candidates:
            self._index(publisher)

    def choose(self, node: dict[str, Any]) -> Publisher | None:
        if self.only is not None:
            return self.only
        found = self._match(node)
        if not self.create:
            return found if found is not None else self.fallback
        if found is None:
            found = new_publishers.for_review(node, taken=self._slugs)
            if found is not None:
                self._made.add(found)
                self._slugs.add(found.slug)
                self._index(found)
        elif found in self._made:
            self._widen(found, node)
        return found

    def made(self, publisher: Publisher) -> bool:
        """Whether this import made the publisher (stored yet or not)."""
        return publisher in self._made

    def store(self, session: Session, publisher: Publisher) -> bool:
        """Insert a publisher this import made, unless stored already; True when inserted."""
        if publisher.id is not None or publisher not in self._made:
            return False
        for attempt in itertools.count():
            try:
                with session.begin_nested():
                    session.add(publisher)
                return True
            except IntegrityError:
                # Another writer took the slug since this import read the publishers.
                if attempt == _SLUG_ATTEMPTS - 1:
                    raise
                self._slugs.update(crud.list_publisher_slugs(session=session))
                domain = publisher.domains[0]
                publisher.slug = new_publishers.slug_for(publisher.name, domain, self._slugs)
                self._slugs.add(publisher.slug)
                self.renamed.add(publisher)
        raise AssertionError("unreachable")

    def _index(self, publisher: Publisher) -> None:
        for domain in publisher.domains:
            self._by_domain.setdefault(domains.clean(domain), publisher)
        self._by_name.setdefault(publisher.name.strip().casefold(), publisher)

    def _widen(self, publisher: Publisher, node: dict[str, Any]) -> None:
        domain = new_publishers.review_domain(node)
        if domain is None or domain in publisher.domains:
            return
        if len(publisher.domains) < _MAX_DOMAINS:
            # A new list, so that the ORM sees the change of a stored one.
            publisher.domains = [*publisher.domains, domain]
            self._by_domain.setdefault(domain, publisher)

    def _match(self, node: dict[str, Any]) -> Publisher | None:
        authors = many(node.get("author"))
        for author in authors:
            if isinstance(author, dict):
                for url in (*many(author.get("url")), author.get("@id")):
                    found = self._on_domain(url)
                    if found is not None:
                        return found
        for author in authors:
            name = author.get("name") if isinstance(author, dict) else author
            for text in many(name):
                if isinstance(text, str) and text.strip().casefold() in self._by_name:
                    return self._by_name[text.strip().casefold()]
        for url in many(node.get("url")):
            found = self._on_domain(url)
            if found is not None:
                return found
        return None

    def _on_domain(self, url: Any) -> Publisher | None:
        if not isinstance(url, str) or not self._by_domain:
            return None
        try:
            host = domains.clean(urlsplit(url.strip()).hostname or "")
        except ValueError:
            return None
        if not host:
            return None
        for owner in domains.owners(host):
            found = self._by_domain.get(owner)
            if found is not None:
                return found
        return None


# Writing


@dataclass(slots=True)
class Report:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)
    publishers_created: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self, index: int, status: Status, review_id: str | None, findings: Sequence[Finding]
    ) -> None:
        setattr(self, status, getattr(self, status) + 1)
        self.items.append(
            {
                "index": index,
                "status": status,
                "id": review_id,
                "findings": [_finding_dict(finding) for finding in findings],
            }
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "invalid": self.invalid,
            "items": self.items,
            "publishers_created": self.publishers_created,
        }


def _finding_dict(finding: Finding) -> dict[str, str]:
    return {
        "severity": finding.severity,
        "profile": finding.profile,
        "path": finding.path,
        "code": finding.code,
        "message": finding.message,
    }


@dataclass(slots=True)
class _Prepared:
    item: Item
    findings: list[Finding]
    publisher: Publisher | None = None
    incoming: ReviewIn | None = None
    key: str | None = None  # set when the item is valid
    review_id: str | None = None  # when @id is one of ours
    # From a worker process, which does not send ``incoming`` back (``_incoming`` prepares the
    # item again in the rare case a write needs it): the review rendered as a new one keyed
    # ``key`` (rows, or the errors that refused it), and its document as it would be stored,
    # which tells an unchanged review without rendering anything.
    rows: reviews.NewReview | None = None
    refused: list[Finding] | None = None
    document: str | None = None


def upsert(
    *,
    session: Session,
    items: Iterable[Item],
    publishers: Publishers,
    actor: str,
    base_url: str,
    commit: Callable[[], None],
    report: Report | None = None,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    processes: int = 1,
) -> Report:
    """Create or update a review for every ClaimReview, calling ``commit`` (the caller's, who
    owns the session) after each batch: a batch is one transaction, so a killed import keeps
    the batches it wrote, and a large one never holds its locks for the whole input.

    With ``processes`` > 1 and more than one batch to write, worker processes check and render
    the next batches while this one writes: on two cores that nearly doubles the rate, as
    checking and rendering are four fifths of the work.
    """
    report = report if report is not None else Report()
    applied: dict[str, int] = {}  # review id -> index of the item that wrote it in this input
    batches = _batches(items, batch_size or BATCH_SIZE)
    head = list(itertools.islice(batches, 2))
    batches = itertools.chain(head, batches)
    if processes > 1 and len(head) > 1:
        # Forked workers read the publishers' columns and must never load them themselves
        # (over this process's connection): load what a rollback expired, first.
        for publisher in publishers.by_id.values():
            session.refresh(publisher)
        prepared_batches = _prepared_in_workers(batches, publishers, actor, base_url, processes)
    else:
        prepared_batches = (
            [_prepare(item, publishers=publishers, base_url=base_url) for item in batch]
            for batch in batches
        )
    for prepared in prepared_batches:
        if publishers.create:
            _store_new_publishers(session, publishers, prepared, report)
        _write(
            session=session,
            prepared=prepared,
            report=report,
            applied=applied,
            actor=actor,
            base_url=base_url,
        )
        commit()
        if progress is not None:
            progress(len(prepared))
    return report


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _store_new_publishers(
    session: Session, publishers: Publishers, prepared: list[_Prepared], report: Report
) -> None:
    """The publishers this import made for the batch's valid items, inserted in the batch's
    transaction. A worker rendered their reviews before they had an id (given now), and
    with the slug they had then: one that had to be renamed has its reviews rendered again."""
    used = dict.fromkeys(entry.publisher for entry in prepared if entry.key is not None)
    for publisher in used:
        assert publisher is not None
        if publishers.store(session, publisher):
            report.publishers_created.append(
                {
                    "slug": publisher.slug,
                    "name": publisher.name,
                    "url": publisher.url,
                    "domains": publisher.domains,
                }
            )
    for entry in prepared:
        if entry.rows is None or entry.rows.review["publisher_id"] is not None:
            continue
        assert entry.publisher is not None
        if entry.publisher in publishers.renamed:
            entry.rows = entry.refused = None
        else:
            entry.rows.review["publisher_id"] = entry.publisher.id
            if entry.rows.event is not None:
                entry.rows.event["publisher_id"] = entry.publisher.id


# Checking and rendering in worker processes (forked: they inherit the publishers)
#
# What travels back is kept small, as unpickling it is this process's share of the work: per
# item its findings as tuples, the publisher's id, and for a valid item its key, its document
# and its rows with the JSON columns encoded already (``crud.JsonText``).

_IN_FLIGHT = 2  # batches queued beyond one per worker: bounded memory, workers never idle
_worker: tuple[Publishers, str, str] | None = None
# An item's publisher as this process tells a worker: the id of one the worker was forked
# with, the columns of one this import made (which the worker has never seen), or None.
_Told = int | dict[str, Any] | None
_FindingRow = tuple[Literal["error", "warning"], str, str, str, str]
_Packed = tuple[
    list[_FindingRow],
    int | None,
    str | None,
    str | None,
    str | None,
    reviews.NewReview | None,
    list[_FindingRow] | None,
]


def _prepared_in_workers(
    batches: Iterator[list[Item]],
    publishers: Publishers,
    actor: str,
    base_url: str,
    processes: int,
) -> Iterator[list[_Prepared]]:
    context = multiprocessing.get_context("fork")
    with context.Pool(processes, _start_worker, (publishers, actor, base_url)) as pool:
        pending: collections.deque[
            tuple[list[Item], list[Publisher | None] | None, AsyncResult[list[_Packed]]]
        ]
        pending = collections.deque()
        for batch in itertools.chain(batches, [None]):
            if batch is not None:
                # Publishers being created are decided here, the one process that makes them.
                chosen = _chosen(batch, publishers) if publishers.create else None
                told = None if chosen is None else _told(chosen, publishers)
                result = pool.apply_async(_prepare_in_worker, (batch, told))
                pending.append((batch, chosen, result))
            while pending and (batch is None or len(pending) > processes + _IN_FLIGHT):
                items, chosen, result = pending.popleft()
                packed_items = result.get()
                owners = (
                    chosen
                    if chosen is not None
                    else [_owner(packed, publishers) for packed in packed_items]
                )
                yield [
                    _unpacked(item, packed, owner)
                    for item, packed, owner in zip(items, packed_items, owners, strict=True)
                ]


def _chosen(batch: list[Item], publishers: Publishers) -> list[Publisher | None]:
    """Each item's publisher, decided on its repaired node as ``_prepare`` decides (which
    repairs it again in the worker: creating publishers costs this process that much more)."""
    chosen: list[Publisher | None] = []
    for item in batch:
        node = _repaired(item).node if item.node is not None else None
        chosen.append(publishers.choose(node) if node is not None else None)
    return chosen


def _told(chosen: list[Publisher | None], publishers: Publishers) -> list[_Told]:
    columns: dict[Publisher, dict[str, Any]] = {}  # one per publisher: pickled once per batch
    told: list[_Told] = []
    for publisher in chosen:
        if publisher is None or not publishers.made(publisher):
            told.append(None if publisher is None else publisher.id)
            continue
        if publisher not in columns:
            columns[publisher] = {key: getattr(publisher, key) for key in _PUBLISHER_COLUMNS}
        told.append(columns[publisher])
    return told


def _start_worker(publishers: Publishers, actor: str, base_url: str) -> None:
    """A worker forked from a server answers no signal of the server's: its event loop's
    handlers would keep it alive when the pool ends it, or wake the server's loop."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    global _worker
    _worker = (publishers, actor, base_url)


def _prepare_in_worker(batch: list[Item], told: list[_Told] | None) -> list[_Packed]:
    assert _worker is not None
    publishers, actor, base_url = _worker
    deciders = [publishers] * len(batch) if told is None else _deciders(told, publishers)
    return [
        _packed(_prepare(item, publishers=decider, base_url=base_url), actor, base_url)
        for item, decider in zip(batch, deciders, strict=True)
    ]


def _deciders(told: list[_Told], publishers: Publishers) -> list[Publishers]:
    """Each item's publisher as told, as an import for that one publisher (or none)."""
    by_key: dict[int | str | None, Publishers] = {}
    found = []
    for ref in told:
        key = ref["slug"] if isinstance(ref, dict) else ref
        if key not in by_key:
            if isinstance(ref, dict):
                by_key[key] = Publishers(only=Publisher(**ref))
            else:
                by_key[key] = Publishers(only=None if ref is None else publishers.by_id[ref])
        found.append(by_key[key])
    return found


def _packed(entry: _Prepared, actor: str, base_url: str) -> _Packed:
    """An item prepared and rendered as a new review, for the trip back to the writer."""
    findings = [_finding_row(finding) for finding in entry.findings]
    publisher = entry.publisher
    if publisher is None or entry.incoming is None or entry.key is None:
        return findings, publisher.id if publisher else None, None, None, None, None, None
    incoming = entry.incoming.model_copy(update={"external_id": entry.key})
    rows, refused = _render(publisher, incoming, entry.item, actor, base_url)
    if rows is None:
        document = crud.JsonText.of(incoming.document())
    else:
        document = crud.JsonText.of(rows.review["document"])
        rows.review["document"] = rows.revision["document"] = document
        rows.review["findings"] = crud.JsonText.of(rows.review["findings"])
        if rows.revision["source"] is not None:
            # orjson, not the JSON type's json.dumps: the markup kept is read back as JSON and
            # has no stored bytes to match, and it is the largest value of the row.
            rows.revision["source"] = crud.JsonText(orjson.dumps(rows.revision["source"]).decode())
    refused_rows = None if refused is None else [_finding_row(finding) for finding in refused]
    return findings, publisher.id, entry.key, entry.review_id, document, rows, refused_rows


def _owner(packed: _Packed, publishers: Publishers) -> Publisher | None:
    """The publisher a worker chose: they travel as ids, and this process's own rows are the
    ones to write with."""
    publisher_id = packed[1]
    return publishers.by_id.get(publisher_id) if publisher_id is not None else None


def _unpacked(item: Item, packed: _Packed, publisher: Publisher | None) -> _Prepared:
    findings, _publisher_id, key, review_id, document, rows, refused = packed
    return _Prepared(
        item,
        [Finding(*row) for row in findings],
        publisher,
        key=key,
        review_id=review_id,
        rows=rows,
        refused=None if refused is None else [Finding(*row) for row in refused],
        document=document,
    )


def _finding_row(finding: Finding) -> _FindingRow:
    return finding.severity, finding.profile, finding.path, finding.code, finding.message


def _render(
    publisher: Publisher, incoming: ReviewIn, item: Item, actor: str, base_url: str
) -> tuple[reviews.NewReview | None, list[Finding] | None]:
    """A new review's rows, or the errors for which ``reviews.render`` refused it."""
    try:
        rows = reviews.new_review(
            publisher=publisher,
            incoming=incoming,
            actor=actor,
            base_url=base_url,
            source=item.source,
        )
    except Unprocessable as error:
        return None, _render_findings(error, item)
    return rows, None


def _prepare(item: Item, *, publishers: Publishers, base_url: str) -> _Prepared:
    """Everything that needs no database: the publisher, the checks, the native review, the key."""
    if item.node is None:
        return _Prepared(item, [item.problem] if item.problem else [])
    repaired = _repaired(item)
    if repaired.node is None:
        return _Prepared(item, repaired.findings)
    publisher = publishers.choose(repaired.node)
    if publisher is None:
        return _Prepared(item, [*repaired.findings, _unknown_publisher(item)])
    return _checked(item, repaired, publisher, base_url)


def _checked(
    item: Item, repaired: normalise.Normalised, publisher: Publisher, base_url: str
) -> _Prepared:
    """An item of ``publisher``: its findings, and its native review and key when valid."""
    assessed = assess(
        item,
        repaired=repaired,
        domains=publisher.domains,
        language=publisher.language,
        time_zone=publisher.time_zone,
    )
    if assessed.incoming is None:
        return _Prepared(item, assessed.findings, publisher)
    assert repaired.node is not None
    key, review_id = _identity(repaired.node, assessed.incoming, base_url)
    return _Prepared(item, assessed.findings, publisher, assessed.incoming, key, review_id)


@dataclass(slots=True)
class Assessed:
    """What a ClaimReview of the input becomes: its native review (None when refused), and
    the findings that say what was repaired and what refused it."""

    incoming: ReviewIn | None
    findings: list[Finding]


# The validator's errors that still refuse a repaired ClaimReview: it has no claim, article URL
# on the publisher's domains or rating label. Its other errors are warnings on input (vendor
# properties, values of the wrong type that the native model then drops): what the service
# emits is validated again, strictly, when the review is rendered.
_REFUSING = frozenset({"missing-required", "invalid-rating", "invalid-url", "url-off-domain"})
# Native fields without which there is no review: a value of theirs that cannot be stored
# refuses the item; any other is dropped with a warning.
_REQUIRED = frozenset({"url", "claim_reviewed"})
_MAX_DROPPED = 20


def assess(
    item: Item,
    *,
    repaired: normalise.Normalised | None = None,
    profiles: Sequence[str] = validation.PROFILES,
    domains: Sequence[str] | None = None,
    language: str | None = None,
    time_zone: str | None = None,
    fill_language: bool = True,
) -> Assessed:
    """Repair, validate and read one ClaimReview as an import would, for a publisher on
    ``domains`` (None: any) whose language is ``language`` and time zone ``time_zone``.
    Without ``fill_language`` (no publisher is known) a review that names no language is left
    without one."""
    if item.node is None:
        return Assessed(None, [item.problem] if item.problem else [])
    repaired = repaired or _repaired(item)
    if repaired.node is None:
        return Assessed(None, repaired.findings)
    findings = [*repaired.findings]
    for found in validation.validate(repaired.node, profiles=profiles, publisher_domains=domains):
        severity = found.severity
        if severity == "error" and not (found.profile == "google" and found.code in _REFUSING):
            severity = "warning"
        path = repaired.pointer(found.path, base=item.pointer)
        findings.append(Finding(severity, found.profile, path, found.code, found.message))
    if validation.has_errors(findings):
        return Assessed(None, findings)
    native = reader.to_native(repaired.node)
    normalise.localise(native, time_zone)
    if fill_language:
        findings.extend(normalise.fill_language(native, pointer=item.pointer, publisher=language))
    return Assessed(_native(native, item, findings), findings)


def _repaired(item: Item) -> normalise.Normalised:
    assert item.node is not None
    page = item.page or Page()
    return normalise.claim_review(
        item.node,
        pointer=item.pointer,
        references=item.references,
        page_url=page.url,
        page_language=page.language,
        literals_are_text=item.pointer.startswith(("/microdata/", "/rdfa/")),
    )


def _native(native: dict[str, Any], item: Item, findings: list[Finding]) -> ReviewIn | None:
    """The native review; a value it cannot store is dropped with a warning, unless the
    review cannot do without it."""
    for _ in range(_MAX_DROPPED):
        try:
            return ReviewIn.model_validate({**native, "status": "published"})
        except ValidationError as error:
            refused = False
            for problem in error.errors(include_url=False):
                location = problem["loc"]
                message = str(problem["msg"]).removeprefix("Value error, ")
                path = _input_path(item, json_pointer(location))
                if not location or location[0] in _REQUIRED or not _drop(native, location):
                    findings.append(Finding("error", "import", path, "invalid-value", message))
                    refused = True
                else:
                    findings.append(
                        Finding(
                            "warning",
                            "import",
                            path,
                            "value-dropped",
                            f"{message}; the value was left out.",
                        )
                    )
            if refused:
                return None
            native = prune(native)
    return None


def _drop(value: Any, location: Sequence[int | str]) -> bool:
    """Remove the value at ``location`` (a pydantic error location) from a native review."""
    *parents, last = location
    for part in parents:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return False
    if isinstance(value, dict) and last in value:
        del value[last]
        return True
    if isinstance(value, list) and isinstance(last, int) and last < len(value):
        value[last] = None  # pruned: the indexes of the other errors still hold
        return True
    return False


def _incoming(entry: _Prepared, base_url: str) -> ReviewIn:
    """A valid item's native review: a worker's entry does not carry it, so it is made again
    (the same checks give the same review)."""
    if entry.incoming is None:
        assert entry.publisher is not None
        repaired = _repaired(entry.item)
        entry.incoming = _checked(entry.item, repaired, entry.publisher, base_url).incoming
    assert entry.incoming is not None
    return entry.incoming


def _unknown_publisher(item: Item) -> Finding:
    return Finding(
        "error",
        "import",
        item.pointer + "/author",
        "unknown-publisher",
        "No publisher matches this ClaimReview's author (url or name) or url: "
        "import it with ?publisher= (or --publisher).",
    )


def _input_path(item: Item, native_path: str) -> str:
    """The place in the submitted node a native field was read from (its nearest ancestor)."""
    read_from: dict[str, str] = {}
    for pointer in _pointers(item.node, "", 0):
        read_from.setdefault(jsonld.native_pointer(pointer), pointer)
    path = native_path
    while path and path not in read_from:
        path = path.rsplit("/", 1)[0]
    return item.pointer + read_from.get(path, "")


def _pointers(value: Any, prefix: str, depth: int) -> Iterator[str]:
    if depth > _MAX_DEPTH:
        return
    entries: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        entries = value.items()
    elif isinstance(value, list):
        entries = enumerate(value)
    else:
        return
    for key, item in entries:
        pointer = prefix + json_pointer([key])
        yield pointer
        yield from _pointers(item, pointer, depth + 1)


def _identity(node: dict[str, Any], incoming: ReviewIn, base_url: str) -> tuple[str, str | None]:
    """The external_id a ClaimReview is stored under, and the review id its @id names, if ours."""
    node_id = node.get("@id")
    own_prefix = f"{base_url}/v1/claim-reviews/"
    review_id = None
    if isinstance(node_id, str):
        node_id = node_id.strip()
        if node_id.startswith(own_prefix) and is_review_id(node_id[len(own_prefix) :]):
            review_id = node_id[len(own_prefix) :]
        elif _IRI.fullmatch(node_id) and not node_id.startswith("_:"):
            if len(node_id) <= _MAX_EXTERNAL_ID:
                return node_id, None
            return "sha256:" + hashlib.sha256(node_id.encode()).hexdigest(), None
    content = f"{incoming.url}\n{incoming.claim_reviewed or ''}"
    return "import:" + hashlib.sha256(content.encode()).hexdigest()[:40], review_id


@dataclass(slots=True)
class _Outcome:
    index: int
    status: Status
    review_id: str | None
    findings: list[Finding]


@dataclass(frozen=True, slots=True)
class _Create:
    outcome: _Outcome
    entry: _Prepared
    rows: reviews.NewReview


def _write(
    *,
    session: Session,
    prepared: list[_Prepared],
    report: Report,
    applied: dict[str, int],
    actor: str,
    base_url: str,
) -> None:
    """Existing reviews are compared and updated one by one; the batch's new reviews are
    rendered as they come and inserted together at the end (``_insert``)."""
    by_key, by_id = _existing(session, [entry for entry in prepared if entry.key is not None])
    planned: dict[tuple[int, str], str] = {}  # (publisher, external_id) -> review created here
    creates: list[_Create] = []
    outcomes: list[_Outcome] = []
    for entry in prepared:
        index = entry.item.index
        if entry.publisher is None or entry.key is None:
            outcomes.append(_Outcome(index, "invalid", None, entry.findings))
            continue
        publisher = entry.publisher
        review = by_id.get(entry.review_id) if entry.review_id else None
        if review is not None and review.publisher_id == publisher.id:
            external_id = review.external_id
        else:
            external_id = entry.key
            review = by_key.get((publisher.id, external_id))
        review_id = review.id if review is not None else planned.get((publisher.id, entry.key))
        if review_id is not None and review_id in applied:
            # The same review twice in one input (say JSON-LD and microdata on one page):
            # applying both would flip it between them on every import.
            duplicate = _duplicate(entry.item, applied[review_id])
            outcomes.append(_Outcome(index, "unchanged", review_id, [*entry.findings, duplicate]))
            continue
        if review is None:
            rows, refused = entry.rows, entry.refused
            if rows is None and refused is None:
                incoming = _incoming(entry, base_url)
                incoming = incoming.model_copy(update={"external_id": external_id})
                rows, refused = _render(publisher, incoming, entry.item, actor, base_url)
            if rows is None:
                outcomes.append(
                    _Outcome(index, "invalid", None, [*entry.findings, *(refused or [])])
                )
                continue
            outcome = _Outcome(index, "created", rows.id, entry.findings)
            creates.append(_Create(outcome, entry, rows))
            outcomes.append(outcome)
            applied[rows.id] = index
            planned[(publisher.id, entry.key)] = rows.id
            continue
        if _unchanged(entry, review):
            applied[review.id] = index
            outcomes.append(_Outcome(index, "unchanged", review.id, entry.findings))
            continue
        status, review, findings = _upsert_one(
            session=session,
            review=review,
            publisher=publisher,
            incoming=_incoming(entry, base_url).model_copy(update={"external_id": external_id}),
            entry=entry,
            actor=actor,
            base_url=base_url,
        )
        if review is not None:
            applied[review.id] = index
            by_id[review.id] = review
            if review.external_id is not None:
                by_key[(publisher.id, review.external_id)] = review
        outcomes.append(_Outcome(index, status, review.id if review else None, findings))
    _insert(session=session, creates=creates, actor=actor, base_url=base_url)
    for outcome in outcomes:
        report.add(outcome.index, outcome.status, outcome.review_id, outcome.findings)


def _insert(*, session: Session, creates: list[_Create], actor: str, base_url: str) -> None:
    """The batch's new reviews in one SAVEPOINT; when the database refuses that, each in its
    own, so that one bad item (or one a concurrent import stored first) never sinks the rest."""
    if not creates:
        return
    try:
        with session.begin_nested():
            _insert_rows(session, [create.rows for create in creates])
        return
    except (IntegrityError, DataError):
        pass
    for create in creates:
        outcome, entry = create.outcome, create.entry
        try:
            with session.begin_nested():
                _insert_rows(session, [create.rows])
        except IntegrityError:
            # Another import stored this external_id first: update that review instead.
            assert entry.publisher is not None
            external_id = create.rows.review["external_id"]
            review = crud.get_review_by_external_id(
                session=session,
                publisher_id=entry.publisher.id,
                external_id=external_id,
                for_update=True,
            )
            if review is None:
                raise
            status, review, findings = _upsert_one(
                session=session,
                review=review,
                publisher=entry.publisher,
                incoming=_incoming(entry, base_url).model_copy(update={"external_id": external_id}),
                entry=entry,
                actor=actor,
                base_url=base_url,
            )
            outcome.status, outcome.findings = status, findings
            outcome.review_id = review.id if review else None
        except DataError as error:
            outcome.status, outcome.review_id = "invalid", None
            outcome.findings = [*outcome.findings, _refused(entry.item, error)]


def _unchanged(entry: _Prepared, review: ClaimReview) -> bool:
    """Whether a worker's item is its stored, published review as it is: what
    ``reviews.replace`` would find, told without preparing the item again."""
    return (
        entry.document is not None
        and review.status == "published"
        and review.external_id == entry.key
        and orjson.loads(str(entry.document)) == review.document
    )


def _insert_rows(session: Session, rows: list[reviews.NewReview]) -> None:
    crud.insert_reviews(
        session=session,
        reviews=[row.review for row in rows],
        revisions=[row.revision for row in rows],
        events=[row.event for row in rows if row.event is not None],
        tags={row.id: row.tag_keys for row in rows},
        images={row.id: row.images for row in rows},
    )
    if any(row.images for row in rows):
        image_queue.notify_on_commit(session)


def _existing(
    session: Session, prepared: list[_Prepared]
) -> tuple[dict[tuple[int, str], ClaimReview], dict[str, ClaimReview]]:
    """The batch's reviews that exist already, by (publisher, external_id) and by id: one query."""
    keys: dict[int, set[str]] = defaultdict(set)
    ids: set[str] = set()
    for entry in prepared:
        assert entry.publisher is not None and entry.key is not None
        keys[entry.publisher.id].add(entry.key)
        if entry.review_id:
            ids.add(entry.review_id)
    rows = crud.lock_reviews(session=session, external_ids=keys, ids=ids)
    by_key = {(row.publisher_id, row.external_id): row for row in rows if row.external_id}
    return by_key, {row.id: row for row in rows}


def _upsert_one(
    *,
    session: Session,
    review: ClaimReview | None,
    publisher: Publisher,
    incoming: ReviewIn,
    entry: _Prepared,
    actor: str,
    base_url: str,
) -> tuple[Status, ClaimReview | None, list[Finding]]:
    findings = entry.findings
    for attempt in range(2):
        try:
            with session.begin_nested():
                if review is None:
                    created = reviews.create(
                        session=session,
                        publisher=publisher,
                        incoming=incoming,
                        actor=actor,
                        base_url=base_url,
                        source=entry.item.source,
                    )
                    return "created", created, findings
                if review.status == "retracted":
                    return "unchanged", review, [*findings, _still_retracted(entry.item)]
                changed = reviews.replace(
                    session=session,
                    review=review,
                    publisher=publisher,
                    incoming=incoming,
                    actor=actor,
                    base_url=base_url,
                    source=entry.item.source,
                )
                return ("updated" if changed else "unchanged"), review, findings
        except Unprocessable as error:
            return "invalid", None, [*findings, *_render_findings(error, entry.item)]
        except IntegrityError:
            # Another import stored this external_id first: update that review instead.
            if attempt or incoming.external_id is None:
                raise
            review = crud.get_review_by_external_id(
                session=session,
                publisher_id=publisher.id,
                external_id=incoming.external_id,
                for_update=True,
            )
        except DataError as error:
            return "invalid", None, [*findings, _refused(entry.item, error)]
    raise AssertionError("unreachable")


def _refused(item: Item, error: DataError) -> Finding:
    return Finding(
        "error",
        "import",
        item.pointer,
        "invalid-value",
        f"The database refused a value: {error.orig}",
    )


def _still_retracted(item: Item) -> Finding:
    return Finding(
        "warning",
        "import",
        item.pointer,
        "retracted",
        "This review was retracted and stays retracted; re-publish it with "
        "PUT /v1/claim-reviews/by-external-id/{external_id}.",
    )


def _duplicate(item: Item, first: int) -> Finding:
    return Finding(
        "warning",
        "import",
        item.pointer,
        "duplicate",
        f"Item {first} of this input is the same review (same key); only the first was applied.",
    )


def _render_findings(error: Unprocessable, item: Item) -> list[Finding]:
    """The errors ``reviews.render`` refused to publish, pointed back into the input."""
    found = error.extra.get("findings") or [
        {"severity": "error", "profile": "import", "code": "invalid-value", **problem}
        for problem in error.errors
    ]
    return [
        Finding(
            "error" if entry.get("severity") == "error" else "warning",
            str(entry.get("profile", "import")),
            _input_path(item, str(entry.get("path", ""))),
            str(entry.get("code", "invalid-value")),
            str(entry.get("message", "")),
        )
        for entry in found
        if entry.get("severity") == "error"
    ]
