"""HTML page -> the structured data in it, as JSON-LD blocks (read with extruct).

Each block is one JSON-LD document and a JSON pointer prefix saying where it came from:

    /json-ld/N     the N-th ``<script type="application/ld+json">`` element (0-based, document
                   order), as written: an object, an array, or an object with ``@graph``
    /microdata/N   the N-th top-level microdata item (``itemscope`` without ``itemprop``)
    /rdfa/N        the N-th RDFa subject that no other subject refers to, with the subjects it
                   refers to nested inside it (of subjects that only refer to one another, the
                   first in the page)

A finding inside a block is that prefix followed by a pointer into the block, so
``/json-ld/1/@graph/1/reviewRating/alternateName`` is the rating label of the second node of the
second script, and ``/microdata/0/claimReviewed`` the claim of the first microdata item.

Microdata and RDFa are given the shape JSON-LD markup would have: ``@context``, ``@type`` and
property names as schema.org terms (``https://schema.org/Rating`` -> ``Rating``), one value or a
list of them, nested items as nested objects, ``itemid``/``about`` as ``@id``. RDFa terms outside
schema.org (OpenGraph, Dublin Core...) are left out: pages carry them for other readers. Relative
URLs resolve against the page's ``<base href>``, else its ``<link rel="canonical">``.
"""

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jstyleson
import lxml.etree
import orjson
from extruct.rdfa import RDFaExtractor
from extruct.utils import parse_xmldom_html
from extruct.w3cmicrodata import MicrodataExtractor

from app.core.document import many

_SCHEMA = ("https://schema.org/", "http://schema.org/")
_COMMENT_LINE = re.compile(r"^\s*(//.*|<!--.*-->)", re.MULTILINE)
_MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Block:
    """One JSON-LD document found in a page; ``data`` is None when it could not be read."""

    pointer: str
    data: Any
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Extracted:
    """A page's blocks, the address its relative URLs resolve against, and its ``lang``."""

    blocks: list[Block]
    url: str | None
    language: str | None


def extract(page: bytes | str, *, page_url: str | None = None) -> Extracted:
    """Every JSON-LD script, top-level microdata item and RDFa subject tree of an HTML page.

    ``page_url`` is where the page lives, when the caller knows; else its ``<base href>`` or
    canonical link. Raises ValueError when the bytes are not an HTML document at all.
    """
    try:
        tree = parse_xmldom_html(page, encoding="UTF-8")
    except (lxml.etree.ParserError, ValueError) as error:
        raise ValueError(f"not an HTML document ({error})") from None
    base_url = page_url or _base_url(tree)
    blocks = _json_ld(tree)
    for syntax, read in (("microdata", _microdata), ("rdfa", _rdfa)):
        try:
            found = read(tree, base_url)
        except Exception as error:  # extruct and pyRdfa raise anything on odd markup
            blocks.append(Block(f"/{syntax}", None, f"The {syntax} could not be read: {error}"))
            continue
        blocks.extend(Block(f"/{syntax}/{index}", data) for index, data in enumerate(found))
    return Extracted(blocks, base_url, _language(tree))


def _base_url(tree: Any) -> str | None:
    for xpath in ("//base/@href", '//link[@rel="canonical"]/@href'):
        for href in tree.xpath(xpath):
            href = str(href).strip()
            if urlsplit(href).scheme in ("http", "https"):
                return href
    return None


def _language(tree: Any) -> str | None:
    for lang in tree.xpath("/html/@lang | /html/@xml:lang"):
        if str(lang).strip():
            return str(lang).strip()
    return None


# JSON-LD


def _json_ld(tree: Any) -> list[Block]:
    blocks = []
    scripts = (
        script
        for script in tree.iter("script")
        if (script.get("type") or "").split(";")[0].strip().lower() == "application/ld+json"
    )
    for index, script in enumerate(scripts):
        pointer = f"/json-ld/{index}"
        try:
            blocks.append(Block(pointer, _parse_script(script.xpath("string()"))))
        except ValueError as error:
            blocks.append(Block(pointer, None, f"The JSON-LD script is not valid JSON: {error}"))
    return blocks


