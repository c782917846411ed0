"""The ``claimreview`` command: run the service and administer it from a shell."""

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar, cast

import typer
import uvicorn
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from sqlalchemy.orm import Session

from app.config import get_settings
from app.core import validation
from app.core.document import check_http_url, normalise_date, normalise_language
from app.db import crud, migrate, query
from app.db.engine import make_engine, make_sessionmaker
from app.db.tables import ApiKeyCreate, PublisherCreate
from app.http import metrics, protocol
from app.http.heap import settled_heap
from app.services import accounts, importer, syndication
from app.services.images import queue as image_queue
from app.services.images.rehash import rehash
from app.services.reviews import moment

app = typer.Typer(help="ClaimReview API: fact-checks in, schema.org ClaimReview out.")
db_app = typer.Typer(help="Database schema.")
publisher_app = typer.Typer(help="Publishers (fact-checking organisations).")
key_app = typer.Typer(help="API keys.")
images_app = typer.Typer(help="Images named by reviews, and their perceptual hashes.")
app.add_typer(db_app, name="db")
app.add_typer(publisher_app, name="publisher")
app.add_typer(key_app, name="key")
app.add_typer(images_app, name="images")
console = Console(stderr=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Bring the database up to date, then serve the API (embedded SQLite by default)."""
    settings = get_settings()
    migrate.upgrade(settings.database_url)
    metrics.reset_multiprocess_dir()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # the app writes its own access line, with the request id
        log_level=settings.log_level,
        timeout_graceful_shutdown=20,
        # A worker that takes longer than uvicorn's 5 s to answer its supervisor's health check
        # (a busy small host, startup importing everything) would be killed and restarted.
        timeout_worker_healthcheck=30,
        # The app reads X-Forwarded-For itself, from CLAIMREVIEW_TRUSTED_PROXIES only.
        proxy_headers=False,
        # Slow clients: idle keep-alive connections close; late or oversized headers get 408 or
        # 431 from our protocol (uvicorn has neither limit on httptools), a late body 408
        # from app/http/request_limits.py.
        # The concurrency cap is the middleware's, which answers problem+json.
        timeout_keep_alive=settings.keepalive_timeout_seconds,
        http=protocol.with_limits(
            header_timeout=settings.header_timeout_seconds,
            max_header_bytes=settings.max_header_bytes,
        ),
        # No WebSocket routes: an Upgrade request is an ordinary request (answered 404 or as
        # its route says), not a handshake refused in uvicorn's plain text.
        ws="none",
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    migrate.upgrade(get_settings().database_url)
    console.print("[green]database is up to date[/]")


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(2)


@publisher_app.command("add")
def publisher_add(
    slug: str,
    name: Annotated[str, typer.Option(help="Organisation name.")],
    url: Annotated[str, typer.Option(help="Home page URL.")],
    domain: Annotated[list[str] | None, typer.Option(help="Article domain (repeatable).")] = None,
    language: Annotated[str | None, typer.Option(help="Default BCP 47 language.")] = None,
    time_zone: Annotated[
        str | None, typer.Option(help="IANA time zone of its markup's dates (Europe/Paris).")
    ] = None,
) -> None:
    """Create a publisher."""
    fields = {
        "slug": slug,
        "name": name,
        "url": url,
        "domains": domain or [],
        "language": language,
        "time_zone": time_zone,
    }
    incoming = _validated(PublisherCreate, fields)
    with _session() as session:
        if crud.get_publisher(session=session, slug=slug):
            _fail(f"publisher '{slug}' exists")
        crud.add(session=session, row=accounts.new_publisher(incoming))
    console.print(f"[green]created publisher[/] {slug}")


@key_app.command("create")
def key_create(
    publisher: Annotated[str, typer.Argument(help="Publisher slug.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
    scope: Annotated[list[str] | None, typer.Option(help="Scope (repeatable).")] = None,
) -> None:
    """Create an API key and print it (it is shown only once)."""
    incoming = _validated(ApiKeyCreate, {"name": name, "scopes": scope or ["reviews:write"]})
    with _session() as session:
        owner = crud.get_publisher(session=session, slug=publisher)
        if owner is None:
            _fail(f"no publisher '{publisher}'")
        key, full_key = accounts.new_api_key(publisher_id=owner.id, incoming=incoming)
        crud.add(session=session, row=key)
    typer.echo(full_key)


@app.command()
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    format: Annotated[str, typer.Option(help="ndjson, jsonld (a DataFeed) or csv.")] = "ndjson",
    publisher: Annotated[str | None, typer.Option(help="Publisher slug.")] = None,
    language: Annotated[str | None, typer.Option(help="BCP 47 language.")] = None,
    verdict: Annotated[str | None, typer.Option(help="Normalised verdict.")] = None,
    updated_since: Annotated[str | None, typer.Option(help="ISO 8601 date or date-time.")] = None,
    include_deleted: Annotated[
        bool, typer.Option(help="Add retracted reviews as tombstones.")
    ] = False,
) -> None:
    """Write published reviews to a file, as GET /v1/export would serve them."""
    if format not in syndication.FORMATS:
        _fail(f"--format must be one of {', '.join(syndication.FORMATS)}")
    try:
        review_filter = query.ReviewFilter(
            publisher_slug=publisher,
            language=normalise_language(language) if language else None,
            verdict=verdict,
            updated_since=moment(normalise_date(updated_since)) if updated_since else None,
        )
    except ValueError as error:
        _fail(str(error))
    if include_deleted:
        review_filter = query.with_deleted(review_filter)
    settings = get_settings()
    engine = make_engine(settings)
    dialect = settings.dialect
    kind = cast(syndication.Format, format)
    try:
        with engine.connect() as connection:
            count_sql, count_params = query.count_total(review_filter, dialect=dialect)
            total = connection.exec_driver_sql(count_sql, tuple(count_params)).scalar_one()
            shape = syndication.export_shape(kind, review_filter)
            sql, params = query.export_reviews(review_filter, dialect=dialect, shape=shape)
            rows = connection.execution_options(stream_results=True).exec_driver_sql(
                sql, tuple(params)
            )
            with output.open("wb") as file, _progress() as progress:
                task = progress.add_task(f"exporting to {output}", total=total)
                file.write(syndication.export_head(kind))
                for number, batch in enumerate(rows.partitions(1000)):
                    chunk = syndication.export_rows(
                        list(batch),
                        format=kind,
                        shape=shape,
                        base_url=settings.public_base_url,
                        first=not number,
                    )
                    file.write(chunk)
                    progress.advance(task, len(batch))
                file.write(syndication.export_tail(kind))
    finally:
        engine.dispose()
    console.print(f"[green]exported[/] {total} reviews to {output}")


@images_app.command("rehash")
def images_rehash(
    every: Annotated[
        bool, typer.Option("--all", help="Every hashed image, not only those of older hashes.")
    ] = False,
    failed: Annotated[
        bool, typer.Option("--failed", help="Also try the images that ran out of attempts.")
    ] = False,
) -> None:
    """Fetch and hash images again: those hashed by an older algorithm (--all: every hashed
    one), and with --failed those that failed. A failed fetch keeps an image's hashes."""
    settings = get_settings()
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as session:
            jobs = image_queue.rehash_candidates(session=session, every=every, failed=failed)
        with _progress() as progress:
            task = progress.add_task("hashing images", total=len(jobs))
            outcomes = asyncio.run(
                rehash(
                    jobs,
                    settings=settings,
                    sessionmaker=sessions,
                    done=lambda _result: progress.advance(task),
                )
            )
    finally:
        engine.dispose()
    hashed = outcomes.pop("hashed", 0)
    failures = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    console.print(
        f"[green]hashed[/] {hashed} of {len(jobs)} images"
        + (f"; not: {failures}" if failures else "")
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )


Model = TypeVar("Model", bound=BaseModel)


def _validated(model: type[Model], fields: dict[str, Any]) -> Model:
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        _fail(str(error))


@contextmanager
def _session() -> Iterator[Session]:
    """One transaction on the configured database, committed when the block succeeds."""
    engine = make_engine(get_settings())
    try:
        with make_sessionmaker(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


# Import and validation


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_http_url(value.strip())
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


BaseUrl = Annotated[
    str | None,
    typer.Option(
        callback=_http_url,
        help="Where the markup was published: relative URLs in it resolve against this "
        "(for HTML it wins over the page's <base href> and canonical link).",
    ),
]


@app.command("import")
def import_files(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files, or directories to walk for .ndjson, .jsonl, .json, .jsonld and .html."
        ),
    ],
    publisher: Annotated[
        str | None,
        typer.Option(help="Publisher slug for every review; else each ClaimReview's author."),
    ] = None,
    create_publishers: Annotated[
        bool,
        typer.Option(
            help="Create a publisher for each author that matches none, on the registrable "
            "domain of its review URLs (an aggregator's feed)."
        ),
    ] = False,
    processes: Annotated[
        int,
        typer.Option(min=1, help="Processes that check and render (default: one per CPU)."),
    ] = os.cpu_count() or 1,
    base_url: BaseUrl = None,
) -> None:
    """Import ClaimReview markup (NDJSON, JSON-LD, DataFeeds, HTML pages) as published reviews.

    Idempotent: importing the same content again leaves it unchanged. Exits 1 when an item was
    invalid (nothing of it is stored), 2 when a file could not be read.
    """
    files = _input_files(paths)
    settings = get_settings()
    engine = make_engine(settings)
    reports: list[tuple[Path, importer.Report]] = []
    unreadable = 0
    try:
        with settled_heap(), make_sessionmaker(engine)() as session, _import_progress() as progress:
            publishers = _import_publishers(session, publisher, create=create_publishers)
            task = progress.add_task("importing", total=sum(p.stat().st_size for p in files))
            done = 0
            for path in files:
                progress.update(task, description=f"importing {path.name}", completed=done)
                reading = _Reading(path, page_url=base_url)
                report = importer.Report()
                try:
                    importer.upsert(
                        session=session,
                        items=importer.claim_reviews(reading.sources()),
                        publishers=publishers,
                        actor="cli",
                        base_url=settings.public_base_url,
                        commit=session.commit,
                        report=report,
                        progress=reading.reporter(progress, task, start=done),
                        processes=processes,
                    )
                except (OSError, ValueError) as error:
                    session.rollback()
                    # A publisher made for this file and rolled back must be made again.
                    publishers = _import_publishers(session, publisher, create=create_publishers)
                    unreadable += 1
                    message = escape(f"{path}: {error}")
                    console.print(f"[red]error:[/] {message}", soft_wrap=True)
                else:
                    reports.append((path, report))
                done += path.stat().st_size
            progress.update(task, completed=done)
    finally:
        engine.dispose()
    invalid = _print_import(reports)
    if unreadable:
        raise typer.Exit(2)
    if invalid:
        raise typer.Exit(1)


