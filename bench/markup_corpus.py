"""Issue 15 measurement: how much real published ClaimReview markup the service keeps.

    .venv/bin/python bench/markup_corpus.py --folder tests/fixtures/markup/holdout
    .venv/bin/python bench/markup_corpus.py --folder tests/fixtures/markup --database postgresql
    .venv/bin/python bench/markup_corpus.py --folder tests/fixtures/markup/dev --json
    .venv/bin/python bench/markup_corpus.py --folder tests/fixtures/markup --index

1. A fresh database (SQLite: ``bench/out/markup-corpus.db``; PostgreSQL: the database
   ``claimreview_markup_corpus``, dropped and created), migrated, with no publisher, and one
   uvicorn worker on port 8794 started with the admin token.
2. Every markup file under ``--folder`` (``.json``/``.jsonld``: JSON-LD, ``.ndjson``/``.jsonl``,
   ``.html``/``.htm``), file by file in name order, is sent to
   ``POST /v1/import?create_publishers=true`` as admin, HTML with ``&page_url=`` (from a sidecar
   ``FILE.url`` or the folder's ``urls.json``), as real imports would be; the same body goes to
   ``POST /v1/validate`` first, whose error codes show what the validator alone objects to.
3. What was kept is exported (``GET /v1/export?format=ndjson``) and every emitted ClaimReview is
   checked with both validation profiles: the count of errors must be 0.

It prints the ClaimReviews found (items in the import reports), kept (created, updated or
unchanged), refused (by the code of each error finding a refused item carries; a request the
service refused whole counts its file's ClaimReviews under ``http-STATUS``), the repairs (warning
findings, by code), and the percentage kept among the ClaimReviews that carry a claim, an
article URL and a rating label, against the 95 % target.

``--index`` measures nothing: it reads the files with extruct (not with the service's own
reader, so the denominator does not depend on the code measured) and prints, per file, how many
ClaimReview nodes it holds and how many carry each of the three. This is the table in
``tests/fixtures/markup/PROVENANCE.md``.
"""

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import extruct
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ADMIN_TOKEN, OUT, ROOT, fresh_database_at, log, service  # noqa: E402

sys.path.insert(0, str(ROOT))
from app.core import validation  # noqa: E402

PORT = 8794  # benchlib's 8791/8792, import_bench's 8793 and run.py's 8765 may be running
PG_DATABASE = "claimreview_markup_corpus"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET = 0.95
CONTENT_TYPES = {
    ".json": "application/ld+json",
    ".jsonld": "application/ld+json",
    ".ndjson": "application/x-ndjson",
    ".jsonl": "application/x-ndjson",
    ".html": "text/html",
    ".htm": "text/html",
}


@dataclass
class FileIndex:
    """What one file holds, read independently of the service: the denominator of the target."""

    file: str
    claim_reviews: int = 0
    with_claim: int = 0
    with_url: int = 0
    with_label: int = 0
    eligible: int = 0  # claim, article URL and rating label all present


@dataclass
class FileResult:
    file: str
    found: int = 0
    kept: int = 0  # distinct reviews created, updated or unchanged
    refused: int = 0
    eligible: int = 0
    refused_by_code: Counter[str] = field(default_factory=Counter)
    repairs_by_code: Counter[str] = field(default_factory=Counter)
    request_error: str | None = None
    # POST /v1/validate on the same body: what the validator alone says, publishers aside.
    valid: bool | None = None
    validate_errors_by_code: Counter[str] = field(default_factory=Counter)


def markup_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in CONTENT_TYPES)


def page_url(path: Path) -> str | None:
    """Where an HTML page lives: the importer resolves its relative URLs against it."""
    sidecar = path.with_name(path.name + ".url")
    if sidecar.exists():
        return sidecar.read_text().strip() or None
    urls = path.parent / "urls.json"
    if urls.exists():
        found: str | None = json.loads(urls.read_text()).get(path.name)
        return found
    return None


# --- the index (extruct) --------------------------------------------------------------------


def index_file(path: Path, root: Path) -> FileIndex:
    entry = FileIndex(str(path.relative_to(root)))
    base = page_url(path)
    seen: set[tuple[str, str]] = set()  # one review told as JSON-LD and as microdata counts once
    for node, graph in _claim_review_nodes(path, base):
        claim = _text(_resolved(node.get("claimReviewed"), graph))
        url = _text(_resolved(node.get("url"), graph), link=True)
        ratings = _many(_resolved(node.get("reviewRating"), graph))
        label = next(
            (t for r in ratings if (t := _text(_resolved(_get(r, "alternateName"), graph)))), ""
        )
        key = (url, claim)
        if claim and url and key in seen:
            continue
        seen.add(key)
        entry.claim_reviews += 1
        entry.with_claim += bool(claim)
        entry.with_url += bool(url and _http_url(url, base))
        entry.with_label += bool(label)
        entry.eligible += bool(claim and url and _http_url(url, base) and label)
    return entry


