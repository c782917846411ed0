"""The ``claimreview`` command: run the service and administer it from a shell (§9)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar, cast

import typer
import uvicorn
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.orm import Session

from app import accounts, crud, migrate, query, syndication
from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.native import KeyIn, PublisherIn, normalise_date, normalise_language
from app.reviews import moment

app = typer.Typer(help="ClaimReview API: fact-checks in, schema.org ClaimReview out.")
db_app = typer.Typer(help="Database schema.")
publisher_app = typer.Typer(help="Publishers (fact-checking organisations).")
key_app = typer.Typer(help="API keys.")
app.add_typer(db_app, name="db")
app.add_typer(publisher_app, name="publisher")
app.add_typer(key_app, name="key")
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
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # the app writes its own access line, with the request id
        log_level=settings.log_level,
        timeout_graceful_shutdown=20,
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
) -> None:
    """Create a publisher."""
    fields = {"slug": slug, "name": name, "url": url, "domains": domain or [], "language": language}
    incoming = _validated(PublisherIn, fields)
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
    incoming = _validated(KeyIn, {"name": name, "scopes": scope or ["reviews:write"]})
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
            sql, params = query.export_reviews(review_filter, dialect=dialect)
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
                        base_url=settings.public_base_url,
                        first=not number,
                    )
                    file.write(chunk)
                    progress.advance(task, len(batch))
                file.write(syndication.export_tail(kind))
    finally:
        engine.dispose()
    console.print(f"[green]exported[/] {total} reviews to {output}")


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
