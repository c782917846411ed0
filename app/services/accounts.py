"""Publishers, partners and API keys as new rows, the same whether made over HTTP or from the
CLI."""

from datetime import UTC, datetime
from urllib.parse import urlsplit

from app.core.security import new_key
from app.db.tables import (
    ApiKey,
    ApiKeyCreate,
    Partner,
    PartnerCreate,
    PartnerKeyCreate,
    Publisher,
    PublisherCreate,
)


def default_domains(url: str) -> list[str]:
    """The host of the publisher's URL, without ``www.`` so that sibling subdomains count."""
    host = (urlsplit(url).hostname or "").lower()
    return [host.removeprefix("www.")]


def new_publisher(incoming: PublisherCreate) -> Publisher:
    now = datetime.now(UTC)
    domains = incoming.domains or default_domains(incoming.url)
    return Publisher.model_validate(
        incoming, update={"domains": domains, "created_at": now, "updated_at": now}
    )


def new_partner(incoming: PartnerCreate) -> Partner:
    now = datetime.now(UTC)
    return Partner.model_validate(incoming, update={"created_at": now, "updated_at": now})


def new_api_key(
    *,
    incoming: ApiKeyCreate | PartnerKeyCreate,
    publisher_id: int | None = None,
    partner_id: int | None = None,
) -> tuple[ApiKey, str]:
    """The key row of a publisher or a partner (the table's check refuses both or neither) and
    the full key, which is shown once and never stored."""
    key_id, secret_hash, full_key = new_key()
    key = ApiKey(
        id=key_id,
        publisher_id=publisher_id,
        partner_id=partner_id,
        name=incoming.name,
        scopes=sorted(set(incoming.scopes)),
        secret_hash=secret_hash,
        created_at=datetime.now(UTC),
    )
    return key, full_key