def _claim_review_nodes(path: Path, base: str | None) -> Iterator[tuple[dict[str, Any], Any]]:
    """Every node typed ClaimReview (in any case, as an IRI, in a type array), with the document
    it came from, so that ``{"@id": ...}`` references can be looked up in it."""
    raw = path.read_bytes()
    if CONTENT_TYPES[path.suffix.lower()] == "text/html":
        data = extruct.extract(
            raw.decode("utf-8", "replace"),
            base_url=base,
            syntaxes=["json-ld", "microdata"],
            uniform=True,
            errors="ignore",
        )
        documents = [*data.get("json-ld", []), *data.get("microdata", [])]
    elif CONTENT_TYPES[path.suffix.lower()] == "application/x-ndjson":
        documents = [json.loads(line) for line in raw.splitlines() if line.strip()]
    else:
        documents = [json.loads(raw)]
    for document in documents:
        for node in _nodes(document):
            if any(_is_claim_review(t) for t in _many(node.get("@type"))):
                yield node, document


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


def _is_claim_review(term: Any) -> bool:
    # "ClaimReview", "claimReview", "http://schema.org/ClaimReview", "schema:ClaimReview"
    return (
        isinstance(term, str) and re.split(r"[/#:]", term.rstrip("/"))[-1].lower() == "claimreview"
    )


def _resolved(value: Any, document: Any) -> Any:
    """A bare ``{"@id": X}`` replaced by the node of the same document with that ``@id``."""
    if isinstance(value, dict) and set(value) == {"@id"}:
        for node in _nodes(document):
            if node.get("@id") == value["@id"] and len(node) > 1:
                return node
    if isinstance(value, list):
        return [_resolved(v, document) for v in value]
    return value


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _many(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any, *, link: bool = False) -> str:
    """The first non-blank string of a value, an ``{"@value": ...}`` or, for a ``link``, a node's
    ``url`` or ``@id``."""
    for item in _many(value):
        if isinstance(item, str) and item.strip():
            return item.strip()
        if isinstance(item, dict):
            inner = [item.get("@value"), *([item.get("url"), item.get("@id")] if link else [])]
            if found := next((t for v in inner if (t := _text(v, link=link))), ""):
                return found
    return ""


def _http_url(url: str, base: str | None) -> bool:
    resolved = urljoin(base, url) if base else url
    if "://" not in resolved and not resolved.startswith("//") and "." in resolved.split("/")[0]:
        resolved = "https://" + resolved  # scheme-less `site.org/path`, which the issue repairs
    return resolved.startswith(("http://", "https://", "//"))


# --- the run (a real service) ---------------------------------------------------------------


def fresh_database(engine_name: str) -> str:
    """A new, migrated, empty database; its URL."""
    return fresh_database_at(
        engine_name, sqlite_path=OUT / "markup-corpus.db", pg_database=PG_DATABASE
    )


def import_file(client: httpx.Client, path: Path, index: FileIndex) -> FileResult:
    result = FileResult(index.file, eligible=index.eligible)
    content_type = CONTENT_TYPES[path.suffix.lower()]
    params: dict[str, str] = {}
    if content_type == "text/html" and (url := page_url(path)):
        params["page_url"] = url
    body, headers = path.read_bytes(), {"Content-Type": content_type}
    checked = client.post("/v1/validate", params=params, content=body, headers=headers)
    if checked.status_code == 200:
        result.valid = checked.json()["valid"]
        result.validate_errors_by_code.update(
            f["code"] for f in checked.json()["findings"] if f["severity"] == "error"
        )
    params["create_publishers"] = "true"
    response = client.post("/v1/import", params=params, content=body, headers=headers)
    if response.status_code != 200:
        problem = _problem(response)
        result.request_error = f"{response.status_code} {problem}"
        result.found = result.refused = index.claim_reviews
        result.refused_by_code[f"http-{response.status_code}"] += index.claim_reviews
        return result
    report = response.json()
    kept_ids = set()
    for item in report["items"]:
        result.found += 1
        for finding in item["findings"]:
            if finding["severity"] == "warning":
                result.repairs_by_code[finding["code"]] += 1
        if item["status"] == "invalid":
            result.refused += 1
            codes = {f["code"] for f in item["findings"] if f["severity"] == "error"}
            result.refused_by_code.update(codes or {"no-error-finding"})
        else:
            kept_ids.add(item["id"])
    result.kept = len(kept_ids)
    return result


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    errors = "; ".join(f"{e.get('path')}: {e.get('message')}" for e in body.get("errors", []))
    return f"{body.get('title', '')} {errors}".strip()


def check_export(client: httpx.Client) -> dict[str, Any]:
    """Every emitted ClaimReview against both profiles (the service's own validator)."""
    response = client.get("/v1/export", params={"format": "ndjson"})
    response.raise_for_status()
    exported = 0
    errors: Counter[str] = Counter()
    for line in response.content.splitlines():
        if not line.strip():
            continue
        exported += 1
        for finding in validation.validate(json.loads(line)):
            if finding.severity == "error":
                errors[f"{finding.profile}:{finding.code}"] += 1
    return {"exported": exported, "errors": sum(errors.values()), "errors_by_code": errors}


