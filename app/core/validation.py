"""Validate ClaimReview JSON-LD: one validator, two profiles (README: "Lenient in, strict out").

``schemaorg``
    Is it schema.org? Every ``@type`` and property exists in the vocabulary derived from
    schema.org's own definitions (``schemas/schemaorg-vocabulary.json``), each property is used
    on a type in its domain, and each value fits its range: a nested object must be of a range
    type or a subtype, a number needs Number, a string must look like the URL, date or number the
    range asks for. A string where a Thing is expected is accepted, as schema.org allows.
``google``
    Would Google read it as a fact-check (Fact Check Explorer, the Fact Check Tools API)? Checked
    on every ClaimReview node: the required claimReviewed, reviewRating.alternateName and http(s)
    url (on the publisher's domains when they are given), a coherent numeric scale, and Google's
    recommended fields (author, itemReviewed Claim with its author, appearance and date).
    On every MediaReview node, the fields of Google's Fact Check Markup Tool for media: the
    required mediaAuthenticityCategory (one of the six MediaManipulationRatingEnumeration
    members), url (as above) and the media's URL (a contentUrl or embedUrl of an appearance);
    recommended: author, datePublished, itemReviewed as a MediaReviewItem, the original media's
    link for media transformed, edited or out of context, and the original context's
    description for media out of context. A reviewRating, when given, is checked as above.

A document is a node object, an array of nodes, an object with ``@graph``, or a ``DataFeed``
whose ``dataFeedElement`` items (or their ``item``) are ClaimReviews; nested nodes are checked
wherever they are. Each finding's ``path`` is a JSON pointer into the submitted document, and
findings come in document order, then profile order. Problems with the document's shape (not an
object, no schema.org ``@context``, nulls, nesting deeper than 64) are reported once, under
``schemaorg`` when it is selected, otherwise under ``google``. No JSON value makes it raise.

Finding codes (E error, W warning):

    shape       invalid-node E, empty-document E, missing-context E, invalid-context E,
                null-value W, too-deep E
    schemaorg   unknown-type E (W for a type outside schema.org), invalid-type E, invalid-id E,
                unknown-property E (W for a property outside schema.org),
                property-not-in-domain E, unexpected-value-type E, invalid-url E, invalid-date E,
                numeric-string W, superseded-term W, unsupported-keyword W
    google      missing-required E, invalid-rating E, invalid-url E, url-off-domain E,
                invalid-authenticity E,
                invalid-rating-scale E, rating-out-of-range E, rating-not-numeric W,
                missing-rating-scale W, worst-rating-below-one W, missing-recommended W,
                item-reviewed-not-claim W, item-reviewed-not-media W, claim-reviewed-too-long W,
                claim-contains-verdict W, date-in-future W
"""

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson

from app.core.domains import clean, on_domains

PROFILES = ("schemaorg", "google")

_VOCABULARY_FILE = Path(__file__).resolve().parents[1] / "schemas" / "schemaorg-vocabulary.json"
_MAX_DEPTH = 64
_MAX_CLAIM_LENGTH = 75
# How markup writes a schema.org term: plain, prefixed, or as an IRI (in any letter case).
_SCHEMA_PREFIXES = (
    "https://schema.org/",
    "http://schema.org/",
    "https://www.schema.org/",
    "http://www.schema.org/",
    "schema:",
)
_CONTEXTS = frozenset(
    {"https://schema.org", "https://schema.org/", "http://schema.org", "http://schema.org/"}
)
_VOCABS = frozenset({"https://schema.org/", "http://schema.org/"})
_NOT_PROPERTIES = frozenset({"@context", "@id", "@type"})
# How a string or number is checked against each DataType; other DataTypes (Quantity,
# Duration, ...) are free text.
_LITERAL_KINDS = {
    "URL": "url",
    "Date": "date",
    "DateTime": "datetime",
    "Time": "time",
    "Number": "number",
    "Float": "number",
    "Integer": "integer",
    "Boolean": "boolean",
}

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
_SAFE_URL = re.compile(r"[^\s\\\x00-\x1f\x7f]+")
_HOST = re.compile(r"(?:[\w-]+\.)*[\w-]+|[0-9a-f.]*:[0-9a-f:.]*")
# An http(s) URL with a plain host name, a valid port if any, and nothing _SAFE_URL refuses.
_PLAIN_HTTP_URL = re.compile(
    r"https?://([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5]?[0-9]{1,4}))?"
    r"(?:[/?#][^\s\\\x00-\x1f\x7f]*)?"
)
_DATE = re.compile(r"[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?")
_OFFSET = r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?" + _OFFSET)
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T" + _TIME.pattern + ")?")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_VERDICT_SEPARATORS = ":-\u2013\u2014"
# The members of schema.org's MediaManipulationRatingEnumeration: a MediaReview's categories.
MEDIA_AUTHENTICITY = (
    "OriginalMediaContent",
    "TransformedContent",
    "EditedOrCroppedContent",
    "DecontextualizedContent",
    "StagedContent",
    "SatireOrParodyContent",
)
# Categories of media of which an original exists, to link to.
_ORIGINAL_EXISTS = frozenset(
    {"TransformedContent", "EditedOrCroppedContent", "DecontextualizedContent"}
)
_DATE_WORDS = {"date": "date", "datetime": "date-time", "time": "time"}