def _import_publishers(session: Session, slug: str | None, *, create: bool) -> importer.Publishers:
    if create and slug is not None:
        _fail("--create-publishers matches each review's author: not with --publisher")
    if slug is None:
        return importer.Publishers(candidates=crud.list_publishers(session=session), create=create)
    chosen = crud.get_publisher(session=session, slug=slug)
    if chosen is None:
        _fail(f"no publisher '{slug}'")
    return importer.Publishers(only=chosen)


@app.command("validate")
def validate_files(
    paths: Annotated[
        list[Path],
        typer.Argument(help="JSON-LD, NDJSON or HTML files, or directories to walk for them."),
    ],
    profile: Annotated[
        str | None, typer.Option(help="google or schemaorg; both when omitted.")
    ] = None,
    base_url: BaseUrl = None,
) -> None:
    """Check ClaimReview markup in files and print the findings.

    Exits 1 when a file has errors, 2 when a file could not be read, 0 otherwise.
    """
    if profile is not None and profile not in validation.PROFILES:
        _fail(f"--profile must be one of {', '.join(validation.PROFILES)}")
    profiles = (profile,) if profile else validation.PROFILES
    errors = unreadable = False
    for path in _input_files(paths):
        try:
            payload = path.read_bytes()
            findings = importer.check(
                payload, kind=_file_kind(path, payload), profiles=profiles, page_url=base_url
            )
        except (OSError, ValueError) as error:
            unreadable = True
            typer.echo(f"{path}: unreadable: {error}")
            continue
        failed = validation.has_errors(findings)
        errors = errors or failed
        counts = _counts(findings)
        typer.echo(f"{path}: {'invalid' if failed else 'valid'}{f' ({counts})' if counts else ''}")
        for finding in findings:
            typer.echo(
                f"  {finding.severity:<7} {finding.profile:<9} {finding.path or '/'}  "
                f"{finding.code}: {finding.message}"
            )
    if unreadable:
        raise typer.Exit(2)
    if errors:
        raise typer.Exit(1)


