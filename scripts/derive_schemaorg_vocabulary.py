"""Derive the compact schema.org vocabulary that `app.core.validation` reads at run time.

    python scripts/derive_schemaorg_vocabulary.py [SCHEMA_TTL] [--output FILE]

reads schema.org's `schema.ttl` (default: the copy kept in schemas/schemaorg/, see its README)
and writes `schemas/schemaorg-vocabulary.json`:

    source       the schema.org release the file was derived from
    types        type -> its direct schema.org superclasses (non-schema.org ones are dropped)
    datatypes    the DataTypes (Text, Number, Date, ...) and their subclasses (URL, Integer, ...)
    properties   property -> {"domains": [...], "ranges": [...]} (domainIncludes / rangeIncludes)
    superseded   retired type or property -> the term that replaces it (schema:supersededBy)

Descriptions and enumeration members are left out, and every list and key is sorted, so the
output is compact and the same source always gives the same bytes. Update SOURCE together with
schema.ttl; tests/core/test_schemaorg_vocabulary.py checks that the committed file is what this
script derives.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from rdflib import RDF, RDFS, Graph, Namespace, URIRef

SOURCE = (
    "schema.org release 30.0 (schemaorg/schemaorg data/schema.ttl, commit cc71c8e, 2026-08-20),"
    " CC BY-SA 3.0"
)
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
DEFAULT_TTL = SCHEMAS / "schemaorg/schema.ttl"
DEFAULT_OUTPUT = SCHEMAS / "schemaorg-vocabulary.json"

SCHEMA = Namespace("https://schema.org/")


def _name(term: Any) -> str | None:
    """The local name of a schema.org term, None for anything outside the vocabulary."""
    if isinstance(term, URIRef) and term.startswith(SCHEMA):
        return term[len(SCHEMA) :]
    return None


def _names(terms: Any) -> list[str]:
    return sorted({name for name in map(_name, terms) if name is not None})


def derive(ttl_path: Path | str = DEFAULT_TTL) -> dict[str, Any]:
    """Read schema.ttl and return the vocabulary as a JSON-ready dict."""
    graph = Graph()
    graph.parse(str(ttl_path), format="turtle")

    types = {
        name: _names(graph.objects(term, RDFS.subClassOf))
        for term in graph.subjects(RDF.type, RDFS.Class)
        if (name := _name(term)) is not None
    }
    datatypes = set(_names(graph.subjects(RDF.type, SCHEMA.DataType)))
    while True:  # URL is a Text, Integer a Number, Duration a Quantity...
        more = {name for name, supers in types.items() if datatypes.intersection(supers)}
        if more <= datatypes:
            break
        datatypes |= more

    properties = {
        name: {
            "domains": _names(graph.objects(term, SCHEMA.domainIncludes)),
            "ranges": _names(graph.objects(term, SCHEMA.rangeIncludes)),
        }
        for term in graph.subjects(RDF.type, RDF.Property)
        if (name := _name(term)) is not None
    }
    superseded = {
        old: new
        for old_term, new_term in graph.subject_objects(SCHEMA.supersededBy)
        if (old := _name(old_term)) is not None and (new := _name(new_term)) is not None
    }
    return {
        "source": SOURCE,
        "types": dict(sorted(types.items())),
        "datatypes": sorted(datatypes),
        "properties": dict(sorted(properties.items())),
        "superseded": dict(sorted(superseded.items())),
    }


def dumps(vocabulary: dict[str, Any]) -> str:
    """The file's exact text: sorted keys, one type or property per line, a final newline."""

    def line(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)

    sections = []
    for key, value in sorted(vocabulary.items()):
        if isinstance(value, dict):
            entries = ",\n".join(f"  {line(name)}: {line(item)}" for name, item in value.items())
            sections.append(f" {line(key)}: {{\n{entries}\n }}")
        else:
            sections.append(f" {line(key)}: {line(value)}")
    return "{\n" + ",\n".join(sections) + "\n}\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Derive the compact schema.org vocabulary.")
    parser.add_argument("ttl", nargs="?", type=Path, default=DEFAULT_TTL, help="schema.ttl")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    text = dumps(derive(args.ttl))
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text.encode()):,} bytes)")


if __name__ == "__main__":
    main()