Location = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Literal["error", "warning"]
    profile: str
    path: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class _Range:
    expected: str  # for messages: "Text or URL"
    classes: frozenset[str]  # range types that are not DataTypes
    kinds: frozenset[str]  # literal kinds the DataTypes allow: "text", "url", "date", ...
    open: bool  # no range, or one outside the vocabulary: nothing to check


_OPEN = _Range("anything", frozenset(), frozenset(), True)
_MAX_REMEMBERED = 10_000
_Problem = tuple[Literal["error", "warning"], str, str]  # severity, code, message
_PropertyCheck = tuple[tuple[_Problem, ...], _Range]


@dataclass(frozen=True, slots=True)
class _Property:
    domains: frozenset[str]
    range: _Range


class _Vocabulary:
    def __init__(self, data: dict[str, Any]) -> None:
        self.types: dict[str, list[str]] = data["types"]
        self.superseded: dict[str, str] = data["superseded"]
        datatypes = frozenset(data["datatypes"])
        self.properties = {
            name: _Property(frozenset(item["domains"]), self._range(item["ranges"], datatypes))
            for name, item in data["properties"].items()
        }
        self.lower_types = {name.lower(): name for name in self.types}
        # The types a node may name without a finding about its @type.
        self.plain_types = frozenset(self.types.keys() - self.superseded.keys())
        self.lower_properties = {name.lower(): name for name in self.properties}
        self._ancestors: dict[str, frozenset[str]] = {}
        self._property_checks: dict[tuple[str, tuple[str, ...]], _PropertyCheck] = {}

    def _range(self, ranges: list[str], datatypes: frozenset[str]) -> _Range:
        if not ranges or any(name not in self.types for name in ranges):
            return _OPEN
        return _Range(
            expected=" or ".join(ranges),
            classes=frozenset(name for name in ranges if name not in datatypes),
            kinds=frozenset(
                _LITERAL_KINDS.get(name, "text") for name in ranges if name in datatypes
            ),
            open=False,
        )

    def ancestors(self, names: Iterable[str]) -> frozenset[str]:
        """The types and all their superclasses."""
        found: frozenset[str] = frozenset()
        for name in names:
            if name not in self._ancestors:
                seen, todo = {name}, [name]
                while todo:
                    for parent in self.types.get(todo.pop(), ()):
                        if parent not in seen:
                            seen.add(parent)
                            todo.append(parent)
                self._ancestors[name] = frozenset(seen)
            found |= self._ancestors[name]
        return found

    def check_property(self, key: str, names: tuple[str, ...]) -> "_PropertyCheck":
        """What is wrong with property ``key`` on a node of the types ``names``, and its range.

        Remembered: a document repeats a few dozen (property, types) pairs, and checking one
        afresh is a good part of a validation. The memory is bounded, as terms are input.
        """
        found = self._property_checks.get((key, names))
        if found is None:
            if len(self._property_checks) >= _MAX_REMEMBERED:
                self._property_checks.clear()
            found = self._property_checks[(key, names)] = self._check_property(key, names)
        return found

    def _check_property(self, key: str, names: tuple[str, ...]) -> "_PropertyCheck":
        name, external = _local_name(key)
        if external:
            message = f"{_show(key)} is not a schema.org property and was not checked."
            return (("warning", "unknown-property", message),), _OPEN
        found = self.properties.get(name)
        if found is None:
            message = f"{_show(name)} is not a schema.org property.{self.suggest_property(name)}"
            return (("error", "unknown-property", message),), _OPEN
        problems: list[_Problem] = []
        if name in self.superseded:
            problems.append(("warning", "superseded-term", self.superseded_message(name)))
        ancestors = self.ancestors(type_name for type_name in names if type_name in self.types)
        if ancestors and found.domains and not ancestors & found.domains:
            types = "/".join(type_name for type_name in names if type_name in self.types)
            message = (
                f"{name} is not a property of {types}; schema.org defines it for "
                f"{', '.join(sorted(found.domains))}."
            )
            problems.append(("error", "property-not-in-domain", message))
        return tuple(problems), found.range

    def superseded_message(self, name: str) -> str:
        return f"schema.org has superseded {name}; use {self.superseded[name]}."

    def suggest_type(self, name: str) -> str:
        return _suggestion(name, self.lower_types, self.types)

    def suggest_property(self, name: str) -> str:
        return _suggestion(name, self.lower_properties, self.properties)


