"""The ``claimreview`` command: run the service and administer it from a shell (§9)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
import uvicorn
from pydantic import BaseModel, ValidationError
from rich.console import Console
from sqlalchemy.orm import Session

from app import accounts, crud, migrate
from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.native import KeyIn, PublisherIn

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
