"""Server-assigned review ids: 16 URL-safe characters (96 random bits), unguessable, so ids of
drafts cannot be enumerated."""

import re
import secrets

REVIEW_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_review_id() -> str:
    return secrets.token_urlsafe(12)


def is_review_id(value: str) -> bool:
    return REVIEW_ID.match(value) is not None