@cache
def _vocabulary() -> _Vocabulary:
    return _Vocabulary(orjson.loads(_VOCABULARY_FILE.read_bytes()))


def validate(
    document: Any,
    *,
    profiles: Iterable[str] = PROFILES,
    publisher_domains: Sequence[str] | None = None,
) -> list[Finding]:
    """Check a JSON-LD document against the chosen profiles and return what is wrong with it.

    ``publisher_domains``, when given, are the hosts the ClaimReview ``url`` must be on (or on a
    subdomain of); an empty sequence allows none. Raises ValueError only for an unknown profile.
    """
    selected = _select(profiles)
    if not selected:
        return []
    walker = _Walker(selected, publisher_domains)
    walker.document(document)
    return walker.findings(document)


def canonical_type(name: str) -> str | None:
    """The schema.org type ``name`` names in any letter case (``claimReview``), or None."""
    return _vocabulary().lower_types.get(name.lower())


def canonical_property(name: str) -> str | None:
    """The schema.org property ``name`` names in any letter case (``ClaimReviewed``), or None."""
    return _vocabulary().lower_properties.get(name.lower())


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(finding.severity == "error" for finding in findings)


def url_on_domains(url: str, domains: Sequence[str]) -> bool:
    """Whether ``url`` is an http(s) URL whose host is one of ``domains`` or a subdomain of one
    (within its registrable domain: ``app.core.domains``).

    Hosts compare case-insensitively and without a trailing dot; "evilpolygraph.info" is not on
    "polygraph.info", nor is any site on "co.uk". URLs a browser could read differently
    (backslashes, whitespace) never match.
    """
    host = _http_host(url) if isinstance(url, str) else None
    return host is not None and on_domains(host, _domains(domains))


