"""``Idempotency-Key``: a retried POST gets the first response back and creates nothing.

The record is inserted in the same transaction as the change it describes, so either both
exist or neither does. Two concurrent requests with one key race on the unique constraint;
the loser rolls back and replays the winner's response.
"""

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session
from starlette.responses import Response

from app.core.security import Principal
from app.db import crud
from app.db.tables import IdempotencyRecord
from app.errors import Unprocessable

REPLAYED_HEADER = "Idempotent-Replayed"
_KEPT_HEADERS = ("content-type", "location", "etag", "last-modified")


def fingerprint(*, method: str, path: str, media_type: str, raw: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), media_type.encode()):
        digest.update(part + b"\0")
    digest.update(raw)
    return digest.hexdigest()


def check_key(key: str) -> None:
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise Unprocessable(
            "Idempotency-Key must be 1 to 255 printable characters.",
            errors=[{"path": "Idempotency-Key", "message": "1 to 255 printable characters"}],
        )


def replay(
    *, session: Session, principal: Principal, key: str, request_hash: str, ttl_hours: int
) -> Response | None:
    """The stored response for this key, ``None`` if it is new; 422 if reused for another body."""
    record = crud.get_idempotency_record(
        session=session,
        principal=principal.actor,
        key=key,
        newer_than=datetime.now(UTC) - timedelta(hours=ttl_hours),
    )
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise Unprocessable(
            "This Idempotency-Key was already used for a different request.",
            errors=[{"path": "Idempotency-Key", "message": "reused with a different body"}],
        )
    headers = {**record.headers, REPLAYED_HEADER: "true"}
    return Response(record.body, status_code=record.status_code, headers=headers)


def remember(
    *,
    session: Session,
    principal: Principal,
    key: str,
    request_hash: str,
    response: Response,
    ttl_hours: int,
) -> None:
    now = datetime.now(UTC)
    crud.delete_expired_idempotency_record(
        session=session,
        principal=principal.actor,
        key=key,
        older_than=now - timedelta(hours=ttl_hours),
    )
    headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
    crud.add(
        session=session,
        row=IdempotencyRecord(
            principal=principal.actor,
            key=key,
            request_hash=request_hash,
            status_code=response.status_code,
            headers=headers,
            body=bytes(response.body),
            created_at=now,
        ),
    )