def _input_files(paths: list[Path]) -> list[Path]:
    """Files as given; directories walked for the extensions the importer knows, sorted."""
    files = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    found
                    for found in path.rglob("*")
                    if found.is_file() and found.suffix.lower() in importer.FILE_KINDS
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            _fail(f"{path}: no such file or directory")
    return files


def _file_kind(path: Path, head: bytes) -> importer.Kind:
    return importer.FILE_KINDS.get(path.suffix.lower()) or importer.kind_of("", head)


class _Reading:
    """A file's JSON-LD documents, read lazily (NDJSON line by line) and counting the bytes read."""

    def __init__(self, path: Path, *, page_url: str | None) -> None:
        self.path = path
        self.page_url = page_url
        self.consumed = 0

    def sources(self) -> Iterator[importer.Source]:
        with self.path.open("rb") as file:
            head = file.read(4096)
            file.seek(0)
            kind = _file_kind(self.path, head)
            if kind == "ndjson":
                yield from importer.ndjson_sources(self._lines(file))
            else:
                payload = file.read()
                self.consumed = len(payload)
                yield from importer.sources(payload, kind, page_url=self.page_url)

    def reporter(self, progress: Progress, task: TaskID, *, start: int) -> Callable[[int], None]:
        """Moves the bar to the bytes read so far after each batch."""

        def report(_count: int) -> None:
            progress.update(task, completed=start + self.consumed)

        return report

    def _lines(self, file: Any) -> Iterator[bytes]:
        for line in file:
            self.consumed += len(line)
            yield line