class _Walker:
    """One pass over the document, collecting findings for the selected profiles."""

    def __init__(self, selected: frozenset[str], domains: Sequence[str] | None) -> None:
        self.vocabulary = _vocabulary() if "schemaorg" in selected else None
        self.plain_types = _vocabulary().plain_types
        self.check_google = "google" in selected
        self.shape_profile = "schemaorg" if "schemaorg" in selected else "google"
        self.domains = None if domains is None else _domains(domains)
        self.latest_date = datetime.now(UTC).date() + timedelta(days=1)  # any time zone's today
        self.entries: list[tuple[Location, int, Finding]] = []

    def report(
        self,
        profile: str,
        severity: Literal["error", "warning"],
        path: Location,
        code: str,
        message: str,
    ) -> None:
        self.entries.append(
            (
                path,
                PROFILES.index(profile),
                Finding(severity, profile, _pointer(path), code, message),
            )
        )

    def shape(
        self, severity: Literal["error", "warning"], path: Location, code: str, msg: str
    ) -> None:
        self.report(self.shape_profile, severity, path, code, msg)

    def schemaorg(
        self, severity: Literal["error", "warning"], path: Location, code: str, msg: str
    ) -> None:
        self.report("schemaorg", severity, path, code, msg)

    def google(
        self, severity: Literal["error", "warning"], path: Location, code: str, msg: str
    ) -> None:
        self.report("google", severity, path, code, msg)

    def findings(self, document: Any) -> list[Finding]:
        if len(self.entries) > 1:
            self.entries.sort(key=lambda entry: (_position(document, entry[0]), entry[1]))
        return [finding for _, _, finding in self.entries]

    # Structure

    def document(self, document: Any) -> None:
        if isinstance(document, list):
            if not document:
                self.shape("error", (), "empty-document", "The document holds no JSON-LD nodes.")
            for index, item in enumerate(document):
                self.root(item, (index,))
        else:
            self.root(document, ())

    def root(self, item: Any, path: Location) -> None:
        if isinstance(item, dict):
            self.node(item, path, root=True)
        else:
            self.invalid_node(item, path)

    def invalid_node(self, item: Any, path: Location) -> None:
        self.shape(
            "error", path, "invalid-node", f"Expected a JSON-LD node object, not {_what(item)}."
        )

    def graph(self, graph: Any, path: Location) -> None:
        if isinstance(graph, dict):
            self.node(graph, path, root=False)
        elif isinstance(graph, list) and graph:
            for index, item in enumerate(graph):
                if isinstance(item, dict):
                    self.node(item, (*path, index), root=False)
                else:
                    self.invalid_node(item, (*path, index))
        elif isinstance(graph, list):
            self.shape("error", path, "empty-document", "@graph holds no JSON-LD nodes.")
        else:
            self.invalid_node(graph, path)

    def context(self, node: dict[str, Any], path: Location, *, root: bool) -> None:
        if "@context" not in node:
            if root:
                self.shape(
                    "error",
                    path,
                    "missing-context",
                    'A top-level node needs "@context": "https://schema.org".',
                )
        elif not _is_schema_context(node["@context"]):
            self.shape(
                "error",
                (*path, "@context"),
                "invalid-context",
                'The @context must be "https://schema.org".',
            )

    # Nodes and values

    def node(self, node: dict[str, Any], path: Location, *, root: bool) -> tuple[str, ...]:
        """Check one node object and everything in it; return its type names.

        Runs for every node of every document validated (twice per review imported): the
        commonest cases (one known type, text values) are checked inline."""
        if root or "@context" in node:
            self.context(node, path, root=root)
        raw = node.get("@type")
        vocabulary = self.vocabulary
        if type(raw) is str and raw in self.plain_types:  # as type_names reads it
            names: tuple[str, ...] = (raw,)
            if "@id" in node and vocabulary is not None and type(node["@id"]) is not str:
                self.check_id_and_type(node, path, vocabulary)
        else:
            names = tuple(type_names(raw))
            if vocabulary is not None:
                self.check_id_and_type(node, path, vocabulary)
        for key, value in node.items():
            if key in _NOT_PROPERTIES:
                continue
            if key[:1] == "@":
                if key == "@graph" and root:
                    self.graph(value, (*path, key))
                elif vocabulary is not None:
                    self.schemaorg(
                        "warning",
                        (*path, key),
                        "unsupported-keyword",
                        f"The JSON-LD keyword {key} is not supported here and was not checked.",
                    )
                continue
            if vocabulary is None:
                value_range = _OPEN
            else:
                problems, value_range = vocabulary.check_property(key, names)
                for severity, code, message in problems:
                    self.schemaorg(severity, (*path, key), code, message)
            if type(value) is str:  # as value() would, without the call
                if not (value_range.open or "text" in value_range.kinds):
                    self.string(value, value_range, (*path, key), key)
            else:
                self.value(value, value_range, (*path, key), key)
        if self.check_google and "ClaimReview" in names:
            self.claim_review(node, path)
        elif self.check_google and "MediaReview" in names:
            self.media_review(node, path)
        return names

    def check_id_and_type(
        self, node: dict[str, Any], path: Location, vocabulary: _Vocabulary
    ) -> None:
        if "@id" in node and not isinstance(node["@id"], str):
            self.schemaorg("error", (*path, "@id"), "invalid-id", "@id must be a string (an IRI).")
        if "@type" not in node:
            return
        raw = node["@type"]
        items = list(enumerate(raw)) if isinstance(raw, list) else [(None, raw)]
        for index, item in items:
            item_path = (*path, "@type") if index is None else (*path, "@type", index)
            if not isinstance(item, str):
                self.schemaorg(
                    "error",
                    item_path,
                    "invalid-type",
                    f"@type must be a type name or a list of them, not {_what(item)}.",
                )
                continue
            name, external = _local_name(item)
            if external:
                self.schemaorg(
                    "warning",
                    item_path,
                    "unknown-type",
                    f"{_show(item)} is not a schema.org type and was not checked.",
                )
            elif name not in vocabulary.types:
                self.schemaorg(
                    "error",
                    item_path,
                    "unknown-type",
                    f"{_show(name)} is not a schema.org type.{vocabulary.suggest_type(name)}",
                )
            elif name in vocabulary.superseded:
                self.superseded(item_path, name, vocabulary)

    def superseded(self, path: Location, name: str, vocabulary: _Vocabulary) -> None:
        self.schemaorg("warning", path, "superseded-term", vocabulary.superseded_message(name))

    def value(self, value: Any, value_range: _Range, path: Location, key: str) -> None:
        if type(value) is str:  # the commonest value first: the same checks as below
            if not value_range.open:
                self.string(value, value_range, path, key)
        elif value is None:
            self.shape("warning", path, "null-value", f"{key} is null; leave it out instead.")
        elif isinstance(value, list | dict) and len(path) > _MAX_DEPTH:
            self.shape("error", path, "too-deep", f"Nesting deeper than {_MAX_DEPTH} levels.")
        elif isinstance(value, list):  # JSON-LD flattens nested arrays
            for index, item in enumerate(value):
                self.value(item, value_range, (*path, index), key)
        elif isinstance(value, dict) and "@value" in value:
            self.value(value["@value"], value_range, (*path, "@value"), key)
        elif isinstance(value, dict):
            names = self.node(value, path, root=False)
            if not value_range.open:
                self.node_range(value, names, value_range, path, key)
        elif not value_range.open:
            self.literal(value, value_range, path, key)

    def node_range(
        self,
        node: dict[str, Any],
        names: tuple[str, ...],
        value_range: _Range,
        path: Location,
        key: str,
    ) -> None:
        vocabulary = self.vocabulary
        assert vocabulary is not None  # ranges are open without a vocabulary
        known = [name for name in names if name in vocabulary.types]
        if names and not known:
            return  # reported as unknown-type already
        if known:
            fits = bool(vocabulary.ancestors(known) & value_range.classes)
            found = f"a {'/'.join(known)} object"
        elif node.keys() <= {"@id"}:
            fits = bool(value_range.classes) or "url" in value_range.kinds
            found = "a node reference"
        else:
            fits = bool(value_range.classes)
            found = "an object without @type"
        if not fits:
            self.schemaorg(
                "error",
                path,
                "unexpected-value-type",
                f"{key} expects {value_range.expected}, not {found}.",
            )

    def literal(self, value: Any, value_range: _Range, path: Location, key: str) -> None:
        kinds = value_range.kinds
        if isinstance(value, str):
            self.string(value, value_range, path, key)
            return
        if isinstance(value, bool):
            fits = "boolean" in kinds
        elif isinstance(value, int):
            fits = "number" in kinds or "integer" in kinds
        elif isinstance(value, float):
            fits = math.isfinite(value) and (
                "number" in kinds or ("integer" in kinds and value.is_integer())
            )
        else:
            fits = False
        if not fits:
            self.schemaorg(
                "error",
                path,
                "unexpected-value-type",
                f"{key} expects {value_range.expected}, not {_what(value)}.",
            )

    def string(self, text: str, value_range: _Range, path: Location, key: str) -> None:
        kinds = value_range.kinds
        if (
            "text" in kinds
            or ("url" in kinds and _is_absolute_url(text))
            or ("date" in kinds and _is_date(text))
            or ("datetime" in kinds and _is_datetime(text))
            or ("time" in kinds and _is_time(text))
            or ("boolean" in kinds and _local_name(text)[0].lower() in ("true", "false"))
        ):
            return
        if ("number" in kinds or "integer" in kinds) and _NUMBER.fullmatch(text.strip()):
            self.schemaorg(
                "warning",
                path,
                "numeric-string",
                f"{key} expects a Number; write {text.strip()} as a JSON number, not a string.",
            )
            return
        if value_range.classes:
            return  # text standing in for a Thing, as schema.org allows
        if kinds == {"url"}:
            code, expected = "invalid-url", "an absolute URL"
        elif kinds <= _DATE_WORDS.keys():
            words = (word for kind, word in _DATE_WORDS.items() if kind in kinds)
            code, expected = "invalid-date", "an ISO 8601 " + " or ".join(words)
        else:
            code, expected = "unexpected-value-type", value_range.expected
        self.schemaorg("error", path, code, f"{key} expects {expected}, not {_show(text)}.")

    # Google's ClaimReview profile

    def claim_review(self, node: dict[str, Any], path: Location) -> None:
        labels = self.ratings(node, path)
        claims = _texts(node.get("claimReviewed"), (*path, "claimReviewed"))
        if not claims:
            self.google(
                "error",
                (*path, "claimReviewed"),
                "missing-required",
                "claimReviewed is required: the claim that was checked, as text.",
            )
        for claim, claim_path in claims:
            if len(claim) > _MAX_CLAIM_LENGTH:
                self.google(
                    "warning",
                    claim_path,
                    "claim-reviewed-too-long",
                    f"claimReviewed has {len(claim)} characters; Google recommends at most "
                    f"{_MAX_CLAIM_LENGTH}.",
                )
            for label in labels:
                if _starts_with_verdict(claim, label):
                    self.google(
                        "warning",
                        claim_path,
                        "claim-contains-verdict",
                        f"claimReviewed starts with the verdict {_show(label)}; state only the "
                        "claim and leave the verdict to reviewRating.alternateName.",
                    )
                    break
        self.article_url(node, path)
        self.named(node.get("author"), (*path, "author"), "author")
        self.item_reviewed(node.get("itemReviewed"), (*path, "itemReviewed"))
        self.date_published(node, path)

    def media_review(self, node: dict[str, Any], path: Location) -> None:
        """Google's MediaReview: what its Fact Check Markup Tool asks of a fact-check of media."""
        categories = _entries(
            node.get("mediaAuthenticityCategory"), (*path, "mediaAuthenticityCategory")
        )
        if not categories:
            self.google(
                "error",
                (*path, "mediaAuthenticityCategory"),
                "missing-required",
                "mediaAuthenticityCategory is required: how the media was manipulated, e.g. "
                '"TransformedContent".',
            )
        named: set[str] = set()
        for category, category_path in categories:
            name = category.get("@id") if isinstance(category, dict) else category
            term = local_term(name.strip()) if isinstance(name, str) else None
            if term not in MEDIA_AUTHENTICITY:
                self.google(
                    "error",
                    category_path,
                    "invalid-authenticity",
                    f"mediaAuthenticityCategory must be one of {', '.join(MEDIA_AUTHENTICITY)}, "
                    f"not {_what(category)}.",
                )
            else:
                named.add(term)
        if "reviewRating" in node:
            self.ratings(node, path)
        self.article_url(node, path)
        self.named(node.get("author"), (*path, "author"), "author")
        self.media_item(node.get("itemReviewed"), (*path, "itemReviewed"))
        if named & _ORIGINAL_EXISTS and not _entries(node.get("originalMediaLink"), ()):
            self.google(
                "warning",
                (*path, "originalMediaLink"),
                "missing-recommended",
                "originalMediaLink (where the original media is) is recommended for media that "
                "was transformed, edited or cropped, or taken out of context.",
            )
        if "DecontextualizedContent" in named and not _texts(
            node.get("originalMediaContextDescription"), ()
        ):
            self.google(
                "warning",
                (*path, "originalMediaContextDescription"),
                "missing-recommended",
                "originalMediaContextDescription (the media's original context) is recommended "
                "for DecontextualizedContent.",
            )
        self.date_published(node, path)

    def media_item(self, value: Any, path: Location) -> None:
        items = _entries(value, path)
        appearances: list[tuple[Any, Location]] = []
        for item, item_path in items:
            names = type_names(item.get("@type")) if isinstance(item, dict) else []
            if "MediaReviewItem" in names:
                appearances += _entries(
                    item.get("mediaItemAppearance"), (*item_path, "mediaItemAppearance")
                )
                continue
            self.google(
                "warning",
                item_path,
                "item-reviewed-not-media",
                "itemReviewed should be a MediaReviewItem whose mediaItemAppearance are the "
                "ImageObjects, VideoObjects or AudioObjects reviewed.",
            )
            appearances.append((item, item_path))  # the Markup Tool's own shape: the media
        located = False
        for appearance, appearance_path in appearances:
            if not isinstance(appearance, dict):
                continue
            if _entries(appearance.get("contentUrl"), ()) or _entries(
                appearance.get("embedUrl"), ()
            ):
                located = True
            else:
                self.google(
                    "warning",
                    (*appearance_path, "contentUrl"),
                    "missing-recommended",
                    "contentUrl (where this copy of the media was posted) is recommended.",
                )
        if not located:
            self.google(
                "error",
                path,
                "missing-required",
                "The media's URL is required: an itemReviewed MediaReviewItem whose "
                "mediaItemAppearance has a contentUrl (or embedUrl).",
            )

    def date_published(self, node: dict[str, Any], path: Location) -> None:
        dates = _texts(node.get("datePublished"), (*path, "datePublished"))
        if not dates:
            self.google(
                "warning",
                (*path, "datePublished"),
                "missing-recommended",
                "datePublished (when the fact-check was published) is recommended.",
            )
        for text, date_path in dates:
            published = _date_of(text)
            if published is not None and published > self.latest_date:
                self.google(
                    "warning",
                    date_path,
                    "date-in-future",
                    f"datePublished {_show(text)} is in the future.",
                )

    def ratings(self, node: dict[str, Any], path: Location) -> list[str]:
        """Check reviewRating; return its labels (alternateName)."""
        ratings = _entries(node.get("reviewRating"), (*path, "reviewRating"))
        if not ratings:
            self.google(
                "error",
                (*path, "reviewRating"),
                "missing-required",
                "reviewRating is required: a Rating with the verdict as alternateName.",
            )
        labels: list[str] = []
        for rating, rating_path in ratings:
            if not isinstance(rating, dict):
                self.google(
                    "error",
                    rating_path,
                    "invalid-rating",
                    f"reviewRating must be a Rating object, not {_what(rating)}.",
                )
                continue
            names = _texts(rating.get("alternateName"), (*rating_path, "alternateName"))
            if not names:
                self.google(
                    "error",
                    (*rating_path, "alternateName"),
                    "missing-required",
                    'reviewRating.alternateName is required: the verdict as text, e.g. "False".',
                )
            labels.extend(name for name, _ in names)
            self.rating_scale(rating, rating_path)
        return labels

    def rating_scale(self, rating: dict[str, Any], path: Location) -> None:
        value, best, worst = (
            self.rating_number(rating, key, path)
            for key in ("ratingValue", "bestRating", "worstRating")
        )
        if value is not None:
            for key in ("bestRating", "worstRating"):
                if rating.get(key) is None:
                    self.google(
                        "warning",
                        (*path, key),
                        "missing-rating-scale",
                        f"A numeric ratingValue needs {key} to say where it sits on the scale.",
                    )
        if best is not None and worst is not None and worst >= best:
            self.google(
                "error",
                (*path, "worstRating"),
                "invalid-rating-scale",
                f"worstRating ({_number_text(worst)}) must be less than bestRating "
                f"({_number_text(best)}).",
            )
        elif value is not None and (
            (best is not None and value > best) or (worst is not None and value < worst)
        ):
            self.google(
                "error",
                (*path, "ratingValue"),
                "rating-out-of-range",
                f"ratingValue ({_number_text(value)}) must lie between worstRating "
                f"({_number_text(worst)}) and bestRating ({_number_text(best)}).",
            )
        if worst is not None and worst < 1:
            self.google(
                "warning",
                (*path, "worstRating"),
                "worst-rating-below-one",
                f"Google expects worstRating to be at least 1, not {_number_text(worst)}.",
            )

    def rating_number(self, rating: dict[str, Any], key: str, path: Location) -> float | None:
        raw = rating.get(key)
        if raw is None:
            return None
        number = _number(raw)
        if number is None:
            self.google(
                "warning",
                (*path, key),
                "rating-not-numeric",
                f"{key} should be a number (found {_what(raw)}).",
            )
        return number

    def article_url(self, node: dict[str, Any], path: Location) -> None:
        urls = _entries(node.get("url"), (*path, "url"))
        if not urls:
            self.google(
                "error",
                (*path, "url"),
                "missing-required",
                "url is required: the address of the fact-check article.",
            )
        for url, url_path in urls:
            host = _http_host(url) if isinstance(url, str) else None
            if host is None:
                self.google(
                    "error",
                    url_path,
                    "invalid-url",
                    "url must be an absolute http:// or https:// address of the article.",
                )
            elif self.domains is not None and not on_domains(host, self.domains):
                self.google(
                    "error",
                    url_path,
                    "url-off-domain",
                    f"url is on {host}, which is not one of the publisher's domains "
                    f"({', '.join(self.domains) or 'none'}) or a subdomain of them.",
                )

    def named(self, value: Any, path: Location, label: str) -> None:
        entries = _entries(value, path)
        if not entries:
            self.google(
                "warning",
                path,
                "missing-recommended",
                f"{label} is recommended: a Person or Organization with a name.",
            )
        for item, item_path in entries:
            if not isinstance(item, dict):
                self.google(
                    "warning",
                    item_path,
                    "missing-recommended",
                    f"{label} should be a Person or Organization object with a name.",
                )
            elif not _texts(item.get("name"), (*item_path, "name")):
                self.google(
                    "warning",
                    (*item_path, "name"),
                    "missing-recommended",
                    f"{label}.name is recommended.",
                )

    def item_reviewed(self, value: Any, path: Location) -> None:
        claims = _entries(value, path)
        if not claims:
            self.google(
                "warning",
                path,
                "missing-recommended",
                "itemReviewed is recommended: the Claim, with its author, appearance and date.",
            )
        for claim, claim_path in claims:
            if not isinstance(claim, dict) or "Claim" not in type_names(claim.get("@type")):
                self.google(
                    "warning",
                    claim_path,
                    "item-reviewed-not-claim",
                    "itemReviewed should be a Claim object.",
                )
            if not isinstance(claim, dict):
                continue
            self.named(claim.get("author"), (*claim_path, "author"), "itemReviewed.author")
            if not _entries(claim.get("appearance"), ()) and not _entries(
                claim.get("firstAppearance"), ()
            ):
                self.google(
                    "warning",
                    (*claim_path, "appearance"),
                    "missing-recommended",
                    "itemReviewed.appearance or firstAppearance (where the claim was made) is "
                    "recommended.",
                )
            if not _texts(claim.get("datePublished"), ()):
                self.google(
                    "warning",
                    (*claim_path, "datePublished"),
                    "missing-recommended",
                    "itemReviewed.datePublished (when the claim was made) is recommended.",
                )