def _parse_script(text: str) -> Any:
    """Parse a script's JSON, forgiving what pages commonly wrap it in (as extruct does)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text, strict=False)  # raw newlines and tabs inside strings
    except ValueError:
        pass
    # HTML comments or // lines around the JSON, /* */ comments, trailing commas.
    return jstyleson.loads(_COMMENT_LINE.sub("", text), strict=False)


# Microdata


def _microdata(tree: Any, base_url: str | None) -> list[dict[str, Any]]:
    items = MicrodataExtractor().extract_items(tree, base_url=base_url)
    return [_microdata_item(item, root=True, depth=0) for item in items if isinstance(item, dict)]


def _microdata_item(item: dict[str, Any], *, root: bool, depth: int) -> dict[str, Any]:
    types = many(item.get("type"))
    node: dict[str, Any] = {"@context": _context_of(types)} if root else {}
    if isinstance(item.get("id"), str):
        node["@id"] = item["id"]
    if types:
        names = [_term(name) for name in types]
        node["@type"] = names[0] if len(names) == 1 else names
    for key, value in (item.get("properties") or {}).items():
        if isinstance(value, list):
            node[_term(key)] = [_microdata_value(one, depth) for one in value]
        else:
            node[_term(key)] = _microdata_value(value, depth)
    return node


def _microdata_value(value: Any, depth: int) -> Any:
    if isinstance(value, dict) and depth < _MAX_DEPTH:
        if "iid_ref" in value:  # an item that contains itself: leave the loop out
            return None
        return _microdata_item(value, root=False, depth=depth + 1)
    return value


# RDFa


def _rdfa(tree: Any, base_url: str | None) -> list[dict[str, Any]]:
    """pyRdfa's flat, expanded graph -> one tree per subject no other subject refers to (and,
    for subjects that only refer to each other, one from the first of them)."""
    found = RDFaExtractor().extract_items(tree, base_url=base_url)
    graph = [node for node in found if isinstance(node, dict)]
    subjects = {node["@id"]: node for node in graph if isinstance(node.get("@id"), str)}
    referenced = {
        value["@id"]
        for node in graph
        for key, values in node.items()
        if not key.startswith("@") and isinstance(values, list)
        for value in values
        if isinstance(value, dict) and value.get("@id") in subjects
    }
    roots = [node for node in graph if node.get("@id") not in referenced]
    roots += [node for node in graph if node.get("@id") in referenced]
    framer = _Framer(subjects)
    trees = []
    for node in roots:
        if node.get("@id") in framer.framed:
            continue
        tree = framer.node(node, seen=frozenset(), depth=0)
        if tree.keys() - {"@id"}:
            trees.append({"@context": _context_of(many(node.get("@type")))} | tree)
    return trees


class _Framer:
    """Nests the subjects a subject refers to inside it, in schema.org terms."""

    def __init__(self, subjects: dict[str, Any]) -> None:
        self.subjects = subjects
        self.framed: set[Any] = set()

    def node(self, node: dict[str, Any], *, seen: frozenset[str], depth: int) -> dict[str, Any]:
        framed: dict[str, Any] = {}
        subject = node.get("@id")
        self.framed.add(subject)
        if isinstance(subject, str) and subject and not subject.startswith("_:"):
            framed["@id"] = subject
        types = [_term(name) for name in many(node.get("@type")) if _in_schema(name)]
        if types:
            framed["@type"] = types[0] if len(types) == 1 else types
        inner = seen | {subject} if isinstance(subject, str) else seen
        for key, values in node.items():
            if key.startswith("@") or not _in_schema(key):
                continue
            read = [self.value(value, seen=inner, depth=depth) for value in many(values)]
            framed[_term(key)] = read[0] if len(read) == 1 else read
        return framed

    def value(self, value: Any, *, seen: frozenset[str], depth: int) -> Any:
        if not isinstance(value, dict):
            return value
        if "@value" in value:
            return value["@value"]
        if "@list" in value:
            return [self.value(item, seen=seen, depth=depth) for item in value["@list"]]
        reference = value.get("@id")
        if not isinstance(reference, str):
            return reference
        target = self.subjects.get(reference)
        # Nest blank nodes and typed things; a plain link (url, sameAs, image) stays a URL.
        if (
            target is not None
            and reference not in seen
            and depth < _MAX_DEPTH
            and (
                reference.startswith("_:") or any(_in_schema(t) for t in many(target.get("@type")))
            )
        ):
            return self.node(target, seen=seen, depth=depth + 1)
        return reference


# Terms


def _in_schema(term: Any) -> bool:
    return isinstance(term, str) and term.startswith(_SCHEMA)


def _term(term: Any) -> Any:
    """``https://schema.org/Rating`` -> ``Rating``; other vocabularies keep their full IRI."""
    if isinstance(term, str):
        for prefix in _SCHEMA:
            if term.startswith(prefix):
                return term[len(prefix) :]
    return term


def _context_of(types: list[Any]) -> str:
    """The schema.org context in the spelling the page used (http or https)."""
    for name in types:
        if isinstance(name, str) and name.startswith("http://schema.org/"):
            return "http://schema.org"
    return "https://schema.org"