def _import_progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def _counts(findings: list[validation.Finding]) -> str:
    errors = sum(finding.severity == "error" for finding in findings)
    warnings = len(findings) - errors
    parts = [f"{errors} error{'s' * (errors != 1)}"] if errors else []
    if warnings:
        parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    return ", ".join(parts)


def _print_import(reports: list[tuple[Path, importer.Report]]) -> int:
    """Print each file's counts and its invalid items' findings; return how many were invalid."""
    totals = importer.Report()
    for path, report in reports:
        for created in report.publishers_created:
            on = ", ".join(created["domains"])
            typer.echo(f"{path}: created publisher {created['slug']} ({created['name']}, {on})")
        for item in report.items:
            if item["status"] != "invalid":
                continue
            typer.echo(f"{path} item {item['index']}: invalid")
            for finding in item["findings"]:
                typer.echo(
                    f"  {finding['severity']:<7} {finding['path'] or '/'}  "
                    f"{finding['code']}: {finding['message']}"
                )
        typer.echo(f"{path}: {_summary(report)}")
        for status in ("created", "updated", "unchanged", "invalid"):
            setattr(totals, status, getattr(totals, status) + getattr(report, status))
    if len(reports) > 1:
        typer.echo(f"total: {_summary(totals)}")
    return totals.invalid


def _summary(report: importer.Report) -> str:
    return (
        f"created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, invalid {report.invalid}"
    )