def _select(profiles: Iterable[str]) -> frozenset[str]:
    chosen = frozenset((profiles,) if isinstance(profiles, str) else profiles)
    unknown = chosen.difference(PROFILES)
    if unknown:
        raise ValueError(
            f"unknown validation profile {', '.join(sorted(map(repr, unknown)))}; "
            f"choose from {', '.join(PROFILES)}"
        )
    return chosen


def _pointer(path: Location) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _position(document: Any, path: Location) -> tuple[tuple[int, str], ...]:
    """Where ``path`` falls in document order; a missing member sorts after its siblings."""
    position = []
    current = document
    for part in path:
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            position.append((list(current).index(part), ""))
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            position.append((part, ""))
            current = current[part]
        else:
            position.append((len(current) if isinstance(current, dict | list) else 0, str(part)))
            current = None
    return tuple(position)


def local_term(term: str) -> str:
    """A term without its schema.org prefix; a term of another vocabulary as it is."""
    if ":" not in term:
        return term
    for prefix in _SCHEMA_PREFIXES:
        if term[: len(prefix)].lower() == prefix:
            return term[len(prefix) :]
    return term


def _local_name(term: str) -> tuple[str, bool]:
    """A schema.org term without its prefix, and whether it is an IRI outside schema.org."""
    name = local_term(term)
    return name, name == term and ":" in term


