"""The ``claimreview`` command: run the service and administer it from a shell (§9)."""

from datetime import UTC, datetime
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import IntegrityError

from app import crud, migrate, reviews
from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.models import ApiKey, Publisher
from app.native import KeyIn, PublisherIn
from app.security import new_key

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


def _fail(message: str) -> None:
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
    try:
        incoming = PublisherIn(
            slug=slug, name=name, url=url, domains=domain or [], language=language
        )
    except ValidationError as error:
        _fail(str(error))
        return
    now = datetime.now(UTC)
    engine = make_engine(get_settings())
    with make_sessionmaker(engine).begin() as session:
        if crud.get_publisher(session=session, slug=slug):
            _fail(f"publisher '{slug}' exists")
        session.add(
            Publisher(
                slug=incoming.slug,
                name=incoming.name,
                url=incoming.url,
                same_as=[],
                language=incoming.language,
                domains=incoming.domains or reviews.default_domains(incoming.url),
                created_at=now,
                updated_at=now,
            )
        )
    engine.dispose()
    console.print(f"[green]created publisher[/] {slug}")


@key_app.command("create")
def key_create(
    publisher: Annotated[str, typer.Argument(help="Publisher slug.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
    scope: Annotated[list[str] | None, typer.Option(help="Scope (repeatable).")] = None,
) -> None:
    """Create an API key and print it (it is shown only once)."""
    try:
        incoming = KeyIn.model_validate({"name": name, "scopes": scope or ["reviews:write"]})
    except ValidationError as error:
        _fail(str(error))
        return
    engine = make_engine(get_settings())
    try:
        with make_sessionmaker(engine).begin() as session:
            owner = crud.get_publisher(session=session, slug=publisher)
            if owner is None:
                _fail(f"no publisher '{publisher}'")
                return
            key_id, secret_hash, full_key = new_key()
            session.add(
                ApiKey(
                    id=key_id,
                    publisher_id=owner.id,
                    name=incoming.name,
                    scopes=sorted(set(incoming.scopes)),
                    secret_hash=secret_hash,
                    created_at=datetime.now(UTC),
                )
            )
    except IntegrityError as error:
        _fail(str(error.orig))
    finally:
        engine.dispose()
    typer.echo(full_key)
