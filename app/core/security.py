"""API keys and the principal a request acts as.

A key is shown once as ``crk_<id>_<secret>``. Only the SHA-256 of the secret is stored: keys are
256-bit random values, so a fast hash is as safe as a slow one and keeps auth off the hot path.
The id finds the row; the secret is compared in constant time.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "crk_"
# What a partner's key may hold: partners read and subscribe, they never write.
PARTNER_SCOPES = ("reviews:read", "webhooks:manage")
# A stronger scope grants the weaker ones. Subscribing is a scope of its own so that a read key
# handed to a consumer cannot also make the service send requests; a write key (the CMS)
# already sees more than any webhook carries, so it keeps subscribing as it always could.
_IMPLIED = {
    "admin": {"admin", "reviews:write", "reviews:read", "webhooks:manage"},
    "reviews:write": {"reviews:write", "reviews:read", "webhooks:manage"},
    "reviews:read": {"reviews:read"},
    "webhooks:manage": {"webhooks:manage"},
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a publisher's key, a partner's key, or the bootstrap admin token
    (neither)."""

    actor: str
    scopes: frozenset[str]
    publisher_id: int | None = None
    publisher_slug: str | None = None
    partner_id: int | None = None
    partner_slug: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def own_publisher(self) -> int | None:
        """The publisher whose reviews, drafts included, this caller reads and changes: its
        key's, if the key reads reviews at all (a webhooks:manage-only key reads no draft)."""
        return self.publisher_id if "reviews:read" in self.scopes else None

    def owns(self, publisher_id: int) -> bool:
        return self.is_admin or self.own_publisher == publisher_id

    def holds(self, *, publisher_id: int | None, partner_id: int | None) -> bool:
        """Whether something owned by this publisher or partner (neither: the platform) is the
        caller's to see and change."""
        if self.is_admin:
            return True
        if publisher_id is not None:
            return publisher_id == self.publisher_id
        return partner_id is not None and partner_id == self.partner_id


def expand_scopes(scopes: list[str]) -> frozenset[str]:
    return frozenset(granted for scope in scopes for granted in _IMPLIED.get(scope, ()))


def new_key() -> tuple[str, str, str]:
    """Return ``(key_id, secret_hash, full_key)`` for a fresh key."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, hash_secret(secret), f"{KEY_PREFIX}{key_id}_{secret}"


def split_key(key: str) -> tuple[str, str] | None:
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or len(key_id) != 12 or not secret:
        return None
    return key_id, secret


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def token_matches(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header; ``None`` when absent."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""
    return token.strip()