def type_names(raw: Any) -> list[str]:
    """The names of an ``@type`` (one or a list) as schema.org spells them: prefixes off, case
    repaired when it names a known type. The reader takes a node's types so, and the checks
    for a node are picked so; what was written is reported on by ``check_id_and_type``."""
    return [
        type_name(item)
        for item in (raw if isinstance(raw, list) else [raw])
        if isinstance(item, str)
    ]


@lru_cache(maxsize=4096)
def type_name(item: str) -> str:
    name = local_term(item.strip())
    return canonical_type(name) or name


def _is_schema_context(context: Any) -> bool:
    if isinstance(context, list):
        return bool(context) and all(_is_schema_context_entry(item) for item in context)
    return _is_schema_context_entry(context)


def _is_schema_context_entry(entry: Any) -> bool:
    if isinstance(entry, str):
        return entry in _CONTEXTS
    return (
        isinstance(entry, dict)
        and entry.keys() <= {"@vocab", "@language"}
        and entry.get("@vocab") in _VOCABS
    )


def _entries(value: Any, path: Location) -> list[tuple[Any, Location]]:
    """The items of a property value (a single value or an array), nulls left out."""
    if isinstance(value, list):
        return [(item, (*path, index)) for index, item in enumerate(value) if item is not None]
    return [] if value is None else [(value, path)]