def run(folder: Path, engine_name: str) -> dict[str, Any]:
    files = markup_files(folder)
    if not files:
        raise SystemExit(f"no markup file under {folder} (tests/fixtures/markup/PROVENANCE.md)")
    indexes = [index_file(path, folder) for path in files]
    url = fresh_database(engine_name)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with (
        service("markup-corpus", url, PORT) as server,
        httpx.Client(base_url=server.base, headers=headers, timeout=300) as client,
    ):
        results = []
        for path, index in zip(files, indexes, strict=True):
            result = import_file(client, path, index)
            log(f"{result.file}: found {result.found}, kept {result.kept}, refused {result.refused}"
                + (f" ({result.request_error})" if result.request_error else ""))  # fmt: skip
            results.append(result)
        export = check_export(client)
    return summary(folder, engine_name, results, export)


def summary(
    folder: Path, engine_name: str, results: list[FileResult], export: dict[str, Any]
) -> dict[str, Any]:
    refused: Counter[str] = Counter()
    repairs: Counter[str] = Counter()
    validate_errors: Counter[str] = Counter()
    for result in results:
        refused.update(result.refused_by_code)
        repairs.update(result.repairs_by_code)
        validate_errors.update(result.validate_errors_by_code)
    eligible = sum(r.eligible for r in results)
    # Items are not matched to nodes one by one: in a file, the reviews kept count towards its
    # eligible ones up to their number (the service refuses a review without claim or URL).
    kept_eligible = sum(min(r.kept, r.eligible) for r in results)
    share = kept_eligible / eligible if eligible else None
    return {
        "folder": str(folder),
        "database": engine_name,
        "files": len(results),
        "found": sum(r.found for r in results),
        "kept": sum(r.kept for r in results),
        "refused": sum(r.refused for r in results),
        "refused_by_code": dict(refused.most_common()),
        "repairs_by_code": dict(repairs.most_common()),
        "files_valid": sum(bool(r.valid) for r in results),
        "validate_errors_by_code": dict(validate_errors.most_common()),
        "eligible": eligible,
        "kept_eligible": kept_eligible,
        "kept_share": round(share, 4) if share is not None else None,
        "target": TARGET,
        "target_met": share is not None and share >= TARGET and export["errors"] == 0,
        "export": {**export, "errors_by_code": dict(export["errors_by_code"])},
        # vars(), not asdict(): asdict rebuilds a Counter from (key, count) pairs, counting pairs.
        "per_file": [{k: _plain(v) for k, v in vars(r).items()} for r in results],
    }


def report_text(figures: dict[str, Any]) -> str:
    share = figures["kept_share"]
    lines = [
        f"{figures['folder']} on {figures['database']}: {figures['files']} files",
        f"ClaimReviews found {figures['found']}, kept {figures['kept']}, "
        f"refused {figures['refused']}",
        "refused by code: " + _counts(figures["refused_by_code"]),
        "repairs by code: " + _counts(figures["repairs_by_code"]),
        f"POST /v1/validate: {figures['files_valid']} of {figures['files']} files valid; "
        "errors by code: " + _counts(figures["validate_errors_by_code"]),
        f"exported {figures['export']['exported']}, errors in either profile "
        f"{figures['export']['errors']} " + _counts(figures["export"]["errors_by_code"]),
        f"kept among those with claim, URL and rating label: {figures['kept_eligible']} of "
        f"{figures['eligible']} = "
        + (f"{share:.1%}" if share is not None else "n/a")
        + f" (target {TARGET:.0%}: {'met' if figures['target_met'] else 'NOT met'})",
    ]
    return "\n".join(lines)


def index_table(indexes: list[FileIndex]) -> str:
    lines = [
        "| file | ClaimReviews | with claim | with article URL | with rating label | all three |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for i in indexes:
        lines.append(
            f"| `{i.file}` | {i.claim_reviews} | {i.with_claim} | {i.with_url} | "
            f"{i.with_label} | {i.eligible} |"
        )
    total = FileIndex("total")
    for field_name in ("claim_reviews", "with_claim", "with_url", "with_label", "eligible"):
        setattr(total, field_name, sum(getattr(i, field_name) for i in indexes))
    lines.append(
        f"| **total** | {total.claim_reviews} | {total.with_claim} | {total.with_url} | "
        f"{total.with_label} | {total.eligible} |"
    )
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    return dict(value.most_common()) if isinstance(value, Counter) else value


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{code} {n}" for code, n in counts.items()) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "tests/fixtures/markup")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument("--index", action="store_true", help="print what each file holds; no run")
    args = parser.parse_args()
    folder = args.folder.resolve()
    if args.index:
        indexes = [index_file(path, folder) for path in markup_files(folder)]
        print(
            json.dumps([asdict(i) for i in indexes], indent=2)
            if args.json
            else index_table(indexes)
        )
        return
    OUT.mkdir(exist_ok=True)
    figures = run(folder, args.database)
    (OUT / f"markup-corpus-{args.database}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2) if args.json else report_text(figures))


if __name__ == "__main__":
    main()