def _texts(value: Any, path: Location) -> list[tuple[str, Location]]:
    """The non-blank strings of a property value, stripped."""
    return [
        (item.strip(), item_path)
        for item, item_path in _entries(value, path)
        if isinstance(item, str) and item.strip()
    ]


def _starts_with_verdict(claim: str, label: str) -> bool:
    label = label.strip().casefold()
    folded = claim.casefold()
    if not label or not folded.startswith(label):
        return False
    rest = folded[len(label) :].lstrip()
    return bool(rest) and rest[0] in _VERDICT_SEPARATORS


def _number(value: Any) -> float | None:
    """A rating number as Google reads it: a JSON number or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        return None
    return number if math.isfinite(number) else None


@lru_cache(maxsize=4096)
def _http_host(url: str) -> str | None:
    """The host of an absolute http(s) URL (lower case, no trailing dot), else None.

    Remembered: an import checks each URL twice, in the markup and in the JSON-LD rendered
    from it, and a publisher's URLs recur in every review."""
    plain = _PLAIN_HTTP_URL.fullmatch(url)
    if plain is not None:  # most URLs, read without parsing (what urlsplit would find)
        return plain[1].lower()
    if not _SAFE_URL.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    host = host.removesuffix(".")
    return host if _HOST.fullmatch(host) else None


def _domains(domains: Sequence[str]) -> tuple[str, ...]:
    items = (domains,) if isinstance(domains, str) else domains
    cleaned = (clean(item) for item in items if isinstance(item, str))
    return tuple(item for item in cleaned if item)


@lru_cache(maxsize=4096)
def _is_absolute_url(text: str) -> bool:
    if not _SCHEME.fullmatch(text):
        return False
    scheme = text.split(":", 1)[0].lower()
    return scheme not in ("http", "https") or _http_host(text) is not None


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat((text + "-01-01")[:10])  # 2024 and 2024-05 are dates too
    except ValueError:
        return False
    return True


def _is_datetime(text: str) -> bool:
    if not _DATETIME.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_time(text: str) -> bool:
    if not _TIME.fullmatch(text):
        return False
    try:
        datetime.fromisoformat("2000-01-01T" + text)
    except ValueError:
        return False
    return True


def _date_of(text: str) -> date | None:
    """The calendar date an ISO 8601 date or date-time names, as written."""
    if len(text) < 10 or not (_is_date(text) or _is_datetime(text)):
        return None
    return date.fromisoformat(text[:10])


def _what(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return _show(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _show(text: str) -> str:
    """Quote user text for a message, cut short."""
    return '"' + (text if len(text) <= 60 else text[:57] + "...") + '"'


def _number_text(number: float | None) -> str:
    return "unset" if number is None else format(number, ".15g")


def _suggestion(name: str, lower: dict[str, str], names: Iterable[str]) -> str:
    """A " Did you mean ...?" hint for a misspelt term, or ""."""
    match = lower.get(name.lower())
    if match is None and len(name) <= 64:
        close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.8)
        match = close[0] if close else None
    return f" Did you mean {match}?" if match else ""
